//! The largest Kubernetes resources of an etcd file, for `inspect`'s summary: the bytes every
//! record of the `key` bucket stores (revision key plus KeyValue, as `du`'s `stored_bytes`),
//! summed per resource path ([`key::resource_path`], a slice of the key: nothing is allocated
//! per record) while the inspect walk decodes the records, and named once at the end by `du`'s
//! rule ([`By::Resource`]). `du` has the full picture.

use super::grouping::{By, OTHER};
use crate::etcd::Passthrough;
use crate::k8s::key;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Distinct resource paths tallied; past it the summary is withheld (`du` has them all).
pub const MAX_PATHS: usize = 4096;
/// Resources the summary lists.
pub const LISTED: usize = 3;

/// One of the largest resources.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResourceSize {
    /// The resource (`(other)`: keys outside the Kubernetes API prefixes).
    pub resource: String,
    /// Revision key plus KeyValue bytes of its records.
    pub stored_bytes: u64,
    /// Its records.
    pub revisions: u64,
    /// `stored_bytes` over the file's in-use size.
    pub share: f64,
}

/// The largest resources, as `inspect` reports them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Largest {
    /// Whether every record could be tallied (false past [`MAX_PATHS`] resource paths: then
    /// `largest` is empty and `du` has the figures).
    pub complete: bool,
    /// The largest resources by stored bytes, ties by name.
    pub largest: Vec<ResourceSize>,
}

/// Records and bytes per resource path, summed per walk accumulator.
#[derive(Clone, Debug, Default)]
pub struct ResourceTally {
    /// Hash of the path -> (path, bytes, records).
    paths: HashMap<u64, (Vec<u8>, u64, u64), BuildHasherDefault<Passthrough>>,
    other: (u64, u64),
    full: bool,
}

impl ResourceTally {
    /// One record of `key` taking `bytes`.
    pub fn add(&mut self, key: &[u8], bytes: u64) {
        let Some(path) = key::resource_path(key) else {
            self.other = (self.other.0 + bytes, self.other.1 + 1);
            return;
        };
        self.add_path(path, bytes, 1);
    }

    fn add_path(&mut self, path: &[u8], bytes: u64, records: u64) {
        let h = xxhash_rust::xxh3::xxh3_64(path);
        let room = self.paths.len() < MAX_PATHS;
        match self.paths.get_mut(&h) {
            Some((p, b, n)) if p.as_slice() == path => (*b, *n) = (*b + bytes, *n + records),
            Some(_) => self.full = true,
            None if !room => self.full = true,
            None => {
                self.paths.insert(h, (path.to_vec(), bytes, records));
            }
        }
    }

    /// Adds another accumulator's tally.
    pub fn join(&mut self, o: ResourceTally) {
        self.other = (self.other.0 + o.other.0, self.other.1 + o.other.1);
        self.full |= o.full;
        for (_, (p, b, n)) in o.paths {
            self.add_path(&p, b, n);
        }
    }

    /// The largest resources by stored bytes (ties by name), with their share of `in_use`.
    pub fn largest(self, in_use: u64) -> Largest {
        if self.full {
            return Largest { complete: false, largest: Vec::new() };
        }
        let mut by: HashMap<String, (u64, u64)> = HashMap::new();
        for (_, (p, b, n)) in self.paths {
            let e = by.entry(By::Resource.group_text(&p)).or_default();
            (e.0, e.1) = (e.0 + b, e.1 + n);
        }
        if self.other.1 > 0 {
            let e = by.entry(OTHER.into()).or_default();
            (e.0, e.1) = (e.0 + self.other.0, e.1 + self.other.1);
        }
        let mut v: Vec<ResourceSize> = by
            .into_iter()
            .map(|(resource, (stored_bytes, revisions))| {
                let share = if in_use == 0 { 0.0 } else { stored_bytes as f64 / in_use as f64 };
                ResourceSize { resource, stored_bytes, revisions, share }
            })
            .collect();
        v.sort_by(|a, b| b.stored_bytes.cmp(&a.stored_bytes).then_with(|| a.resource.cmp(&b.resource)));
        v.truncate(LISTED);
        Largest { complete: true, largest: v }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_summed_per_resource_across_paths_and_accumulators() {
        let mut a = ResourceTally::default();
        a.add(b"/registry/services/specs/default/k", 100);
        a.add(b"/registry/minions/n1", 10);
        a.add(b"compact_rev_key", 5);
        let mut b = ResourceTally::default();
        b.add(b"/kubernetes.io/minions/n2", 30);
        b.add(b"/registry/services/endpoints/default/k", 7);
        b.add(b"/registry/pods/ns/p", 1);
        a.join(b);
        let got: Vec<(String, u64, u64)> =
            a.largest(1000).largest.into_iter().map(|r| (r.resource, r.stored_bytes, r.revisions)).collect();
        assert_eq!(got, [("services".into(), 100, 1), ("nodes".into(), 40, 2), ("endpoints".into(), 7, 1)]);
    }

    #[test]
    fn too_many_resource_paths_withhold_the_summary() {
        let mut a = ResourceTally::default();
        for i in 0..=MAX_PATHS {
            a.add(format!("/registry/r{i}/x").as_bytes(), 1);
        }
        assert_eq!(a.largest(1), Largest { complete: false, largest: Vec::new() });
    }
}
