//! Bulk loading a B+tree the way bbolt would have built it: elements pushed in key order, nodes
//! cut by bbolt's split rules ([`Splitter`]), written bottom-up as pages with consecutive ids,
//! each parent's first key taken from its child; a bucket small enough is kept inline.

use super::node::{encode, Elem};
use super::pipeline::Pages;
use crate::bbolt::order::PageId;
use crate::bbolt::page::{ELEMENT_SIZE, PAGE_HEADER_SIZE};
use crate::bbolt::split::Splitter;
use std::io;

/// Builds one bucket's tree from its entries in order; returns the root page id (or the inline
/// page bytes when the whole bucket fits a quarter page, has no sub-buckets and may be inline).
pub struct Tree<'a> {
    ps: u64,
    fill: f64,
    inline_ok: bool,
    pending: Vec<Elem<'a>>,
    pending_size: u64,
    levels: Vec<Level<'a>>,
}

/// One level of a tree being built (0: the leaves).
struct Level<'a> {
    /// Cuts the level's elements into nodes.
    split: Splitter<Elem<'a>>,
    /// The branch element for the level's first node, held back until a second node appears:
    /// alone, that node is the root.
    first: Option<Elem<'a>>,
    /// Nodes written at this level.
    written: u64,
}

impl<'a> Level<'a> {
    fn new(ps: u64, fill: f64) -> Level<'a> {
        Level { split: Splitter::new(ps, fill), first: None, written: 0 }
    }
}

/// A finished tree.
#[derive(Debug, PartialEq, Eq)]
pub enum Built {
    /// The whole bucket fits inline: its leaf page's bytes, for the parent's value.
    Inline(Vec<u8>),
    /// The tree's root page.
    Root(PageId),
}

impl<'a> Tree<'a> {
    /// A tree of pages of `ps` bytes filled to `fill`; `inline_ok` when the bucket may be inline.
    pub fn new(ps: u64, fill: f64, inline_ok: bool) -> Tree<'a> {
        Tree { ps, fill, inline_ok, pending: Vec::new(), pending_size: PAGE_HEADER_SIZE as u64, levels: Vec::new() }
    }

    /// Adds the next element (in key order), writing every node it completes.
    pub fn push(&mut self, w: &mut Pages<'a>, e: Elem<'a>) -> io::Result<()> {
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
            self.levels.push(Level::new(self.ps, self.fill));
        }
        let payload = e.payload();
        let mut done = Vec::new();
        self.levels[level].split.push(e, payload, &mut |node, size| done.push((node, size)));
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
        l.written += 1;
        match l.first.take() {
            // The first node of the level: held back, it may be the root.
            None if l.written == 1 => l.first = Some(up),
            // The second: now both go up a level.
            Some(first) => {
                self.add(w, level + 1, first)?;
                self.add(w, level + 1, up)?;
            }
            None => self.add(w, level + 1, up)?,
        }
        Ok(())
    }

    /// Finishes the tree: its root page, or the inline page bytes.
    pub fn finish(mut self, w: &mut Pages<'a>) -> io::Result<Built> {
        if self.inline_ok {
            let mut buf = Vec::new();
            let size = self.pending_size;
            encode(&mut buf, w.order, PageId(0), &self.pending, size, size);
            buf.truncate(size as usize);
            return Ok(Built::Inline(buf));
        }
        let mut level = 0;
        loop {
            if self.levels.len() <= level {
                self.levels.push(Level::new(self.ps, self.fill));
            }
            let sp = std::mem::replace(&mut self.levels[level].split, Splitter::new(self.ps, self.fill));
            let mut done = Vec::new();
            sp.finish(&mut |node, size| done.push((node, size)));
            for (node, size) in done {
                // An empty leftover (every node already written) is no node at all, except for
                // an empty tree, whose root is one empty leaf.
                if node.is_empty() && (self.levels[level].written > 0 || level > 0) {
                    continue;
                }
                self.emit(w, level, node, size)?;
            }
            let top = self.levels.len() == level + 1;
            let l = &mut self.levels[level];
            if l.written == 1 && top {
                // The only node of the top level is the root; it was held back, never sent up.
                if let Some(Elem::Branch { child, .. }) = l.first.take() {
                    return Ok(Built::Root(child));
                }
                return Err(io::Error::other("tree builder: the root node went missing"));
            }
            level += 1;
        }
    }
}
