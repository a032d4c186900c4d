//! One backup measured for `trend`: database size, in-use size, revision, and the live keys and
//! bytes, per Kubernetes resource too. The whole tree is walked first (structure and etcd's
//! record invariants); a file with problems gets them, never figures.
//!
//! - `size`: the high-water mark times the page size (etcd's DB SIZE, `etcdutl snapshot status`'s
//!   TOTAL SIZE);
//! - `in_use`: `size` minus the free pages (etcd's `SizeInUse`: size − FreePageN × page size, as
//!   a freshly opened file counts them);
//! - `live_keys`, `live_bytes`: keys whose newest record is a put, and their key + value bytes
//!   (what `etcdctl get` returns), read in bounded memory ([`crate::etcd::live_passes`]);
//! - `resources`: live keys and bytes by Kubernetes resource (`(other)` outside the prefixes).

use super::diff_groups::Grouping;
use crate::bbolt::cursor;
use crate::bbolt::structure::walk;
use crate::bbolt::view::DbView;
use crate::etcd::live_passes::{Live, Pass};
use crate::etcd::records::RecordCheck;
use crate::etcd::{revision, schema, KEY_BUCKET};
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

/// Measures one file (see the module docs); a file with any problem but a warning is withheld.
pub fn measure(view: &DbView<'_>, budget: u64) -> Result<Measure, Withheld> {
    let (found, s) = walk(view, &RecordCheck::for_view(view));
    let mut problems = s.problems;
    problems.extend(found.problems);
    problems.truncate(MAX_PROBLEMS);
    let total = s.problem_total + found.total;
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
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET).map_err(one)? else { return Ok(m) };
    let last = cursor::last(view, kb).map_err(one)?.and_then(|e| revision::main_of(e.key));
    m.revision = Some(schema::read(view, last.unwrap_or(0)).current_revision);
    let live = Live::find(view, kb, budget).map_err(one)?;
    let (mut keys, mut bytes) = (0u64, 0u64);
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    live.for_each(view, kb, Pass::ALL, &mut |kv| {
        keys += 1;
        bytes += kv.live_bytes();
        let r = by.entry(Grouping::Resource.of(kv.key)).or_default();
        r.0 += 1;
        r.1 += kv.live_bytes();
    })
    .map_err(one)?;
    m.live_keys = Some(keys);
    m.live_bytes = Some(bytes);
    m.resources = by
        .into_iter()
        .map(|(resource, (live_keys, live_bytes))| ResourceBytes { resource, live_keys, live_bytes })
        .collect();
    Ok(m)
}
