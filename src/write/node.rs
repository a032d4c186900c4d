//! A node of a tree being written: its elements, and their encoding as one page run (page
//! header, element headers, then keys and values packed in element order, as bbolt lays them out).

use crate::bbolt::order::{ByteOrder, PageId};
use crate::bbolt::page::{self, Header, BRANCH, ELEMENT_SIZE, LEAF, PAGE_HEADER_SIZE};
use std::borrow::Cow;

/// One element of a node being built.
#[derive(Clone, Debug)]
pub enum Elem<'a> {
    /// A leaf element: flags (`BUCKET_LEAF_FLAG` for a bucket entry), key and value.
    Leaf {
        /// Element flags.
        flags: u32,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: Cow<'a, [u8]>,
    },
    /// A branch element: the first key of the child's subtree, and the child.
    Branch {
        /// The separator key.
        key: &'a [u8],
        /// The child page.
        child: PageId,
    },
}

impl<'a> Elem<'a> {
    /// The element's key.
    pub fn key(&self) -> &'a [u8] {
        match self {
            Elem::Leaf { key, .. } | Elem::Branch { key, .. } => key,
        }
    }
    /// Bytes of key and value (key alone for a branch element).
    pub fn payload(&self) -> u64 {
        match self {
            Elem::Leaf { key, value, .. } => (key.len() + value.len()) as u64,
            Elem::Branch { key, .. } => key.len() as u64,
        }
    }
}

/// Serializes a node (page header, elements, packed keys and values) at the end of `out`, as
/// `ceil(size / ps)` pages.
pub fn encode(out: &mut Vec<u8>, o: ByteOrder, id: PageId, elems: &[Elem<'_>], size: u64, ps: u64) {
    let pages = size.div_ceil(ps).max(1);
    let start = out.len();
    let leaf = matches!(elems.first(), None | Some(Elem::Leaf { .. }));
    // Header and element headers first (zeroed, then filled in); keys and values are appended
    // after them, and only the tail of the last page is zeroed, so the data area, nearly all of
    // the page, is written once.
    let head = PAGE_HEADER_SIZE + ELEMENT_SIZE * elems.len();
    out.reserve((pages * ps) as usize);
    out.resize(start + head, 0);
    let h =
        Header { id, flags: if leaf { LEAF } else { BRANCH }, count: elems.len() as u16, overflow: (pages - 1) as u32 };
    h.write(&mut out[start..], o);
    for (i, e) in elems.iter().enumerate() {
        let at = start + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let pos = (out.len() - at) as u32;
        let h = &mut out[at..at + ELEMENT_SIZE];
        match e {
            Elem::Leaf { flags, key, value } => {
                page::write_leaf_elem(h, o, *flags, pos, key.len() as u32, value.len() as u32);
                out.extend_from_slice(key);
                out.extend_from_slice(value);
            }
            Elem::Branch { key, child } => {
                page::write_branch_elem(h, o, pos, key.len() as u32, *child);
                out.extend_from_slice(key);
            }
        }
    }
    debug_assert!(out.len() <= start + (pages * ps) as usize, "node larger than its size");
    out.resize(start + (pages * ps) as usize, 0);
}
