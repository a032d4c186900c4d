//! The per-group summary of a diff: keys added, removed, changed and unchanged, and live keys and
//! bytes before and after, in the groups of `du` ([`super::grouping::By`]).

use super::du_report::GroupName;
use super::grouping::OTHER;
use std::collections::BTreeMap;

/// One group's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupSummary {
    /// The group: `name`, or `name_base64` when it is not UTF-8 (as `du` names groups), so that
    /// groups whose names differ only in bytes that are not UTF-8 stay apart.
    #[serde(flatten)]
    pub name: GroupName,
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
    groups: BTreeMap<Vec<u8>, GroupSummary>,
}

impl Tally {
    fn group(&mut self, name: Vec<u8>) -> &mut GroupSummary {
        self.groups
            .entry(name)
            .or_insert_with_key(|n| GroupSummary { name: GroupName::of(n), ..GroupSummary::default() })
    }

    /// Counts a live key of A (`side_a`) or B in `group`, with its live bytes.
    pub fn live(&mut self, group: Vec<u8>, side_a: bool, bytes: u64) {
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
    pub fn outcome(&mut self, group: Vec<u8>, o: Outcome) {
        let g = self.group(group);
        match o {
            Outcome::Added => g.added += 1,
            Outcome::Removed => g.removed += 1,
            Outcome::Changed => g.changed += 1,
            Outcome::Unchanged => g.unchanged += 1,
        }
    }

    /// Adds another tally's figures.
    pub fn join(&mut self, o: Tally) {
        for (name, x) in o.groups {
            let g = self.group(name);
            g.added += x.added;
            g.removed += x.removed;
            g.changed += x.changed;
            g.unchanged += x.unchanged;
            g.live_keys_a += x.live_keys_a;
            g.live_keys_b += x.live_keys_b;
            g.live_bytes_a += x.live_bytes_a;
            g.live_bytes_b += x.live_bytes_b;
        }
    }

    /// Whether every key fell in [`OTHER`] (or there were none).
    pub fn only_other(&self) -> bool {
        self.groups.keys().all(|k| k.as_slice() == OTHER.as_bytes())
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

    #[test]
    fn groups_whose_names_are_not_utf8_stay_apart() {
        // Review 35c: named by lossy text, `/bin/\xff` and `/bin/\xfe` were one group `/bin/\u{fffd}`.
        let mut t = Tally::default();
        t.outcome(b"/bin/\xff".to_vec(), Outcome::Changed);
        t.outcome(b"/bin/\xfe".to_vec(), Outcome::Unchanged);
        let g = t.into_groups();
        assert_eq!(g.len(), 2);
        let json = serde_json::to_value(&g[1]).unwrap();
        assert_eq!((&json["name_base64"], &json["changed"]), (&serde_json::json!("L2Jpbi//"), &serde_json::json!(1)));
        assert_eq!(g[0].name.display(), "/bin/\\xfe");
    }

    #[test]
    fn tallies_join_group_by_group() {
        let (mut l, mut r) = (Tally::default(), Tally::default());
        l.live("pods".into(), true, 10);
        l.outcome("pods".into(), Outcome::Removed);
        r.live("pods".into(), false, 7);
        r.outcome("pods".into(), Outcome::Added);
        r.live("(other)".into(), true, 3);
        r.outcome("(other)".into(), Outcome::Unchanged);
        l.join(r);
        let g = l.into_groups();
        assert_eq!(g.iter().map(|g| g.name.display()).collect::<Vec<_>>(), ["(other)", "pods"]);
        assert_eq!((g[0].live_keys_a, g[0].live_bytes_a, g[0].unchanged), (1, 3, 1));
        let p = &g[1];
        assert_eq!((p.live_keys_a, p.live_bytes_a, p.live_keys_b, p.live_bytes_b), (1, 10, 1, 7));
        assert_eq!((p.added, p.removed, p.changed, p.unchanged), (1, 1, 0, 0));
    }
}
