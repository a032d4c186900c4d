//! etcd's layer on top of bbolt: bucket names, revision keys, the protobuf records.

pub mod proto;
pub mod revision;

/// The MVCC store bucket.
pub const KEY_BUCKET: &[u8] = b"key";
/// etcd's meta bucket.
pub const META_BUCKET: &[u8] = b"meta";
/// `meta` key holding the storage version (etcd 3.6+).
pub const STORAGE_VERSION: &[u8] = b"storageVersion";
