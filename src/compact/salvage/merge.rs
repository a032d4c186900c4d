//! etcd's `key` bucket put back together: the records the tree gave, and records found elsewhere
//! (carved from pages the tree does not reach, or read from a page the tree reached by a damaged
//! pointer), under etcd's rules:
//!
//! - a record the tree holds is never replaced; copies of one revision count once;
//! - a record above the file's compaction is certain wherever it was found: etcd deletes records
//!   only by compaction, so one above it that the tree lacks was lost with a page;
//! - a record at or below the compaction may be residue: an old revision compaction deleted,
//!   maybe of a key deleted since. It is kept only when it lies in a key range the tree could not
//!   read and compaction would have kept it (no record of its key newer than it and at or below
//!   the compaction is known, and it is not a tombstone below the compaction), and then it is
//!   *uncertain*;
//! - a record whose revision key had to be rebuilt from its value is uncertain too.
//!
//! Above the compaction every revision has at least one record (etcd moves to the next revision
//! only when a transaction changes something), so the missing ones are known exactly; at or below
//! it, only the unreadable key ranges say what may be missing.

use crate::bbolt::tolerant::LostRange;
use crate::etcd::carve::{Fix, KeyRecord, Source};
use crate::etcd::revision;
use crate::etcd::KeyMap;

/// The bucket put back together.
#[derive(Debug, Default)]
pub struct Merged<'a> {
    /// The records, sorted by revision key, each revision once.
    pub records: Vec<KeyRecord<'a>>,
    /// For each record, whether it is uncertain.
    pub uncertain: Vec<bool>,
    /// Records from the tree.
    pub from_tree: u64,
    /// Records found elsewhere and kept.
    pub found: u64,
    /// Records found elsewhere and left out (residue, or superseded).
    pub left_out: u64,
}

fn fix_rank(f: Fix) -> u8 {
    match f {
        Fix::None => 0,
        Fix::Layout | Fix::Headerless => 1,
        Fix::Key => 2,
    }
}

/// Sorts by revision key and keeps one record per revision (the best read one).
fn distinct(mut v: Vec<KeyRecord<'_>>) -> Vec<KeyRecord<'_>> {
    v.sort_by(|a, b| a.rev_key.bytes().cmp(b.rev_key.bytes()).then(fix_rank(a.fix).cmp(&fix_rank(b.fix))));
    v.dedup_by(|a, b| a.rev_key.bytes() == b.rev_key.bytes());
    v
}

/// Puts the bucket together. `compacted` is the file's compaction revision (`None` when unknown:
/// then nothing found elsewhere is certain); `lost` the key ranges the tree could not read.
pub fn merge<'a>(
    tree: Vec<KeyRecord<'a>>,
    found: Vec<KeyRecord<'a>>,
    lost: &[LostRange<'_>],
    compacted: Option<u64>,
) -> Merged<'a> {
    let tree = distinct(tree);
    let found: Vec<KeyRecord<'a>> = distinct(found)
        .into_iter()
        .filter(|r| tree.binary_search_by(|t| t.rev_key.bytes().cmp(r.rev_key.bytes())).is_err())
        .collect();
    // Each key's newest record at or below the compaction, among everything seen: the one
    // compaction keeps (etcd's keep rule), so an older one found elsewhere is residue.
    let floor = compacted.unwrap_or(u64::MAX);
    let mut newest: KeyMap<&[u8], u64> = KeyMap::default();
    for r in tree.iter().chain(&found).filter(|r| !r.raw.is_empty() && r.rev.main <= floor) {
        let n = newest.entry(r.kv.key).or_insert(0);
        *n = (*n).max(r.rev.main);
    }
    let mut m = Merged { from_tree: tree.len() as u64, ..Merged::default() };
    // A record no element lists (past a leaf's count, or taken out of it) is read where the layout
    // packed it, with no header to vouch for it: uncertain (review 47c).
    // So is one whose value runs into an overflow page of zeros: the storage may have lost that
    // page since, or the value may hold a page of zeros (review 46a F2, review 48c).
    let unlisted = |r: &KeyRecord<'_>| matches!(r.source, Source::Unlisted | Source::ZeroedRun);
    let mut all: Vec<(KeyRecord<'a>, bool)> =
        tree.into_iter().map(|r| (r, r.fix == Fix::Key || unlisted(&r))).collect();
    for r in found {
        let above = compacted.is_some_and(|c| r.rev.main > c);
        let in_lost = lost.iter().any(|l| l.contains(r.rev_key.bytes()));
        let kept_by_compaction = newest.get(r.kv.key).is_some_and(|&n| n == r.rev.main)
            && crate::etcd::mvcc::survives(r.rev.main, r.rev.tombstone, floor);
        let keep = above || (in_lost && kept_by_compaction);
        if keep {
            m.found += 1;
            all.push((r, !above || r.fix == Fix::Key || unlisted(&r)));
        } else {
            m.left_out += 1;
        }
    }
    all.sort_by(|a, b| a.0.rev_key.bytes().cmp(b.0.rev_key.bytes()));
    (m.records, m.uncertain) = all.into_iter().unzip();
    m
}

/// Main revisions above `compacted` with no record in `records` (sorted by revision key): revisions
/// certainly lost, as inclusive ranges, merged. `unread` are the keys of records the tree holds
/// but that could not be read ([`single_key`] ranges, none of them found again): their revisions
/// are lost (wholly or in part: a transaction's other records may have been read), and existed,
/// as did every one between the last record and them (etcd moves to the next revision only when
/// a transaction writes), so a record unread past the last one read extends the loss past it.
/// Revision 1 is never lost: etcd's store starts there and gives its first write revision 2.
pub fn gaps(records: &[KeyRecord<'_>], unread: &[&[u8]], compacted: u64) -> Vec<[u64; 2]> {
    let read: Vec<u64> = records.iter().map(|r| r.rev.main).filter(|&m| m > compacted).collect();
    // A revision is lost when any of its records is, also when others of it were read (one
    // operation of a transaction lost: a key deleted there may come back).
    let mut missing: Vec<u64> = unread.iter().filter_map(|k| revision::main_of(k)).filter(|&m| m > compacted).collect();
    missing.sort_unstable();
    missing.dedup();
    let mut out: Vec<[u64; 2]> = Vec::new();
    let mut push = |r: [u64; 2]| match out.last_mut() {
        Some(last) if r[0] <= last[1].saturating_add(1) => last[1] = last[1].max(r[1]),
        _ => out.push(r),
    };
    let mut prev = compacted.max(1);
    let (mut i, mut j) = (0, 0);
    while i < read.len() || j < missing.len() {
        let take_read = j >= missing.len() || (i < read.len() && read[i] < missing[j]);
        let main = if take_read { read[i] } else { missing[j] };
        if main > prev.saturating_add(1) {
            push([prev + 1, main - 1]);
        }
        if take_read {
            i += 1;
        } else {
            push([main, main]);
            j += 1;
        }
        prev = prev.max(main);
    }
    out
}

/// The one key a lost range holds, when it is a single record the tree holds but could not read.
pub fn single_key<'a>(l: &LostRange<'a>) -> Option<&'a [u8]> {
    match (l.lower, l.upper) {
        (Some(lo), Some(hi)) if l.upper_inclusive && lo == hi => Some(lo),
        _ => None,
    }
}

/// The key ranges that could not be read, as inclusive ranges of main revisions at or below
/// `compacted` (above it, [`gaps`] knows exactly), merged.
pub fn possibly_lost(lost: &[LostRange<'_>], compacted: Option<u64>, last: u64) -> Vec<[u64; 2]> {
    let top = compacted.unwrap_or(last);
    let mut v: Vec<[u64; 2]> = lost
        .iter()
        .filter_map(|l| {
            let lo = l.lower.and_then(revision::main_of).unwrap_or(1).max(1);
            let hi = l.upper.and_then(revision::main_of).unwrap_or(u64::MAX).min(top);
            (lo <= hi).then_some([lo, hi])
        })
        .collect();
    v.sort_unstable();
    let mut out: Vec<[u64; 2]> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r[0] <= last[1].saturating_add(1) => last[1] = last[1].max(r[1]),
            _ => out.push(r),
        }
    }
    out
}

/// What the key ranges with no readable neighbour above them (the `key` bucket's last leaf, or
/// everything past the last record of a tree that may not be the newest) mean for the newest
/// revisions, given the last main revision recovered and the compaction:
///
/// - `(Some(l), _)`: a revision past the last record read and the compaction certainly existed
///   (the branch above the unreadable range names it as its first key), so every one from `l`,
///   the first past both, did and has no record: `l` and later are lost, how many is unknown;
/// - `(None, Some(t))`: revisions after `t` may have existed and have no record;
/// - `(None, None)`: every such range is closed above; [`gaps`] and [`possibly_lost`] say it all.
pub fn open_end(lost: &[LostRange<'_>], compacted: Option<u64>, last: u64) -> (Option<u64>, Option<u64>) {
    let top = last.max(compacted.unwrap_or(0));
    let mut certain: Option<u64> = None;
    let mut maybe = false;
    for l in lost.iter().filter(|l| l.upper.is_none()) {
        match l.lower.and_then(revision::main_of) {
            Some(from) if from > top => certain = Some(certain.map_or(from, |c| c.min(from))),
            _ => maybe = true,
        }
    }
    // Every revision above the compaction up to that one existed, and none past the last record
    // read was recovered: the loss begins right after both (the last leaf but one lost too, or a
    // loss that spans the compaction).
    let certain = certain.map(|_| top.saturating_add(1));
    match certain {
        Some(c) => (Some(c), None),
        None => (None, maybe.then_some(top)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbolt::order::PageId;
    use crate::etcd::carve::{record, RevKey, Source};
    use crate::problem::{Problem, ProblemKind};

    /// A put of `key` at `main` (sub 0), as (revision key, value) bytes.
    fn put(key: &[u8], main: u8) -> (Vec<u8>, Vec<u8>) {
        let mut k = u64::from(main).to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&[0; 8]);
        let mut v = vec![0x0a, key.len() as u8];
        v.extend_from_slice(key);
        v.extend_from_slice(&[0x10, main, 0x18, main, 0x20, 1, 0x2a, 1, b'v']);
        (k, v)
    }

    fn rec<'a>(kv: &'a (Vec<u8>, Vec<u8>)) -> KeyRecord<'a> {
        let (rev, f) = record(&kv.0, &kv.1).unwrap();
        KeyRecord {
            rev,
            rev_key: RevKey::File(&kv.0),
            raw: &kv.1,
            kv: f,
            page: PageId(9),
            fix: Fix::None,
            source: Source::Tree,
        }
    }

    #[test]
    fn the_last_two_leaves_lost_lose_every_revision_the_first_of_them_names() {
        let p = || Problem::new(ProblemKind::PageOutOfBounds, String::new());
        let (a, b, mid) = (put(b"x", 106).0, put(b"x", 108).0, put(b"x", 50).0);
        let (mid_hi, low) = (put(b"x", 60).0, put(b"x", 90).0);
        let lost = [LostRange::new(Some(&a), Some(&b), p()), LostRange::new(Some(&b), None, p())];
        assert_eq!(open_end(&lost, Some(96), 105), (Some(106), None));
        // Revisions 106 and 107 existed too (above the compaction, below 108), wherever they were.
        let lost = [LostRange::new(Some(&mid), Some(&mid_hi), p()), LostRange::new(Some(&b), None, p())];
        assert_eq!(open_end(&lost, Some(10), 105), (Some(106), None));
        // A loss that spans the compaction (96): from 97.
        assert_eq!(open_end(&[LostRange::new(Some(&b), None, p())], Some(96), 95), (Some(97), None));
        // Nor does one below the compaction; an open end at the last record read may hold more.
        let lost = [LostRange::new(Some(&low), Some(&a), p()), LostRange::new(Some(&a), None, p())];
        assert_eq!(open_end(&lost, Some(96), 106), (None, Some(106)));
    }

    #[test]
    fn found_records_follow_etcds_rules() {
        // Compacted at 10. The tree lost the range [main 4, main 8).
        let (a3, a5, b6, c7, d9, e12) =
            (put(b"a", 3), put(b"a", 5), put(b"b", 6), put(b"c", 7), put(b"d", 9), put(b"e", 12));
        let (lo, hi) = (put(b"x", 4).0, put(b"x", 8).0);
        let lost = [LostRange::new(Some(&lo), Some(&hi), Problem::new(ProblemKind::PageOutOfBounds, String::new()))];
        let tree = vec![rec(&a3), rec(&c7)];
        // a@5: in the lost range, newest of a: kept, uncertain. b@6: the same. c@7 is the tree's.
        // d@9: at or below the compaction, outside the lost range: residue. e@12: above it: certain.
        let found = vec![rec(&a5), rec(&b6), rec(&c7), rec(&d9), rec(&e12), rec(&b6)];
        let m = merge(tree, found, &lost, Some(10));
        let mains: Vec<u64> = m.records.iter().map(|r| r.rev.main).collect();
        assert_eq!(mains, [3, 5, 6, 7, 12]);
        assert_eq!(m.uncertain, [false, true, true, false, false]);
        assert_eq!((m.from_tree, m.found, m.left_out), (2, 3, 1));
        // A key with a newer record at or below the compaction is superseded even in a lost
        // range; one whose newer records all lie above it is not (compaction keeps its newest
        // record at or below it).
        let (a4, a11) = (put(b"a", 4), put(b"a", 11));
        let m = merge(vec![rec(&a5)], vec![rec(&a4)], &lost, Some(10));
        assert_eq!(m.records.len(), 1);
        let m = merge(vec![rec(&a11)], vec![rec(&a5)], &lost, Some(10));
        assert_eq!((m.records.len(), m.uncertain[0]), (2, true));
        assert_eq!(gaps(&m.records, &[], 2), [[3, 4], [6, 10]]);
        // A record the tree holds but could not read: its revision is lost, and past the last
        // record read, so is every revision between them; one at or below the compaction is not
        // counted here (possibly_lost says it), nor one already in a gap.
        let (u13, u7) = (put(b"x", 13).0, put(b"x", 7).0);
        assert_eq!(gaps(&m.records, &[&u13], 2), [[3, 4], [6, 10], [12, 13]]);
        assert_eq!(gaps(&m.records, &[&u7, &u13], 8), [[9, 10], [12, 13]]);
        assert_eq!(gaps(&m.records, &[&lo], 2), [[3, 4], [6, 10]], "main 4 is already lost");
        // One record of a revision unread, another of it read: the revision is lost all the same.
        let u5 = put(b"y", 5).0;
        assert_eq!(gaps(&m.records, &[&u5], 2), [[3, 10]]);
        // Never compacted: the first write is revision 2, so nothing before it is lost.
        let (a2, b4) = (put(b"a", 2), put(b"b", 4));
        let first = vec![rec(&a2), rec(&b4)];
        assert_eq!(gaps(&first, &[], 0), [[3, 3]]);
        assert_eq!(possibly_lost(&lost, Some(6), 12), [[4, 6]]);
    }
}
