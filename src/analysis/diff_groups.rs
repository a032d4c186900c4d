//! The per-group summary of a diff: keys added, removed, changed and unchanged, and live keys and
//! bytes before and after, by Kubernetes resource, by namespace, or by key prefix (the grouping
//! `du` uses, on [`crate::k8s::key`]).

use crate::k8s::key;
use std::collections::BTreeMap;

/// The group of keys outside the Kubernetes prefixes.
pub const OTHER: &str = "(other)";
/// The namespace group of cluster-scoped Kubernetes keys.
pub const CLUSTER_SCOPED: &str = "(cluster)";

/// How keys are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    /// By Kubernetes resource ([`key::parse`]); keys outside the prefixes are [`OTHER`].
    Resource,
    /// By namespace: `<namespace>`, [`CLUSTER_SCOPED`], or [`OTHER`].
    Namespace,
    /// By the first N path segments ([`key::prefix_group`]).
    Prefix(usize),
}

impl Grouping {
    /// The group of `key`.
    pub fn of(&self, k: &[u8]) -> String {
        match self {
            Grouping::Resource => key::parse(k).map_or_else(|| OTHER.to_string(), |p| p.resource),
            Grouping::Namespace => match key::parse(k) {
                None => OTHER.to_string(),
                Some(p) => p.namespace_lossy().map_or_else(|| CLUSTER_SCOPED.to_string(), |n| n.into_owned()),
            },
            Grouping::Prefix(n) => String::from_utf8_lossy(key::prefix_group(k, *n)).into_owned(),
        }
    }

    /// The name as `--by` spells it.
    pub fn label(&self) -> String {
        match self {
            Grouping::Resource => "resource".into(),
            Grouping::Namespace => "namespace".into(),
            Grouping::Prefix(n) => format!("prefix:{n}"),
        }
    }
}

/// One group's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupSummary {
    /// The group.
    pub name: String,
    /// Keys live in B only.
    pub added: u64,
    /// Keys live in A only.
    pub removed: u64,
    /// Keys live in both, with a difference.
    pub changed: u64,
    /// Keys live in both, equal.
    pub unchanged: u64,
    /// Live keys in A.
    pub live_keys_a: u64,
    /// Live keys in B.
    pub live_keys_b: u64,
    /// Key + value bytes of A's live keys.
    pub live_bytes_a: u64,
    /// Key + value bytes of B's live keys.
    pub live_bytes_b: u64,
}

/// What happened to one key, for the tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Live in B only.
    Added,
    /// Live in A only.
    Removed,
    /// Live in both, different.
    Changed,
    /// Live in both, equal.
    Unchanged,
}

/// Group figures being summed.
#[derive(Debug, Default)]
pub struct Tally {
    groups: BTreeMap<String, GroupSummary>,
}

impl Tally {
    fn group(&mut self, name: String) -> &mut GroupSummary {
        self.groups.entry(name).or_insert_with_key(|n| GroupSummary { name: n.clone(), ..GroupSummary::default() })
    }

    /// Counts a live key of A (`side_a`) or B in `group`, with its live bytes.
    pub fn live(&mut self, group: String, side_a: bool, bytes: u64) {
        let g = self.group(group);
        if side_a {
            g.live_keys_a += 1;
            g.live_bytes_a += bytes;
        } else {
            g.live_keys_b += 1;
            g.live_bytes_b += bytes;
        }
    }

    /// Counts what happened to a key of `group`.
    pub fn outcome(&mut self, group: String, o: Outcome) {
        let g = self.group(group);
        match o {
            Outcome::Added => g.added += 1,
            Outcome::Removed => g.removed += 1,
            Outcome::Changed => g.changed += 1,
            Outcome::Unchanged => g.unchanged += 1,
        }
    }

    /// Whether every key fell in [`OTHER`] (or there were none).
    pub fn only_other(&self) -> bool {
        self.groups.keys().all(|k| k == OTHER)
    }

    /// The groups, by name.
    pub fn into_groups(self) -> Vec<GroupSummary> {
        self.groups.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_keys() {
        let k = b"/registry/services/specs/default/kubernetes";
        assert_eq!(Grouping::Resource.of(k), "services");
        assert_eq!(Grouping::Namespace.of(k), "default");
        assert_eq!(Grouping::Namespace.of(b"/registry/minions/n1"), CLUSTER_SCOPED);
        assert_eq!(Grouping::Resource.of(b"compact_rev_key"), OTHER);
        assert_eq!(Grouping::Namespace.of(b"/x/y"), OTHER);
        assert_eq!(Grouping::Prefix(2).of(k), "/registry/services");
        assert_eq!(Grouping::Prefix(1).label(), "prefix:1");
    }

    #[test]
    fn tally_sums_per_group() {
        let mut t = Tally::default();
        t.live("pods".into(), true, 10);
        t.live("pods".into(), false, 7);
        t.live("pods".into(), false, 5);
        t.outcome("pods".into(), Outcome::Changed);
        t.outcome("pods".into(), Outcome::Added);
        assert!(!t.only_other());
        let g = t.into_groups();
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].live_keys_a, g[0].live_bytes_a, g[0].live_keys_b, g[0].live_bytes_b), (1, 10, 2, 12));
        assert_eq!((g[0].added, g[0].changed, g[0].removed), (1, 1, 0));
    }
}
