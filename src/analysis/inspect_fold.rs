//! The fold behind `inspect`: what one parallel walk gathers from every page and entry (page
//! counts, bbolt's bucket stats, the entries the size prediction lays out again, etcd's MVCC
//! records and their invariants, the tree's revisions for the residue count, the largest
//! resources), joined across rayon's halves.

use super::inspect::FILLS;
use super::predict;
use super::report::BucketReport;
use super::resources::ResourceTally;
use crate::bbolt::page::{LeafElem, Page, BRANCH, LEAF};
use crate::bbolt::stats::StatsAcc;
use crate::bbolt::walker::{Ctx, Fold, Leaf};
use crate::etcd::continuity::Continuity;
use crate::etcd::keyspace::Budget;
use crate::etcd::mvcc::{Parts, Rec, Totals};
use crate::etcd::revset::RevSet;
use crate::etcd::KEY_BUCKET;
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};

/// A top-level bucket as the prediction needs it.
#[derive(Default)]
pub(super) struct Top {
    pub(super) name: Vec<u8>,
    pub(super) entries: Vec<(u32, u32)>,
    pub(super) has_sub: bool,
    pub(super) sub_pages: [u64; 2],
}

/// The per-subtree accumulator of [`InspectFold`].
#[derive(Default)]
pub struct Acc {
    pub(super) stats: StatsAcc,
    pub(super) branch: u64,
    pub(super) leaf: u64,
    pub(super) overflow: u64,
    pub(super) entries: Vec<(u32, u32)>,
    pub(super) has_sub: bool,
    pub(super) sub_pages: [u64; 2],
    pub(super) reports: Vec<BucketReport>,
    pub(super) tops: Vec<Top>,
    pub(super) totals: Totals,
    pub(super) last_rev: Option<u64>,
    pub(super) recs: Vec<Parts>,
    /// `[main, sub]` of every `key` bucket entry, in key order (for the residue count).
    pub(super) revs: RevSet,
    /// Bytes of the revisions' budget taken and not yet used: the shared budget is charged in
    /// steps that double from one leaf's cost up to [`REVS_CREDIT`], not once a leaf (an atomic
    /// both cores write costs more than the leaf's revisions), so what an accumulator takes and
    /// leaves unused is never more than what it used (the walk makes hundreds of them).
    pub(super) revs_credit: u64,
    /// The last step taken.
    pub(super) revs_step: u64,
    pub(super) resources: ResourceTally,
    pub(super) problems: Vec<Problem>,
    pub(super) problem_total: u64,
    /// The `key` bucket's revisions' continuity (holes above the compaction).
    pub(super) continuity: Continuity,
}

impl Acc {
    /// Takes what passes unchanged from a later stretch or a sub-bucket: page counts, MVCC
    /// records and their totals, problems.
    fn absorb(&mut self, o: &mut Acc) {
        self.branch += o.branch;
        self.leaf += o.leaf;
        self.overflow += o.overflow;
        self.totals.add(&o.totals);
        self.last_rev = o.last_rev.or(self.last_rev);
        self.continuity = self.continuity.join(std::mem::take(&mut o.continuity));
        self.recs.append(&mut o.recs);
        self.revs.append(&mut o.revs);
        self.revs_credit += std::mem::take(&mut o.revs_credit);
        self.revs_step = self.revs_step.max(o.revs_step);
        self.resources.join(std::mem::take(&mut o.resources));
        self.problem_total += o.problem_total;
        self.problems.append(&mut o.problems);
        self.problems.truncate(MAX_PROBLEMS);
    }
}

/// Bytes of the revisions' budget an accumulator takes at a time, at most.
const REVS_CREDIT: u64 = 256 << 10;

/// Whether `acc` may add revisions costing `cost` bytes, taken from its credit, topped up from
/// `budget` (false for good once the budget is spent).
fn take_credit(acc: &mut Acc, budget: &Budget, cost: u64) -> bool {
    if acc.revs_credit >= cost && !budget.exceeded() {
        acc.revs_credit -= cost;
        return true;
    }
    let top_up = acc.revs_step.saturating_mul(2).min(REVS_CREDIT).max(cost);
    if !budget.charge(top_up) {
        return false;
    }
    acc.revs_step = top_up;
    acc.revs_credit += top_up - cost;
    true
}

/// The fold behind `inspect`.
pub struct InspectFold<'b> {
    pub(super) page_size: u64,
    /// Where the map starts: to locate an element the walk gives alone.
    pub(super) base: usize,
    pub(super) depth: u32,
    pub(super) etcd: bool,
    /// What the MVCC records may take; past it they are dropped and replayed by passes.
    pub(super) budget: &'b Budget,
    /// What the tree's revisions may take, for the residue count (`None`: not collected).
    pub(super) revisions: Option<&'b Budget>,
}

impl InspectFold<'_> {
    fn in_key_bucket(&self, ctx: &Ctx<'_>) -> bool {
        self.etcd && ctx.depth == 1 && ctx.top == KEY_BUCKET
    }

    /// Frees what a budget past its cap no longer lets be used: the MVCC records (replayed by
    /// passes instead) and the tree's revisions (looked up instead).
    fn drop_spent(&self, acc: &mut Acc) {
        if self.budget.exceeded() {
            acc.recs = Vec::new();
        }
        if self.revisions.is_some_and(|b| b.exceeded()) {
            acc.revs = RevSet::default();
        }
    }

    /// One plain entry; `revs`: note its revision for the residue count.
    fn plain(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>, page: Option<&Page<'_>>, revs: bool) {
        if self.in_key_bucket(ctx) {
            let rev = crate::etcd::revision::parse(e.key);
            if let Some(r) = rev.filter(|_| revs) {
                acc.revs.push([r.main, r.sub]);
            }
            let report = |acc: &mut Acc, (kind, msg): (ProblemKind, String)| {
                acc.problem_total += 1;
                if acc.problems.len() < MAX_PROBLEMS {
                    let mut p = Problem::new(kind, msg).bucket(vec!["key".into()]);
                    if let Some(pg) = page {
                        p = p.page(pg.id).offset(pg.offset_of(e.key));
                    }
                    acc.problems.push(p);
                }
            };
            let checked = Rec::check_parsed(rev, e.key, e.value);
            if let Some(r) = rev {
                // Shaped as `etcdctl migrate` writes records: a put of version 1 at sub revision 0.
                let shaped =
                    matches!(&checked, Ok(Some((kv, _, _))) if crate::etcd::continuity::migrate_shaped(&r, kv.version));
                acc.continuity.push((r.main, r.sub), shaped, page.map(|p| p.id.0), page.map(|p| p.offset_of(e.key)));
            }
            let t = &mut acc.totals;
            match checked {
                // The --bump-revision marker: no record, but the store's revision (etcd's current
                // revision, etcdutl's REVISION: the last key's).
                Ok(None) => acc.last_rev = rev.map(|r| r.main).or(acc.last_rev),
                Err(inv) => {
                    t.malformed += 1;
                    report(acc, inv);
                }
                Ok(Some((kv, r, issue))) => {
                    if let Some(inv) = issue {
                        report(acc, inv);
                    }
                    let fp = crate::etcd::mvcc::tagged(&kv, r.tomb());
                    acc.resources.add(kv.key, u64::from(r.ksize()) + u64::from(r.vsize()));
                    let t = &mut acc.totals;
                    t.revisions += 1;
                    t.tombstones += u64::from(r.tomb());
                    t.bytes += r.bytes();
                    acc.last_rev = Some(r.main);
                    if self.budget.exceeded() {
                        acc.recs = Vec::new();
                        return;
                    }
                    let grown = match acc.recs.last_mut() {
                        Some(p) if !p.is_full() => p.push(fp, r),
                        _ => {
                            let mut p = Parts::default();
                            let grown = p.push(fp, r);
                            acc.recs.push(p);
                            grown
                        }
                    };
                    // Most records fit in a part already grown: nothing to charge (and no write to
                    // the budget both cores share).
                    if grown > 0 && !self.budget.charge(grown) {
                        acc.recs = Vec::new();
                    }
                }
            }
        } else {
            acc.entries.push((e.key.len() as u32, e.value.len() as u32));
        }
    }
}

impl Fold for InspectFold<'_> {
    type Acc = Acc;

    fn empty(&self) -> Acc {
        Acc::default()
    }

    fn join(&self, mut l: Acc, mut r: Acc) -> Acc {
        l.absorb(&mut r);
        self.drop_spent(&mut l);
        l.stats = l.stats.join(r.stats);
        l.entries.extend(r.entries);
        l.has_sub |= r.has_sub;
        l.sub_pages = [l.sub_pages[0] + r.sub_pages[0], l.sub_pages[1] + r.sub_pages[1]];
        l.reports.extend(r.reports);
        l.tops.extend(r.tops);
        l
    }

    fn leaf(&self, acc: &mut Acc, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        if self.in_key_bucket(ctx) {
            // The lease field sits at the end of each value: start loading every value's last
            // cache line before decoding, so the misses overlap instead of queueing.
            for e in leaf.elems() {
                if let Some(tail) = e.value.len().checked_sub(1).and_then(|i| e.value.get(i..)) {
                    crate::sys::prefetch(tail);
                }
            }
        }
        let revs = self.in_key_bucket(ctx)
            && self.revisions.is_some_and(|b| take_credit(acc, b, RevSet::cost(leaf.count as u64)));
        if !revs && self.in_key_bucket(ctx) {
            acc.revs = RevSet::default();
        }
        for e in leaf.elems() {
            self.plain(acc, ctx, &e, Some(&leaf.page), revs);
        }
    }

    fn entry(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        if !e.is_bucket() {
            let revs = self.in_key_bucket(ctx) && self.revisions.is_some_and(|b| take_credit(acc, b, RevSet::cost(1)));
            self.plain(acc, ctx, e, None, revs);
        } else if self.in_key_bucket(ctx) {
            // Not a record etcd wrote, though real bbolt passes a well-formed bucket there.
            let at = (e.key.as_ptr() as usize).wrapping_sub(self.base) as u64;
            acc.problem_total += 1;
            if acc.problems.len() < MAX_PROBLEMS {
                acc.problems.push(crate::etcd::records::nested_in_key(at, self.page_size));
            }
        }
    }

    fn bucket(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>, mut sub: Acc) {
        let done = sub.stats.finish(self.page_size);
        acc.stats.sub_bucket(&done);
        acc.absorb(&mut sub);
        self.drop_spent(acc);
        if ctx.depth < self.depth {
            let mut path = ctx.path();
            path.push(crate::bbolt::fold::shown_name(ctx.top, e.key));
            let name = path.last().cloned().unwrap_or_default();
            let path_base64 = ctx.path_base64(e.key);
            acc.reports.push(BucketReport { name, path, path_base64, stats: done });
        }
        acc.reports.extend(sub.reports);
        if ctx.depth == 0 {
            acc.tops.push(Top {
                name: e.key.to_vec(),
                entries: sub.entries,
                has_sub: sub.has_sub,
                sub_pages: sub.sub_pages,
            });
        } else {
            let layouts =
                [0, 1].map(|i| predict::layout(&sub.entries, sub.has_sub, sub.sub_pages[i], self.page_size, FILLS[i]));
            acc.has_sub = true;
            acc.entries.push((e.key.len() as u32, layouts[0].value_size as u32));
            for (i, l) in layouts.iter().enumerate() {
                acc.sub_pages[i] += l.total_pages();
            }
        }
    }

    fn page(&self, acc: &mut Acc, _ctx: &Ctx<'_>, page: &Page<'_>, tree_level: u32, inline: bool) {
        acc.stats.page(page, tree_level, inline);
        if !inline {
            match page.flags {
                BRANCH => acc.branch += 1,
                LEAF => acc.leaf += 1,
                _ => {}
            }
            acc.overflow += u64::from(page.overflow);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_is_taken_from_the_budget_in_growing_steps_and_never_past_it() {
        // A fresh accumulator takes what its first leaf costs, not a whole step: the walk makes
        // hundreds of accumulators, and each taking a step it does not use would spend the budget.
        let tight = Budget::new(100);
        assert!(take_credit(&mut Acc::default(), &tight, 100));
        assert!(!tight.exceeded());

        let budget = Budget::new(3 * REVS_CREDIT);
        let (mut a, mut b) = (Acc::default(), Acc::default());
        // Many small charges: steps double up to REVS_CREDIT, and what is taken stays within
        // twice what is used.
        for _ in 0..1000 {
            assert!(take_credit(&mut a, &budget, 100));
        }
        assert!(a.revs_step <= REVS_CREDIT && a.revs_credit <= 1000 * 100, "{} {}", a.revs_step, a.revs_credit);
        assert!(!budget.exceeded());
        assert!(take_credit(&mut b, &budget, 2 * REVS_CREDIT), "a charge larger than a step is taken whole");
        // Past the cap: refused, and refused for good, credit or not.
        assert!(!take_credit(&mut b, &budget, REVS_CREDIT));
        assert!(budget.exceeded());
        assert!(!take_credit(&mut a, &budget, 1), "credit taken before the budget was spent is not used after");
    }
}
