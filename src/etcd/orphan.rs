//! Records of etcd's `key` bucket in free pages that no leaf header lists: the pages after the
//! first one of a leaf that spanned several, once that first page was used again (review 49b: a
//! deleted Secret's value lay whole in two such pages, and the residue count, which reads only
//! pages with a leaf's header, said none was left).
//!
//! bbolt packs a leaf's elements as its header's table says: each element's key, then its value,
//! one after another. In the `key` bucket the key is a revision (`main` big-endian, `_`, `sub`
//! big-endian, `t` for a tombstone) and the value an `mvccpb.KeyValue` whose fields etcd writes in
//! order (key 1, create 2, mod 3, version 4, value 5, lease 6; zero ones left out). So a record
//! can be found without the table: a revision key followed by a message that reads field by field
//! up to a tag that is not one of the fields after it (the next element's key begins with a zero
//! byte). It counts only when etcd's invariants hold for that revision ([`super::carve::record`]:
//! the mod revision is the key's), so bytes that happen to look so are not taken for one.

use super::carve::{record, Fix, Keep, KeyRecord, RevKey, Source};
use super::proto::{varint, Kv};
use super::revision::{Revision, REV_LEN, TOMBSTONE_LEN};
use super::revset::RevSet;
use super::seen::Seen;
use crate::bbolt::bitmap::AtomicBitmap;
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::order::PageId;
use crate::bbolt::view::DbView;
use rayon::prelude::*;

/// A record found in a run of pages without a leaf's header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Found<'a> {
    pub(super) rev: Revision,
    /// The revision key's bytes.
    pub(super) key: &'a [u8],
    /// The `mvccpb.KeyValue` bytes.
    pub(super) value: &'a [u8],
    pub(super) kv: Kv<'a>,
    /// The page its revision key starts on.
    pub(super) page: PageId,
}

/// The runs `[start, end)` of consecutive pages in `[2, tracked)` that are free (`reached` does
/// not mark them) and lie in no leaf the carving read (`covered`).
pub(super) fn runs(tracked: u64, reached: &AtomicBitmap, covered: &AtomicBitmap) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut start = None;
    for id in 2..tracked {
        let orphan = !reached.get(id) && !covered.get(id);
        match (orphan, start) {
            (true, None) => start = Some(id),
            (false, Some(s)) => {
                out.push((s, id));
                start = None;
            }
            _ => {}
        }
    }
    out.extend(start.map(|s| (s, tracked)));
    out
}

/// The length of the `mvccpb.KeyValue` at the start of `b`: its fields read in etcd's order up to
/// a tag that is not a later one of them (or the end of `b`). `None` when a field runs past the
/// end of `b` (the rest of the value lay in a page used again since) or no key field starts it.
fn kv_len(b: &[u8]) -> Option<usize> {
    if b.first() != Some(&0x0a) {
        return None;
    }
    let (mut pos, mut last) = (0usize, 0u8);
    while let Some(&tag) = b.get(pos) {
        let (field, wire) = (tag >> 3, tag & 7);
        let expected = match field {
            1 | 5 => 2,
            2 | 3 | 4 | 6 => 0,
            _ => break,
        };
        if field <= last || wire != expected {
            break;
        }
        let mut at = pos + 1;
        let n = varint(b, &mut at)?;
        if wire == 2 {
            at = at.checked_add(usize::try_from(n).ok()?).filter(|&end| end <= b.len())?;
        }
        (pos, last) = (at, field);
    }
    Some(pos)
}

/// The records in `bytes`, the pages of one run starting at page `first` (`page_size` bytes
/// each), in the order they lie, at or below the compaction `compacted` (etcd deletes records
/// only by compacting: one above it that the tree lacks is none etcd wrote; none without one).
/// Nothing is looked for inside a record found (an application's value may hold bytes shaped as
/// records: review 49c).
pub(super) fn records(bytes: &[u8], first: u64, page_size: u64, compacted: Option<u64>) -> Vec<Found<'_>> {
    let mut out = Vec::new();
    let Some(compacted) = compacted else { return out };
    let mut past = 0;
    for sep in memchr::memchr_iter(b'_', bytes) {
        let Some(at) = sep.checked_sub(8).filter(|&at| at >= past) else { continue };
        let key_len = match bytes.get(at + REV_LEN) {
            Some(0x0a) => REV_LEN,
            Some(b't') if bytes.get(at + TOMBSTONE_LEN) == Some(&0x0a) => TOMBSTONE_LEN,
            _ => continue,
        };
        let (key, rest) = (&bytes[at..at + key_len], &bytes[at + key_len..]);
        let Some(len) = kv_len(rest) else { continue };
        let value = &rest[..len];
        if let Some((rev, kv)) = record(key, value).filter(|(r, _)| r.main <= compacted) {
            let page = PageId(first + at as u64 / page_size.max(1));
            out.push(Found { rev, key, value, kv, page });
            past = at + key_len + len;
        }
    }
    out
}

/// The records that free pages no leaf's header lists hold and the tree does not
/// (this module's), each revision once (after those the carved leaves gave, in `seen`), as
/// `keep` keeps them.
pub(super) fn headerless<'a, T: Send>(
    view: &DbView<'a>,
    (reached, covered): (&AtomicBitmap, &AtomicBitmap),
    (tree, kb): (Option<&RevSet>, Option<BucketRoot<'a>>),
    (seen, compacted): (&Seen, Option<u64>),
    keep: &Keep<'_, 'a, T>,
) -> Vec<T> {
    let ps = view.page_size;
    let runs = runs(view.tracked_pages(), reached, covered);
    runs.par_iter()
        .flat_map_iter(|&(start, end)| {
            let span = |id: u64| usize::try_from(id.checked_mul(ps)?).ok().map(|b| b.min(view.body_len()));
            let bytes = span(start).zip(span(end)).and_then(|(lo, hi)| view.data.get(lo..hi)).unwrap_or_default();
            let mut found: Vec<(Found<'a>, bool)> =
                records(bytes, start, ps, compacted).into_iter().map(|f| (f, false)).collect();
            // Whether the tree holds each: asked of its revisions, else looked up.
            let asked =
                tree.is_some_and(|t| t.mark_near(&mut 0, &mut found, |f| [f.0.rev.main, f.0.rev.sub], |f, h| f.1 = h));
            if !asked {
                for f in &mut found {
                    f.1 = kb.is_some_and(|kb| cursor::get(view, kb, f.0.key).is_ok_and(|e| e.is_some()));
                }
            }
            let mut first = Vec::new();
            seen.first_each(
                found.iter().filter(|f| !f.1).map(|f| f.0),
                |f| f.rev,
                |f, new| {
                    if new {
                        first.push(f);
                    }
                },
            );
            let mut new = first.into_iter().map(|f| KeyRecord {
                rev: f.rev,
                rev_key: RevKey::File(f.key),
                raw: f.value,
                kv: f.kv,
                page: f.page,
                fix: Fix::Headerless,
                source: Source::FreePage,
            });
            let mut recs: Vec<T> = Vec::new();
            keep(&mut new, &mut recs);
            recs
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::proto::put_varint;

    /// A put's revision key and `mvccpb.KeyValue` (key, create, mod, version, value).
    fn put(main: u64, key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut out = [&main.to_be_bytes()[..], b"_", &0u64.to_be_bytes()].concat();
        out.push(0x0a);
        put_varint(&mut out, key.len() as u64);
        out.extend_from_slice(key);
        for (tag, v) in [(0x10, main), (0x18, main), (0x20, 1)] {
            out.push(tag);
            put_varint(&mut out, v);
        }
        out.push(0x2a);
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
        out
    }

    #[test]
    fn records_packed_one_after_another_are_found_without_a_table() {
        let (a, b) = (put(7, b"/registry/secrets/ns/a", b"one"), put(8, b"/x", &[b'_'; 40]));
        // Filler before (the end of an element cut at the page's start), the records, then a
        // third one whose value runs past the end (its page was used again).
        let cut = put(9, b"/y", &[1u8; 100]);
        let bytes = [&[0x41u8; 30][..], &a, &b, &cut[..cut.len() - 10]].concat();
        let found = records(&bytes, 40, 4096, Some(9));
        let got: Vec<(u64, &[u8], &[u8])> = found.iter().map(|f| (f.rev.main, f.kv.key, f.kv.value)).collect();
        assert_eq!(got, [(7, &b"/registry/secrets/ns/a"[..], &b"one"[..]), (8, b"/x", &[b'_'; 40][..])]);
        assert_eq!((found[0].page, found[0].value.len()), (PageId(40), a.len() - REV_LEN));
    }

    #[test]
    fn bytes_that_only_look_like_a_record_are_not_one() {
        // The mod revision is not the key's: no record etcd wrote.
        let mut bad = put(7, b"/a", b"v");
        let at = bad.iter().position(|&c| c == 0x18).unwrap();
        bad[at + 1] = 6;
        assert!(records(&bad, 2, 4096, Some(9)).is_empty());
        // Above the compaction, or in a file never compacted: none etcd deleted.
        let good = put(7, b"/a", b"v");
        assert_eq!(records(&good, 2, 4096, Some(7)).len(), 1);
        assert!(records(&good, 2, 4096, Some(6)).is_empty() && records(&good, 2, 4096, None).is_empty());
        // Bytes shaped as a record inside a record's value are part of it (review 49c).
        let inner = put(5, b"/registry/secrets/ns/forged", b"pw");
        let outer = put(6, b"/app/blob", &[&[7u8; 10][..], &inner, &[7u8; 10]].concat());
        let found = records(&outer, 2, 4096, Some(9));
        assert_eq!(found.iter().map(|f| f.rev.main).collect::<Vec<_>>(), [6]);
        // Fields out of etcd's order stop the message before its key is whole: no record.
        assert_eq!(kv_len(&[0x10, 1, 0x0a, 1, b'a']), None);
        assert_eq!(kv_len(&[0x0a, 9, b'a']), None, "a key past the end");
        assert_eq!(kv_len(&[0x0a, 1, b'a', 0, 0]), Some(3), "the next element's key begins with a zero byte");
    }

    #[test]
    fn runs_are_the_free_pages_no_leaf_covers() {
        let (reached, covered) = (AtomicBitmap::new(12), AtomicBitmap::new(12));
        for id in [2, 3, 9] {
            reached.test_and_set(id);
        }
        for id in [5, 6] {
            covered.test_and_set(id);
        }
        assert_eq!(runs(12, &reached, &covered), [(4, 5), (7, 9), (10, 12)]);
    }
}
