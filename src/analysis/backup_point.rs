//! One backup measured for `trend`: database size, in-use size, revision, and the live keys and
//! bytes, per Kubernetes resource too. The whole tree is walked first (structure and etcd's
//! record invariants); a file with problems gets them, never figures.
//!
//! - `size`: the high-water mark times the page size (etcd's DB SIZE, `etcdutl snapshot status`'s
//!   TOTAL SIZE);
//! - `in_use`: `size` minus the free pages (etcd's `SizeInUse`: size − FreePageN × page size, as
//!   a freshly opened file counts them);
//! - `live_keys`, `live_bytes`: keys whose newest record is a put, and their key + value bytes
//!   (what `etcdctl get` returns), each key's newest record gathered by the walk that checks the
//!   file and folded in bounded memory ([`crate::etcd::keyspace`]);
//! - `resources`: live keys and bytes by Kubernetes resource (`(other)` outside the prefixes).

use super::grouping::By;
use crate::bbolt::fold::Pair;
use crate::bbolt::structure::walk;
use crate::bbolt::view::DbView;
use crate::etcd::keyspace::{self, Budget, Gather, KeyFold, KeyState, Plan};
use crate::etcd::records::RecordCheck;
use crate::etcd::schema;
use crate::problem::{Problem, MAX_PROBLEMS};
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
}

/// Problems that withhold a file's figures: at most [`MAX_PROBLEMS`] of them, and their total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    /// The problems kept.
    pub problems: Vec<Problem>,
    /// All problems.
    pub total: u64,
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
    let ((found, gathered), s) = walk(view, &Pair(&RecordCheck::for_view(view), &gather));
    let mut problems = s.problems;
    problems.extend(found.problems);
    // A snapshot whose trailer was cut: nothing vouches for its bytes, as `check` says.
    let cut = crate::etcd::trailer::tail_problem(view);
    let total = s.problem_total + found.total + u64::from(cut.is_some());
    problems.extend(cut);
    problems.truncate(MAX_PROBLEMS);
    if total > problems.len() as u64 || problems.iter().any(|p| !p.kind.is_warning()) {
        return Err(Withheld { problems, total });
    }
    let size = view.total_size();
    let in_use = size.saturating_sub(s.free_pages.saturating_mul(view.page_size));
    let mut m = Measure {
        size,
        in_use: Some(in_use),
        revision: None,
        live_keys: None,
        live_bytes: None,
        resources: Vec::new(),
    };
    if !schema::is_etcd(view) {
        return Ok(m);
    }
    let one = |p: Problem| Withheld { problems: vec![p], total: 1 };
    let last = schema::newest_revision(view).map_err(one)?;
    m.revision = Some(schema::read(view, last.unwrap_or(0)).current_revision);
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
