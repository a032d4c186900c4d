//! The live keys of etcd's `key` bucket, read in bounded memory: a key is live when its newest
//! record is a put (what `etcdctl get` returns at the current revision).
//!
//! [`Live::find`] marks the newest record of every key with the compaction keep set computed at a
//! revision above every record ([`compaction::keep_within`]: fingerprint-partitioned passes,
//! one bit per entry). [`Live::for_each`] then reads the marked puts in revision order, only those
//! whose key fingerprint falls in one [`Pass`] of several, so a caller joining two files by key
//! holds one pass's worth of keys at a time whatever the file size. The records handed out borrow
//! the mapped file: keys and values are never copied.

use super::compaction::{self, Keep};
use super::proto::{fields, Field};
use super::{key_fingerprint, revision};
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::view::DbView;
use crate::problem::Problem;

/// A live record: the newest revision of its key, a put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveKv<'a> {
    /// The user key's fingerprint ([`key_fingerprint`]).
    pub fp: u128,
    /// The user key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// The revision that created the key's current generation.
    pub create_revision: u64,
    /// The revision of this put.
    pub mod_revision: u64,
    /// Puts since the generation was created.
    pub version: u64,
    /// The lease (0: none).
    pub lease: u64,
}

impl LiveKv<'_> {
    /// Key length + value length: what `etcdctl get` returns for the key.
    pub fn live_bytes(&self) -> u64 {
        self.key.len() as u64 + self.value.len() as u64
    }
}

/// One of `of` passes: the keys whose fingerprint modulo `of` is `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pass {
    /// This pass, in `0..of`.
    pub index: u64,
    /// How many passes.
    pub of: u64,
}

impl Pass {
    /// The single pass that holds every key.
    pub const ALL: Pass = Pass { index: 0, of: 1 };

    /// The passes needed to keep each under `budget` bytes at `cost` bytes per key.
    pub fn count(keys: u64, cost: u64, budget: u64) -> u64 {
        keys.saturating_mul(cost).div_ceil(budget.max(1)).clamp(1, keys.max(1))
    }

    /// Whether the key with fingerprint `fp` belongs to this pass.
    pub fn holds(&self, fp: u128) -> bool {
        self.of <= 1 || (fp % u128::from(self.of)) as u64 == self.index
    }
}

/// Which entries of a `key` bucket are their key's newest record.
#[derive(Clone, Debug)]
pub struct Live {
    newest: Keep,
}

impl Live {
    /// Marks the newest record of every key of the bucket rooted at `kb`, in passes of at most
    /// `budget` bytes each.
    pub fn find(view: &DbView<'_>, kb: BucketRoot<'_>, budget: u64) -> Result<Live, Problem> {
        Ok(Live { newest: compaction::keep_within(view, kb, u64::MAX, budget)? })
    }

    /// An upper bound of the live keys (marked entries; an entry that cannot be decoded is marked
    /// too and skipped by [`Live::for_each`]).
    pub fn marked(&self) -> u64 {
        self.newest.kept
    }

    /// Entries in the bucket.
    pub fn entries(&self) -> u64 {
        self.newest.len
    }

    /// Calls `f` for every live record whose key falls in `pass`, in revision order. Tombstones,
    /// entries that do not decode, and the empty-valued markers `etcdutl snapshot restore
    /// --bump-revision` leaves are skipped.
    pub fn for_each<'a>(
        &self,
        view: &DbView<'a>,
        kb: BucketRoot<'a>,
        pass: Pass,
        f: &mut dyn FnMut(LiveKv<'a>),
    ) -> Result<(), Problem> {
        let mut ord = 0u64;
        cursor::for_each(view, kb, &mut |e| {
            let i = ord;
            ord += 1;
            if !self.newest.get(i) || e.value.is_empty() || revision::is_tombstone(e.key) {
                return;
            }
            let Some(kv) = decode(e.value) else { return };
            if pass.holds(kv.fp) {
                f(kv);
            }
        })
    }
}

/// Decodes an `mvccpb.KeyValue` with its value bytes; `None` when malformed.
pub fn decode(b: &[u8]) -> Option<LiveKv<'_>> {
    let mut kv = LiveKv { fp: 0, key: &[], value: &[], create_revision: 0, mod_revision: 0, version: 0, lease: 0 };
    for f in fields(b) {
        match f.ok()? {
            (1, Field::Bytes(k)) => kv.key = k,
            (2, Field::Varint(v)) => kv.create_revision = v,
            (3, Field::Varint(v)) => kv.mod_revision = v,
            (4, Field::Varint(v)) => kv.version = v,
            (5, Field::Bytes(v)) => kv.value = v,
            (6, Field::Varint(v)) => kv.lease = v,
            _ => {}
        }
    }
    kv.fp = key_fingerprint(kv.key);
    Some(kv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::KEY_BUCKET;
    use std::collections::BTreeMap;

    /// The live set by a plain replay in revision order, holding every key: the reference.
    fn replay(view: &DbView<'_>, kb: BucketRoot<'_>) -> BTreeMap<Vec<u8>, (u64, usize)> {
        let mut m = BTreeMap::new();
        cursor::for_each(view, kb, &mut |e| {
            let Some(kv) = decode(e.value) else { return };
            if revision::is_tombstone(e.key) {
                m.remove(kv.key);
            } else if !e.value.is_empty() {
                m.insert(kv.key.to_vec(), (kv.mod_revision, kv.value.len()));
            }
        })
        .unwrap();
        m
    }

    #[test]
    fn passes_split_the_live_set_and_agree_with_a_replay() {
        for name in ["k8s-0.005.snap.db", "churn-0.005.snap.db", "diff/diff-b.snap.db"] {
            let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
            let data = std::fs::read(p).unwrap();
            let view = DbView::new(&data).unwrap();
            let kb = cursor::top_bucket(&view, KEY_BUCKET).unwrap().unwrap();
            let want = replay(&view, kb);
            // A tiny budget forces several passes in `find` too.
            for (budget, of) in [(1 << 30, 1), (4096, 3), (1000, 7)] {
                let live = Live::find(&view, kb, budget).unwrap();
                let mut got = BTreeMap::new();
                for index in 0..of {
                    live.for_each(&view, kb, Pass { index, of }, &mut |kv| {
                        let old = got.insert(kv.key.to_vec(), (kv.mod_revision, kv.value.len()));
                        assert!(old.is_none(), "{name}: a key in two passes");
                        assert!(kv.version >= 1 && kv.create_revision <= kv.mod_revision);
                    })
                    .unwrap();
                }
                assert_eq!(got, want, "{name}: budget {budget}, {of} passes");
                assert!(live.marked() >= want.len() as u64);
            }
        }
    }

    #[test]
    fn pass_counts() {
        assert_eq!(Pass::count(0, 96, 1000), 1);
        assert_eq!(Pass::count(10, 96, 1000), 1);
        assert_eq!(Pass::count(100, 96, 1000), 10);
        assert_eq!(Pass::count(3, 1 << 40, 1), 3, "never more passes than keys");
        assert!(Pass::ALL.holds(12345));
        assert!(Pass { index: 2, of: 5 }.holds(7) && !Pass { index: 2, of: 5 }.holds(8));
    }

    #[test]
    fn decodes_garbage_as_none() {
        assert_eq!(decode(&[0x0a, 5, b'a']), None);
        let kv = decode(&[0x0a, 1, b'k', 0x18, 7, 0x2a, 2, b'v', b'w', 0x30, 9]).unwrap();
        assert_eq!((kv.key, kv.value, kv.mod_revision, kv.lease), (&b"k"[..], &b"vw"[..], 7, 9));
    }
}
