//! What the copier produced: counts, the source's figures read on the way, where the new tree
//! and freelist are, and the two meta pages that describe them (written last, over the
//! placeholders at the start of the copy).

use crate::bbolt::meta::{meta_page, MetaFields};
use crate::bbolt::order::{ByteOrder, PageId};
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use std::io;

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// Pages written (the high-water mark).
    pub pages: u64,
    /// Key/value entries copied (bucket entries excluded).
    pub entries: u64,
    /// Top-level bucket entries the filter dropped.
    pub dropped: u64,
}

/// Figures of the source summed while it was read: etcdutl's HASH (CRC-32C over every
/// top-level bucket's name, keys and values, in order) and TOTAL KEYS (top-level buckets'
/// entries), as the source was before any filtering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceSums {
    /// The CRC-32C.
    pub crc: u32,
    /// The entry count.
    pub keys: u64,
}

/// What [`copier::write`](super::copier::write) produced: the page count and where the tree and freelist are.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Counts.
    pub written: Written,
    /// Figures of the source, computed while it was read.
    pub src: SourceSums,
    /// Root page of the root bucket.
    pub root: PageId,
    /// Freelist page, or [`NO_FREELIST`](crate::bbolt::meta::NO_FREELIST).
    pub freelist: PageId,
    /// Page size of the copy.
    pub page_size: u64,
    /// Byte order of the copy.
    pub order: ByteOrder,
}

/// Why [`copier::write`](super::copier::write) failed.
#[derive(Debug)]
pub enum WriteError {
    /// The output failed (a full disk).
    Io(io::Error),
    /// The source's tree cannot be read whole: the first problem met.
    Source(Problem),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Io(e) => write!(f, "{e}"),
            WriteError::Source(p) => write!(f, "the source cannot be read whole: {p}"),
        }
    }
}

impl From<io::Error> for WriteError {
    fn from(e: io::Error) -> WriteError {
        WriteError::Io(e)
    }
}

/// The two meta pages of the copy: page 0 with txid `txid`, page 1 with `txid - 1`, both
/// describing the same tree (as bbolt's `Tx.WriteTo` does), in the copy's page size and order.
pub fn meta_pages(view: &DbView<'_>, l: &Layout) -> Vec<u8> {
    meta_pages_at(l, view.meta().txid.0, view.meta().root_sequence)
}

/// The two meta pages of a copy laid out as `l`: page 0 with txid `txid` (at least 1), page 1
/// with the txid before it, both describing the same tree, whose root bucket has sequence `seq`.
pub fn meta_pages_at(l: &Layout, txid: u64, seq: u64) -> Vec<u8> {
    let (o, ps) = (l.order, l.page_size);
    let txid = txid.max(1);
    let f = MetaFields { root: l.root, seq, freelist: l.freelist, pgid: l.written.pages };
    let mut m = meta_page(o, ps, 0, &f, txid);
    m.extend(meta_page(o, ps, 1, &f, txid - 1));
    m
}
