//! Verifying a copy before it is put in place: it must be structurally clean and hold what the
//! source holds: etcdutl's HASH, REVISION and TOTAL KEYS equal to those an independent walk of
//! the source found (no compaction), or etcd's HashKV at the current revision equal to the
//! source's as if compacted at the same revision.

use super::error::CompactError;
use crate::bbolt::cursor;
use crate::bbolt::view::DbView;
use crate::etcd::compaction::{Keep, Target};
use crate::etcd::hashkv;
use crate::etcd::status::{self, EtcdVersion, Status};
use crate::etcd::ALARM_BUCKET;
use crc32c::crc32c_append;

/// etcdutl's HASH and TOTAL KEYS of the source as if the entries of top-level bucket `left_out`
/// were not there (what a copy made with `--clear-alarms` must hold): a sequential read of every
/// top-level bucket, hashed as etcdutl hashes (a nested bucket's key, with no value).
pub(crate) fn figures_without(src: &DbView<'_>, left_out: &[u8]) -> Result<(u32, u64), CompactError> {
    let bad = |p: crate::problem::Problem| CompactError::VerifyFailed(format!("the source cannot be read: {p}"));
    let mut tops = Vec::new();
    cursor::for_each(src, cursor::root(src), &mut |e| tops.push(*e)).map_err(bad)?;
    let (mut crc, mut keys) = (0u32, 0u64);
    for top in tops.iter().filter(|e| e.is_bucket()) {
        crc = crc32c_append(crc, top.key);
        if top.key == left_out {
            continue;
        }
        let Some(root) = cursor::bucket_root(src, top.value) else { continue };
        cursor::for_each(src, root, &mut |e| {
            crc = crc32c_append(crc, e.key);
            if !e.is_bucket() {
                crc = crc32c_append(crc, e.value);
            }
            keys += 1;
        })
        .map_err(bad)?;
    }
    Ok((crc, keys))
}

/// Checks the copy in `bytes` against the source (`src`, needed for a compaction or left-out
/// alarms) and the source's figures `src_st`; returns the copy's figures.
pub(crate) fn verify(
    src: Option<&DbView<'_>>,
    src_st: &Status,
    bytes: &[u8],
    target: Option<Target>,
    keep: Option<&Keep>,
    alarms_cleared: bool,
) -> Result<Status, CompactError> {
    let failed = CompactError::VerifyFailed;
    let (view, r) = read_back(bytes)?;
    match target {
        None if alarms_cleared => {
            let Some(src) = src else { return Err(failed("verifying left-out alarms needs the source".into())) };
            let (hash, keys) = figures_without(src, ALARM_BUCKET)?;
            let b = &r.status;
            if (hash, src_st.revision, keys) != (b.hash, b.revision, b.total_key) {
                return Err(failed(format!(
                    "the copy's status {:x}/{}/{} differs from the source's without its alarms {hash:x}/{}/{keys}",
                    b.hash, b.revision, b.total_key, src_st.revision
                )));
            }
        }
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
                    None => hashkv::kept_at_compaction(src, current, Some(c)),
                },
                || hashkv::kept_at_compaction(&view, current, Some(c)),
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

/// Reads a finished copy back as etcdutl would: its view and `snapshot status` figures, refused
/// unless its structure is clean.
pub fn read_back(bytes: &[u8]) -> Result<(DbView<'_>, status::StatusReport), CompactError> {
    read_back_with(bytes, false)
}

/// [`read_back`]; with `holes_told`, revisions missing above the compaction are accepted (a
/// salvage that could not find them writes a copy without them, and its report names them).
pub fn read_back_with(bytes: &[u8], holes_told: bool) -> Result<(DbView<'_>, status::StatusReport), CompactError> {
    let failed = CompactError::VerifyFailed;
    let view = DbView::new(bytes).map_err(|e| failed(format!("the copy cannot be read: {e}")))?;
    let mut r = status::status(&view, EtcdVersion::V35).map_err(|e| failed(format!("the copy cannot be read: {e}")))?;
    if holes_told {
        let s = &mut r.structure;
        let told = s.problems.iter().filter(|p| p.kind == crate::problem::ProblemKind::RevisionsMissing).count();
        if s.problems.len() as u64 == s.problem_total {
            s.problems.retain(|p| p.kind != crate::problem::ProblemKind::RevisionsMissing);
            s.problem_total -= told as u64;
        }
    }
    if !r.structure.is_clean() {
        let first = r.structure.problems.first().map(|p| p.to_string()).unwrap_or_default();
        return Err(failed(format!("the copy has problems (first: {first})")));
    }
    Ok((view, r))
}

/// Appends the sha256 trailer (when given) to the finished copy and fsyncs it; returns its size.
pub fn seal(f: &mut std::fs::File, sha: Option<impl AsRef<[u8]>>) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom, Write};
    if let Some(sha) = sha {
        f.seek(SeekFrom::End(0))?;
        f.write_all(sha.as_ref())?;
    }
    f.sync_all()?;
    Ok(f.metadata()?.len())
}
