//! bbolt's `Bucket.Stats`: the thirteen figures `bbolt stats` prints, computed the way bbolt
//! computes them (used bytes from the last element's position, inline buckets counted only in the
//! inline figures, depth = own depth + deepest sub-bucket).

use super::page::{Page, BRANCH, LEAF};

/// The figures of `bbolt.BucketStats`, with bbolt's names in snake_case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketStats {
    /// Logical branch pages.
    pub branch_page_n: u64,
    /// Physical branch overflow pages.
    pub branch_overflow_n: u64,
    /// Logical leaf pages.
    pub leaf_page_n: u64,
    /// Physical leaf overflow pages.
    pub leaf_overflow_n: u64,
    /// Key/value pairs (leaf elements, bucket entries included).
    pub key_n: u64,
    /// Levels in the B+tree, sub-buckets included.
    pub depth: u64,
    /// Bytes allocated for physical branch pages.
    pub branch_alloc: u64,
    /// Bytes actually used for branch data.
    pub branch_inuse: u64,
    /// Bytes allocated for physical leaf pages.
    pub leaf_alloc: u64,
    /// Bytes actually used for leaf data.
    pub leaf_inuse: u64,
    /// Buckets, this one included.
    pub bucket_n: u64,
    /// Inline buckets.
    pub inline_bucket_n: u64,
    /// Bytes used by inline buckets.
    pub inline_bucket_inuse: u64,
}

impl BucketStats {
    /// bbolt's `BucketStats.Add`: sums, except depth, which is the larger.
    pub fn add(&mut self, o: &BucketStats) {
        self.branch_page_n += o.branch_page_n;
        self.branch_overflow_n += o.branch_overflow_n;
        self.leaf_page_n += o.leaf_page_n;
        self.leaf_overflow_n += o.leaf_overflow_n;
        self.key_n += o.key_n;
        self.depth = self.depth.max(o.depth);
        self.branch_alloc += o.branch_alloc;
        self.branch_inuse += o.branch_inuse;
        self.leaf_alloc += o.leaf_alloc;
        self.leaf_inuse += o.leaf_inuse;
        self.bucket_n += o.bucket_n;
        self.inline_bucket_n += o.inline_bucket_n;
        self.inline_bucket_inuse += o.inline_bucket_inuse;
    }
}

/// Stats being gathered for one bucket: its own pages, and its finished sub-buckets.
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsAcc {
    own: BucketStats,
    sub: BucketStats,
}

impl StatsAcc {
    /// Accounts one page of this bucket at `tree_level` (0 = root).
    pub fn page(&mut self, page: &Page<'_>, tree_level: u32, inline: bool) {
        let s = &mut self.own;
        s.depth = s.depth.max(u64::from(tree_level) + 1);
        match page.flags {
            LEAF => {
                s.key_n += u64::from(page.count);
                if inline {
                    s.inline_bucket_n = 1;
                    s.inline_bucket_inuse += page.used_bytes();
                } else {
                    s.leaf_page_n += 1;
                    s.leaf_overflow_n += u64::from(page.overflow);
                    s.leaf_inuse += page.used_bytes();
                }
            }
            BRANCH if page.count > 0 => {
                s.branch_page_n += 1;
                s.branch_overflow_n += u64::from(page.overflow);
                s.branch_inuse += page.used_bytes();
            }
            _ => {}
        }
    }

    /// Adds a finished sub-bucket.
    pub fn sub_bucket(&mut self, done: &BucketStats) {
        self.sub.add(done);
    }

    /// Joins stats of two stretches of the same bucket.
    pub fn join(mut self, o: StatsAcc) -> StatsAcc {
        self.own.add(&o.own);
        self.sub.add(&o.sub);
        self
    }

    /// The bucket's final figures, as `Bucket.Stats` returns them.
    pub fn finish(&self, page_size: u64) -> BucketStats {
        let mut s = self.own;
        s.bucket_n += 1;
        s.branch_alloc = (s.branch_page_n + s.branch_overflow_n) * page_size;
        s.leaf_alloc = (s.leaf_page_n + s.leaf_overflow_n) * page_size;
        s.depth += self.sub.depth;
        s.add(&self.sub);
        s
    }
}
