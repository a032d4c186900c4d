//! The metadata file k3s writes beside a snapshot (k3s `pkg/etcd/snapshot.go`
//! saveSnapshotMetadata): `<snapshot dir>/../.metadata/<snapshot file name>` (the file name with
//! its `.zip`, if any), the `data` of the `k3s-etcd-snapshot-extra-metadata` ConfigMap in
//! `kube-system` (`rke2-etcd-snapshot-extra-metadata` on RKE2) as a JSON object of strings. It
//! is written only when that ConfigMap exists and has data, so most snapshots have none.

use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The directory name, beside the snapshot directory.
pub const METADATA_DIR: &str = ".metadata";
/// The largest metadata file read (1 MiB, a ConfigMap's size limit).
pub const MAX_METADATA_LEN: u64 = 1 << 20;

/// A metadata file that exists but cannot be used.
#[derive(Debug)]
pub enum MetadataError {
    /// It could not be read.
    Read {
        /// The metadata file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// It is larger than [`MAX_METADATA_LEN`].
    TooLarge {
        /// The metadata file.
        path: PathBuf,
    },
    /// It is not JSON.
    NotJson {
        /// The metadata file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Read { path, source } => {
                write!(f, "{}: cannot read snapshot metadata: {source}", path.display())
            }
            MetadataError::TooLarge { path } => {
                write!(f, "{}: snapshot metadata larger than {MAX_METADATA_LEN} bytes; not read", path.display())
            }
            MetadataError::NotJson { path, detail } => {
                write!(f, "{}: snapshot metadata is not JSON: {detail}", path.display())
            }
        }
    }
}

impl std::error::Error for MetadataError {}

/// Where k3s keeps the metadata of the snapshot at `snapshot`: Go's
/// `filepath.Join(filepath.Dir(snapshot), "..", ".metadata", filepath.Base(snapshot))`, cleaned
/// lexically as Go does (symbolic links are not followed). `None` for a path with no file name.
pub fn metadata_path(snapshot: &Path) -> Option<PathBuf> {
    let name = snapshot.file_name()?;
    let mut dir: Vec<Component<'_>> =
        snapshot.parent().map(|p| p.components().filter(|c| *c != Component::CurDir).collect()).unwrap_or_default();
    match dir.last() {
        Some(Component::Normal(_)) => {
            dir.pop();
        }
        Some(Component::RootDir | Component::Prefix(_)) => {}
        Some(Component::ParentDir | Component::CurDir) | None => dir.push(Component::ParentDir),
    }
    let mut path: PathBuf = dir.iter().collect();
    path.push(METADATA_DIR);
    path.push(name);
    Some(path)
}

/// Reads the metadata of the snapshot at `snapshot`: `Ok(None)` when there is none,
/// the parsed JSON (k3s writes an object of strings) otherwise.
pub fn read_metadata(snapshot: &Path) -> Result<Option<serde_json::Value>, MetadataError> {
    let Some(path) = metadata_path(snapshot) else {
        return Ok(None);
    };
    // A FIFO (or a device) there would block the read, or never end: only a regular file is
    // opened, as for the input itself.
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MetadataError::Read { path, source }),
        Ok(md) if !md.is_file() => {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
            return Err(MetadataError::Read { path, source });
        }
        Ok(_) => {}
    }
    // Opened as the input is: a path swapped for a FIFO since the look above is refused, not
    // waited on.
    let file = match crate::input::open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(MetadataError::Read { path, source }),
    };
    let mut text = Vec::new();
    if let Err(source) = file.take(MAX_METADATA_LEN + 1).read_to_end(&mut text) {
        return Err(MetadataError::Read { path, source });
    }
    if text.len() as u64 > MAX_METADATA_LEN {
        return Err(MetadataError::TooLarge { path });
    }
    serde_json::from_slice(&text).map(Some).map_err(|e| MetadataError::NotJson { path, detail: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(p: &str) -> String {
        metadata_path(Path::new(p)).unwrap().display().to_string()
    }

    #[test]
    fn a_fifo_or_a_folder_at_the_metadata_path_is_refused_not_read() {
        // A FIFO there hung `inspect` forever.
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("snapshots");
        std::fs::create_dir_all(dir.path().join(METADATA_DIR)).unwrap();
        std::fs::create_dir(&snaps).unwrap();
        let fifo = metadata_path(&snaps.join("etcd-snapshot-n-1")).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_metadata(&snaps.join("etcd-snapshot-n-1")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        std::fs::create_dir(metadata_path(&snaps.join("etcd-snapshot-n-2")).unwrap()).unwrap();
        assert!(read_metadata(&snaps.join("etcd-snapshot-n-2")).is_err());
        assert!(read_metadata(&snaps.join("etcd-snapshot-n-3")).unwrap().is_none());
    }

    #[test]
    fn paths_as_go_joins_them() {
        assert_eq!(
            mp("/var/lib/rancher/k3s/server/db/snapshots/on-demand-n-1.zip"),
            "/var/lib/rancher/k3s/server/db/.metadata/on-demand-n-1.zip"
        );
        assert_eq!(mp("snaps/x"), ".metadata/x");
        assert_eq!(mp("x"), "../.metadata/x");
        assert_eq!(mp("./x"), "../.metadata/x");
        assert_eq!(mp("../x"), "../../.metadata/x");
        assert_eq!(mp("/x"), "/.metadata/x");
        assert!(metadata_path(Path::new("/")).is_none());
    }

    #[test]
    fn reads_bounded_json() {
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("snapshots");
        std::fs::create_dir_all(&snaps).unwrap();
        std::fs::create_dir_all(dir.path().join(METADATA_DIR)).unwrap();
        let snap = snaps.join("etcd-snapshot-n-1.zip");
        assert!(read_metadata(&snap).unwrap().is_none(), "no metadata file");
        let meta = dir.path().join(METADATA_DIR).join("etcd-snapshot-n-1.zip");
        std::fs::write(&meta, br#"{"team":"infra"}"#).unwrap();
        assert_eq!(read_metadata(&snap).unwrap().unwrap()["team"], "infra");
        std::fs::write(&meta, b"{not json").unwrap();
        assert!(matches!(read_metadata(&snap), Err(MetadataError::NotJson { .. })));
        std::fs::write(&meta, vec![b' '; (MAX_METADATA_LEN + 1) as usize]).unwrap();
        assert!(matches!(read_metadata(&snap), Err(MetadataError::TooLarge { .. })));
    }
}
