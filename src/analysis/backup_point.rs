//! One backup measured for `trend`: database size, in-use size, revision, and the live keys and
//! bytes, per Kubernetes resource too. The file is read by `check`'s own pass
//! ([`super::inspect`]: structure, etcd's record invariants, the sha256 trailer on the other core,
//! bytes past the high-water mark, alarms, leases, residue), with the live keys gathered in the
//! same walk; a file with any problem but a warning gets its problems, never figures, so `trend`
//! never counts a file `check` fails.
//!
//! - `size`: the high-water mark times the page size (etcd's DB SIZE, `etcdutl snapshot status`'s
//!   TOTAL SIZE);
//! - `in_use`: `size` minus the free pages (etcd's `SizeInUse`: size − FreePageN × page size, as
//!   a freshly opened file counts them);
//! - `live_keys`, `live_bytes`: keys whose newest record is a put, and their key + value bytes
//!   (what `etcdctl get` returns), each key's newest record gathered by the walk that checks the
//!   file and folded in bounded memory ([`crate::etcd::keyspace`]);
//! - `resources`: live keys and bytes by Kubernetes resource (`(other)` outside the prefixes);
//! - `warnings`: the warnings `check` gives the file (alarms, leases, residue), so the verdict
//!   recorded for it is `check`'s.

use super::grouping::By;
use super::inspect::{self, Options};
use crate::bbolt::view::DbView;
use crate::etcd::keyspace::{self, Budget, Gather, KeyFold, KeyState, Plan};
use crate::problem::Problem;
use std::collections::BTreeMap;

/// Live figures of one resource.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceBytes {
    /// The resource (or `(other)`).
    pub resource: String,
    /// Live keys.
    pub live_keys: u64,
    /// Their key + value bytes.
    pub live_bytes: u64,
}

/// The figures of one backup.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Measure {
    /// Database size (high-water mark × page size).
    pub size: u64,
    /// Size minus free pages (None when not known: a figure remembered without it).
    pub in_use: Option<u64>,
    /// etcd's current revision (None: not an etcd file).
    pub revision: Option<u64>,
    /// Live keys (None: not an etcd file).
    pub live_keys: Option<u64>,
    /// Their key + value bytes.
    pub live_bytes: Option<u64>,
    /// By resource, by name.
    pub resources: Vec<ResourceBytes>,
    /// The warnings `check` gives the file (0 for a figure remembered without them).
    #[serde(default)]
    pub warnings: u64,
}

/// Problems that withhold a file's figures: at most [`crate::problem::MAX_PROBLEMS`] of them,
/// and their counts, as `check` counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    /// The problems kept, errors first.
    pub problems: Vec<Problem>,
    /// All problems.
    pub total: u64,
    /// Errors among them (problems that are not warnings).
    pub errors: u64,
    /// Warnings among them.
    pub warnings: u64,
}

/// Live keys and bytes, in all and by resource name.
#[derive(Default)]
struct Live {
    keys: u64,
    bytes: u64,
    by: BTreeMap<String, (u64, u64)>,
}

/// The live keys of a file, summed.
struct LiveFold<'a> {
    data: &'a [u8],
}

impl KeyFold for LiveFold<'_> {
    type Acc = Live;

    fn empty(&self) -> Live {
        Live::default()
    }

    fn key(&self, acc: &mut Live, k: &KeyState) {
        let Some(kv) = k.newest(self.data).filter(|_| k.live()) else { return };
        let bytes = kv.key.len() as u64 + kv.value.len() as u64;
        acc.keys += 1;
        acc.bytes += bytes;
        let r = acc.by.entry(By::Resource.group_text(kv.key)).or_default();
        r.0 += 1;
        r.1 += bytes;
    }

    fn join(&self, mut l: Live, r: Live) -> Live {
        l.keys += r.keys;
        l.bytes += r.bytes;
        for (name, (k, b)) in r.by {
            let e = l.by.entry(name).or_default();
            (e.0, e.1) = (e.0 + k, e.1 + b);
        }
        l
    }
}

/// Measures one file (see the module docs); a file with any problem but a warning is withheld.
/// `budget`: the bytes the per-key gathering may take ([`Budget`]).
pub fn measure(view: &DbView<'_>, budget: u64) -> Result<Measure, Withheld> {
    let budget = Budget::new(budget);
    // The plan's revision is 0: the measure never asks whether a record survives compaction.
    let gather = Gather::new(view.data, Plan::all(0), &budget);
    // `check`'s pass (without gates), trailer included: its problems are the file's.
    let (report, gathered) = inspect::inspect_with(view, &Options::default(), &gather);
    let errors = report.errors();
    if errors > 0 || !report.complete {
        let (problems, total, warnings) = (report.problems, report.problem_total, report.warnings);
        return Err(Withheld { problems, total, errors, warnings });
    }
    let mut m = Measure {
        size: report.size.total,
        in_use: report.size.in_use,
        revision: None,
        live_keys: None,
        live_bytes: None,
        resources: Vec::new(),
        warnings: report.warnings,
    };
    let Some(etcd) = &report.etcd else { return Ok(m) };
    m.revision = Some(etcd.current_revision);
    let live = keyspace::fold_gathered(view, &gather, gathered, &LiveFold { data: view.data });
    m.live_keys = Some(live.keys);
    m.live_bytes = Some(live.bytes);
    m.resources = live
        .by
        .into_iter()
        .map(|(resource, (live_keys, live_bytes))| ResourceBytes { resource, live_keys, live_bytes })
        .collect();
    Ok(m)
}
