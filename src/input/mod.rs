//! Getting a database's bytes from a path. Every read command accepts a database as it is, or
//! compressed; [`open`] refuses what is not a regular file (with a hint for an etcd data
//! directory), expands a container, and maps the bytes read-only ([`crate::sys`]);
//! [`read_consistent`] reads a live file again when a running etcd commits while it is read.
//!
//! [`expand`] recognises the file by its first bytes ([`sniff`]), never by its name:
//!
//! | container | magic | what is read | checked |
//! |---|---|---|---|
//! | zip | `PK\x03\x04` (`PK\x05\x06`: empty) | exactly one entry, Deflate or Stored, not encrypted; zip64 too | entry CRC-32 and size from the central directory |
//! | gzip | `1f 8b` | every member, concatenated (as `gzip -d`); zero padding after the last is ignored | each member's trailer CRC-32 and ISIZE, header CRC-16 if present |
//! | zstd | `28 b5 2f fd` | every frame, concatenated (as `zstd -d`); window up to 128 MiB | each frame's XXH64 content checksum, when the frame has one |
//! | plain | anything else | the file itself, no copy | nothing here |
//!
//! A container is streamed through its decoder into an unlinked temporary file in `$TMPDIR`
//! (`tempfile::tempfile()`) with fixed-size buffers, so memory stays bounded whatever the size;
//! the caller maps the returned [`Expanded::file`] read-only. Expansion stops at a limit
//! ([`DEFAULT_MAX_EXPANDED`] is the CLI's default) without writing past it.
//!
//! k3s and RKE2 `--etcd-snapshot-compress` snapshots are zip archives written by Go's
//! archive/zip: one Deflate entry named like the archive without `.zip`, with a data descriptor;
//! [`expand`] reads them, and gives the entry's name.
//!
//! Files users pass by mistake are named, not decoded ([`NotDatabase`], with a hint): an etcd WAL
//! segment, tar, xz, bzip2 and lz4, also when found inside a container.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use boltscope::input::{expand, Container, DEFAULT_MAX_EXPANDED};
//! let e = expand(std::path::Path::new("fixtures/archives/tiny-1.snap.db.gz"), DEFAULT_MAX_EXPANDED)?;
//! assert_eq!((e.container, e.expanded_size), (Container::Gzip, 20512));
//! # Ok(()) }
//! ```

mod copy;
mod error;
mod expand;
mod gzip;
mod peek;
mod room;
mod sniff;
mod zip;
mod zipdir;

pub use error::{InputError, LISTED_ENTRIES};
pub use expand::{expand, Expanded, DEFAULT_MAX_EXPANDED};
pub use peek::{container_of, peek};
pub use sniff::{sniff, Container, NotDatabase, Sniffed, SNIFF_LEN};

use crate::bbolt::meta::{meta_structs, Metas};
use crate::error::Error;
pub use crate::sys::MappedFile;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static MAX_EXPANDED: AtomicU64 = AtomicU64::new(DEFAULT_MAX_EXPANDED);

/// Sets how large an expanded archive may grow before [`open`] refuses it (a zip bomb), for the
/// whole process (the CLI's `--max-expanded-size`).
pub fn set_max_expanded(bytes: u64) {
    MAX_EXPANDED.store(bytes, Ordering::Relaxed);
}

/// An opened input: its bytes mapped read-only, and what container they came out of.
#[derive(Debug)]
pub struct Opened {
    /// The database's bytes.
    pub map: MappedFile,
    /// The container (`Plain` for a database as it is).
    pub container: Container,
    /// The zip entry's name, for a zip.
    pub entry_name: Option<String>,
}

/// Opens and maps `path` read-only, expanding a zip, gzip or zstd container first (see
/// [`open_input`]).
pub fn open(path: &Path) -> Result<MappedFile, Error> {
    open_input(path).map(|o| o.map)
}

/// Opens `path`: refuses directories, FIFOs and other non-regular files before opening them
/// (opening a FIFO would block), with the database file's path for an etcd data directory;
/// expands a container into an unlinked temporary file; maps the result read-only. A file that
/// is no database but something users pass by mistake (an etcd WAL segment, a tar, xz, bzip2 or
/// lz4 file) is named as such, unless it does hold valid bbolt meta pages.
pub fn open_input(path: &Path) -> Result<Opened, Error> {
    let md = std::fs::metadata(path)?;
    if !md.is_file() {
        let what = if md.is_dir() { "a directory" } else { "not a regular file" };
        return Err(Error::NotAFile { what, hint: data_dir_hint(path) });
    }
    match expand(path, MAX_EXPANDED.load(Ordering::Relaxed)) {
        Ok(e) => Ok(Opened { map: mapped(e.file, e.source)?, container: e.container, entry_name: e.entry_name }),
        Err(InputError::NotDatabase { kind, inside: None, .. }) => {
            let f = open_regular(path)?;
            let map = mapped(f.try_clone()?, f)?;
            if Metas::read(map.bytes()).is_ok() {
                return Ok(Opened { map, container: Container::Plain, entry_name: None });
            }
            let what = format!("{} {} ({})", kind.article(), kind.name(), kind.hint());
            Err(Error::NotBbolt { looks_like: Some(what) })
        }
        Err(InputError::Read { source, .. }) => Err(Error::Io(source)),
        Err(e) => Err(Error::Archive { path: e.path().to_path_buf(), source: Box::new(e) }),
    }
}

/// Maps `file` (bytes from `source`), saying why when the address space this process may use is
/// too small for them (review 42b: a member file expanded from 5 GB of zstd said only "Cannot
/// allocate memory" under `ulimit -v`).
fn mapped(file: std::fs::File, source: std::fs::File) -> Result<MappedFile, Error> {
    let len = file.metadata().map_or(0, |m| m.len());
    MappedFile::map_input_of(file, source).map_err(|e| match e.kind() {
        std::io::ErrorKind::OutOfMemory => Error::Io(std::io::Error::new(
            e.kind(),
            format!(
                "cannot map its {len} bytes: the address space this process may use is smaller (`ulimit -v`); \
                 raise it ({e})"
            ),
        )),
        _ => Error::Io(e),
    })
}

/// Opens `path` read-only, refusing anything but a regular file by the opened handle's own type,
/// and without blocking when it is a FIFO (a regular file reads the same): a path swapped for a
/// FIFO after [`open_input`] looked at it cannot hang the reader (review 42b: 3 runs in 3,000 hung
/// in a FIFO's open).
pub fn open_regular(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(target_os = "linux")]
    o.custom_flags(libc::O_NONBLOCK);
    let f = o.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (it was replaced while read?)",
        ));
    }
    Ok(f)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_by_its_handle_without_waiting_for_a_writer() {
        // What a path swapped for a FIFO after open_input's look meets: without O_NONBLOCK the
        // open waits for a writer that never comes.
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let p = fifo.clone();
        std::thread::spawn(move || tx.send(open_regular(&p).map(|_| ()).map_err(|e| e.kind())));
        let got = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("the open returned");
        assert_eq!(got, Err(std::io::ErrorKind::InvalidInput));
        for f in [&fifo, tmp.path()] {
            assert!(open_regular(f).is_err(), "{f:?}");
        }
        let plain = tmp.path().join("plain");
        std::fs::write(&plain, b"bytes").unwrap();
        assert!(open_regular(&plain).is_ok());
        // An expanded container's source, peeked at, is opened the same way.
        assert!(peek::peek(&fifo, 16).is_err());
    }
}
