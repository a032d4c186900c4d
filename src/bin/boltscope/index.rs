//! The index as the commands use it: opened once, one warning if it cannot be, lookups keyed by
//! the file's identity and the command's options, history rows.

use crate::cli::Cli;
use boltscope::error::Error;
use boltscope::index::{self as cache, file_id as inode, Finding, HistoryRow, Identity, Index};
use boltscope::input;
use std::path::Path;

/// The tag of `check`'s rows: a clean `check` clears a failure marked earlier.
pub const CHECK_TAG: &str = "check";

/// The index of this run, if usable.
pub struct Ix {
    ix: Option<Index>,
    /// The index file's device and inode when this run opened it: a damaged index is moved aside
    /// only while it is still that file (another run may have replaced it meanwhile).
    inode: Option<(u64, u64)>,
    /// A write failed and said so: no later failure is said again.
    warned: std::sync::atomic::AtomicBool,
    /// The index started in place of `ix` when a write found it damaged (moved aside then).
    fresh: std::sync::OnceLock<Option<Index>>,
    refresh: bool,
    /// The command this run is (`status`, `scan`, ...): the one its history rows name, whatever
    /// code reads the file (`scan` reads through `inspect`'s).
    command: String,
}

impl Ix {
    /// Opens the index the options name (none with `--no-index`) for a run of `command`; warns
    /// once and goes on without it when it cannot be opened.
    pub fn open(cli: &Cli, command: &str) -> Ix {
        let path = if cli.no_index { None } else { cli.index.clone().or_else(cache::default_path) };
        let before = path.as_deref().and_then(inode);
        let ix = path.as_deref().and_then(|p| match Index::open(p) {
            Ok(ix) => Some(ix),
            Err(e) if e.kind == cache::OpenErrorKind::Damaged => set_aside(p, &e, before),
            Err(e) => {
                errln!("boltscope: warning: index {} not used: {e}", p.display());
                None
            }
        });
        // The file opened (or started in place of a damaged one).
        let inode = ix.as_ref().and_then(|ix| inode(ix.path()));
        Ix {
            ix,
            inode,
            warned: Default::default(),
            fresh: std::sync::OnceLock::new(),
            refresh: cli.refresh,
            command: command.to_string(),
        }
    }

    /// Whether `p` is the index file itself (the one opened, or the one started in its place):
    /// a folder searched for backups may hold it, and it is no backup.
    pub fn is_own_file(&self, p: &std::path::Path) -> bool {
        let own = [self.ix.as_ref(), self.fresh.get().and_then(Option::as_ref)];
        own.iter().flatten().any(|ix| inode(ix.path()).is_some_and(|o| inode(p) == Some(o)))
    }

    /// No index.
    pub fn none() -> Ix {
        Ix {
            ix: None,
            inode: None,
            warned: Default::default(),
            fresh: std::sync::OnceLock::new(),
            refresh: false,
            command: String::new(),
        }
    }

    /// The index in use: the one opened, or the one started in its place (every read and write
    /// goes there once it is replaced).
    fn writable(&self) -> Option<&Index> {
        match self.fresh.get() {
            Some(f) => f.as_ref(),
            None => self.ix.as_ref(),
        }
    }

    /// Runs a write. One that finds the index damaged where its read-only open did not (redb's
    /// integrity check runs only when writing) moves it aside and starts a new one, as a damaged
    /// index is at open, and writes there: every later run was warned "index not updated" and
    /// recorded nothing.
    pub fn write(&self, f: impl Fn(&Index) -> Result<(), String>) {
        let Some(ix) = self.writable() else { return };
        let Err(e) = f(ix) else { return };
        self.set_aside_if_damaged(ix, &e);
        match self.fresh.get() {
            // Written where it now goes (also when another thread replaced the index meanwhile).
            Some(Some(fresh)) if !std::ptr::eq(fresh, ix) => {
                if let Err(e) = f(fresh) {
                    self.not_updated(&e);
                }
            }
            // It could not be replaced: said once, by set_aside.
            Some(None) => {}
            // Said once, when the index was first found held.
            _ if e == cache::BUSY_GIVEN_UP => {}
            _ => self.not_updated(&e),
        }
    }

    /// Moves the index aside and starts a new one when `e`, an error from `ix`, came from damage
    /// (one warning, by [`set_aside`]).
    fn set_aside_if_damaged(&self, ix: &Index, e: &str) {
        if self.fresh.get().is_none() && ix.damaged() {
            let err = cache::OpenError { kind: cache::OpenErrorKind::Damaged, message: e.to_string() };
            let path = ix.path().to_path_buf();
            // Once, whichever thread gets here first; the old index is closed first, so that no
            // other thread opens its path again while the file is moved and a new one made.
            self.fresh.get_or_init(|| {
                ix.retire();
                set_aside(&path, &err, self.inode)
            });
        }
    }

    /// Says once per run that a write did not land (every later one fails the same way: an index
    /// replaced twice under a scan of thousands of files warned on every file).
    fn not_updated(&self, e: &str) {
        if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            errln!("boltscope: warning: index not updated: {e} (later failures of this run are not said again)");
        }
    }

    /// The file's identity, and the stored result for this command if there is one (never
    /// with `--refresh`).
    pub fn lookup<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
        data: &[u8],
        tag: &str,
    ) -> (Option<Identity>, Option<T>) {
        let Some(ix) = self.writable() else { return (None, None) };
        let Some(id) = cache::identity(path, data) else { return (None, None) };
        if self.refresh {
            return (Some(id), None);
        }
        let hit = ix.get(&key(&id, tag)).ok().flatten().and_then(|b| serde_json::from_slice(&b).ok());
        (Some(id), hit)
    }

    /// Remembers a result (when given) and adds a history row.
    pub fn store<T: serde::Serialize>(&self, id: &Identity, tag: &str, value: Option<&T>, row: &HistoryRow) {
        self.store_found(id, tag, value, row, tag == CHECK_TAG);
    }

    /// [`Ix::store`] for a run that read the file as `check` does (its whole pass, the trailer
    /// verified: `inspect` and `scan` without --skip-hash-check, `trend`): its clean verdict is
    /// `check`'s, and clears the mark as a clean `check` does (review 46b: a file mended in place
    /// stayed failed for `status` after `scan` and `trend` passed it).
    pub fn store_checked<T: serde::Serialize>(&self, id: &Identity, tag: &str, value: Option<&T>, row: &HistoryRow) {
        self.store_found(id, tag, value, row, true);
    }

    fn store_found<T: serde::Serialize>(
        &self,
        id: &Identity,
        tag: &str,
        value: Option<&T>,
        row: &HistoryRow,
        checked: bool,
    ) {
        // An analysis that found problems leaves no earlier answer standing (`ok`, `ok, N
        // warning(s)` and status's `not verified (...)` found none), and marks the file as failed
        // when the file itself is unsound; a clean read as `check` reads clears that mark.
        let clean = ["ok", "not verified"].iter().any(|v| row.verdict.starts_with(v));
        let finding = match (clean, checked && row.verdict.starts_with("ok")) {
            (false, _) => Finding::Problems(id),
            (true, true) => Finding::CheckedClean(id),
            (true, false) => Finding::Nothing,
        };
        let row = HistoryRow { file_identity: Some(file_identity(id)), ..row.clone() };
        self.put(id, tag, value, finding, Some(&row));
    }

    /// Remembers a result with no history row: an analysis of the tree of a meta page asked for
    /// (`--meta N`, what the file held a transaction earlier) answers a question about that tree,
    /// not the file's verdict, which only a read of the file as etcd reads it gives.
    pub fn remember<T: serde::Serialize>(&self, id: &Identity, tag: &str, value: &T) {
        self.put(id, tag, Some(value), Finding::Nothing, None);
    }

    /// What an analysis recorded in the index found wrong with this file (its size, meta pages, trailer, mtime and inode),
    /// unless a clean `check` came after; never with `--refresh`, which asks for a fresh read.
    pub fn failure(&self, path: &Path, data: &[u8]) -> Option<cache::Failure> {
        let (ix, id, refresh) = self.keyed(path, data)?;
        if refresh {
            return None;
        }
        match ix.failure(&id) {
            Ok(f) => f,
            Err(e) => {
                // A damaged index is set aside with the one warning that says so (its marks go
                // with it; the read-only open skips redb's integrity check, so it is run now);
                // any other failure is said once per run, as a write's is.
                if self.fresh.get().is_none() && ix.found_damaged() {
                    self.set_aside_if_damaged(ix, &e);
                }
                if self.fresh.get().is_none() && !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    errln!(
                        "boltscope: warning: index not read ({e}): a failure recorded for this file was not looked \
                         up (later failures of this run are not said again)"
                    );
                }
                None
            }
        }
    }

    /// [`Ix::failure`] for a run that may not hash the file (`hashed`: it verifies the trailer
    /// itself): only then is the mark told. A run that hashes the file finds what `check` finds,
    /// and a mark outlives a file mended in place, whose identity is kept (review 44).
    pub fn failure_unless_hashed(&self, path: &Path, data: &[u8], hashed: bool) -> Option<cache::Failure> {
        if hashed {
            None
        } else {
            self.failure(path, data)
        }
    }

    fn put<T: serde::Serialize>(
        &self,
        id: &Identity,
        tag: &str,
        value: Option<&T>,
        finding: Finding<'_>,
        row: Option<&HistoryRow>,
    ) {
        let v = value.and_then(|v| serde_json::to_vec(v).ok());
        let k = key(id, tag);
        self.write(|ix| ix.put(finding, v.as_ref().map(|_| k.as_slice()), v.as_deref().unwrap_or_default(), row));
    }

    /// Reads `path` as [`input::read_consistent`] does, and records a file that cannot be read
    /// ([`Ix::unreadable`]): every command that records what it found reads through here.
    pub fn read<T>(&self, path: &Path, f: impl Fn(&[u8]) -> Result<T, Error>) -> Result<(T, bool), Error> {
        let r = input::read_consistent(path, f);
        if let Err(e) = &r {
            self.unreadable(path, e);
        }
        r
    }

    /// Adds a history row saying the file could not be read (`unreadable: <reason>`, no figures),
    /// so the latest verdict of a file that was ok and is now cut short, or no database at all, is
    /// not the old `ok`. Only for a file that exists, or one the index has rows for: a mistyped
    /// name is not recorded.
    pub fn unreadable(&self, path: &Path, e: &Error) {
        let Some(ix) = self.writable() else { return };
        let size = std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len());
        let row = self.row(path, size.unwrap_or(0), format!("unreadable: {e}"));
        if size.is_none() && !ix.knows(&row.path) {
            return;
        }
        self.write(|ix| ix.put(Finding::Nothing, None, &[], Some(&row)));
    }

    /// Remembers a `du` report's groups for `history --resources`.
    pub fn store_du(&self, path: &Path, d: &boltscope::analysis::du_report::Du) {
        if self.writable().is_none() {
            return;
        }
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let Some(row) = cache::du::DuRow::of(cache::path::key(&abs), now, d) else { return };
        self.write(|ix| ix.put_du(&row));
    }

    /// The `du` rows the index remembers for these paths (all when empty).
    pub fn du_history(&self, paths: &[String]) -> Result<Vec<cache::du::DuRow>, String> {
        match self.writable() {
            Some(ix) => ix.du_history(paths),
            None => Err("no index (see --index, --no-index)".into()),
        }
    }

    /// History rows.
    pub fn history(&self, paths: &[String]) -> Result<Vec<HistoryRow>, String> {
        match self.writable() {
            Some(ix) => ix.history(paths),
            None => Err("no index (see --index, --no-index)".into()),
        }
    }

    /// The index and the file's identity, for the key → revisions table (none without an index),
    /// and whether `--refresh` asks for it to be rebuilt.
    pub fn keyed(&self, path: &Path, data: &[u8]) -> Option<(&Index, Identity, bool)> {
        let ix = self.writable()?;
        Some((ix, cache::identity(path, data)?, self.refresh))
    }

    /// Whether an index is in use.
    pub fn enabled(&self) -> bool {
        self.ix.is_some()
    }

    /// A history row for `path` from this run's command, with no figures yet: the caller fills in
    /// what it has.
    pub fn row(&self, path: &Path, file_size: u64, verdict: String) -> HistoryRow {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        HistoryRow {
            path: cache::path::key(&abs),
            analysed_at: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            command: self.command.clone(),
            file_size,
            total_size: None,
            revision: None,
            hash: None,
            in_use: None,
            fragmentation: None,
            verdict,
            file_identity: None,
        }
    }
}

/// How a history row names the file read ([`HistoryRow::file_identity`]).
pub fn file_identity(id: &Identity) -> String {
    id.1.iter().map(|b| format!("{b:02x}")).collect()
}

/// A damaged index is moved aside and a new one started, with one warning that says so and how to
/// get rid of the old file: the next run is clean, instead of warning on every run. Only while the
/// file at `p` is still the one found damaged (`inode`): another run that found it damaged too may
/// have moved it and started a new one, which is then used as it is.
fn set_aside(p: &Path, e: &cache::OpenError, found: Option<(u64, u64)>) -> Option<Index> {
    if inode(p) != found {
        return open_new(p);
    }
    let when = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let moved = match move_aside(p, when) {
        // Another run that found it damaged too moved it first: its new index is used.
        Err(x) if x.kind() == std::io::ErrorKind::NotFound => return open_new(p),
        m => m.and_then(|a| Index::open(p).map(|ix| (ix, a)).map_err(std::io::Error::other)),
    };
    match moved {
        Ok((ix, aside)) => {
            errln!(
                "boltscope: warning: index {} was damaged ({e}); moved it to {} and started a new one (delete the \
                 old file once you no longer need its history)",
                p.display(),
                aside.display()
            );
            Some(ix)
        }
        Err(why) => {
            errln!(
                "boltscope: warning: index {} is damaged ({e}) and could not be replaced ({why}); delete it to start \
                 a new one, or use --index PATH or --no-index",
                p.display()
            );
            None
        }
    }
}

/// The index another run started at `p` in place of a damaged one (one warning if it cannot be
/// opened).
fn open_new(p: &Path) -> Option<Index> {
    Index::open(p).inspect_err(|e| errln!("boltscope: warning: index {} not used: {e}", p.display())).ok()
}

/// Moves `p` to `p.damaged-<when>`, or `-<when>-2`, `-3`...: never over another file (two runs
/// that moved indexes aside in the same second kept only the second).
fn move_aside(p: &Path, when: u64) -> std::io::Result<std::path::PathBuf> {
    for n in 1..100 {
        let mut aside = p.as_os_str().to_owned();
        aside.push(if n == 1 { format!(".damaged-{when}") } else { format!(".damaged-{when}-{n}") });
        let aside = std::path::PathBuf::from(aside);
        match std::fs::hard_link(p, &aside) {
            Ok(()) => return std::fs::remove_file(p).map(|()| aside),
            // Moved aside by another run meanwhile.
            Err(x) if x.kind() == std::io::ErrorKind::NotFound => return Err(x),
            Err(x) if x.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // A file system without hard links: renamed, where nothing is.
            Err(_) if std::fs::symlink_metadata(&aside).is_err() => return std::fs::rename(p, &aside).map(|()| aside),
            Err(_) => continue,
        }
    }
    Err(std::io::Error::other("no free name beside it"))
}

fn key(id: &Identity, tag: &str) -> Vec<u8> {
    let mut k = id.0.to_vec();
    k.extend_from_slice(tag.as_bytes());
    k
}
