//! Writing a whole file from buckets given as sorted entries, when what is written does not come
//! from one readable tree (salvage gathers it from a damaged tree and from carved pages): the same
//! tree builder, split rules, pipeline and meta pages as the copier, so the file is laid out
//! exactly as a compacted copy. Only top-level buckets of plain entries: enough for etcd's
//! backend, which nests nothing.
//!
//! The entries are checked before anything is written: bucket names and keys non-empty, strictly
//! increasing, within bbolt's size limits. A caller's mistake is an error, never a tree bbolt
//! would misread.

use super::node::Elem;
use super::output::{Layout, SourceSums, WriteError, Written};
use super::pipeline;
use super::tree::{Built, Tree};
use crate::bbolt::bucket;
use crate::bbolt::meta::{MAX_PAGE_SIZE, MIN_FILE_LEN, MIN_PAGE_SIZE, NO_FREELIST};
use crate::bbolt::order::{ByteOrder, PageId};
use crate::bbolt::page::{Header, BUCKET_LEAF_FLAG, FREELIST};
use crc32c::crc32c_append;
use std::borrow::Cow;
use std::io::{self, Write};

/// bbolt's largest key (`MaxKeySize`).
pub const MAX_KEY: usize = 32768;
/// bbolt's largest value (`MaxValueSize`).
pub const MAX_VALUE: usize = (1 << 31) - 2;

/// One top-level bucket to write.
#[derive(Clone, Debug)]
pub struct Bucket<'a> {
    /// Its name.
    pub name: &'a [u8],
    /// Its sequence (`NextSequence`).
    pub sequence: u64,
    /// Its entries, sorted by key, keys distinct.
    pub entries: Vec<(&'a [u8], Cow<'a, [u8]>)>,
}

/// How to lay the file out.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Byte order.
    pub order: ByteOrder,
    /// Page size (a power of two from 512 bytes to 1 GiB).
    pub page_size: u64,
    /// Fill percent of the buckets' pages (0.5-1.0); the root bucket uses bbolt's 0.5.
    pub fill: f64,
    /// Write an (empty) freelist page, as a file with a freelist page has; else the no-freelist
    /// sentinel, as etcd's files have.
    pub freelist_page: bool,
}

fn invalid(msg: String) -> WriteError {
    WriteError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// Checks names and keys: non-empty, strictly increasing, within bbolt's limits.
fn check(buckets: &[Bucket<'_>]) -> Result<(), WriteError> {
    let mut prev: Option<&[u8]> = None;
    for b in buckets {
        if b.name.is_empty() || b.name.len() > MAX_KEY || prev.is_some_and(|p| b.name <= p) {
            return Err(invalid(format!("bucket names must be non-empty and strictly increasing ({:?})", b.name)));
        }
        prev = Some(b.name);
        let mut last: Option<&[u8]> = None;
        for (k, v) in &b.entries {
            if k.is_empty() || k.len() > MAX_KEY || v.len() > MAX_VALUE || last.is_some_and(|l| *k <= l) {
                return Err(invalid(format!(
                    "bucket {}: keys must be non-empty, strictly increasing and within bbolt's limits",
                    String::from_utf8_lossy(b.name)
                )));
            }
            last = Some(k);
        }
    }
    Ok(())
}

/// Writes the file holding `buckets` to `out`: two placeholder meta pages, the pages of every
/// bucket and of the root bucket, an empty freelist page when the plan asks for one, zero padding
/// up to [`MIN_FILE_LEN`]. The caller writes the meta pages over the placeholders
/// ([`super::copier::meta_pages_at`]). The layout's `src` figures are etcdutl's HASH and TOTAL
/// KEYS of what was written (CRC-32C over every bucket name, key and value, in order; the entry
/// count), to verify the file against.
pub fn write<'a, W: Write + Send>(plan: &Plan, buckets: Vec<Bucket<'a>>, mut out: W) -> Result<Layout, WriteError> {
    let ps = plan.page_size;
    let size_ok = ps.is_power_of_two() && (u64::from(MIN_PAGE_SIZE)..=u64::from(MAX_PAGE_SIZE)).contains(&ps);
    if !size_ok || !(0.1..=1.0).contains(&plan.fill) {
        return Err(invalid(format!("page size {ps} or fill {} out of range", plan.fill)));
    }
    check(&buckets)?;
    let o = plan.order;
    let page_bytes = usize::try_from(ps).map_err(io::Error::other)?;
    let head = vec![0u8; 2 * page_bytes];
    let (walked, _) = pipeline::run(o, ps, 2, head, &mut out, |mut pages| -> io::Result<_> {
        let (mut crc, mut entries) = (0u32, 0u64);
        let mut root = Tree::new(ps, 0.5, false);
        for b in buckets {
            crc = crc32c_append(crc, b.name);
            let mut t = Tree::new(ps, plan.fill, true);
            for (key, value) in b.entries {
                crc = crc32c_append(crc32c_append(crc, key), &value);
                entries += 1;
                t.push(&mut pages, Elem::Leaf { flags: 0, key, value })?;
            }
            let v = match t.finish(&mut pages)? {
                Built::Inline(page) => bucket::encode(o, None, b.sequence, &page),
                Built::Root(r) => bucket::encode(o, Some(r), b.sequence, &[]),
            };
            root.push(&mut pages, Elem::Leaf { flags: BUCKET_LEAF_FLAG, key: b.name, value: Cow::Owned(v) })?;
        }
        let root_id = match root.finish(&mut pages)? {
            Built::Root(r) => r,
            Built::Inline(_) => return Err(io::Error::other("the root bucket came out inline")),
        };
        let freelist = if plan.freelist_page {
            let mut p = vec![0u8; page_bytes];
            let id = PageId(pages.next);
            Header { id, flags: FREELIST, count: 0, overflow: 0 }.write(&mut p, o);
            pages.raw(p)?;
            id
        } else {
            NO_FREELIST
        };
        Ok((root_id, freelist, pages.next, crc, entries))
    })?;
    let (root, freelist, next, crc, entries) = walked?;
    let len = next.saturating_mul(ps);
    if len < MIN_FILE_LEN {
        out.write_all(&vec![0; (MIN_FILE_LEN - len) as usize])?;
        out.flush()?;
    }
    Ok(Layout {
        written: Written { pages: next, entries, dropped: 0 },
        src: SourceSums { crc, keys: entries },
        root,
        freelist,
        page_size: ps,
        order: o,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbolt::cursor;
    use crate::bbolt::view::DbView;

    fn plan() -> Plan {
        Plan { order: ByteOrder::Little, page_size: 4096, fill: 1.0, freelist_page: false }
    }

    /// Writes `buckets`, puts the meta pages in place, and reads the file back.
    fn written(buckets: Vec<Bucket<'_>>) -> (Vec<u8>, Layout) {
        let mut out = Vec::new();
        let l = write(&plan(), buckets, &mut out).unwrap();
        out[..8192].copy_from_slice(&super::super::output::meta_pages_at(&l, 7, 0));
        (out, l)
    }

    #[test]
    fn the_file_holds_what_was_given_and_its_hash_is_what_etcdutl_computes() {
        let keys: Vec<Vec<u8>> = (0..3000u32).map(|i| format!("k{i:06}").into_bytes()).collect();
        let big = vec![7u8; 10_000];
        let mut entries: Vec<(&[u8], Cow<'_, [u8]>)> = keys.iter().map(|k| (&k[..], Cow::Borrowed(&k[..]))).collect();
        entries[5].1 = Cow::Borrowed(&big);
        let buckets = vec![
            Bucket { name: b"a", sequence: 3, entries: vec![(b"x", Cow::Owned(b"1".to_vec()))] },
            Bucket { name: b"key", sequence: 0, entries },
            Bucket { name: b"z", sequence: 0, entries: Vec::new() },
        ];
        let (out, l) = written(buckets);
        let view = DbView::new(&out).unwrap();
        let ((), s) = crate::bbolt::structure::walk(&view, &());
        assert!(s.is_clean(), "{:?}", s.problems);
        // etcdutl's hash, read back bucket by bucket.
        let (mut crc, mut n) = (0u32, 0u64);
        let mut tops = Vec::new();
        cursor::for_each(&view, cursor::root(&view), &mut |e| tops.push(*e)).unwrap();
        for t in &tops {
            crc = crc32c_append(crc, t.key);
            let root = cursor::bucket_root(&view, t.value).unwrap();
            cursor::for_each(&view, root, &mut |e| {
                crc = crc32c_append(crc32c_append(crc, e.key), e.value);
                n += 1;
            })
            .unwrap();
        }
        assert_eq!((crc, n), (l.src.crc, l.src.keys));
        assert_eq!(l.src.keys, 3001);
        let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let got = cursor::get(&view, kb, b"k000005").unwrap().unwrap();
        assert_eq!(got.value, &big[..]);
        assert_eq!(view.meta().txid.0, 7);
    }

    #[test]
    fn unsorted_or_empty_keys_are_refused_before_anything_is_written() {
        for (name, entries) in [
            (&b"b"[..], vec![(&b"y"[..], Cow::Borrowed(&b""[..])), (b"x", Cow::Borrowed(&b""[..]))]),
            (b"b", vec![(b"x", Cow::Borrowed(&b""[..])), (b"x", Cow::Borrowed(&b""[..]))]),
            (b"b", vec![(b"", Cow::Borrowed(&b""[..]))]),
            (b"", vec![]),
        ] {
            let mut out = Vec::new();
            let r = write(&plan(), vec![Bucket { name, sequence: 0, entries }], &mut out);
            assert!(r.is_err());
            assert!(out.is_empty());
        }
        let two = vec![
            Bucket { name: b"b", sequence: 0, entries: vec![] },
            Bucket { name: b"a", sequence: 0, entries: vec![] },
        ];
        assert!(write(&plan(), two, Vec::new()).is_err());
    }
}
