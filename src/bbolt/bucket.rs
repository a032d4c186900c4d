//! The value of a bucket entry (an element with `BUCKET_LEAF_FLAG`): a bucket header, and for an
//! inline bucket the bucket's single leaf page right after it. One codec for the walker, the
//! cursor and the writer, so every reader accepts and refuses exactly the same values.

use super::order::{ByteOrder, PageId};
use super::page::{LeafElem, Page, LEAF, PAGE_HEADER_SIZE};

// Bucket header, 16 bytes at the start of a bucket entry's value:
//   0..8   root      u64  the bucket's root page, or 0 for an inline bucket
//   8..16  sequence  u64  the bucket's sequence (NextSequence)
// An inline bucket's value continues with a whole leaf page (header + elements + data), with
// no overflow and no bucket entries of its own.
/// Size of a bucket header.
pub const BUCKET_HEADER_SIZE: usize = 16;
const H_ROOT: usize = 0;
const H_SEQUENCE: usize = 8;

/// Where a bucket's tree starts.
#[derive(Clone, Copy, Debug)]
pub enum BucketRoot<'a> {
    /// A tree rooted at a page.
    Page(PageId),
    /// An inline bucket: one leaf page inside the parent's value.
    Inline(Page<'a>),
}

/// A decoded bucket entry value.
#[derive(Clone, Copy, Debug)]
pub struct Bucket<'a> {
    /// Where its tree starts.
    pub root: BucketRoot<'a>,
    /// Its sequence.
    pub sequence: u64,
}

/// Decodes the value of a bucket entry `e` found on `parent`. An inline page is viewed with its
/// parent's page id and its true file offset, and marked inline. Refused, with a sentence: a
/// value shorter than the header, an inline page that is not a leaf or has overflow pages, and
/// an inline page holding a bucket entry (bbolt never writes one: a bucket with sub-buckets is
/// never inline).
pub fn decode<'a>(parent: &Page<'a>, e: &LeafElem<'a>) -> Result<Bucket<'a>, String> {
    let inline_at = parent.offset_of(e.value).saturating_add(BUCKET_HEADER_SIZE as u64);
    decode_value(parent.order, e.value, parent.id, inline_at)
}

/// [`decode`] for the tolerant reader: an inline page that lists no element though its value
/// holds more is taken as it is (the tolerant reader reads its count back from its layout).
pub fn decode_tolerant<'a>(parent: &Page<'a>, e: &LeafElem<'a>) -> Result<Bucket<'a>, String> {
    let inline_at = parent.offset_of(e.value).saturating_add(BUCKET_HEADER_SIZE as u64);
    decode_with(parent.order, e.value, parent.id, inline_at, true)
}

/// [`decode`] for a value whose page is not at hand: an inline page is viewed as page `id` at
/// byte offset `at` (for messages only).
pub fn decode_value(o: ByteOrder, value: &[u8], id: PageId, at: u64) -> Result<Bucket<'_>, String> {
    decode_with(o, value, id, at, false)
}

fn decode_with(o: ByteOrder, value: &[u8], id: PageId, at: u64, tolerant: bool) -> Result<Bucket<'_>, String> {
    let (Some(root), Some(sequence)) = (o.u64(value, H_ROOT), o.u64(value, H_SEQUENCE)) else {
        return Err(format!("its value is {} bytes, shorter than a bucket header", value.len()));
    };
    if root != 0 {
        return Ok(Bucket { root: BucketRoot::Page(PageId(root)), sequence });
    }
    let body = value.get(BUCKET_HEADER_SIZE..).unwrap_or_default();
    let Some(mut page) = Page::new(id, at, body, o) else {
        return Err("it is inline but too short to hold a page header".into());
    };
    page.inline = true;
    if page.flags != LEAF || page.overflow != 0 {
        return Err("it is inline but does not hold a leaf page".into());
    }
    if (0..usize::from(page.count)).any(|i| page.leaf_elem(i).is_ok_and(|x| x.is_bucket())) {
        return Err("it is inline but contains a bucket entry".into());
    }
    // bbolt writes an inline bucket's value to the end of its page's last element: an empty one
    // is its two headers alone. An empty page with more after it lost its elements' count (a
    // first key that does not follow the headers tells the same of a count above 0).
    if page.count == 0 && body.len() > PAGE_HEADER_SIZE && !tolerant {
        return Err(format!(
            "it is inline and lists no element, yet holds {} bytes past its page header: a count lowered to 0 \
             leaves its elements out (damage, or `bbolt surgery clear-page-elements`)",
            body.len() - PAGE_HEADER_SIZE
        ));
    }
    Ok(Bucket { root: BucketRoot::Inline(page), sequence })
}

/// The value of a bucket entry: a header for a tree rooted at `root` with `sequence`, followed
/// by `inline` (a whole leaf page) for an inline bucket, whose root is then 0.
pub fn encode(o: ByteOrder, root: Option<PageId>, sequence: u64, inline: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; BUCKET_HEADER_SIZE];
    o.put_u64(&mut v, H_ROOT, root.map_or(0, |r| r.0));
    o.put_u64(&mut v, H_SEQUENCE, sequence);
    v.extend_from_slice(inline);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbolt::page::{Header, BUCKET_LEAF_FLAG};

    /// A one-page leaf holding `value` under key `b` as the bucket entry of a page at id 7.
    fn parent(value: &[u8], o: ByteOrder) -> Vec<u8> {
        let mut p = vec![0u8; PAGE_HEADER_SIZE + 16];
        Header { id: PageId(7), flags: LEAF, count: 1, overflow: 0 }.write(&mut p, o);
        crate::bbolt::page::write_leaf_elem(&mut p[16..], o, BUCKET_LEAF_FLAG, 16, 1, value.len() as u32);
        p.push(b'b');
        p.extend_from_slice(value);
        p
    }

    fn with<T>(value: &[u8], o: ByteOrder, f: impl FnOnce(Result<Bucket<'_>, String>) -> T) -> T {
        let bytes = parent(value, o);
        let page = Page::new(PageId(7), 7 * 4096, &bytes, o).unwrap();
        let e = page.leaf_elem(0).unwrap();
        f(decode(&page, &e))
    }

    #[test]
    fn decodes_what_encode_writes_and_refuses_malformed_values() {
        for o in [ByteOrder::Little, ByteOrder::Big] {
            with(&encode(o, Some(PageId(42)), 9, &[]), o, |b| {
                let b = b.unwrap();
                assert!(matches!(b.root, BucketRoot::Page(PageId(42))));
                assert_eq!(b.sequence, 9);
            });
            // An empty inline leaf.
            let mut leaf = vec![0u8; PAGE_HEADER_SIZE];
            Header { id: PageId(0), flags: LEAF, count: 0, overflow: 0 }.write(&mut leaf, o);
            with(&encode(o, None, 3, &leaf), o, |b| {
                let BucketRoot::Inline(p) = b.unwrap().root else { panic!("inline") };
                assert!(p.inline);
                assert_eq!((p.id, p.offset), (PageId(7), 7 * 4096 + 16 + 16 + 1 + 16));
            });
            with(&[1, 2, 3], o, |b| assert!(b.unwrap_err().contains("shorter")));
            Header { id: PageId(0), flags: LEAF, count: 0, overflow: 1 }.write(&mut leaf, o);
            with(&encode(o, None, 3, &leaf), o, |b| assert!(b.unwrap_err().contains("leaf")));
            with(&encode(o, None, 3, &leaf[..8]), o, |b| assert!(b.unwrap_err().contains("too short")));
        }
    }
}
