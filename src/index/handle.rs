//! The index's redb handle: read-only until something must be written, then read-write; and
//! its transactions, none of which waits more than two seconds for another process
//! ([`super::backend`] bounds every lock wait; [`super::open`] the waits for another's write).

use super::open::{begin_write, classify, file_id, open_rw, read_now};
use super::{e, Index, OpenErrorKind, BUSY_GIVEN_UP};
use redb::{Database, ReadableDatabase};

/// The redb handle an index holds.
pub(super) enum Handle {
    /// Read-only (a lookup that hits costs no write and no sync).
    Read(redb::ReadOnlyDatabase),
    /// Read-write.
    Write(Database),
    /// None: after a failed upgrade, or retired.
    Closed,
}

impl Handle {
    /// A read transaction (see [`Index::read_tx`], which bounds the wait).
    pub(super) fn begin_read(&self) -> Result<redb::ReadTransaction, String> {
        match self {
            Handle::Read(d) => d.begin_read().map_err(e),
            Handle::Write(d) => d.begin_read().map_err(e),
            Handle::Closed => Err("index closed after a failed upgrade".into()),
        }
    }

    /// The read-write database.
    pub(super) fn db(&self) -> Result<&Database, String> {
        match self {
            Handle::Write(d) => Ok(d),
            _ => Err("index not open for writing".into()),
        }
    }
}

impl Index {
    /// The handle, for one operation at a time in this process.
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Handle> {
        self.handle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A read transaction (its locks waited for two seconds at most: [`super::backend`]).
    pub(super) fn read_tx(&self) -> Result<redb::ReadTransaction, String> {
        self.lock().begin_read()
    }

    /// A write transaction of `db` (this index's writer), begun at most two seconds after another
    /// process's write ends ([`begin_write`]).
    pub(super) fn write_tx(&self, db: &Database) -> Result<redb::WriteTransaction, String> {
        begin_write(db, &self.busy)
    }

    /// Commits `tx` (its locks waited for two seconds at most; then it is rolled back).
    pub(super) fn commit(&self, tx: redb::WriteTransaction) -> Result<(), String> {
        tx.commit().map_err(e)
    }

    /// Whether a read's failure came from damage: the index is opened for writing (redb's
    /// integrity check runs then, as for a write), which marks it [`Index::damaged`] when it is.
    pub fn found_damaged(&self) -> bool {
        drop(self.writer());
        self.damaged()
    }

    /// The read-write database, upgrading from read-only if needed (the reader is closed first:
    /// a process cannot hold both).
    pub(super) fn writer(&self) -> Result<std::sync::MutexGuard<'_, Handle>, String> {
        let mut h = self.lock();
        if self.retired.load(std::sync::atomic::Ordering::Relaxed) {
            return Err("index moved aside".into());
        }
        // Held by another process for two seconds once: every later write would wait as long
        // (a scan of thousands of files, hours), so this run writes no more.
        if self.busy.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(BUSY_GIVEN_UP.into());
        }
        // Another file at the path (this one moved aside or removed by another run): not written
        // to, where no run would read it; the caller opens the new one as it does after damage.
        if file_id(&self.path) != self.file {
            *h = Handle::Closed;
            self.damaged.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err("the index file was replaced while this run used it".into());
        }
        if !matches!(&*h, Handle::Write(_)) {
            *h = Handle::Closed;
            let rw = open_rw(&self.path).inspect_err(|m| {
                if m.starts_with("held by another") {
                    self.busy.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                // Only what says the file is corrupt (redb's integrity check or repair, or a
                // panic inside redb): a full disk or an I/O error leaves a sound index in place.
                if classify(&self.path, m) == OpenErrorKind::Damaged {
                    self.damaged.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            // Not writable now: still readable, where it can be read at once (a recorded failure
            // is still looked up).
            let rw = rw.inspect_err(|_| *h = read_now(&self.path).map_or(Handle::Closed, Handle::Read))?;
            *h = Handle::Write(rw);
        }
        Ok(h)
    }
}
