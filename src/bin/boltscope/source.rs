//! Where a file came from, as `inspect` shows it: the container it was read out of (zip, gzip,
//! zstd, and a zip's entry name), and for a k3s/RKE2 snapshot what its name says (node, time,
//! scheduled or on-demand) and the metadata k3s keeps beside it in `../.metadata/`.

use boltscope::input::{self, Container};
use boltscope::k3s::{self, name::SnapshotKind};
use std::path::Path;

/// What is known of a file's origin.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Source {
    /// `plain`, `zip`, `gzip` or `zstd`.
    pub container: String,
    /// The zip entry the database was read from.
    pub entry: Option<String>,
    /// A k3s/RKE2 snapshot name, parsed.
    pub k3s: Option<K3sName>,
    /// The k3s metadata file's JSON (the extra-metadata ConfigMap's data at snapshot time).
    pub k3s_metadata: Option<serde_json::Value>,
}

/// A k3s/RKE2 snapshot's name, parsed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct K3sName {
    /// The node that took it (None when the name has no node part).
    pub node: Option<String>,
    /// When, in seconds since 1970-01-01 UTC.
    pub unix_seconds: i64,
    /// `scheduled`, `on-demand` or `custom`.
    pub kind: &'static str,
    /// Whether the name ends in `.zip`.
    pub compressed: bool,
}

/// What the path and its first bytes say about `path`. A metadata file that exists but cannot be
/// used (unreadable, too large, not JSON) is named in a warning on standard error and left out:
/// it says nothing of the database, so the verdict stays.
pub fn describe(path: &Path) -> Source {
    let (container, entry) = input::container_of(path).unwrap_or((Container::Plain, None));
    let name = path.file_name().and_then(|n| n.to_str()).and_then(k3s::name::parse);
    let k3s = name.filter(|n| n.kind != SnapshotKind::Custom).map(|n| K3sName {
        node: n.node,
        unix_seconds: n.unix_seconds,
        kind: match n.kind {
            SnapshotKind::Scheduled => "scheduled",
            SnapshotKind::OnDemand => "on-demand",
            SnapshotKind::Custom => "custom",
        },
        compressed: n.compressed,
    });
    let k3s_metadata = k3s::metadata::read_metadata(path).unwrap_or_else(|e| {
        errln!("boltscope: warning: {e}; not shown");
        None
    });
    Source { container: container.name().to_string(), entry, k3s, k3s_metadata }
}

/// One line for people, or nothing for a plain file with no k3s name.
pub fn line(s: &Source) -> Option<String> {
    let mut parts = Vec::new();
    if s.container != "plain" {
        let entry = s.entry.as_ref().map_or(String::new(), |e| format!(" entry {}", e.escape_debug()));
        parts.push(format!("{}{entry}", s.container));
    }
    if let Some(k) = &s.k3s {
        let secs = u64::try_from(k.unix_seconds).unwrap_or(0);
        let node = k.node.as_deref().map_or(String::new(), |n| format!(" of node {}", n.escape_debug()));
        parts.push(format!("k3s {} snapshot{node} at {} UTC", k.kind, crate::history::when(secs)));
    }
    if let Some(m) = &s.k3s_metadata {
        parts.push(format!("metadata {m}"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
