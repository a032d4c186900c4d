//! The live states of two etcd files compared key by key: keys `added` (live in B only),
//! `removed` (live in A only), `changed` (live in both, with a different value, create revision,
//! mod revision, version or lease) and the count of unchanged ones, with a summary per group.
//!
//! Memory is bounded whatever the file sizes: each file's live records are found with the
//! compaction keep set's partitioned passes ([`Live`], one bit per entry), then the keys are
//! joined in passes by fingerprint ([`Pass`]): a pass holds A's live records of its keys (borrowed
//! from the mapped file, about [`ENTRY_COST`] bytes each) while B's are matched against them, so
//! a pass stays under the budget. What grows with the files is only what is reported: the
//! differing keys (owned, sorted by key at the end) and the groups.
//!
//! Each difference also says whether it is a *conflict*: with `o` the file at the lower revision
//! `r_o` and `n` the other, a key whose newest put in `n` is at or below `r_o` (changed, or live
//! in `n` only) contradicts `o`, which holds the whole history up to `r_o`; at equal revisions
//! every difference is one. A later file that descends from an earlier one has no conflicts.

use super::diff_groups::{GroupSummary, Grouping, Outcome, Tally};
use super::json_diff::{self, FieldDiff};
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::view::DbView;
use crate::etcd::live_passes::{Live, LiveKv, Pass};
use crate::etcd::FpMap;
use crate::k8s::object::{self, DecodeOptions};
use crate::problem::Problem;

/// Bytes a pass holds per key of A: the borrowed record (80 bytes) in a hash map (fingerprint key,
/// control byte, load factor 7/8).
pub const ENTRY_COST: u64 = 112;
/// Default bytes per pass.
pub const BUDGET: u64 = 96 << 20;

/// What to compare and how to report it.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only keys starting with these bytes.
    pub prefix: Vec<u8>,
    /// The grouping; `None`: by resource when there are Kubernetes keys, else by `prefix:1`.
    pub by: Option<Grouping>,
    /// Decode both values of a changed key and list the differing fields.
    pub decode: Option<DecodeOptions>,
    /// Bytes per pass (at least one key per pass).
    pub budget: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options { prefix: Vec::new(), by: None, decode: None, budget: BUDGET }
    }
}

/// A key's record on one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Create revision.
    pub create_revision: u64,
    /// Mod revision.
    pub mod_revision: u64,
    /// Version.
    pub version: u64,
    /// Lease id (0: none).
    pub lease: u64,
    /// Value length.
    pub value_size: u64,
}

impl From<&LiveKv<'_>> for Record {
    fn from(kv: &LiveKv<'_>) -> Record {
        Record {
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
            value_size: kv.value.len() as u64,
        }
    }
}

/// A field that differs between the two records of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The value bytes.
    Value,
    /// Create revision.
    CreateRevision,
    /// Mod revision.
    ModRevision,
    /// Version.
    Version,
    /// Lease.
    Lease,
}

/// One key that differs.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The key.
    pub key: Vec<u8>,
    /// Its record in A (None: added).
    pub a: Option<Record>,
    /// Its record in B (None: removed).
    pub b: Option<Record>,
    /// What differs, for a changed key (value, create revision, mod revision, version, lease).
    pub fields: Vec<Field>,
    /// The decoded values' differing fields (changed values, with [`Options::decode`]).
    pub decoded: Option<FieldDiff>,
    /// Whether the difference contradicts the file at the lower revision (see the module docs).
    pub conflict: bool,
}

/// The comparison.
#[derive(Clone, Debug)]
pub struct KeyDiff {
    /// Live in B only, by key.
    pub added: Vec<Change>,
    /// Live in A only, by key.
    pub removed: Vec<Change>,
    /// Live in both and different, by key.
    pub changed: Vec<Change>,
    /// Live in both and equal.
    pub unchanged: u64,
    /// Live keys compared in A and in B.
    pub live_keys: (u64, u64),
    /// The grouping used.
    pub by: Grouping,
    /// Per group, by name.
    pub groups: Vec<GroupSummary>,
    /// Passes the join took.
    pub passes: u64,
}

impl KeyDiff {
    /// Whether the live states are equal.
    pub fn equal(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    /// Differences that are conflicts.
    pub fn conflicts(&self) -> impl Iterator<Item = &Change> {
        self.added.iter().chain(&self.removed).chain(&self.changed).filter(|c| c.conflict)
    }
}

/// One side: the view, its `key` bucket, its live records, its revision.
pub struct Side<'v, 'a> {
    /// The file.
    pub view: &'v DbView<'a>,
    /// Its `key` bucket.
    pub kb: BucketRoot<'a>,
    /// Its live records.
    pub live: Live,
    /// Its current revision.
    pub revision: u64,
}

impl<'v, 'a> Side<'v, 'a> {
    /// Finds the live records of `kb`.
    pub fn new(view: &'v DbView<'a>, kb: BucketRoot<'a>, revision: u64, budget: u64) -> Result<Self, Problem> {
        Ok(Side { view, kb, live: Live::find(view, kb, budget)?, revision })
    }
}

/// The fields that differ between two records of one key.
fn differing(a: &LiveKv<'_>, b: &LiveKv<'_>) -> Vec<Field> {
    let mut f = Vec::new();
    let pairs = [
        (a.value != b.value, Field::Value),
        (a.create_revision != b.create_revision, Field::CreateRevision),
        (a.mod_revision != b.mod_revision, Field::ModRevision),
        (a.version != b.version, Field::Version),
        (a.lease != b.lease, Field::Lease),
    ];
    for (differs, field) in pairs {
        if differs {
            f.push(field);
        }
    }
    f
}

/// Groups in one or, when the grouping is to be chosen, two ways at once.
struct Tallies {
    fixed: Option<Grouping>,
    resource: Tally,
    prefix: Tally,
}

impl Tallies {
    fn each(&mut self, key: &[u8], mut f: impl FnMut(&mut Tally, String)) {
        match self.fixed {
            Some(g) => f(&mut self.resource, g.of(key)),
            None => {
                f(&mut self.resource, Grouping::Resource.of(key));
                f(&mut self.prefix, Grouping::Prefix(1).of(key));
            }
        }
    }

    fn finish(self) -> (Grouping, Vec<GroupSummary>) {
        match self.fixed {
            Some(g) => (g, self.resource.into_groups()),
            None if self.resource.only_other() => (Grouping::Prefix(1), self.prefix.into_groups()),
            None => (Grouping::Resource, self.resource.into_groups()),
        }
    }
}

/// Compares the live states of `a` and `b`.
pub fn diff(a: &Side<'_, '_>, b: &Side<'_, '_>, opt: &Options) -> Result<KeyDiff, Problem> {
    let passes = Pass::count(a.live.marked(), ENTRY_COST, opt.budget);
    let (older_rev, a_is_older) = if a.revision <= b.revision { (a.revision, true) } else { (b.revision, false) };
    let same_rev = a.revision == b.revision;
    // Whether the record (or absence) on the newer side contradicts the older side.
    let conflict = |in_a: Option<&LiveKv<'_>>, in_b: Option<&LiveKv<'_>>| {
        let newer = if a_is_older { in_b } else { in_a };
        same_rev || newer.is_some_and(|n| n.mod_revision <= older_rev)
    };
    let mut t = Tallies { fixed: opt.by, resource: Tally::default(), prefix: Tally::default() };
    let (mut added, mut removed, mut changed, mut unchanged, mut live) =
        (Vec::new(), Vec::new(), Vec::new(), 0, (0, 0));
    for index in 0..passes {
        let pass = Pass { index, of: passes };
        let mut held: FpMap<LiveKv<'_>> = FpMap::default();
        a.live.for_each(a.view, a.kb, pass, &mut |kv| {
            if kv.key.starts_with(&opt.prefix) {
                t.each(kv.key, |g, name| g.live(name, true, kv.live_bytes()));
                live.0 += 1;
                held.insert(kv.fp, kv);
            }
        })?;
        b.live.for_each(b.view, b.kb, pass, &mut |kv| {
            if !kv.key.starts_with(&opt.prefix) {
                return;
            }
            live.1 += 1;
            t.each(kv.key, |g, name| g.live(name, false, kv.live_bytes()));
            let Some(old) = held.remove(&kv.fp) else {
                t.each(kv.key, |g, name| g.outcome(name, Outcome::Added));
                let c = conflict(None, Some(&kv));
                added.push(Change {
                    key: kv.key.to_vec(),
                    a: None,
                    b: Some(Record::from(&kv)),
                    fields: Vec::new(),
                    decoded: None,
                    conflict: c,
                });
                return;
            };
            let fields = differing(&old, &kv);
            if fields.is_empty() {
                unchanged += 1;
                t.each(kv.key, |g, name| g.outcome(name, Outcome::Unchanged));
                return;
            }
            t.each(kv.key, |g, name| g.outcome(name, Outcome::Changed));
            let decoded = opt.decode.filter(|_| fields.contains(&Field::Value)).map(|o| {
                json_diff::diff(&object::decode(old.key, old.value, &o), &object::decode(kv.key, kv.value, &o))
            });
            changed.push(Change {
                key: kv.key.to_vec(),
                a: Some(Record::from(&old)),
                b: Some(Record::from(&kv)),
                fields,
                decoded,
                conflict: conflict(Some(&old), Some(&kv)),
            });
        })?;
        for old in held.into_values() {
            t.each(old.key, |g, name| g.outcome(name, Outcome::Removed));
            removed.push(Change {
                key: old.key.to_vec(),
                a: Some(Record::from(&old)),
                b: None,
                fields: Vec::new(),
                decoded: None,
                conflict: conflict(Some(&old), None),
            });
        }
    }
    for v in [&mut added, &mut removed, &mut changed] {
        v.sort_unstable_by(|x, y| x.key.cmp(&y.key));
    }
    let (by, groups) = t.finish();
    Ok(KeyDiff { added, removed, changed, unchanged, live_keys: live, by, groups, passes })
}
