//! Errors: the file cannot be read as a bbolt database at all. Each says what stopped the read, in
//! a sentence, and has a stable [`ErrorKind`] (its snake_case name is the JSON `error.kind`), so
//! the binary maps every error to its exit code in one place. What is wrong *inside* a file that
//! could be read is a [`Problem`](crate::problem::Problem), not an error.

use std::fmt;

/// Why a file could not be read.
#[derive(Debug)]
pub enum Error {
    /// Opening, statting or mapping failed (missing file, no permission, ...).
    Io(std::io::Error),
    /// The path is a directory, FIFO, device or socket. `hint` suggests what was probably meant
    /// (`DIR/member/snap/db` for an etcd data directory).
    NotAFile {
        /// What it is.
        what: &'static str,
        /// What to try instead, when it can be guessed.
        hint: Option<String>,
    },
    /// The file is shorter than the smallest bbolt file (two meta pages of the smallest size).
    TooSmall(u64),
    /// Neither meta page is valid: not a bbolt file, or both meta pages destroyed. `looks_like`
    /// names what the file seems to be instead (an etcd WAL file, a tar archive, ...).
    NotBbolt {
        /// What the first bytes suggest, if anything.
        looks_like: Option<String>,
    },
    /// A bbolt file (a meta page carries bbolt's magic) whose two meta pages are both invalid:
    /// why, each page named with the byte offset of what is wrong.
    MetasInvalid {
        /// Each page's reason.
        why: String,
    },
    /// The meta page asked for (`--meta N`) cannot be used.
    MetaUnusable {
        /// 0 or 1.
        index: usize,
        /// Why.
        why: String,
    },
    /// A compressed or archived input could not be expanded (the `input` module's error, boxed:
    /// this module sits below every layer and names none of their types).
    Archive {
        /// The input file.
        path: std::path::PathBuf,
        /// Why, its message naming the file first.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The stable class of an [`Error`], for JSON and exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// [`Error::Io`].
    Io,
    /// [`Error::NotAFile`].
    NotAFile,
    /// [`Error::TooSmall`].
    TooSmall,
    /// [`Error::NotBbolt`].
    NotBbolt,
    /// [`Error::MetaUnusable`].
    MetaUnusable,
    /// [`Error::Archive`].
    Archive,
}

impl ErrorKind {
    /// The snake_case name used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::NotAFile => "not_a_file",
            ErrorKind::TooSmall => "too_small",
            ErrorKind::NotBbolt => "not_bbolt",
            ErrorKind::MetaUnusable => "meta_unusable",
            ErrorKind::Archive => "archive",
        }
    }
}

impl Error {
    /// Its class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io(_) => ErrorKind::Io,
            Error::NotAFile { .. } => ErrorKind::NotAFile,
            Error::TooSmall(_) => ErrorKind::TooSmall,
            // Both meta pages broken: as good as no bbolt file to every reader but salvage.
            Error::NotBbolt { .. } | Error::MetasInvalid { .. } => ErrorKind::NotBbolt,
            Error::MetaUnusable { .. } => ErrorKind::MetaUnusable,
            Error::Archive { .. } => ErrorKind::Archive,
        }
    }

    /// Neither meta page is valid, with no guess at what the file is.
    pub fn not_bbolt() -> Error {
        Error::NotBbolt { looks_like: None }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::NotAFile { what, hint } => {
                write!(f, "is {what}")?;
                if let Some(h) = hint {
                    write!(f, " ({h})")?;
                }
                Ok(())
            }
            Error::TooSmall(n) => write!(f, "holds {n} bytes, too small to be a bbolt database"),
            Error::NotBbolt { looks_like: None } => {
                f.write_str("not a bbolt database: neither meta page (0 or 1) is valid")
            }
            Error::NotBbolt { looks_like: Some(what) } => write!(f, "not a bbolt database: it looks like {what}"),
            Error::MetasInvalid { why } => write!(f, "neither meta page (0 or 1) is valid: {why}"),
            Error::MetaUnusable { index, why } => write!(f, "meta page {index} is not valid: {why}"),
            // The message names its file first; callers print the file already.
            Error::Archive { path, source } => {
                let msg = source.to_string();
                let file = format!("{}: ", path.display());
                f.write_str(msg.strip_prefix(&file).unwrap_or(&msg))
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}
