//! The `key` bucket read whole, in revision order, on every core: the leaf pages are listed
//! first (a level of the tree at a time, every page of a level read in parallel; see [`leaves`]),
//! then read in windows of chunks; the chunks of a window are decoded in parallel and handed to
//! the caller in bucket order, so a streaming caller holds one window's results at a time whatever
//! the file size. Each page is loaded into cache while the one before it is read.
//!
//! Every entry is checked on the way: its key must be a revision (17 bytes, or 18 ending in `t`),
//! revisions must strictly increase across the whole bucket (which also catches a leaf reached
//! twice), and its value must decode as an `mvccpb.KeyValue` ([`decode`], in `entry.rs`). The
//! first failure stops the scan with a problem: callers answer from a bucket read whole, or not at
//! all. An empty value is the marker `etcdutl snapshot restore --bump-revision` writes, not a key:
//! it is passed over. A scan of every entry also follows etcd's rule that no revision is missing
//! above the compaction ([`scan`]): that is told beside the answer, which is what the file holds.

use super::continuity::Continuity;
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::order::PageId;
use crate::bbolt::page::Page;
use crate::bbolt::view::DbView;
use crate::problem::{Problem, ProblemKind};
use rayon::prelude::*;

pub use super::entry::{decode, fetch, key_bucket, Entry, FREE_PAGE};
use super::leaves::LeafPage;
pub use super::leaves::{leaves, Leaves};

/// Leaf pages per chunk (one parallel task).
pub const CHUNK_LEAVES: usize = 64;
/// Chunks per window (the results held at once by a streaming caller).
pub const WINDOW_CHUNKS: usize = 32;

/// One element of a leaf, with its position in the bucket.
#[derive(Clone, Copy, Debug)]
pub struct Element<'a> {
    /// The leaf page it sits on.
    pub page: PageId,
    /// Its position in the bucket, counting every element.
    pub ord: u64,
    /// Its key.
    pub key: &'a [u8],
    /// Its value.
    pub value: &'a [u8],
    /// The file offset of its key (where a problem with it is reported).
    pub at: u64,
}

/// What a pass reads of each element, and so what is loaded into cache ahead of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// Every byte (values formatted whole): the part of each leaf its elements use, up to the
    /// end of its last value (not the room a half-full leaf has past it).
    Whole,
    /// The records' keys and fields, values skipped by their length: only the lines holding them
    /// (a fraction of a page of etcd records).
    Records,
}

/// How a pass reads the leaves: what it loads ahead, which elements it wants (by position), and
/// what it does with each.
struct Reader<'s, 'a, T> {
    view: &'s DbView<'a>,
    leaves: &'s Leaves<'a>,
    touch: Touch,
    only: &'s (dyn Fn(u64) -> bool + Sync),
    each: &'s (dyn Fn(&mut T, Element<'a>) -> Result<(), Problem> + Sync),
}

/// Folds the wanted elements of some leaf pages (the first at position `ord`), in order, into
/// `out`.
fn chunk<'a, T>(
    r: &Reader<'_, 'a, T>,
    ord: u64,
    pages: &[LeafPage],
    inline: Option<Page<'a>>,
    mut out: T,
) -> Result<T, Problem> {
    if let Some(page) = inline {
        read_page(r, Ok((page, ord, LeafPage::NONE)), &mut None, &mut out)?;
    }
    // A page none of whose elements is wanted is neither loaded nor read (nor checked: a caller
    // that leaves elements out has read them before). The pages kept, each with its first
    // position, are listed on the stack.
    let (mut kept, mut len, mut at) = ([(LeafPage::NONE, 0u64); CHUNK_LEAVES], 0, ord);
    for part in pages.chunks(CHUNK_LEAVES) {
        for &l in part {
            let first = at;
            at = at.saturating_add(u64::from(l.count));
            if (first..at).any(r.only) {
                kept[len] = (l, first);
                len += 1;
            }
        }
        read_pages(r, &kept[..len], &mut out)?;
        len = 0;
    }
    Ok(out)
}

/// Reads `pages` (each with its first position) into `out`, loading ahead what the reader
/// touches.
fn read_pages<'a, T>(r: &Reader<'_, 'a, T>, pages: &[(LeafPage, u64)], out: &mut T) -> Result<(), Problem> {
    let (view, touch) = (r.view, r.touch);
    // Without loading ahead, every element costs a dependent miss: the CPU's own prefetcher stops
    // at page boundaries, and each element is found through the table. Loading ahead in two
    // stages (a page's element table two pages ahead, then one page ahead what its elements point
    // at) makes a scan over twice as fast.
    let lines = |id: PageId, n: u16| match touch {
        Touch::Whole => view.prefetch_used(id),
        Touch::Records => view.prefetch_records(id, n),
    };
    let ahead = |j: usize| {
        if let Some((l, _)) = pages.get(j + 2) {
            view.prefetch_table(l.id, l.count);
        }
        if let Some((l, _)) = pages.get(j + 1) {
            lines(l.id, l.count);
        }
    };
    if let Some((a, _)) = pages.first() {
        view.prefetch_table(a.id, a.count);
        if let Some((b, _)) = pages.get(1) {
            view.prefetch_table(b.id, b.count);
        }
        lines(a.id, a.count);
    }
    let fetched = pages.iter().enumerate().map(|(j, &(l, first))| {
        ahead(j);
        // The count the ordinals were planned with must still hold.
        view.page(l.id).and_then(|p| {
            if p.count == l.count {
                Ok((p, first, l))
            } else {
                let msg = format!("page {} changed while it was read", l.id);
                Err(Problem::new(ProblemKind::Torn, msg).page(l.id))
            }
        })
    });
    let mut parent = None;
    for page in fetched {
        read_page(r, page, &mut parent, out)?;
    }
    Ok(())
}

/// Reads the wanted elements of one page (with its first position) into `out`.
fn read_page<'a, T>(
    r: &Reader<'_, 'a, T>,
    page: Result<(Page<'a>, u64, LeafPage), Problem>,
    parent: &mut Option<(u32, Page<'a>)>,
    out: &mut T,
) -> Result<(), Problem> {
    let (page, first, listed) = page?;
    // Its first key must be the key of the branch element naming it, whichever elements are
    // wanted (the line is loaded for them anyway).
    if page.count > 0 {
        let e = page.leaf_elem(0)?;
        if let Some(p) = r.leaves.first_key_problem(r.view, &listed, (e.key, page.offset_of(e.key)), parent) {
            return Err(p);
        }
    }
    for i in 0..usize::from(page.count) {
        let at = first.saturating_add(i as u64);
        if (r.only)(at) {
            let e = page.leaf_elem(i)?;
            if e.is_bucket() {
                // Not a record etcd wrote: the same problem `check` reports.
                return Err(super::records::nested_in_key(page.offset_of(e.key), r.view.page_size));
            }
            let e = Element { page: page.id, ord: at, key: e.key, value: e.value, at: page.offset_of(e.key) };
            (r.each)(out, e)?;
        }
    }
    Ok(())
}

/// Reads the elements of `leaves` in windows, undecoded: `each` folds the elements of a chunk
/// (consecutive leaf pages) whose positions `only` picks into a fresh `T` from `fresh`, chunks
/// run in parallel, and `sink` receives every chunk's `T` in bucket order. A page with no element
/// picked is not read at all. Stops at the first problem (from `each`, a page, or `sink`).
pub fn scan_elements<'a, T: Send>(
    view: &DbView<'a>,
    leaves: &Leaves<'a>,
    touch: Touch,
    only: &(dyn Fn(u64) -> bool + Sync),
    fresh: &(dyn Fn() -> T + Sync),
    each: &(dyn Fn(&mut T, Element<'a>) -> Result<(), Problem> + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let reader = Reader { view, leaves, touch, only, each };
    if let Some(page) = leaves.inline {
        return sink(chunk(&reader, 0, &[], Some(page), fresh())?);
    }
    let mut ord = 0u64;
    // A window's results are handed to `sink` (on this thread: writing a dump, say) while the
    // next window is read on the pool, so neither waits for the other; two windows at most are
    // in memory.
    let mut ready: Vec<Result<T, Problem>> = Vec::new();
    for window in leaves.pages.chunks(CHUNK_LEAVES * WINDOW_CHUNKS) {
        let starts: Vec<u64> = window
            .chunks(CHUNK_LEAVES)
            .map(|c| {
                let at = ord;
                ord += c.iter().map(|l| u64::from(l.count)).sum::<u64>();
                at
            })
            .collect();
        let read = || -> Vec<Result<T, Problem>> {
            window
                .par_chunks(CHUNK_LEAVES)
                .zip(starts)
                .map(|(pages, at)| chunk(&reader, at, pages, None, fresh()))
                .collect()
        };
        let mut next = Vec::new();
        let sunk = rayon::in_place_scope(|s| {
            s.spawn(|_| next = read());
            hand_over(std::mem::take(&mut ready), sink)
        });
        sunk?;
        ready = next;
    }
    hand_over(ready, sink)
}

/// Gives `sink` each chunk's result in order, up to the first problem.
fn hand_over<T>(done: Vec<Result<T, Problem>>, sink: &mut dyn FnMut(T) -> Result<(), Problem>) -> Result<(), Problem> {
    for d in done {
        sink(d?)?;
    }
    Ok(())
}

/// What one chunk decoded: its result, and its first revision (with the page holding it) and its
/// last, for the order check across chunks.
struct Done<T> {
    out: T,
    first: Option<((u64, u64), PageId)>,
    last: Option<(u64, u64)>,
    /// The revisions' continuity (meaningful when every entry is read: [`scan`]).
    seq: Continuity,
}

/// The problem of revision `next` following `prev` (on `page`) in the `key` bucket.
pub(crate) fn out_of_order(page: PageId, prev: (u64, u64), next: (u64, u64)) -> Problem {
    let msg = format!("revision {}.{} follows {}.{}: the key bucket is out of order", next.0, next.1, prev.0, prev.1);
    Problem::new(ProblemKind::KeysOutOfOrder, msg).page(page).bucket(vec!["key".into()])
}

/// Reads the bucket rooted at `kb` in windows: `each` folds the entries of a chunk (consecutive
/// leaf pages) into a fresh `T` from `fresh`, chunks run in parallel, and `sink` receives every
/// chunk's `T` in bucket order. Stops at the first problem (or the first error `sink` returns).
///
/// Every entry is read, so it also tells etcd's rule that no revision is missing above the
/// compaction ([`Continuity`]): the problem, if a hole breaks it, for the caller to tell beside
/// its answer (the bucket reads whole; its answer is what the file holds), or the warning that
/// the holes are as a migration from v2 leaves them (the file passes `check`).
pub fn scan<'a, T: Send>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    fresh: &(dyn Fn() -> T + Sync),
    each: &(dyn Fn(&mut T, &Entry<'a>) + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), Problem>,
) -> Result<Option<Problem>, Problem> {
    let seq = scan_in_order(view, &leaves(view, kb)?, Touch::Records, &|_| true, fresh, each, sink)?;
    let compacted = super::history::Compacted::read(view);
    Ok(seq.problem(compacted.upto).filter(|_| !compacted.unknown))
}

/// [`scan`] over leaves already listed, loading ahead what `touch` says the caller reads, of the
/// entries whose positions `only` picks. The others are passed over undecoded and unchecked: a
/// caller that passes over some has read the bucket whole before (as `dump` computes the
/// survivors of a compaction, checking every entry, before it formats them). Gives the
/// continuity of the revisions read (of every entry, markers included, when `only` picks all).
pub fn scan_leaves<'a, T: Send>(
    view: &DbView<'a>,
    leaves: &Leaves<'a>,
    touch: Touch,
    only: &(dyn Fn(u64) -> bool + Sync),
    fresh: &(dyn Fn() -> T + Sync),
    each: &(dyn Fn(&mut T, &Entry<'a>) + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), Problem>,
) -> Result<Continuity, Problem> {
    scan_in_order(view, leaves, touch, only, fresh, each, sink)
}

/// [`scan_leaves`].
fn scan_in_order<'a, T: Send>(
    view: &DbView<'a>,
    leaves: &Leaves<'a>,
    touch: Touch,
    only: &(dyn Fn(u64) -> bool + Sync),
    fresh: &(dyn Fn() -> T + Sync),
    each: &(dyn Fn(&mut T, &Entry<'a>) + Sync),
    sink: &mut dyn FnMut(T) -> Result<(), Problem>,
) -> Result<Continuity, Problem> {
    let mut prev: Option<(u64, u64)> = None;
    let mut seq = Continuity::default();
    scan_elements(
        view,
        leaves,
        touch,
        only,
        &|| Done { out: fresh(), first: None, last: None, seq: Continuity::default() },
        &|d: &mut Done<T>, e| {
            let entry = decode(e.page, e.ord, Some(e.at), e.key, e.value)?;
            // The --bump-revision marker holds no record, but its revision counts (as `check`
            // counts it); a key `decode` took is a revision.
            let Some(rev) = entry.map(|x| x.rev).or_else(|| super::revision::parse(e.key)) else { return Ok(()) };
            let at = (rev.main, rev.sub);
            if let Some(prev) = d.last.filter(|&prev| prev >= at) {
                return Err(out_of_order(e.page, prev, at).offset(e.at));
            }
            d.first.get_or_insert((at, e.page));
            d.last = Some(at);
            // Shaped as `etcdctl migrate` writes records (see [`Continuity`]).
            let shaped = entry.is_some_and(|x| super::continuity::migrate_shaped(&rev, x.kv.version));
            d.seq.push(at, shaped, Some(e.page.0), Some(e.at));
            if let Some(entry) = entry {
                each(&mut d.out, &entry);
            }
            Ok(())
        },
        &mut |d| {
            if let (Some(p), Some((f, page))) = (prev, d.first) {
                if p >= f {
                    return Err(out_of_order(page, p, f));
                }
            }
            prev = d.last.or(prev);
            seq = std::mem::take(&mut seq).join(d.seq);
            sink(d.out)
        },
    )?;
    Ok(seq)
}

/// [`scan`] collecting every chunk's result, in order.
pub fn collect<'a, T: Send>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    fresh: &(dyn Fn() -> T + Sync),
    each: &(dyn Fn(&mut T, &Entry<'a>) + Sync),
) -> Result<Vec<T>, Problem> {
    let mut all = Vec::new();
    scan_leaves(view, &leaves(view, kb)?, Touch::Records, &|_| true, fresh, each, &mut |t| {
        all.push(t);
        Ok(())
    })?;
    Ok(all)
}
