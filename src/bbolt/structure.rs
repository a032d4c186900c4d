//! One full structural pass over a file: meta problems, the freelist, the parallel tree walk with
//! a [`Fold`], and free-page accounting (from the freelist page, or by reachability when the file
//! has the no-freelist sentinel), with bbolt's `tx.Check` cross-checks between the two.

use super::bitmap::AtomicBitmap;
use super::cursor::{self, BucketRoot};
use super::freelist;
use super::order::PageId;
use super::page::{BRANCH, LEAF};
use super::view::DbView;
use super::walker::{Fold, Walker, MAX_DEPTH};
use crate::problem::{Problem, ProblemKind, Sink};

/// Page accounting and problems found by a walk.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Structure {
    /// Problems found (at most `MAX_PROBLEMS` kept), sorted by page.
    pub problems: Vec<Problem>,
    /// Total number of problems, including those not kept.
    pub problem_total: u64,
    /// Pages in `[0, hwm)` reached: meta pages, freelist run, tree pages and their overflow.
    pub reachable_pages: u64,
    /// Free pages, as bbolt counts them after opening the file: the ids the freelist page lists
    /// (duplicates included), or the pages in `[2, hwm)` not reachable when the file has no
    /// freelist page.
    pub free_pages: u64,
    /// Whether the freelist is stored in a page (false: the no-freelist sentinel).
    pub freelist_synced: bool,
    /// Bytes the stored freelist uses in its page (bbolt's `FreelistInuse`), 0 without one.
    pub freelist_inuse: u64,
}

impl Structure {
    /// Whether the walk found nothing wrong.
    pub fn is_clean(&self) -> bool {
        self.problem_total == 0
    }
}

/// The problems of every tree but the top-level bucket `skipped` (its entry in the root is still
/// checked): what a reader that reads that bucket itself, and nothing else, must still hold the
/// file to. Page accounting (the freelist against what the trees reach) is left out: the skipped
/// tree's pages are not reached.
pub fn tree_problems_except(view: &DbView<'_>, skipped: &[u8]) -> Vec<Problem> {
    struct Except<'n>(&'n [u8]);
    impl Fold for Except<'_> {
        type Acc = ();
        fn empty(&self) {}
        fn join(&self, _: (), _: ()) {}
        fn leaf(&self, _: &mut (), _: &super::fold::Ctx<'_>, _: &super::fold::Leaf<'_>) {}
        fn entry(&self, _: &mut (), _: &super::fold::Ctx<'_>, _: &super::page::LeafElem<'_>) {}
        fn descend(&self, ctx: &super::fold::Ctx<'_>, name: &[u8]) -> bool {
            ctx.depth > 0 || name != self.0
        }
    }
    let sink = Sink::default();
    let visited = AtomicBitmap::new(view.tracked_pages());
    Walker::new(view, &Except(skipped), &visited, &sink).run();
    let mut found = sink.into_sorted().0;
    if let Ok(Some(BucketRoot::Page(root))) = cursor::top_bucket(view, skipped) {
        found.extend(shared_with(view, root, skipped, &visited));
    }
    found
}

/// A page of the tree rooted at `root` (bucket `name`) that the other trees reached too
/// (`reached`): one problem naming the first such page and how many there are. The tree's branch
/// levels are read (few pages); its leaves are not (a large bucket has hundreds of thousands): a
/// leaf's id comes from its branch, and a page the others reached is held against the leaf just
/// before it and that leaf's overflow run. A tree that cannot be listed this way is the reader's
/// own problem to report.
fn shared_with(view: &DbView<'_>, root: PageId, name: &[u8], reached: &AtomicBitmap) -> Option<Problem> {
    let mut level = vec![root];
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut budget = view.tracked_pages().saturating_add(1);
    let mut leaves = Vec::new();
    for _ in 0..=MAX_DEPTH {
        budget = budget.checked_sub(level.len() as u64)?;
        if view.page(*level.first()?).ok()?.flags == LEAF {
            leaves = level;
            break;
        }
        let mut next = Vec::new();
        for &id in &level {
            let p = view.page(id).ok().filter(|p| p.flags == BRANCH)?;
            runs.push((id.0, id.0.saturating_add(u64::from(p.overflow))));
            if next.len() as u64 + u64::from(p.count) > budget {
                return None;
            }
            for i in 0..usize::from(p.count) {
                next.push(p.branch_elem(i).ok()?.child);
            }
        }
        level = next;
    }
    leaves.sort_unstable();
    let in_leaf_run = |x: u64| {
        let i = leaves.partition_point(|l| l.0 <= x);
        let l = *leaves.get(i.checked_sub(1)?)?;
        let end = if l.0 == x { x } else { l.0.saturating_add(u64::from(view.page(l).ok()?.overflow)) };
        (x <= end).then_some(())
    };
    // Branch runs do not overlap in a sound tree (runs that do are damage the tree's own reader
    // reports): the run starting last at or before `x` is the one that can hold it.
    runs.sort_unstable();
    let in_branch_run = |x: u64| {
        let i = runs.partition_point(|&(a, _)| a <= x);
        i.checked_sub(1).and_then(|i| runs.get(i)).is_some_and(|&(a, b)| (a..=b).contains(&x))
    };
    let shared: Vec<u64> = reached.ones().filter(|&x| in_branch_run(x) || in_leaf_run(x).is_some()).collect();
    let first = *shared.first()?;
    let msg = format!(
        "page {first} belongs to bucket {}'s tree and is reached from another bucket too (multiple references; \
         {} page(s) shared)",
        String::from_utf8_lossy(name),
        shared.len()
    );
    Some(Problem::new(ProblemKind::MultipleReferences, msg).page(first).offset(first.saturating_mul(view.page_size)))
}

/// Walks everything in `view` with `fold`; returns the fold's result and the structure report.
pub fn walk<F: Fold>(view: &DbView<'_>, fold: &F) -> (F::Acc, Structure) {
    let (acc, s, _) = walk_reached(view, fold);
    (acc, s)
}

/// [`walk`], also handing back the pages it reached (meta pages, the freelist run, every tree page
/// and its overflow pages, over `[0, tracked_pages)`): the pages it did not reach are the free
/// ones of a file without a freelist page, which carving reads ([`super::carve`]).
pub fn walk_reached<F: Fold>(view: &DbView<'_>, fold: &F) -> (F::Acc, Structure, AtomicBitmap) {
    walk_with(view, fold, true)
}

/// The problems of every tree but the top-level bucket `skipped`'s, with the page accounting of a
/// file with a freelist page: the ids it lists held against every page the trees reach,
/// `skipped`'s too (whose own problems are left to the reader of that bucket). One structural
/// pass, as `check` makes; the file's own problems ([`DbView::file_problems`]) are not repeated.
/// [`tree_problems_except`] is the cheaper answer for a file without one (etcd's: it opens bbolt
/// with NoFreelistSync).
pub fn problems_with_freelist_except(view: &DbView<'_>, skipped: &[u8]) -> Vec<Problem> {
    struct Nothing;
    impl Fold for Nothing {
        type Acc = ();
        fn empty(&self) {}
        fn join(&self, _: (), _: ()) {}
        fn leaf(&self, _: &mut (), _: &super::fold::Ctx<'_>, _: &super::fold::Leaf<'_>) {}
        fn entry(&self, _: &mut (), _: &super::fold::Ctx<'_>, _: &super::page::LeafElem<'_>) {}
    }
    let (_, s, _) = walk_with(view, &Nothing, false);
    // A page shared with another tree is told whichever tree reached it second.
    let theirs = |p: &Problem| {
        p.bucket.first().map(String::as_bytes) == Some(skipped) && p.kind != ProblemKind::MultipleReferences
    };
    s.problems.into_iter().filter(|p| !theirs(p)).collect()
}

/// [`walk_reached`], with the file's own problems first when `file_problems`.
fn walk_with<F: Fold>(view: &DbView<'_>, fold: &F, file_problems: bool) -> (F::Acc, Structure, AtomicBitmap) {
    let sink = Sink::default();
    if file_problems {
        for p in view.file_problems() {
            sink.push(p);
        }
    }
    let tracked = view.tracked_pages();
    let visited = AtomicBitmap::new(tracked);
    visited.test_and_set(0);
    visited.test_and_set(1);
    let stored = freelist::load(view, &visited, &sink);
    let acc = Walker::new(view, fold, &visited, &sink).run();
    let reachable = visited.count();
    let synced = view.meta().has_freelist_page();
    let (free_pages, inuse) = match &stored {
        Some(fl) => {
            for id in 2..tracked {
                match (visited.get(id), fl.freed.get(id)) {
                    (true, true) => sink.push(
                        Problem::new(ProblemKind::ReachableFreed, format!("page {id}: reachable freed"))
                            .page(id)
                            .offset(id.saturating_mul(view.page_size)),
                    ),
                    (false, false) => sink.push(
                        Problem::new(ProblemKind::UnreachableUnfreed, format!("page {id}: unreachable unfreed"))
                            .page(id)
                            .offset(id.saturating_mul(view.page_size)),
                    ),
                    _ => {}
                }
            }
            (fl.listed, fl.inuse)
        }
        // No freelist page, or one that cannot be read (its problem is reported): every id in
        // [2, hwm) that the walk did not reach is free, as bbolt finds them when it has no
        // freelist to load (a freelist that agrees with the tree lists exactly those). Ids past
        // the end of the file are not tracked and so count as unreached, as bbolt counts them.
        None => {
            let reached_above_meta = reachable.saturating_sub(tracked.min(2));
            (view.hwm.saturating_sub(2).saturating_sub(reached_above_meta), 0)
        }
    };
    let (problems, problem_total) = sink.into_sorted();
    let s = Structure {
        problems,
        problem_total,
        reachable_pages: reachable,
        free_pages,
        freelist_synced: synced,
        freelist_inuse: inuse,
    };
    (acc, s, visited)
}
