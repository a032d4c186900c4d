//! The index's file, as redb reads, writes and locks it: redb's own file backend, with every lock
//! wait bounded.
//!
//! Processes that share the index take byte-range locks on it (redb's multi-writer mode): the
//! header (its first bytes) while one writes it, shared while one opens or begins a read; the
//! writer byte for a write transaction; and more. redb waits for each of them without limit, and
//! at many points in an operation (a commit takes the header several times, with syncs between):
//! a process stopped while it holds one (Ctrl-Z, a debugger, a frozen container) kept every other
//! waiting as long, and asking first whether a lock is held cannot close the gap between the
//! question and redb's wait. So the waiting is done here: a lock redb waits for is tried every
//! 50 µs for up to [`WAIT`], then refused with [`TIMED_OUT`] (redb returns it as an I/O
//! error, and the operation fails; the run goes on without the index). After one such refusal,
//! this process waits no more: every later lock is tried once, so a `scan` of thousands of files
//! beside a stopped process costs two seconds, not two seconds a file.

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a lock is waited for.
pub(super) const WAIT: Duration = Duration::from_secs(2);

/// What a lock refused after [`WAIT`] says (the index's errors carrying it read as
/// [`super::open::HELD`]).
pub(super) const TIMED_OUT: &str = "index lock held by another process for 2 s";

/// A lock was refused after [`WAIT`] in this process: no later one is waited for.
static GAVE_UP: AtomicBool = AtomicBool::new(false);

/// redb's file backend with its lock waits bounded.
#[derive(Debug)]
pub(super) struct Bounded(FileBackend);

impl Bounded {
    /// The backend of an open file.
    pub(super) fn new(file: std::fs::File) -> Result<Bounded, redb::DatabaseError> {
        FileBackend::new(file).map(Bounded)
    }

    /// Tries `take` every 50 µs until it takes the lock, for up to [`WAIT`] (once, after
    /// an earlier wait of this process was given up).
    fn wait(&self, take: impl Fn() -> Result<bool, BackendError>) -> Result<(), BackendError> {
        let start = Instant::now();
        loop {
            if take()? {
                return Ok(());
            }
            if GAVE_UP.load(Ordering::Relaxed) || start.elapsed() >= WAIT {
                GAVE_UP.store(true, Ordering::Relaxed);
                return Err(BackendError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, TIMED_OUT)));
            }
            // Often: a lock held shared by a stream of readers is free only in short gaps (the
            // kernel's own wait takes the first; a try every millisecond missed gaps of half that).
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

impl StorageBackend for Bounded {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.0.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.0.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.write(offset, data)
    }

    fn close(&self) -> Result<(), std::io::Error> {
        self.0.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.wait(|| self.0.try_lock_range(start, end))
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.wait(|| self.0.try_lock_shared_range(start, end))
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.query_lock_range(start, end)
    }
}
