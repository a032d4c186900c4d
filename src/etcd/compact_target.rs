//! Which revision a compaction runs at: the current one, or one asked for, refused past the
//! current revision and below the finished compaction, or below one scheduled and not finished
//! (etcd's `mvcc: required revision is a future revision` and `... has been compacted`: etcd
//! resumes an unfinished compaction on start), and never in a file that is not etcd's.
//!
//! The entries that survive a compaction at that revision are [`super::compaction::keep`]'s.

use super::schema;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use std::fmt;

/// Which revision to compact at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revision {
    /// Keep every revision (defrag only).
    None,
    /// etcd's current revision.
    Latest,
    /// This revision.
    At(u64),
}

/// Why a compaction revision cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetError {
    /// The file has no `key` and `meta` buckets.
    NotEtcd,
    /// Past the current revision.
    Future {
        /// Asked for.
        rev: u64,
        /// The current revision.
        current: u64,
    },
    /// Below the finished compaction: those revisions are gone already.
    Compacted {
        /// Asked for.
        rev: u64,
        /// The finished compaction.
        finished: u64,
    },
    /// Below a compaction etcd scheduled and had not finished when the file was saved: part of
    /// what lies below it is gone already, and etcd finishes it on start.
    Compacting {
        /// Asked for.
        rev: u64,
        /// The scheduled compaction.
        scheduled: u64,
    },
    /// The `key` bucket cannot be read.
    Unreadable(Problem),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::NotEtcd => f.write_str("--revision needs an etcd file (one with `key` and `meta` buckets)"),
            TargetError::Future { rev, current } => write!(f, "revision {rev} is past the current revision {current}"),
            TargetError::Compacted { rev, finished } => {
                write!(f, "revision {rev} is below the finished compaction at {finished}: it is already gone")
            }
            TargetError::Compacting { rev, scheduled } => write!(
                f,
                "revision {rev} is below the compaction at {scheduled}, which etcd was running when the file was \
                 saved (scheduled, not finished): part of what lies below it is gone already, and etcd finishes it \
                 on start; compact at {scheduled} or later"
            ),
            TargetError::Unreadable(p) => write!(f, "the key bucket cannot be read: {p}"),
        }
    }
}

/// A compaction to make: at `revision`, in a store whose current revision is `current`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The revision compacted at.
    pub revision: u64,
    /// The store's current revision.
    pub current: u64,
}

/// The revision to compact `view` at (None: no compaction). Refuses a file that is not etcd's, a
/// revision past the current one, and one below the finished or the scheduled compaction.
pub fn target(view: &DbView<'_>, r: Revision) -> Result<Option<Target>, TargetError> {
    if r == Revision::None {
        return Ok(None);
    }
    if !schema::is_etcd(view) {
        // An etcd file that lost its `key` (or `meta`) bucket is damaged, as `check` says, not a
        // file of another kind (review 48a).
        return Err(schema::bucket_missing(view).map_or(TargetError::NotEtcd, TargetError::Unreadable));
    }
    let last = schema::newest_revision(view).map_err(TargetError::Unreadable)?.unwrap_or(0);
    let info = schema::read_core(view, last);
    let current = info.current_revision;
    let rev = match r {
        Revision::At(x) => x,
        _ => current,
    };
    if rev > current {
        return Err(TargetError::Future { rev, current });
    }
    if let Some(finished) = info.finished_compact_revision.filter(|&f| rev < f) {
        return Err(TargetError::Compacted { rev, finished });
    }
    if let Some(scheduled) = info.scheduled_compact_revision.filter(|&s| rev < s) {
        return Err(TargetError::Compacting { rev, scheduled });
    }
    Ok(Some(Target { revision: rev, current }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    /// The current and finished compaction revisions real etcd 3.5.1 reported for a fixture
    /// (`endpoint hashkv -w json` on a server restored from it).
    fn server_says(name: &str) -> (u64, u64) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/key-answers");
        let answers = std::fs::read_to_string(dir.join(format!("{name}.hashkv.jsonl"))).unwrap();
        let first: serde_json::Value = serde_json::from_str(answers.lines().next().unwrap()).unwrap();
        let out = base64::engine::general_purpose::STANDARD.decode(first["stdout_b64"].as_str().unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let h = &v[0]["HashKV"];
        (h["header"]["revision"].as_u64().unwrap(), h["compact_revision"].as_u64().unwrap())
    }

    #[test]
    fn revisions_are_taken_and_refused_as_etcd_takes_them() {
        let (current, finished) = server_says("k8s-0.005");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let data = std::fs::read(dir.join("k8s-0.005.snap.db")).unwrap();
        let view = DbView::new(&data).unwrap();
        assert_eq!(target(&view, Revision::None), Ok(None));
        assert_eq!(target(&view, Revision::Latest), Ok(Some(Target { revision: current, current })));
        let at = |r| target(&view, Revision::At(r));
        assert_eq!(at(finished), Ok(Some(Target { revision: finished, current })), "at the compaction itself");
        assert_eq!(at(finished - 1), Err(TargetError::Compacted { rev: finished - 1, finished }));
        assert_eq!(at(current + 1), Err(TargetError::Future { rev: current + 1, current }));
        let msg = at(current + 1).unwrap_err().to_string();
        assert_eq!(msg, format!("revision {} is past the current revision {current}", current + 1));
    }

    #[test]
    fn below_a_compaction_etcd_had_not_finished_is_refused() {
        // Saved while etcd was compacting at C (fixtures/compacting): the restored server reports
        // C as its compaction, having finished it; below C part of the history is gone already.
        let (current, c) = server_says("compacting-1");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compacting");
        let data = std::fs::read(dir.join("compacting-1.snap.db")).unwrap();
        let view = DbView::new(&data).unwrap();
        let at = |r| target(&view, Revision::At(r));
        assert_eq!(at(c), Ok(Some(Target { revision: c, current })));
        assert_eq!(at(c - 1), Err(TargetError::Compacting { rev: c - 1, scheduled: c }));
        assert_eq!(at(1), Err(TargetError::Compacting { rev: 1, scheduled: c }));
    }
}
