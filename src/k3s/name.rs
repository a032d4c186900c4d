//! k3s and RKE2 etcd snapshot file names (k3s `pkg/etcd/snapshot.go`): the name is
//! `<prefix>-<node>-<unix seconds>`, plus `.zip` when compressed, where the prefix is
//! `--etcd-snapshot-name` for scheduled snapshots (default `etcd-snapshot`) and `--name` for
//! `k3s etcd-snapshot save` (default `on-demand`), the node is the `NODE_NAME` environment
//! variable (empty when unset: `<prefix>--<seconds>`), and the seconds are the snapshot's time
//! rounded to the second. Early k3s releases wrote `<prefix>-<unix seconds>` with no node.
//!
//! Both the prefix and the node may contain dashes, so the node can only be told apart from a
//! prefix that is known: [`parse`] knows the two defaults, [`parse_with_prefix`] any prefix.
//! Like k3s, the time is what follows the last dash (of the name without `.zip`).

/// The default prefix of scheduled snapshots (`--etcd-snapshot-name`).
pub const SCHEDULED_PREFIX: &str = "etcd-snapshot";
/// The default prefix of on-demand snapshots (`k3s etcd-snapshot save --name`).
pub const ON_DEMAND_PREFIX: &str = "on-demand";
/// The suffix of a compressed snapshot.
pub const COMPRESSED_SUFFIX: &str = ".zip";

/// Which kind of snapshot the prefix says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotKind {
    /// `etcd-snapshot`: taken on the `--etcd-snapshot-schedule-cron` schedule.
    Scheduled,
    /// `on-demand`: taken by `k3s etcd-snapshot save`.
    OnDemand,
    /// A prefix set by the user: either kind.
    Custom,
}

/// A parsed snapshot file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotName {
    /// The prefix: a known one, the one given to [`parse_with_prefix`], or `None` when unknown.
    pub prefix: Option<String>,
    /// Everything before the last dash: prefix, dash and node (as k3s names it).
    pub head: String,
    /// The node name; `None` when the prefix is unknown or the name has no node part (early
    /// releases); `Some("")` when `NODE_NAME` was empty.
    pub node: Option<String>,
    /// The snapshot's time, in seconds since 1970-01-01 UTC.
    pub unix_seconds: i64,
    /// What the prefix says.
    pub kind: SnapshotKind,
    /// Whether the name ends in `.zip` (`--etcd-snapshot-compress`).
    pub compressed: bool,
}

/// Parses a snapshot file name (no directory) with the default prefixes; a name with another
/// prefix is [`SnapshotKind::Custom`] with `prefix` and `node` unknown. `None` when the name does
/// not end in `-<digits>` (with an optional `.zip`): k3s would then date it by its mtime.
///
/// A custom prefix that starts with a default one and a dash (`etcd-snapshot-weekly`) reads as
/// the default with the rest in the node name; give it to [`parse_with_prefix`] instead.
pub fn parse(file_name: &str) -> Option<SnapshotName> {
    let known = [(SCHEDULED_PREFIX, SnapshotKind::Scheduled), (ON_DEMAND_PREFIX, SnapshotKind::OnDemand)];
    for (prefix, kind) in known {
        if let Some(mut n) = parse_with_prefix(file_name, prefix) {
            n.kind = kind;
            return Some(n);
        }
    }
    let (head, unix_seconds, compressed) = split(file_name)?;
    Some(SnapshotName { prefix: None, head, node: None, unix_seconds, kind: SnapshotKind::Custom, compressed })
}

/// Parses a snapshot file name whose prefix is `prefix`: `None` unless the name is
/// `<prefix>-<node>-<seconds>` or `<prefix>-<seconds>` (with an optional `.zip`). The kind
/// follows the prefix: one of the defaults, or [`SnapshotKind::Custom`].
pub fn parse_with_prefix(file_name: &str, prefix: &str) -> Option<SnapshotName> {
    let (head, unix_seconds, compressed) = split(file_name)?;
    let node = if head == prefix { None } else { Some(head.strip_prefix(prefix)?.strip_prefix('-')?.to_string()) };
    let kind = match prefix {
        SCHEDULED_PREFIX => SnapshotKind::Scheduled,
        ON_DEMAND_PREFIX => SnapshotKind::OnDemand,
        _ => SnapshotKind::Custom,
    };
    Some(SnapshotName { prefix: Some(prefix.to_string()), head, node, unix_seconds, kind, compressed })
}

/// `<head>-<digits>[.zip]` → (head, seconds, compressed). The digits: 1 to 19 ASCII digits that
/// fit an i64 (k3s parses a base-10 int64).
fn split(file_name: &str) -> Option<(String, i64, bool)> {
    let (stem, compressed) = match file_name.strip_suffix(COMPRESSED_SUFFIX) {
        Some(stem) => (stem, true),
        None => (file_name, false),
    };
    let (head, digits) = stem.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds = digits.parse::<i64>().ok()?;
    Some((head.to_string(), seconds, compressed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_with_dashed_nodes() {
        let n = parse("etcd-snapshot-k3s-server-1-1700000000.zip").unwrap();
        assert_eq!(n.kind, SnapshotKind::Scheduled);
        assert_eq!(n.prefix.as_deref(), Some("etcd-snapshot"));
        assert_eq!(n.node.as_deref(), Some("k3s-server-1"));
        assert_eq!((n.unix_seconds, n.compressed), (1_700_000_000, true));

        let n = parse("on-demand-ip-10-0-0-5.ec2.internal-1699999999").unwrap();
        assert_eq!(
            (n.kind, n.node.as_deref(), n.compressed),
            (SnapshotKind::OnDemand, Some("ip-10-0-0-5.ec2.internal"), false)
        );
    }

    #[test]
    fn old_and_empty_node_forms() {
        let n = parse("etcd-snapshot-1600000000").unwrap();
        assert_eq!((n.node, n.unix_seconds), (None, 1_600_000_000));
        let n = parse("on-demand--1600000000").unwrap();
        assert_eq!(n.node.as_deref(), Some(""));
    }

    #[test]
    fn custom_prefixes() {
        let n = parse("nightly-node-a-1700000000").unwrap();
        assert_eq!((n.kind, n.prefix, n.node), (SnapshotKind::Custom, None, None));
        assert_eq!(n.head, "nightly-node-a");
        let n = parse_with_prefix("nightly-node-a-1700000000", "nightly").unwrap();
        assert_eq!((n.kind, n.node.as_deref()), (SnapshotKind::Custom, Some("node-a")));
        assert!(parse_with_prefix("nightly-node-a-1700000000", "weekly").is_none());
        assert!(parse_with_prefix("nightlyx-node-1700000000", "nightly").is_none(), "prefix ends at a dash");
        // A custom prefix extending a default one needs the prefix.
        let n = parse_with_prefix("etcd-snapshot-weekly-n1-1700000000", "etcd-snapshot-weekly").unwrap();
        assert_eq!((n.kind, n.node.as_deref()), (SnapshotKind::Custom, Some("n1")));
    }

    #[test]
    fn not_snapshot_names() {
        for bad in ["etcd-snapshot-node", "snapshot.db", "x-", "x-12a", "x-+12", "x-99999999999999999999", "-", ""] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        assert!(parse("x-1.zip").unwrap().compressed);
        assert!(parse("x-1.ZIP").is_none(), "k3s's suffix is lowercase");
    }
}
