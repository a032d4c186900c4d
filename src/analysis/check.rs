//! `check`: every problem a file has (structure, meta pages, freelist, trailer, etcd's
//! invariants), plus the CI gates, from one pass: the inspect walk with etcdutl's hash alongside.

use super::inspect::{self, Inspect};
use crate::bbolt::meta::MIN_FILE_LEN;
use crate::bbolt::view::DbView;
use crate::etcd::status::StatusFold;
use crate::problem::{Problem, ProblemKind};

/// Gates: limits a file must meet to pass, besides having no problems.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    /// Largest free / total allowed.
    pub max_fragmentation: Option<f64>,
    /// Largest `hwm * pageSize` allowed.
    pub max_size: Option<u64>,
    /// Largest total / quota allowed (quota from the inspect options).
    pub max_quota_usage: Option<f64>,
    /// Smallest etcd current revision allowed.
    pub min_revision: Option<u64>,
    /// etcdutl's HASH the file must have.
    pub expect_hash: Option<u32>,
    /// Whether the sha256 trailer must be present.
    pub require_trailer: bool,
}

/// One gate's outcome.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GateResult {
    /// The gate, as its command-line flag.
    pub gate: String,
    /// The limit.
    pub limit: String,
    /// What the file has.
    pub actual: String,
    /// Whether it passed.
    pub ok: bool,
}

/// The outcome of `check` on one file.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckReport {
    /// Whether the file passed: no problems other than warnings, and every gate met.
    pub ok: bool,
    /// Meta page the tree was read from.
    pub meta_used: usize,
    /// Whether the other meta page is valid (could the previous transaction be used instead?).
    pub other_meta_valid: bool,
    /// etcdutl's HASH (CRC-32C over every bucket name, key and value), hex; computed only for
    /// `--expect-hash` (it is a pass over every byte).
    pub hash: Option<String>,
    /// etcd's current revision (None for a generic bbolt file).
    pub revision: Option<u64>,
    /// Errors and warnings (at most `MAX_PROBLEMS` kept).
    pub problems: Vec<Problem>,
    /// All errors, including those not kept.
    pub errors: u64,
    /// Warnings kept.
    pub warnings: u64,
    /// Gates, in the order given.
    pub gates: Vec<GateResult>,
    /// The full inspect report (sizes, trailer, buckets...).
    #[serde(skip)]
    pub inspect: Inspect,
}

/// Checks a file: problems of every kind and the gates.
pub fn check(view: &DbView<'_>, opt: &inspect::Options, gates: &Gates) -> CheckReport {
    let opt = inspect::Options { verify_trailer: true, ..*opt };
    let (r, hash) = if gates.expect_hash.is_some() {
        let (r, h) = inspect::inspect_with(view, &opt, &StatusFold);
        (r, Some(format!("{:x}", h.crc())))
    } else {
        (inspect::inspect(view, &opt), None)
    };
    let mut problems = r.problems.clone();
    let mut total = r.problem_total;
    if let Some(t) = r.trailer.check.as_ref().filter(|t| !t.ok()) {
        let msg = format!("sha256 trailer is {}, the file hashes to {}", t.stored, t.computed);
        problems.push(Problem::new(ProblemKind::TrailerMismatch, msg).offset(view.body_len() as u64));
        total += 1;
    }
    if (view.body_len() as u64) < MIN_FILE_LEN {
        let (n, min) = (view.body_len(), MIN_FILE_LEN);
        let msg = format!("the database is {n} bytes: bbolt's Open reads the first {min} to find the page size and refuses a shorter file");
        problems.push(Problem::new(ProblemKind::TooShortForBbolt, msg).offset(n as u64));
        total += 1;
    }
    if gates.require_trailer && !r.trailer.present {
        let msg = format!("no sha256 trailer: the file is {} bytes, not 32 past a multiple of 512", view.data.len());
        problems.push(Problem::new(ProblemKind::TrailerMissing, msg));
        total += 1;
    }
    let warnings = problems.iter().filter(|p| p.kind.is_warning()).count() as u64;
    let errors = total - warnings;
    let revision = r.etcd.as_ref().map(|e| e.current_revision);
    let mut g = Vec::new();
    let mut gate = |gate: &str, limit: String, actual: String, ok: bool| {
        g.push(GateResult { gate: gate.into(), limit, actual, ok });
    };
    let f = r.size.fragmentation;
    if let Some(max) = gates.max_fragmentation {
        gate("--max-fragmentation", format!("{max}"), format!("{f:.4}"), f <= max);
    }
    if let Some(max) = gates.max_size {
        gate("--max-size", max.to_string(), r.size.total.to_string(), r.size.total <= max);
    }
    if let Some(max) = gates.max_quota_usage {
        let u = r.quota.usage;
        gate("--max-quota-usage", format!("{max} of {}", r.quota.bytes), format!("{u:.4}"), u <= max);
    }
    if let Some(min) = gates.min_revision {
        let ok = revision.is_some_and(|rev| rev >= min);
        gate(
            "--min-revision",
            min.to_string(),
            revision.map_or("none (not an etcd file)".into(), |r| r.to_string()),
            ok,
        );
    }
    if let Some(want) = gates.expect_hash {
        let got = hash.clone().unwrap_or_default();
        gate("--expect-hash", format!("{want:x}"), got.clone(), format!("{want:x}") == got);
    }
    if gates.require_trailer {
        let actual = match r.trailer.sha256_ok {
            Some(true) => "present, matches",
            Some(false) => "present, DOES NOT MATCH",
            None => "absent",
        };
        gate("--require-trailer", "present and matching".into(), actual.into(), r.trailer.sha256_ok == Some(true));
    }
    let ok = errors == 0 && g.iter().all(|x| x.ok);
    problems.sort_by_key(|p| (p.kind.is_warning(), p.page.unwrap_or(u64::MAX), p.offset.unwrap_or(u64::MAX)));
    CheckReport {
        ok,
        meta_used: view.meta_index,
        other_meta_valid: view.metas.pages[1 - view.meta_index].as_ref().is_some_and(|m| m.is_valid()),
        hash,
        revision,
        problems,
        errors,
        warnings,
        gates: g,
        inspect: r,
    }
}
