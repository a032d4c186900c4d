//! Predicting the file a defrag (or `bbolt compact`) writes: bbolt's node split rules
//! ([`crate::bbolt::split`]) replayed over the entry sizes of each bucket, level by level, without
//! writing anything.
//!
//! Sequential puts in key order (what defrag does) pack every page this way, across commits too,
//! since the partly filled last page is reloaded and refilled by the next commit. A bucket whose
//! single leaf is at most a quarter page and has no sub-buckets is stored inline in its parent.

use crate::bbolt::page::{ELEMENT_SIZE, PAGE_HEADER_SIZE};
use crate::bbolt::split::{split_level, threshold, Node, Splitter};

const HDR: u64 = PAGE_HEADER_SIZE as u64;
const ELEM: u64 = ELEMENT_SIZE as u64;

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
        pages += level.iter().map(|n| n.size.div_ceil(page_size).max(1)).sum::<u64>();
        if level.len() <= 1 {
            break;
        }
        // The parent level: one branch element per node, keyed by the node's first key.
        let keys: Vec<u64> = level.iter().map(|n| u64::from(entries[n.first].0)).collect();
        let above = split_level(keys.len(), |i| keys[i], page_size, thresh);
        // Map the parent nodes' first-element indexes back to entry indexes.
        level = above.into_iter().map(|n| Node { size: n.size, first: level[n.first].first }).collect();
    }
    BucketLayout { pages, sub_pages, value_size: 16, levels }
}

/// [`layout`] of a bucket without sub-buckets whose entries come one at a time (in key order),
/// holding about a page of entries per tree level instead of all of them.
#[derive(Debug)]
pub struct LayoutStream {
    page_size: u64,
    fill: f64,
    leaf_size: u64,
    /// Per level: the splitter and the nodes (count, pages) it has cut.
    levels: Vec<(Splitter<u32>, u64, u64)>,
}

impl LayoutStream {
    /// A bucket laid out in pages of `page_size` filled to `fill`.
    pub fn new(page_size: u64, fill: f64) -> LayoutStream {
        LayoutStream { page_size, fill, leaf_size: HDR, levels: Vec::new() }
    }

    /// The next entry: key and value lengths.
    pub fn push(&mut self, key: u32, value: u32) {
        self.leaf_size += ELEM + u64::from(key) + u64::from(value);
        self.feed(0, key, u64::from(key) + u64::from(value));
    }

    /// Pushes an element into `level`, and every node it completes into the level above.
    fn feed(&mut self, level: usize, key: u32, payload: u64) {
        let mut pending = vec![(level, key, payload)];
        while let Some((l, k, p)) = pending.pop() {
            while self.levels.len() <= l {
                self.levels.push((Splitter::new(self.page_size, self.fill), 0, 0));
            }
            let ps = self.page_size;
            let (sp, nodes, pages) = &mut self.levels[l];
            sp.push(k, p, &mut |node: Vec<u32>, size: u64| {
                *nodes += 1;
                *pages += size.div_ceil(ps).max(1);
                // The parent level holds one element per node, keyed by the node's first key.
                let first = node.first().copied().unwrap_or(0);
                pending.push((l + 1, first, u64::from(first)));
            });
        }
    }

    /// The layout of everything pushed.
    pub fn finish(mut self) -> BucketLayout {
        if self.leaf_size <= self.page_size / 4 {
            return BucketLayout { pages: 0, sub_pages: 0, value_size: 16 + self.leaf_size, levels: 1 };
        }
        let (mut pages, mut level) = (0, 0);
        loop {
            if self.levels.len() <= level {
                self.levels.push((Splitter::new(self.page_size, self.fill), 0, 0));
            }
            let sp = std::mem::replace(&mut self.levels[level].0, Splitter::new(self.page_size, self.fill));
            let mut tail = Vec::new();
            sp.finish(&mut |node: Vec<u32>, size: u64| tail.push((node.first().copied().unwrap_or(0), size)));
            for (first, size) in tail {
                let ps = self.page_size;
                let (_, nodes, p) = &mut self.levels[level];
                *nodes += 1;
                *p += size.div_ceil(ps).max(1);
                self.feed(level + 1, first, u64::from(first));
            }
            let (nodes, p) = (self.levels[level].1, self.levels[level].2);
            pages += p;
            level += 1;
            if nodes <= 1 {
                return BucketLayout { pages, sub_pages: 0, value_size: 16, levels: level as u32 };
            }
        }
    }
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
    fn streamed_layouts_equal_the_batch_layout() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..300 {
            let n = [0, 1, 3, 40, 300, 3000][case % 6] + rnd(50) as usize;
            let big = case % 7 == 0;
            let entries: Vec<(u32, u32)> = (0..n)
                .map(|_| {
                    (17 + rnd(2) as u32, if big && rnd(5) == 0 { 5000 + rnd(30_000) as u32 } else { rnd(900) as u32 })
                })
                .collect();
            let (ps, fill) = ([1024, 4096, 16384][case % 3], [0.5, 0.9, 1.0][case / 3 % 3]);
            let mut st = LayoutStream::new(ps, fill);
            for &(k, v) in &entries {
                st.push(k, v);
            }
            assert_eq!(st.finish(), layout(&entries, false, 0, ps, fill), "case {case}: {n} entries, {ps} {fill}");
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
