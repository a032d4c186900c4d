//! etcd's layer on top of bbolt: bucket names, revision keys, the protobuf records.

pub mod compaction;
pub mod hashkv;
pub mod mvcc;
pub mod proto;
pub mod revision;
pub mod schema;

/// The MVCC store bucket.
pub const KEY_BUCKET: &[u8] = b"key";
/// etcd's meta bucket.
pub const META_BUCKET: &[u8] = b"meta";
/// `meta` key holding the storage version (etcd 3.6+).
pub const STORAGE_VERSION: &[u8] = b"storageVersion";

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A 128-bit fingerprint of a user key (XXH3-128). Held instead of the key, so per-key state
/// costs 16 bytes whatever the key length; a collision among n keys has probability about
/// n^2 / 2^129 (1e-26 for ten million keys).
pub fn fingerprint(k: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(k)
}

/// A hasher for keys that are already uniform fingerprints.
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
        self.0 = v as u64;
    }
}

/// A set of fingerprints.
pub type FpSet = HashSet<u128, BuildHasherDefault<Passthrough>>;
/// A map keyed by fingerprints.
pub type FpMap<V> = HashMap<u128, V, BuildHasherDefault<Passthrough>>;
