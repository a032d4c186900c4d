//! Residue: what an etcd file's free pages still hold of deleted data. etcd keeps no freelist and
//! `etcdctl snapshot save` copies every page up to the high-water mark, so after a key is deleted
//! and compacted away its old value usually still sits in a free page, of the member file and of
//! every backup taken afterwards. Here those records are counted ([`free_records_with`] carves
//! them strictly, and leaves out every revision the tree still holds), grouped by Kubernetes
//! resource as `du` groups keys ([`By::Resource`]), with the Secrets among them named by key (never
//! their values).

use super::grouping::By;
use crate::bbolt::bitmap::AtomicBitmap;
use crate::bbolt::view::DbView;
use crate::etcd::carve::{free_records_with, KeyRecord};
use crate::problem::{Problem, ProblemKind};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// Secret keys listed at most.
pub const SECRET_KEYS_SHOWN: usize = 10;

/// The group of keys outside Kubernetes' prefixes.
pub const OTHER: &str = "(other)";

/// What free pages hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Residue {
    /// Free pages that read strictly as leaf pages with elements (of any bucket).
    pub free_leaf_pages: u64,
    /// Of them, pages of the `key` bucket.
    pub key_pages: u64,
    /// Records of the `key` bucket they hold that the tree no longer does (each revision once).
    pub records: u64,
    /// Of them, puts (a tombstone carries only its key).
    pub puts: u64,
    /// Records by Kubernetes resource ([`OTHER`] outside Kubernetes' prefixes).
    pub by_resource: BTreeMap<String, u64>,
    /// Puts of Secrets: values of Secrets deleted or overwritten since, still readable.
    pub secrets: u64,
    /// Distinct keys of those Secrets.
    pub secret_key_count: u64,
    /// The first of those keys (at most [`SECRET_KEYS_SHOWN`]), oldest first.
    pub secret_keys: Vec<String>,
}

/// The Kubernetes resource of a key, or [`OTHER`], as `du` names it.
pub fn resource(key: &[u8]) -> String {
    String::from_utf8_lossy(&By::Resource.group(key)).into_owned()
}

/// Groups carved records as `du` groups keys by resource ([`By::Resource`]): each key's
/// resource path (a slice of the key) counted, then named once per path.
pub fn summarize(records: &[KeyRecord<'_>]) -> Residue {
    let mut slots: HashMap<&[u8], (u64, u64), Xxh3DefaultBuilder> = HashMap::default();
    for rec in records {
        let Cow::Borrowed(slot) = By::Resource.slot(rec.kv.key) else { continue };
        let n = slots.entry(slot).or_insert((0, 0));
        n.0 += 1;
        n.1 += u64::from(!rec.rev.tombstone);
    }
    let mut r = Residue { records: records.len() as u64, ..Residue::default() };
    r.puts = records.iter().filter(|rec| !rec.rev.tombstone).count() as u64;
    let mut secret_slots: HashSet<&[u8], Xxh3DefaultBuilder> = HashSet::default();
    for (slot, (n, _)) in &slots {
        let name = String::from_utf8_lossy(&By::Resource.name_of(Cow::Borrowed(slot))).into_owned();
        if name == "secrets" {
            secret_slots.insert(slot);
        }
        *r.by_resource.entry(name).or_insert(0) += n;
    }
    let mut keys: HashSet<&[u8], Xxh3DefaultBuilder> = HashSet::default();
    if !secret_slots.is_empty() {
        for rec in records.iter().filter(|rec| !rec.rev.tombstone) {
            let Cow::Borrowed(slot) = By::Resource.slot(rec.kv.key) else { continue };
            if !secret_slots.contains(slot) {
                continue;
            }
            r.secrets += 1;
            if keys.insert(rec.kv.key) && r.secret_keys.len() < SECRET_KEYS_SHOWN {
                r.secret_keys.push(String::from_utf8_lossy(rec.kv.key).into_owned());
            }
        }
    }
    r.secret_key_count = keys.len() as u64;
    r
}

/// The residue of an etcd file whose tree was read whole by the walk that marked `reached` and
/// collected `tree`, the revisions the tree holds (`[main, sub]`, in key order); `compacted` is
/// its compaction revision. `None` when the `key` bucket cannot be looked up.
pub fn residue(
    view: &DbView<'_>,
    reached: &AtomicBitmap,
    tree: Option<&[[u64; 2]]>,
    compacted: Option<u64>,
) -> Option<Residue> {
    let f = free_records_with(view, reached, tree, compacted).ok()?;
    Some(Residue { free_leaf_pages: f.leaf_pages, key_pages: f.key_pages, ..summarize(&f.records) })
}

/// The warning for deleted Secret values readable in free pages, with the fix.
pub fn warning(r: &Residue) -> Option<Problem> {
    if r.secrets == 0 {
        return None;
    }
    let shown: Vec<&str> = r.secret_keys.iter().take(3).map(String::as_str).collect();
    let more = if r.secret_key_count as usize > shown.len() { ", ..." } else { "" };
    let msg = format!(
        "{} value(s) of {} Secret(s) deleted or overwritten since are still readable in free pages ({}{more}): \
         anyone who gets this file can read them. `boltscope compact` writes a copy without free pages",
        r.secrets,
        r.secret_key_count,
        shown.join(", ")
    );
    Some(Problem::new(ProblemKind::ResidualSecrets, msg).bucket(vec!["key".into()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_grouped_as_du_groups_them() {
        assert_eq!(resource(b"/registry/secrets/ns/a"), "secrets");
        assert_eq!(resource(b"/registry/services/specs/ns/a"), "services");
        assert_eq!(resource(b"/foo"), OTHER);
    }
}
