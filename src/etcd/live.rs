//! The live value of the keys under a prefix, from the `key` bucket alone: records are read in
//! revision order, a put sets a key's value and a tombstone removes it, so what is left is what a
//! server started on the file returns for `get --prefix`. For small key sets (a k3s token check
//! reads `/bootstrap/`); the memory is that of the keys under the prefix.

use super::{proto, revision, KEY_BUCKET};
use crate::bbolt::cursor;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use std::collections::BTreeMap;

/// A key and its value, borrowed from the file.
pub type KeyValue<'a> = (&'a [u8], &'a [u8]);

/// Each live key under `prefix` with its current value, in key order (values borrowed from the
/// file). Records that do not decode are skipped (`check` reports them).
pub fn under_prefix<'a>(view: &DbView<'a>, prefix: &[u8]) -> Result<Vec<KeyValue<'a>>, Problem> {
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET)? else { return Ok(Vec::new()) };
    let mut live: BTreeMap<&'a [u8], &'a [u8]> = BTreeMap::new();
    cursor::for_each(view, kb, &mut |e| {
        let Some(r) = revision::parse(e.key) else { return };
        let Some(kv) = proto::kv(e.value) else { return };
        if !kv.key.starts_with(prefix) {
            return;
        }
        if r.tombstone {
            live.remove(kv.key);
        } else {
            live.insert(kv.key, proto::kv_value(e.value).unwrap_or_default());
        }
    })?;
    Ok(live.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_values_under_a_prefix_are_what_etcd_serves() {
        // tiny-1: key0..key6 put at revisions 2..8, then key1 rewritten to "changed" at 9.
        let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tiny-1.snap.db")).unwrap();
        let view = DbView::new(&data).unwrap();
        let got = under_prefix(&view, b"key1").unwrap();
        assert_eq!(got, vec![(&b"key1"[..], &b"changed"[..])]);
        assert_eq!(under_prefix(&view, b"key").unwrap().len(), 7);
        assert!(under_prefix(&view, b"/bootstrap/").unwrap().is_empty());
    }
}
