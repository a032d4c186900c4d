//! `check`: every problem a file has and the CI gates, printed as verdicts for people or JSON.

use crate::cli::{parse_fraction, parse_hex32, parse_size, TableJson};
use crate::exit::Verdict;
use crate::index::Ix;
use crate::report::{error_json, settle, Found};
use boltscope::analysis::check::{self, CheckReport, Gates};
use boltscope::analysis::inspect;
use boltscope::error::Error;
use boltscope::{input, DbView};
use clap::Parser;
use rayon::prelude::*;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Arguments of `check`.
#[derive(Parser, Debug)]
pub struct CheckArgs {
    /// Output: `table` for people, `json` (one object per file per line).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = TableJson::Table)]
    pub write_out: TableJson,
    /// Read the tree of this meta page (0 or 1) instead of the active one.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub meta: Option<u8>,
    /// Fail unless the file has a sha256 trailer that matches it (as `etcdctl snapshot save`
    /// writes, and `etcdutl snapshot restore` requires).
    #[arg(long, alias = "require-trailer")]
    pub require_hash: bool,
    /// Fail when an alarm (NOSPACE, CORRUPT) is raised in the file: a cluster restored from it
    /// would refuse writes until `etcdctl alarm disarm`.
    #[arg(long)]
    pub fail_on_alarm: bool,
    /// Fail when values of deleted Secrets are still readable in free pages (for pipelines that
    /// ship backups where the cluster's access rules do not reach): `boltscope compact` writes a
    /// copy without free pages.
    #[arg(long)]
    pub fail_on_residual_secrets: bool,
    /// Fail unless this k3s/RKE2 server token (a file holding it, as
    /// /var/lib/rancher/k3s/server/token does, or `-` for standard input) opens the snapshot's
    /// bootstrap data (the cluster CA keys k3s keeps encrypted under /bootstrap/): a server
    /// restored with a token that does not refuses to start. Only file names are shown.
    #[arg(long, value_name = "FILE|-")]
    pub k3s_token: Option<PathBuf>,
    /// Fail when free pages / total size exceeds this fraction (0.0-1.0).
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    pub max_fragmentation: Option<f64>,
    /// Fail when the database size (high-water mark x page size) exceeds this; accepts 8GiB etc.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// The backend quota for --max-quota-usage (default etcd's 2 GiB).
    #[arg(long, value_name = "BYTES", default_value = "2GiB", value_parser = parse_size)]
    pub quota: u64,
    /// Fail when size / quota exceeds this fraction (0.0-1.0).
    #[arg(long, value_name = "F", value_parser = parse_fraction)]
    pub max_quota_usage: Option<f64>,
    /// Fail when etcd's current revision is below N (or the file is not etcd's).
    #[arg(long, value_name = "N")]
    pub min_revision: Option<u64>,
    /// Fail unless etcdutl's HASH (hex, as `etcdutl snapshot status` prints it) is this.
    #[arg(long, value_name = "HEX", value_parser = parse_hex32)]
    pub expect_hash: Option<u32>,
    /// Fail unless every live value of these resources (as `du --by resource` names them:
    /// `secrets,configmaps`) is encrypted at rest under a `k8s:enc:` provider; lists up to 20
    /// offending keys.
    #[arg(long, value_name = "RESOURCE[,...]", value_delimiter = ',')]
    pub require_encryption: Vec<String>,
    /// With --require-encryption: also fail on values encrypted under another key (or KMS
    /// plugin) name than NAME: a key rotation still in progress.
    #[arg(long, value_name = "NAME", requires = "require_encryption")]
    pub require_encryption_key: Option<String>,
    /// Files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// A report with its file, as serialized.
#[derive(serde::Serialize)]
struct Named<'a> {
    path: &'a str,
    #[serde(flatten)]
    report: &'a CheckReport,
    /// Whether the file changed on every read (then `ok` is false).
    changed_while_read: bool,
}

/// The report of a file that changed on every read (a live etcd committing): whatever this read
/// found, it is no ok (`ok` false in JSON, with `changed_while_read`).
fn torn_report(r: &CheckReport) -> CheckReport {
    CheckReport { ok: false, ..r.clone() }
}

fn table(path: &str, r: &CheckReport, torn: bool) -> String {
    let mut o = String::new();
    let failed_gates: Vec<&str> = r.gates.iter().filter(|g| !g.ok).map(|g| g.gate.as_str()).collect();
    let verdict = if torn {
        "FAILED: the file changed on every read (a live etcd committing?): check a snapshot of it".to_string()
    } else if r.ok {
        let mut v =
            if r.warnings > 0 { format!("OK: no errors, {} warning(s)", r.warnings) } else { "OK: no problems".into() };
        if !r.gates.is_empty() {
            v.push_str(&format!(", {} gate(s) met", r.gates.len()));
        }
        v
    } else {
        let mut parts = Vec::new();
        if r.errors > 0 {
            parts.push(format!("{} error(s)", r.errors));
        }
        if !failed_gates.is_empty() {
            parts.push(format!("gate(s) failed: {}", failed_gates.join(" ")));
        }
        format!("FAILED: {}", parts.join(", "))
    };
    let _ = writeln!(o, "{path}: {verdict}");
    let other = if r.other_meta_valid { "valid" } else { "INVALID" };
    let _ = writeln!(o, "  meta      read from page {}; page {} is {other}", r.meta_used, 1 - r.meta_used);
    match (r.revision, r.current_revision) {
        (Some(rev), Some(cur)) if rev == cur => {
            let _ = writeln!(o, "  revision  {rev}");
        }
        (Some(rev), Some(cur)) => {
            let _ = writeln!(o, "  revision  {rev} (etcdutl's REVISION; a server started on it uses {cur})");
        }
        _ if !r.inspect.complete => {
            let _ = writeln!(o, "  revision  withheld (the tree could not be read whole)");
        }
        _ => {
            // Checked as a bbolt file: say so, so a snapshot that lost its etcd buckets is not
            // taken for a sound one (one that shows it lost one is told as an error).
            let lost = r.problems.iter().any(|p| p.kind == boltscope::problem::ProblemKind::EtcdBucketMissing);
            let what = if lost { "an etcd file that lost a bucket (below)" } else { "not an etcd file" };
            let _ = writeln!(o, "  etcd      {what} (not both `key` and `meta` buckets): checked as bbolt only");
        }
    }
    if let Some(h) = &r.hash {
        let _ = writeln!(o, "  hash      {h} (etcdutl HASH)");
    }
    for p in &r.problems {
        let label = if p.kind.is_warning() { "warning" } else { "error" };
        let _ = writeln!(o, "  {label:<9} {p}");
    }
    if r.errors + r.warnings > r.problems.len() as u64 {
        let _ = writeln!(o, "  ...       {} more not shown", r.errors + r.warnings - r.problems.len() as u64);
    }
    for g in &r.gates {
        let state = if g.ok { "ok" } else { "FAILED" };
        let _ = writeln!(o, "  gate      {} {}: {state} (actual {})", g.gate, g.limit, g.actual);
    }
    if let Some(a) = &r.encryption {
        for x in &a.offenders {
            let _ = writeln!(o, "  offender  {} ({})", x.key.display(), x.encoding);
        }
        let shown = a.offenders.len() as u64;
        let all = a.unencrypted + a.other_key;
        if all > shown {
            let _ = writeln!(o, "  ...       {} more offending key(s)", all - shown);
        }
    }
    o
}

/// The most a k3s token file is read: a real one is a few hundred bytes (`K10<ca hash>::server:
/// <secret>`), and reading `/dev/zero` or a huge file by mistake must not take the memory.
const TOKEN_MAX: u64 = 64 << 10;

/// Reads the k3s token from a file or standard input (`-`), trimmed as k3s trims it; refuses one
/// longer than [`TOKEN_MAX`].
fn read_token(p: &std::path::Path) -> Result<check::Token, String> {
    use std::io::Read;
    let fail = |e: String| format!("--k3s-token {}: {e}", p.display());
    let source: Box<dyn Read> = if p.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        // A value that names no file may be the token itself, given where its file belongs (k3s
        // takes `--token VALUE`): it is never echoed.
        let named = std::fs::symlink_metadata(p).is_ok();
        Box::new(std::fs::File::open(p).map_err(|e| {
            match named {
                true => fail(e.to_string()),
                false => "--k3s-token: no such file (the value is not shown: it may be the token itself). The option \
                      takes a file holding the token, or - to read it from standard input"
                    .to_string(),
            }
        })?)
    };
    let mut bytes = Vec::new();
    source.take(TOKEN_MAX + 1).read_to_end(&mut bytes).map_err(|e| fail(e.to_string()))?;
    if bytes.len() as u64 > TOKEN_MAX {
        return Err(fail(format!("longer than {} KiB: not a k3s token file", TOKEN_MAX >> 10)));
    }
    let text = String::from_utf8(bytes).map_err(|_| fail("not text: not a k3s token file".into()))?;
    let token = boltscope::k3s::token::read_token(&text);
    // A token k3s itself refuses (empty, a bad CA hash, an agent's join token) is the operator's
    // mistake, as an unreadable token file is (exit 2), not the snapshot's (a failed gate, exit 1).
    boltscope::k3s::token::normalise(token).map_err(|e| fail(format!("not a usable k3s token: {e}")))?;
    Ok(check::Token(token.to_string()))
}

/// Runs `check` over every file in parallel, prints in argument order, returns the exit code.
pub fn run(args: &CheckArgs, ix: &Ix) -> Verdict {
    let opt = inspect::Options { depth: 1, quota: args.quota, verify_trailer: true, residue: true };
    let k3s_token = match args.k3s_token.as_deref().map(read_token).transpose() {
        Ok(t) => t,
        Err(e) => {
            errln!("boltscope: {e}");
            return Verdict::Unreadable;
        }
    };
    let gates = Gates {
        max_fragmentation: args.max_fragmentation,
        max_size: args.max_size,
        max_quota_usage: args.max_quota_usage,
        min_revision: args.min_revision,
        expect_hash: args.expect_hash,
        require_hash: args.require_hash,
        fail_on_alarm: args.fail_on_alarm,
        fail_on_residual_secrets: args.fail_on_residual_secrets,
        k3s_token,
        require_encryption: args.require_encryption.clone(),
        require_encryption_key: args.require_encryption_key.clone(),
    };
    let outs: Vec<Result<(Checked, bool), Error>> = args
        .files
        .par_iter()
        .map(|p| {
            let read = |data: &[u8]| {
                let view = match args.meta {
                    Some(m) => DbView::with_meta(data, usize::from(m))?,
                    None => DbView::new(data)?,
                };
                let id = boltscope::index::identity(p, data);
                Ok(Checked { report: check::check(&view, &opt, &gates), id })
            };
            // A meta page asked for that cannot be used says nothing of the file as etcd reads it.
            if args.meta.is_some() {
                input::read_consistent(p, read)
            } else {
                ix.read(p, read)
            }
        })
        .collect();
    let mut verdict = Verdict::Clean;
    let mut out = String::new();
    for (path, o) in args.files.iter().zip(&outs) {
        let name = path.display().to_string();
        let Some(c) = settle(path, o, |c: &Checked| !c.report.ok, &mut verdict) else {
            if let (TableJson::Json, Err(e)) = (args.write_out, o) {
                out.push_str(&error_json(path, e));
            }
            continue;
        };
        // A file that changed on every read is no ok, whatever this read found.
        let torn = matches!(o, Ok((_, true)));
        let shown;
        let r = if torn {
            shown = torn_report(&c.report);
            &shown
        } else {
            &c.report
        };
        // check never answers from the index, but records what it found: the file's verdict,
        // which the tree of a meta page asked for (--meta) is not.
        if let (Some(id), None) = (&c.id, args.meta) {
            let s = &r.inspect.size;
            let gate_failed = r.gates.iter().any(|g| !g.ok);
            // A trailer --require-hash asked for and missing is the gate's failure, not the
            // file's (a member's db has none): no mark, as no other gate sets one (review 44:
            // inspect, du and diff of the sound file then failed on it).
            let gated = u64::from(args.require_hash && !r.inspect.trailer.present);
            let errors = r.errors.saturating_sub(gated);
            let found = Found { errors, warnings: r.warnings, gate_failed, torn, ..Found::default() };
            let mut row = ix.row(path, r.inspect.file.file_size, found.verdict());
            row.total_size = Some(s.total);
            row.revision = r.current_revision;
            row.hash = r.hash.clone();
            row.in_use = s.in_use;
            row.fragmentation = s.fragmentation;
            ix.store::<()>(id, crate::index::CHECK_TAG, None, &row);
        }
        match args.write_out {
            TableJson::Table => out.push_str(&table(&name, r, torn)),
            TableJson::Json => {
                let named = Named { path: &name, report: r, changed_while_read: torn };
                out.push_str(&serde_json::to_string(&named).unwrap_or_default());
                out.push('\n');
            }
        }
    }
    let _ = crate::out::stdout().write_all(out.as_bytes());
    verdict
}

/// A file's report, and its identity for the index.
struct Checked {
    report: CheckReport,
    id: Option<boltscope::index::Identity>,
}
