//! Bulk loading a B+tree the way bbolt would have built it: elements pushed in key order, nodes
//! cut by bbolt's split rules ([`Splitter`](crate::predict::Splitter)), written bottom-up as pages with consecutive ids,
//! each parent's first key taken from its child; a bucket small enough is kept inline.

use crate::page::{ByteOrder, BRANCH, ELEMENT_SIZE, LEAF, PAGE_HEADER_SIZE};
use crate::pipeline::Pages;
use crate::predict::Splitter;
use std::borrow::Cow;
use std::io;

/// One element of a node being built.
#[derive(Clone, Debug)]
pub(crate) enum Elem<'a> {
    Leaf { flags: u32, key: &'a [u8], value: Cow<'a, [u8]> },
    Branch { key: &'a [u8], child: u64 },
}

impl<'a> Elem<'a> {
    pub(crate) fn key(&self) -> &'a [u8] {
        match self {
            Elem::Leaf { key, .. } | Elem::Branch { key, .. } => key,
        }
    }
    pub(crate) fn payload(&self) -> u64 {
        match self {
            Elem::Leaf { key, value, .. } => (key.len() + value.len()) as u64,
            Elem::Branch { key, .. } => key.len() as u64,
        }
    }
}

/// Serializes a node (page header, elements, packed keys and values) at the end of `out`, as
/// `ceil(size / ps)` pages.
pub(crate) fn encode(out: &mut Vec<u8>, o: ByteOrder, id: u64, elems: &[Elem<'_>], size: u64, ps: u64) {
    let pages = size.div_ceil(ps).max(1);
    let start = out.len();
    let leaf = matches!(elems.first(), None | Some(Elem::Leaf { .. }));
    // Header and element headers first (zeroed, then filled in); keys and values are appended
    // after them, and only the tail of the last page is zeroed, so the data area, nearly all of
    // the page, is written once.
    let head = PAGE_HEADER_SIZE + ELEMENT_SIZE * elems.len();
    out.reserve((pages * ps) as usize);
    out.resize(start + head, 0);
    let count = elems.len() as u16;
    put_header(&mut out[start..], o, id, if leaf { LEAF } else { BRANCH }, count, (pages - 1) as u32);
    for (i, e) in elems.iter().enumerate() {
        let at = start + PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let pos = (out.len() - at) as u64;
        let h = &mut out[at..at + ELEMENT_SIZE];
        match e {
            Elem::Leaf { flags, key, value } => {
                put(h, o, 0, u64::from(*flags), 4);
                put(h, o, 4, pos, 4);
                put(h, o, 8, key.len() as u64, 4);
                put(h, o, 12, value.len() as u64, 4);
                out.extend_from_slice(key);
                out.extend_from_slice(value);
            }
            Elem::Branch { key, child } => {
                put(h, o, 0, pos, 4);
                put(h, o, 4, key.len() as u64, 4);
                put(h, o, 8, *child, 8);
                out.extend_from_slice(key);
            }
        }
    }
    debug_assert!(out.len() <= start + (pages * ps) as usize, "node larger than its size");
    out.resize(start + (pages * ps) as usize, 0);
}

pub(crate) fn put(buf: &mut [u8], o: ByteOrder, at: usize, v: u64, n: usize) {
    let b = match o {
        ByteOrder::Little => v.to_le_bytes(),
        ByteOrder::Big => v.to_be_bytes(),
    };
    match o {
        ByteOrder::Little => buf[at..at + n].copy_from_slice(&b[..n]),
        ByteOrder::Big => buf[at..at + n].copy_from_slice(&b[8 - n..]),
    }
}

pub(crate) fn put_header(buf: &mut [u8], o: ByteOrder, id: u64, flags: u16, count: u16, overflow: u32) {
    put(buf, o, 0, id, 8);
    put(buf, o, 8, u64::from(flags), 2);
    put(buf, o, 10, u64::from(count), 2);
    put(buf, o, 12, u64::from(overflow), 4);
}

/// Builds one bucket's tree from its entries in order; returns the root page id (or the inline
/// page bytes when the whole bucket fits a quarter page, has no sub-buckets and may be inline).
pub(crate) struct Tree<'a> {
    ps: u64,
    fill: f64,
    inline_ok: bool,
    pending: Vec<Elem<'a>>,
    pending_size: u64,
    levels: Vec<(Splitter<Elem<'a>>, Option<Elem<'a>>, u64)>,
}

impl<'a> Tree<'a> {
    pub(crate) fn new(ps: u64, fill: f64, inline_ok: bool) -> Tree<'a> {
        Tree { ps, fill, inline_ok, pending: Vec::new(), pending_size: PAGE_HEADER_SIZE as u64, levels: Vec::new() }
    }

    pub(crate) fn push(&mut self, w: &mut Pages<'a>, e: Elem<'a>) -> io::Result<()> {
        if self.inline_ok {
            self.inline_ok = matches!(e, Elem::Leaf { flags: 0, .. });
            self.pending_size += ELEMENT_SIZE as u64 + e.payload();
            self.pending.push(e);
            if self.inline_ok && self.pending_size <= self.ps / 4 {
                return Ok(());
            }
            self.inline_ok = false;
            for e in std::mem::take(&mut self.pending) {
                self.add(w, 0, e)?;
            }
            return Ok(());
        }
        self.add(w, 0, e)
    }

    /// Adds an element at `level`, writing every node that completes and pushing its first key
    /// one level up. The first node of a level is held back until a second one appears: alone,
    /// it is the root.
    fn add(&mut self, w: &mut Pages<'a>, level: usize, e: Elem<'a>) -> io::Result<()> {
        if self.levels.len() <= level {
            self.levels.push((Splitter::new(self.ps, self.fill), None, 0));
        }
        let payload = e.payload();
        let mut done = Vec::new();
        self.levels[level].0.push(e, payload, &mut |node, size| done.push((node, size)));
        for (node, size) in done {
            self.emit(w, level, node, size)?;
        }
        Ok(())
    }

    fn emit(&mut self, w: &mut Pages<'a>, level: usize, node: Vec<Elem<'a>>, size: u64) -> io::Result<()> {
        let key = node.first().map_or(&[][..], Elem::key);
        let id = w.node(node, size)?;
        let up = Elem::Branch { key, child: id };
        let l = &mut self.levels[level];
        l.2 += 1;
        match l.2 {
            1 => l.1 = Some(up),
            2 => {
                let first = l.1.take().expect("held back");
                self.add(w, level + 1, first)?;
                self.add(w, level + 1, up)?;
            }
            _ => self.add(w, level + 1, up)?,
        }
        Ok(())
    }

    /// Finishes the tree: `Ok(Err(root page))` or `Ok(Ok(inline page bytes))`.
    pub(crate) fn finish(mut self, w: &mut Pages<'a>) -> io::Result<Result<Vec<u8>, u64>> {
        if self.inline_ok {
            let mut buf = Vec::new();
            let size = self.pending_size;
            encode(&mut buf, w.order, 0, &self.pending, size, size);
            buf.truncate(size as usize);
            return Ok(Ok(buf));
        }
        let mut level = 0;
        loop {
            if self.levels.len() <= level {
                self.levels.push((Splitter::new(self.ps, self.fill), None, 0));
            }
            let sp = std::mem::replace(&mut self.levels[level].0, Splitter::new(self.ps, self.fill));
            let mut done = Vec::new();
            sp.finish(&mut |node, size| done.push((node, size)));
            for (node, size) in done {
                // An empty leftover (every node already written) is no node at all, except for
                // an empty tree, whose root is one empty leaf.
                if node.is_empty() && (self.levels[level].2 > 0 || level > 0) {
                    continue;
                }
                self.emit(w, level, node, size)?;
            }
            let l = &mut self.levels[level];
            if l.2 == 1 && self.levels.len() == level + 1 {
                let Some(Elem::Branch { child, .. }) = self.levels[level].1.take() else { unreachable!() };
                return Ok(Err(child));
            }
            level += 1;
        }
    }
}
