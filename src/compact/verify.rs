//! Verifying a copy before it is put in place: it must be structurally clean and hold what the
//! source holds: etcdutl's HASH, REVISION and TOTAL KEYS equal to those an independent walk of
//! the source found (no compaction), or etcd's HashKV at the current revision equal to the
//! source's as if compacted at the same revision.

use super::error::CompactError;
use crate::bbolt::view::DbView;
use crate::etcd::compaction::{Keep, Target};
use crate::etcd::hashkv;
use crate::etcd::status::{self, EtcdVersion, Status};

/// Checks the copy in `bytes` against the source (`src`, needed for a compaction) and the
/// source's figures `src_st`; returns the copy's figures.
pub(crate) fn verify(
    src: Option<&DbView<'_>>,
    src_st: &Status,
    bytes: &[u8],
    target: Option<Target>,
    keep: Option<&Keep>,
) -> Result<Status, CompactError> {
    let failed = CompactError::VerifyFailed;
    let view = DbView::new(bytes).map_err(|e| failed(format!("the copy cannot be read: {e}")))?;
    let r = status::status(&view, EtcdVersion::V35).map_err(|e| failed(format!("the copy cannot be read: {e}")))?;
    if !r.structure.is_clean() {
        let first = r.structure.problems.first().map(|p| p.to_string()).unwrap_or_default();
        return Err(failed(format!("the copy has problems (first: {first})")));
    }
    match target {
        None => {
            let (a, b) = (src_st, &r.status);
            if (a.hash, a.revision, a.total_key) != (b.hash, b.revision, b.total_key) {
                return Err(failed(format!(
                    "the copy's status {:x}/{}/{} differs from the source's {:x}/{}/{}",
                    b.hash, b.revision, b.total_key, a.hash, a.revision, a.total_key
                )));
            }
        }
        Some(Target { revision: c, current }) => {
            let err = |p: crate::problem::Problem| failed(p.to_string());
            let Some(src) = src else { return Err(failed("verifying a compaction needs the source".into())) };
            let (a, b) = rayon::join(
                || match keep {
                    Some(k) => hashkv::hashkv_with(src, current, Some((c, k))),
                    None => hashkv::hashkv(src, current, Some(c)),
                },
                || hashkv::hashkv(&view, current, Some(c)),
            );
            let (a, b) = (a.map_err(err)?, b.map_err(err)?);
            if a != b {
                return Err(failed(format!(
                    "HashKV at {current} of the copy is {b:x}, the source compacted at {c} gives {a:x}"
                )));
            }
        }
    }
    Ok(r.status)
}
