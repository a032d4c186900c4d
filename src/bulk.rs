//! Bulk loading a B+tree the way bbolt would have built it: elements pushed in key order, nodes
//! cut by bbolt's split rules ([`Splitter`](crate::predict::Splitter)), written bottom-up as pages with consecutive ids,
//! each parent's first key taken from its child; a bucket small enough is kept inline.

use crate::page::{ByteOrder, BRANCH, ELEMENT_SIZE, LEAF, PAGE_HEADER_SIZE};
use crate::predict::Splitter;
use std::borrow::Cow;
use std::io::{self, Write};

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
    out.resize(start + (pages * ps) as usize, 0);
    let buf = &mut out[start..];
    let leaf = matches!(elems.first(), None | Some(Elem::Leaf { .. }));
    put_header(buf, o, id, if leaf { LEAF } else { BRANCH }, elems.len() as u16, (pages - 1) as u32);
    let mut data = PAGE_HEADER_SIZE + ELEMENT_SIZE * elems.len();
    for (i, e) in elems.iter().enumerate() {
        let at = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let pos = (data - at) as u32;
        match e {
            Elem::Leaf { flags, key, value } => {
                put(buf, o, at, u64::from(*flags), 4);
                put(buf, o, at + 4, u64::from(pos), 4);
                put(buf, o, at + 8, key.len() as u64, 4);
                put(buf, o, at + 12, value.len() as u64, 4);
                buf[data..data + key.len()].copy_from_slice(key);
                buf[data + key.len()..data + key.len() + value.len()].copy_from_slice(value);
                data += key.len() + value.len();
            }
            Elem::Branch { key, child } => {
                put(buf, o, at, u64::from(pos), 4);
                put(buf, o, at + 4, key.len() as u64, 4);
                put(buf, o, at + 8, *child, 8);
                buf[data..data + key.len()].copy_from_slice(key);
                data += key.len();
            }
        }
    }
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

/// Bytes staged before a write to the output.
pub(crate) const STAGING: usize = 8 << 20;

/// Writes pages in id order to `out`, starting at page 2 (the caller writes the metas).
/// Where staged pages go: any writer, or a pipe to a writer thread.
pub(crate) trait Out {
    /// Takes the staged bytes (leaving `buf` empty, maybe with another allocation).
    fn take(&mut self, buf: &mut Vec<u8>) -> io::Result<()>;
}

impl<W: Write> Out for W {
    fn take(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        self.write_all(buf)?;
        buf.clear();
        Ok(())
    }
}

/// Hands whole staging buffers to a writer thread (no copy), getting emptied ones back, so the
/// kernel's copy into the page cache runs on the other core while encoding goes on.
pub(crate) struct Pipe {
    /// Full buffers to write.
    pub(crate) full: std::sync::mpsc::SyncSender<Vec<u8>>,
    /// Written buffers, for reuse.
    pub(crate) empty: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Out for Pipe {
    fn take(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        let next = self.empty.try_recv().unwrap_or_else(|_| Vec::with_capacity(STAGING + (1 << 20)));
        let full = std::mem::replace(buf, next);
        self.full.send(full).map_err(|_| io::Error::other("the writer thread stopped"))
    }
}

pub(crate) struct Pages<W: Out> {
    pub(crate) out: W,
    pub(crate) order: ByteOrder,
    pub(crate) ps: u64,
    pub(crate) next: u64,
    pub(crate) buf: Vec<u8>,
    pub(crate) progress: Box<dyn FnMut(u64) + Send>,
}

impl<W: Out> Pages<W> {
    /// Writes a node as the next page(s); returns its page id. Nodes are encoded straight into a
    /// large staging buffer that goes to `out` in big writes.
    pub(crate) fn node(&mut self, elems: &[Elem<'_>], size: u64) -> io::Result<u64> {
        let id = self.next;
        let before = self.buf.len();
        encode(&mut self.buf, self.order, id, elems, size, self.ps);
        self.next += (self.buf.len() - before) as u64 / self.ps;
        if self.buf.len() >= STAGING {
            self.flush()?;
        }
        Ok(id)
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.take(&mut self.buf)
    }
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

    pub(crate) fn push<W: Out>(&mut self, w: &mut Pages<W>, e: Elem<'a>) -> io::Result<()> {
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
    fn add<W: Out>(&mut self, w: &mut Pages<W>, level: usize, e: Elem<'a>) -> io::Result<()> {
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

    fn emit<W: Out>(&mut self, w: &mut Pages<W>, level: usize, node: Vec<Elem<'a>>, size: u64) -> io::Result<()> {
        let key = node.first().map_or(&[][..], Elem::key);
        let id = w.node(&node, size)?;
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
    pub(crate) fn finish<W: Out>(mut self, w: &mut Pages<W>) -> io::Result<Result<Vec<u8>, u64>> {
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
