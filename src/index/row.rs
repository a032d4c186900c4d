//! What the index keeps about each analysis: its history row (what `history` shows), and for a
//! file found unsound, a mark under the file's identity that commands answering from the file
//! without judging all of it (`get`, `log`, `dump`, `hashkv`) tell.

use super::Identity;

/// One analysis of one file, as `history` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryRow {
    /// The path as given, made absolute, as the index names it ([`path::key`]: the path itself
    /// when it is UTF-8, exact for any bytes; [`path::display`] shows it).
    pub path: String,
    /// When, in seconds since the Unix epoch.
    pub analysed_at: u64,
    /// The command (`status`, `inspect`, `check`, `scan`, `trend`, `du`).
    pub command: String,
    /// File size.
    pub file_size: u64,
    /// `hwm * pageSize`.
    pub total_size: Option<u64>,
    /// etcd revision.
    pub revision: Option<u64>,
    /// etcdutl's HASH, hex.
    pub hash: Option<String>,
    /// Size in use.
    pub in_use: Option<u64>,
    /// Free / total.
    pub fragmentation: Option<f64>,
    /// `ok`, or what was wrong.
    pub verdict: String,
    /// The file read, as hex of the part of its [`Identity`] that a rename keeps (size, meta
    /// pages, trailer, modification time, inode, device: not the inode change time); `None` for a
    /// file that could not be read, and in rows stored before it was kept. `trend` counts a backup
    /// renamed since once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_identity: Option<String>,
}

impl HistoryRow {
    /// Whether the analysis found the file sound: `ok` (with warnings or not), status's `not
    /// verified (...)`, or only a gate failed (`check`'s quota or alarm gates: the file itself is
    /// sound). A row without a size (an unreadable file) or with problems is not.
    pub fn found_no_problem(&self) -> bool {
        let v = self.verdict.as_str();
        self.total_size.is_some() && (v.starts_with("ok") || v.starts_with("not verified") || v == "gate failed")
    }

    /// Whether the analysis found the file sound having judged all of it ([`Self::found_no_problem`]
    /// without status's `not verified (...)`, which checked less): what outweighs an earlier row
    /// that found problems.
    pub fn judged_sound(&self) -> bool {
        self.found_no_problem() && !self.verdict.starts_with("not verified")
    }
}

/// What an analysis stored with [`Index::put`] found about the file of an identity.
#[derive(Clone, Copy, Debug)]
pub enum Finding<'a> {
    /// No verdict on the file: nothing wrong found, or a result about a tree read on purpose
    /// (`--meta N`), or a row without a result.
    Nothing,
    /// Problems (or a failed gate): earlier answers about the identity are forgotten.
    Problems(&'a Identity),
    /// `check` (which never answers from the index) found nothing wrong: a failure marked earlier
    /// for the identity is cleared (a newer boltscope may not find what an older one did).
    CheckedClean(&'a Identity),
}

/// The analysis that last found problems in a file, kept under its identity ([`Index::failure`]).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The command (`check`, `status`, `inspect`, `scan`, `du`, `trend`).
    pub command: String,
    /// Its verdict (`2 problem(s)`, ...).
    pub verdict: String,
    /// When, in seconds since the Unix epoch.
    pub analysed_at: u64,
}

impl Failure {
    pub(super) fn of(row: &HistoryRow) -> Failure {
        Failure { command: row.command.clone(), verdict: row.verdict.clone(), analysed_at: row.analysed_at }
    }
}

/// Whether a stored history row (sealed under its `path`) records an analysis that found
/// problems: such rows are never evicted ([`super::bound`]), so `trend` still withholds the
/// figures of a backup that failed and was then read by a command that does not judge it whole.
pub(super) fn found_problems(path: &str, sealed: &[u8]) -> bool {
    super::sealed::unseal(path.as_bytes(), sealed)
        .and_then(|v| serde_json::from_slice::<HistoryRow>(v).ok())
        .is_some_and(|r| !r.found_no_problem())
}

/// Where an identity's [`Failure`] is kept among the results: under the identity without its
/// inode change time, which a rename, a link or a chmod change (a result key is the identity
/// then the command's tag).
pub(super) fn failure_key(id: &Identity) -> Vec<u8> {
    let mut k = id.1.to_vec();
    k.extend_from_slice(b"\0failed");
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;

    fn row(command: &str, verdict: &str) -> HistoryRow {
        HistoryRow {
            path: "/b/x.db".into(),
            analysed_at: 7,
            command: command.into(),
            file_size: 4096,
            total_size: Some(4096),
            revision: None,
            hash: None,
            in_use: None,
            fragmentation: None,
            verdict: verdict.into(),
            file_identity: None,
        }
    }

    #[test]
    fn problems_mark_the_identity_a_failed_gate_does_not_and_a_clean_check_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap();
        let (id, other) = (Identity([1; 32], [1; 32]), Identity([2; 32], [2; 32]));
        ix.put(Finding::Problems(&id), None, &[], Some(&row("status", "gate failed"))).unwrap();
        assert_eq!(ix.failure(&id).unwrap(), None, "a failed gate: the file itself is sound");
        ix.put(Finding::Problems(&id), None, &[], Some(&row("status", "2 problem(s)"))).unwrap();
        let marked = Failure { command: "status".into(), verdict: "2 problem(s)".into(), analysed_at: 7 };
        assert_eq!(ix.failure(&id).unwrap(), Some(marked.clone()));
        assert_eq!(ix.failure(&other).unwrap(), None);
        // Another clean analysis (status does not judge the trailer) leaves the mark.
        ix.put(Finding::Nothing, None, &[], Some(&row("status", "not verified (sha256 trailer not checked)"))).unwrap();
        assert_eq!(ix.failure(&id).unwrap(), Some(marked));
        ix.put(Finding::CheckedClean(&id), None, &[], Some(&row("check", "ok"))).unwrap();
        assert_eq!(ix.failure(&id).unwrap(), None, "cleared by a clean check");
    }
}
