//! The MVCC store seen offline: every entry of the `key` bucket is folded into the newest record
//! per user key, to count revisions, distinct and live keys, tombstones, and what compaction at
//! the current revision would delete, with etcd's keep rule (ETCD-FORMAT.md section 6): for each
//! key the newest revision at or below R survives, unless its generation ended in a tombstone
//! below R (then nothing survives); a tombstone exactly at R survives (etcd >= 3.4.34/3.5.16/3.6).
//!
//! The parallel walk hands over the `key` bucket in stretches that are in revision order; each
//! record carries its position in its stretch, so (stretch, position) orders records exactly as
//! revisions do. Records are appended to 64 partitions by fingerprint (sequential writes); each
//! partition is reduced on its own, in parallel, in a map small enough to stay in cache, to the
//! newest record per key. Survivors are marked in per-stretch bitmaps and read back in order, so
//! nothing is sorted.

use super::history::{Compacted, History};
use super::Passthrough;
use rayon::prelude::*;
use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

pub use super::rec::{tagged, untag, Invariant, Rec};
use super::rec::{FRESH, TOMB};

/// Partitions records are spread over (by the top bits of the fingerprint), so each is reduced
/// in a map small enough to stay in cache, on all cores.
pub const PARTS: usize = 64;

/// The partition of a key's fingerprint.
#[inline]
pub fn partition(fp: u128) -> usize {
    (fp >> 122) as usize % PARTS
}

/// etcd's compaction keep rule, for the newest record of a key at or below the compaction
/// revision `rev`: it survives unless its generation ended in a tombstone below `rev`. A tombstone
/// exactly at `rev` survives (etcd >= 3.4.34, 3.5.16, 3.6.0). Every older record of the key at
/// or below `rev` is deleted; records above `rev` are untouched. The MVCC replay, the compaction
/// keep set and HashKV all decide with this one function.
#[inline]
pub fn survives(main: u64, tombstone: bool, rev: u64) -> bool {
    !tombstone || main == rev
}

/// Counters over all records: summed per subtree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Entries.
    pub revisions: u64,
    /// Tombstone entries.
    pub tombstones: u64,
    /// Leaf bytes of all entries.
    pub bytes: u64,
    /// Entries that could not be decoded.
    pub malformed: u64,
}

impl Totals {
    /// Adds another stretch's counters.
    pub fn add(&mut self, o: &Totals) {
        self.revisions += o.revisions;
        self.tombstones += o.tombstones;
        self.bytes += o.bytes;
        self.malformed += o.malformed;
    }
}

/// Records of one stretch of the `key` bucket (in revision order), spread over [`PARTS`]
/// partitions; the fingerprint is held as two u64 so an entry is 40 bytes, not 48.
#[derive(Debug)]
pub struct Parts {
    parts: Vec<Vec<([u64; 2], Rec)>>,
    /// Records pushed, in order: value length and tombstone bit.
    sizes: Vec<u32>,
}

/// Bytes of one partition slot: the fingerprint and the record.
const SLOT: usize = std::mem::size_of::<([u64; 2], Rec)>();

impl Default for Parts {
    fn default() -> Self {
        Parts { parts: (0..PARTS).map(|_| Vec::new()).collect(), sizes: Vec::new() }
    }
}

impl Parts {
    /// Appends the stretch's next record (`fp`: [`tagged`]); returns the bytes its buffers grew by (for a
    /// [`Budget`](super::keyspace::Budget)).
    pub fn push(&mut self, fp: u128, mut r: Rec) -> u64 {
        r.seq = (r.seq & FRESH) | u32::try_from(self.sizes.len()).unwrap_or(!FRESH).min(!FRESH);
        let part = &mut self.parts[partition(fp)];
        let before = (self.sizes.capacity() * 4 + part.capacity() * SLOT) as u64;
        self.sizes.push(r.vsize_tomb);
        part.push(([(fp >> 64) as u64, fp as u64], r));
        (self.sizes.capacity() * 4 + part.capacity() * SLOT) as u64 - before
    }

    /// Whether the stretch is full (positions are 31 bits).
    pub fn is_full(&self) -> bool {
        self.sizes.len() >= !FRESH as usize
    }
}

/// A partition's keys: where the newest record is (stretch), the record, the key's history.
type PartMap = HashMap<u128, (u32, Rec, History), BuildHasherDefault<Passthrough>>;

/// What one partition's keys add to a replay at `rev`.
#[derive(Default)]
struct PartReplay {
    distinct_keys: u64,
    live_keys: u64,
    live_leases: Vec<u64>,
    keep_bytes: u64,
    /// The survivors: (stretch, position in it).
    keep: Vec<(u32, u32)>,
    /// Keys whose history breaks etcd's rules ([`History`]).
    broken: u64,
}

/// One partition reduced to the newest record of each of its keys, and those summed up at `rev`
/// as they are found (not gathered first: 32 bytes a key, on top of the records).
fn replay_part(stretches: &[Parts], p: usize, rev: u64, compacted: &Compacted, map: &mut PartMap) -> PartReplay {
    map.clear();
    for (i, s) in stretches.iter().enumerate() {
        for ([hi, lo], r) in &s.parts[p] {
            let (fp, sig) = untag((u128::from(*hi) << 64) | u128::from(*lo));
            // Later stretches, and later positions, hold later revisions.
            let h = History::record(r.step(sig), compacted);
            match map.entry(fp) {
                Slot::Occupied(mut o) => {
                    let (at, newest, hist) = o.get_mut();
                    hist.then(newest.tomb(), &h);
                    (*at, *newest) = (i as u32, *r);
                }
                Slot::Vacant(v) => {
                    v.insert((i as u32, *r, h));
                }
            }
        }
    }
    let mut out = PartReplay { distinct_keys: map.len() as u64, ..PartReplay::default() };
    for (i, r, h) in map.values() {
        out.broken += u64::from(h.broken(compacted));
        if !r.tomb() {
            out.live_keys += 1;
            if r.lease != 0 {
                out.live_leases.push(r.lease);
            }
        }
        if survives(r.main, r.tomb(), rev) {
            out.keep_bytes += r.bytes();
            out.keep.push((*i, r.seq()));
        }
    }
    out
}

/// What the `key` bucket holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mvcc {
    /// Entries (revisions) stored, tombstones included.
    pub revisions: u64,
    /// Distinct user keys.
    pub distinct_keys: u64,
    /// Keys whose newest record is not a tombstone.
    pub live_keys: u64,
    /// Tombstone entries.
    pub tombstones: u64,
    /// Entries whose key or value cannot be decoded.
    pub malformed: u64,
    /// Live keys attached to a lease.
    pub keys_with_lease: u64,
    /// Compaction at the current revision.
    pub compaction: Compaction,
}

/// The effect of compacting at `revision`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Compaction {
    /// The revision compacted at (the current revision).
    pub revision: u64,
    /// Entries compaction deletes.
    pub delete_entries: u64,
    /// Leaf bytes they take (element header + key + value).
    pub delete_bytes: u64,
    /// Entries kept.
    pub keep_entries: u64,
    /// Leaf bytes kept.
    pub keep_bytes: u64,
}

/// The replay's answers: figures, the `(key length, value length)` of every surviving entry in
/// revision order (for the size prediction), and the live keys' lease ids.
pub struct Replay {
    /// The figures.
    pub mvcc: Mvcc,
    /// Surviving entries in order.
    pub survivors: Vec<(u32, u32)>,
    /// Lease ids of live keys (one per key).
    pub live_leases: Vec<u64>,
    /// Keys whose history breaks etcd's rules ([`History`]).
    pub broken_histories: u64,
}

/// Compacts at `rev`: every key's newest record survives unless it is a tombstone below `rev`;
/// and holds each key's history to etcd's rules under the file's own compactions.
/// `stretches` must be in revision order.
pub fn replay(stretches: &[Parts], t: &Totals, rev: u64, compacted: &Compacted) -> Replay {
    let mut m = Mvcc { revisions: t.revisions, tombstones: t.tombstones, malformed: t.malformed, ..Mvcc::default() };
    let parts: Vec<PartReplay> = (0..PARTS)
        .into_par_iter()
        .map_init(HashMap::default, |map, p| replay_part(stretches, p, rev, compacted, map))
        .collect();
    let mut live_leases = Vec::new();
    let mut keep_bytes = 0;
    let broken_histories = parts.iter().map(|p| p.broken).sum();
    let mut keep: Vec<Vec<bool>> = stretches.iter().map(|s| vec![false; s.sizes.len()]).collect();
    for part in parts {
        m.distinct_keys += part.distinct_keys;
        m.live_keys += part.live_keys;
        live_leases.extend(part.live_leases);
        keep_bytes += part.keep_bytes;
        for (i, seq) in part.keep {
            keep[i as usize][seq as usize] = true;
        }
    }
    m.keys_with_lease = live_leases.len() as u64;
    let survivors: Vec<(u32, u32)> = stretches
        .iter()
        .zip(&keep)
        .flat_map(|(s, k)| {
            s.sizes.iter().zip(k).filter(|(_, k)| **k).map(|(vt, _)| (17 + u32::from(vt & TOMB != 0), vt & !TOMB))
        })
        .collect();
    let keep_entries = survivors.len() as u64;
    m.compaction = Compaction {
        revision: rev,
        delete_entries: t.revisions - keep_entries,
        delete_bytes: t.bytes - keep_bytes,
        keep_entries,
        keep_bytes,
    };
    Replay { mvcc: m, survivors, live_leases, broken_histories }
}

#[cfg(test)]
#[path = "mvcc_tests.rs"]
mod tests;
