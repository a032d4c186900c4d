//! Each key's state after a pass of [`keyspace`](super::keyspace): the gathered stretches reduced
//! partition by partition, in parallel, to one [`KeyState`] per key, handed to a [`KeyFold`];
//! and the driver that runs further passes when the first walk passed its budget.

use super::history::{Compacted, History};
use super::keyspace::{Entry, Gather, GatherInfo, Gathered, Plan, Stretch, KEEP, OFFSET, TOMB};
use super::mvcc::PARTS;
use super::plan::in_passes;
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
    hist: History,
}

impl KeyState {
    fn new(e: &Entry, base: u64) -> KeyState {
        let (revisions, tombstones) = (u64::from(e.revisions), u64::from(e.tombstones));
        let ordinal = base.saturating_add(u64::from(e.seq));
        KeyState {
            fp: e.fp(),
            revisions,
            tombstones,
            stored_bytes: e.stored,
            ordinal,
            loc: e.loc,
            len: e.len,
            hist: e.hist,
        }
    }

    fn absorb(&mut self, newer: &Entry, base: u64) {
        self.hist.then(!self.live(), &newer.hist);
        let n = KeyState::new(newer, base);
        (self.loc, self.len, self.ordinal) = (n.loc, n.len, n.ordinal);
        self.revisions = self.revisions.saturating_add(n.revisions);
        self.tombstones = self.tombstones.saturating_add(n.tombstones);
        self.stored_bytes = self.stored_bytes.saturating_add(n.stored_bytes);
    }

    /// Whether the key's history breaks etcd's rules under the file's compactions ([`History`]).
    pub fn history_broken(&self, compacted: &Compacted) -> bool {
        self.hist.broken(compacted)
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

/// Walks the keys and runs `f` over them, in bounded memory; also what the walk saw.
pub fn fold_keys<F: KeyFold>(view: &DbView<'_>, gather: &Gather<'_>, f: &F) -> (F::Acc, GatherInfo) {
    let g = walk_keys(view, gather);
    let info = g.info.clone();
    (fold_gathered(view, gather, g, f), info)
}
