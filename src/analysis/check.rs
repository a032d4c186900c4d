//! `check`: every problem a file has (structure, meta pages, freelist, trailer, bytes past the
//! high-water mark, etcd's invariants, alarms as warnings), plus the CI gates, from one pass: the
//! inspect walk with etcdutl's hash alongside. The file passes when it has no error and meets
//! every gate; its problems are exactly those `inspect` reports, so the two never disagree.

use super::inspect::{self, Inspect};
use crate::bbolt::view::DbView;
use crate::etcd::status::StatusFold;
use crate::problem::{Problem, ProblemKind};

/// Gates: limits a file must meet to pass, besides having no errors.
#[derive(Clone, Debug, Default)]
pub struct Gates {
    /// Largest free / total allowed (0.0-1.0).
    pub max_fragmentation: Option<f64>,
    /// Largest `hwm * pageSize` allowed.
    pub max_size: Option<u64>,
    /// Largest total / quota allowed (0.0-1.0; the quota from the inspect options).
    pub max_quota_usage: Option<f64>,
    /// Smallest etcd current revision allowed.
    pub min_revision: Option<u64>,
    /// etcdutl's HASH the file must have.
    pub expect_hash: Option<u32>,
    /// Whether a matching sha256 trailer is required.
    pub require_hash: bool,
    /// Whether a raised alarm (NOSPACE, CORRUPT) fails the file.
    pub fail_on_alarm: bool,
    /// Whether deleted Secret values readable in free pages fail the file.
    pub fail_on_residual_secrets: bool,
    /// A k3s server token that must open the snapshot's bootstrap data.
    pub k3s_token: Option<Token>,
    /// Resources whose every live value must be encrypted at rest (empty: no such gate).
    pub require_encryption: Vec<String>,
    /// The key (or KMS plugin) name every encrypted value of those resources must carry.
    pub require_encryption_key: Option<String>,
}

/// A secret token; its `Debug` does not show it.
#[derive(Clone, Default)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Whether `token` opens the k3s bootstrap data of `view`: the gate's actual value and outcome.
fn k3s_gate(view: &DbView<'_>, token: &str) -> (String, bool) {
    use crate::k3s::bootstrap::{check_entries, EntriesCheck};
    let entries = match crate::etcd::live::under_prefix(view, b"/bootstrap/") {
        Ok(e) => e,
        Err(p) => return (format!("the key bucket cannot be read: {p}"), false),
    };
    match check_entries(token, &entries) {
        Ok(EntriesCheck::Opened { key, opened, .. }) => {
            let n = opened.names.map_or(String::new(), |n| format!(", {} files", n.len()));
            (format!("opens {key}{n}"), true)
        }
        Ok(EntriesCheck::NoBootstrapData) => (
            "no bootstrap data under /bootstrap/ (k3s with embedded etcd always stores it: is this a k3s snapshot?)"
                .into(),
            false,
        ),
        Ok(EntriesCheck::OtherToken { keys }) => (
            format!(
                "DOES NOT OPEN: the bootstrap data ({}) is encrypted with another token; a server restored with this \
                 token refuses to start (bootstrap data already found and encrypted with different token)",
                keys.join(", ")
            ),
            false,
        ),
        Ok(EntriesCheck::Failed { key, error, .. }) => (format!("DOES NOT OPEN {key}: {error}"), false),
        Err(e) => (format!("not a usable k3s token: {e}"), false),
    }
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
    /// The limit as a JSON number, for a gate on a figure (a fraction, bytes, a revision, etcd's
    /// HASH as the decimal `etcdutl -w json` writes): `null` for the others.
    #[serde(default)]
    pub limit_value: Option<serde_json::Number>,
    /// What the file has, as a number, for the same gates: `null` when withheld or not etcd's.
    #[serde(default)]
    pub actual_value: Option<serde_json::Number>,
}

impl GateResult {
    /// A gate's outcome in words alone (a gate on no figure).
    pub fn words(gate: &str, limit: String, actual: String, ok: bool) -> GateResult {
        GateResult { gate: gate.into(), limit, actual, ok, limit_value: None, actual_value: None }
    }
}

/// A figure as a JSON number (a fraction that is not finite has none).
fn num<T: Into<Figure>>(v: T) -> Option<serde_json::Number> {
    match v.into() {
        Figure::Count(n) => Some(n.into()),
        Figure::Fraction(f) => serde_json::Number::from_f64(f),
    }
}

/// A gate's figure: a count (bytes, a revision, a hash) or a fraction.
enum Figure {
    Count(u64),
    Fraction(f64),
}

impl From<u64> for Figure {
    fn from(n: u64) -> Self {
        Figure::Count(n)
    }
}

impl From<u32> for Figure {
    fn from(n: u32) -> Self {
        Figure::Count(n.into())
    }
}

impl From<f64> for Figure {
    fn from(f: f64) -> Self {
        Figure::Fraction(f)
    }
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
    /// `--expect-hash` (it is a pass over every byte), withheld for a tree not read whole.
    pub hash: Option<String>,
    /// etcdutl's REVISION: the main revision of the last `key` entry, the figure `status`
    /// prints (None for a generic bbolt file, or withheld).
    pub revision: Option<u64>,
    /// The revision a server started on the file would use (at least 1, and at least the
    /// compaction's): what `--min-revision` compares.
    pub current_revision: Option<u64>,
    /// Errors and warnings, errors first (at most `MAX_PROBLEMS` kept).
    pub problems: Vec<Problem>,
    /// All errors, including those not kept.
    pub errors: u64,
    /// Warnings.
    pub warnings: u64,
    /// Errors and warnings, all of them (the name every command's JSON gives the count).
    pub problem_total: u64,
    /// Gates, in the order given.
    pub gates: Vec<GateResult>,
    /// With `--require-encryption`: what the audit found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption: Option<super::encryption::Audit>,
    /// The full inspect report (sizes, trailer, buckets...).
    #[serde(skip)]
    pub inspect: Inspect,
}

/// Gate outcomes being collected.
struct GateList(Vec<GateResult>);

impl GateList {
    fn add(&mut self, gate: &str, limit: String, actual: String, ok: bool) {
        self.0.push(GateResult::words(gate, limit, actual, ok));
    }

    /// A gate on a figure that may be withheld (a withheld figure fails it): `limit` and the
    /// figure `v` in words and, where `value` gives one, as numbers.
    fn figure<T, N: Into<Figure>>(
        &mut self,
        (gate, limit, limit_value): (&str, String, Option<N>),
        v: Option<T>,
        show: impl Fn(&T) -> String,
        (value, ok): (impl Fn(&T) -> Option<N>, impl Fn(&T) -> bool),
    ) {
        let limit_value = limit_value.and_then(num);
        let r = match v {
            Some(v) => {
                GateResult { actual_value: value(&v).and_then(num), ..GateResult::words(gate, limit, show(&v), ok(&v)) }
            }
            None => GateResult::words(gate, limit, "withheld (the tree could not be read whole)".into(), false),
        };
        self.0.push(GateResult { limit_value, ..r });
    }

    /// A gate on no figure whose answer is withheld (the tree could not be read whole): failed.
    fn withheld(&mut self, gate: &str, limit: String) {
        self.figure::<(), u64>((gate, limit, None), None, |_| String::new(), (|_| None, |_| false));
    }
}

/// Checks a file: problems of every kind and the gates.
pub fn check(view: &DbView<'_>, opt: &inspect::Options, gates: &Gates) -> CheckReport {
    let opt = inspect::Options { verify_trailer: true, ..*opt };
    let (r, hash) = if gates.expect_hash.is_some() {
        let (r, h) = inspect::inspect_with(view, &opt, &StatusFold);
        let hash = r.complete.then(|| format!("{:x}", h.crc()));
        (r, hash)
    } else {
        (inspect::inspect(view, &opt), None)
    };
    let mut problems = r.problems.clone();
    let mut errors = r.errors();
    if gates.require_hash && !r.trailer.present {
        let msg =
            format!("no sha256 trailer: the database is {} bytes, not 32 past a multiple of 512", view.data.len());
        problems.insert(0, Problem::new(ProblemKind::TrailerMissing, msg));
        errors += 1;
    }
    let revision = r.etcd.as_ref().map(|e| e.last_revision);
    let current_revision = r.etcd.as_ref().map(|e| e.current_revision);
    let mut g = GateList(Vec::new());
    if let Some(max) = gates.max_fragmentation {
        let limit = ("--max-fragmentation", format!("{max}"), Some(max));
        g.figure(limit, r.size.fragmentation, |f| format!("{f:.4}"), (|f: &f64| Some(*f), |f| *f <= max));
    }
    if let Some(max) = gates.max_size {
        let limit = ("--max-size", max.to_string(), Some(max));
        g.figure(limit, Some(r.size.total), u64::to_string, (|t: &u64| Some(*t), |t| *t <= max));
    }
    if let Some(max) = gates.max_quota_usage {
        let limit = ("--max-quota-usage", format!("{max} of {}", r.quota.bytes), Some(max));
        g.figure(limit, Some(r.quota.usage), |u| format!("{u:.4}"), (|u: &f64| Some(*u), |u| *u <= max));
    }
    if let Some(min) = gates.min_revision {
        let v = if r.complete { Some(current_revision) } else { None };
        let show = |rev: &Option<u64>| rev.map_or("none (not an etcd file)".into(), |r| r.to_string());
        let limit = ("--min-revision", min.to_string(), Some(min));
        g.figure(limit, v, show, (|rev: &Option<u64>| *rev, |rev| rev.is_some_and(|x| x >= min)));
    }
    if let Some(want) = gates.expect_hash {
        let limit = ("--expect-hash", format!("{want:x}"), Some(want));
        let value = |h: &String| u32::from_str_radix(h, 16).ok();
        g.figure(limit, hash.clone(), String::clone, (value, |h| *h == format!("{want:x}")));
    }
    if gates.require_hash {
        let actual = match r.trailer.sha256_ok {
            Some(true) => "present, matches",
            Some(false) => "present, DOES NOT MATCH",
            None => "absent",
        };
        g.add("--require-hash", "present and matching".into(), actual.into(), r.trailer.sha256_ok == Some(true));
    }
    if gates.fail_on_alarm {
        let raised: Vec<&str> =
            r.problems.iter().filter(|p| p.kind == ProblemKind::AlarmRaised).map(|p| p.message.as_str()).collect();
        let alarms = raised.iter().map(|m| m.split(' ').next().unwrap_or_default()).collect::<Vec<_>>();
        let limit = "no alarm raised".to_string();
        // A raised alarm fails the gate whatever else; "none" is known only of a tree read whole.
        if !raised.is_empty() || r.complete {
            let actual = if alarms.is_empty() { "none".to_string() } else { alarms.join(", ") };
            g.add("--fail-on-alarm", limit, actual, raised.is_empty());
        } else {
            g.withheld("--fail-on-alarm", limit);
        }
    }
    if gates.fail_on_residual_secrets {
        let limit = "no deleted Secret value in free pages".to_string();
        match (&r.residue, r.complete, r.etcd.is_some() || r.mvcc.is_some()) {
            (Some(res), _, _) => {
                let actual = match res.secrets {
                    0 => "none".to_string(),
                    n => format!("{n} readable"),
                };
                // The count as a number too, against none allowed.
                let words = GateResult::words("--fail-on-residual-secrets", limit, actual, res.secrets == 0);
                g.0.push(GateResult { limit_value: num(0u64), actual_value: num(res.secrets), ..words });
            }
            (None, true, false) => g.add("--fail-on-residual-secrets", limit, "none (not an etcd file)".into(), true),
            (None, _, _) => g.withheld("--fail-on-residual-secrets", limit),
        }
    }
    if let Some(Token(token)) = &gates.k3s_token {
        let (actual, ok) = k3s_gate(view, token);
        g.add("--k3s-token", "opens the k3s bootstrap data".into(), actual, ok);
    }
    let encryption = super::encryption::add_gates(view, gates, r.complete, &mut g.0);
    let gates = g.0;
    let ok = errors == 0 && gates.iter().all(|x| x.ok);
    CheckReport {
        ok,
        meta_used: view.meta_index,
        other_meta_valid: view.metas.pages[1 - view.meta_index].as_ref().is_some_and(|m| m.is_valid()),
        hash,
        revision,
        current_revision,
        problems,
        errors,
        warnings: r.warnings,
        problem_total: errors.saturating_add(r.warnings),
        gates,
        encryption,
        inspect: r,
    }
}
