//! Problems: the file was read and something in it is wrong. A problem names its stable kind, the
//! page id and byte offset where known, and the bucket path; [`Sink`] collects them from many
//! threads with bounded memory.

use std::fmt;

/// A stable, machine-readable class of problem. Serialized in snake_case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A meta page fails validation (magic, version, checksum, page size).
    MetaInvalid,
    /// The two meta pages disagree on something that cannot change (page size).
    MetaMismatch,
    /// The high-water mark (`meta.pgid`) lies past the end of the file.
    HwmPastEof,
    /// A page id at or past the high-water mark is referenced.
    PageOutOfBounds,
    /// A referenced page run extends past the end of the file.
    PagePastEof,
    /// A page header's id differs from the id it was reached by.
    PageIdMismatch,
    /// A page reached as part of a tree is not a branch or leaf page.
    InvalidPageType,
    /// A page is reached twice.
    MultipleReferences,
    /// A branch points back to one of its own ancestors.
    Cycle,
    /// An element header, key or value lies outside its page.
    ElementOutsidePage,
    /// An element's key does not start where bbolt writes it (its `node.write` packs keys and
    /// values back to back right after the element headers): the first one past the headers the
    /// count names, or another one not right after the element before it. A count that shrank (its
    /// last elements lost, every one listed reading well) shows so.
    ElementMisplaced,
    /// Keys out of order within a page or across the tree.
    KeysOutOfOrder,
    /// A branch element's key differs from its child's first key.
    BranchKeyMismatch,
    /// An empty key.
    EmptyKey,
    /// A branch page with no elements.
    EmptyBranch,
    /// A bucket entry's value is not a valid bucket header or inline page.
    BucketMalformed,
    /// Tree or bucket nesting deeper than any real file can be.
    TooDeep,
    /// The freelist page is malformed.
    FreelistInvalid,
    /// A freelist id outside `[2, hwm)`.
    FreelistOutOfRange,
    /// A page id listed twice in the freelist.
    PageFreedTwice,
    /// A page listed free is reachable from the tree.
    ReachableFreed,
    /// A page below the high-water mark is neither reachable nor free (a leak).
    UnreachableUnfreed,
    /// The etcd snapshot sha256 trailer does not match the file.
    TrailerMismatch,
    /// The file changed while it was read (a live file); the answer may be torn.
    Torn,
    /// A meta page's root or freelist page id is at or past its high-water mark.
    MetaOutOfRange,
    /// `--require-trailer` and the file has no sha256 trailer.
    TrailerMissing,
    /// A `key` bucket key that is not a 17-byte revision (18 with `t` for a tombstone).
    InvalidRevisionKey,
    /// A `key` bucket value that does not decode as an `mvccpb.KeyValue`.
    InvalidKeyValue,
    /// A KeyValue whose fields contradict its revision key or each other.
    InconsistentKeyValue,
    /// A tombstone that carries more than its key.
    TombstoneWithData,
    /// A live key attached to a lease the `lease` bucket does not hold (a warning).
    LeaseMissing,
    /// An etcd `meta` bucket entry that is not well-formed.
    EtcdMetaMalformed,
    /// A record of etcd's small buckets (`lease`, `alarm`, `auth`, `authUsers`, `authRoles`,
    /// `members`, `members_removed`, `cluster`) that etcd 3.5.1 cannot read: a server restored
    /// from the file stops at start, the restore fails, or listing users or roles kills it
    /// ([`crate::etcd::startup`]).
    EtcdRecordUnreadable,
    /// The database is shorter than the 4096 bytes bbolt's `Open` reads to find the page size:
    /// real bbolt (and so etcd) calls it an invalid database.
    TooShortForBbolt,
    /// Writing a copy failed (reported by the writer, not found in a file).
    OutputFailed,
    /// Bytes past the high-water mark that are neither whole zero pages (a member file's
    /// grow-ahead slack) nor a 32-byte sha256 trailer: a snapshot cut short or with bytes
    /// appended. `etcdutl snapshot restore` refuses it without `--skip-hash-check`.
    TrailingBytes,
    /// Whole pages past the high-water mark that hold data (a warning): what a transaction wrote
    /// before it committed, in a member's file read while etcd writes it or left by one stopped
    /// mid-commit. bbolt and etcd never read them (a snapshot `etcdctl` saves has none).
    UncommittedPages,
    /// An alarm (NOSPACE, CORRUPT) is raised in the file: a cluster restored from it starts with
    /// it (a warning).
    AlarmRaised,
    /// Deleted data, Secrets among it, is still readable in free pages (a warning).
    ResidualSecrets,
    /// Keys whose history in the `key` bucket etcd cannot have written (records compaction
    /// deleted, a generation started or continued out of turn, a version that is not the next):
    /// a stale page in the tree, or a record's fields rewritten in place.
    HistoryInconsistent,
    /// Revisions missing from the `key` bucket above the compaction, where etcd leaves none (see
    /// [`crate::etcd::continuity`]): a leaf lost from the tree, or replaced by a stale one.
    RevisionsMissing,
    /// Revision holes in a store never compacted whose records up to the hole are all shaped as
    /// etcd 3.4's `etcdctl migrate` writes them (a warning: a migrated v2 store, or damage).
    RevisionHolesAsMigrated,
    /// An etcd file without its `meta` bucket (its `key` bucket holds revisions), without its
    /// `key` bucket (its `meta` bucket holds the consistent index), or without both (its `members`
    /// bucket names etcd's members): buckets lost from the root.
    EtcdBucketMissing,
}

impl ProblemKind {
    /// Whether the problem is only a warning: reported, but the file still passes `check`.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            ProblemKind::LeaseMissing
                | ProblemKind::UncommittedPages
                | ProblemKind::AlarmRaised
                | ProblemKind::ResidualSecrets
                | ProblemKind::RevisionHolesAsMigrated
        )
    }

    /// Whether the problem can make figures read from the tree wrong. Meta pages (the other one
    /// is used), the trailer and the freelist do not change what the tree holds.
    pub fn affects_figures(self) -> bool {
        !matches!(
            self,
            ProblemKind::MetaInvalid
                | ProblemKind::MetaMismatch
                // A file cut short: any page of the tree past its end is a problem of its own.
                | ProblemKind::HwmPastEof
                | ProblemKind::TrailerMismatch
                | ProblemKind::FreelistInvalid
                | ProblemKind::FreelistOutOfRange
                | ProblemKind::PageFreedTwice
                | ProblemKind::ReachableFreed
                | ProblemKind::UnreachableUnfreed
                | ProblemKind::MetaOutOfRange
                | ProblemKind::TrailerMissing
                | ProblemKind::InvalidRevisionKey
                | ProblemKind::InvalidKeyValue
                | ProblemKind::InconsistentKeyValue
                | ProblemKind::TombstoneWithData
                | ProblemKind::HistoryInconsistent
                | ProblemKind::RevisionsMissing
                | ProblemKind::RevisionHolesAsMigrated
                | ProblemKind::LeaseMissing
                | ProblemKind::EtcdMetaMalformed
                | ProblemKind::EtcdRecordUnreadable
                | ProblemKind::EtcdBucketMissing
                | ProblemKind::TooShortForBbolt
                | ProblemKind::OutputFailed
                | ProblemKind::TrailingBytes
                | ProblemKind::UncommittedPages
                | ProblemKind::AlarmRaised
                | ProblemKind::ResidualSecrets
        )
    }

    /// Whether the problem is a record of the `key` bucket that etcd cannot read or that breaks its
    /// invariants: the tree's own figures stand, but not the MVCC figures (a record without a key
    /// cannot be counted under one), so those are withheld.
    pub fn in_records(self) -> bool {
        matches!(
            self,
            ProblemKind::InvalidRevisionKey
                | ProblemKind::InvalidKeyValue
                | ProblemKind::InconsistentKeyValue
                | ProblemKind::TombstoneWithData
                | ProblemKind::HistoryInconsistent
                | ProblemKind::RevisionsMissing
        )
    }

    /// Whether the problem lies in the tree of buckets, keys and values (what a copy carries and
    /// what figures are read from), as opposed to the meta pages, the freelist, the trailer or the
    /// file's length.
    pub fn in_tree(self) -> bool {
        self.affects_figures()
            || self.in_records()
            || matches!(
                self,
                ProblemKind::EtcdMetaMalformed | ProblemKind::EtcdRecordUnreadable | ProblemKind::EtcdBucketMissing
            )
    }

    /// The snake_case name used in JSON output.
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

/// One thing wrong with a file. In JSON (every command): `kind`, `severity` (`error`, or `warning`
/// for a problem the file still passes `check` with: [`ProblemKind::is_warning`]), `page`,
/// `offset`, `bucket`, `message`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct Problem {
    /// The class of problem.
    pub kind: ProblemKind,
    /// The page id where it was found.
    pub page: Option<u64>,
    /// The absolute byte offset in the file.
    pub offset: Option<u64>,
    /// The bucket path (names, lossily UTF-8), empty for the root bucket or none.
    pub bucket: Vec<String>,
    /// A sentence a person understands.
    pub message: String,
}

impl Problem {
    /// A problem with no location yet.
    pub fn new(kind: ProblemKind, message: String) -> Problem {
        Problem { kind, page: None, offset: None, bucket: Vec::new(), message }
    }
    /// Sets the page id.
    pub fn page(mut self, id: impl Into<u64>) -> Problem {
        self.page = Some(id.into());
        self
    }
    /// Sets the byte offset.
    pub fn offset(mut self, off: u64) -> Problem {
        self.offset = Some(off);
        self
    }
    /// Sets the page id and byte offset from a place ([`crate::bbolt::view::DbView::place`]),
    /// when it is known.
    pub fn placed(self, place: Option<(crate::bbolt::order::PageId, u64)>) -> Problem {
        match place {
            Some((page, off)) => self.page(page.0).offset(off),
            None => self,
        }
    }
    /// Sets the bucket path.
    pub fn bucket(mut self, path: Vec<String>) -> Problem {
        self.bucket = path;
        self
    }
}

impl serde::Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Problem", 6)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("severity", if self.kind.is_warning() { "warning" } else { "error" })?;
        st.serialize_field("page", &self.page)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("bucket", &self.bucket)?;
        st.serialize_field("message", &self.message)?;
        st.end()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)?;
        if let Some(o) = self.offset {
            write!(f, " (byte offset {o})")?;
        }
        if !self.bucket.is_empty() {
            write!(f, " [bucket {}]", self.bucket.join("/"))?;
        }
        Ok(())
    }
}

/// Most problems kept in memory; the rest are only counted, so a file where every page is broken
/// still costs bounded memory.
pub const MAX_PROBLEMS: usize = 1000;

/// Collects problems from many threads, keeping the first `MAX_PROBLEMS`.
#[derive(Debug, Default)]
pub struct Sink {
    kept: std::sync::Mutex<Vec<Problem>>,
    total: std::sync::atomic::AtomicU64,
}

impl Sink {
    /// Records a problem.
    pub fn push(&self, p: Problem) {
        self.total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut v = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if v.len() < MAX_PROBLEMS {
            v.push(p);
        }
    }

    /// Total problems recorded (kept or not).
    pub fn total(&self) -> u64 {
        self.total.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The kept problems, sorted by page id then offset so output is stable across runs.
    pub fn into_sorted(self) -> (Vec<Problem>, u64) {
        let total = self.total();
        let mut v = self.kept.into_inner().unwrap_or_else(|e| e.into_inner());
        v.sort_by_key(|p| (p.page.unwrap_or(u64::MAX), p.offset.unwrap_or(u64::MAX), p.kind as u32));
        (v, total)
    }
}
