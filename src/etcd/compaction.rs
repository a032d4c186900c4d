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
//! On the way, every record of the keys selected (above R too: a record lost below R may show only
//! in the records after it) is held to etcd's rules for a history ([`super::history`]), as `check`
//! holds them: a reader of the survivors (`dump`, `hashkv`, `compact --revision`) learns for free
//! whether the bucket holds a history etcd cannot have written (a stale leaf in the tree), which
//! every page and record reading well does not tell.

use super::compaction_pass::{push_chunk, reduce, At, Gathered};
use super::continuity::Continuity;
use super::history::{Compacted, Judged};
use super::mvcc::PARTS;
use super::range::KeyRange;
use super::scan;
use crate::bbolt::bitmap::Bitmap;
use crate::bbolt::cursor::{self, BucketRoot};
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
    /// Whether etcd's keep set at R is not empty: a survivor at or below R that is not a
    /// tombstone (etcd filters HashKV by its keep set only then, and that set drops a tombstone
    /// even at R, which compaction keeps since etcd 3.5.16).
    pub kept_at_or_below: bool,
    /// Keys (of those selected) whose records, every one of them whatever R, break etcd's rules
    /// for a history ([`History::broken`](super::history::History::broken)): `check`'s
    /// `history_inconsistent`.
    pub history_broken: u64,
    /// The compactions the histories were judged against (the file's `meta` bucket).
    pub compacted: Compacted,
    /// Revisions missing above the compaction (the pass reads every entry).
    pub holes: Option<Problem>,
    /// Whether an entry could not be read as an etcd record: it is kept, so a reader of the
    /// survivors meets it and stops there (one that streams can tell before writing anything).
    pub unread: bool,
}

impl Keep {
    /// What holding the histories the pass read to etcd's rules found.
    pub fn judged(&self) -> Judged {
        let holes = self.holes.clone();
        Judged { broken: self.history_broken, compacted: self.compacted, named: Vec::new(), unjudged: 0, holes }
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

/// The records of the entries a reader's own scan of the bucket meets, gathered chunk by chunk on
/// its way, for [`judge_gathered`] to judge their keys' histories after it: the judgement of
/// [`judge`] without a pass of its own (`dump --all-revisions`). A chunk holds 32 bytes a record.
pub struct HistoryChunk(Gathered);

impl HistoryChunk {
    /// An empty chunk with room for a chunk of full etcd leaves' records.
    pub fn new() -> HistoryChunk {
        HistoryChunk(Gathered::with_room(scan::CHUNK_LEAVES * 4))
    }

    /// Files an entry (the chunk's entries come in revision order).
    pub fn add(&mut self, e: &scan::Entry<'_>) {
        let created = super::history::starts_generation(&e.rev, &e.kv);
        self.0.push(super::mvcc::tagged(&e.kv, e.rev.tombstone), e.ord, e.rev.main, e.rev.tombstone, created);
    }
}

impl Default for HistoryChunk {
    fn default() -> Self {
        HistoryChunk::new()
    }
}

/// Whether the records of a bucket of `entries` entries fit in one pass's `budget` bytes
/// ([`MAP_BUDGET`] by default): a reader whose scan gathers them ([`HistoryChunk`]) needs no pass
/// of its own; past it, [`judge`] passes over the bucket as often as the budget needs.
pub fn fits_one_pass(entries: u64, budget: u64) -> bool {
    entries.saturating_mul(ENTRY_COST) <= budget
}

/// Judges the histories of the keys whose records `chunks` gathered, as [`judge`] would, and the
/// holes of `seq`, the continuity of the revisions the scan read (every entry). The chunks must
/// come in bucket (revision) order, as a scan's sink receives them, each filled in order: that is
/// not checked here (the scan that read them checked the revisions' order).
pub fn judge_gathered(view: &DbView<'_>, chunks: Vec<HistoryChunk>, seq: Continuity) -> Judged {
    let compacted = Compacted::read(view);
    let mut chunks: Vec<Gathered> = chunks.into_iter().map(|c| c.0).collect();
    chunks.par_iter_mut().for_each(Gathered::group);
    let holes = seq.problem(compacted.upto).filter(|_| !compacted.unknown);
    let broken = reduce(&chunks, &compacted, u64::MAX).iter().map(|(_, b, _)| b).sum();
    Judged { broken, compacted, named: Vec::new(), unjudged: 0, holes }
}

/// Revisions missing above the compaction, from the continuity of chunks read in bucket order
/// (every entry: a first pass, or a reader's scan); or the warning that they are as a migration
/// from v2 leaves them.
fn holes(chunks: &[Gathered], compacted: &Compacted) -> Option<Problem> {
    let seq = chunks.iter().fold(Continuity::default(), |s, g| s.join(g.seq));
    seq.problem(compacted.upto).filter(|_| !compacted.unknown)
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

/// Runs the passes over `n` elements from `src`.
fn keep_passes(src: &Source<'_, '_>, n: u64, at: At<'_>, budget: u64) -> Result<Keep, Problem> {
    let rev = at.0;
    let compacted = Compacted::read(src.view());
    let mut k = Keep {
        bits: Bitmap::new(n),
        len: n,
        kept: 0,
        kept_at_or_below: false,
        history_broken: 0,
        compacted,
        holes: None,
        unread: false,
    };
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
                &|g: &mut Gathered, e| g.add((e.page, e.at), e.ord, (e.key, e.value), at, (pass, passes)),
                &mut |g| push_chunk(&mut chunks, g),
            )?,
            Source::Cursor(view, kb) => {
                let (mut g, mut i) = (Gathered::default(), 0u64);
                cursor::for_each_leaf(view, kb, &mut |p| {
                    for j in 0..usize::from(p.count) {
                        let e = p.leaf_elem(j)?;
                        g.add((p.id, p.offset_of(e.key)), i, (e.key, e.value), at, (pass, passes))?;
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
        if pass == 0 {
            k.holes = holes(&chunks, &compacted);
        }
        chunks.par_iter_mut().for_each(Gathered::group);
        for g in &chunks {
            for &(start, len) in &g.always {
                (start..start.saturating_add(len)).for_each(|ord| k.set(ord));
            }
            k.kept_at_or_below |= g.always_at_or_below;
            k.unread |= g.unread;
        }
        let survivors = reduce(&chunks, &compacted, rev);
        drop(chunks);
        for (ords, broken, live) in survivors {
            k.history_broken += broken;
            k.kept_at_or_below |= live;
            for ord in ords {
                k.set(ord);
            }
        }
    }
    Ok(k)
}
