//! One full structural pass over a file: meta problems, the freelist, the parallel tree walk with
//! a [`Fold`], and free-page accounting (from the freelist page, or by reachability when the file
//! has the no-freelist sentinel), with bbolt's `tx.Check` cross-checks between the two.

use super::bitmap::AtomicBitmap;
use super::freelist;
use super::view::DbView;
use super::walker::{Fold, Walker};
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
    sink.into_sorted().0
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
    let sink = Sink::default();
    for p in view.file_problems() {
        sink.push(p);
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
