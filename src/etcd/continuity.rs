//! etcd's revisions have no holes above the compaction: a transaction that changes something
//! moves the store to the next main revision and writes its changes as sub revisions 0, 1, 2...
//! (one that changes nothing does not move it), and only compaction deletes records. So every
//! revision from the one after the compaction (the larger of the finished and the scheduled one,
//! and at least 1: etcd's first transaction writes revision 2) up to the newest is in the `key`
//! bucket, with every sub revision from 0. A hole there is damage a tree can hide: a branch
//! element lost with its leaf, or a branch pointing at a stale copy of a leaf, leave a bucket
//! whose pages and records all read well.
//!
//! One writer leaves holes without a compaction: etcd 3.4's `etcdctl migrate` (v2 store to v3)
//! writes each surviving v2 key as one record at its v2 modified index, sub revision 0, version
//! 1, and the v2 indexes of deleted keys and directories are holes. So a hole in a store never
//! compacted, below which every record is shaped so (a version-1 put at sub revision 0: a store
//! whose history up to there has no update, no delete and no transaction of two changes), is a
//! warning that names both causes ([`ProblemKind::RevisionHolesAsMigrated`]); any other is damage.
//!
//! A [`Continuity`] is built over a stretch of the bucket in order, and stretches join left to
//! right (as the parallel walks join their halves). It keeps only the highest step that is not
//! to the next revision: once the compaction is known, that step decides (every lower one lies
//! below it, and a step at or below the compaction is what compaction leaves); and where the
//! stretch's leading run of migration-shaped records ends.

use crate::problem::{Problem, ProblemKind};

/// `(main, sub)`.
pub type Rev = (u64, u64);

/// Where a record lies: its page and byte offset, when known.
pub type At = (Option<u64>, Option<u64>);

/// A step between two records: the revision before (none at the bucket's start) and the one
/// after, with where the latter lies (page, byte offset) when known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The revision before.
    pub before: Option<Rev>,
    /// The revision after.
    pub after: Rev,
    /// The page and byte offset of the record after.
    pub at: At,
}

/// What a stretch of the `key` bucket says of its revisions' continuity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Continuity {
    /// Its first record's revision and location.
    first: Option<(Rev, At)>,
    /// Its last record's revision.
    last: Option<Rev>,
    /// Its highest step that is not to the next revision.
    gap: Option<Step>,
    /// Whether every record of it is shaped as `etcdctl migrate` writes them.
    all_shaped: bool,
    /// The last revision of its leading run of such records (none when its first is not).
    shaped_to: Option<Rev>,
    /// A step that does not go up (a problem of its own, `keys_out_of_order`): the steps say
    /// nothing reliable about holes then.
    disordered: bool,
}

/// Whether a record is shaped as `etcdctl migrate` writes every record: a put (not a tombstone) of
/// version 1 at sub revision 0. The one test every reader feeds [`Continuity::push`] with.
pub fn migrate_shaped(rev: &super::revision::Revision, version: u64) -> bool {
    rev.sub == 0 && !rev.tombstone && version == 1
}

/// Whether `next` is the revision right after `prev`.
fn follows(prev: Rev, next: Rev) -> bool {
    (next.0 == prev.0 && Some(next.1) == prev.1.checked_add(1))
        || (Some(next.0) == prev.0.checked_add(1) && next.1 == 0)
}

impl Continuity {
    /// The next record of the stretch (in bucket order), on `page` at byte offset `offset`;
    /// `shaped`: a put of version 1 at sub revision 0 (as `etcdctl migrate` writes every record).
    pub fn push(&mut self, rev: Rev, shaped: bool, page: Option<u64>, offset: Option<u64>) {
        match self.last {
            Some(prev) if !follows(prev, rev) => {
                self.disordered |= rev <= prev;
                self.gap = Some(Step { before: Some(prev), after: rev, at: (page, offset) });
            }
            Some(_) => {}
            None => {
                self.first = Some((rev, (page, offset)));
                self.all_shaped = true;
            }
        }
        self.all_shaped &= shaped;
        if self.all_shaped {
            self.shaped_to = Some(rev);
        }
        self.last = Some(rev);
    }

    /// The stretch `self` followed by `right`.
    pub fn join(self, right: Continuity) -> Continuity {
        let (Some(prev), Some((first, at))) = (self.last, right.first) else {
            return if self.last.is_none() { right } else { self };
        };
        let junction = (!follows(prev, first)).then_some(Step { before: Some(prev), after: first, at });
        Continuity {
            first: self.first,
            last: right.last,
            gap: right.gap.or(junction).or(self.gap),
            all_shaped: self.all_shaped && right.all_shaped,
            shaped_to: if self.all_shaped { right.shaped_to.or(self.shaped_to) } else { self.shaped_to },
            disordered: self.disordered || right.disordered || first <= prev,
        }
    }

    /// The problem when the whole bucket (this stretch) has a hole above `compacted` (the larger
    /// of the finished and scheduled compactions).
    pub fn problem(&self, compacted: u64) -> Option<Problem> {
        let floor = compacted.max(1);
        if self.disordered {
            return None;
        }
        let step = match (self.gap, self.first) {
            (Some(g), _) => g,
            (None, Some((first, at))) => Step { before: None, after: first, at },
            (None, None) => return None,
        };
        let (main, sub) = step.after;
        let from = step.before.map_or(0, |b| b.0).max(floor);
        if main <= floor || (sub == 0 && Some(main) == from.checked_add(1)) {
            return None;
        }
        let lost = match step.before {
            Some(b) if b.0 == main => {
                format!("sub revisions {}..{} of revision {main}", b.1.saturating_add(1), sub.saturating_sub(1))
            }
            _ => {
                // Whole revisions between, then the first sub revisions of the one after.
                let whole = match main.saturating_sub(from) {
                    0 | 1 => None,
                    2 => Some(format!("revision {}", from.saturating_add(1))),
                    _ => Some(format!("revisions {}..{}", from.saturating_add(1), main.saturating_sub(1))),
                };
                let subs = (sub > 0).then(|| format!("sub revisions 0..{} of revision {main}", sub.saturating_sub(1)));
                whole.into_iter().chain(subs).collect::<Vec<_>>().join(" and ")
            }
        };
        let before = step.before.map_or("the start of the bucket".into(), |(m, s)| format!("{m}.{s}"));
        let on = step.at.0.map_or(String::new(), |p| format!(" (page {p})"));
        let msg = format!(
            "revision {main}.{sub}{on} follows {before}, above the compaction at {compacted}: {lost} missing \
             (etcd writes every revision above its compaction, and only compaction deletes records): a page of \
             the `key` bucket was lost or replaced by a stale one"
        );
        // In a store never compacted, within its leading run of records shaped as `etcdctl
        // migrate` writes them: the holes a migration from v2 leaves, or damage.
        // (A migrated store never starts at revision 2: the v2 store's first indexes went to the
        // cluster's own entries, which migrate does not carry over; a store etcd 3 wrote, never
        // compacted, starts there, so a hole in it is damage whatever its records.)
        let starts_late = self.first.is_some_and(|(r, _)| r.0 > 2);
        let migrated = compacted == 0 && starts_late && self.shaped_to.is_some_and(|to| step.after <= to);
        let (kind, msg) = if migrated {
            (
                ProblemKind::RevisionHolesAsMigrated,
                format!(
                    "revision {main}.{sub}{on} follows {before} with {lost} missing, in a store never compacted whose \
                     records up to there are all as `etcdctl migrate` (etcd 3.4, v2 to v3) writes them: the holes \
                     of a migrated v2 store; if this store was not migrated from v2, a page of the `key` bucket was \
                     lost"
                ),
            )
        } else {
            (ProblemKind::RevisionsMissing, msg)
        };
        let mut p = Problem::new(kind, msg).bucket(vec!["key".into()]);
        if let Some(page) = step.at.0 {
            p = p.page(page);
        }
        if let Some(off) = step.at.1 {
            p = p.offset(off);
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The continuity of `revs` pushed one by one, and also built as two stretches joined at
    /// every cut (the walks join halves): all must agree.
    fn of(revs: &[Rev]) -> Continuity {
        let mut whole = Continuity::default();
        for &r in revs {
            whole.push(r, false, Some(r.0), None);
        }
        for cut in 0..=revs.len() {
            let (mut a, mut b) = (Continuity::default(), Continuity::default());
            revs[..cut].iter().for_each(|&r| a.push(r, false, Some(r.0), None));
            revs[cut..].iter().for_each(|&r| b.push(r, false, Some(r.0), None));
            assert_eq!(a.join(b), whole, "cut at {cut}");
        }
        whole
    }

    fn missing(revs: &[Rev], compacted: u64) -> Option<String> {
        of(revs).problem(compacted).map(|p| p.message)
    }

    #[test]
    fn a_history_etcd_writes_has_no_hole() {
        // A fresh store: the first transaction is revision 2.
        assert_eq!(missing(&[(2, 0), (3, 0), (3, 1), (3, 2), (4, 0)], 0), None);
        // Compacted at 10: anything may be gone at or below it, nothing above.
        assert_eq!(missing(&[(2, 0), (7, 1), (9, 0), (11, 0), (12, 0)], 10), None);
        assert_eq!(missing(&[(10, 0), (11, 0)], 10), None);
        // Everything at or below the compaction deleted: the bucket starts right after it.
        assert_eq!(missing(&[(11, 0), (12, 0)], 10), None);
        // The --bump-revision marker is at the scheduled compaction: a hole below it is fine.
        assert_eq!(missing(&[(2, 0), (5, 0), (1_000_005, 0)], 1_000_005), None);
        assert_eq!(missing(&[], 4), None);
    }

    #[test]
    fn a_hole_above_the_compaction_is_found_and_named() {
        // A leaf holding revisions 13-14 lost.
        let m = missing(&[(11, 0), (12, 0), (15, 0), (16, 0)], 10).unwrap();
        assert!(m.contains("revision 15.0 (page 15) follows 12.0") && m.contains("revisions 13..14 missing"), "{m}");
        // Sub revisions lost within a revision, and at its start.
        let m = missing(&[(11, 0), (12, 0), (12, 3)], 10).unwrap();
        assert!(m.contains("sub revisions 1..2 of revision 12 missing"), "{m}");
        let m = missing(&[(11, 0), (12, 2)], 10).unwrap();
        assert!(m.contains("sub revisions 0..1 of revision 12 missing"), "{m}");
        // The revisions right after the compaction lost (or at the start of a fresh store).
        let m = missing(&[(5, 0), (13, 0)], 10).unwrap();
        assert!(m.contains("revisions 11..12 missing"), "{m}");
        let m = missing(&[(3, 0), (4, 0)], 0).unwrap();
        assert!(m.contains("follows the start of the bucket") && m.contains("revision 2 missing"), "{m}");
        // The highest hole decides, whatever lies below it.
        let m = missing(&[(2, 0), (8, 0), (11, 0), (12, 0), (20, 0)], 10).unwrap();
        assert!(m.contains("revision 20.0 (page 20) follows 12.0"), "{m}");
    }

    #[test]
    fn the_problem_names_the_page_of_the_record_after_the_hole() {
        let p = of(&[(11, 0), (14, 0)]).problem(10).unwrap();
        assert_eq!((p.kind, p.page), (ProblemKind::RevisionsMissing, Some(14)));
    }

    /// As [`of`], each record shaped as `etcdctl migrate` writes them when `shaped` says so.
    fn shaped(revs: &[(Rev, bool)]) -> Continuity {
        let mut whole = Continuity::default();
        revs.iter().for_each(|&(r, s)| whole.push(r, s, None, None));
        for cut in 0..=revs.len() {
            let (mut a, mut b) = (Continuity::default(), Continuity::default());
            revs[..cut].iter().for_each(|&(r, s)| a.push(r, s, None, None));
            revs[cut..].iter().for_each(|&(r, s)| b.push(r, s, None, None));
            assert_eq!(a.join(b), whole, "cut at {cut}");
        }
        whole
    }

    #[test]
    fn holes_a_v2_migration_leaves_are_a_warning_only_where_they_can_be_its() {
        // Migrated v2 keys (holes where v2 deleted keys or made directories), then v3 writes.
        let migrated = [((6, 0), true), ((9, 0), true), ((10, 0), true), ((11, 0), false), ((11, 1), false)];
        let p = shaped(&migrated).problem(0).unwrap();
        assert_eq!(p.kind, ProblemKind::RevisionHolesAsMigrated, "{}", p.message);
        assert!(p.kind.is_warning());
        // A store etcd 3 wrote (it starts at revision 2) with a hole among creates is damage.
        let native = [((2, 0), true), ((3, 0), true), ((6, 0), true)];
        assert_eq!(shaped(&native).problem(0).unwrap().kind, ProblemKind::RevisionsMissing);
        // A hole after an update (or any record not so shaped) is damage, as is any hole in a
        // store that was compacted.
        let after_update = [((4, 0), true), ((5, 0), false), ((8, 0), true)];
        assert_eq!(shaped(&after_update).problem(0).unwrap().kind, ProblemKind::RevisionsMissing);
        let compacted = [((6, 0), true), ((9, 0), true), ((12, 0), true)];
        assert_eq!(shaped(&compacted).problem(7).unwrap().kind, ProblemKind::RevisionsMissing);
        // The highest hole decides: a hole past the shaped run is damage even with holes below.
        let both = [((6, 0), true), ((9, 0), true), ((10, 0), false), ((14, 0), true)];
        assert_eq!(shaped(&both).problem(0).unwrap().kind, ProblemKind::RevisionsMissing);
    }

    #[test]
    fn records_out_of_order_say_nothing_of_holes() {
        // 131.0 rewritten to 120.0: the order is broken (its own problem); the steps around it
        // would name a hole of revisions that are there.
        assert_eq!(missing(&[(119, 0), (120, 0), (130, 0), (120, 0), (132, 0)], 100), None);
    }

    #[test]
    fn a_hole_into_a_later_sub_revision_names_both() {
        let m = missing(&[(128, 0), (129, 0), (131, 2)], 100).unwrap();
        assert!(m.contains("revision 130 and sub revisions 0..1 of revision 131 missing"), "{m}");
        let m = missing(&[(13, 2)], 10).unwrap();
        assert!(m.contains("revisions 11..12 and sub revisions 0..1 of revision 13 missing"), "{m}");
    }
}
