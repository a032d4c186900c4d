//! Per-key state of the MVCC store in bounded memory: the entries of the `key` bucket reduced to
//! one [`KeyState`] per user key (its entries, tombstones and stored bytes, and where its newest
//! record lies in the file), for whatever needs each key's history or live value: `du`, `check
//! --require-encryption`, the MVCC replay of `inspect` past its budget, a key-by-key `diff`.
//!
//! A walk gathers entries with [`Gather`], a [`Fold`] (so it can share a walk with other
//! folds): each walk accumulator keeps a stretch of the bucket (key order, which is revision
//! order), its entries spread over [`PARTS`] partitions by fingerprint. A partition about to
//! grow first folds the entries of each key together, so a key rewritten a million times costs
//! a slot per stretch, not a million. The partitions are then reduced in parallel, each in a map
//! small enough to stay in cache ([`reduce`]), and handed to a [`KeyFold`].
//!
//! Memory: a [`Budget`] counts the bytes the gathering reserves; past it, gathering stops and
//! [`fold_gathered`] walks the bucket again in as many passes as the entry count needs, each
//! covering the keys whose fingerprint falls in it ([`Plan`]), so memory stays near the budget
//! whatever the number of keys.

use super::history::{put_sig, History};
pub use super::keystate::{fold_gathered, fold_keys, fold_passes, reduce, walk_keys, KeyFold, KeyState};
use super::mvcc::{partition, survives, Rec, PARTS};
pub use super::plan::{in_passes, passes_for};
pub use super::plan::{Budget, Plan};
use super::{key_fingerprint, FpMap, KEY_BUCKET};
use crate::bbolt::page::{LeafElem, Page};
use crate::bbolt::walker::{Ctx, Fold, Leaf};
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};
use std::collections::hash_map::Entry as Slot;

/// Bytes a gathering may reserve by default.
pub const BUDGET: u64 = 128 << 20;
/// Bytes one gathered entry may cost, slack of the growing buffers included (for [`passes_for`]).
pub(super) const ENTRY_COST: u64 = 2 * std::mem::size_of::<Entry>() as u64;
/// A partition buffer this long folds each key's entries together before it grows.
const FOLD_MIN: usize = 1024;

/// A predicate on user keys.
pub type KeyFilter<'f> = dyn Fn(&[u8]) -> bool + Sync + 'f;

/// One or more entries of one key within a stretch, folded together (64 bytes).
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    fp: [u64; 2],
    /// The history of the entries folded, for etcd's rules ([`History`]).
    pub(super) hist: History,
    /// File offset of the newest record's KeyValue, with [`TOMB`] and [`KEEP`].
    pub(super) loc: u64,
    pub(super) stored: u64,
    /// Position of the newest record in its stretch.
    pub(super) seq: u32,
    /// Length of the newest record's KeyValue.
    pub(super) len: u32,
    pub(super) revisions: u32,
    pub(super) tombstones: u32,
}

const _: () = assert!(std::mem::size_of::<Entry>() == 64);
/// The newest record is a tombstone.
pub(super) const TOMB: u64 = 1 << 63;
/// The newest record survives compaction at the plan's revision.
pub(super) const KEEP: u64 = 1 << 62;
pub(super) const OFFSET: u64 = KEEP - 1;

impl Entry {
    pub(super) fn fp(&self) -> u128 {
        (u128::from(self.fp[0]) << 64) | u128::from(self.fp[1])
    }

    /// Takes in a newer entry of the same key.
    fn absorb(&mut self, newer: &Entry) {
        self.hist.then(self.loc & TOMB != 0, &newer.hist);
        (self.loc, self.seq, self.len) = (newer.loc, newer.seq, newer.len);
        self.stored = self.stored.saturating_add(newer.stored);
        self.revisions = self.revisions.saturating_add(newer.revisions);
        self.tombstones = self.tombstones.saturating_add(newer.tombstones);
    }
}

/// A stretch of the bucket walked by one accumulator, its entries by partition.
#[derive(Debug)]
pub(super) struct Stretch {
    pub(super) parts: Vec<Vec<Entry>>,
    pub(super) elements: u32,
}

impl Stretch {
    fn new() -> Stretch {
        Stretch { parts: (0..PARTS).map(|_| Vec::new()).collect(), elements: 0 }
    }

    /// Adds an entry; returns the bytes its partition grew by.
    fn push(&mut self, e: Entry) -> u64 {
        let Some(v) = self.parts.get_mut(partition(e.fp())) else { return 0 };
        if v.len() == v.capacity() && v.len() >= FOLD_MIN {
            fold(v);
        }
        let before = v.capacity();
        // A partition's first entry takes one slot, not the four a growing Vec starts with: a
        // pass over few keys spread over many partitions is charged about what it holds.
        if before == 0 {
            v.reserve_exact(1);
        }
        v.push(e);
        ((v.capacity() - before) * std::mem::size_of::<Entry>()) as u64
    }
}

/// Folds the entries of each key in `v` (oldest first) into one, in place.
fn fold(v: &mut Vec<Entry>) {
    let mut at: FpMap<usize> = FpMap::with_capacity_and_hasher(v.len(), Default::default());
    let mut out = 0;
    for i in 0..v.len() {
        let e = v[i];
        match at.entry(e.fp()) {
            Slot::Occupied(o) => v[*o.get()].absorb(&e),
            Slot::Vacant(s) => {
                s.insert(out);
                v[out] = e;
                out += 1;
            }
        }
    }
    v.truncate(out);
}

/// What a walk saw of the `key` bucket, besides the entries it gathered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatherInfo {
    /// Elements of the bucket (bucket entries and undecodable ones included): positions.
    pub elements: u64,
    /// Records (puts and tombstones) of keys the filter accepts.
    pub entries: u64,
    /// Whether a key of those satisfies the mark predicate.
    pub marked: bool,
    /// Elements that are not records (at most `MAX_PROBLEMS` kept).
    pub problems: Vec<Problem>,
    /// All of them.
    pub problem_total: u64,
    /// Records that decode but break etcd's invariants (damage to `check`): gathered all the
    /// same (figures do not depend on the budget), listed for a caller that withholds (`du`).
    pub inconsistent: Vec<Problem>,
    /// All of them.
    pub inconsistent_total: u64,
}

impl GatherInfo {
    fn absorb(&mut self, o: GatherInfo) {
        self.elements += o.elements;
        self.entries += o.entries;
        self.marked |= o.marked;
        self.problem_total += o.problem_total;
        self.problems.extend(o.problems);
        self.problems.truncate(MAX_PROBLEMS);
        self.inconsistent_total += o.inconsistent_total;
        self.inconsistent.extend(o.inconsistent);
        self.inconsistent.truncate(MAX_PROBLEMS);
    }
}

/// A walk's accumulator: stretches in key order, and what was seen.
#[derive(Debug, Default)]
pub struct Gathered {
    pub(super) stretches: Vec<Stretch>,
    /// What the walk saw.
    pub info: GatherInfo,
}

impl Gathered {
    /// The position of the next element in the current stretch.
    fn next_seq(&mut self) -> u32 {
        self.info.elements += 1;
        match self.stretches.last_mut() {
            Some(s) if s.elements < u32::MAX => {
                s.elements += 1;
                s.elements - 1
            }
            _ => {
                let mut s = Stretch::new();
                s.elements = 1;
                self.stretches.push(s);
                0
            }
        }
    }
}

/// The fold that gathers a [`Plan`]'s entries of the `key` bucket.
#[derive(Clone, Copy)]
pub struct Gather<'g> {
    pub(super) data: &'g [u8],
    pub(super) plan: Plan,
    pub(super) budget: &'g Budget,
    pub(super) filter: Option<&'g KeyFilter<'g>>,
    pub(super) mark: Option<&'g KeyFilter<'g>>,
    /// The file's page size, to name the page of a problem the walk gives without its page (0:
    /// not named).
    pub(super) page_size: u64,
}

impl<'g> Gather<'g> {
    /// Gathers `plan`'s entries of the file `data` (the view's bytes) within `budget`.
    pub fn new(data: &'g [u8], plan: Plan, budget: &'g Budget) -> Gather<'g> {
        Gather { data, plan, budget, filter: None, mark: None, page_size: 0 }
    }

    /// Names the page of a problem found without its page, with the file's page size.
    pub fn located(self, page_size: u64) -> Gather<'g> {
        Gather { page_size, ..self }
    }

    /// Only keys `f` accepts.
    pub fn filter(self, f: Option<&'g KeyFilter<'g>>) -> Gather<'g> {
        Gather { filter: f, ..self }
    }

    /// Records in [`GatherInfo::marked`] whether any gathered key satisfies `f`.
    pub fn mark(self, f: Option<&'g KeyFilter<'g>>) -> Gather<'g> {
        Gather { mark: f, ..self }
    }

    /// Whether the walk had to stop gathering.
    pub fn exceeded(&self) -> bool {
        self.budget.exceeded()
    }

    fn element(&self, acc: &mut Gathered, e: &LeafElem<'_>, page: Option<&Page<'_>>) {
        let seq = acc.next_seq();
        let locate = |kind: ProblemKind, msg: String| {
            let p = Problem::new(kind, msg).bucket(vec!["key".into()]);
            match page {
                Some(pg) => p.page(pg.id).offset(pg.offset_of(e.key)),
                None => p,
            }
        };
        let keep = |list: &mut Vec<Problem>, total: &mut u64, (kind, msg): (ProblemKind, String)| {
            *total += 1;
            if list.len() < MAX_PROBLEMS {
                list.push(locate(kind, msg));
            }
        };
        let (kv, r) = match Rec::check_kv(e.key, e.value) {
            Ok(Some((kv, r, issue))) => {
                let i = &mut acc.info;
                issue.into_iter().for_each(|p| keep(&mut i.inconsistent, &mut i.inconsistent_total, p));
                (kv, r)
            }
            Ok(None) => return,
            Err(p) => return keep(&mut acc.info.problems, &mut acc.info.problem_total, p),
        };
        if self.filter.is_some_and(|f| !f(kv.key)) {
            return;
        }
        acc.info.entries += 1;
        if !acc.info.marked && self.mark.is_some_and(|m| m(kv.key)) {
            acc.info.marked = true;
        }
        if self.budget.exceeded() {
            acc.stretches = Vec::new();
            return;
        }
        let fp = key_fingerprint(kv.key);
        if !self.plan.covers(fp) {
            return;
        }
        let Some(off) = offset_in(self.data, e.value) else {
            let p = (ProblemKind::InvalidKeyValue, "value outside the mapped file".to_string());
            return keep(&mut acc.info.problems, &mut acc.info.problem_total, p);
        };
        let mut loc = off;
        if r.tomb() {
            loc |= TOMB;
        }
        if survives(r.main, r.tomb(), self.plan.rev) {
            loc |= KEEP;
        }
        let stored = u64::from(r.ksize()) + u64::from(r.vsize());
        let tombstones = u32::from(r.tomb());
        let hist = History::record(r.step(put_sig(&kv, r.tomb())), &self.plan.compacted.unwrap_or_default());
        let fp = [(fp >> 64) as u64, fp as u64];
        let entry = Entry { fp, hist, loc, stored, seq, len: r.vsize(), revisions: 1, tombstones };
        let grown = acc.stretches.last_mut().map_or(0, |s| s.push(entry));
        if grown > 0 && !self.budget.charge(grown) {
            acc.stretches = Vec::new();
        }
    }
}

/// The offset of `s` in `data`, when it lies inside it.
fn offset_in(data: &[u8], s: &[u8]) -> Option<u64> {
    let off = (s.as_ptr() as usize).checked_sub(data.as_ptr() as usize)?;
    let end = off.checked_add(s.len())?;
    (end <= data.len() && (off as u64) <= OFFSET).then_some(off as u64)
}

fn in_key_bucket(ctx: &Ctx<'_>) -> bool {
    ctx.depth == 1 && ctx.top == KEY_BUCKET
}

impl Fold for Gather<'_> {
    type Acc = Gathered;

    fn empty(&self) -> Gathered {
        Gathered::default()
    }

    fn join(&self, mut l: Gathered, mut r: Gathered) -> Gathered {
        l.info.absorb(std::mem::take(&mut r.info));
        if self.budget.exceeded() {
            l.stretches = Vec::new();
        } else {
            l.stretches.append(&mut r.stretches);
        }
        l
    }

    fn leaf(&self, acc: &mut Gathered, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        if !in_key_bucket(ctx) {
            return;
        }
        // The lease field sits at the end of each value: start loading every value's last cache
        // line before decoding, so the misses overlap instead of queueing.
        for e in leaf.elems() {
            if let Some(tail) = e.value.len().checked_sub(1).and_then(|i| e.value.get(i..)) {
                crate::sys::prefetch(tail);
            }
        }
        for e in leaf.elems() {
            self.element(acc, &e, Some(&leaf.page));
        }
    }

    fn bucket(&self, acc: &mut Gathered, _ctx: &Ctx<'_>, _e: &LeafElem<'_>, sub: Gathered) {
        let l = std::mem::take(acc);
        *acc = self.join(l, sub);
    }

    fn entry(&self, acc: &mut Gathered, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        if in_key_bucket(ctx) {
            if e.is_bucket() {
                acc.next_seq();
                // Not a record etcd wrote (see `records`): damage `check` reports.
                let at = (e.key.as_ptr() as usize).wrapping_sub(self.data.as_ptr() as usize) as u64;
                let p = super::records::nested_in_key(at, self.page_size);
                acc.info.problem_total += 1;
                if acc.info.problems.len() < MAX_PROBLEMS {
                    acc.info.problems.push(p);
                }
            } else {
                self.element(acc, e, None);
            }
        }
    }
}

#[cfg(test)]
#[path = "keyspace_tests.rs"]
mod tests;
