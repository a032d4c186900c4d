//! Opening the index: what can stop it (another process holding it, a newer schema, a file that
//! is no index), retries while another process writes it, and redb's panics on a corrupt index
//! turned into errors.

use super::backend::Bounded;
use redb::Database;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// It cannot be used now for another reason (an I/O error, locks the file system refuses):
    /// left as it is.
    Unusable,
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

/// How long an open or a write waits for another process before this run goes on without the
/// index (as long as any lock is waited for: [`super::backend`]).
const WAIT: Duration = super::backend::WAIT;

/// What an open or a write says when another process kept the index for [`WAIT`].
pub(super) const HELD: &str = "held by another process for 2 s";

/// An error's text, read as [`HELD`] when a lock was refused after its wait.
pub(super) fn said(x: impl std::fmt::Display) -> String {
    let m = x.to_string();
    if m.contains(super::backend::TIMED_OUT) {
        HELD.into()
    } else {
        m
    }
}

/// Opens the index read-only, its locks waited for [`WAIT`] at most ([`super::backend`]).
pub(super) fn open_ro(b: &redb::Builder, path: &Path) -> Result<redb::ReadOnlyDatabase, redb::DatabaseError> {
    let file = std::fs::File::open(path)?;
    b.open_read_only_with_backend(Bounded::new(file)?)
}

/// Opens the index for writing, or creates it, its locks waited for [`WAIT`] at most.
fn create(b: &redb::Builder, path: &Path) -> Result<Database, redb::DatabaseError> {
    let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    b.create_with_backend(Bounded::new(file)?)
}

/// Byte-range locks found missing where the index lies (a file system without them): every later
/// open of this run locks the whole file instead, as redb's default mode does.
static WHOLE_FILE: AtomicBool = AtomicBool::new(false);

/// Runs an open on a thread of its own, retrying for up to [`WAIT`] while another process holds
/// the file. redb waits without limit for a lock a process holds while it is stopped (Ctrl-Z, a
/// debugger, a frozen container) inside a write: an open still waiting then is left behind, and
/// this run goes on without the index.
pub(super) fn retry<T: Send + 'static>(
    f: impl Fn() -> Result<T, redb::DatabaseError> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new().name("index open".into()).spawn(move || {
        let _ = tx.send(attempts(&f));
    });
    if let Err(x) = spawned {
        return Err(format!("cannot start a thread to open the index: {x}"));
    }
    rx.recv_timeout(WAIT + Duration::from_millis(500)).unwrap_or_else(|_| Err(HELD.into()))
}

fn attempts<T>(f: &dyn Fn() -> Result<T, redb::DatabaseError>) -> Result<T, String> {
    use redb::{DatabaseError as D, StorageError as S};
    let start = Instant::now();
    loop {
        let r = guard("open", || {
            f().map_err(|x| match x {
                D::DatabaseAlreadyOpen => "busy".to_string(),
                D::LockProtocolMismatch => {
                    "held by another program that shares redb files another way (another redb locking protocol)".into()
                }
                // No byte-range locks here: lock the whole file from now on, and try again.
                D::Storage(S::Unsupported) if !WHOLE_FILE.swap(true, Ordering::Relaxed) => "again".into(),
                D::Storage(S::Io(e))
                    if e.kind() == std::io::ErrorKind::Unsupported && !WHOLE_FILE.swap(true, Ordering::Relaxed) =>
                {
                    "again".into()
                }
                other => said(other),
            })
        });
        match r {
            Err(m) if m == "again" => {}
            Err(m) if m == "busy" && start.elapsed() < WAIT => std::thread::sleep(Duration::from_millis(10)),
            Err(m) if m == "busy" => return Err(HELD.into()),
            other => return other,
        }
    }
}

/// Begins a write transaction, waiting up to [`WAIT`] for another process's to end (redb's own
/// wait has no limit: a process stopped inside a write would stop every other); past that,
/// `busy` is set, and no later write of this run waits again.
pub(super) fn begin_write(db: &Database, busy: &AtomicBool) -> Result<redb::WriteTransaction, String> {
    let start = Instant::now();
    loop {
        match db.try_begin_write() {
            Ok(tx) => return Ok(tx),
            Err(redb::TransactionError::WouldBlock) if start.elapsed() < WAIT => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(redb::TransactionError::WouldBlock) => {
                busy.store(true, Ordering::Relaxed);
                return Err(HELD.into());
            }
            Err(x) => {
                // A lock refused after its wait (the file's header, held by a stopped process).
                let m = said(x);
                if m == HELD {
                    busy.store(true, Ordering::Relaxed);
                }
                return Err(m);
            }
        }
    }
}

/// Whether an error says the index file itself is damaged (what redb's integrity check, its
/// repair and its reads find, or a panic inside redb), not that it cannot be had now (held, locks
/// missing, an I/O error): only a damaged index is moved aside.
pub(super) fn says_damage(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["corrupt", "repair", "not a redb database", "failed unexpectedly", "upgrade"].iter().any(|w| m.contains(w))
}

/// What an open's error message says of the index at `path`.
pub(super) fn classify(path: &Path, message: &str) -> OpenErrorKind {
    if message.starts_with(NOT_AN_INDEX) {
        OpenErrorKind::Foreign
    } else if message.starts_with("held by another") {
        OpenErrorKind::Busy
    } else if message.starts_with("made by a newer") {
        OpenErrorKind::Newer
    } else if !path.is_file() || std::fs::OpenOptions::new().write(true).open(path).is_err() {
        OpenErrorKind::Unwritable
    } else if says_damage(message) {
        OpenErrorKind::Damaged
    } else {
        OpenErrorKind::Unusable
    }
}

/// The index opened read-only without an open's retries (its lock waits bounded as every
/// other's), if it can be.
pub(super) fn read_now(path: &Path) -> Option<redb::ReadOnlyDatabase> {
    guard("open", || open_ro(&builder(), path).map_err(said)).ok()
}

/// The device and inode of the file at `path`: which file an index (or a backup) is, whatever
/// path names it.
pub fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

pub(super) fn open_rw(path: &Path) -> Result<Database, String> {
    // A new index is readable by its owner only: it names the files analysed, their keys and
    // what they hold. (An existing file keeps its mode; if this fails, redb reports why.)
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    }
    let path = path.to_path_buf();
    retry(move || {
        let mut b = builder();
        b.set_check_integrity_on_open(true);
        create(&b, &path)
    })
}

/// How every open of the index is made: shared between processes, each reading and writing (one
/// write transaction at a time), with the byte-range locks redb needs for that (Linux and the
/// Apple systems have them; where the file system has none, the whole file is locked instead).
/// A process that locks the whole file (a boltscope before this one, another redb program) keeps
/// the others out while it holds it: they wait up to two seconds ([`retry`], [`begin_write`]).
pub(super) fn builder() -> redb::Builder {
    let mut b = Database::builder();
    if !WHOLE_FILE.load(Ordering::Relaxed) {
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
    // Waited for as for a busy index; still without its magic, a file of zeros only, or with
    // redb's header but its magic, is an index whose creation was cut short, damaged (moved
    // aside, not left in the way of every later run), and anything else is no index.
    let start = Instant::now();
    loop {
        let mut head = Vec::with_capacity(REDB_MAGIC.len());
        let read = std::fs::File::open(path).and_then(|f| f.take(REDB_MAGIC.len() as u64).read_to_end(&mut head));
        let foreign = || Some("its first bytes are not a redb database's".to_string());
        match read {
            Err(x) => return Some(format!("cannot be read: {x}")),
            // Empty: made by another run a moment ago, which will write it (or by `touch`: then
            // started as a new index once waited for).
            Ok(_) if head.is_empty() && start.elapsed() < WAIT => std::thread::sleep(Duration::from_millis(10)),
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
/// small file (a new index is 72 KiB; at most 1 MiB) of zeros only, as redb leaves one it sized
/// and never wrote, or one that holds redb's header but its magic, as redb leaves one killed
/// before its last write. Anything else (a big-endian bbolt file begins with zeros, so do a
/// snapshot whose first page was zeroed and many a user's file) is left as it is.
fn cut_short_index(path: &Path) -> bool {
    use std::io::Read;
    let mut all = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(CUT_SHORT_MAX + 1).read_to_end(&mut all));
    read.is_ok() && all.len() as u64 <= CUT_SHORT_MAX && (all.iter().all(|&b| b == 0) || header_but_magic(&all))
}

/// Whether `head` is redb's file header with zeros where its magic goes:
///
/// ```text
/// 0   9  magic (zeros until redb's last write of a new file)
/// 9   1  god byte: the primary commit slot and flags (bits 0-3)
/// 10  2  padding, zeros
/// 12  4  page size, little-endian: 4096
/// ```
fn header_but_magic(head: &[u8]) -> bool {
    head.len() >= 16
        && head[..9].iter().all(|&b| b == 0)
        && head[9] & 0xf0 == 0
        && head[10..12] == [0, 0]
        && head[12..16] == 4096u32.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_says_the_file_is_damaged_moves_it_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("ix.redb");
        std::fs::write(&p, b"redb").unwrap();
        let kind = |m: &str| classify(&p, m);
        assert_eq!(kind("DB corrupted: checksum mismatch"), OpenErrorKind::Damaged);
        assert_eq!(kind("Database repair aborted."), OpenErrorKind::Damaged);
        assert_eq!(kind("open: the index database failed unexpectedly (corrupt?)"), OpenErrorKind::Damaged);
        // Not damage: the file cannot be had now.
        assert_eq!(kind("The storage backend does not support this operation"), OpenErrorKind::Unusable);
        assert_eq!(kind("I/O error: No locks available (os error 37)"), OpenErrorKind::Unusable);
        let other = "held by another program that shares redb files another way (another redb locking protocol)";
        assert_eq!(kind(other), OpenErrorKind::Busy);
        assert_eq!(kind(HELD), OpenErrorKind::Busy);
    }

    #[test]
    fn a_header_without_its_magic_is_told_from_other_zero_headed_files() {
        let mut h = vec![0u8; 64];
        h[9] = 0b10;
        h[12..16].copy_from_slice(&4096u32.to_le_bytes());
        assert!(header_but_magic(&h));
        // A big-endian bbolt meta page: page id 0, flags 00 04, count, overflow 0.
        let mut be = vec![0u8; 64];
        be[9] = 4;
        assert!(!header_but_magic(&be));
        assert!(!header_but_magic(&h[..12]));
    }
}
