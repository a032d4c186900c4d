//! Reading the chosen tree tolerantly ([`Reader`]): the root bucket's entries, then each
//! top-level bucket, keeping every entry that can be read and noting every key range that
//! cannot. etcd's `key` bucket is read record by record ([`carve::pick`]: a record must check out,
//! and may be read where the packed layout puts it or with its revision key rebuilt); other
//! buckets keep an element only where bbolt's packed layout says it is (right after the element
//! table, or right after the previous element's value) with its key in order, since nothing else
//! tells a damaged element from a sound one there.

use crate::bbolt::bucket::{self, BucketRoot};
use crate::bbolt::carve::{Candidates, Geometry};
use crate::bbolt::page::{LeafElem, Page, ELEMENT_SIZE, PAGE_HEADER_SIZE};
use crate::bbolt::tolerant::{LostRange, Reader, TolerantLeaf};
use crate::etcd::carve::{self, Fix, KeyRecord, RevKey, Source};
use crate::etcd::proto::Kv;
use crate::etcd::{revision, scan};
use crate::problem::{Problem, ProblemKind};

/// A top-level bucket as read.
#[derive(Debug, Default)]
pub struct Top<'a> {
    /// Its name.
    pub name: &'a [u8],
    /// Its sequence.
    pub sequence: u64,
    /// Plain entries, in the order read.
    pub entries: Vec<(&'a [u8], &'a [u8])>,
    /// For the `key` bucket: records read from leaves that respect their bounds.
    pub records: Vec<KeyRecord<'a>>,
    /// For the `key` bucket: records read from leaves whose keys fall outside the bounds the tree
    /// gives them (a page reached by a damaged pointer): treated as carved.
    pub suspect: Vec<KeyRecord<'a>>,
    /// Key ranges that could not be read.
    pub lost: Vec<LostRange<'a>>,
    /// Elements that could not be read.
    pub dropped: u64,
    /// Nested buckets left out (etcd nests none; a salvage copies top-level buckets only).
    pub nested: u64,
    /// For the `key` bucket: leaves the tree reached whose elements point at records out of
    /// order (one twice, say), so a record the page holds may be unread: carved like the pages the
    /// tree does not reach.
    pub recarve: Vec<u64>,
}

/// Offset of `s` in `page`.
fn at(page: &Page<'_>, s: &[u8]) -> usize {
    (s.as_ptr() as usize).wrapping_sub(page.bytes.as_ptr() as usize)
}

/// The elements of a leaf that sit where the packed layout says: each starting right after the
/// element table (the first) or right after the previous kept element's value, key non-empty and
/// in order within the leaf's bounds. Returns them and how many elements were not kept.
pub fn packed_elems<'a>(leaf: &TolerantLeaf<'a>) -> (Vec<LeafElem<'a>>, u64) {
    let page = &leaf.page;
    let table_end = PAGE_HEADER_SIZE + ELEMENT_SIZE * leaf.elems.len();
    let (mut out, mut dropped) = (Vec::with_capacity(leaf.elems.len()), 0u64);
    let mut end: Option<usize> = None;
    let mut prev: Option<&[u8]> = None;
    for c in &leaf.elems {
        let fits = |e: &LeafElem<'a>| {
            let start = at(page, e.key);
            let placed = end.map_or(start >= table_end, |x| start == x);
            let ordered = prev.map_or(true, |p| e.key > p) && leaf.in_bounds(e.key);
            placed && ordered && !e.key.is_empty()
        };
        match c.each().find(fits) {
            Some(e) => {
                end = Some(at(page, e.value) + e.value.len());
                prev = Some(e.key);
                out.push(e);
            }
            None => dropped += 1,
        }
    }
    (out, dropped)
}

fn leaf_problem(leaf: &TolerantLeaf<'_>, what: String) -> Problem {
    Problem::new(ProblemKind::ElementOutsidePage, format!("page {}: {what}", leaf.page.id))
        .page(leaf.page.id)
        .offset(leaf.page.offset)
}

/// The record of a `key` bucket element: the `--bump-revision` marker (an empty value) as it is,
/// else what [`carve::pick`] finds.
fn key_record<'a>(c: &Candidates<'a>, page: &Page<'a>) -> Option<KeyRecord<'a>> {
    let marker = c.stated.filter(|e| c.consistent() && !e.is_bucket()).and_then(|e| {
        let rev = revision::parse(e.key).filter(|r| crate::etcd::entry::is_marker(r, e.value))?;
        Some((e, rev))
    });
    if let Some((e, rev)) = marker {
        return Some(KeyRecord {
            rev,
            rev_key: RevKey::File(e.key),
            raw: e.value,
            kv: Kv::default(),
            page: page.id,
            fix: Fix::None,
            source: Source::Tree,
        });
    }
    carve::pick(c, page.id, Source::Tree)
}

/// Reads the `key` bucket rooted at `root` into `top`.
pub fn read_keys<'a>(r: &mut Reader<'a>, root: BucketRoot<'a>, top: &mut Top<'a>) {
    let Top { records, suspect, lost, dropped, recarve, .. } = top;
    let mut spans = Vec::new();
    let mut on_leaf = |leaf: &TolerantLeaf<'a>| -> Option<Problem> {
        let mut got = Vec::with_capacity(leaf.elems.len());
        let mut bad = 0u64;
        // The records left out whose revision key reads (where both the element's header and the
        // packed layout put it, in the leaf's bounds), with what `check` says of each (a value that
        // does not decode, say); when every one left out is such, only their keys are lost.
        let mut unread: Vec<(&'a [u8], Problem)> = Vec::new();
        // Elements past the count the page gives, read back from its layout: a count that shrank,
        // or elements `bbolt surgery` took off its end, maybe for being damaged (review 47c: one
        // half zeroed came back, exit 0). Their records are the tree's, but uncertain.
        for (i, c) in leaf.elems.iter().enumerate() {
            match key_record(c, &leaf.page) {
                Some(rec) if i >= leaf.listed => got.push(KeyRecord { source: Source::Unlisted, ..rec }),
                Some(rec) => got.push(rec),
                None => {
                    bad += 1;
                    let named = c
                        .stated
                        .filter(|e| c.consistent() && leaf.in_bounds(e.key) && revision::parse(e.key).is_some());
                    if let Some(e) = named {
                        let key_at = leaf.page.offset.saturating_add(at(&leaf.page, e.key) as u64);
                        let why =
                            scan::decode(leaf.page.id, 0, Some(key_at), e.key, e.value).err().unwrap_or_else(|| {
                                leaf_problem(leaf, "a record that does not check out".into()).offset(key_at)
                            });
                        unread.push((e.key, why));
                    }
                }
            }
        }
        // A leaf whose first key is not the branch key its parent gives it is not the page bbolt
        // wrote there (bbolt sets a branch key to its child's first key whenever it writes the
        // child): a stale copy reached by a damaged pointer, whose records may be older than the
        // ones it displaced, which are then looked for in the pages the tree does not reach.
        let misplaced = match (leaf.lower, leaf.elems.first().and_then(|c| c.stated)) {
            (Some(lower), Some(first)) => leaf.lower_named && first.key != lower,
            _ => false,
        };
        let outside = leaf.stray || misplaced || got.iter().any(|rec| !leaf.in_bounds(rec.rev_key.bytes()));
        // Records out of order within the leaf (a damaged element header pointing at another
        // element's record, which `check` calls keys out of order): each reads well, but the record
        // the damaged element pointed at is unread somewhere in this page.
        let disordered = got.windows(2).any(|w| w[1].rev_key.bytes() <= w[0].rev_key.bytes());
        *dropped += bad;
        // Records of elements taken out of the leaf, left where they were packed (review 46c: the
        // range was told lost and the record left out): read from the bytes no element lists, and
        // judged as carved ones.
        let page = &leaf.page;
        let unlisted = page.leaf_gaps().into_iter().map(|(_, gap)| (gap, true)).chain([(page.leaf_tail(), false)]);
        suspect.extend(unlisted.flat_map(|(b, gap)| crate::etcd::unlisted::unlisted_records(b, page.id, gap)));
        if outside {
            // The leaf's keys are not where its parents say (a damaged branch key, or a pointer to
            // another page): its records are judged as carved ones, over the range they span.
            let keys = got.iter().filter_map(|r| match r.rev_key {
                RevKey::File(k) => Some(k),
                RevKey::Repaired(_) => None,
            });
            let (lo, hi) = (keys.clone().min(), keys.max());
            let lower = match (leaf.lower, lo) {
                (Some(l), Some(k)) => Some(l.min(k)),
                _ => None,
            };
            let problem = leaf_problem(leaf, "records outside the key range its parent gives it".into());
            spans.push(LostRange { lower, upper: hi, upper_inclusive: true, problem });
            suspect.extend(got);
        } else {
            records.extend(got);
        }
        if disordered && !outside {
            recarve.push(leaf.page.id.0);
            let why = "elements pointing at records out of order (one twice, say: a damaged element header): a record \
                       this page holds may be unread, so the page is carved";
            let p = leaf_problem(leaf, why.into());
            return Some(Problem { kind: ProblemKind::KeysOutOfOrder, ..p });
        }
        match (bad, outside) {
            (0, false) => None,
            (_, true) => Some(leaf_problem(leaf, "records outside the key range its parent gives it".into())),
            (n, false) if n == unread.len() as u64 => {
                // Each revision key names exactly what is lost: a range of one key each.
                spans.extend(unread.into_iter().map(|(k, problem)| LostRange {
                    lower: Some(k),
                    upper: Some(k),
                    upper_inclusive: true,
                    problem,
                }));
                None
            }
            (n, false) => Some(leaf_problem(leaf, format!("{n} element(s) are not records that check out"))),
        }
    };
    r.bucket(root, &mut on_leaf, &mut |l| lost.push(l));
    lost.extend(spans);
}

/// Reads a plain bucket rooted at `root` into `top`.
pub fn read_plain<'a>(r: &mut Reader<'a>, root: BucketRoot<'a>, top: &mut Top<'a>) {
    let Top { entries, lost, dropped, nested, .. } = top;
    let mut on_leaf = |leaf: &TolerantLeaf<'a>| -> Option<Problem> {
        let (elems, bad) = packed_elems(leaf);
        let buckets = elems.iter().filter(|e| e.is_bucket()).count() as u64;
        *nested += buckets;
        *dropped += bad;
        entries.extend(elems.iter().filter(|e| !e.is_bucket()).map(|e| (e.key, e.value)));
        (bad > 0).then(|| leaf_problem(leaf, format!("{bad} element(s) cannot be read")))
    };
    r.bucket(root, &mut on_leaf, &mut |l| lost.push(l));
}

/// The top-level buckets the root at `root` lists: name, sequence and root of each, in order, and
/// the ranges of the root bucket that could not be read.
#[allow(clippy::type_complexity)]
pub fn read_root<'a>(r: &mut Reader<'a>, root: u64) -> (Vec<(&'a [u8], u64, BucketRoot<'a>)>, Vec<LostRange<'a>>) {
    let mut tops = Vec::new();
    let mut lost = Vec::new();
    let mut on_leaf = |leaf: &TolerantLeaf<'a>| -> Option<Problem> {
        let (elems, mut bad) = packed_elems(leaf);
        for e in elems {
            match bucket::decode_tolerant(&leaf.page, &e) {
                Ok(b) if e.is_bucket() => tops.push((e.key, b.sequence, b.root)),
                _ => bad += 1,
            }
        }
        (bad > 0).then(|| leaf_problem(leaf, format!("{bad} bucket entr(ies) cannot be read")))
    };
    r.bucket(BucketRoot::Page(crate::bbolt::order::PageId(root)), &mut on_leaf, &mut |l| lost.push(l));
    (tops, lost)
}

/// A reader over `g` for the pages below `limit`.
pub fn reader(g: Geometry<'_>, limit: u64) -> Reader<'_> {
    Reader::new(g, limit)
}
