//! Why a file could not be expanded. Every message names the file, the container and what is
//! wrong, so the CLI can print it as it is.

use super::sniff::{Container, NotDatabase};
use std::fmt;
use std::io;
use std::path::PathBuf;

/// How many entry names a zip entry-count error lists.
pub const LISTED_ENTRIES: usize = 5;

/// An input file that cannot be expanded into a database file.
#[derive(Debug)]
pub enum InputError {
    /// The file could not be opened or read (not a problem of its content).
    Read {
        /// The input file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The expanded copy could not be written to the temporary directory (`$TMPDIR`).
    TempFile {
        /// The input file.
        path: PathBuf,
        /// The operating system's error (often: no space left).
        source: io::Error,
    },
    /// A known kind of file that is no database (or such a file inside a container).
    NotDatabase {
        /// The input file.
        path: PathBuf,
        /// What it is.
        kind: NotDatabase,
        /// The container it was found in, if it was inside one.
        inside: Option<Container>,
    },
    /// A container that holds another container (boltscope expands one level only).
    Nested {
        /// The input file.
        path: PathBuf,
        /// The container of the file.
        outer: Container,
        /// The container found inside it.
        inner: Container,
    },
    /// A zip archive that does not hold exactly one entry.
    ZipEntries {
        /// The input file.
        path: PathBuf,
        /// How many entries its central directory lists.
        count: u64,
        /// The first few entry names ([`LISTED_ENTRIES`] at most; none when the archive records
        /// so many entries that its directory was not parsed).
        names: Vec<String>,
    },
    /// A zip entry that boltscope cannot expand (method, encryption, a directory).
    ZipUnsupported {
        /// The input file.
        path: PathBuf,
        /// The entry's name.
        entry: String,
        /// What is unsupported, e.g. `compression method Bzip2 (only Deflate and Stored are read)`.
        what: String,
    },
    /// A checksum of the container does not match the data.
    Checksum {
        /// The input file.
        path: PathBuf,
        /// The container.
        container: Container,
        /// Which checksum and where, with both values where known.
        what: String,
    },
    /// A length recorded by the container does not match the data.
    SizeMismatch {
        /// The input file.
        path: PathBuf,
        /// The container.
        container: Container,
        /// Which length, e.g. `zip entry "x" size in the central directory`.
        what: String,
        /// The length recorded.
        recorded: u64,
        /// The length of the data (for gzip's ISIZE: modulo 2^32, as recorded).
        actual: u64,
    },
    /// The container ends before its data does.
    Truncated {
        /// The input file.
        path: PathBuf,
        /// The container.
        container: Container,
        /// Where, e.g. `inside the deflate data of gzip member 1`.
        what: String,
    },
    /// The container's structure or compressed data is invalid.
    Corrupt {
        /// The input file.
        path: PathBuf,
        /// The container.
        container: Container,
        /// What is wrong.
        what: String,
    },
    /// The data expands past the limit (a zip bomb, or a limit set too low).
    TooLarge {
        /// The input file.
        path: PathBuf,
        /// The container.
        container: Container,
        /// The limit in bytes; expansion stopped there and nothing past it was written.
        limit: u64,
        /// The size the container declares for its data, when that alone passes the limit (then
        /// nothing was expanded).
        declared: Option<u64>,
    },
}

impl InputError {
    /// The input file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            InputError::Read { path, .. }
            | InputError::TempFile { path, .. }
            | InputError::NotDatabase { path, .. }
            | InputError::Nested { path, .. }
            | InputError::ZipEntries { path, .. }
            | InputError::ZipUnsupported { path, .. }
            | InputError::Checksum { path, .. }
            | InputError::SizeMismatch { path, .. }
            | InputError::Truncated { path, .. }
            | InputError::Corrupt { path, .. }
            | InputError::TooLarge { path, .. } => path,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path().display();
        match self {
            InputError::Read { source, .. } => write!(f, "{p}: cannot read: {source}"),
            InputError::TempFile { source, .. } => write!(
                f,
                "{p}: cannot write the expanded copy to the temporary directory ({}): {source}; set TMPDIR \
                 to {}",
                std::env::temp_dir().display(),
                // Out of space or quota, or stopped at the reserve `room` keeps (its own error).
                match (source.raw_os_error(), source.kind()) {
                    (Some(libc::ENOSPC | libc::EDQUOT), _) | (None, io::ErrorKind::Other) => {
                        "a directory with room for it"
                    }
                    _ => "a directory where files can be created",
                }
            ),
            InputError::NotDatabase { kind, inside: None, .. } => {
                write!(f, "{p}: this is {} {kind}, not a database file: {}", kind.article(), kind.hint())
            }
            InputError::NotDatabase { kind, inside: Some(c), .. } => {
                write!(
                    f,
                    "{p}: the {c} container holds {} {kind}, not a database file: {}",
                    kind.article(),
                    kind.hint()
                )
            }
            InputError::Nested { outer, inner, .. } => write!(
                f,
                "{p}: the {outer} container holds a {inner} container, not a database file; boltscope expands one \
                 level only: expand the outer one first and pass the result"
            ),
            InputError::ZipEntries { count: 0, .. } => {
                write!(f, "{p}: the zip archive has no entries; a k3s snapshot zip holds exactly one")
            }
            InputError::ZipEntries { count, names, .. } if names.is_empty() => write!(
                f,
                "{p}: the zip archive records {count} entries; boltscope reads an archive of exactly one (as k3s \
                 writes)"
            ),
            InputError::ZipEntries { count, names, .. } => {
                let list = names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
                let more = if *count > names.len() as u64 { ", ..." } else { "" };
                write!(
                    f,
                    "{p}: the zip archive has {count} entries ({list}{more}); boltscope reads an archive of exactly \
                     one (as k3s writes): extract the one you want and pass it"
                )
            }
            InputError::ZipUnsupported { entry, what, .. } => write!(f, "{p}: zip entry {entry:?}: {what}"),
            InputError::Checksum { container, what, .. } => {
                write!(f, "{p}: {container} checksum mismatch: {what}; the file is damaged")
            }
            InputError::SizeMismatch { container, what, recorded, actual, .. } => write!(
                f,
                "{p}: {container}: {what} is {recorded} bytes but the data is {actual} bytes; the file is damaged"
            ),
            InputError::Truncated { container, what, .. } => write!(
                f,
                "{p}: the {container} data ends too early ({what}): the file is truncated (a copy or download cut \
                 short?)"
            ),
            InputError::Corrupt { container, what, .. } => write!(f, "{p}: invalid {container} data: {what}"),
            InputError::TooLarge { container, limit, declared: Some(d), .. } => write!(
                f,
                "{p}: the {container} archive declares {d} bytes for its entry, more than {limit} bytes (the \
                 expansion limit); nothing was expanded. A zip bomb, or a database larger than the limit: raise the \
                 limit (--max-expanded-size) if you trust the file"
            ),
            InputError::TooLarge { container, limit, .. } => write!(
                f,
                "{p}: the {container} data expands to more than {limit} bytes (the expansion limit); stopped there. \
                 A zip bomb, or a database larger than the limit: raise the limit (--max-expanded-size) if you trust \
                 the file"
            ),
        }
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Read { source, .. } | InputError::TempFile { source, .. } => Some(source),
            _ => None,
        }
    }
}
