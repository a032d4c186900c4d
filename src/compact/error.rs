//! Why a compact job refused or failed. Each variant is one reason, so callers (the binary's exit
//! code policy, tests) match on it instead of reading a message; [`CompactError::class`] says
//! whether it is about the file's contents, the command line, or the system.

use crate::error::Error;
use crate::etcd::compaction::TargetError;
use crate::problem::Problem;
use std::fmt;
use std::path::PathBuf;

/// A refusal or failure of `compact`; nothing was written to DST.
#[derive(Debug)]
pub enum CompactError {
    /// DST exists and `force` was not given.
    Exists(PathBuf),
    /// DST is SRC itself (also through a link).
    IsSource(PathBuf),
    /// DST exists and is not a regular file, or lies under `/dev` or `/proc`.
    NotRegular(PathBuf, String),
    /// SRC could not be read as a bbolt file at all.
    Unreadable(Error),
    /// SRC's tree has problems `check` reports: it cannot be copied faithfully.
    Damaged {
        /// The problems the file has, those in the tree it would copy first (the first few when
        /// many).
        problems: Vec<Problem>,
        /// How many there are (more than `problems` holds when many), as `check` counts them.
        total: u64,
        /// How many lie in the tree it would copy (what it is refused for).
        in_tree: u64,
    },
    /// The newer meta page is not valid: bbolt would not read the tree compact would copy.
    MetaFallback {
        /// The newer meta page (0 or 1).
        newer: usize,
        /// Why it is not usable.
        why: String,
        /// The meta page real bbolt (and so etcd) would read.
        bbolt_reads: usize,
    },
    /// SRC's sha256 trailer does not match its contents.
    TrailerMismatch {
        /// The trailer's hash.
        stored: String,
        /// The contents' hash.
        computed: String,
    },
    /// SRC has bytes past its pages that are not a whole sha256 trailer (a trailer cut short, or
    /// bytes appended): its contents cannot be verified.
    TrailerCut {
        /// Why, with the byte offset.
        problem: String,
    },
    /// SRC changed during every read (a running etcd committing).
    Torn {
        /// Reads made.
        reads: usize,
    },
    /// `--revision` cannot be used on this file.
    Revision(TargetError),
    /// An option is out of range.
    Options(String),
    /// The copy was written but does not hold what SRC holds.
    VerifyFailed(String),
    /// Writing the copy failed (a full disk, a permission).
    Io(std::io::Error),
    /// A thread of the job panicked.
    Internal(String),
}

/// What a [`CompactError`] is about, for exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// SRC's contents (damage, a bad trailer, a file that kept changing, a failed verification).
    Contents,
    /// The command line (a DST that may not be written, a bad option or revision).
    Usage,
    /// SRC could not be read, or the system failed (I/O, a panic).
    Unreadable,
}

impl CompactError {
    /// Its class.
    pub fn class(&self) -> Class {
        match self {
            CompactError::Damaged { .. }
            | CompactError::MetaFallback { .. }
            | CompactError::TrailerMismatch { .. }
            | CompactError::TrailerCut { .. }
            | CompactError::Torn { .. }
            | CompactError::VerifyFailed(_) => Class::Contents,
            CompactError::Exists(_)
            | CompactError::IsSource(_)
            | CompactError::NotRegular(..)
            | CompactError::Revision(_)
            | CompactError::Options(_) => Class::Usage,
            CompactError::Unreadable(_) | CompactError::Io(_) | CompactError::Internal(_) => Class::Unreadable,
        }
    }

    /// A stable snake_case name, for JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            CompactError::Exists(_) => "dst_exists",
            CompactError::IsSource(_) => "dst_is_src",
            CompactError::NotRegular(..) => "dst_not_regular",
            CompactError::Unreadable(e) => e.kind().name(),
            CompactError::Damaged { .. } => "src_damaged",
            CompactError::MetaFallback { .. } => "meta_fallback",
            CompactError::TrailerMismatch { .. } => "trailer_mismatch",
            CompactError::TrailerCut { .. } => "trailing_bytes",
            CompactError::Torn { .. } => "torn",
            CompactError::Revision(_) => "bad_revision",
            CompactError::Options(_) => "bad_option",
            CompactError::VerifyFailed(_) => "verify_failed",
            CompactError::Io(_) => "io",
            CompactError::Internal(_) => "internal",
        }
    }
}

impl CompactError {
    /// SRC refused for one problem.
    pub fn damaged(p: Problem) -> CompactError {
        CompactError::Damaged { problems: vec![p], total: 1, in_tree: 1 }
    }
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactError::Exists(p) => write!(f, "{} exists; use --force to replace it", p.display()),
            CompactError::IsSource(p) => {
                write!(f, "{} is the source file itself; refusing to overwrite it", p.display())
            }
            CompactError::NotRegular(p, what) => {
                write!(f, "{} {what}: refusing to replace it, even with --force", p.display())
            }
            CompactError::Unreadable(e) => write!(f, "{e}"),
            CompactError::Damaged { problems, in_tree, .. } => {
                let first = problems.first().map(Problem::to_string).unwrap_or_default();
                write!(
                    f,
                    "it has {in_tree} problem(s) in the tree it would copy (first: {first}); `boltscope check` lists them. \
                     Refusing to copy a damaged file (`boltscope salvage` copies what it holds and says what is lost)"
                )
            }
            CompactError::MetaFallback { newer, why, bbolt_reads } => {
                write!(f, "its newer meta page {newer} cannot be used ({why}); ")?;
                if bbolt_reads == newer {
                    f.write_str("real bbolt and etcd still read that one, so a copy of the older transaction would not be what they see")?;
                } else {
                    write!(f, "real bbolt would fall back to meta page {bbolt_reads}, the previous transaction, losing the last commit")?;
                }
                write!(
                    f,
                    ". Refusing to fall back on my own: --meta {} copies the older transaction deliberately",
                    1 - newer
                )
            }
            CompactError::TrailerMismatch { stored, computed } => write!(
                f,
                "its sha256 trailer is {stored}, but its contents hash to {computed}: the snapshot is corrupt or was \
                 cut short. Refusing to copy it (--skip-hash-check copies it anyway, as etcdutl snapshot restore \
                 --skip-hash-check would restore it)"
            ),
            CompactError::TrailerCut { problem } => write!(
                f,
                "{problem}. Its contents cannot be verified, and a fresh trailer on the copy would vouch for them: \
                 refusing to copy it (--skip-hash-check copies it anyway, as etcdutl snapshot restore \
                 --skip-hash-check would restore it)"
            ),
            CompactError::Torn { reads } => {
                let times =
                    if *reads == 1 { "while it was read".into() } else { format!("on every one of {reads} reads") };
                write!(
                    f,
                    "it changed {times} (a running etcd committing?): the copy could be torn, so nothing was written. \
                     Compact a snapshot of it (`etcdctl snapshot save`), or stop the member first"
                )
            }
            CompactError::Revision(e) => write!(f, "{e}"),
            CompactError::Options(msg) => f.write_str(msg),
            CompactError::VerifyFailed(msg) => write!(f, "verification failed: {msg}; nothing was written"),
            CompactError::Io(e) => write!(f, "{e}"),
            CompactError::Internal(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CompactError {}

impl From<std::io::Error> for CompactError {
    fn from(e: std::io::Error) -> CompactError {
        CompactError::Io(e)
    }
}

/// An error reading SRC (writing errors are `std::io::Error`s, [`CompactError::Io`]).
impl From<Error> for CompactError {
    fn from(e: Error) -> CompactError {
        CompactError::Unreadable(e)
    }
}
