//! `du` results over time: one row per analysis of a file with each group's main figures, so
//! `history --resources` (and a trend over a series of backups) can show which resources grew.
//! Rows live in their own table, sealed like every stored value; an index made before it simply
//! has none.

use super::sealed::{insert_row, Rows};
use super::{guard, Index};
use crate::analysis::du_report::Du;
use redb::TableDefinition;

pub(super) const DU: Rows = TableDefinition::new("du");

/// One group's figures in a [`DuRow`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DuGroup {
    /// The group's name (lossy UTF-8).
    pub name: String,
    /// Live keys.
    pub live_keys: u64,
    /// Live key plus value bytes.
    pub live_bytes: u64,
    /// Records.
    pub revisions: u64,
    /// Stored bytes (history included).
    pub stored_bytes: u64,
}

/// One `du` of one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DuRow {
    /// The path, made absolute, as the index names it ([`super::path::key`]).
    pub path: String,
    /// When, in seconds since the Unix epoch.
    pub analysed_at: u64,
    /// etcd revision.
    pub revision: Option<u64>,
    /// The grouping (`resource`, `prefix:1`, ...).
    pub by: String,
    /// In-use size.
    pub in_use: u64,
    /// Every group.
    pub groups: Vec<DuGroup>,
}

impl DuRow {
    /// The row of a report with figures (none when they were withheld).
    pub fn of(path: String, analysed_at: u64, d: &Du) -> Option<DuRow> {
        let groups = d
            .groups
            .as_ref()?
            .iter()
            .map(|g| DuGroup {
                name: g.name.display(),
                live_keys: g.figures.live_keys,
                live_bytes: g.figures.live_bytes,
                revisions: g.figures.revisions,
                stored_bytes: g.figures.stored_bytes,
            })
            .collect();
        Some(DuRow { path, analysed_at, revision: d.revision, by: d.by.clone(), in_use: d.in_use.unwrap_or(0), groups })
    }
}

/// How a group changed between two rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Growth {
    /// The group.
    pub name: String,
    /// Figures in the first row (zero when absent there).
    pub before: DuGroup,
    /// Figures in the last row (zero when absent there).
    pub after: DuGroup,
}

impl Growth {
    /// Change in stored bytes.
    pub fn stored_change(&self) -> i128 {
        i128::from(self.after.stored_bytes) - i128::from(self.before.stored_bytes)
    }
}

/// Every group of two rows of the same grouping, the largest change in stored bytes first (ties
/// by name); empty when the groupings differ.
pub fn growth(first: &DuRow, last: &DuRow) -> Vec<Growth> {
    if first.by != last.by {
        return Vec::new();
    }
    let mut names: Vec<&String> = first.groups.iter().chain(&last.groups).map(|g| &g.name).collect();
    names.sort();
    names.dedup();
    let find = |r: &DuRow, n: &str| r.groups.iter().find(|g| g.name == n).cloned().unwrap_or_default();
    let mut v: Vec<Growth> =
        names.into_iter().map(|n| Growth { name: n.clone(), before: find(first, n), after: find(last, n) }).collect();
    v.sort_by(|a, b| b.stored_change().abs().cmp(&a.stored_change().abs()).then_with(|| a.name.cmp(&b.name)));
    v
}

impl Index {
    /// Adds a `du` row.
    pub fn put_du(&self, row: &DuRow) -> Result<(), String> {
        let w = self.writer()?;
        guard("write", || {
            let tx = self.write_tx(w.db()?)?;
            insert_row(&tx, DU, &row.path, row)?;
            super::bound::enforce(&tx, self.bounds.0, &[(DU, &|_, _| false)], self.bounds.1)?;
            self.commit(tx)
        })
    }

    /// `du` rows for these paths (all when empty), by path then time.
    pub fn du_history(&self, paths: &[String]) -> Result<Vec<DuRow>, String> {
        self.rows("du history", DU, paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: u64, groups: &[(&str, u64)]) -> DuRow {
        let groups =
            groups.iter().map(|(n, s)| DuGroup { name: (*n).into(), stored_bytes: *s, ..DuGroup::default() }).collect();
        DuRow { path: "/b/x.db".into(), analysed_at: at, revision: Some(at), by: "resource".into(), in_use: 0, groups }
    }

    #[test]
    fn rows_are_kept_per_path_and_growth_names_what_changed() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap();
        assert!(ix.du_history(&[]).unwrap().is_empty(), "an index without the table has no rows");
        let (a, b) = (row(1, &[("pods", 100), ("events", 50)]), row(2, &[("pods", 90), ("secrets", 500)]));
        ix.put_du(&a).unwrap();
        ix.put_du(&b).unwrap();
        assert_eq!(ix.du_history(&["/b/x.db".into()]).unwrap(), vec![a.clone(), b.clone()]);
        assert!(ix.du_history(&["/other".into()]).unwrap().is_empty());
        let g: Vec<(String, i128)> = growth(&a, &b).iter().map(|g| (g.name.clone(), g.stored_change())).collect();
        assert_eq!(g, vec![("secrets".into(), 500), ("events".into(), -50), ("pods".into(), -10)]);
        assert!(growth(&a, &DuRow { by: "prefix:1".into(), ..b }).is_empty());
    }
}
