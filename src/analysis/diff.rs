//! The live states of two etcd files compared key by key: keys `added` (live in B only),
//! `removed` (live in A only), `changed` (live in both, with a different value, create revision,
//! mod revision, version or lease) and the count of unchanged ones, with a summary per group.
//!
//! Each key's newest record comes from [`keyspace`](crate::etcd::keyspace): the walk that checks
//! a file also gathers its records ([`Side::gathered`]), both files within one [`Budget`]
//! ([`Options::pair_budget`]). When both gatherings fit, their partitions are joined as they are:
//! partition `p` of A and partition `p` of B hold the same keys, so each pair is joined on its
//! own, in parallel. When they do not, the files are walked again in passes, each gathering the
//! keys whose fingerprint falls in it ([`Plan`]), as many as the record count needs within the
//! budget (a pass that still passes it is split in two: [`in_passes`]). The records are read
//! where they lie in the mapped files: keys and values are never copied, except what is reported
//! (the differing keys, sorted by key at the end, and the groups).
//!
//! Each difference also says whether it is a *conflict*: with `o` the file at the lower revision
//! `r_o`, a key whose record in the other cannot follow `o`'s history up to `r_o` (written or
//! created at or below it, a version that does not count the puts: [`super::relation::contradicts`]);
//! at equal revisions every difference is one. A later file that descends from an earlier has none.

use super::diff_groups::{GroupSummary, Outcome, Tally};
use super::grouping::By;
use super::json_diff::{self, FieldDiff};
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::view::DbView;
use crate::etcd::history::Compacted;
use crate::etcd::keyspace::{in_passes, reduce, walk_keys, Budget, Gather, Gathered, KeyFilter, KeyState, Plan};
use crate::etcd::proto::Kv;
use crate::etcd::FpMap;
use crate::k8s::object::DecodeOptions;
use rayon::prelude::*;

/// Default bytes the gathered records of one file may take in one pass.
pub const BUDGET: u64 = 96 << 20;

/// What to compare and how to report it.
#[derive(Clone, Debug)]
pub struct Options {
    /// Only keys starting with these bytes.
    pub prefix: Vec<u8>,
    /// The grouping; `None`: by resource when there are Kubernetes keys, else by `prefix:1`.
    pub by: Option<By>,
    /// Decode both values of a changed key and list the differing fields.
    pub decode: Option<DecodeOptions>,
    /// Bytes the gathered records of one file may take in one pass ([`Budget`]; the two files
    /// share [`Options::pair_budget`]); more passes past it (at least one key per pass).
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

impl From<&Kv<'_>> for Record {
    fn from(kv: &Kv<'_>) -> Record {
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
    pub by: By,
    /// Per group, by name.
    pub groups: Vec<GroupSummary>,
    /// Passes the join took.
    pub passes: u64,
    /// Compared keys of A and of B whose history breaks etcd's rules (`check`'s
    /// `history_inconsistent`: a stale leaf, which reads well page by page).
    pub histories_broken: (u64, u64),
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

/// One side: the view, its `key` bucket, its revision, and what its checking walk gathered.
pub struct Side<'v, 'a> {
    /// The file.
    pub view: &'v DbView<'a>,
    /// Its `key` bucket.
    pub kb: BucketRoot<'a>,
    /// Its current revision.
    pub revision: u64,
    /// The compactions its keys' histories are judged against.
    pub compacted: Compacted,
    /// The records of its compared keys ([`Options::prefix`]) gathered by the walk that checked
    /// the file, within a [`Budget`] shared with the other side ([`Options::with_gather`]).
    pub gathered: Gathered,
}

impl Options {
    /// The budget the gatherings of both files share in a pass: [`Options::budget`] each.
    pub fn pair_budget(&self) -> u64 {
        self.budget.saturating_mul(2)
    }

    /// Runs `f` with the gathering of pass `pass` of `passes` over the compared keys of the file
    /// `data`, within `budget`, each key's history judged against `compacted`. (The plan's
    /// revision is 0: a diff never asks whether a record survives compaction.)
    pub fn with_gather<R>(
        &self,
        data: &[u8],
        compacted: Compacted,
        (pass, passes): (u64, u64),
        budget: &Budget,
        f: impl FnOnce(&Gather<'_>) -> R,
    ) -> R {
        let wants = |k: &[u8]| k.starts_with(&self.prefix);
        let filter: Option<&KeyFilter<'_>> = (!self.prefix.is_empty()).then_some(&wants);
        f(&Gather::new(data, Plan { pass, passes, ..Plan::all(0) }.judging(compacted), budget).filter(filter))
    }
}

/// The fields that differ between two records of one key.
fn differing(a: &Kv<'_>, b: &Kv<'_>) -> Vec<Field> {
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

/// Key + value length: what `etcdctl get` returns for the key.
fn live_bytes(kv: &Kv<'_>) -> u64 {
    kv.key.len() as u64 + kv.value.len() as u64
}

/// Groups in one or, when the grouping is to be chosen, two ways at once.
struct Tallies {
    fixed: Option<By>,
    resource: Tally,
    prefix: Tally,
}

impl Tallies {
    fn each(&mut self, key: &[u8], mut f: impl FnMut(&mut Tally, Vec<u8>)) {
        match self.fixed {
            Some(g) => f(&mut self.resource, g.group(key).into_owned()),
            None => {
                f(&mut self.resource, By::Resource.group(key).into_owned());
                f(&mut self.prefix, By::Prefix(1).group(key).into_owned());
            }
        }
    }

    fn join(&mut self, o: Tallies) {
        self.resource.join(o.resource);
        self.prefix.join(o.prefix);
    }

    fn finish(self) -> (By, Vec<GroupSummary>) {
        match self.fixed {
            Some(g) => (g, self.resource.into_groups()),
            None if self.resource.only_other() => (By::Prefix(1), self.prefix.into_groups()),
            None => (By::Resource, self.resource.into_groups()),
        }
    }
}

/// What a share of the keys gave.
struct Found {
    added: Vec<Change>,
    removed: Vec<Change>,
    changed: Vec<Change>,
    unchanged: u64,
    live: (u64, u64),
    broken: (u64, u64),
    t: Tallies,
}

impl Found {
    fn join(mut self, o: Found) -> Found {
        self.added.extend(o.added);
        self.removed.extend(o.removed);
        self.changed.extend(o.changed);
        self.unchanged += o.unchanged;
        self.live = (self.live.0 + o.live.0, self.live.1 + o.live.1);
        self.broken = (self.broken.0 + o.broken.0, self.broken.1 + o.broken.1);
        self.t.join(o.t);
        self
    }
}

/// The join of two files' keys.
struct Join<'o> {
    data: (&'o [u8], &'o [u8]),
    opt: &'o Options,
    older_rev: u64,
    a_is_older: bool,
    same_rev: bool,
    compacted: (Compacted, Compacted),
}

impl Join<'_> {
    fn empty(&self) -> Found {
        let t = Tallies { fixed: self.opt.by, resource: Tally::default(), prefix: Tally::default() };
        let (added, removed, changed) = (Vec::new(), Vec::new(), Vec::new());
        Found { added, removed, changed, unchanged: 0, live: (0, 0), broken: (0, 0), t }
    }

    /// Whether the record (or absence) on the newer side contradicts the older side.
    fn conflict(&self, in_a: Option<&Kv<'_>>, in_b: Option<&Kv<'_>>) -> bool {
        let (older, newer) = if self.a_is_older { (in_a, in_b) } else { (in_b, in_a) };
        self.same_rev || newer.is_some_and(|n| super::relation::contradicts(older, n, self.older_rev))
    }

    /// The keys of one partition of A and the same partition of B.
    fn part(&self, a: &[KeyState], b: &[KeyState]) -> Found {
        let mut f = self.empty();
        let broken = |s: &[KeyState], c: &Compacted| s.iter().filter(|k| k.history_broken(c)).count() as u64;
        f.broken = (broken(a, &self.compacted.0), broken(b, &self.compacted.1));
        let mut held: FpMap<Kv<'_>> = FpMap::with_capacity_and_hasher(a.len(), Default::default());
        for s in a.iter().filter(|s| s.live()) {
            let Some(kv) = s.newest(self.data.0) else { continue };
            f.t.each(kv.key, |g, name| g.live(name, true, live_bytes(&kv)));
            f.live.0 += 1;
            held.insert(s.fp, kv);
        }
        for s in b.iter().filter(|s| s.live()) {
            let Some(kv) = s.newest(self.data.1) else { continue };
            f.live.1 += 1;
            f.t.each(kv.key, |g, name| g.live(name, false, live_bytes(&kv)));
            let Some(old) = held.remove(&s.fp) else {
                f.t.each(kv.key, |g, name| g.outcome(name, Outcome::Added));
                let c = self.conflict(None, Some(&kv));
                f.added.push(Change {
                    key: kv.key.to_vec(),
                    a: None,
                    b: Some(Record::from(&kv)),
                    fields: Vec::new(),
                    decoded: None,
                    conflict: c,
                });
                continue;
            };
            let fields = differing(&old, &kv);
            if fields.is_empty() {
                f.unchanged += 1;
                f.t.each(kv.key, |g, name| g.outcome(name, Outcome::Unchanged));
                continue;
            }
            f.t.each(kv.key, |g, name| g.outcome(name, Outcome::Changed));
            let decoded = self
                .opt
                .decode
                .filter(|_| fields.contains(&Field::Value))
                .map(|o| json_diff::decoded((old.key, old.value), (kv.key, kv.value), &o));
            f.changed.push(Change {
                key: kv.key.to_vec(),
                a: Some(Record::from(&old)),
                b: Some(Record::from(&kv)),
                fields,
                decoded,
                conflict: self.conflict(Some(&old), Some(&kv)),
            });
        }
        for old in held.into_values() {
            f.t.each(old.key, |g, name| g.outcome(name, Outcome::Removed));
            f.removed.push(Change {
                key: old.key.to_vec(),
                a: Some(Record::from(&old)),
                b: None,
                fields: Vec::new(),
                decoded: None,
                conflict: self.conflict(Some(&old), None),
            });
        }
        f
    }

    /// The keys the two gatherings of one pass hold, partition by partition.
    fn gathered(&self, a: Gathered, b: Gathered) -> Found {
        let (a, b) = (reduce(a), reduce(b));
        a.par_iter().zip(&b).map(|(a, b)| self.part(a, b)).reduce(|| self.empty(), Found::join)
    }
}

/// Compares the live states of `a` and `b`. `fits`: their gatherings stayed within the budget
/// they shared (else they gathered nothing and the files are walked again in passes).
pub fn diff(mut a: Side<'_, '_>, mut b: Side<'_, '_>, opt: &Options, fits: bool) -> KeyDiff {
    let (older_rev, a_is_older) = if a.revision <= b.revision { (a.revision, true) } else { (b.revision, false) };
    let j = Join {
        data: (a.view.data, b.view.data),
        opt,
        older_rev,
        a_is_older,
        same_rev: a.revision == b.revision,
        compacted: (a.compacted, b.compacted),
    };
    let (ga, gb) = (std::mem::take(&mut a.gathered), std::mem::take(&mut b.gathered));
    let (found, passes) = if fits {
        (j.gathered(ga, gb), 1)
    } else {
        let n = ga.info.entries.saturating_add(gb.info.entries);
        drop((ga, gb));
        let mut found = Some(j.empty());
        let walk = |s: &Side<'_, '_>, plan, budget: &Budget| {
            opt.with_gather(s.view.data, s.compacted, plan, budget, |g| walk_keys(s.view, g))
        };
        let passes = in_passes(
            n,
            opt.pair_budget(),
            |pass, passes, budget| {
                rayon::join(|| walk(&a, (pass, passes), budget), || walk(&b, (pass, passes), budget))
            },
            |(ga, gb)| found = found.take().map(|f| f.join(j.gathered(ga, gb))),
        );
        (found.unwrap_or_else(|| j.empty()), passes)
    };
    let Found { mut added, mut removed, mut changed, unchanged, live, broken, t } = found;
    for v in [&mut added, &mut removed, &mut changed] {
        v.sort_unstable_by(|x, y| x.key.cmp(&y.key));
    }
    let (by, groups) = t.finish();
    KeyDiff { added, removed, changed, unchanged, live_keys: live, by, groups, passes, histories_broken: broken }
}
