//! Predicting the file a defrag (or `bbolt compact`) writes: bbolt's node split rules replayed
//! over the entry sizes of each bucket, level by level, without writing anything.
//!
//! bbolt splits a node at commit unless it has at most 4 elements or is smaller than a page; it
//! cuts before element `i >= 2` once adding it would pass `int(pageSize * fill)`, always leaving
//! two elements for the remainder. A node takes `ceil(size / pageSize)` pages. Sequential puts in
//! key order (what defrag does) pack every page this way, across commits too, since the partly
//! filled last page is reloaded and refilled by the next commit. A bucket whose single leaf is at
//! most a quarter page and has no sub-buckets is stored inline in its parent.

use crate::page::{ELEMENT_SIZE, PAGE_HEADER_SIZE};

const HDR: u64 = PAGE_HEADER_SIZE as u64;
const ELEM: u64 = ELEMENT_SIZE as u64;

/// bbolt's node split rules applied to a stream of elements: elements are pushed in key order
/// and whole nodes come out as soon as they are certain, so a writer never holds more than about
/// a page of elements per tree level. The cuts are exactly those of splitting the whole sequence
/// at once: a cut is final once the buffered prefix alone is at least a page and more than four
/// elements (so the remainder is too), with two elements after the cut.
#[derive(Debug)]
pub struct Splitter<T> {
    buf: Vec<(T, u64)>,
    size: u64,
    scan: usize,
    scan_sz: u64,
    page_size: u64,
    thresh: u64,
}

impl<T> Splitter<T> {
    /// A splitter for pages of `page_size` bytes filled to `fill`.
    pub fn new(page_size: u64, fill: f64) -> Splitter<T> {
        Splitter { buf: Vec::new(), size: HDR, scan: 0, scan_sz: HDR, page_size, thresh: threshold(page_size, fill) }
    }

    /// Adds an element whose key and value (or key alone, in a branch) take `payload` bytes; calls
    /// `emit(elements, node_size)` for every node that is now complete.
    pub fn push(&mut self, e: T, payload: u64, emit: &mut dyn FnMut(Vec<T>, u64)) {
        self.size += ELEM + payload;
        self.buf.push((e, ELEM + payload));
        while self.buf.len() > 4 && self.size >= self.page_size {
            // Continue the greedy scan for the cut: the first i >= 2 that would pass the threshold.
            let mut cut = None;
            while self.scan + 2 < self.buf.len() {
                let el = self.buf[self.scan].1;
                if self.scan >= 2 && self.scan_sz + el > self.thresh {
                    cut = Some(self.scan);
                    break;
                }
                self.scan_sz += el;
                self.scan += 1;
            }
            let Some(k) = cut else { return };
            let node_size = self.scan_sz;
            // The buffer keeps its allocation; only the two or so elements after the cut move.
            let node = self.buf.drain(..k).map(|(e, _)| e).collect();
            self.size -= node_size - HDR;
            (self.scan, self.scan_sz) = (0, HDR);
            emit(node, node_size);
        }
    }

    /// Flushes what is left, split as bbolt splits a node at commit (an empty stream gives one
    /// empty node).
    pub fn finish(self, emit: &mut dyn FnMut(Vec<T>, u64)) {
        let sizes: Vec<u64> = self.buf.iter().map(|(_, el)| el - ELEM).collect();
        let nodes = split_level(sizes.len(), |i| sizes[i], self.page_size, self.thresh);
        let mut items = self.buf.into_iter().map(|(e, _)| e);
        for (i, &(size, first)) in nodes.iter().enumerate() {
            let end = nodes.get(i + 1).map_or(sizes.len(), |n| n.1);
            emit(items.by_ref().take(end - first).collect(), size);
        }
    }
}

/// How a bucket would be laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketLayout {
    /// Pages the bucket's own tree takes (0 when inline).
    pub pages: u64,
    /// Pages of its sub-buckets' trees.
    pub sub_pages: u64,
    /// Size of the bucket's value in its parent: 16, or 16 + the inline page.
    pub value_size: u64,
    /// Tree levels (1 for a single leaf or inline).
    pub levels: u32,
}

impl BucketLayout {
    /// All pages: own tree and sub-buckets.
    pub fn total_pages(&self) -> u64 {
        self.pages + self.sub_pages
    }
}

/// The split threshold bbolt uses: `int(float64(pageSize) * fill)`, fill clamped to [0.1, 1.0].
pub fn threshold(page_size: u64, fill: f64) -> u64 {
    (page_size as f64 * fill.clamp(0.1, 1.0)) as u64
}

/// Splits a level of `n` elements (element `i` takes `16 + payload(i)` bytes) into nodes;
/// returns the byte size of each node, and the index of its first element.
fn split_level(n: usize, payload: impl Fn(usize) -> u64, page_size: u64, thresh: u64) -> Vec<(u64, usize)> {
    let el = |i: usize| ELEM + payload(i);
    let mut rem_size = HDR + (0..n).map(el).sum::<u64>();
    let mut nodes = Vec::new();
    let mut pos = 0;
    loop {
        let rem_n = n - pos;
        if rem_n <= 4 || rem_size < page_size {
            nodes.push((rem_size, pos));
            return nodes;
        }
        // bbolt splitIndex over the remainder.
        let mut sz = HDR;
        let mut index = 0;
        for i in 0..rem_n - 2 {
            index = i;
            let e = el(pos + i);
            if i >= 2 && sz + e > thresh {
                break;
            }
            sz += e;
        }
        let node: u64 = HDR + (pos..pos + index).map(el).sum::<u64>();
        nodes.push((node, pos));
        pos += index;
        rem_size -= node - HDR;
    }
}

/// Lays out one bucket from its entries in key order: `(key length, value length)`, where a
/// sub-bucket's value length is already its value size in this bucket. `sub_pages` are the pages
/// of sub-buckets, `has_sub` whether any entry is a bucket.
pub fn layout(entries: &[(u32, u32)], has_sub: bool, sub_pages: u64, page_size: u64, fill: f64) -> BucketLayout {
    let payload = |i: usize| u64::from(entries[i].0) + u64::from(entries[i].1);
    let leaf_size = HDR + (0..entries.len()).map(|i| ELEM + payload(i)).sum::<u64>();
    if !has_sub && leaf_size <= page_size / 4 {
        return BucketLayout { pages: 0, sub_pages, value_size: 16 + leaf_size, levels: 1 };
    }
    let thresh = threshold(page_size, fill);
    let mut pages = 0;
    let mut levels = 0;
    let mut level = split_level(entries.len(), payload, page_size, thresh);
    loop {
        levels += 1;
        pages += level.iter().map(|&(size, _)| size.div_ceil(page_size).max(1)).sum::<u64>();
        if level.len() <= 1 {
            break;
        }
        // The parent level: one branch element per node, keyed by the node's first key.
        let keys: Vec<u64> = level.iter().map(|&(_, first)| u64::from(entries[first].0)).collect();
        let above = split_level(keys.len(), |i| keys[i], page_size, thresh);
        // Map the parent nodes' first-element indexes back to entry indexes.
        level = above.into_iter().map(|(size, i)| (size, level[i].1)).collect();
    }
    BucketLayout { pages, sub_pages, value_size: 16, levels }
}

/// Pages of a whole file laid out by a fresh bbolt in one transaction: the two meta pages, the
/// fresh file's freelist and root pages (freed by that first commit and never reused), the root
/// bucket (fill percent 0.5, bbolt's default) holding `top` = `(name length, layout)` per
/// top-level bucket, and every bucket's pages. With a stored freelist (`bbolt compact`), one
/// more page holds it.
pub fn file_pages(top: &[(u32, BucketLayout)], page_size: u64, freelist_page: bool) -> u64 {
    let entries: Vec<(u32, u32)> = top.iter().map(|(k, b)| (*k, b.value_size as u32)).collect();
    let buckets: u64 = top.iter().map(|(_, b)| b.total_pages()).sum();
    let root = layout(&entries, true, 0, page_size, 0.5);
    4 + root.pages + buckets + u64::from(freelist_page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bucket_is_inline_and_big_one_splits_at_the_threshold() {
        // 3 entries of 2+3 bytes: 16 + 3 * 21 = 79 <= 1024: inline, value 16 + 79.
        let b = layout(&[(2, 3); 3], false, 0, 4096, 0.9);
        assert_eq!(b, BucketLayout { pages: 0, sub_pages: 0, value_size: 95, levels: 1 });
        // 100 entries of 17 + 983 bytes, 1016 with the element header; threshold
        // int(4096 * 0.9) = 3686: a leaf takes 3 (16 + 3 * 1016 = 3064; a 4th would make 4080).
        let b = layout(&[(17, 983); 100], false, 0, 4096, 0.9);
        // 32 leaves of 3; the last 4 entries are not split (<= 4 elements): 4080 bytes, one page.
        // 33 leaves, then one branch of 33 elements (16 + 33 * 33 = 1105 bytes): 34 pages.
        assert_eq!((b.pages, b.levels), (34, 2));
        // Fill 1.0: 4 per leaf (4080 <= 4096), 25 leaves; branch: 1 page.
        assert_eq!(layout(&[(17, 983); 100], false, 0, 4096, 1.0).pages, 26);
    }

    #[test]
    fn streaming_splitter_cuts_exactly_where_the_batch_split_does() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..400 {
            let n = rnd(300) as usize;
            let big = case % 5 == 0;
            let sizes: Vec<u64> =
                (0..n).map(|_| if big && rnd(4) == 0 { 1000 + rnd(20_000) } else { 5 + rnd(700) }).collect();
            let (ps, fill) = ([512, 4096, 16384][case % 3], [0.5, 0.9, 1.0][case % 3]);
            let batch: Vec<(u64, usize)> = split_level(n, |i| sizes[i], ps, threshold(ps, fill));
            let mut streamed = Vec::new();
            let mut sp = Splitter::new(ps, fill);
            let mut first = 0;
            let mut emit = |node: Vec<usize>, size: u64| {
                assert_eq!(node.first().copied().unwrap_or(first), first);
                streamed.push((size, first));
                first += node.len();
            };
            for (i, &sz) in sizes.iter().enumerate() {
                sp.push(i, sz, &mut emit);
            }
            sp.finish(&mut emit);
            assert_eq!(streamed, batch, "case {case}: n {n} ps {ps} fill {fill}");
        }
    }

    #[test]
    fn oversized_values_take_overflow_pages() {
        // 6 entries of 4 + 9996 bytes (10 016 with the header): the first leaf takes the
        // minimum 2 (16 + 20 032 = 20 048 bytes -> 5 pages); the remaining 4 are not split
        // (16 + 40 064 = 40 080 bytes -> 10 pages); one branch page above them.
        let b = layout(&[(4, 9996); 6], false, 0, 4096, 0.9);
        assert_eq!(b.pages, 5 + 10 + 1);
    }
}
