//! The MVCC replay behind `inspect` and `check`, in bounded memory.
//!
//! The inspect walk gathers the `key` bucket's records ([`Parts`]) within a [`Budget`]. When they
//! fit, [`mvcc::replay`] reduces them as it always has. When they do not, the walk drops them and
//! the replay is made again from the file by [`keyspace`]'s partitioned passes: each key's
//! newest record decides whether it is live and whether it survives compaction; the survivors'
//! positions are kept as one bit per entry, and the size prediction then lays out the surviving
//! entries as they stream past in key order ([`LayoutStream`]). Both ways give the same figures.

use super::inspect::FILLS;
use super::predict::{self, BucketLayout, LayoutStream};
use crate::bbolt::cursor;
use crate::bbolt::page::ELEMENT_SIZE;
use crate::bbolt::view::DbView;
use crate::etcd::history::Compacted;
use crate::etcd::keyspace::{self, Budget, Gather, KeyFold, KeyState, Plan};
use crate::etcd::mvcc::{self, Compaction, Mvcc, Parts, Totals};
use crate::etcd::schema::{self, EtcdInfo, LeaseTally};
use crate::etcd::KEY_BUCKET;
use std::sync::Mutex;

/// Survivor positions buffered per accumulator before they are set in the shared bitmap.
const PENDING: usize = 4096;

/// What the replay gives: the MVCC figures, the `key` bucket's layout after compaction at each
/// of [`FILLS`], and how many keys hold a history etcd cannot have written.
pub type Replayed = (Mvcc, [BucketLayout; 2], u64);

/// Replays the `key` bucket at `info.current_revision`: the MVCC figures, the live keys' leases
/// (into `info`), the `key` bucket's layout after compaction, and each key's history held to
/// etcd's rules.
pub fn replay(view: &DbView<'_>, recs: &[Parts], totals: &Totals, info: &mut EtcdInfo, budget: &Budget) -> Replayed {
    let rev = info.current_revision;
    let ps = view.page_size;
    let c = Compacted::of(info);
    if !budget.exceeded() {
        let r = mvcc::replay(recs, totals, rev, &c);
        schema::attach_leases(view, info, &r.live_leases);
        return (r.mvcc, FILLS.map(|f| predict::layout(&r.survivors, false, 0, ps, f)), r.broken_histories);
    }
    let ids = schema::lease_ids(view);
    let fold = Replayer { data: view.data, ids: &ids, keep: Mutex::new(Vec::new()), compacted: c };
    let gather_budget = Budget::new(budget.cap());
    let gather = Gather::new(view.data, Plan::all(rev).judging(c), &gather_budget).located(view.page_size);
    // The walk already counted the records: straight to the passes they need.
    let mut acc = keyspace::fold_passes(view, &gather, totals.revisions, &fold);
    fold.flush(&mut acc.pending);
    acc.leases.apply(info);
    let keep = fold.keep.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut streams = FILLS.map(|f| LayoutStream::new(ps, f));
    if let Ok(Some(kb)) = cursor::top_bucket(view, KEY_BUCKET) {
        let mut i = 0u64;
        let _ = cursor::for_each(view, kb, &mut |e| {
            if keep.get((i / 64) as usize).is_some_and(|w| w & (1 << (i % 64)) != 0) {
                for s in &mut streams {
                    s.push(e.key.len() as u32, e.value.len() as u32);
                }
            }
            i += 1;
        });
    }
    let m = Mvcc {
        revisions: totals.revisions,
        distinct_keys: acc.distinct,
        live_keys: acc.live,
        tombstones: totals.tombstones,
        malformed: totals.malformed,
        keys_with_lease: acc.with_lease,
        compaction: Compaction {
            revision: rev,
            delete_entries: totals.revisions.saturating_sub(acc.keep_entries),
            delete_bytes: totals.bytes.saturating_sub(acc.keep_bytes),
            keep_entries: acc.keep_entries,
            keep_bytes: acc.keep_bytes,
        },
    };
    (m, streams.map(LayoutStream::finish), acc.broken)
}

/// The replay as a [`KeyFold`]: survivors go to a bitmap of positions shared by all partitions.
struct Replayer<'a> {
    data: &'a [u8],
    ids: &'a [u64],
    keep: Mutex<Vec<u64>>,
    compacted: Compacted,
}

#[derive(Default)]
struct Acc {
    distinct: u64,
    live: u64,
    with_lease: u64,
    keep_entries: u64,
    keep_bytes: u64,
    leases: LeaseTally,
    pending: Vec<u64>,
    broken: u64,
}

impl Replayer<'_> {
    fn flush(&self, pending: &mut Vec<u64>) {
        let mut bits = self.keep.lock().unwrap_or_else(|e| e.into_inner());
        for &i in pending.iter() {
            let w = usize::try_from(i / 64).unwrap_or(usize::MAX);
            if w >= bits.len() {
                bits.resize(w.saturating_add(1), 0);
            }
            if let Some(x) = bits.get_mut(w) {
                *x |= 1 << (i % 64);
            }
        }
        pending.clear();
    }
}

impl KeyFold for Replayer<'_> {
    type Acc = Acc;

    fn empty(&self) -> Acc {
        Acc::default()
    }

    fn key(&self, acc: &mut Acc, k: &KeyState) {
        acc.distinct += 1;
        acc.broken += u64::from(k.history_broken(&self.compacted));
        if k.live() {
            acc.live += 1;
            let lease = k.newest(self.data).map_or(0, |kv| kv.lease);
            if lease != 0 {
                acc.with_lease += 1;
                acc.leases.add(self.ids, lease);
            }
        }
        if k.survives() {
            acc.keep_entries += 1;
            acc.keep_bytes += ELEMENT_SIZE as u64 + k.newest_bytes();
            acc.pending.push(k.ordinal);
            if acc.pending.len() >= PENDING {
                self.flush(&mut acc.pending);
            }
        }
    }

    fn join(&self, mut l: Acc, mut r: Acc) -> Acc {
        l.distinct += r.distinct;
        l.live += r.live;
        l.with_lease += r.with_lease;
        l.keep_entries += r.keep_entries;
        l.keep_bytes += r.keep_bytes;
        l.broken += r.broken;
        l.leases.join(r.leases);
        self.flush(&mut r.pending);
        l
    }
}
