//! The tree walk: every bucket, every page, once, in parallel over subtrees, with a visited set,
//! a depth bound, bounds-checked elements and key-order checks passed down the tree.
//!
//! What to compute on the way is a [`Fold`]: an accumulator built per subtree and joined in key
//! order, so that order-dependent results (etcd's CRC-32C hash) equal one sequential pass.

use super::bitmap::AtomicBitmap;
use super::bucket::{self, BucketRoot};
use super::fold::PathNode;
pub use super::fold::{Ctx, Fold, Leaf, Pair};
use super::order::PageId;
use super::page::{type_name, LeafElem, Page, BRANCH, LEAF};
use super::view::DbView;
use crate::problem::{Problem, ProblemKind, Sink};
use rayon::prelude::*;

/// Deepest descent (pages, across bucket nesting) the walk follows. A balanced B+tree over any
/// real file is under 10 deep; hostile files cannot make the walk recurse further than this.
pub const MAX_DEPTH: u32 = 256;

/// Walks the trees of one view. Use [`Walker::run`].
pub struct Walker<'v, 'a, F: Fold> {
    view: &'v DbView<'a>,
    fold: &'v F,
    /// Pages reached so far.
    pub visited: &'v AtomicBitmap,
    sink: &'v Sink,
}

/// Ancestors of the page being walked, to tell a cycle from a plain double reference.
struct Stack<'s> {
    id: u64,
    parent: Option<&'s Stack<'s>>,
}

impl Stack<'_> {
    fn contains(&self, id: u64) -> bool {
        let mut s = Some(self);
        while let Some(n) = s {
            if n.id == id {
                return true;
            }
            s = n.parent;
        }
        false
    }
}

/// Key bounds a page's keys must respect: `lower <= k < upper`; and where the page is referenced
/// from (the referring page, and the byte offset of the reference: a branch element's child id or
/// a bucket header's root), so a page that cannot be fetched is reported where it is named.
#[derive(Clone, Copy)]
struct Bounds<'a> {
    lower: Option<&'a [u8]>,
    upper: Option<&'a [u8]>,
    from: Option<(u64, u64)>,
}

impl<'v, 'a, F: Fold> Walker<'v, 'a, F> {
    /// A walker over `view` recording reached pages in `visited` and problems in `sink`.
    pub fn new(view: &'v DbView<'a>, fold: &'v F, visited: &'v AtomicBitmap, sink: &'v Sink) -> Self {
        Walker { view, fold, visited, sink }
    }

    /// Walks the root bucket and everything below it.
    pub fn run(&self) -> F::Acc {
        let root = self.view.meta().root;
        let ctx = Ctx { depth: 0, top: &[], path: None };
        let top = Stack { id: u64::MAX, parent: None };
        let mut acc = self.fold.empty();
        self.walk_page(root.0, Bounds { lower: None, upper: None, from: None }, &top, 0, 0, &ctx, &mut acc);
        acc
    }

    fn report(&self, p: Problem, ctx: &Ctx<'_>) {
        self.sink.push(p.bucket(ctx.path()));
    }

    /// Walks the subtree at page `id`, appending what it finds to `acc` in key order.
    #[allow(clippy::too_many_arguments)]
    fn walk_page(
        &self,
        id: u64,
        b: Bounds<'a>,
        stack: &Stack<'_>,
        level: u32,
        tl: u32,
        ctx: &Ctx<'a>,
        acc: &mut F::Acc,
    ) {
        if level > MAX_DEPTH {
            let msg = format!("page {id}: tree deeper than {MAX_DEPTH} levels");
            return self.report(Problem::new(ProblemKind::TooDeep, msg).page(id), ctx);
        }
        let page = match self.view.page(PageId(id)) {
            Ok(p) => p,
            Err(mut p) => {
                if let (Some((by, at)), None) = (b.from, p.offset) {
                    p.message.push_str(&format!(" (referenced by page {by})"));
                    p = p.offset(at);
                }
                return self.report(p, ctx);
            }
        };
        for i in id..=id + u64::from(page.overflow) {
            if self.visited.test_and_set(i) {
                let (kind, what) = if i == id && stack.contains(id) {
                    (ProblemKind::Cycle, "is its own ancestor (a branch points back up the tree)")
                } else {
                    (ProblemKind::MultipleReferences, "multiple references (reached twice)")
                };
                return self.report(Problem::new(kind, format!("page {i} {what}")).page(i).offset(page.offset), ctx);
            }
        }
        self.fold.page(acc, ctx, &page, tl, false);
        let here = Stack { id, parent: Some(stack) };
        match page.flags {
            BRANCH => self.branch(page, b, &here, level, tl, ctx, acc),
            LEAF => self.leaf(page, b, level, ctx, acc),
            f => {
                let msg = format!("page {id}: invalid type: {} (expected branch or leaf)", type_name(f));
                self.report(Problem::new(ProblemKind::InvalidPageType, msg).page(id).offset(page.offset + 8), ctx);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn branch(
        &self,
        page: Page<'a>,
        b: Bounds<'a>,
        here: &Stack<'_>,
        level: u32,
        tl: u32,
        ctx: &Ctx<'a>,
        acc: &mut F::Acc,
    ) {
        let n = usize::from(page.count);
        if n == 0 {
            let msg = format!("branch page {} has no elements", page.id);
            return self.report(Problem::new(ProblemKind::EmptyBranch, msg).page(page.id).offset(page.offset), ctx);
        }
        let mut elems = Vec::with_capacity(n);
        let mut prev = b.lower;
        for i in 0..n {
            let e = match page.branch_elem(i) {
                Ok(e) => e,
                Err(p) => return self.report(p, ctx),
            };
            if let Some(p) = self.order_problem(&page, e.key, prev, (i, ctx.top), b.upper, i == 0) {
                return self.report(p, ctx);
            }
            prev = Some(e.key);
            elems.push(e);
        }
        self.check_first_key(&page, elems[0].key, b.lower, ctx);
        let child = |i: usize, acc: &mut F::Acc| {
            let upper = elems.get(i + 1).map(|e| e.key).or(b.upper);
            // A branch element: position, key size, then the child's id.
            let from = page.offset.saturating_add(elems[i].elem_off as u64).saturating_add(8);
            let cb = Bounds { lower: Some(elems[i].key), upper, from: Some((page.id.0, from)) };
            self.walk_page(elems[i].child.0, cb, here, level + 1, tl + 1, ctx, acc);
        };
        // Parallel only above the leaf level: a task per leaf costs more than the leaf. Each
        // parallel split starts a fresh accumulator and the results are joined in order; children
        // walked in sequence append to the same one (a join can be costly: a CRC combine).
        let first_is_branch = self.view.page(elems[0].child).is_ok_and(|p| p.flags == BRANCH);
        if first_is_branch && n > 1 {
            // One accumulator per rayon split (contiguous ranges), joined in order.
            let rest = (0..n)
                .into_par_iter()
                .fold(
                    || self.fold.empty(),
                    |mut a, i| {
                        child(i, &mut a);
                        a
                    },
                )
                .reduce(|| self.fold.empty(), |l, r| self.fold.join(l, r));
            let before = std::mem::replace(acc, self.fold.empty());
            *acc = self.fold.join(before, rest);
        } else {
            for i in 0..n {
                // Children are loaded into cache ahead of the walk in three stages: a header
                // three children ahead, the element table it counts two ahead, and one ahead the
                // part of the page its elements use (for a leaf, up to the end of its last value:
                // a walk that reads every byte is a quarter faster with leaves loaded ahead than
                // without, and a sixth faster again than with whole pages, whose room past the
                // data it never reads).
                if let Some(later) = elems.get(i + 3) {
                    self.view.prefetch_page(later.child);
                }
                if let Some(after) = elems.get(i + 2) {
                    self.view.prefetch_own_table(after.child);
                }
                if let Some(next) = elems.get(i + 1) {
                    self.view.prefetch_used(next.child);
                }
                child(i, acc);
            }
        }
    }

    /// bbolt keeps a branch element's key equal to its child's first key (it rewrites the parent
    /// whenever it writes the child), and that key is the child's lower bound: a first key above
    /// it means the page was damaged or not written by bbolt. Reported without stopping the walk
    /// (the page's own keys are in order); a first key below it is already out of order.
    fn check_first_key(&self, page: &Page<'a>, first: &[u8], lower: Option<&[u8]>, ctx: &Ctx<'a>) {
        if let Some(l) = lower.filter(|l| first > *l) {
            let msg = format!(
                "page {} starts with key {} but its parent's branch key is {}",
                page.id,
                shown_key(ctx.top, first),
                shown_key(ctx.top, l)
            );
            self.report(
                Problem::new(ProblemKind::BranchKeyMismatch, msg).page(page.id).offset(page.offset_of(first)),
                ctx,
            );
        }
    }

    /// Checks `key` against the previous key (strictly greater, or equal to the lower bound when
    /// it is the first key of the page) and the upper bound.
    fn order_problem(
        &self,
        page: &Page<'a>,
        key: &[u8],
        prev: Option<&[u8]>,
        (i, top): (usize, &[u8]),
        upper: Option<&[u8]>,
        first: bool,
    ) -> Option<Problem> {
        let kind = if page.flags == BRANCH { "branch" } else { "leaf" };
        let mk = |kind_: ProblemKind, why: String| {
            Some(
                Problem::new(kind_, format!("key[{i}]={} on {kind} page({}) {why}", shown_key(top, key), page.id))
                    .page(page.id)
                    .offset(page.offset_of(key)),
            )
        };
        if key.is_empty() {
            return mk(ProblemKind::EmptyKey, "is empty".into());
        }
        if let Some(p) = prev {
            if key < p || (key == p && !first) {
                return mk(ProblemKind::KeysOutOfOrder, format!("needs to be > {}", shown_key(top, p)));
            }
        }
        if let Some(u) = upper {
            if key >= u {
                return mk(
                    ProblemKind::KeysOutOfOrder,
                    format!("needs to be < {} (the next branch key)", shown_key(top, u)),
                );
            }
        }
        None
    }

    fn leaf(&self, page: Page<'a>, b: Bounds<'a>, level: u32, ctx: &Ctx<'a>, acc: &mut F::Acc) {
        let n = usize::from(page.count);
        if n == 0 {
            // Under a branch (a lower bound: the key of the element naming it), an empty leaf is
            // damage: bbolt removes a leaf that empties, and the keys its branch names are lost.
            if b.lower.is_some() {
                self.report(empty_leaf(&page), ctx);
            } else if let Some(p) = page.emptied() {
                self.report(p, ctx);
            }
            return;
        }
        // Pass 1: element headers and bounds only; no key or value byte is touched yet.
        let mut has_bucket = false;
        let mut packed = true;
        let mut first = None;
        let mut last: Option<LeafElem<'a>> = None;
        for i in 0..n {
            let e = match page.leaf_elem(i) {
                Ok(e) => e,
                Err(p) => return self.report(p, ctx),
            };
            if let Some(l) = &last {
                packed &= l.value.as_ptr_range().end == e.key.as_ptr();
            }
            has_bucket |= e.is_bucket();
            first.get_or_insert(e);
            last = Some(e);
        }
        let (Some(first), Some(last)) = (first, last) else {
            return;
        };
        // A plain leaf goes to the fold before the key-order pass: the fold streams through the
        // packed data front to back (prefetcher-friendly), and the order pass then hits cache.
        // A problem found after the fold still withholds the figures.
        if !has_bucket && ctx.depth > 0 {
            let packed = if packed { page.packed_kv(&first, &last) } else { None };
            self.fold.leaf(acc, ctx, &Leaf { page, count: n, first, last, packed });
        }
        let mut prev = b.lower;
        for i in 0..n {
            let Ok(e) = page.leaf_elem(i) else { continue };
            if let Some(p) = self.order_problem(&page, e.key, prev, (i, ctx.top), b.upper, i == 0) {
                return self.report(p, ctx);
            }
            prev = Some(e.key);
        }
        self.check_first_key(&page, first.key, b.lower, ctx);
        if ctx.depth == 0 && !has_bucket {
            let msg = format!("root bucket page {} holds plain keys; only buckets may be at the top level", page.id);
            self.report(Problem::new(ProblemKind::BucketMalformed, msg).page(page.id).offset(page.offset), ctx);
            return;
        }
        if !has_bucket {
            return;
        }
        for i in 0..n {
            let Ok(e) = page.leaf_elem(i) else { continue };
            self.fold.entry(acc, ctx, &e);
            if e.is_bucket() && !self.fold.descend(ctx, e.key) {
                continue;
            }
            if e.is_bucket() {
                let node = PathNode { name: e.key, parent: ctx.path };
                let sub_ctx =
                    Ctx { depth: ctx.depth + 1, top: if ctx.depth == 0 { e.key } else { ctx.top }, path: Some(&node) };
                let mut sub = self.fold.empty();
                self.bucket(&page, &e, level, &sub_ctx, &mut sub);
                self.fold.bucket(acc, ctx, &e, sub);
            } else if ctx.depth == 0 {
                let msg = format!("root bucket holds a plain key {}; only buckets may be at the top level", hex(e.key));
                self.report(
                    Problem::new(ProblemKind::BucketMalformed, msg).page(page.id).offset(page.offset_of(e.key)),
                    ctx,
                );
            }
        }
    }

    /// Walks the bucket whose entry is `e` (on `page`), a page tree or an inline page, into `acc`.
    fn bucket(&self, page: &Page<'a>, e: &LeafElem<'a>, level: u32, ctx: &Ctx<'a>, acc: &mut F::Acc) {
        match bucket::decode(page, e) {
            Err(why) => {
                let msg = format!("bucket {}: {why}", shown_key(ctx.top, e.key));
                let p = Problem::new(ProblemKind::BucketMalformed, msg).page(page.id).offset(page.offset_of(e.value));
                self.report(p, ctx)
            }
            Ok(b) => match b.root {
                BucketRoot::Page(root) => {
                    let top = Stack { id: u64::MAX, parent: None };
                    let b = Bounds { lower: None, upper: None, from: Some((page.id.0, page.offset_of(e.value))) };
                    self.walk_page(root.0, b, &top, level + 1, 0, ctx, acc)
                }
                BucketRoot::Inline(inline) => {
                    self.fold.page(acc, ctx, &inline, 0, true);
                    self.leaf(inline, Bounds { lower: None, upper: None, from: None }, level + 1, ctx, acc);
                }
            },
        }
    }
}

/// The top-level bucket etcd keeps every value in, Secrets' among them.
pub(crate) const VALUES_BUCKET: &[u8] = b"key";

/// `key` as a problem message shows it: [`hex`], except in etcd's `key` bucket, whose keys are
/// revisions (8-byte main, `_`, 8-byte sub, optional `t`, each number's top byte 0): a key of
/// another shape there was read through a damaged element and may be bytes of a value (a
/// Secret's data), so only its length is shown. The problem's page and byte offset still
/// locate it.
pub fn shown_key(top: &[u8], key: &[u8]) -> String {
    let revision = matches!(key.len(), 17 | 18)
        && key.get(8) == Some(&b'_')
        && key.first() == Some(&0)
        && key.get(9) == Some(&0)
        && key.get(17).map_or(true, |&t| t == b't');
    if top != VALUES_BUCKET || revision {
        hex(key)
    } else {
        format!("<{} bytes, not a revision: not shown>", key.len())
    }
}

/// Up to 40 bytes of `k` in hex (`...` past them).
pub fn hex(k: &[u8]) -> String {
    let mut s: String = k.iter().take(40).map(|b| format!("{b:02x}")).collect();
    if k.len() > 40 {
        s.push_str("...");
    }
    s
}

/// The problem of a leaf under a branch with no elements: bbolt removes a leaf that empties from
/// its parent, so the keys its branch element names are lost. Every reader that lists a tree's
/// leaves reports it in these words.
pub fn empty_leaf(p: &Page<'_>) -> Problem {
    let msg = format!("leaf page {} under a branch has no elements (bbolt removes a leaf that empties)", p.id);
    Problem::new(ProblemKind::BranchKeyMismatch, msg).page(p.id).offset(p.offset)
}
