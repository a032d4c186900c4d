//! `status`: what `etcdutl snapshot status` prints, byte for byte, for every file named.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::report::{error_json, print_problems, Found};
use boltscope::error::Error;
use boltscope::etcd::status::{self, EtcdVersion, Format, Status};
use boltscope::etcd::{schema, trailer};
use boltscope::input;
use boltscope::{DbView, Problem, ProblemKind};
use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `status`.
#[derive(Parser, Debug)]
pub struct StatusArgs {
    /// Output format, as etcdutl's `-w`.
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = OutFormat::Simple)]
    pub write_out: OutFormat,
    /// Which etcd release's semantics: 3.4 and 3.5 count every pair as a key; 3.6 counts live
    /// user keys and adds VERSION. `auto` is 3.6 when the file has `meta/storageVersion`.
    #[arg(long, value_enum, default_value_t = EtcdVersionArg::Auto)]
    pub etcd_version: EtcdVersionArg,
    /// Also verify the sha256 trailer of a snapshot file (etcdutl does not); a mismatch is a
    /// problem (exit 1). A file without a trailer passes. Hashed on every run: such an answer
    /// never comes from the index (bit rot keeps a file's size, meta pages and mtime).
    #[arg(long, alias = "verify-trailer")]
    pub check_hash: bool,
    /// Files to read: etcd snapshots, `member/snap/db`, or any bbolt file.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `-w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    /// `hash, revision, keys, size` on one line.
    Simple,
    /// A boxed table.
    Table,
    /// One JSON object (exact integers).
    Json,
    /// `"Field" : value` lines.
    Fields,
}

/// `--etcd-version` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtcdVersionArg {
    /// 3.6 if the file has `meta/storageVersion`, else 3.5.
    Auto,
    /// etcdctl 3.4.
    #[value(name = "3.4")]
    V34,
    /// etcdutl 3.5.
    #[value(name = "3.5")]
    V35,
    /// etcdutl 3.6.
    #[value(name = "3.6")]
    V36,
}

/// Outcome of one file.
pub enum Outcome {
    /// Read; the problems list may be non-empty. `remembered`: a failure the index keeps for
    /// the file (`check` or `scan` found problems status's pass does not look for).
    Read { status: Status, problems: Vec<Problem>, total: u64, remembered: Option<boltscope::index::Failure> },
    /// Could not be read at all.
    Failed(Error),
}

impl Outcome {
    fn verdict(&self) -> Verdict {
        match self {
            Outcome::Failed(e) => Verdict::of_error(e),
            Outcome::Read { total, remembered, .. } => Verdict::problems_if(*total > 0 || remembered.is_some()),
        }
    }
}

fn version(v: EtcdVersionArg) -> EtcdVersion {
    match v {
        EtcdVersionArg::Auto => EtcdVersion::Auto,
        EtcdVersionArg::V34 => EtcdVersion::V34,
        EtcdVersionArg::V35 => EtcdVersion::V35,
        EtcdVersionArg::V36 => EtcdVersion::V36,
    }
}

/// Reads one file: from the index when it knows the file, else the status pass (and the trailer
/// hash on the other core when asked), remembered in the index when clean.
pub fn status_file(path: &Path, args: &StatusArgs, ix: &Ix) -> Outcome {
    let ver = version(args.etcd_version);
    let tag = format!("status/{ver:?}/{}", args.check_hash);
    let res = ix.read(path, |data| {
        let (id, hit) = ix.lookup::<Status>(path, data, &tag);
        // A failure the index remembers is told, as every reader tells it (review 41b: status
        // alone exited 0 on a file `scan` had failed).
        let remembered = ix.failure(path, data);
        // A hash asked for is computed: the index cannot see bit rot.
        if let Some(st) = hit.filter(|_| !args.check_hash) {
            return Ok((st, Vec::new(), 0, None, remembered));
        }
        let (st, tr) = rayon::join(
            || DbView::new(data).and_then(|v| status::status(&v, ver)),
            || if args.check_hash { trailer::verify(data) } else { None },
        );
        let r = st?;
        // The view the status pass read (it opened, so this one does).
        let view = DbView::new(data)?;
        let mut problems = r.structure.problems.clone();
        let mut total = r.structure.problem_total;
        // etcd's records beside the `key` bucket, and a lost `key` or `meta` bucket: `check` fails
        // the file for them, and the status pass does not read them (review 45a: status exited 0
        // on a lease etcd cannot decode, and recorded `ok` for a file that lost its `key` bucket).
        for p in boltscope::etcd::startup::status_misses(&view) {
            if !problems.contains(&p) {
                problems.push(p);
                total += 1;
            }
        }
        if let Some(p) = tr.as_ref().and_then(|t| trailer::mismatch(&view, t)) {
            problems.push(p);
            total += 1;
        }
        // A history row only when there is an index to keep it. status checks the structure and
        // etcd's records, not the trailer unless asked, nor the keys' histories (a stale leaf
        // reads well): its verdict says so, so it never records "ok" for a file `check` fails.
        let store = id.map(|id| {
            let st = &r.status;
            let trailer_unchecked = trailer::present(data.len()) && tr.is_none();
            let histories_unchecked = schema::is_etcd(&view);
            let found = Found { errors: total, trailer_unchecked, histories_unchecked, ..Found::default() };
            let mut row = ix.row(path, data.len() as u64, found.verdict());
            row.total_size = Some(st.total_size);
            // Figures are kept only from a read that found nothing wrong.
            if total == 0 {
                row.revision = Some(st.revision.max(0) as u64);
                row.hash = Some(format!("{:x}", st.hash));
            }
            (id, row)
        });
        Ok((r.status, problems, total, store, remembered))
    });
    match res {
        Err(e) => Outcome::Failed(e),
        Ok(((status, mut problems, mut total, mut store, remembered), torn)) => {
            if torn {
                // A torn read keeps no figures either, and its row says what happened.
                if let Some((_, row)) = store.as_mut() {
                    (row.revision, row.hash) = (None, None);
                    row.verdict = Found { errors: total, torn, ..Found::default() }.verdict();
                }
                problems.push(Problem::new(
                    ProblemKind::Torn,
                    format!(
                        "the file changed on every one of {} reads (a live etcd committing?); the answer may be torn",
                        input::RETRIES + 1
                    ),
                ));
                total += 1;
            }
            if let Some((id, row)) = store {
                ix.store(&id, &tag, (total == 0).then_some(&status), &row);
            }
            Outcome::Read { status, problems, total, remembered }
        }
    }
}

/// Runs `status` over every file (in parallel when several) and prints in argument order.
pub fn run(args: &StatusArgs, ix: &Ix) -> Verdict {
    let outs: Vec<Outcome> = if args.files.len() == 1 {
        args.files.iter().map(|p| status_file(p, args, ix)).collect()
    } else {
        args.files.par_iter().map(|p| status_file(p, args, ix)).collect()
    };
    let many = args.files.len() > 1;
    let fmt = match args.write_out {
        OutFormat::Simple => Format::Simple,
        OutFormat::Table => Format::Table,
        OutFormat::Json => Format::Json,
        OutFormat::Fields => Format::Fields,
    };
    let mut out = crate::out::stdout();
    for (path, o) in args.files.iter().zip(&outs) {
        match o {
            Outcome::Failed(e) => {
                errln!("boltscope: {}: {e}", path.display());
                if fmt == Format::Json {
                    let _ = out.write_all(error_json(path, e).as_bytes());
                }
            }
            Outcome::Read { status, problems, total, remembered } => {
                if *total > 0 {
                    print_problems(path, problems, *total);
                }
                crate::keyread::tell_remembered(path, remembered.clone());
                // Figures only when nothing that could make them wrong was found (a bad meta page
                // whose twin is read, a trailer mismatch, or freelist damage do not).
                let trusted = problems.len() as u64 == *total && problems.iter().all(|p| !p.kind.affects_figures());
                let text = if fmt == Format::Json && (many || *total > 0 || remembered.is_some()) {
                    json_line(path, trusted.then_some(status), problems, *total, remembered.as_ref())
                } else if !trusted {
                    continue;
                } else if many {
                    format!("==> {} <==\n{}", path.display(), status::render(status, fmt))
                } else {
                    // One clean file: etcdutl's own output, byte for byte.
                    status::render(status, fmt)
                };
                let _ = out.write_all(text.as_bytes());
            }
        }
    }
    let _ = out.flush();
    Verdict::worst(outs.iter().map(Outcome::verdict))
}

/// One file's JSON line beside others, or of a file with problems: etcdutl's fields (when they
/// can be trusted) with `path`, as every command names its file, and for a file with problems
/// `"ok": false` with them, so a pipeline reading JSON never takes a damaged file's line for a
/// clean one; so does a file whose failure the index remembers (`remembered`: the command that
/// found it and its verdict; review 42b: its line looked like a clean file's). A clean line
/// claims no `ok`: status checks neither the trailer (unless --check-hash) nor the keys'
/// histories, which `check` does.
fn json_line(
    path: &Path,
    status: Option<&Status>,
    problems: &[Problem],
    total: u64,
    remembered: Option<&boltscope::index::Failure>,
) -> String {
    let mut v = status.and_then(|s| serde_json::to_value(s).ok()).unwrap_or_else(|| serde_json::json!({}));
    v["path"] = path.display().to_string().into();
    if total > 0 || remembered.is_some() {
        v["ok"] = false.into();
        v["problems"] = serde_json::to_value(problems).unwrap_or_default();
        v["problem_total"] = total.into();
    }
    if let Some(f) = remembered {
        v["remembered_failure"] = serde_json::json!({"command": f.command, "verdict": f.verdict});
    }
    format!("{v}\n")
}
