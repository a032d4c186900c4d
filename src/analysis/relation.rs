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
//! and the files share an origin: the same cluster id or a shared history); `diverged` (different
//! revisions, a common origin, histories that part); `unrelated` (nothing in common).

use super::diff::KeyDiff;
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::page::LeafElem;
use crate::bbolt::seq::Entries;
use crate::bbolt::view::DbView;
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
    /// Different revisions, a common origin, histories that part.
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
    /// Whether the cluster ids agree (`None` when either is unknown).
    pub same_cluster: Option<bool>,
    /// The shared history compared.
    pub history: History,
    /// Differing keys that are conflicts ([`super::diff`]).
    pub conflicts: u64,
}

/// Decides the relation from both files' facts, their shared history and their diff.
pub fn relate(a: Facts, b: Facts, history: History, diff: &KeyDiff) -> Relation {
    let same_cluster = match (a.cluster_id, b.cluster_id) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    };
    let conflicts = diff.conflicts().count() as u64;
    let common = same_cluster == Some(true) || history.equal_entries > 0;
    let agree = history.diverged_at.is_none();
    let kind = if a.revision == b.revision {
        if diff.equal() && agree {
            Kind::Identical
        } else if common {
            Kind::Inconsistent
        } else {
            Kind::Unrelated
        }
    } else if conflicts == 0 && agree && common {
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
    Relation { kind, same_cluster, history, conflicts }
}

#[cfg(test)]
mod tests {
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
}
