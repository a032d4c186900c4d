//! Records of the `key` bucket left in bytes of a leaf page that no element lists: an element
//! taken out of a leaf (`bbolt surgery`, or a header table rewritten short) moves the headers after
//! it up and lowers the count, and leaves its key and value where bbolt packed them, so the
//! layout's gaps ([`Page::leaf_gaps`](crate::bbolt::page::Page::leaf_gaps), the tail after the last
//! listed value) still hold whole records, back to back. A record carries no length of its own
//! there: its revision key is 17 bytes (18 with a tombstone's `t`), and its `mvccpb.KeyValue` runs
//! as long as fields follow in the order etcd writes them (the next revision key starts with its
//! main revision's high byte, 0, which is no field). Each is checked as every carved record is
//! ([`super::carve::record`]); nothing here trusts the bytes.

use super::carve::{record, Fix, KeyRecord, RevKey, Source};
use super::proto::varint;
use super::revision::REV_LEN;
use crate::bbolt::order::PageId;
use crate::bbolt::page::ELEMENT_SIZE;

/// The records lying back to back in `bytes` (unlisted bytes of leaf `page`), from the first
/// offset, a whole number of element header slots in, at which one reads: the slots of elements
/// taken out come before the first key. Read as packed by the layout, found outside the tree.
/// `gap`: the bytes lie between two elements' (or the headers and the first key), so the records
/// fill them exactly; else (the tail after the last value) zeros may follow. A last record not so
/// followed may have been cut (a put's empty value leaves out its field, so one cut at its value
/// reads as whole: review 47c), and is left out.
pub fn unlisted_records(bytes: &[u8], page: PageId, gap: bool) -> Vec<KeyRecord<'_>> {
    (0..bytes.len())
        .step_by(ELEMENT_SIZE)
        .map(|start| run(bytes.get(start..).unwrap_or_default(), page, gap))
        .find(|recs| !recs.is_empty())
        .unwrap_or_default()
}

/// The records that follow one another from the start of `b`, the last one only when nothing
/// (`exact`) or zeros alone follow it.
fn run(b: &[u8], page: PageId, exact: bool) -> Vec<KeyRecord<'_>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let key_len = if b.get(pos + REV_LEN) == Some(&b't') { REV_LEN + 1 } else { REV_LEN };
        let Some(key) = b.get(pos..pos + key_len) else { break };
        let rest = b.get(pos + key_len..).unwrap_or_default();
        let value = &rest[..kv_len(rest)];
        let Some((rev, kv)) = record(key, value) else { break };
        let source = Source::Unlisted;
        out.push(KeyRecord { rev, rev_key: RevKey::File(key), raw: value, kv, page, fix: Fix::Layout, source });
        pos += key_len + value.len();
    }
    // The last record is whole only when nothing but zeros follows it (bbolt zeroes a page before
    // packing it): a put's value field is left out when empty, so a record cut short inside its
    // value would read as one with an empty value.
    let rest = b.get(pos..).unwrap_or_default();
    if exact && !rest.is_empty() || rest.iter().any(|&c| c != 0) {
        out.pop();
    }
    out
}

/// How many bytes from the start of `b` read as an `mvccpb.KeyValue` as etcd writes one: its
/// fields in order (key, create and mod revisions, version, value, lease), each whole.
fn kv_len(b: &[u8]) -> usize {
    let (mut pos, mut last) = (0usize, 0u8);
    while let Some(&tag) = b.get(pos) {
        let (field, wire) = (tag >> 3, tag & 7);
        let known = matches!((field, wire), (1 | 5, 2) | (2 | 3 | 4 | 6, 0));
        if !known || field <= last {
            break;
        }
        let mut at = pos + 1;
        let Some(v) = varint(b, &mut at) else { break };
        if wire == 2 {
            match usize::try_from(v).ok().and_then(|n| at.checked_add(n)).filter(|&end| end <= b.len()) {
                Some(end) => at = end,
                None => break,
            }
        }
        (pos, last) = (at, field);
    }
    pos
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A revision key and a put's value, as etcd writes them.
    fn put(main: u64, key: &[u8], create: u64, version: u64, value: &[u8]) -> Vec<u8> {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&0u64.to_be_bytes());
        let mut v = vec![0x0a, key.len() as u8];
        v.extend_from_slice(key);
        v.extend_from_slice(&[0x10, create as u8, 0x18, main as u8, 0x20, version as u8, 0x2a, value.len() as u8]);
        v.extend_from_slice(value);
        [k, v].concat()
    }

    fn tombstone(main: u64, key: &[u8]) -> Vec<u8> {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&0u64.to_be_bytes());
        k.push(b't');
        k.extend_from_slice(&[0x0a, key.len() as u8]);
        k.extend_from_slice(key);
        k
    }

    #[test]
    fn records_back_to_back_are_read_after_the_slots_before_them() {
        let recs = [put(7, b"/a", 7, 1, b"one"), tombstone(8, b"/a"), put(9, b"/b", 4, 3, b"")].concat();
        for slots in [0, 1, 3] {
            let bytes = [vec![0u8; ELEMENT_SIZE * slots], recs.clone(), vec![0u8; 40]].concat();
            let got = unlisted_records(&bytes, PageId(5), false);
            let revs: Vec<(u64, bool, &[u8])> = got.iter().map(|r| (r.rev.main, r.rev.tombstone, r.kv.key)).collect();
            assert_eq!(revs, vec![(7, false, &b"/a"[..]), (8, true, b"/a"), (9, false, b"/b")], "{slots} slot(s)");
            assert_eq!(got[0].kv.value, b"one");
            assert!(got.iter().all(|r| r.source == Source::Unlisted && r.page == PageId(5)));
        }
    }

    #[test]
    fn bytes_that_are_no_record_give_none_and_a_record_cut_short_ends_the_run() {
        assert!(unlisted_records(&[0u8; 4096], PageId(5), false).is_empty());
        assert!(unlisted_records(&[0xffu8; 100], PageId(5), false).is_empty());
        assert!(unlisted_records(&[], PageId(5), false).is_empty());
        let one = put(7, b"/a", 7, 1, b"one");
        let cut = [one.clone(), put(9, b"/b", 4, 3, b"xyz")[..30].to_vec()].concat();
        assert_eq!(unlisted_records(&cut, PageId(5), false).len(), 1);
        // A record breaking etcd's invariants (mod revision not its key's) is not one.
        let mut bad = one.clone();
        let at = bad.len() - 8;
        bad[at] = 0x99;
        assert!(unlisted_records(&bad, PageId(5), false).is_empty());
    }
}
