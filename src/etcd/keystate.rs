//! Each key's state after a pass of [`keyspace`](super::keyspace): the gathered stretches reduced
//! partition by partition, in parallel, to one [`KeyState`] per key, handed to a [`KeyFold`];
//! and the driver that runs further passes when the first walk passed its budget.

use super::keyspace::{passes_for, Budget, Entry, Gather, GatherInfo, Gathered, Plan, Stretch, KEEP, OFFSET, TOMB};
use super::mvcc::PARTS;
use super::{proto, FpMap};
use crate::bbolt::bitmap::AtomicBitmap;
use crate::bbolt::view::DbView;
use crate::bbolt::walker::Walker;
use crate::problem::Sink;
use rayon::prelude::*;
use std::collections::hash_map::Entry as Slot;

/// One key's history in the bucket (of the keys a pass covers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyState {
    /// The user key's fingerprint.
    pub fp: u128,
    /// Its records (puts and tombstones).
    pub revisions: u64,
    /// Its tombstones.
    pub tombstones: u64,
    /// Revision key plus stored KeyValue bytes, over its records.
    pub stored_bytes: u64,
    /// Position of its newest record among the bucket's elements.
    pub ordinal: u64,
    loc: u64,
    len: u32,
}

impl KeyState {
    fn new(e: &Entry, base: u64) -> KeyState {
        let (revisions, tombstones) = (u64::from(e.revisions), u64::from(e.tombstones));
        let ordinal = base.saturating_add(u64::from(e.seq));
        KeyState { fp: e.fp(), revisions, tombstones, stored_bytes: e.stored, ordinal, loc: e.loc, len: e.len }
    }

    fn absorb(&mut self, newer: &Entry, base: u64) {
        let n = KeyState::new(newer, base);
        (self.loc, self.len, self.ordinal) = (n.loc, n.len, n.ordinal);
        self.revisions = self.revisions.saturating_add(n.revisions);
        self.tombstones = self.tombstones.saturating_add(n.tombstones);
        self.stored_bytes = self.stored_bytes.saturating_add(n.stored_bytes);
    }

    /// Whether the newest record is a put (the key is live).
    pub fn live(&self) -> bool {
        self.loc & TOMB == 0
    }

    /// Whether the newest record survives compaction at the plan's revision ([`survives`](super::mvcc::survives));
    /// every older one is deleted.
    pub fn survives(&self) -> bool {
        self.loc & KEEP != 0
    }

    /// Revision key plus KeyValue bytes of the newest record.
    pub fn newest_bytes(&self) -> u64 {
        17 + u64::from(!self.live()) + u64::from(self.len)
    }

    /// The newest record's stored KeyValue, in `data` (the view's bytes).
    pub fn record<'a>(&self, data: &'a [u8]) -> Option<&'a [u8]> {
        let off = usize::try_from(self.loc & OFFSET).ok()?;
        data.get(off..off.checked_add(self.len as usize)?)
    }

    /// The newest record decoded.
    pub fn newest<'a>(&self, data: &'a [u8]) -> Option<proto::Kv<'a>> {
        proto::kv(self.record(data)?)
    }
}

/// The keys of a stretch list in partition `p`, newest record last.
pub(super) fn states_of(stretches: &[Stretch], p: usize, map: &mut FpMap<KeyState>) -> Vec<KeyState> {
    map.clear();
    let mut base = 0u64;
    for s in stretches {
        for e in s.parts.get(p).into_iter().flatten() {
            match map.entry(e.fp()) {
                Slot::Occupied(mut o) => o.get_mut().absorb(e, base),
                Slot::Vacant(v) => {
                    v.insert(KeyState::new(e, base));
                }
            }
        }
        base += u64::from(s.elements);
    }
    map.drain().map(|(_, s)| s).collect()
}

/// The gathered keys, partition by partition (each in no particular order).
pub fn reduce(g: Gathered) -> Vec<Vec<KeyState>> {
    (0..PARTS).into_par_iter().map_init(FpMap::default, |map, p| states_of(&g.stretches, p, map)).collect()
}

/// What is computed from each key: accumulators built per partition and joined.
pub trait KeyFold: Sync {
    /// The per-partition result.
    type Acc: Send;
    /// The result of no key.
    fn empty(&self) -> Self::Acc;
    /// One key (in no particular order).
    fn key(&self, acc: &mut Self::Acc, k: &KeyState);
    /// Two results together.
    fn join(&self, l: Self::Acc, r: Self::Acc) -> Self::Acc;
}

fn fold_reduced<F: KeyFold>(data: &[u8], g: Gathered, f: &F) -> F::Acc {
    (0..PARTS)
        .into_par_iter()
        .map_init(FpMap::default, |map, p| {
            let states = states_of(&g.stretches, p, map);
            let mut acc = f.empty();
            for (i, s) in states.iter().enumerate() {
                // The records are spread over the file: start loading a few keys ahead.
                if let Some(r) = states.get(i + 8).and_then(|n| n.record(data)) {
                    crate::sys::prefetch(r);
                }
                f.key(&mut acc, s);
            }
            acc
        })
        .reduce(|| f.empty(), |l, r| f.join(l, r))
}

/// One walk of the tree (no structure report: the caller's own walk gives it) gathering what
/// `gather` covers.
pub fn walk_keys(view: &DbView<'_>, gather: &Gather<'_>) -> Gathered {
    let visited = AtomicBitmap::new(view.tracked_pages());
    visited.test_and_set(0);
    visited.test_and_set(1);
    let sink = Sink::default();
    Walker::new(view, gather, &visited, &sink).run()
}

/// Runs `f` over every key `gather` covers: from `g` when the walk that gathered it stayed
/// within its budget, else over further walks of the file, as many as the entry count needs
/// ([`in_passes`]).
pub fn fold_gathered<F: KeyFold>(view: &DbView<'_>, gather: &Gather<'_>, g: Gathered, f: &F) -> F::Acc {
    if !gather.exceeded() {
        return fold_reduced(view.data, g, f);
    }
    let n = g.info.entries;
    drop(g);
    fold_passes(view, gather, n, f)
}

/// Runs `f` over every key `gather` covers in as many walks as `entries` records need within
/// `gather`'s budget (for a caller that knows the count and gathered nothing itself).
pub fn fold_passes<F: KeyFold>(view: &DbView<'_>, gather: &Gather<'_>, entries: u64, f: &F) -> F::Acc {
    let mut acc = Some(f.empty());
    in_passes(
        entries,
        gather.budget.cap,
        |pass, passes, budget| {
            let plan = Plan { pass, passes, ..gather.plan };
            walk_keys(view, &Gather { plan, budget, mark: None, ..*gather })
        },
        |got| acc = acc.take().map(|a| f.join(a, fold_reduced(view.data, got, f))),
    );
    acc.unwrap_or_else(|| f.empty())
}

/// Runs `walk` over passes that together cover every key once, each within `cap` bytes, and
/// hands what each gathered to `keep`; returns how many passes were kept. It starts with as many
/// passes as `entries` records need ([`passes_for`]); a pass whose gathering passes its budget is
/// thrown away and split in two (the keys whose fingerprint is `p` modulo `n` are those with
/// `p` or `p + n` modulo `2n`: keys that fall together), down to passes of one record on
/// average, which are not held to the budget. `walk` gets the pass, the pass count and a fresh
/// budget.
pub fn in_passes<T>(
    entries: u64,
    cap: u64,
    mut walk: impl FnMut(u64, u64, &Budget) -> T,
    mut keep: impl FnMut(T),
) -> u64 {
    let n = entries.max(1);
    let first = passes_for(n, cap);
    let mut kept = 0;
    for start in 0..first {
        // Depth first: at most one pending half per doubling.
        let mut todo = vec![(start, first)];
        while let Some((pass, passes)) = todo.pop() {
            let budget = Budget::new(if passes >= n { u64::MAX } else { cap });
            let got = walk(pass, passes, &budget);
            if budget.exceeded() {
                drop(got);
                let twice = passes.saturating_mul(2);
                todo.push((pass.saturating_add(passes), twice));
                todo.push((pass, twice));
            } else {
                keep(got);
                kept += 1;
            }
        }
    }
    kept
}

/// Walks the keys and runs `f` over them, in bounded memory; also what the walk saw.
pub fn fold_keys<F: KeyFold>(view: &DbView<'_>, gather: &Gather<'_>, f: &F) -> (F::Acc, GatherInfo) {
    let g = walk_keys(view, gather);
    let info = g.info.clone();
    (fold_gathered(view, gather, g, f), info)
}
