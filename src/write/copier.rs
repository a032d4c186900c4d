//! Writing a compacted, defragmented copy of a bbolt file: every bucket is rebuilt bottom-up
//! from its entries in key order, leaves and branches cut by bbolt's own split rules
//! ([`Splitter`](crate::bbolt::split::Splitter)), pages written sequentially with no free page
//! between them. What is copied is decided from above by a [`Filter`] (etcd's MVCC compaction
//! plugs in there, from the compact job); the copy goes to any `Write`.

use super::node::Elem;
pub use super::output::{meta_pages, meta_pages_at, Layout, SourceSums, WriteError, Written};
use super::pipeline::{self, Pages};
use super::tree::{Built, Tree};
use crate::bbolt::bitmap::AtomicBitmap;
use crate::bbolt::bucket::{self, BucketRoot};
use crate::bbolt::cursor;
use crate::bbolt::layout::Run;
use crate::bbolt::meta::{MIN_FILE_LEN, NO_FREELIST};
use crate::bbolt::order::{ByteOrder, PageId};
use crate::bbolt::page::{Header, LeafElem, Page, BUCKET_LEAF_FLAG, FREELIST};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{hex, MAX_DEPTH};
use crate::problem::{Problem, ProblemKind};
use std::borrow::Cow;
use std::io::{self, Write};

/// How to lay the copy out.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Leaf and branch fill percent (bbolt's FillPercent), 0.5-1.0.
    pub fill: f64,
    /// Page size of the copy (None: the source's). A power of two in [`PAGE_SIZES`].
    pub page_size: Option<u64>,
    /// Byte order of the copy (None: the source's).
    pub order: Option<ByteOrder>,
}

impl Default for Options {
    /// bbolt compact's choices: fill 1.0, the source's page size and byte order.
    fn default() -> Options {
        Options { fill: 1.0, page_size: None, order: None }
    }
}

/// The page sizes a copy may be written with: from the smallest that bbolt's page-size discovery
/// probes for (1 KiB) to the largest host page size it is used with (64 KiB, arm64/ppc64le).
pub const PAGE_SIZES: std::ops::RangeInclusive<u64> = 1024..=65536;

/// Whether `ps` is a page size a copy may be written with (a power of two in [`PAGE_SIZES`]).
pub fn page_size_ok(ps: u64) -> bool {
    ps.is_power_of_two() && PAGE_SIZES.contains(&ps)
}

/// Decides, above the bbolt layer, what a copy holds. Called on the walking thread, in key order.
pub trait Filter<'a>: Send {
    /// Entries to add to top-level bucket `top`, sorted by key; one whose key equals an existing
    /// entry's replaces it.
    fn extra(&mut self, top: &[u8]) -> Vec<(&'static [u8], Vec<u8>)> {
        let _ = top;
        Vec::new()
    }
    /// Whether entry number `ord` (from 0, in key order) of top-level bucket `top` is copied.
    fn keep(&mut self, top: &[u8], ord: u64, e: &LeafElem<'a>) -> bool {
        let _ = (top, ord, e);
        true
    }
    /// A leaf page of top-level bucket `top` (holding its own entries) was read.
    fn leaf(&mut self, top: &'a [u8], page: &Page<'a>) {
        let _ = (top, page);
    }
}

/// The filter that copies everything as it is.
pub struct CopyAll;

impl Filter<'_> for CopyAll {}

/// Progress: told (source leaf bytes read, their estimated total).
pub type Progress = Box<dyn FnMut(u64, u64) + Send>;

/// Source bytes read between two progress reports.
const PROGRESS_STEP: u64 = 4 << 20;

/// Copies the tree of `view` into pages 2.. (metas are written last, see [`write()`](fn@write)).
struct Copier<'v, 'a, F: Filter<'a>> {
    view: &'v DbView<'a>,
    pages: Pages<'a>,
    fill: f64,
    filter: &'v mut F,
    written: Written,
    src: SourceSums,
    err: Option<io::Error>,
    progress: Progress,
    /// Source leaf bytes read so far.
    done: u64,
    /// Their total, as [`progress_total`] estimates it.
    total: u64,
    /// `done` at the last report.
    reported: u64,
    /// Leaf pages copied so far: a damaged file whose buckets share pages, or nest in a cycle,
    /// is refused when a page comes round again, instead of being copied twice or forever.
    visited: AtomicBitmap,
}

/// A bucket being copied: its new tree, the entries the filter adds to it, and where it sits.
struct InBucket<'a> {
    tree: Tree<'a>,
    extra: std::iter::Peekable<std::vec::IntoIter<(&'static [u8], Vec<u8>)>>,
    /// Position of the next entry (of a top-level bucket) in the source.
    ord: u64,
    /// The top-level bucket it is in (itself, at depth 1).
    top: Option<&'a [u8]>,
    /// Nesting depth of its entries (0: the root bucket's).
    depth: u32,
}

impl<'a, F: Filter<'a>> Copier<'_, 'a, F> {
    fn io(&mut self, r: io::Result<()>) {
        if let (Err(e), None) = (r, &self.err) {
            self.err = Some(e);
        }
    }

    fn put(&mut self, t: &mut Tree<'a>, flags: u32, key: &'a [u8], value: Cow<'a, [u8]>) {
        let r = t.push(&mut self.pages, Elem::Leaf { flags, key, value });
        self.io(r);
    }

    /// Copies a bucket, streaming its entries in key order; returns its new value in the parent.
    fn bucket(
        &mut self,
        root: BucketRoot<'a>,
        seq: u64,
        fill: f64,
        top: Option<&'a [u8]>,
        depth: u32,
    ) -> Result<Vec<u8>, Problem> {
        let view = self.view;
        if depth > MAX_DEPTH {
            let msg = format!("buckets nested deeper than {MAX_DEPTH} levels");
            return Err(Problem::new(ProblemKind::TooDeep, msg));
        }
        let extra = match (top, depth) {
            (Some(t), 1) => self.filter.extra(t),
            _ => Vec::new(),
        };
        // The root bucket is never inline.
        let tree = Tree::new(self.pages.ps, fill, depth > 0);
        let mut b = InBucket { tree, extra: extra.into_iter().peekable(), ord: 0, top, depth };
        cursor::for_each_leaf(view, root, &mut |page| {
            // An inline bucket's page lives in its parent's value (and carries the parent's id).
            if !page.inline && self.visited.test_and_set(page.id.0) {
                let msg = format!("page {} is reached a second time while copying", page.id);
                return Err(Problem::new(ProblemKind::MultipleReferences, msg).page(page.id));
            }
            // Figures of the source, as read (before any filtering). Keys and values packed back
            // to back in the page are hashed as one run, not entry by entry.
            let mut run = Run::new(page);
            for i in 0..usize::from(page.count) {
                let e = page.leaf_elem(i)?;
                match depth {
                    0 => self.hash(Some(e.key))?,
                    1 => {
                        self.hash(run.add(e.key))?;
                        self.hash(if e.is_bucket() { run.take() } else { run.add(e.value) })?;
                        self.src.keys += 1;
                    }
                    _ => {}
                }
                self.entry(&mut b, page, &e)?;
            }
            self.hash(run.take())?;
            if depth <= 1 {
                self.progress_page();
            }
            if let (1, Some(t)) = (depth, top) {
                self.filter.leaf(t, page);
            }
            Ok(())
        })?;
        let mut t = b.tree;
        for (k, v) in b.extra {
            self.written.entries += 1;
            self.put(&mut t, 0, k, Cow::Owned(v));
        }
        let o = self.pages.order;
        Ok(match t.finish(&mut self.pages) {
            Ok(Built::Inline(page)) => bucket::encode(o, None, seq, &page),
            Ok(Built::Root(root)) => bucket::encode(o, Some(root), seq, &[]),
            Err(e) => {
                self.io(Err(e));
                bucket::encode(o, None, seq, &[])
            }
        })
    }

    /// Queues bytes for the source's CRC-32C.
    fn hash(&mut self, bytes: Option<&'a [u8]>) -> Result<(), Problem> {
        bytes.map_or(Ok(()), |b| self.pages.hash(b).map_err(stopped))
    }

    fn progress_page(&mut self) {
        self.done += self.view.page_size;
        if self.done - self.reported >= PROGRESS_STEP {
            self.reported = self.done;
            (self.progress)(self.done, self.total.max(self.done));
        }
    }

    /// One entry of a bucket being copied: the filter's extra entries merged in order, entries
    /// it drops left out, sub-buckets copied recursively.
    fn entry(&mut self, b: &mut InBucket<'a>, page: &Page<'a>, e: &LeafElem<'a>) -> Result<(), Problem> {
        while let Some((k, v)) = b.extra.next_if(|(k, _)| *k <= e.key) {
            let replaces = k == e.key;
            self.written.entries += 1;
            self.put(&mut b.tree, 0, k, Cow::Owned(v));
            if replaces {
                return Ok(());
            }
        }
        if let (1, Some(top)) = (b.depth, b.top) {
            let ord = b.ord;
            b.ord += 1;
            if !self.filter.keep(top, ord, e) {
                self.written.dropped += 1;
                return Ok(());
            }
        }
        if e.is_bucket() {
            let sub = bucket::decode(page, e).map_err(|why| {
                let msg = format!("bucket {}: {why}", hex(e.key));
                Problem::new(ProblemKind::BucketMalformed, msg).page(page.id).offset(page.offset_of(e.value))
            })?;
            let top = b.top.or(Some(e.key));
            let v = self.bucket(sub.root, sub.sequence, self.fill, top, b.depth + 1)?;
            self.put(&mut b.tree, BUCKET_LEAF_FLAG, e.key, Cow::Owned(v));
        } else {
            self.written.entries += 1;
            self.put(&mut b.tree, 0, e.key, Cow::Borrowed(e.value));
        }
        Ok(())
    }
}

/// The total [`write()`](fn@write)'s progress counts to: the leaf pages of the root bucket and of
/// every top-level bucket (counted from their branch pages, see [`cursor::leaf_pages`]) times
/// the page size. Free pages are not in it, so it measures the work, not the file.
pub fn progress_total(view: &DbView<'_>) -> u64 {
    let root = cursor::root(view);
    let mut leaves = cursor::leaf_pages(view, root);
    let _ = cursor::for_each_leaf(view, root, &mut |page| {
        for i in 0..usize::from(page.count) {
            let Ok(e) = page.leaf_elem(i) else { continue };
            if let Some(b) = e.is_bucket().then(|| bucket::decode(page, &e).ok()).flatten() {
                leaves += cursor::leaf_pages(view, b.root);
            }
        }
        Ok(())
    });
    leaves.saturating_mul(view.page_size)
}

/// The walk stops when the output failed (the output's own error is what is reported).
fn stopped(e: io::Error) -> Problem {
    Problem::new(ProblemKind::OutputFailed, format!("output failed: {e}"))
}

/// Writes pages 2.. of the compacted copy of `view` to `out` (after two placeholder meta pages),
/// and an empty freelist page at the end if the source has a freelist page. The caller writes
/// the meta pages over the placeholders ([`meta_pages`]); a copy shorter than [`MIN_FILE_LEN`] is
/// zero-padded to it, which bbolt takes as room to grow into. The copy has the source's page size
/// and byte order unless `opt` names others (a page size outside [`page_size_ok`] is refused).
/// `filter` decides what is copied. The source is read on this thread while two more encode and
/// write (see `pipeline`); memory stays bounded whatever the size. `progress` is told, every few
/// megabytes and at the end, the source leaf bytes read so far and their total
/// ([`progress_total`]), so a progress bar can show a rate and the time left.
pub fn write<'a, W: Write + Send, F: Filter<'a>>(
    view: &DbView<'a>,
    opt: &Options,
    filter: &mut F,
    mut out: W,
    progress: Progress,
) -> Result<Layout, WriteError> {
    let ps = opt.page_size.unwrap_or(view.page_size);
    let o = opt.order.unwrap_or(view.order);
    if opt.page_size.is_some() && !page_size_ok(ps) {
        let (lo, hi) = (PAGE_SIZES.start(), PAGE_SIZES.end());
        let msg = format!("page size {ps} is not a power of two from {lo} to {hi}");
        return Err(WriteError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg)));
    }
    let page_bytes = usize::try_from(ps).map_err(io::Error::other)?;
    // Placeholders for the two meta pages, written over at the end by the caller.
    let head = vec![0u8; 2 * page_bytes];
    let total = progress_total(view);
    let (walked, crc) = pipeline::run(o, ps, 2, head, &mut out, |pages| {
        let mut c = Copier {
            view,
            pages,
            fill: opt.fill,
            filter,
            written: Written::default(),
            src: SourceSums::default(),
            err: None,
            progress,
            done: 0,
            total,
            reported: 0,
            visited: AtomicBitmap::new(view.tracked_pages()),
        };
        // The root bucket: fill percent 0.5 (bbolt's default for it), never inline.
        let root_val = c.bucket(cursor::root(view), 0, 0.5, None, 0);
        (c.progress)(c.done, c.total.max(c.done));
        let freelist = if root_val.is_ok() && view.meta().has_freelist_page() {
            let mut p = vec![0u8; page_bytes];
            let id = PageId(c.pages.next);
            Header { id, flags: FREELIST, count: 0, overflow: 0 }.write(&mut p, o);
            let r = c.pages.raw(p);
            c.io(r);
            id
        } else {
            NO_FREELIST
        };
        let written = Written { pages: c.pages.next, ..c.written };
        (root_val, c.err, written, c.src, freelist)
    })?;
    let (root_val, err, written, src, freelist) = walked;
    if let Some(e) = err {
        return Err(WriteError::Io(e));
    }
    let root_val = root_val.map_err(WriteError::Source)?;
    let root = PageId(o.u64(&root_val, 0).unwrap_or(0));
    let len = written.pages.saturating_mul(ps);
    if len < MIN_FILE_LEN {
        out.write_all(&vec![0; (MIN_FILE_LEN - len) as usize])?;
        out.flush()?;
    }
    Ok(Layout { written, src: SourceSums { crc, ..src }, root, freelist, page_size: ps, order: o })
}
