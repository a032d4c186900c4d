//! The MVCC store seen offline: one record per entry of the `key` bucket, replayed in revision
//! order to count revisions, distinct and live keys, tombstones, and what compaction at the
//! current revision would delete, with etcd's keep rule (ETCD-FORMAT.md section 6): for each key
//! the newest revision at or below R survives, unless its generation ended in a tombstone below
//! R (then nothing survives); a tombstone exactly at R survives (etcd >= 3.4.34/3.5.16/3.6.0).

use super::{fingerprint, proto, revision, FpMap};
use crate::page::ELEMENT_SIZE;

/// One entry of the `key` bucket, reduced to what the replay needs.
#[derive(Clone, Copy, Debug)]
pub struct Rec {
    /// Fingerprint of the user key.
    pub fp: u128,
    /// Main revision.
    pub main: u64,
    /// Lease the key was attached to (0 = none).
    pub lease: u64,
    /// Value length in bytes.
    pub vsize: u32,
    /// Key (revision) length in bytes: 17, or 18 for a tombstone.
    pub ksize: u8,
    /// Whether the entry is a tombstone.
    pub tomb: bool,
}

impl Rec {
    /// Decodes one `key` bucket entry; `None` when the key is not a revision or the value not a
    /// KeyValue (the checker reports those).
    pub fn decode(key: &[u8], value: &[u8]) -> Option<Rec> {
        let rev = revision::parse(key)?;
        let (user, lease) = proto::kv_key_lease(value)?;
        Some(Rec {
            fp: fingerprint(user),
            main: rev.main,
            lease,
            vsize: u32::try_from(value.len()).ok()?,
            ksize: key.len() as u8,
            tomb: rev.tombstone,
        })
    }

    /// Bytes the entry occupies in a leaf: element header, key, value.
    pub fn bytes(&self) -> u64 {
        ELEMENT_SIZE as u64 + u64::from(self.ksize) + u64::from(self.vsize)
    }
}

/// What the `key` bucket holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
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
}

/// Replays the records (in revision order, given as consecutive chunks) and compacts at `rev`.
pub fn replay(chunks: &[Vec<Rec>], malformed: u64, rev: u64) -> Replay {
    // fingerprint -> (position of its newest record, that record)
    let mut newest: FpMap<(usize, Rec)> = FpMap::default();
    let mut m = Mvcc { malformed, ..Mvcc::default() };
    let all = || chunks.iter().flatten();
    for (pos, r) in all().enumerate() {
        m.revisions += 1;
        m.tombstones += u64::from(r.tomb);
        newest.insert(r.fp, (pos, *r));
    }
    m.distinct_keys = newest.len() as u64;
    let mut keep = vec![false; m.revisions as usize];
    let mut live_leases = Vec::new();
    for (pos, r) in newest.values() {
        if !r.tomb {
            m.live_keys += 1;
            if r.lease != 0 {
                m.keys_with_lease += 1;
                live_leases.push(r.lease);
            }
        }
        if !r.tomb || r.main == rev {
            keep[*pos] = true;
        }
    }
    let mut c = Compaction { revision: rev, ..Compaction::default() };
    let mut survivors = Vec::new();
    for (r, k) in all().zip(&keep) {
        if *k {
            c.keep_entries += 1;
            c.keep_bytes += r.bytes();
            survivors.push((u32::from(r.ksize), r.vsize));
        } else {
            c.delete_entries += 1;
            c.delete_bytes += r.bytes();
        }
    }
    m.compaction = c;
    Replay { mvcc: m, survivors, live_leases }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &[u8], main: u64, tomb: bool) -> Rec {
        Rec { fp: fingerprint(key), main, lease: 0, vsize: 10, ksize: if tomb { 18 } else { 17 }, tomb }
    }

    #[test]
    fn keep_rule_by_hand() {
        // a: put@2, put@3          -> keep put@3
        // b: put@4, tombstone@5    -> generation ended below R=7: all dropped
        // c: put@6, tombstone@7    -> tombstone exactly at R: kept
        // d: put@1, tomb@2, put@7  -> keep put@7 (current generation)
        let recs = vec![
            rec(b"d", 1, false),
            rec(b"a", 2, false),
            rec(b"d", 2, true),
            rec(b"a", 3, false),
            rec(b"b", 4, false),
            rec(b"b", 5, true),
            rec(b"c", 6, false),
            rec(b"c", 7, true),
            rec(b"d", 7, false),
        ];
        let r = replay(&[recs[..4].to_vec(), recs[4..].to_vec()], 0, 7);
        assert_eq!((r.mvcc.revisions, r.mvcc.distinct_keys, r.mvcc.live_keys, r.mvcc.tombstones), (9, 4, 2, 3));
        assert_eq!((r.mvcc.compaction.keep_entries, r.mvcc.compaction.delete_entries), (3, 6));
        assert_eq!(r.survivors, vec![(17, 10), (18, 10), (17, 10)]);
        assert_eq!(r.mvcc.compaction.keep_bytes, 43 + 44 + 43);
    }
}
