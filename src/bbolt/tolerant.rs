//! Reading a damaged tree: every subtree that can be read is, in key order, and every one that
//! cannot is handed over as a lost key range with the problem that stopped it, so a salvage knows
//! which keys it may have to find elsewhere (by carving, [`super::carve`]).
//!
//! What is worked around: a page whose type flags are damaged is read as a branch when its
//! elements make a plausible branch (keys in order, children that are pages), else as a leaf; a
//! damaged overflow count is cut to the pages the elements use; a count that shrank is read back
//! from the page's layout; elements a page no longer lists (a branch's children, a leaf's
//! records), their bytes still in its packed layout, have the key range they covered told lost
//! ([`super::tolerant_branch`]); a header id that differs from the id the page was reached by is
//! accepted when the rest of the header is sound; a branch element that cannot be read costs only
//! its own subtree; one whose key alone is out of order (the others agree, and its child is no
//! other element's) has its child read within the keys around it, what it holds marked
//! [`TolerantLeaf::stray`]; leaf elements are offered as [`Candidates`] for the caller to accept
//! or not. Never followed: a page already reached (a cycle, a page shared by two parents), an id
//! outside the file or the high-water mark, a tree deeper than [`MAX_DEPTH`]. Every page is read
//! once at most, so any input ends in time bounded by the file.

use super::bitmap::Bitmap;
use super::bucket::BucketRoot;
use super::carve::{candidates, max_elements, Candidates, Geometry};
use super::page::{type_name, Page, BRANCH, LEAF};
use super::tolerant_branch::{lost_why, Bad};
use super::walker::MAX_DEPTH;
use crate::problem::{Problem, ProblemKind};

/// A key range of a bucket that could not be read: `lower <= key < upper` (`<= upper` when
/// `upper_inclusive`; unbounded when `None`), and why.
#[derive(Clone, Debug)]
pub struct LostRange<'a> {
    /// Lower bound (inclusive).
    pub lower: Option<&'a [u8]>,
    /// Upper bound (exclusive unless `upper_inclusive`).
    pub upper: Option<&'a [u8]>,
    /// Whether the upper bound is a key of the range.
    pub upper_inclusive: bool,
    /// What stopped the read.
    pub problem: Problem,
}

impl<'a> LostRange<'a> {
    /// The range `lower <= key < upper`.
    pub fn new(lower: Option<&'a [u8]>, upper: Option<&'a [u8]>, problem: Problem) -> LostRange<'a> {
        LostRange { lower, upper, upper_inclusive: false, problem }
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.lower.map_or(true, |l| key >= l)
            && self.upper.map_or(true, |u| key < u || (self.upper_inclusive && key == u))
    }
}

/// A leaf reached by the tree, with the key bounds its parents give it.
#[derive(Clone, Debug)]
pub struct TolerantLeaf<'a> {
    /// The page (an inline bucket's page, or a page run cut to what its elements use).
    pub page: Page<'a>,
    /// Its elements.
    pub elems: Vec<Candidates<'a>>,
    /// Lower bound of its keys (inclusive).
    pub lower: Option<&'a [u8]>,
    /// Upper bound (exclusive).
    pub upper: Option<&'a [u8]>,
    /// Whether `lower` is the key of the branch element naming this leaf (which bbolt sets to the
    /// leaf's first key), not the key of a neighbour: a leaf whose own element's key is damaged
    /// is read within its neighbours' keys.
    pub lower_named: bool,
    /// Whether it was reached through a branch element whose key is out of order (or below
    /// one): nothing vouches for that element's pointer, so what the leaf holds is judged as
    /// found elsewhere, not as the tree's.
    pub stray: bool,
    /// The elements the page's own count lists: fewer than `elems` when the count was read back
    /// from the layout (a count that shrank, or elements `bbolt surgery` took off the end, which
    /// may have been taken off for being damaged).
    pub listed: usize,
}

impl TolerantLeaf<'_> {
    /// Whether `key` respects the leaf's bounds.
    pub fn in_bounds(&self, key: &[u8]) -> bool {
        self.lower.map_or(true, |l| key >= l) && self.upper.map_or(true, |u| key < u)
    }
}

/// What a caller does with each leaf: accepts what it can, and returns a problem when some of
/// the leaf could not be accepted (its range is then reported lost as well).
pub type OnLeaf<'r, 'a> = dyn FnMut(&TolerantLeaf<'a>) -> Option<Problem> + 'r;

/// The tolerant reader of one file: the pages it has reached, shared across buckets.
pub struct Reader<'a> {
    pub(super) g: Geometry<'a>,
    pub(super) limit: u64,
    /// Pages read as part of the tree (header pages and the overflow pages they use).
    pub reached: Bitmap,
    /// Damage worked around while reading (a page type, header id or overflow count that is not
    /// what the tree says): what was read is whole, but the page was damaged.
    pub repaired: Vec<Problem>,
    budget: u64,
}

impl<'a> Reader<'a> {
    /// A reader of the pages of `g` below `limit` (the high-water mark of a trusted meta page, or
    /// the file's page count).
    pub fn new(g: Geometry<'a>, limit: u64) -> Reader<'a> {
        let pages = g.pages();
        let budget = pages.saturating_add(1);
        Reader { g, limit: limit.min(pages), reached: Bitmap::new(pages), repaired: Vec::new(), budget }
    }

    /// `page` with the count its layout shows when its count shrank ([`Page::count_restored`]),
    /// noted as repaired; else `page`.
    fn restored(&mut self, page: Page<'a>, branch: bool) -> Page<'a> {
        let Some(p) = page.count_restored(branch) else { return page };
        self.repaired.push(page.restored_note(&p, branch));
        p
    }

    /// Reads the bucket rooted at `root`: `leaf` gets each leaf in key order, `lost` each key
    /// range that could not be read.
    pub fn bucket(&mut self, root: BucketRoot<'a>, leaf: &mut OnLeaf<'_, 'a>, lost: &mut dyn FnMut(LostRange<'a>)) {
        match root {
            BucketRoot::Inline(page) => {
                let listed = usize::from(page.count);
                let page = self.restored(page, false);
                let elems = candidates(&page, usize::from(page.count).min(max_elements(page.bytes.len() as u64)));
                let l =
                    TolerantLeaf { page, elems, lower: None, upper: None, lower_named: false, stray: false, listed };
                if let Some(p) = leaf(&l) {
                    lost(LostRange::new(None, None, p));
                }
            }
            BucketRoot::Page(id) => self.node(id.0, (None, None, false, false), 0, leaf, lost),
        }
    }

    pub(super) fn problem(&self, kind: ProblemKind, id: u64, msg: String) -> Problem {
        Problem::new(kind, msg).page(id).offset(id.saturating_mul(self.g.page_size))
    }

    /// Page `id` as a tree page, with its run cut to what can be its own; marks it reached.
    fn fetch(&mut self, id: u64) -> Result<Page<'a>, Problem> {
        if id < 2 || id >= self.limit {
            let msg = format!("page {id} is outside the pages a tree can use [2, {})", self.limit);
            return Err(self.problem(ProblemKind::PageOutOfBounds, id, msg));
        }
        let Some(h) = self.g.header(id) else {
            return Err(self.problem(ProblemKind::PagePastEof, id, format!("page {id} lies past the end of the file")));
        };
        let sound = matches!(h.flags, BRANCH | LEAF);
        if h.id.0 != id && !sound {
            let msg = format!("page {id} identifies itself as page {} and has type {}", h.id, type_name(h.flags));
            return Err(self.problem(ProblemKind::PageIdMismatch, id, msg));
        }
        if h.id.0 != id {
            let msg =
                format!("page {id} identifies itself as page {}: read as page {id}, as its parent names it", h.id);
            self.repaired.push(self.problem(ProblemKind::PageIdMismatch, id, msg));
        }
        let claimed = u64::from(h.overflow) + 1;
        let fits = id.checked_add(claimed).is_some_and(|e| e <= self.limit);
        // A damaged overflow count: only the pages up to the next one that is a page of its own.
        let run = if fits {
            claimed
        } else {
            let run =
                (1..self.limit - id).find(|k| self.g.has_own_header(id + k) || self.reached.get(id + k)).unwrap_or(1);
            let msg = format!(
                "page {id} claims {} overflow page(s) past the tree's pages: read as {run} page(s)",
                h.overflow
            );
            self.repaired.push(self.problem(ProblemKind::PagePastEof, id, msg));
            run
        };
        for k in 0..run {
            if !self.reached.set(id + k) {
                let msg = format!("page {} is reached a second time (a cycle, or a page with two parents)", id + k);
                return Err(self.problem(ProblemKind::MultipleReferences, id + k, msg));
            }
        }
        self.g.page(id, run).ok_or_else(|| {
            self.problem(ProblemKind::PagePastEof, id, format!("page {id} lies past the end of the file"))
        })
    }

    /// Reads the subtree of page `id`, whose keys lie in `lower..upper` (`stray`: reached through
    /// an element whose key is out of order; `named`: `lower` is the
    /// key of the element naming it).
    fn node(
        &mut self,
        id: u64,
        (lower, upper, named, stray): (Option<&'a [u8]>, Option<&'a [u8]>, bool, bool),
        depth: u32,
        leaf: &mut OnLeaf<'_, 'a>,
        lost_: &mut dyn FnMut(LostRange<'a>),
    ) {
        if depth > MAX_DEPTH || self.budget == 0 {
            let msg = format!("page {id}: tree deeper or larger than the file");
            return lost_(LostRange::new(lower, upper, self.problem(ProblemKind::TooDeep, id, msg)));
        }
        self.budget -= 1;
        let page = match self.fetch(id) {
            Ok(p) => p,
            Err(p) => return lost_(LostRange::new(lower, upper, p)),
        };
        let is_branch = match page.flags {
            BRANCH => true,
            LEAF => false,
            flags => {
                let branch = self.plausible_branch(&page, lower, upper);
                let msg = format!(
                    "page {id} has an invalid page type ({}): read as a {}, as its elements make one",
                    type_name(flags),
                    if branch { "branch" } else { "leaf" }
                );
                self.repaired.push(self.problem(ProblemKind::InvalidPageType, id, msg));
                branch
            }
        };
        let listed = usize::from(page.count);
        let page = self.restored(page, is_branch);
        if !is_branch {
            let n = usize::from(page.count).min(max_elements(self.g.page_size));
            let elems = candidates(&page, n);
            let l = TolerantLeaf { elems, page, lower, upper, lower_named: named, stray, listed };
            // Elements taken out of the leaf, their records left in its bytes: their keys' range is
            // told lost, so a salvage is not called lossless (review 46c).
            let keys: Vec<Option<&'a [u8]>> = l.elems.iter().map(|c| c.stated.as_ref().map(|e| e.key)).collect();
            self.lost_in_layout((&page, false), &keys, (lower, upper), lost_);
            if let Some(p) = leaf(&l) {
                lost_(LostRange::new(lower, upper, p));
            }
            return;
        }
        let mut elems = self.branch_elems(&page, lower, upper);
        let keys: Vec<Option<&'a [u8]>> = elems.iter().map(|e| e.ok().map(|(k, _)| k)).collect();
        self.lost_in_layout((&page, true), &keys, (lower, upper), lost_);
        let good: Vec<(usize, &'a [u8], u64)> =
            elems.iter().enumerate().filter_map(|(i, e)| e.ok().map(|(k, c)| (i, k, c))).collect();
        // A child a sound element names too is that element's: the pointer of the element out of
        // order is damaged as well, and is not followed.
        for e in &mut elems {
            if let Err(Bad::OutOfOrder(c)) = *e {
                if good.iter().any(|g| g.2 == c) {
                    *e = Err(Bad::Shared(c));
                }
            }
        }
        if good.is_empty() && elems.iter().all(|e| lost_why(e).is_some()) {
            let msg = format!("branch page {id} has no element that can be read");
            return lost_(LostRange::new(lower, upper, self.problem(ProblemKind::EmptyBranch, id, msg)));
        }
        // The elements before each sound one (after the one before it), and those after the last,
        // lie in a gap bounded by the sound keys around it: a child whose key alone is out of order
        // is read within those bounds; the subtrees of the others are lost somewhere in the gap.
        let mut from = 0;
        for j in 0..=good.len() {
            let to = good.get(j).map_or(elems.len(), |g| g.0);
            let lo = j.checked_sub(1).map_or(lower, |p| Some(good[p].1));
            let hi = good.get(j).map_or(upper, |g| Some(g.1));
            let unfollowed: Vec<usize> = (from..to).filter(|&i| lost_why(&elems[i]).is_some()).collect();
            if let (Some(first), Some(last)) = (unfollowed.first(), unfollowed.last()) {
                let what = match unfollowed.len() {
                    1 => format!("element {first} cannot be followed"),
                    n => format!("{n} elements ({first} to {last}) cannot be followed"),
                };
                lost_(LostRange::new(lo, hi, self.bad_elems(id, &elems, from, to, &what)));
            }
            for (i, e) in elems.iter().enumerate().take(to).skip(from) {
                if let Err(Bad::OutOfOrder(child)) = *e {
                    // Told as worked around only when all of it was read (the problems of what
                    // was not are told as such).
                    let mut whole = true;
                    self.node(child, (lo, hi, false, true), depth + 1, leaf, &mut |l| {
                        whole = false;
                        lost_(l)
                    });
                    if whole {
                        let msg = format!(
                            "branch page {id}: element {i} has a key out of order; its child page {child} was read \
                             within the keys of the elements around it, and what it holds judged as found elsewhere"
                        );
                        self.repaired.push(self.problem(ProblemKind::KeysOutOfOrder, id, msg));
                    }
                }
            }
            if let Some(&(i, key, child)) = good.get(j) {
                let child_upper = good.get(j + 1).map_or(upper, |n| Some(n.1));
                self.node(child, (Some(key), child_upper, true, stray), depth + 1, leaf, lost_);
                from = i + 1;
            }
        }
        if usize::from(page.count) > elems.len() {
            let msg = format!("branch page {id} claims {} elements; {} can be read", page.count, elems.len());
            lost_(LostRange::new(
                good.last().map(|g| g.1),
                upper,
                self.problem(ProblemKind::ElementOutsidePage, id, msg),
            ));
        }
    }
}
