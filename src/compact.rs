//! Writing a compacted, defragmented copy: every bucket is rebuilt bottom-up from its entries in
//! key order, leaves and branches cut by bbolt's own split rules ([`Splitter`](crate::predict::Splitter)), pages written
//! sequentially with no free page between them. Optionally etcd's MVCC compaction at a revision is
//! applied on the way. The copy goes to any `Write`; [`crate::db`] handles files safely.

use crate::bitmap::AtomicBitmap;
use crate::btree::MAX_DEPTH;
use crate::bulk::{put, put_header, Elem, Tree};
use crate::cursor::{self, BucketRoot};
use crate::error::{Error, Problem};
use crate::etcd::compaction::{self, Keep};
use crate::etcd::{revision, KEY_BUCKET, META_BUCKET};
use crate::meta::{meta_page, MetaFields, MIN_FILE_LEN, NO_FREELIST};
use crate::page::{ByteOrder, LeafElem, Page, Run, BUCKET_LEAF_FLAG, FREELIST};
use crate::pipeline::{self, Pages};
use crate::view::DbView;
use std::borrow::Cow;
use std::io::{self, Write};

/// What to write.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Leaf and branch fill percent (bbolt's FillPercent), 0.5-1.0.
    pub fill: f64,
    /// etcd MVCC compaction at this revision (None: copy every revision).
    pub revision: Option<u64>,
    /// Page size of the copy (None: the source's). A power of two in [`PAGE_SIZES`].
    pub page_size: Option<u64>,
    /// Byte order of the copy (None: the source's).
    pub order: Option<ByteOrder>,
}

impl Default for Options {
    /// bbolt compact's choices: fill 1.0, every revision, the source's page size and byte order.
    fn default() -> Options {
        Options { fill: 1.0, revision: None, page_size: None, order: None }
    }
}

/// The page sizes a copy may be written with: from the smallest that bbolt's page-size discovery
/// probes for (1 KiB) to the largest host page size it is used with (64 KiB, arm64/ppc64le).
pub const PAGE_SIZES: std::ops::RangeInclusive<u64> = 1024..=65536;

/// Whether `ps` is a page size a copy may be written with (a power of two in [`PAGE_SIZES`]).
pub fn page_size_ok(ps: u64) -> bool {
    ps.is_power_of_two() && PAGE_SIZES.contains(&ps)
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// Pages written (the high-water mark).
    pub pages: u64,
    /// Key/value entries copied (bucket entries excluded).
    pub entries: u64,
    /// `key` bucket entries dropped by the compaction.
    pub compacted_away: u64,
}

/// Copies the tree of `view` into pages 2.. (metas are written last, see [`write()`](fn@write)).
struct Copier<'v, 'a> {
    view: &'v DbView<'a>,
    pages: Pages<'a>,
    opt: Options,
    keep: Option<Keep>,
    written: Written,
    src: SrcSums,
    err: Option<io::Error>,
    /// Progress: told (source leaf bytes read, their estimated total).
    progress: Box<dyn FnMut(u64, u64) + Send>,
    /// Source leaf bytes read, their total as [`progress_total`] estimates, and the count at the
    /// last report.
    done: (u64, u64, u64),
    /// The `key` bucket's key that gives etcdutl's REVISION, see [`Copier::last_key_of`].
    last_key: Option<&'a [u8]>,
    /// Leaf pages copied so far: a damaged file whose buckets share pages, or nest in a cycle,
    /// is refused when a page comes round again, instead of being copied twice or forever.
    visited: AtomicBitmap,
}

impl<'a> Copier<'_, 'a> {
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
        inline_ok: bool,
    ) -> Result<Vec<u8>, Problem> {
        let view = self.view;
        if depth > MAX_DEPTH {
            let msg = format!("buckets nested deeper than {MAX_DEPTH} levels");
            return Err(Problem::new(crate::ProblemKind::TooDeep, msg));
        }
        // Compaction records itself in meta: scheduledCompactRev = finishedCompactRev = R.
        let mut extra: Vec<(&'static [u8], Vec<u8>)> = Vec::new();
        if let (Some(META_BUCKET), Some(r)) = (top, self.opt.revision) {
            let mut rev = r.to_be_bytes().to_vec();
            rev.push(b'_');
            rev.extend(0u64.to_be_bytes());
            extra = vec![(b"finishedCompactRev", rev.clone()), (b"scheduledCompactRev", rev)];
        }
        let mut b = InBucket {
            tree: Tree::new(self.pages.ps, fill, inline_ok),
            extra: extra.into_iter().peekable(),
            ord: 0,
            is_key: top == Some(KEY_BUCKET) && self.keep.is_some(),
            top,
            depth,
        };
        cursor::for_each_leaf(view, root, &mut |page| {
            // Page 0 is an inline bucket's page, which lives in its parent's value.
            if page.id != 0 && self.visited.test_and_set(page.id) {
                let msg = format!("page {} is reached a second time while copying", page.id);
                return Err(Problem::new(crate::ProblemKind::MultipleReferences, msg).page(page.id));
            }
            // etcdutl's figures of the source, as read (before any compaction). Keys and values
            // packed back to back in the page are hashed as one run, not entry by entry.
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
                self.entry(&mut b, &e)?;
            }
            self.hash(run.take())?;
            if depth <= 1 {
                self.progress_page();
            }
            if depth == 1 && top == Some(KEY_BUCKET) {
                self.last_key_of(page);
            }
            Ok(())
        })?;
        let mut t = b.tree;
        for (k, v) in b.extra {
            self.written.entries += 1;
            self.put(&mut t, 0, k, Cow::Owned(v));
        }
        let mut value = vec![0u8; 16];
        put(&mut value, self.pages.order, 8, seq, 8);
        match t.finish(&mut self.pages) {
            Ok(Ok(inline)) => value.extend(inline),
            Ok(Err(root)) => put(&mut value, self.pages.order, 0, root, 8),
            Err(e) => self.io(Err(e)),
        }
        Ok(value)
    }

    /// Queues bytes for etcdutl's HASH of the source.
    fn hash(&mut self, bytes: Option<&'a [u8]>) -> Result<(), Problem> {
        bytes.map_or(Ok(()), |b| self.pages.hash(b).map_err(stopped))
    }

    fn progress_page(&mut self) {
        let (done, total, reported) = &mut self.done;
        *done += self.view.page_size as u64;
        if *done - *reported >= PROGRESS_STEP {
            *reported = *done;
            (self.progress)(*done, (*total).max(*done));
        }
    }

    /// Notes the key etcdutl's REVISION comes from, as [`crate::status`] picks it: a leaf's last
    /// key (each key, in a leaf with bucket entries) when it is long enough to hold a revision.
    /// Only lengths are read here; the key itself is decoded once, at the end.
    fn last_key_of(&mut self, page: &Page<'a>) {
        let mut elems = (0..usize::from(page.count)).rev().filter_map(|i| page.leaf_elem(i).ok());
        let has_bucket = elems.clone().any(|e| e.is_bucket());
        let long = |e: LeafElem<'a>| (e.key.len() >= 8).then_some(e.key);
        let key = if has_bucket { elems.find_map(long) } else { elems.next().and_then(long) };
        self.last_key = key.or(self.last_key);
    }

    /// One entry of a bucket being copied: the meta bucket's compaction records merged in
    /// order, compacted `key` revisions dropped, sub-buckets copied recursively.
    fn entry(&mut self, b: &mut InBucket<'a>, e: &LeafElem<'a>) -> Result<(), Problem> {
        while let Some((k, v)) = b.extra.next_if(|(k, _)| *k <= e.key) {
            let replaces = k == e.key;
            self.written.entries += 1;
            self.put(&mut b.tree, 0, k, Cow::Owned(v));
            if replaces {
                return Ok(());
            }
        }
        if b.is_key {
            let kept = self.keep.as_ref().is_some_and(|k| k.get(b.ord));
            b.ord += 1;
            if !kept {
                self.written.compacted_away += 1;
                return Ok(());
            }
        }
        if e.is_bucket() {
            let Some(sub) = cursor::bucket_root(self.view, e.value) else {
                let msg = format!("bucket {} unreadable", crate::btree::hex(e.key));
                return Err(Problem::new(crate::ProblemKind::BucketMalformed, msg));
            };
            let seq = self.view.order.u64(e.value, 8).unwrap_or(0);
            let v = self.bucket(sub, seq, self.opt.fill, b.top.or(Some(e.key)), b.depth + 1, true)?;
            self.put(&mut b.tree, BUCKET_LEAF_FLAG, e.key, Cow::Owned(v));
        } else {
            self.written.entries += 1;
            self.put(&mut b.tree, 0, e.key, Cow::Borrowed(e.value));
        }
        Ok(())
    }
}

/// A bucket being copied: its new tree, the records the compaction adds to it (`meta` only),
/// and where it sits.
struct InBucket<'a> {
    tree: Tree<'a>,
    extra: Extra,
    /// Position of the next entry in the `key` bucket (the keep set is by position).
    ord: u64,
    /// Whether this is the `key` bucket of a compaction.
    is_key: bool,
    /// The top-level bucket it is in (itself, at depth 1).
    top: Option<&'a [u8]>,
    /// Nesting depth of its entries (0: the root bucket's).
    depth: u32,
}

/// Records the compaction adds to the `meta` bucket, in key order.
type Extra = std::iter::Peekable<std::vec::IntoIter<(&'static [u8], Vec<u8>)>>;

/// Source bytes read between two progress reports.
const PROGRESS_STEP: u64 = 4 << 20;

/// The total [`write()`](fn@write)'s progress counts to: the leaf pages of the root bucket and of
/// every top-level bucket (counted from their branch pages, see [`cursor::leaf_pages`]) times
/// the page size. Free pages are not in it, so it measures the work, not the file.
pub fn progress_total(view: &DbView<'_>) -> u64 {
    let ps = view.page_size as u64;
    let root = cursor::root(view);
    let mut leaves = cursor::leaf_pages(view, root);
    let _ = cursor::for_each(view, root, &mut |e| {
        if let Some(b) = e.is_bucket().then(|| cursor::bucket_root(view, e.value)).flatten() {
            leaves += cursor::leaf_pages(view, b);
        }
    });
    leaves.saturating_mul(ps)
}

/// The walk stops when the output failed (the output's own error is what is reported).
fn stopped(e: io::Error) -> Problem {
    Problem::new(crate::ProblemKind::BucketMalformed, format!("output failed: {e}"))
}

/// etcdutl's HASH, TOTAL KEYS and REVISION of the source, summed while copying it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SrcSums {
    /// CRC-32C over every top-level bucket's name, keys and values.
    pub crc: u32,
    /// Entries of top-level buckets.
    pub keys: u64,
    /// Main revision of the last `key` bucket entry.
    pub last_rev: Option<u64>,
}

/// What [`write()`](fn@write) produced: the page count and where the tree and freelist are.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Counts.
    pub written: Written,
    /// etcdutl's figures of the source, computed while it was read.
    pub src: SrcSums,
    /// Root page of the root bucket.
    pub root: u64,
    /// Freelist page, or the no-freelist sentinel.
    pub freelist: u64,
    /// With an MVCC compaction: which `key` entries of the source survived.
    pub keep: Option<Keep>,
    /// Page size of the copy.
    pub page_size: u64,
    /// Byte order of the copy.
    pub order: ByteOrder,
}

/// Writes pages 2.. of the compacted copy of `view` to `out` (after two placeholder meta pages),
/// and an empty freelist page at the end if the source has a freelist page. The caller writes
/// the meta pages over the placeholders ([`meta_pages`]); a copy shorter than [`MIN_FILE_LEN`] is
/// zero-padded to it, which bbolt takes as room to grow into. The copy has the source's page size
/// and byte order unless `opt` names others (a page size outside [`page_size_ok`] is refused).
/// The source is read on this thread while two more encode and write (see [`crate::pipeline`]);
/// memory stays bounded whatever the size.
/// `progress` is told, every few megabytes and at the end, the source leaf bytes read so far and
/// their total ([`progress_total`]), so a progress bar can show a rate and the time left.
pub fn write<W: Write + Send>(
    view: &DbView<'_>,
    opt: &Options,
    mut out: W,
    progress: Box<dyn FnMut(u64, u64) + Send>,
) -> Result<Layout, Error> {
    let ps = opt.page_size.unwrap_or(view.page_size as u64);
    let o = opt.order.unwrap_or(view.order);
    if opt.page_size.is_some() && !page_size_ok(ps) {
        let (lo, hi) = (PAGE_SIZES.start(), PAGE_SIZES.end());
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("page size {ps} is not a power of two from {lo} to {hi}"),
        )));
    }
    let keep = match (opt.revision, cursor::top_bucket(view, KEY_BUCKET)) {
        (Some(rev), Ok(Some(kb))) => Some(compaction::keep(view, kb, rev).map_err(|p| Error::NotBbolt(p.to_string()))?),
        _ => None,
    };
    // Placeholders for the two meta pages, written over at the end by the caller.
    let head = vec![0u8; 2 * ps as usize];
    let total = progress_total(view);
    let (walked, crc) = pipeline::run(o, ps, 2, head, &mut out, |pages| {
        let mut c = Copier {
            view,
            pages,
            opt: *opt,
            keep,
            written: Written::default(),
            src: SrcSums::default(),
            err: None,
            progress,
            done: (0, total, 0),
            last_key: None,
            visited: AtomicBitmap::new(view.tracked_pages()),
        };
        // The root bucket: fill percent 0.5 (bbolt's default for it), never inline.
        let root_val = c.bucket(cursor::root(view), 0, 0.5, None, 0, false);
        (c.progress)(c.done.0, c.done.1.max(c.done.0));
        let freelist = if root_val.is_ok() && view.meta().has_freelist_page() {
            let mut p = vec![0u8; ps as usize];
            let id = c.pages.next;
            put_header(&mut p, o, id, FREELIST, 0, 0);
            let r = c.pages.raw(p);
            c.io(r);
            id
        } else {
            NO_FREELIST
        };
        let written = Written { pages: c.pages.next, ..c.written };
        let src = SrcSums { last_rev: c.last_key.and_then(revision::main_of), ..c.src };
        (root_val, c.err, written, src, freelist, c.keep)
    })?;
    let (root_val, err, written, src, freelist, keep) = walked;
    if let Some(e) = err {
        return Err(Error::Io(e));
    }
    let root_val = root_val.map_err(|p| Error::NotBbolt(format!("the source cannot be read whole: {p}")))?;
    let root = o.u64(&root_val, 0).unwrap_or(0);
    let len = written.pages.saturating_mul(ps);
    if len < MIN_FILE_LEN {
        out.write_all(&vec![0; (MIN_FILE_LEN - len) as usize])?;
        out.flush()?;
    }
    Ok(Layout { written, src: SrcSums { crc, ..src }, root, freelist, keep, page_size: ps, order: o })
}

/// The two meta pages of the copy: page 0 with txid `txid`, page 1 with `txid - 1`, both
/// describing the same tree (as bbolt's `Tx.WriteTo` does), in the copy's page size and order.
pub fn meta_pages(view: &DbView<'_>, l: &Layout) -> Vec<u8> {
    let (o, ps) = (l.order, l.page_size);
    let txid = view.meta().txid.max(1);
    let f = MetaFields { root: l.root, seq: view.meta().root_sequence, freelist: l.freelist, pgid: l.written.pages };
    let mut m = meta_page(o, ps, 0, &f, txid);
    m.extend(meta_page(o, ps, 1, &f, txid - 1));
    m
}
