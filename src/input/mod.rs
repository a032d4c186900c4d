//! Getting a database's bytes from a path: refusing what is not a regular file (with a hint for
//! an etcd data directory), mapping it read-only ([`crate::sys`]), and reading a live file
//! consistently: when a running etcd commits while the file is read, the read is noticed as torn
//! and made again.

use crate::bbolt::meta::{meta_structs, Metas};
use crate::error::Error;
pub use crate::sys::MappedFile;
use std::path::Path;

/// Opens and maps `path` read-only. Refuses directories, FIFOs and other non-regular files before
/// opening them (opening a FIFO would block); for an etcd data directory (or its `member` or
/// `member/snap` folder) the error names the database file inside it.
pub fn open(path: &Path) -> Result<MappedFile, Error> {
    let md = std::fs::metadata(path)?;
    if !md.is_file() {
        let what = if md.is_dir() { "a directory" } else { "not a regular file" };
        return Err(Error::NotAFile { what, hint: data_dir_hint(path) });
    }
    let file = std::fs::File::open(path)?;
    Ok(MappedFile::map(&file)?)
}

/// `did you mean DIR/member/snap/db?` when `path` is an etcd data directory or a folder inside it.
fn data_dir_hint(path: &Path) -> Option<String> {
    ["member/snap/db", "snap/db", "db"]
        .iter()
        .map(|tail| path.join(tail))
        .find(|p| p.is_file())
        .map(|p| format!("did you mean {}?", p.display()))
}

/// How many times a read is retried when the file changes while it is read.
pub const RETRIES: usize = 3;

/// Runs `f` over the mapped file; if the meta pages changed meanwhile (a live etcd committed),
/// maps the file again and retries, up to [`RETRIES`] times. Returns the result and whether it
/// may still be torn (the file kept changing).
pub fn read_consistent<T>(path: &Path, f: impl Fn(&[u8]) -> Result<T, Error>) -> Result<(T, bool), Error> {
    let mut attempt = 0;
    loop {
        let file = open(path)?;
        let data = file.bytes();
        let before = commit_stamp(data);
        let out = f(data)?;
        let stable = before == commit_stamp(data);
        attempt += 1;
        if stable || attempt > RETRIES {
            return Ok((out, !stable));
        }
    }
}

/// What a commit changes: both meta pages (or, when they cannot be read, the first 4 KiB). Equal
/// before and after a read of a live file means no commit landed in between, so no page the read
/// could reach was reused.
pub fn commit_stamp(data: &[u8]) -> Vec<u8> {
    match Metas::read(data) {
        Ok(m) => meta_structs(data, m.page_size),
        Err(_) => data.get(..4096).unwrap_or(data).to_vec(),
    }
}
