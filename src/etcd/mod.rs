//! etcd's layer on top of bbolt: bucket and meta key names, revision keys, the protobuf records,
//! the small buckets, the snapshot trailer, `snapshot status`, and the MVCC store: etcd's one
//! compaction keep rule ([`mvcc::survives`]) as the replay, the compaction keep set and HashKV
//! apply it. What a server holding the file would answer: its header and read rules
//! ([`header`]), Range ([`range`], sorted as Go sorts: [`gosort`]), the watch replay
//! ([`events`]), HashKV at a revision ([`hashkv::at`]), a streaming dump ([`dump`]), all over
//! one parallel, checked read of the `key` bucket ([`scan`]), printed as etcdctl prints ([`ctl`],
//! [`goquote`]).

pub mod carve;
pub mod cluster;
pub mod collect;
pub mod compact_target;
pub mod compaction;
mod compaction_pass;
pub mod continuity;
pub mod crc;
pub mod ctl;
pub mod dump;
pub mod entry;
pub mod events;
pub mod gogo;
pub mod goquote;
pub mod gosort;
pub mod hashkv;
pub mod header;
pub mod history;
pub mod humanize;
pub mod isprint;
pub mod keyspace;
pub mod keystate;
pub mod leaves;
pub mod live;
mod meta_problems;
pub mod mvcc;
mod orphan;
pub mod plan;
pub mod proto;
pub mod range;
pub mod rec;
pub mod records;
pub mod revision;
pub mod revset;
pub mod scan;
pub mod schema;
pub(crate) mod seen;
pub mod startup;
pub mod status;
pub mod trailer;
pub mod unlisted;

/// The MVCC store bucket.
pub const KEY_BUCKET: &[u8] = b"key";
/// etcd's meta bucket.
pub const META_BUCKET: &[u8] = b"meta";
/// The `cluster` bucket (`clusterVersion`, `downgrade`).
pub const CLUSTER_BUCKET: &[u8] = b"cluster";
/// The `members` bucket: member id (hex) -> JSON.
pub const MEMBERS_BUCKET: &[u8] = b"members";
/// The `members_removed` bucket: member id (hex) -> `removed`.
pub const MEMBERS_REMOVED_BUCKET: &[u8] = b"members_removed";
/// The `lease` bucket: lease id (8 bytes BE) -> `leasepb.Lease`.
pub const LEASE_BUCKET: &[u8] = b"lease";
/// The `alarm` bucket: `AlarmMember` protobuf -> empty.
pub const ALARM_BUCKET: &[u8] = b"alarm";
/// The `auth` bucket (`authEnabled`, `authRevision`).
pub const AUTH_BUCKET: &[u8] = b"auth";
/// The `authUsers` bucket.
pub const AUTH_USERS_BUCKET: &[u8] = b"authUsers";
/// The `authRoles` bucket.
pub const AUTH_ROLES_BUCKET: &[u8] = b"authRoles";

/// The buckets beside `key` that etcd (3.4 and later) creates in every backend it writes.
pub const SMALL_BUCKETS: [&[u8]; 9] = [
    META_BUCKET,
    CLUSTER_BUCKET,
    MEMBERS_BUCKET,
    MEMBERS_REMOVED_BUCKET,
    LEASE_BUCKET,
    ALARM_BUCKET,
    AUTH_BUCKET,
    AUTH_USERS_BUCKET,
    AUTH_ROLES_BUCKET,
];

/// Keys of the `meta` bucket (and `cluster/clusterVersion`).
pub mod meta_keys {
    /// The compaction a server has scheduled (17-byte revision).
    pub const SCHEDULED_COMPACT_REV: &[u8] = b"scheduledCompactRev";
    /// The last compaction finished (17-byte revision).
    pub const FINISHED_COMPACT_REV: &[u8] = b"finishedCompactRev";
    /// The raft index applied (8 bytes BE).
    pub const CONSISTENT_INDEX: &[u8] = b"consistent_index";
    /// The raft term (8 bytes BE; 3.5+).
    pub const TERM: &[u8] = b"term";
    /// The raft configuration as JSON (3.5+).
    pub const CONF_STATE: &[u8] = b"confState";
    /// The storage version (3.6+).
    pub const STORAGE_VERSION: &[u8] = b"storageVersion";
    /// `cluster/clusterVersion`.
    pub const CLUSTER_VERSION: &[u8] = b"clusterVersion";
}
pub use meta_keys::STORAGE_VERSION;

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A 128-bit fingerprint of a user key (XXH3-128). Held instead of the key, so per-key state
/// costs 16 bytes whatever the key length; a collision among n keys has probability about
/// n^2 / 2^129 (1e-26 for ten million keys).
pub fn key_fingerprint(k: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(k)
}

/// A hasher for keys that are already uniform fingerprints: one multiply with a seed drawn once
/// per process (a fingerprint is no secret: a crafted file could choose keys whose fingerprints
/// share the bits a table indexes by, and make every insert walk one long chain).
#[derive(Default)]
pub struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(x);
        }
    }
    fn write_u128(&mut self, v: u128) {
        // The product's high bits depend on every bit of the seeded low half; folded down.
        let mixed = ((v as u64) ^ KeyHash::default().0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = mixed.rotate_left(32) ^ (v >> 64) as u64;
    }
}

/// A set of fingerprints.
pub type FpSet = HashSet<u128, BuildHasherDefault<Passthrough>>;
/// A map keyed by fingerprints.
pub type FpMap<V> = HashMap<u128, V, BuildHasherDefault<Passthrough>>;

/// Builds the hasher of a map keyed by user keys ([`KeyMap`]): XXH3-64 with a seed drawn once per
/// process. A map of a million keys hashed with the standard SipHash spent two fifths of a whole
/// `get --from-key` of `many:2` hashing; the seed keeps a crafted file from choosing keys that
/// collide.
#[derive(Clone, Copy, Debug)]
pub struct KeyHash(u64);

impl Default for KeyHash {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        KeyHash(
            *SEED.get_or_init(|| {
                std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u64)
            }),
        )
    }
}

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0)
    }
}

/// The hasher [`KeyHash`] builds: a byte string is hashed whole, its length (written first by
/// `Hash` for slices) folded into the seed.
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, b: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(b, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (self.0 ^ n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by user keys (or any byte strings), hashed by [`KeyHash`].
pub type KeyMap<K, V> = HashMap<K, V, KeyHash>;
/// A set of user keys, hashed by [`KeyHash`].
pub type KeySet<K> = HashSet<K, KeyHash>;
