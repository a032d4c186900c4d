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
use super::{key_fingerprint, proto, revision, Passthrough};
use crate::bbolt::page::ELEMENT_SIZE;
use crate::problem::ProblemKind;
use rayon::prelude::*;
use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

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

/// One entry of the `key` bucket, reduced to what the replay needs (24 bytes: millions are
/// buffered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Main revision.
    pub main: u64,
    /// Lease the key was attached to (0 = none).
    pub lease: u64,
    /// Position in its stretch (set by [`Parts::push`]), with [`FRESH`] in the top bit.
    seq: u32,
    /// Value length in bytes, with the tombstone flag in the top bit.
    vsize_tomb: u32,
}

const TOMB: u32 = 1 << 31;
/// In `seq`: the record is a put whose create revision is its own (version 1).
const FRESH: u32 = 1 << 31;

/// A broken etcd invariant: its kind and a sentence.
pub type Invariant = (ProblemKind, String);

impl Rec {
    /// Decodes one `key` bucket entry into its user key's fingerprint and the record, and checks
    /// etcd's invariants on it. `Ok(None)` for the empty-valued marker `etcdutl snapshot restore
    /// --bump-revision` writes. An entry that cannot be decoded is an `Err`; one that decodes but
    /// breaks an invariant gives the record and the problem.
    pub fn check(key: &[u8], value: &[u8]) -> Result<Option<(u128, Rec, Option<Invariant>)>, Invariant> {
        Ok(Rec::check_kv(key, value)?.map(|(kv, r, issue)| (key_fingerprint(kv.key), r, issue)))
    }

    /// [`Rec::check`] with the decoded `KeyValue` instead of the fingerprint: the one rule for
    /// which entries are records, for every pass over the bucket.
    pub fn check_kv<'v>(
        key: &[u8],
        value: &'v [u8],
    ) -> Result<Option<(proto::Kv<'v>, Rec, Option<Invariant>)>, Invariant> {
        Rec::check_parsed(revision::parse(key), key, value)
    }

    /// [`Rec::check_kv`] of an entry whose key the caller parsed already (`rev`: what
    /// [`revision::parse`] gave for `key`).
    pub fn check_parsed<'v>(
        rev: Option<revision::Revision>,
        key: &[u8],
        value: &'v [u8],
    ) -> Result<Option<(proto::Kv<'v>, Rec, Option<Invariant>)>, Invariant> {
        let Some(rev) = rev else {
            let why =
                format!("key of {} bytes is not a revision (8-byte main, '_', 8-byte sub, optional 't')", key.len());
            return Err((ProblemKind::InvalidRevisionKey, why));
        };
        if super::entry::is_marker(&rev, value) {
            return Ok(None);
        }
        if value.is_empty() {
            return Err(super::entry::empty_value(&rev));
        }
        let bad =
            || (ProblemKind::InvalidKeyValue, format!("value of revision {} is not an mvccpb.KeyValue", rev.main));
        let kv = proto::kv(value).ok_or_else(bad)?;
        let vsize = u32::try_from(value.len()).ok().filter(|&v| v < TOMB).ok_or_else(bad)?;
        let issue = Rec::invariant(&rev, &kv);
        let fresh = !rev.tombstone && kv.create_revision == rev.main;
        Ok(Some((kv, Rec::new(rev.main, kv.lease, vsize, rev.tombstone).with_fresh(fresh), issue)))
    }

    /// etcd's invariants between a decoded record's revision key and its fields: a tombstone carries
    /// only its key; a put's mod revision is the key's main revision, its create revision lies in
    /// `[1, mod revision]`, its version is at least 1. The one rule [`Rec::check`] and carving apply.
    pub fn invariant(rev: &revision::Revision, kv: &proto::Kv<'_>) -> Option<Invariant> {
        if rev.tombstone {
            kv.more_than_key.then(|| {
                (
                    ProblemKind::TombstoneWithData,
                    format!("tombstone at revision {} carries more than its key", rev.main),
                )
            })
        } else if kv.mod_revision != rev.main {
            Some((
                ProblemKind::InconsistentKeyValue,
                format!("mod_revision {} differs from its revision key's main revision {}", kv.mod_revision, rev.main),
            ))
        } else if kv.create_revision > kv.mod_revision || kv.create_revision == 0 {
            Some((
                ProblemKind::InconsistentKeyValue,
                format!("create_revision {} is not in [1, mod_revision {}]", kv.create_revision, kv.mod_revision),
            ))
        } else if kv.version == 0 {
            Some((ProblemKind::InconsistentKeyValue, format!("put at revision {} has version 0", rev.main)))
        } else {
            None
        }
    }

    /// Whether a decoded record keeps every invariant of [`Rec::invariant`], without building the
    /// sentence (for carving, where a failing record is simply not one).
    pub fn sound(rev: &revision::Revision, kv: &proto::Kv<'_>) -> bool {
        if rev.tombstone {
            !kv.more_than_key
        } else {
            kv.mod_revision == rev.main
                && kv.create_revision != 0
                && kv.create_revision <= kv.mod_revision
                && kv.version != 0
        }
    }

    /// A record (its position is set when it is pushed).
    pub fn new(main: u64, lease: u64, vsize: u32, tomb: bool) -> Rec {
        Rec { main, lease, seq: 0, vsize_tomb: (vsize & !TOMB) | if tomb { TOMB } else { 0 } }
    }

    /// The record, marked as a put that created its key (or not).
    pub fn with_fresh(self, fresh: bool) -> Rec {
        Rec { seq: (self.seq & !FRESH) | if fresh { FRESH } else { 0 }, ..self }
    }

    /// Whether the record is a put whose create revision is its own (version 1).
    pub fn fresh(&self) -> bool {
        self.seq & FRESH != 0
    }

    /// Position in its stretch.
    pub fn seq(&self) -> u32 {
        self.seq & !FRESH
    }

    /// Whether the entry is a tombstone.
    pub fn tomb(&self) -> bool {
        self.vsize_tomb & TOMB != 0
    }

    /// Value length.
    pub fn vsize(&self) -> u32 {
        self.vsize_tomb & !TOMB
    }

    /// Key (revision) length: 17, or 18 for a tombstone.
    pub fn ksize(&self) -> u32 {
        17 + u32::from(self.tomb())
    }

    /// Bytes the entry occupies in a leaf: element header, key, value.
    pub fn bytes(&self) -> u64 {
        ELEMENT_SIZE as u64 + u64::from(self.ksize()) + u64::from(self.vsize())
    }
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
    /// Appends the stretch's next record; returns the bytes its buffers grew by (for a
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
            let fp = (u128::from(*hi) << 64) | u128::from(*lo);
            // Later stretches, and later positions, hold later revisions.
            let h = History::record(r.main, r.tomb(), r.fresh(), compacted);
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
