//! etcd's HashKV (`etcdctl endpoint hashkv`), offline: CRC-32C starting with the bucket name
//! `key`, then every entry's key and value in order, skipping entries above `rev`, entries at or
//! below the compact revision that compaction does not keep, and a tombstone exactly at it
//! (ETCD-FORMAT.md section 6).

use super::{compaction, revision, KEY_BUCKET};
use crate::cursor;
use crate::error::Problem;
use crate::view::DbView;
use crc32c::crc32c_append;

/// HashKV at `rev` for a store compacted at `compact_rev` (None: never compacted).
pub fn hashkv(view: &DbView<'_>, rev: u64, compact_rev: Option<u64>) -> Result<u32, Problem> {
    let mut crc = crc32c_append(0, KEY_BUCKET);
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET)? else { return Ok(crc) };
    let keep = match compact_rev {
        Some(c) => Some((c, compaction::keep(view, kb, c)?)),
        None => None,
    };
    // etcd filters by its keep set only when that set is non-empty.
    let mut any_kept_below = false;
    if let Some((c, k)) = &keep {
        let mut i = 0;
        cursor::for_each(view, kb, &mut |e| {
            any_kept_below |= k.get(i) && revision::main_of(e.key).is_some_and(|m| m <= *c);
            i += 1;
        })?;
    }
    let mut i = 0u64;
    cursor::for_each(view, kb, &mut |e| {
        let ord = i;
        i += 1;
        let Some(r) = revision::parse(e.key) else { return };
        if r.main > rev {
            return;
        }
        if let Some((c, k)) = &keep {
            if r.main <= *c && any_kept_below && !k.get(ord) {
                return;
            }
            if r.tombstone && r.main == *c {
                return;
            }
        }
        crc = crc32c_append(crc, e.key);
        crc = crc32c_append(crc, e.value);
    })?;
    Ok(crc)
}
