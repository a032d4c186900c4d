//! Residue: what an etcd file's free pages still hold of deleted data. etcd keeps no freelist and
//! `etcdctl snapshot save` copies every page up to the high-water mark, so after a key is deleted
//! and compacted away its old value usually still sits in a free page, of the member file and of
//! every backup taken afterwards. Here those records are counted ([`free_pages`] carves
//! them strictly, and leaves out every revision the tree still holds), grouped by Kubernetes
//! resource as `du` groups keys ([`By::Resource`]), with the Secrets among them named by key (never
//! their values).

use super::grouping::By;
use crate::bbolt::bitmap::AtomicBitmap;
use crate::bbolt::view::DbView;
use crate::etcd::carve::{free_pages, Fix, KeyRecord};
use crate::etcd::revision::Revision;
use crate::etcd::revset::RevSet;
use crate::etcd::{KeyMap, KeySet};
use crate::k8s::secret;
use crate::problem::{Problem, ProblemKind};
use crate::sys::CacheLine;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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
    /// Of them, read from free pages no leaf's header lists (the pages after the first of a leaf
    /// that spanned several, once the first was used again): found by their revision key and
    /// value where a leaf packs them.
    #[serde(default)]
    pub headerless: u64,
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

/// Carved records counted by resource path ([`By::slot`]): records and puts, and whether the
/// path is the Secrets'. One map per carving thread, so counting never waits on another thread.
/// Also how many of them were read without their leaf's header.
struct Tally<'a>(Vec<CacheLine<Mutex<Counts<'a>>>>, AtomicU64);

type Counts<'a> = KeyMap<&'a [u8], Count>;

/// Records, puts, and whether the path is the Secrets'.
type Count = (u64, u64, bool);

impl<'a> Tally<'a> {
    fn new() -> Tally<'a> {
        Tally((0..=rayon::current_num_threads()).map(|_| CacheLine::default()).collect(), AtomicU64::new(0))
    }

    /// Counts the records carved from one page under their resource paths (a run of records of
    /// one path, as a page of one transaction mostly holds, takes one lookup); appends to
    /// `secrets` the puts of Secrets (whose keys are then kept to be named).
    fn count(&self, recs: &mut dyn Iterator<Item = KeyRecord<'a>>, secrets: &mut Vec<(Revision, &'a [u8])>) {
        let mine = rayon::current_thread_index().map_or(0, |i| i + 1) % self.0.len();
        let Ok(mut t) = self.0[mine].lock() else { return };
        // The current run of one path, and its counts.
        let mut cur: Option<(&'a [u8], &mut Count)> = None;
        for r in recs {
            let Cow::Borrowed(slot) = By::Resource.slot(r.kv.key) else { continue };
            let c = match cur.take() {
                Some((s, c)) if s == slot => c,
                _ => t.entry(slot).or_insert_with(|| {
                    let name = By::Resource.name_of(Cow::Borrowed(slot));
                    (0, 0, name.as_ref() == b"secrets")
                }),
            };
            c.0 += 1;
            if r.fix == Fix::Headerless {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
            if !r.rev.tombstone {
                c.1 += 1;
                // By its resource, or as `get` tells a Secret: by a `secrets` segment anywhere in
                // its key (an API server's `--etcd-prefix`), by its value's kind, or by its key's
                // own bytes (a value read as the key).
                let secret = c.2
                    || secret::key_says_secret(r.kv.key)
                    || secret::holds_plaintext(r.kv.key, r.kv.value)
                    || secret::key_holds_secret(r.kv.key);
                if secret {
                    secrets.push((r.rev, r.kv.key));
                }
            }
            cur = Some((slot, c));
        }
    }
}

/// The residue from the tally and the puts of Secrets (in revision order).
fn summarize(tally: Tally<'_>, secrets: &[(Revision, &[u8])]) -> Residue {
    let mut r = Residue { headerless: tally.1.into_inner(), ..Residue::default() };
    for counts in tally.0 {
        for (slot, (n, puts, _)) in counts.0.into_inner().unwrap_or_default() {
            let name = String::from_utf8_lossy(&By::Resource.name_of(Cow::Borrowed(slot))).into_owned();
            *r.by_resource.entry(name).or_insert(0) += n;
            r.records += n;
            r.puts += puts;
        }
    }
    let mut keys: KeySet<&[u8]> = KeySet::default();
    for (_, key) in secrets {
        r.secrets += 1;
        if keys.insert(key) && r.secret_keys.len() < SECRET_KEYS_SHOWN {
            r.secret_keys.push(String::from_utf8_lossy(secret::shown_key(key)).into_owned());
        }
    }
    r.secret_key_count = keys.len() as u64;
    r
}

/// The residue of an etcd file whose tree was read whole by the walk that marked `reached` and
/// collected `tree`, the revisions the tree holds; `compacted` is its compaction revision. `None`
/// when the `key` bucket cannot be looked up. Records are counted as they are carved (each
/// revision once); only the puts of Secrets are kept, to be named.
pub fn residue<'a>(
    view: &DbView<'a>,
    reached: &AtomicBitmap,
    tree: Option<&RevSet>,
    compacted: Option<u64>,
) -> Option<Residue> {
    let tally = Tally::new();
    let keep =
        |rs: &mut dyn Iterator<Item = KeyRecord<'a>>, secrets: &mut Vec<(Revision, &'a [u8])>| tally.count(rs, secrets);
    let (leaf_pages, key_pages, secrets) =
        free_pages(view, reached, tree, compacted, &keep, &|s: &(Revision, &'a [u8])| s.0).ok()?;
    Some(Residue { free_leaf_pages: leaf_pages, key_pages, ..summarize(tally, &secrets) })
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
