//! Opening the index: what can stop it (another process holding it, a newer schema, a file that
//! is no index), retries while another process writes it, and redb's panics on a corrupt index
//! turned into errors.

use redb::Database;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

/// Why the index could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenErrorKind {
    /// Another boltscope process held it for two seconds.
    Busy,
    /// Made by a newer boltscope.
    Newer,
    /// Its folder or file cannot be written.
    Unwritable,
    /// The file is there and writable, a redb database by its first bytes, but redb cannot use
    /// it: damaged (the one kind a command may move aside and replace).
    Damaged,
    /// Something that is not an index: not a regular file (a FIFO, a device, a folder), or a file
    /// that does not begin as a redb database does (a snapshot given to `--index` by mistake).
    /// Never opened for writing, never replaced.
    Foreign,
}

/// An index that could not be opened: its kind, and what redb or the system said.
#[derive(Clone, Debug)]
pub struct OpenError {
    /// The kind.
    pub kind: OpenErrorKind,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpenError {}

/// Runs an open, retrying for up to two seconds while another process holds the file.
pub(super) fn retry<T>(f: impl Fn() -> Result<T, redb::DatabaseError>) -> Result<T, String> {
    let start = Instant::now();
    loop {
        let r = guard("open", || {
            f().map_err(|x| match x {
                redb::DatabaseError::DatabaseAlreadyOpen => "busy".to_string(),
                other => other.to_string(),
            })
        });
        match r {
            Err(m) if m == "busy" && start.elapsed() < Duration::from_secs(2) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(m) if m == "busy" => return Err("held by another boltscope process for 2 s".into()),
            other => return other,
        }
    }
}

pub(super) fn open_rw(path: &Path) -> Result<Database, String> {
    // A new index is readable by its owner only: it names the files analysed, their keys and
    // what they hold. (An existing file keeps its mode; if this fails, redb reports why.)
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    }
    retry(|| {
        let mut b = builder();
        b.set_check_integrity_on_open(true);
        b.create(path)
    })
}

/// How every open of the index is made: shared between processes, each reading and writing
/// (one write transaction at a time, for milliseconds), where the system has the byte-range
/// locks redb needs for that (Linux, the Apple systems, Windows). Elsewhere, and against a
/// boltscope before this one (which locks the whole file), an open waits for the other process
/// and gives up after two seconds ([`retry`]).
pub(super) fn builder() -> redb::Builder {
    let mut b = Database::builder();
    if cfg!(any(target_os = "linux", target_vendor = "apple", windows)) {
        b.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    }
    b
}

thread_local! {
    static IN_GUARD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs an index operation; a panic inside redb (a corrupt index it trusted) becomes an error,
/// reported by the caller as one warning line instead of a panic message.
pub(super) fn guard<T>(what: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_GUARD.with(|g| g.get()) {
                default(info);
            }
        }));
    });
    let was = IN_GUARD.with(|g| g.replace(true));
    let r = catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(was));
    match r {
        Ok(r) => r,
        Err(_) => Err(format!("{what}: the index database failed unexpectedly (corrupt?)")),
    }
}

/// The first bytes of every redb database file (the magic number redb writes at offset 0).
const REDB_MAGIC: [u8; 9] = *b"redb\x1a\x0a\xa9\x0d\x0a";

pub(super) const NOT_AN_INDEX: &str = "not a boltscope index";

/// Why what is at `path` is no index this run may open or replace, if it is not: a path that is
/// not a regular file (opening a FIFO would wait for a writer), or a file whose first bytes are
/// not redb's. Nothing there, an empty file, or the start of redb's magic cut short, is an index
/// (to create, or damaged). Looks without opening anything for writing.
pub(super) fn foreign(path: &Path) -> Option<String> {
    use std::io::Read;
    let md = std::fs::metadata(path).ok()?;
    if !md.is_file() {
        return Some("not a regular file".into());
    }
    // Zeros where redb's magic goes, in a small file: another process creating the index (redb
    // sizes the file, writes its header, and writes the magic last), or one killed while it did.
    // Waited for as for a busy index; still without its magic, a file of zeros only is an index
    // whose creation was cut short, damaged (moved aside, not left in the way of every later
    // run), and anything else is no index.
    let start = Instant::now();
    loop {
        let mut head = Vec::with_capacity(REDB_MAGIC.len());
        let read = std::fs::File::open(path).and_then(|f| f.take(REDB_MAGIC.len() as u64).read_to_end(&mut head));
        let foreign = || Some("its first bytes are not a redb database's".to_string());
        match read {
            Err(x) => return Some(format!("cannot be read: {x}")),
            Ok(_) if REDB_MAGIC.starts_with(&head) => return None,
            Ok(_) if !head.iter().all(|&b| b == 0) || !small(path) => return foreign(),
            Ok(_) if start.elapsed() >= Duration::from_secs(2) => return (!cut_short_index(path)).then(foreign)?,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Whether the file at `path` is no larger than a new index may be while it is created.
fn small(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() <= CUT_SHORT_MAX)
}

/// The largest file taken for an index whose creation was cut short (a new index is 72 KiB).
const CUT_SHORT_MAX: u64 = 1 << 20;

/// Whether a file with zeros where redb's magic goes is an index whose creation was cut short: a
/// small file (a new index is tens of KB; at most 1 MiB) of zeros only, as redb leaves one it sized
/// and never wrote. Anything else (a big-endian bbolt file begins with zeros, so do a snapshot
/// whose first page was zeroed and many a user's file) is left as it is.
fn cut_short_index(path: &Path) -> bool {
    use std::io::Read;
    let mut all = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(CUT_SHORT_MAX + 1).read_to_end(&mut all));
    read.is_ok() && all.len() as u64 <= CUT_SHORT_MAX && all.iter().all(|&b| b == 0)
}
