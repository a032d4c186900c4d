//! Files being written that must not outlive an interrupted process. `compact` registers its
//! temporary copy here for as long as it exists; the binary's handler for Ctrl-C, `kill` and a
//! closed terminal calls [`remove_all`] before it exits, so an interrupted `compact` leaves no
//! `.boltscope-compact-*` file (a half-written copy, up to the size of the result) in the
//! destination's folder. A process killed with SIGKILL cannot clean up: its temporary file
//! carries its process id in its name (`.boltscope-compact-<pid>-<random>`), and the next job
//! writing into that folder removes it once nothing holds it ([`remove_stale`]): a job locks its
//! temporary copy (`flock`) for as long as it writes, and the lock dies with the process.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

static FILES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn files() -> MutexGuard<'static, Vec<PathBuf>> {
    // A panic while the list was held leaves it as it was: still the right list.
    FILES.lock().unwrap_or_else(|e| e.into_inner())
}

/// A registered file: registered until this is dropped.
#[derive(Debug)]
pub struct Registered(PathBuf);

/// Registers `path` as unfinished until the returned value is dropped.
pub fn register(path: &Path) -> Registered {
    files().push(path.to_path_buf());
    Registered(path.to_path_buf())
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut f = files();
        if let Some(i) = f.iter().position(|p| *p == self.0) {
            f.swap_remove(i);
        }
    }
}

/// Removes every registered file that still exists; returns how many were removed. The list stays
/// locked afterwards for as long as the process lives, so nothing registers (or finishes and
/// unregisters) between the removal and the exit that follows it.
pub fn remove_all() -> usize {
    let f = files();
    let removed = f.iter().filter(|p| std::fs::remove_file(p).is_ok()).count();
    std::mem::forget(f);
    removed
}

/// What every temporary copy's name starts with.
pub const PREFIX: &str = ".boltscope-compact-";

/// The name prefix of this process's temporary copies: [`PREFIX`], the process id, a dash.
pub fn prefix() -> String {
    format!("{PREFIX}{}-", std::process::id())
}

/// Whether the process `pid` is a running boltscope (its `comm`, as Linux reports it). Off Linux,
/// or when it cannot be told, it is assumed to run: nothing is removed on a guess.
fn boltscope_runs(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        Ok(comm) => comm.trim_end() == "boltscope" || comm.trim_end().starts_with("boltscope-"),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// A temporary copy younger than this is never taken for abandoned: its job may not have locked
/// it yet (it locks it the moment it is created).
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Removes the temporary copies in `dir` left by boltscope processes that no longer run (killed
/// with SIGKILL, or the machine lost power): only regular files named `PREFIX<pid>-...`, never
/// this process's, and only when nothing holds the lock its job takes ([`crate::sys::
/// try_lock_exclusive`]), it is older than [`STALE_AFTER`], and no boltscope runs under its
/// process id here. The lock is what decides: a job in another PID namespace (a container
/// writing to a shared backup volume) or a binary installed under another name still holds it.
/// Returns how many were removed.
pub fn remove_stale(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    let me = std::process::id();
    let mut removed = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
        let Some(pid) = rest.split_once('-').and_then(|(p, _)| p.parse::<u32>().ok()) else { continue };
        let Ok(md) = e.metadata() else { continue };
        let old = md.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age >= STALE_AFTER);
        if pid == me || !md.is_file() || !old || boltscope_runs(pid) {
            continue;
        }
        // Opened read-only to ask for the lock (a regular file: `metadata` does not follow links),
        // and removed while it is held.
        let Ok(f) = std::fs::File::open(e.path()) else { continue };
        if crate::sys::try_lock_exclusive(&f) && std::fs::remove_file(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_file_is_listed_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let ra = register(&a);
        let rb = register(&b);
        assert!(files().contains(&a) && files().contains(&b));
        drop(ra);
        assert!(!files().contains(&a) && files().contains(&b));
        drop(rb);
        assert!(!files().contains(&b));
    }
}

#[cfg(test)]
mod stale_tests {
    use super::*;

    #[test]
    fn stale_copies_of_dead_processes_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        // pid 4194304 is above Linux's largest pid: no such process runs.
        let dead = dir.path().join(format!("{PREFIX}4194304-abc123"));
        let mine = dir.path().join(format!("{}xyz", prefix()));
        let unknown = dir.path().join(format!("{PREFIX}oldformat"));
        let other = dir.path().join("backup.db");
        for p in [&dead, &mine, &unknown, &other] {
            std::fs::write(p, b"x").unwrap();
        }
        let sub = dir.path().join(format!("{PREFIX}4194305-dir"));
        std::fs::create_dir(&sub).unwrap();
        // A fresh one is spared (its job may be about to lock it); an old one is removed.
        assert_eq!(remove_stale(dir.path()), 0);
        age(&dead);
        assert_eq!(remove_stale(dir.path()), 1);
        assert!(!dead.exists());
        assert!(mine.exists() && unknown.exists() && other.exists() && sub.exists());
    }

    /// Sets a file's modification time past [`STALE_AFTER`].
    fn age(p: &Path) {
        let then = std::time::SystemTime::now() - STALE_AFTER * 2;
        std::fs::File::options().write(true).open(p).unwrap().set_modified(then).unwrap();
    }

    #[test]
    fn a_copy_another_job_holds_is_never_removed_whatever_its_process_id_says() {
        // A job in another PID namespace, or a binary under another name: its id names no
        // boltscope here, but it holds its copy's lock. It lost the copy mid-write before.
        let dir = tempfile::tempdir().unwrap();
        let held = dir.path().join(format!("{PREFIX}4194304-held"));
        std::fs::write(&held, b"x").unwrap();
        age(&held);
        let writer = std::fs::File::open(&held).unwrap();
        assert!(crate::sys::try_lock_exclusive(&writer));
        assert_eq!(remove_stale(dir.path()), 0);
        assert!(held.exists());
        drop(writer);
        assert_eq!(remove_stale(dir.path()), 1, "its job ended: the lock is gone");
        assert!(!held.exists());
    }
}
