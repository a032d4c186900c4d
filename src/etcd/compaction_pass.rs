//! One pass of the keep pass ([`super::compaction`]) over the `key` bucket's records: each chunk
//! of leaves gathers a 32-byte record per entry (the key's fingerprint tagged with the record's
//! generation signature, [`super::mvcc::tagged`]; the entry's position and flags; its main
//! revision), grouped by partition of the fingerprint; the chunks, in revision order, are then
//! reduced partition by partition to each key's newest record, each record folded
//! into its key's history on the way.

use super::continuity::Continuity;
use super::history::{Compacted, History, Step};
use super::mvcc::{partition, survives, tagged, untag, Rec, PARTS};
use super::{proto, revision, scan, FpMap};
use crate::bbolt::order::PageId;
use crate::problem::Problem;
use rayon::prelude::*;

/// The revision a pass computes the survivors at, and the keys it keeps (`None`: every key).
pub(super) type At<'r> = (u64, Option<&'r super::range::KeyRange>);

/// One record of a pass: the user key's fingerprint ([`tagged`]), the entry's position with the tombstone
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

/// A key in a pass: its newest record so far at or below R (position and flags, main revision),
/// whether its last record so far is a tombstone, and its history (every record, above R too).
struct Newest {
    at_or_below: Option<(u64, u64)>,
    last_tomb: bool,
    history: History,
}

/// What one chunk of a pass gathered: the entries that survive whatever else the bucket holds
/// (runs of ordinals: entries above R come as one run), the records to reduce, grouped by
/// partition (`starts[p]..starts[p + 1]`), and its first (with its page) and last revisions.
#[derive(Default)]
pub(super) struct Gathered {
    pub(super) always: Vec<(u64, u64)>,
    pub(super) always_at_or_below: bool,
    /// Whether an entry could not be read as an etcd record (not the --bump-revision marker).
    pub(super) unread: bool,
    recs: Vec<PassRec>,
    starts: Vec<usize>,
    first: Option<((u64, u64), PageId)>,
    last: Option<(u64, u64)>,
    /// The revisions' continuity (the first pass's, or a scan's: every entry).
    pub(super) seq: Continuity,
}

impl Gathered {
    /// An empty chunk with room for `room` records, so that gathering does not go back to the
    /// allocator as it grows (both threads then queued on its lock).
    pub(super) fn with_room(room: usize) -> Gathered {
        Gathered { recs: Vec::with_capacity(room), ..Gathered::default() }
    }

    /// Files one element (on `page`) of pass `pass` of `passes` (at `rev`, of the keys `range`
    /// selects, every key without one); a revision that does not follow the one before is a
    /// problem.
    pub(super) fn add(
        &mut self,
        (page, offset): (PageId, u64),
        ord: u64,
        e: (&[u8], &[u8]),
        at: At<'_>,
        pass: (u64, u64),
    ) -> Result<(), Problem> {
        let (rev, range) = at;
        let (key, value) = e;
        let (pass, passes) = pass;
        // The --bump-revision marker holds no record, but its revision counts in the continuity,
        // as `check` counts it.
        let marker = revision::parse(key).filter(|r| super::entry::is_marker(r, value));
        if let Some(r) = marker {
            self.follow((r.main, r.sub), false, (page, offset), pass)?;
        }
        // A record that breaks etcd's invariants is not understood either, nor an empty value (the
        // marker, or damage: decoded as an empty record, it would be filed as the empty key's).
        let parsed = revision::parse(key)
            .zip(proto::kv(value))
            .filter(|(r, kv)| !value.is_empty() && Rec::invariant(r, kv).is_none());
        let Some((r, kv)) = parsed else {
            // Not understood: never dropped (a reader that reads only the survivors meets it).
            self.unread |= marker.is_none();
            if pass == 0 {
                self.keep_always(ord);
                self.always_at_or_below |= revision::main_of(key).is_some_and(|m| m <= rev);
            }
            return Ok(());
        };
        self.follow((r.main, r.sub), super::continuity::migrate_shaped(&r, kv.version), (page, offset), pass)?;
        if range.is_some_and(|k| !k.contains(kv.key)) {
            return Ok(());
        }
        if r.main > rev && pass == 0 {
            // Compaction at R keeps it; it is filed for its key's history all the same (a history
            // is judged whole at any R, as `check` and `get --rev R` judge it: a record missing
            // below R may show only in the records above it).
            self.keep_always(ord);
        }
        // The pass is chosen by the key's fingerprint alone, not the record's signature.
        let fp = tagged(&kv, r.tombstone);
        if passes == 1 || (untag(fp).0 % u128::from(passes)) as u64 == pass {
            self.push(fp, ord, r.main, r.tombstone, super::history::starts_generation(&r, &kv));
        }
        Ok(())
    }

    /// Notes the next revision of the chunk (`shaped`: as `etcdctl migrate` writes records), at
    /// `page` and byte offset: a revision that does not follow the one before is a problem; the
    /// first pass follows the continuity.
    fn follow(
        &mut self,
        at: (u64, u64),
        shaped: bool,
        (page, offset): (PageId, u64),
        pass: u64,
    ) -> Result<(), Problem> {
        if let Some(prev) = self.last.filter(|&p| p >= at) {
            return Err(scan::out_of_order(page, prev, at));
        }
        self.first.get_or_insert((at, page));
        self.last = Some(at);
        if pass == 0 {
            self.seq.push(at, shaped, Some(page.0), Some(offset));
        }
        Ok(())
    }

    /// Files the record of an entry already decoded and checked, in revision order: its key's
    /// fingerprint ([`tagged`]), its position, main revision, whether it is a tombstone, and whether
    /// it starts a generation ([`super::history::starts_generation`]).
    pub(super) fn push(&mut self, fp: u128, ord: u64, main: u64, tomb: bool, created: bool) {
        let fresh = !tomb && created;
        let ord_tomb = (ord & ORD) | if tomb { TOMB } else { 0 } | if fresh { FRESH } else { 0 };
        self.recs.push(PassRec { fp, ord_tomb, main });
    }

    fn keep_always(&mut self, ord: u64) {
        match self.always.last_mut() {
            Some((start, len)) if *start + *len == ord => *len += 1,
            _ => self.always.push((ord, 1)),
        }
    }

    /// Groups the records by partition, keeping their (revision) order within each (a counting
    /// sort: one pass to count, one to place).
    pub(super) fn group(&mut self) {
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
pub(super) fn push_chunk(chunks: &mut Vec<Gathered>, g: Gathered) -> Result<(), Problem> {
    let prev = chunks.iter().rev().find_map(|c| c.last);
    if let (Some(p), Some((f, page))) = (prev, g.first) {
        if p >= f {
            return Err(scan::out_of_order(page, p, f));
        }
    }
    chunks.push(g);
    Ok(())
}

/// Reduces a pass's chunks (each grouped by partition) to the survivors of a compaction at `rev`,
/// partition by partition on every core: the ordinals that survive, and how many keys hold a
/// history that breaks etcd's rules against `compacted`.
/// Per partition of the keys: the survivors' positions, the keys whose histories break etcd's
/// rules, and whether a survivor is not a tombstone (one at exactly `rev` survives compaction, as
/// etcd >= 3.5.16 keeps it, but etcd's keep set for HashKV drops it in every version).
pub(super) fn reduce(chunks: &[Gathered], compacted: &Compacted, rev: u64) -> Vec<(Vec<u64>, u64, bool)> {
    // The newest record at or below `rev` of each key wins (chunks and the records of a
    // partition within a chunk are in revision order); it survives unless it is a tombstone below
    // `rev`. Every record, above `rev` too, is folded into its key's history on the way.
    (0..PARTS)
        .into_par_iter()
        .map(|p| {
            let len = chunks.iter().map(|g| g.part(p).len()).sum();
            let mut newest: FpMap<Newest> = FpMap::with_capacity_and_hasher(len, Default::default());
            for r in chunks.iter().flat_map(|g| g.part(p)) {
                let tomb = r.ord_tomb & TOMB != 0;
                let (fp, sig) = untag(r.fp);
                let h = History::record(Step { main: r.main, tomb, fresh: r.ord_tomb & FRESH != 0, sig }, compacted);
                let below = (r.main <= rev).then_some((r.ord_tomb, r.main));
                newest
                    .entry(fp)
                    .and_modify(|n| {
                        n.history.then(n.last_tomb, &h);
                        n.last_tomb = tomb;
                        n.at_or_below = below.or(n.at_or_below);
                    })
                    .or_insert(Newest { at_or_below: below, last_tomb: tomb, history: h });
            }
            let broken = newest.values().filter(|n| n.history.broken(compacted)).count() as u64;
            let kept: Vec<u64> = newest
                .into_values()
                .filter_map(|n| n.at_or_below)
                .filter(|&(ord_tomb, main)| survives(main, ord_tomb & TOMB != 0, rev))
                .map(|(ord_tomb, _)| ord_tomb)
                .collect();
            let live = kept.iter().any(|o| o & TOMB == 0);
            (kept.into_iter().map(|o| o & ORD).collect(), broken, live)
        })
        .collect()
}
