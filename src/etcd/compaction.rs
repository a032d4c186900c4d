//! Which entries of the `key` bucket survive etcd's compaction at revision R, by ordinal
//! (position in the bucket): entries above R are untouched; of those at or below R, each key keeps
//! its newest, unless that is a tombstone below R (a tombstone exactly at R is kept, as etcd >=
//! 3.4.34/3.5.16/3.6.0 do).
//!
//! Records are split by fingerprint over as many passes as needed to keep a pass near
//! [`MAP_BUDGET`] bytes, so memory stays bounded whatever the number of keys. Within a pass the
//! leaves are read on every core in chunks, each chunk's records grouped by partition; then each
//! partition is reduced to the newest record per key, in a map small enough to stay in cache, in
//! parallel. Revisions must strictly increase through the bucket (a leaf reached twice is a
//! problem, not records counted twice). The answer is one bit per entry.
//!
//! On the way, each key's records that the pass reads (those at or below R, of the keys selected)
//! are held to etcd's rules for a history ([`super::history`]): a reader of the survivors (`dump`,
//! `hashkv`, `compact --revision`) learns for free whether the bucket holds a history etcd cannot
//! have written (a stale leaf in the tree), which every page and record reading well does not
//! tell.

use super::history::{Compacted, History, Judged};
use super::mvcc::{partition, survives, Rec, PARTS};
use super::range::KeyRange;
use super::{key_fingerprint, proto, revision, scan, FpMap};
use crate::bbolt::bitmap::Bitmap;
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::order::PageId;
use crate::bbolt::view::DbView;
use crate::problem::{Problem, ProblemKind};
use rayon::prelude::*;

pub use super::compact_target::{target, Revision, Target, TargetError};

/// Bytes a pass may take: its records and the maps reducing them.
pub const MAP_BUDGET: u64 = 96 << 20;
/// Bytes per entry of a pass: its 32-byte record (twice, while a chunk's records are grouped),
/// plus the partition maps being reduced at the same time (one per core, each for a 64th of the
/// records: a 48-byte slot, the newest record and the key's history so far, and a control byte, in
/// a table of up to 16/7 as many buckets).
const ENTRY_COST: u64 = 32 + 2 * 49 * 16 / 7 / PARTS as u64 + 1;

/// Elements per chunk of the cursor's one-thread reading (bounds the copy a chunk's grouping
/// makes).
const CURSOR_CHUNK: u64 = 64 << 10;

/// One bit per `key` bucket entry: whether it survives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keep {
    bits: Bitmap,
    /// Entries in the bucket.
    pub len: u64,
    /// Entries that survive.
    pub kept: u64,
    /// Whether a surviving entry has a main revision at or below R (etcd filters HashKV by its
    /// keep set only then).
    pub kept_at_or_below: bool,
    /// Keys whose records at or below R (of the keys selected) break etcd's rules for a history
    /// ([`History::broken`]): `check`'s `history_inconsistent`.
    pub history_broken: u64,
    /// The compactions the histories were judged against (the file's `meta` bucket).
    pub compacted: Compacted,
}

impl Keep {
    /// What holding the histories the pass read to etcd's rules found.
    pub fn judged(&self) -> Judged {
        Judged { broken: self.history_broken, compacted: self.compacted, named: Vec::new(), unjudged: 0 }
    }

    /// Whether entry `i` survives.
    pub fn get(&self, i: u64) -> bool {
        self.bits.get(i)
    }
    fn set(&mut self, i: u64) {
        if self.bits.set(i) {
            self.kept += 1;
        }
    }
}

/// One record of a pass: the user key's fingerprint, the entry's position with the tombstone
/// flag in its top bit and the fresh flag (a put that creates its key) below it, and its main
/// revision (32 bytes).
#[derive(Clone, Copy)]
struct PassRec {
    fp: u128,
    ord_tomb: u64,
    main: u64,
}

const TOMB: u64 = 1 << 63;
const FRESH: u64 = 1 << 62;
const ORD: u64 = FRESH - 1;

const _: () = assert!(std::mem::size_of::<PassRec>() == 32);

/// Computes the survivors of compaction at `rev` in the bucket rooted at `kb`.
pub fn keep(view: &DbView<'_>, kb: BucketRoot<'_>, rev: u64) -> Result<Keep, Problem> {
    keep_within(view, kb, rev, MAP_BUDGET)
}

/// [`keep`] over leaves already listed (a caller that scans the bucket again lists them once),
/// of the keys `range` selects (`None`: every key): an entry of a key outside it (read whole, so
/// checked) is left out, as if compaction dropped it, and so is never read again by a caller
/// that reads only the survivors (`dump --prefix`).
pub fn keep_in<'a>(
    view: &DbView<'a>,
    leaves: &scan::Leaves<'a>,
    rev: u64,
    range: Option<&KeyRange>,
) -> Result<Keep, Problem> {
    keep_passes(&Source::Leaves(view, leaves), leaves.elements(), (rev, range), MAP_BUDGET)
}

/// The histories of the keys `range` selects (`None`: every key), every record of theirs held to
/// etcd's rules, by one keep pass over leaves already listed: for a reader that reads every
/// record and needs no keep set (`dump --all-revisions`).
pub fn judge<'a>(view: &DbView<'a>, leaves: &scan::Leaves<'a>, range: Option<&KeyRange>) -> Result<Judged, Problem> {
    Ok(keep_in(view, leaves, u64::MAX, range)?.judged())
}

/// [`keep`] with passes sized to `budget` bytes each (at least one entry per pass).
pub fn keep_within(view: &DbView<'_>, kb: BucketRoot<'_>, rev: u64, budget: u64) -> Result<Keep, Problem> {
    // The leaves are read on every core; a tree whose leaves are not all at one depth (bbolt
    // never writes one, but a file may hold one) is read by the cursor, one page at a time.
    match scan::leaves(view, kb) {
        Ok(leaves) => keep_passes(&Source::Leaves(view, &leaves), leaves.elements(), (rev, None), budget),
        Err(p) if p.kind == ProblemKind::InvalidPageType => keep_by_cursor(view, kb, rev, budget),
        Err(p) => Err(p),
    }
}

/// [`keep_within`] read by the cursor in one thread, a page at a time: for a tree whose leaves
/// are not all at one depth, and to check the parallel reading against.
pub fn keep_by_cursor(view: &DbView<'_>, kb: BucketRoot<'_>, rev: u64, budget: u64) -> Result<Keep, Problem> {
    let mut n = 0u64;
    cursor::for_each_leaf(view, kb, &mut |p| {
        n += u64::from(p.count);
        Ok(())
    })?;
    keep_passes(&Source::Cursor(view, kb), n, (rev, None), budget)
}

/// Where a pass reads the bucket's elements from.
enum Source<'s, 'a> {
    /// The listed leaves, on every core.
    Leaves(&'s DbView<'a>, &'s scan::Leaves<'a>),
    /// The cursor, in one thread.
    Cursor(&'s DbView<'a>, BucketRoot<'a>),
}

impl<'a> Source<'_, 'a> {
    fn view(&self) -> &DbView<'a> {
        match self {
            Source::Leaves(v, _) | Source::Cursor(v, _) => v,
        }
    }
}

/// A key's newest record so far in a pass (position and flags, main revision), and its history.
struct Newest {
    ord_tomb: u64,
    main: u64,
    history: History,
}

/// What one chunk of a pass gathered: the entries that survive whatever else the bucket holds
/// (runs of ordinals: entries above R come as one run), the records to reduce, grouped by
/// partition (`starts[p]..starts[p + 1]`), and its first (with its page) and last revisions.
#[derive(Default)]
struct Gathered {
    always: Vec<(u64, u64)>,
    always_at_or_below: bool,
    recs: Vec<PassRec>,
    starts: Vec<usize>,
    first: Option<((u64, u64), PageId)>,
    last: Option<(u64, u64)>,
}

impl Gathered {
    /// An empty chunk with room for `room` records, so that gathering does not go back to the
    /// allocator as it grows (both threads then queued on its lock).
    fn with_room(room: usize) -> Gathered {
        Gathered { recs: Vec::with_capacity(room), ..Gathered::default() }
    }

    /// Files one element (on `page`) of pass `pass` of `passes` (at `rev`, of the keys `range`
    /// selects, every key without one); a revision that does not follow the one before is a
    /// problem.
    fn add(&mut self, page: PageId, ord: u64, e: (&[u8], &[u8]), at: At<'_>, pass: (u64, u64)) -> Result<(), Problem> {
        let (rev, range) = at;
        let (key, value) = e;
        let (pass, passes) = pass;
        // A record that breaks etcd's invariants is not understood either.
        let parsed = revision::parse(key).zip(proto::kv(value)).filter(|(r, kv)| Rec::invariant(r, kv).is_none());
        let Some((r, kv)) = parsed else {
            // Not understood: never dropped (a reader that reads only the survivors meets it).
            if pass == 0 {
                self.keep_always(ord);
                self.always_at_or_below |= revision::main_of(key).is_some_and(|m| m <= rev);
            }
            return Ok(());
        };
        let at = (r.main, r.sub);
        if let Some(prev) = self.last.filter(|&p| p >= at) {
            return Err(scan::out_of_order(page, prev, at));
        }
        self.first.get_or_insert((at, page));
        self.last = Some(at);
        if range.is_some_and(|k| !k.contains(kv.key)) {
            return Ok(());
        }
        if r.main > rev {
            if pass == 0 {
                self.keep_always(ord);
            }
            return Ok(());
        }
        let fp = key_fingerprint(kv.key);
        if passes == 1 || (fp % u128::from(passes)) as u64 == pass {
            let fresh = !r.tombstone && kv.create_revision == r.main;
            let ord_tomb = (ord & ORD) | if r.tombstone { TOMB } else { 0 } | if fresh { FRESH } else { 0 };
            self.recs.push(PassRec { fp, ord_tomb, main: r.main });
        }
        Ok(())
    }

    fn keep_always(&mut self, ord: u64) {
        match self.always.last_mut() {
            Some((start, len)) if *start + *len == ord => *len += 1,
            _ => self.always.push((ord, 1)),
        }
    }

    /// Groups the records by partition, keeping their (revision) order within each (a counting
    /// sort: one pass to count, one to place).
    fn group(&mut self) {
        let mut starts = vec![0usize; PARTS + 1];
        for r in &self.recs {
            starts[partition(r.fp) + 1] += 1;
        }
        for p in 0..PARTS {
            starts[p + 1] += starts[p];
        }
        let mut at = starts.clone();
        let mut grouped = vec![PassRec { fp: 0, ord_tomb: 0, main: 0 }; self.recs.len()];
        for r in &self.recs {
            let slot = &mut at[partition(r.fp)];
            grouped[*slot] = *r;
            *slot += 1;
        }
        self.recs = grouped;
        self.starts = starts;
    }

    fn part(&self, p: usize) -> &[PassRec] {
        let at = |i: usize| self.starts.get(i).copied().unwrap_or(0);
        self.recs.get(at(p)..at(p + 1)).unwrap_or(&[])
    }
}

/// Appends a chunk, checking that its first revision follows the last one before it.
fn push_chunk(chunks: &mut Vec<Gathered>, g: Gathered) -> Result<(), Problem> {
    let prev = chunks.iter().rev().find_map(|c| c.last);
    if let (Some(p), Some((f, page))) = (prev, g.first) {
        if p >= f {
            return Err(scan::out_of_order(page, p, f));
        }
    }
    chunks.push(g);
    Ok(())
}

/// The revision a pass computes the survivors at, and the keys it keeps (`None`: every key).
type At<'r> = (u64, Option<&'r KeyRange>);

/// Runs the passes over `n` elements from `src`.
fn keep_passes(src: &Source<'_, '_>, n: u64, at: At<'_>, budget: u64) -> Result<Keep, Problem> {
    let rev = at.0;
    let compacted = Compacted::read(src.view());
    let mut k = Keep { bits: Bitmap::new(n), len: n, kept: 0, kept_at_or_below: false, history_broken: 0, compacted };
    let passes = (n * ENTRY_COST).div_ceil(budget.max(1)).clamp(1, n.max(1));
    // Room for the records a pass files from a chunk of etcd leaves (about four a page, one in
    // `passes` of them); none when only some keys are kept (few are filed, and room taken for all
    // would outweigh them).
    let room = match at.1 {
        Some(_) => 0,
        None => usize::try_from((scan::CHUNK_LEAVES as u64 * 4) / passes).unwrap_or(0),
    };
    for pass in 0..passes {
        let mut chunks: Vec<Gathered> = Vec::new();
        match *src {
            Source::Leaves(view, leaves) => scan::scan_elements(
                view,
                leaves,
                scan::Touch::Records,
                &|_| true,
                &|| Gathered::with_room(room),
                &|g: &mut Gathered, e| g.add(e.page, e.ord, (e.key, e.value), at, (pass, passes)),
                &mut |g| push_chunk(&mut chunks, g),
            )?,
            Source::Cursor(view, kb) => {
                let (mut g, mut i) = (Gathered::default(), 0u64);
                cursor::for_each_leaf(view, kb, &mut |p| {
                    for j in 0..usize::from(p.count) {
                        let e = p.leaf_elem(j)?;
                        g.add(p.id, i, (e.key, e.value), at, (pass, passes))?;
                        i += 1;
                        if i % CURSOR_CHUNK == 0 {
                            push_chunk(&mut chunks, std::mem::take(&mut g))?;
                        }
                    }
                    Ok(())
                })?;
                if i != n {
                    let msg = format!("the key bucket held {n} elements, then {i}: it changed while it was read");
                    let root = match kb {
                        BucketRoot::Page(id) => id,
                        BucketRoot::Inline(p) => p.id,
                    };
                    return Err(Problem::new(ProblemKind::Torn, msg).page(root));
                }
                push_chunk(&mut chunks, g)?;
            }
        }
        chunks.par_iter_mut().for_each(Gathered::group);
        for g in &chunks {
            for &(start, len) in &g.always {
                (start..start.saturating_add(len)).for_each(|ord| k.set(ord));
            }
            k.kept_at_or_below |= g.always_at_or_below;
        }
        // The newest record of each key wins (chunks and the records of a partition within a
        // chunk are in revision order); it survives unless it is a tombstone below `rev`. Each
        // record is folded into its key's history on the way.
        let survivors: Vec<(Vec<u64>, u64)> = (0..PARTS)
            .into_par_iter()
            .map(|p| {
                let len = chunks.iter().map(|g| g.part(p).len()).sum();
                let mut newest: FpMap<Newest> = FpMap::with_capacity_and_hasher(len, Default::default());
                for r in chunks.iter().flat_map(|g| g.part(p)) {
                    let h = History::record(r.main, r.ord_tomb & TOMB != 0, r.ord_tomb & FRESH != 0, &compacted);
                    newest
                        .entry(r.fp)
                        .and_modify(|n| {
                            n.history.then(n.ord_tomb & TOMB != 0, &h);
                            (n.ord_tomb, n.main) = (r.ord_tomb, r.main);
                        })
                        .or_insert(Newest { ord_tomb: r.ord_tomb, main: r.main, history: h });
                }
                let broken = newest.values().filter(|n| n.history.broken(&compacted)).count() as u64;
                let kept = newest.into_values().filter(|n| survives(n.main, n.ord_tomb & TOMB != 0, rev));
                (kept.map(|n| n.ord_tomb & ORD).collect(), broken)
            })
            .collect();
        drop(chunks);
        for (ords, broken) in survivors {
            k.history_broken += broken;
            for ord in ords {
                k.set(ord);
                k.kept_at_or_below = true;
            }
        }
    }
    Ok(k)
}
