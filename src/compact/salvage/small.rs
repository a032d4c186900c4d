//! etcd's small buckets (and a generic file's buckets) for the copy: each read whole from the
//! tree, else from an older root page that holds it whole, else what the damaged tree gave; a
//! bucket etcd always writes that no root lists is named lost.

use super::gather::Entries;
use super::report::{BucketInfo, SalvageReport};
use super::root::{self, Root, RootFrom};
use super::tree::Top;
use crate::bbolt::carve::Geometry;
use crate::bbolt::cursor;
use crate::bbolt::order::PageId;
use crate::bbolt::view::DbView;
use crate::etcd::{KEY_BUCKET, SMALL_BUCKETS};

/// Where the buckets are read from.
pub struct From<'r> {
    /// The tree read, if any.
    pub root: Option<&'r Root>,
    /// Whether the root page itself could not be read whole.
    pub root_lost: bool,
    /// Whether the file is etcd's (its small buckets are then always there).
    pub etcd: bool,
    /// Every page that reads as a root bucket, best first ([`root::scan`]).
    pub scanned: &'r [u64],
}

/// The buckets other than `key`, sorted by name: name, sequence, entries sorted by key. Adds the
/// root pages found by scanning to `roots` when an older copy is needed; tells each bucket in
/// `report`.
pub fn buckets<'a>(
    data: &'a [u8],
    g: &Geometry<'a>,
    tops: &[Top<'a>],
    roots: &mut Vec<u64>,
    from: From<'_>,
    report: &mut SalvageReport,
) -> Vec<(&'a [u8], u64, Entries<'a>)> {
    let (root, root_lost, etcd) = (from.root, from.root_lost, from.etcd);
    let damaged: Vec<usize> = (0..tops.len()).filter(|&i| !tops[i].lost.is_empty() || tops[i].dropped > 0).collect();
    let from_scan = root.is_some_and(|r| r.from == RootFrom::Scan);
    if (!damaged.is_empty() || root_lost) && root.is_some_and(|r| r.others.is_empty()) {
        roots.extend(from.scanned.iter().copied().filter(|p| Some(*p) != root.map(|r| r.page)));
    }
    let others: Vec<u64> = roots.iter().copied().skip(1).collect();
    let mut plain = Vec::new();
    let mut names: Vec<&'a [u8]> = tops.iter().map(|t| t.name).collect();
    if root_lost {
        // Buckets the damaged root no longer lists, from the older roots.
        for &r in &others {
            let view = DbView::recovered(data, g.order, g.page_size as u32, PageId(r));
            let _ = cursor::for_each(&view, cursor::root(&view), &mut |e| {
                if e.is_bucket() && e.key != KEY_BUCKET && !names.contains(&e.key) {
                    names.push(e.key);
                }
            });
        }
    }
    // etcd writes its small buckets in every backend: one neither root lists was lost with the
    // root's pages (auth users and roles, leases, the members...), and is named so.
    if etcd {
        names.extend(SMALL_BUCKETS.iter().filter(|b| !names.contains(b)).collect::<Vec<_>>());
    }
    names.sort_unstable();
    for name in names {
        let top = tops.iter().find(|t| t.name == name);
        let whole = top.is_some_and(|t| t.lost.is_empty() && t.dropped == 0);
        let (entries, source, complete) = match (top, whole) {
            (Some(t), true) => (t.entries.clone(), "tree".to_string(), !from_scan),
            _ => match older_copy(data, g, &others, name) {
                Some((r, v)) => (v, format!("older root page {r}"), false),
                None if top.is_none() => {
                    report.buckets.push(BucketInfo {
                        name: String::from_utf8_lossy(name).into_owned(),
                        entries: 0,
                        source: "lost".into(),
                        complete: false,
                    });
                    continue;
                }
                None => (top.map(|t| t.entries.clone()).unwrap_or_default(), "tree (damaged)".into(), false),
            },
        };
        if let Some(t) = top {
            report.entries_unreadable += t.dropped;
            report.nested_buckets_left_out += t.nested;
        }
        let mut entries = entries;
        entries.sort_by(|a, b| a.0.cmp(b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        let name_s = String::from_utf8_lossy(name).into_owned();
        report.buckets.push(BucketInfo { name: name_s, entries: entries.len() as u64, source, complete });
        plain.push((name, top.map_or(0, |t| t.sequence), entries));
    }
    plain
}

/// An older, whole copy of bucket `name` from another root page: its root page and entries.
#[allow(clippy::type_complexity)]
fn older_copy<'a>(
    data: &'a [u8],
    g: &Geometry<'a>,
    roots: &[u64],
    name: &[u8],
) -> Option<(u64, Vec<(&'a [u8], &'a [u8])>)> {
    roots.iter().find_map(|&r| {
        let view = DbView::recovered(data, g.order, g.page_size as u32, PageId(r));
        let b = root::bucket_in(data, g, r, name)?;
        let mut v = Vec::new();
        let mut nested = false;
        cursor::for_each(&view, b, &mut |e| {
            nested |= e.is_bucket();
            v.push((e.key, e.value));
        })
        .ok()?;
        (!nested).then_some((r, v))
    })
}
