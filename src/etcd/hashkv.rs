//! etcd's HashKV (`etcdctl endpoint hashkv`), offline: CRC-32C starting with the bucket name
//! `key`, then every entry's key and value in order, skipping entries above `rev`, entries at or
//! below the compact revision that compaction does not keep, and a tombstone exactly at it
//! (ETCD-FORMAT.md section 6).

use super::compaction::{self, Keep};
use super::{revision, KEY_BUCKET};
use crate::bbolt::cursor;
use crate::bbolt::page::Run;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use crc32c::crc32c_append;

/// HashKV at `rev` for a store compacted at `compact_rev` (None: never compacted).
pub fn hashkv(view: &DbView<'_>, rev: u64, compact_rev: Option<u64>) -> Result<u32, Problem> {
    let keep = match (compact_rev, cursor::top_bucket(view, KEY_BUCKET)?) {
        (Some(c), Some(kb)) => Some((c, compaction::keep(view, kb, c)?)),
        _ => None,
    };
    hashkv_with(view, rev, keep.as_ref().map(|(c, k)| (*c, k)))
}

/// [`hashkv`] with the compaction's keep set already computed (for the same view and revision).
pub fn hashkv_with(view: &DbView<'_>, rev: u64, compact: Option<(u64, &Keep)>) -> Result<u32, Problem> {
    let mut crc = crc32c_append(0, KEY_BUCKET);
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET)? else { return Ok(crc) };
    let mut ord = 0u64;
    cursor::for_each_leaf(view, kb, &mut |page| {
        // Entries hashed back to back that lie back to back in the page take one CRC call.
        let mut run = Run::new(page);
        for i in 0..usize::from(page.count) {
            let e = page.leaf_elem(i)?;
            ord += 1;
            let Some(r) = revision::parse(e.key) else { continue };
            if r.main > rev {
                continue;
            }
            if let Some((c, k)) = compact {
                // etcd filters by its keep set only when that set has an entry at or below c.
                if r.main <= c && k.kept_at_or_below && !k.get(ord - 1) {
                    continue;
                }
                if r.tombstone && r.main == c {
                    continue;
                }
            }
            for part in [e.key, e.value] {
                if let Some(b) = run.add(part) {
                    crc = crc32c_append(crc, b);
                }
            }
        }
        if let Some(b) = run.take() {
            crc = crc32c_append(crc, b);
        }
        Ok(())
    })?;
    Ok(crc)
}
