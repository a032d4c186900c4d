//! What a scan of the `key` bucket collects for the index's key → revisions table (kept by the
//! index layer above, `index::keys`): every entry's key fingerprint and revision, computed by the
//! scan's workers while the entry is in cache, with the key as a slice of the mapped file.
//! Bounded by a cap: past it the collection is given up and its memory freed.

use super::key_fingerprint;
use super::revision::Revision;
use super::scan::Entry;

/// One entry as the key index needs it (64 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyRev<'a> {
    /// The key's fingerprint ([`key_fingerprint`]).
    pub fp: u128,
    /// The entry's revision.
    pub rev: Revision,
    /// The key.
    pub key: &'a [u8],
    /// Whether the entry is a put that created its key (create revision = its own): what holding
    /// the key's history to etcd's rules needs beside the revisions.
    pub fresh: bool,
    /// A put's [`generation_sig`](super::history::generation_sig) (0 for a tombstone).
    pub sig: u16,
}

const _: () = assert!(std::mem::size_of::<KeyRev<'_>>() == 64);

impl<'a> KeyRev<'a> {
    /// The record of an entry.
    pub fn of(e: &Entry<'a>) -> KeyRev<'a> {
        let s = e.step();
        KeyRev { fp: key_fingerprint(e.kv.key), rev: e.rev, key: e.kv.key, fresh: s.fresh, sig: s.sig }
    }
}

/// What a chunk of a scan hands over: the entries a query wants, each with its key's fingerprint
/// (computed by the workers, so the caller's one thread files them by a number, not by the key's
/// bytes), and, when the key index is being built, every entry's record.
pub type ChunkOut<'a> = (Vec<(u128, Entry<'a>)>, Vec<KeyRev<'a>>);

/// Every entry's record, in bucket order, up to a cap.
#[derive(Debug, Default)]
pub struct Collector<'a> {
    /// What was collected, in bucket order.
    pub list: Vec<KeyRev<'a>>,
    /// Most records kept.
    pub cap: usize,
    /// Whether the cap was passed (`list` is then empty).
    pub overflow: bool,
}

impl<'a> Collector<'a> {
    /// An empty collection of at most `cap` records.
    pub fn new(cap: usize) -> Collector<'a> {
        Collector { list: Vec::new(), cap, overflow: false }
    }

    /// Appends a chunk's records.
    pub fn extend(&mut self, more: Vec<KeyRev<'a>>) {
        if self.overflow {
            return;
        }
        if self.list.len().saturating_add(more.len()) > self.cap {
            self.overflow = true;
            self.list = Vec::new();
            return;
        }
        self.list.extend(more);
    }
}
