//! The index database (redb): results of analyses that are pure functions of a file, keyed by the
//! file's identity, so asking again is instant; and one history row per analysis, so a folder of
//! backups becomes a history.
//!
//! Identity: a SHA-256 over the file's size, both meta pages' first 80 bytes (header and meta
//! struct: txid and checksum change with every bbolt commit), the trailer's 32 bytes (or none),
//! and, as a fast pre-check against rewrites, the modification time (ns), the inode change time
//! (ns; no user can set it back), inode and device. Covered: any commit through bbolt, any write
//! to the file through `write` (also with its mtime restored by hand), any file replaced by
//! another (also a copy that keeps the mtime and gets the old inode number). A file renamed,
//! linked or chmod-ed is read again once. Not covered: bytes that change with no write through
//! the file system (bit rot), and stores through a shared writable map after the first (the
//! kernel stamps the times at a page's first write fault only, review 48a). `check` therefore
//! never answers from the index, and `--refresh` re-reads for any command.
//!
//! Several boltscope processes use one index at once (a `scan` from cron while a user asks `get`,
//! parallel CI jobs): see [`Index`]. The index never stops a command: if it cannot be opened (held
//! by a process that locks the whole file for more than two seconds, corrupt, from a newer
//! schema, unwritable) the caller gets an error it prints as one warning, and works without it.

mod backend;
pub mod bound;
pub mod du;
mod handle;
pub mod keys;
mod open;
pub mod path;
mod row;
mod sealed;

use handle::Handle;
pub use open::{file_id, OpenError, OpenErrorKind};
use row::failure_key;
pub use row::{Failure, Finding, HistoryRow};

use crate::bbolt::meta::{meta_structs, Metas};
use crate::etcd::trailer;
use open::{builder, classify, foreign, guard, open_rw, retry, NOT_AN_INDEX};
use redb::{ReadableTable, TableDefinition};
use sealed::{seal, unseal, Rows};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Schema version of the index; an index of an older one is rebuilt, a newer one is refused.
/// 2: every stored value is sealed with a checksum. 3: revisions missing above the compaction are
/// damage (results cached by schema 2 may call such a file clean, and key indexes were kept from
/// them): the cached results are dropped, the history rows (what each run found) are kept. 4: a
/// key whose own bytes hold a Secret in the clear is redacted in stored results and `du` rows and
/// never stored in a key index (those stored before may hold one): all three are dropped. 5: the
/// index is bounded ([`bound`]): each result's size is kept beside it, which a boltscope of schema
/// 4 would not keep (its results never counted nor evicted), so it refuses a schema 5 index; the
/// results and rows of schema 4 are kept. 6: `status` holds a file to what `check` fails it for
/// beside the `key` bucket (records of the small buckets, `meta`, a lost `key` bucket), so results
/// cached by schema 4 or 5 may call such a file clean: they are dropped, with the key indexes; the
/// history rows and `du` rows are kept. 7: a record with an empty key breaks etcd's rules (review
/// 48a), so results cached by schema 6 may call such a file clean (review 48c): they are dropped
/// the same way; history rows gain the file read (older rows name none, and are read as they are).
/// 8: the residue count also reads the records of free pages no leaf header lists (review 49b), so
/// results cached by schema 7 may say no deleted Secret is readable where one is: dropped the same
/// way.
pub const SCHEMA: u64 = 8;

/// The oldest schema whose history rows this one reads as they are.
const ROWS_SINCE: u64 = 2;
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RESULTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("results");
const HISTORY: Rows = TableDefinition::new("history");

/// A file's identity (see the module docs for what it covers), then the same without the inode
/// change time, under which a failure found in it is marked ([`Index::failure`]): renaming,
/// linking or chmod-ing a file `check` failed changes its ctime, so its identity, and keeps the
/// mark; another file (another inode, or another modification time) has its own, whatever bytes
/// it shares with it (a damaged copy keeps its original's size, meta pages and trailer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity(pub [u8; 32], pub [u8; 32]);

/// Computes the identity of the file at `path` whose bytes are `data`: of the file those bytes
/// were read from when they are an input's map ([`crate::sys::source_metadata`]: the file as
/// opened, or the archive expanded), so a file put at the path meanwhile does not lend its
/// identity to another's bytes; else of what is at `path`.
pub fn identity(path: &Path, data: &[u8]) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    let md = crate::sys::source_metadata(data).map_or_else(|| std::fs::metadata(path).ok(), Some)?;
    let m = Metas::read(data).ok()?;
    let mut c = Sha256::new();
    c.update(b"boltscope file 1");
    c.update((data.len() as u64).to_le_bytes());
    c.update(meta_structs(data, m.page_size));
    if trailer::present(data.len()) {
        c.update(&data[data.len() - 32..]);
    }
    c.update(md.mtime().to_le_bytes());
    c.update(md.mtime_nsec().to_le_bytes());
    c.update(md.ino().to_le_bytes());
    c.update(md.dev().to_le_bytes());
    let file: [u8; 32] = c.finalize().into();
    let mut h = Sha256::new();
    h.update(b"boltscope identity 3");
    h.update(file);
    // The inode's change time, which no user can set: a file replaced by a copy with its mtime
    // kept (`cp -p`, which may get the old inode number back) or edited in place with its mtime
    // restored (`touch -r`) is another file to the index.
    h.update(md.ctime().to_le_bytes());
    h.update(md.ctime_nsec().to_le_bytes());
    Some(Identity(h.finalize().into(), file))
}

/// Where the index lives: `--index`, `$BOLTSCOPE_INDEX`, `$XDG_CACHE_HOME/boltscope/index.redb`,
/// `~/.cache/boltscope/index.redb`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BOLTSCOPE_INDEX").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("boltscope").join("index.redb"))
}

/// An open index: read-only until something must be written (a lookup that hits costs no write
/// and no sync), then read-write. Processes share it ([`open::builder`]: redb's multi-writer mode):
/// any number read and write it at once, their write transactions one at a time. A process that
/// locks the whole file (a boltscope before this one, or any other redb user in redb's default
/// mode) keeps the others out while it holds it: another process that must write waits up to two
/// seconds, then goes on without the index (its rows lost, said once), and so does a reader.
pub struct Index {
    path: PathBuf,
    handle: std::sync::Mutex<Handle>,
    /// An upgrade to writing found the file damaged (redb's integrity check, which read-only
    /// opens skip), or another file at its path: see [`Index::damaged`].
    damaged: std::sync::atomic::AtomicBool,
    /// The device and inode of the file opened.
    file: Option<(u64, u64)>,
    /// Closed for good ([`Index::retire`]): the file is about to be moved aside.
    retired: std::sync::atomic::AtomicBool,
    /// An upgrade to writing waited its two seconds for another process: no more are tried.
    busy: std::sync::atomic::AtomicBool,
    /// The most bytes of results, and rows a table, kept ([`bound`]).
    bounds: (u64, u64),
}

/// What a write says once the index was found held by another process.
pub const BUSY_GIVEN_UP: &str = "held by another process: not written to in this run";

fn e(x: impl std::fmt::Display) -> String {
    open::said(x)
}

impl Index {
    /// Opens the index at `path` (creating it if needed), read-only when it exists and is
    /// current. Waits up to two seconds for another boltscope process that is writing it.
    pub fn open(path: &Path) -> Result<Index, OpenError> {
        Self::open_inner(path).map_err(|message| OpenError { kind: classify(path, &message), message })
    }

    /// Where it lies.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The same index with other bounds: at most `result_bytes` of stored results, and `rows` rows
    /// in each row table (`history`, `du`); past them the oldest go ([`bound`]).
    pub fn with_bounds(mut self, result_bytes: u64, rows: u64) -> Index {
        self.bounds = (result_bytes, rows);
        self
    }

    /// Whether a write found the index damaged where its read-only open did not (that open skips
    /// redb's integrity check): the caller may move it aside as it does a damaged index at open.
    pub fn damaged(&self) -> bool {
        self.damaged.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Closes it for good, once no operation holds it: its file may then be moved aside and a
    /// new index made at its path, which this one will not open again (every later operation
    /// fails).
    pub fn retire(&self) {
        let mut h = self.lock();
        *h = Handle::Closed;
        self.retired.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn open_inner(path: &Path) -> Result<Index, String> {
        if let Some(why) = foreign(path) {
            return Err(format!("{NOT_AN_INDEX} ({why}): left as it is"));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|x| format!("cannot create {}: {x}", dir.display()))?;
        }
        // An empty file (made by `touch`, or a run stopped before redb wrote its header) is
        // started as a new index.
        let handle = if path.metadata().is_ok_and(|m| m.len() > 0) {
            // Read-only opens skip redb's integrity pass (it hashes the whole index, and grows with
            // it); a corrupt index is still caught: redb's errors and panics become a warning.
            let at = path.to_path_buf();
            match retry(move || open::open_ro(&builder(), &at)) {
                Ok(ro) => Handle::Read(ro),
                Err(m) if m.contains("recovery") || m.contains("repair") => Handle::Write(open_rw(path)?),
                Err(m) => return Err(m),
            }
        } else {
            Handle::Write(open_rw(path)?)
        };
        let ix = Index {
            path: path.to_path_buf(),
            file: file_id(path),
            handle: std::sync::Mutex::new(handle),
            damaged: Default::default(),
            retired: Default::default(),
            busy: Default::default(),
            bounds: (bound::MAX_RESULT_BYTES, bound::MAX_ROWS),
        };
        ix.schema()?;
        Ok(ix)
    }

    /// Checks the schema version: stamps a new index, rebuilds an older one, refuses a newer one.
    fn schema(&self) -> Result<(), String> {
        // The usual case, a current index, costs only a read transaction (no sync).
        let current = guard("schema", || {
            let tx = self.read_tx()?;
            match tx.open_table(META) {
                Ok(t) => Ok(t.get("schema").map_err(e)?.map(|g| g.value())),
                Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
                Err(x) => Err(e(x)),
            }
        })?;
        match current {
            Some(v) if v > SCHEMA => {
                return Err(format!("made by a newer boltscope (schema {v}, this one knows {SCHEMA})"))
            }
            Some(v) if v == SCHEMA => return Ok(()),
            _ => {}
        }
        let w = self.writer()?;
        guard("schema", || {
            let tx = self.write_tx(w.db()?)?;
            {
                let meta = tx.open_table(META).map_err(e)?;
                let v = meta.get("schema").map_err(e)?.map(|g| g.value());
                match v {
                    Some(v) if v > SCHEMA => {
                        return Err(format!("made by a newer boltscope (schema {v}, this one knows {SCHEMA})"))
                    }
                    Some(v) if v == SCHEMA => {}
                    Some(v) if v >= ROWS_SINCE => {
                        // Results computed under older rules go, and the key indexes; the rows stay,
                        // but for `du`'s before schema 4, whose group names may be a Secret's bytes.
                        drop(meta);
                        let _ = tx.delete_table(RESULTS);
                        bound::drop_all(&tx);
                        keys::table::drop_all(&tx);
                        if v < 4 {
                            let _ = tx.delete_table(du::DU);
                        }
                        let mut meta = tx.open_table(META).map_err(e)?;
                        meta.insert("schema", SCHEMA).map_err(e)?;
                    }
                    _ => {
                        drop(meta);
                        // An older version: start over. None: a new index, or one another run
                        // made and wrote rows to before it was stamped (the rows are kept).
                        let _ = tx.delete_table(RESULTS);
                        bound::drop_all(&tx);
                        keys::table::drop_all(&tx);
                        if v.is_some() {
                            let _ = tx.delete_table(HISTORY);
                        }
                        let mut meta = tx.open_table(META).map_err(e)?;
                        meta.insert("schema", SCHEMA).map_err(e)?;
                    }
                }
            }
            self.commit(tx)
        })
    }

    /// The stored result for `key`, if any. A value whose seal does not match (the index file was
    /// damaged) is not an answer: it reads as absent, so it is computed again and stored anew.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        guard("read", || {
            let tx = self.read_tx()?;
            let t = match tx.open_table(RESULTS) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
                Err(x) => return Err(e(x)),
            };
            Ok(t.get(key).map_err(e)?.and_then(|g| unseal(key, g.value()).map(<[u8]>::to_vec)))
        })
    }

    /// Stores a result and a history row (when given) in one transaction. An analysis that found
    /// problems ([`Finding::Problems`]) first removes every result and the key index stored under
    /// that identity, so no earlier answer about the same file stands (a `scan` or a warm `get`
    /// after a failed `check` reads the file again), and, when its row says the file itself is
    /// unsound (not only a gate failed), marks the identity as failed ([`Index::failure`]).
    pub fn put(
        &self,
        finding: Finding<'_>,
        key: Option<&[u8]>,
        value: &[u8],
        row: Option<&HistoryRow>,
    ) -> Result<(), String> {
        let w = self.writer()?;
        let mark = match (finding, row) {
            (Finding::Problems(id), Some(r)) if !r.found_no_problem() => {
                serde_json::to_vec(&Failure::of(r)).ok().map(|v| (id, v))
            }
            _ => None,
        };
        guard("write", || {
            let tx = self.write_tx(w.db()?)?;
            bound::prepare(&tx)?;
            if let Finding::Problems(id) = finding {
                keys::table::forget(&tx, id)?;
            }
            {
                let mut t = tx.open_table(RESULTS).map_err(e)?;
                match finding {
                    Finding::Problems(id) => {
                        let end = crate::etcd::range::prefix_end(&id.0);
                        t.retain_in::<&[u8], _>(id.0.as_slice()..end.as_slice(), |_, _| false).map_err(e)?;
                        bound::removed_prefix(&tx, &id.0)?;
                    }
                    Finding::CheckedClean(id) => {
                        t.remove(failure_key(id).as_slice()).map_err(e)?;
                    }
                    Finding::Nothing => {}
                }
                if let Some((id, v)) = &mark {
                    let k = failure_key(id);
                    t.insert(k.as_slice(), seal(&k, v).as_slice()).map_err(e)?;
                }
                if let Some(k) = key {
                    let sealed = seal(k, value);
                    t.insert(k, sealed.as_slice()).map_err(e)?;
                    bound::stored(&tx, k, sealed.len())?;
                }
                if let Some(row) = row {
                    sealed::insert_row(&tx, HISTORY, &row.path, row)?;
                }
            }
            bound::enforce(&tx, self.bounds.0, &[(HISTORY, &row::found_problems)], self.bounds.1)?;
            self.commit(tx)
        })
    }

    /// The last analysis that found problems in the file of this identity, unless a clean `check`
    /// of it came after: commands that do not judge the whole file themselves (`get`, `log`,
    /// `dump`, `hashkv` do not hash the trailer) tell it, so a file `check` failed is never
    /// answered for as sound. `Err` when the index cannot be read.
    pub fn failure(&self, id: &Identity) -> Result<Option<Failure>, String> {
        Ok(self.get(&failure_key(id))?.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// History rows for these paths (all when empty), by path then time.
    pub fn history(&self, paths: &[String]) -> Result<Vec<HistoryRow>, String> {
        self.rows("history", HISTORY, paths)
    }

    /// Whether the history has a row for `path` (as rows name it: absolute); false when the
    /// index cannot be read.
    pub fn knows(&self, path: &str) -> bool {
        self.has_rows("history", HISTORY, path).unwrap_or(false)
    }
}
