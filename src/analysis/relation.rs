//! How two etcd files relate: the same cluster or not, whether the later one descends from the
//! earlier one, and two files at the same revision that differ (an inconsistency between members,
//! which etcd's `hashkv` detects but cannot locate).
//!
//! Two facts decide, besides the key-level diff ([`super::diff`]) and its conflicts:
//! - the cluster id of each file, derived from its `members` bucket ([`crate::etcd::cluster`]);
//! - their shared history: the `key` buckets read in lockstep, in revision order, over the
//!   revisions both still hold alike, i.e. above both files' compaction (finished or scheduled;
//!   from the start when both were compacted at the same revision, see [`first_shared`]) and up
//!   to the lower current revision. Every entry there (revision key and stored
//!   record) must be byte-equal in two files with one history; the first revision where they
//!   differ is where the histories diverged (etcd's `hashkv --rev R` of the two differs from that
//!   revision on). It stops at the first difference.
//!
//! The kinds: `identical` (same revision, same live state, same history); `b_descends_from_a` /
//! `a_descends_from_b` (the later file's history contains the earlier one: no divergence and no
//! conflicting key); `inconsistent` (same revision, but the live states or the histories differ,
//! and the files share an origin: the same cluster id or a shared history, and are not of two
//! clusters); `diverged` (different revisions, or two clusters, a common origin, histories that
//! part); `unrelated` (nothing in common).

use super::diff::KeyDiff;
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::page::LeafElem;
use crate::bbolt::seq::Entries;
use crate::bbolt::view::DbView;
use crate::etcd::proto::Kv;
use crate::etcd::revision;
use crate::problem::Problem;

/// The history both files hold, compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct History {
    /// First revision compared (above both compactions).
    pub from: u64,
    /// Last revision compared (the lower current revision).
    pub to: u64,
    /// Entries found equal before the first difference (or in all).
    pub equal_entries: u64,
    /// The first revision whose entries differ; `None` when all agree.
    pub diverged_at: Option<u64>,
}

/// Entries of a `key` bucket with a main revision in `[from, to]`, in order.
fn window<'v, 'a>(
    view: &'v DbView<'a>,
    kb: BucketRoot<'a>,
    from: u64,
    to: u64,
) -> impl Iterator<Item = Result<(u64, LeafElem<'a>), Problem>> + 'v {
    Entries::new(view, kb)
        .map(|e| e.map(|e| (revision::main_of(e.key).unwrap_or(0), e)))
        .filter(move |e| e.as_ref().map_or(true, |(m, _)| *m >= from))
        .take_while(move |e| e.as_ref().map_or(true, |(m, _)| *m <= to))
}

/// Compares the two `key` buckets entry by entry over revisions `[from, to]`, leaving out
/// tombstones at the revision `skip` names (see [`first_shared`]).
pub fn shared_history<'a>(
    a: (&DbView<'a>, BucketRoot<'a>),
    b: (&DbView<'a>, BucketRoot<'a>),
    (from, skip): (u64, Option<u64>),
    to: u64,
) -> Result<History, Problem> {
    let mut h = History { from, to, equal_entries: 0, diverged_at: None };
    if from > to {
        return Ok(h);
    }
    let kept = move |e: &Result<(u64, LeafElem<'a>), Problem>| match e {
        Ok((m, e)) => Some(*m) != skip || !revision::is_tombstone(e.key),
        Err(_) => true,
    };
    let (mut x, mut y) = (window(a.0, a.1, from, to).filter(kept), window(b.0, b.1, from, to).filter(kept));
    loop {
        match (x.next().transpose()?, y.next().transpose()?) {
            (None, None) => return Ok(h),
            (Some((_, p)), Some((_, q))) if p.key == q.key && p.value == q.value => h.equal_entries += 1,
            (p, q) => {
                h.diverged_at = [p, q].iter().flatten().map(|(m, _)| *m).min();
                return Ok(h);
            }
        }
    }
}

/// The lowest revision whose entries both files must hold alike if they share a history, given
/// each file's compaction and whether it had finished: above either compaction; or from the start
/// when both finished a compaction at the same revision C (each then holds the same survivors: the
/// newest record of each key at or below C, tombstones dropped), leaving out tombstones at C
/// itself (the second value: one is kept since etcd 3.4.34/3.5.16, so two files compacted by
/// releases on either side of that change differ there). A compaction not finished (a file saved
/// while etcd was compacting) still holds records below C that the other file may have lost.
pub fn first_shared((ca, done_a): (u64, bool), (cb, done_b): (u64, bool)) -> (u64, Option<u64>) {
    if ca == cb && done_a && done_b {
        return (1, (ca > 0).then_some(ca));
    }
    (ca.max(cb).saturating_add(1), None)
}

/// What the two files are to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Same revision, same live state, same history.
    Identical,
    /// B is a later state of A.
    BDescendsFromA,
    /// A is a later state of B.
    ADescendsFromB,
    /// Same revision, different contents, a common origin.
    Inconsistent,
    /// Different revisions (or the same in two clusters), a common origin, histories that part.
    Diverged,
    /// Nothing in common.
    Unrelated,
}

impl Kind {
    /// The kind as a sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Identical => "identical: same revision, same keys and values",
            Kind::BDescendsFromA => "B descends from A: a later state of the same history",
            Kind::ADescendsFromB => "A descends from B: B is an earlier state of the same history",
            Kind::Inconsistent => "INCONSISTENT: same revision, different contents",
            Kind::Diverged => "diverged: the histories part",
            Kind::Unrelated => "unrelated: no shared cluster or history",
        }
    }
}

/// One file's identity for the relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Current revision.
    pub revision: u64,
    /// Cluster id from the `members` bucket.
    pub cluster_id: Option<u64>,
}

/// The relation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relation {
    /// The kind.
    pub kind: Kind,
    /// Whether the files are of one cluster: the same derived id (`true`), or different ids and
    /// no member in common (`false`); `None` when an id is unknown, or the ids differ but a member
    /// is in common (see [`relate`]).
    pub same_cluster: Option<bool>,
    /// Whether the `members` buckets name a member in common (`None` when either lists none).
    pub shared_member: Option<bool>,
    /// The shared history compared.
    pub history: History,
    /// Differing keys that are conflicts ([`super::diff`]).
    pub conflicts: u64,
}

/// Decides the relation from both files' facts, whether their `members` buckets name a member in
/// common (`None` when either lists none), their shared history and their diff.
///
/// The cluster id derived from a `members` bucket is etcd's only while the members are the
/// bootstrap ones (etcd keeps the id it computed then): after a member is added it differs. Files
/// with different ids that name a member in common are then of one cluster, or of two built alike
/// (a bootstrap member's id follows from its peer URLs and the cluster token, often the default):
/// `same_cluster` is unknown, and the member in common is an origin only for a later file that
/// contradicts nothing of the earlier one's history (every live key checked, [`contradicts`]),
/// never for two files at one revision.
pub fn relate(a: Facts, b: Facts, shared_member: Option<bool>, history: History, diff: &KeyDiff) -> Relation {
    let same_cluster = match (a.cluster_id, b.cluster_id) {
        (Some(x), Some(y)) if x == y => Some(true),
        _ if shared_member == Some(true) => None,
        (Some(_), Some(_)) => Some(false),
        _ => None,
    };
    let conflicts = diff.conflicts().count() as u64;
    let common = same_cluster == Some(true) || history.equal_entries > 0;
    let member = shared_member == Some(true);
    let agree = history.diverged_at.is_none();
    let kind = if a.revision == b.revision {
        if diff.equal() && agree {
            Kind::Identical
        } else if common && same_cluster == Some(false) {
            // Two clusters (no id, no member in common) cannot be inconsistent members of one: a
            // copy restored elsewhere, say, whose history parted from the original's.
            Kind::Diverged
        } else if common {
            Kind::Inconsistent
        } else {
            Kind::Unrelated
        }
    } else if conflicts == 0 && agree && (common || member) {
        if a.revision < b.revision {
            Kind::BDescendsFromA
        } else {
            Kind::ADescendsFromB
        }
    } else if common {
        Kind::Diverged
    } else {
        Kind::Unrelated
    };
    Relation { kind, same_cluster, shared_member, history, conflicts }
}

/// Whether `newer`, a key's live record in the later file, contradicts the earlier file at
/// revision `r_o` (`older`: the key's live record there, if any), which holds the whole history up
/// to `r_o`. Etcd's rules for one history: a record written at or below `r_o` would be there as it
/// is; a generation created at or below `r_o` and still live was live at `r_o`, with that create
/// revision; within one generation each put adds one to the version, at most one put a revision.
pub(super) fn contradicts(older: Option<&Kv<'_>>, newer: &Kv<'_>, r_o: u64) -> bool {
    if newer.mod_revision <= r_o {
        return true;
    }
    let created_before = newer.create_revision <= r_o;
    match older {
        None => created_before,
        Some(o) if o.create_revision != newer.create_revision => created_before,
        Some(o) => {
            let puts = newer.version.saturating_sub(o.version);
            let revisions = newer.mod_revision.saturating_sub(o.mod_revision);
            newer.mod_revision <= o.mod_revision || puts == 0 || puts > revisions
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::diff::Change;
    use super::*;

    #[test]
    fn first_shared_revision() {
        assert_eq!(first_shared((0, true), (0, true)), (1, None));
        assert_eq!(first_shared((96, true), (96, true)), (1, Some(96)), "the same survivors");
        assert_eq!(first_shared((100, true), (7, true)), (101, None));
        assert_eq!(first_shared((u64::MAX, true), (0, true)), (u64::MAX, None));
        // One of them saved while etcd was still compacting at 16: only above it.
        assert_eq!(first_shared((16, false), (16, true)), (17, None));
        assert_eq!(first_shared((16, true), (16, false)), (17, None));
    }

    #[test]
    fn a_later_record_that_cannot_follow_the_earlier_history_contradicts_it() {
        // Review 35c: only a put at or below R counted, so a file whose keys were created before
        // R but missing from the earlier file, or whose version skips no put, "descended" from it.
        let kv = |create: u64, m: u64, version: u64| Kv {
            key: b"/k",
            create_revision: create,
            mod_revision: m,
            version,
            value_len: 1,
            value: b"v",
            lease: 0,
            more_than_key: true,
        };
        let r = 40;
        assert!(contradicts(None, &kv(37, 41, 2), r), "created at 37, not live at 40");
        assert!(!contradicts(None, &kv(41, 41, 1), r), "created after 40");
        assert!(contradicts(None, &kv(30, 40, 1), r), "a put at or below 40");
        let old = kv(2, 38, 3);
        assert!(contradicts(Some(&old), &kv(2, 41, 3), r), "a later put that counts none");
        assert!(!contradicts(Some(&old), &kv(2, 41, 4), r));
        assert!(!contradicts(Some(&old), &kv(2, 41, 6), r), "three puts in 39, 40 and 41");
        assert!(contradicts(Some(&old), &kv(2, 41, 7), r), "four puts in three revisions");
        assert!(contradicts(Some(&old), &kv(39, 41, 2), r), "a generation live at 40 that A does not show");
        assert!(!contradicts(Some(&old), &kv(41, 42, 2), r), "deleted and created again after 40");
    }

    #[test]
    fn a_member_in_common_lets_a_later_file_descend_and_two_clusters_are_never_inconsistent() {
        // Review 35c: a member added changes the id derived from the members, so backups of one
        // cluster were "unrelated"; two clusters fed the same writes were "INCONSISTENT". Review
        // 35d: a member in common is no proof of one cluster (two built with the same peer URLs
        // and token share it), so it made two clusters at one revision INCONSISTENT.
        let change =
            Change { key: b"/c".to_vec(), a: None, b: None, fields: Vec::new(), decoded: None, conflict: true };
        let diff = KeyDiff {
            added: Vec::new(),
            removed: Vec::new(),
            changed: vec![change],
            unchanged: 3,
            live_keys: (4, 4),
            by: super::super::grouping::By::Prefix(1),
            groups: Vec::new(),
            passes: 1,
            histories_broken: (0, 0),
        };
        let at = |r: u64, id: u64| Facts { revision: r, cluster_id: Some(id) };
        let none = History { from: 5, to: 4, equal_entries: 0, diverged_at: None };
        let shared = History { from: 1, to: 4, equal_entries: 3, diverged_at: Some(4) };
        // A member in common, the ids different: a member added, or two clusters built alike.
        // Enough for a later file that contradicts nothing; never for one revision.
        let r = relate(at(44, 1), at(44, 2), Some(true), none, &diff);
        assert_eq!((r.kind, r.same_cluster), (Kind::Unrelated, None));
        let mut agreeing = diff.clone();
        agreeing.changed[0].conflict = false;
        let r = relate(at(40, 1), at(44, 2), Some(true), none, &agreeing);
        assert_eq!((r.kind, r.shared_member), (Kind::BDescendsFromA, Some(true)));
        assert_eq!(relate(at(40, 1), at(44, 2), Some(true), none, &diff).kind, Kind::Unrelated);
        let r = relate(at(44, 1), at(44, 2), None, none, &diff);
        assert_eq!((r.kind, r.same_cluster), (Kind::Unrelated, Some(false)));
        assert_eq!(relate(at(4, 1), at(4, 2), Some(false), shared, &diff).kind, Kind::Diverged);
        assert_eq!(relate(at(4, 1), at(4, 1), Some(false), shared, &diff).kind, Kind::Inconsistent);
    }
}
