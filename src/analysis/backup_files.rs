//! Which files in a folder tree are backups, for `scan` and `trend`.
//!
//! A file is taken when its first bytes say it is a bbolt database (the magic of meta page 0 or 1
//! at a usual page size, either byte order; inside a zip, gzip or zstd container too), when it
//! cannot be read (a container cut short), or when its **name** says it is a backup although its
//! bytes do not: a k3s/RKE2 snapshot name (`etcd-snapshot-<node>-<seconds>`, `on-demand-...`, or
//! any prefix followed by `-<unix seconds>` of ten digits, packed or not), or
//! a name ending in `.db`, `.snap` or `.snapshot` (before any `.zip`, `.gz`, `.zst`, `.tar`, `.tgz`,
//! `.xz`, `.bz2` or `.lz4`), or `db` (an etcd member's `member/snap/db`). An empty snapshot, or one whose meta pages were wiped, is then
//! listed as unreadable instead of passed over: the failure a CI job must see.
//!
//! Not taken by name: files in a `.metadata` folder (the JSON k3s writes beside its snapshots,
//! named like them), etcd's raft snapshots (`<16 hex>-<16 hex>.snap` in `member/snap`, protobuf),
//! and SQLite databases (k3s's `state.db`), which have their own magic.

use crate::bbolt::meta::detect_order;
use crate::input;
use crate::k3s::metadata::METADATA_DIR;
use crate::k3s::name::{self, SnapshotKind};
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

/// What a file met in a folder is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// It starts as a bbolt database does (its own bytes, or its container's single member).
    Database,
    /// It could not be read, or it is a container that cannot be expanded as far as a meta page.
    Unreadable,
    /// Its bytes are no database, but its name says it is a backup.
    NamedBackup,
    /// Another kind of file.
    Other,
}

impl Found {
    /// Whether the file is analysed (and so reported), not passed over.
    pub fn taken(self) -> bool {
        self != Found::Other
    }
}

/// The bytes read from the start of a file (or its container's member) to find a meta page: a
/// meta page at the largest usual page size (64 KiB) and its header.
const HEAD_LEN: usize = 65536 + 32;

/// The page sizes where a second meta page is looked for when the first one is damaged.
const META_OFFSETS: [usize; 4] = [0, 4096, 16384, 65536];

/// Suffixes of a packed backup, taken off (repeatedly) before the name is judged: the containers
/// boltscope reads, and those it names as mistakes (a tar, xz, bzip2 or lz4 backup is listed as
/// unreadable, with the reason, rather than passed over).
const PACKED: [&str; 8] = [".zip", ".gz", ".zst", ".tar", ".tgz", ".xz", ".bz2", ".lz4"];

/// SQLite's file header.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// What `path` is (see the module's rule).
pub fn classify(path: &Path) -> Found {
    let head = match input::peek(path, HEAD_LEN) {
        Ok(head) => head,
        Err(_) => return Found::Unreadable,
    };
    if let Some(head) = &head {
        if META_OFFSETS.iter().any(|&at| head.get(at..).and_then(detect_order).is_some()) {
            return Found::Database;
        }
        if head.starts_with(SQLITE_MAGIC) {
            return Found::Other;
        }
    }
    if named_like_backup(path) {
        Found::NamedBackup
    } else {
        Found::Other
    }
}

/// Whether the file's name (and folder) says it is a backup, whatever it holds.
pub fn named_like_backup(path: &Path) -> bool {
    let parent = path.parent().and_then(Path::file_name);
    if parent == Some(OsStr::new(METADATA_DIR)) {
        return false;
    }
    let Some(name) = path.file_name().map(OsStr::to_string_lossy) else { return false };
    let mut bare: &str = &name.to_ascii_lowercase();
    while let Some(b) = PACKED.iter().find_map(|s| bare.strip_suffix(s)) {
        bare = b;
    }
    if bare == "db" || bare.ends_with(".db") || bare.ends_with(".snapshot") {
        return true;
    }
    if let Some(stem) = bare.strip_suffix(".snap") {
        return !is_raft_snapshot(stem);
    }
    // A custom k3s prefix (`--etcd-snapshot-name nightly`) still ends in `-<unix seconds>`. Judged
    // without the packed suffixes too: `etcd-snapshot-n1-1700086400.gz` was passed over by `scan`
    // and `trend` when what it holds is no database (a CI job saw exit 0).
    name::parse(bare).is_some_and(|n| n.kind != SnapshotKind::Custom || n.unix_seconds >= 1_000_000_000)
}

/// `<16 hex digits>-<16 hex digits>`: the stem of an etcd raft snapshot file (term and index).
fn is_raft_snapshot(stem: &str) -> bool {
    let hex16 = |s: &str| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit());
    stem.split_once('-').is_some_and(|(term, index)| hex16(term) && hex16(index))
}

/// The regular files below some folders, each sorted by name, and the folders that could not be
/// read. A symbolic link to a file counts as the file; a dangling one counts when it is named like
/// a backup; a link to a folder is not followed.
#[derive(Debug, Default)]
pub struct Walked {
    /// The files, in walk order.
    pub files: Vec<PathBuf>,
    /// Folders whose listing failed, with the reason.
    pub unreadable: Vec<(PathBuf, io::Error)>,
    /// What is named like a backup but is no regular file (a FIFO, a device, a socket, or a
    /// link to one): never opened (a FIFO would block), but not passed over in silence.
    pub special: Vec<PathBuf>,
}

impl Walked {
    /// Adds every regular file below `dir`.
    pub fn walk(&mut self, dir: &Path) {
        let rd = match std::fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) => return self.unreadable.push((dir.to_path_buf(), e)),
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let Ok(t) = e.file_type() else { continue };
            let path = e.path();
            if t.is_dir() {
                self.walk(&path);
            } else if t.is_file() {
                self.files.push(path);
            } else if t.is_symlink() {
                // A link to a file is read through; a dangling one named like a backup is taken
                // (and then found unreadable); a link to a folder is not followed (no cycles).
                match std::fs::metadata(&path) {
                    Ok(m) if m.is_file() => self.files.push(path),
                    Ok(m) if !m.is_dir() && named_like_backup(&path) => self.special.push(path),
                    Err(_) if named_like_backup(&path) => self.files.push(path),
                    _ => {}
                }
            } else if named_like_backup(&path) {
                self.special.push(path);
            }
        }
    }
}

/// The files of a list that are distinct files, in list order: a path named twice, or a symbolic
/// link to a file listed, is dropped (the file's own name is kept over a link's: a link's name
/// may carry another time); so is a **hard link** of a file listed in the same folder (another
/// name of the same inode there), which is returned beside the name kept, to be told (`trend`
/// counted such a backup twice: review 48c F7). Hard links in other folders (a backup tree copied
/// with `cp -al`) are each kept, whatever the order (review 49c): each folder's series has its
/// backups. A file whose metadata cannot be read is kept (its reading fails later, where it is
/// reported).
pub fn distinct_files(files: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<(PathBuf, PathBuf)>) {
    use std::collections::{HashMap, HashSet};
    use std::os::unix::fs::MetadataExt;
    let is_link = |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink());
    // Real names first, then links; within each, list order.
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| is_link(&files[i]));
    let (mut paths, mut inodes) = (HashSet::new(), HashMap::new());
    let (mut keep, mut linked) = (vec![false; files.len()], Vec::new());
    for i in order {
        let p = &files[i];
        if !paths.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())) {
            continue;
        }
        let Ok(m) = std::fs::metadata(p) else {
            keep[i] = true;
            continue;
        };
        let folder = std::path::absolute(p).ok().and_then(|a| a.parent().map(Path::to_path_buf));
        match inodes.get(&(m.dev(), m.ino(), folder.clone())) {
            Some(first) => linked.push((p.clone(), PathBuf::clone(first))),
            None => {
                inodes.insert((m.dev(), m.ino(), folder), p.clone());
                keep[i] = true;
            }
        }
    }
    let kept = files.into_iter().zip(keep).filter_map(|(p, k)| k.then_some(p)).collect();
    (kept, linked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_say_backup() {
        for n in [
            "a.snap.db",
            "backup.DB",
            "db",
            "etcd.snapshot",
            "nightly.snap",
            "x.db.zip",
            "x.db.gz",
            "x.snap.zst",
            "nightly.snap.db.tar.gz",
            "backup.db.xz",
            "b.DB.TGZ",
            "etcd-snapshot-node-1-1700000000",
            "etcd-snapshot-node-1-1700000000.zip",
            "etcd-snapshot-n1-1700086400.gz",
            "etcd-snapshot-n1-1700172800.xz",
            "nightly-node-a-1700000000.tar.gz",
            "on-demand-n-1700000000",
            "nightly-node-a-1700000000",
            "0000000000000005-00000000000007d1.snap.db",
        ] {
            assert!(named_like_backup(Path::new(n)), "{n}");
        }
        for n in [
            "notes.txt",
            "README.md",
            "x.zip",
            "dbx",
            "0000000000000005-00000000000007d1.snap",
            "backup-2",
            "app-1700000000.log",
            "state.db-wal",
            "k3s/server/db/snapshots/../.metadata/etcd-snapshot-node-1-1700000000",
            ".metadata/x.db",
        ] {
            assert!(!named_like_backup(Path::new(n)), "{n}");
        }
    }

    #[test]
    fn a_file_named_like_a_backup_is_taken_whatever_it_holds_but_sqlite_and_other_files_are_not() {
        let dir = std::env::temp_dir().join(format!("boltscope-found-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".metadata")).unwrap();
        let put = |n: &str, b: &[u8]| {
            std::fs::write(dir.join(n), b).unwrap();
            classify(&dir.join(n))
        };
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny-1.snap.db");
        let snap = std::fs::read(fixture).unwrap();
        assert_eq!(put("tiny.bin", &snap), Found::Database);
        let mut wiped = snap.clone();
        wiped[..8192].fill(0);
        assert_eq!(put("wiped.db", &wiped), Found::NamedBackup);
        assert_eq!(put("wiped.bin", &wiped), Found::Other);
        assert_eq!(put("etcd-snapshot-n-1700000000", b""), Found::NamedBackup);
        assert_eq!(put(".metadata/etcd-snapshot-n-1700000000", b"{}"), Found::Other);
        assert_eq!(put("state.db", b"SQLite format 3\0rest"), Found::Other);
        assert_eq!(put("notes.txt", b"hello"), Found::Other);
        assert_eq!(classify(&dir.join("missing.db")), Found::Unreadable);
        std::os::unix::fs::symlink(dir.join("tiny.bin"), dir.join("latest")).unwrap();
        std::os::unix::fs::symlink(dir.join("gone"), dir.join("etcd-snapshot-n-1700000001")).unwrap();
        std::os::unix::fs::symlink(dir.join("gone"), dir.join("dangling.txt")).unwrap();
        std::os::unix::fs::symlink(&dir, dir.join("loop")).unwrap();
        assert_eq!(classify(&dir.join("latest")), Found::Database);
        assert_eq!(classify(&dir.join("etcd-snapshot-n-1700000001")), Found::Unreadable);
        let mut w = Walked::default();
        w.walk(&dir);
        let names: Vec<_> = w.files.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(
            names,
            [
                ".metadata/etcd-snapshot-n-1700000000",
                "etcd-snapshot-n-1700000000",
                "etcd-snapshot-n-1700000001",
                "latest",
                "notes.txt",
                "state.db",
                "tiny.bin",
                "wiped.bin",
                "wiped.db"
            ]
        );
        assert!(w.special.is_empty());
        // A FIFO named like a backup, and a link to one: listed apart, never opened; others not.
        for name in ["fifo.db", "pipe.txt"] {
            assert!(std::process::Command::new("mkfifo").arg(dir.join(name)).status().unwrap().success());
        }
        std::os::unix::fs::symlink(dir.join("fifo.db"), dir.join("etcd-snapshot-n-1700000002")).unwrap();
        let mut w = Walked::default();
        w.walk(&dir);
        let special: Vec<_> = w.special.iter().map(|p| p.strip_prefix(&dir).unwrap().display().to_string()).collect();
        assert_eq!(special, ["etcd-snapshot-n-1700000002", "fifo.db"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
