//! Where a copy goes, and the rules that keep `compact` from replacing what it must not: a DST
//! that exists and is not a regular file (a directory, FIFO, device, socket, or a symbolic link
//! to one), anything under `/dev` or `/proc` (`-o /dev/stdout` would replace the link), SRC
//! itself, or an existing file without `--force`. A symbolic link to a regular file is replaced
//! at its target, never the link itself. `-` is standard output: the verified copy is streamed
//! there from a temporary file. Temporary copies left by a process killed with SIGKILL are
//! removed by the next job writing into the same folder.

use super::error::CompactError;
use super::unfinished;
use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Where the copy goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A file (replaced by rename when it exists and `force` is given).
    File(PathBuf),
    /// Standard output (`-o -`).
    Stdout,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::File(p) => write!(f, "{}", p.display()),
            Destination::Stdout => f.write_str("-"),
        }
    }
}

/// Where the job writes: the final file (None for standard output) and the temporary file's
/// folder; `linked` when DST is a symbolic link and the target is the file it leads to.
pub(crate) struct Place {
    target: Option<PathBuf>,
    dir: PathBuf,
    linked: bool,
}

/// Symbolic links followed at most, as the kernel does (ELOOP).
const MAX_LINKS: usize = 40;

fn under_dev_or_proc(p: &Path) -> bool {
    let mut c = p.components().filter(|c| !matches!(c, Component::RootDir | Component::CurDir));
    matches!(c.next(), Some(Component::Normal(first)) if first == "dev" || first == "proc")
}

fn what(md: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = md.file_type();
    if t.is_dir() {
        "is a directory"
    } else if t.is_fifo() {
        "is a FIFO"
    } else if t.is_block_device() || t.is_char_device() {
        "is a device"
    } else if t.is_socket() {
        "is a socket"
    } else {
        "is not a regular file"
    }
}

/// Follows `dst` through symbolic links to the file that will be replaced (or created),
/// refusing every hop under `/dev` or `/proc` and a final file that is not a regular one.
fn resolve(dst: &Path) -> Result<PathBuf, CompactError> {
    let refuse = |why: &str| CompactError::NotRegular(dst.to_path_buf(), why.to_string());
    let mut p = std::path::absolute(dst)?;
    for _ in 0..MAX_LINKS {
        if under_dev_or_proc(&p) {
            return Err(refuse("lies under /dev or /proc"));
        }
        let md = match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e.into()),
            Ok(md) => md,
        };
        if md.file_type().is_symlink() {
            let next = std::fs::read_link(&p)?;
            p = match p.parent() {
                Some(dir) => dir.join(next),
                None => next,
            };
            continue;
        }
        if !md.is_file() {
            return Err(refuse(if p == std::path::absolute(dst)? {
                what(&md)
            } else {
                "links to something that is not a regular file"
            }));
        }
        return Ok(p);
    }
    Err(refuse("is a chain of more than 40 symbolic links"))
}

/// Checks the destination and finds where to write.
pub(crate) fn prepare(src: &Path, dst: &Destination, force: bool) -> Result<Place, CompactError> {
    let Destination::File(dst) = dst else {
        // Standard output redirected onto SRC itself (`-o - 1<>SRC`, `>> SRC`): the copy would
        // be written over (or after) the bytes it is read from.
        if stdout_is(src) {
            return Err(CompactError::IsSource(PathBuf::from("standard output")));
        }
        let dir = std::env::temp_dir();
        unfinished::remove_stale(&dir);
        return Ok(Place { target: None, dir, linked: false });
    };
    place_file(dst, &[src], force)
}

/// Whether standard output is the file `src` (the same device and inode).
fn stdout_is(src: &Path) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Ok(out) = std::io::stdout().as_fd().try_clone_to_owned() else { return false };
    match (std::fs::File::from(out).metadata(), std::fs::metadata(src)) {
        (Ok(o), Ok(s)) => (o.dev(), o.ino()) == (s.dev(), s.ino()),
        _ => false,
    }
}

/// Writes `bytes` as the file `dst` (a report, a chart) by the rules a copy follows: refused
/// where `prepare` refuses (a DST that is not a regular file or a link to one, under `/dev` or
/// `/proc`, one of `inputs` itself, or existing without `force`), written to a temporary file in
/// its folder, fsynced, and renamed into place (the folder fsynced). A new file gets the mode a
/// file created by the user's shell would (0666 less the umask), a replaced one keeps its mode.
pub fn write_file(dst: &Path, inputs: &[&Path], force: bool, bytes: &[u8]) -> Result<(), CompactError> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let place = place_file(dst, inputs, force)?;
    // Created with 0666: the kernel takes the umask's bits off, as for any new file.
    let mut tmp = place.temporary_with(Some(std::fs::Permissions::from_mode(0o666)))?;
    tmp.write_all(bytes)?;
    if let Some(Ok(m)) = place.target.as_deref().map(std::fs::metadata) {
        if m.is_file() {
            tmp.as_file().set_permissions(m.permissions())?;
        }
    }
    tmp.as_file().sync_all()?;
    place.finish(tmp, force)
}

/// Where a file DST goes, checked against `inputs` (none may be replaced) and `force`.
fn place_file(dst: &Path, inputs: &[&Path], force: bool) -> Result<Place, CompactError> {
    use std::os::unix::fs::MetadataExt;
    let dst = dst.to_path_buf();
    let target = resolve(&dst)?;
    if let Ok(d) = std::fs::metadata(&target) {
        // An input that is gone (a backup the index remembers) cannot be the file replaced.
        for s in inputs.iter().filter_map(|src| std::fs::metadata(src).ok()) {
            if (s.dev(), s.ino()) == (d.dev(), d.ino()) {
                return Err(CompactError::IsSource(dst));
            }
        }
        if !force {
            return Err(CompactError::Exists(dst));
        }
    } else if !force && std::fs::symlink_metadata(&dst).is_ok() {
        // A dangling symbolic link: DST exists, as a name; writing through it needs --force.
        return Err(CompactError::Exists(dst));
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Said of the folder, not of the temporary file that could not be made in it.
    if !std::fs::metadata(&dir).is_ok_and(|m| m.is_dir()) {
        let why = format!("{}: no such folder to write the copy in", dir.display());
        return Err(CompactError::Io(std::io::Error::new(std::io::ErrorKind::NotFound, why)));
    }
    unfinished::remove_stale(&dir);
    let linked = std::fs::symlink_metadata(&dst).is_ok_and(|m| m.file_type().is_symlink());
    Ok(Place { target: Some(target), dir, linked })
}

impl Place {
    /// The file a symbolic link DST leads to (what is replaced), when DST is one.
    pub(crate) fn link_target(&self) -> Option<&Path> {
        self.target.as_deref().filter(|_| self.linked)
    }

    /// The permission bits the copy gets: those of the file it replaces (with --force), so a
    /// file kept private stays so (a snapshot holds Secrets), else the source's (not the
    /// temporary file's 0600).
    pub(crate) fn permissions(&self, src: &Path) -> std::io::Result<std::fs::Permissions> {
        match self.target.as_deref().map(std::fs::metadata) {
            Some(Ok(m)) if m.is_file() => Ok(m.permissions()),
            _ => Ok(std::fs::metadata(src)?.permissions()),
        }
    }

    /// A new temporary file in the destination's folder, named with this process's id, locked
    /// for as long as it is open (see [`unfinished::remove_stale`]).
    pub(crate) fn temporary(&self) -> Result<tempfile::NamedTempFile, CompactError> {
        self.temporary_with(None)
    }

    /// [`Place::temporary`] created with `mode` (less the umask) instead of 0600.
    fn temporary_with(&self, mode: Option<std::fs::Permissions>) -> Result<tempfile::NamedTempFile, CompactError> {
        let prefix = unfinished::prefix();
        let mut b = tempfile::Builder::new();
        b.prefix(&prefix);
        if let Some(m) = mode {
            b.permissions(m);
        }
        let tmp = b.tempfile_in(&self.dir)?;
        crate::sys::try_lock_exclusive(tmp.as_file());
        Ok(tmp)
    }

    /// Puts the finished, fsynced copy in place: renamed over the target (and the folder
    /// fsynced), or streamed to standard output.
    pub(crate) fn finish(&self, tmp: tempfile::NamedTempFile, force: bool) -> Result<(), CompactError> {
        let Some(target) = &self.target else {
            let mut f = tmp.reopen()?;
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut f, &mut out)?;
            std::io::Write::flush(&mut out)?;
            return Ok(());
        };
        if force {
            tmp.persist(target).map_err(|e| CompactError::Io(e.error))?;
        } else {
            tmp.persist_noclobber(target).map_err(|e| CompactError::Io(e.error))?;
        }
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_dev_and_proc_are_recognised() {
        assert!(under_dev_or_proc(Path::new("/dev/stdout")));
        assert!(under_dev_or_proc(Path::new("/proc/self/fd/1")));
        assert!(!under_dev_or_proc(Path::new("/devices/x")));
        assert!(!under_dev_or_proc(Path::new("/tmp/dev/x")));
    }
}
