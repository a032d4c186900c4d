//! Files being written that must not outlive an interrupted process. `compact` registers its
//! temporary copy here for as long as it exists; the binary's handler for Ctrl-C, `kill` and a
//! closed terminal calls [`remove_all`] before it exits, so an interrupted `compact` leaves no
//! `.boltscope-compact-*` file (a half-written copy, up to the size of the result) in the
//! destination's folder. A process killed with SIGKILL cannot clean up; its temporary file is
//! named so that it is easy to find.

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
