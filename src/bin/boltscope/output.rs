//! Running `status` over files and printing results and problems.

use crate::cli::{EtcdVersionArg, InspectArgs, InspectFormat, OutFormat, StatusArgs};
use crate::inspect_out;
use boltscope::error::{Error, Problem, ProblemKind};
use boltscope::inspect::{self, Inspect};
use boltscope::status::{self, EtcdVersion, Format, StatusReport};
use boltscope::{db, trailer, DbView};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

/// Outcome of one file.
pub enum Outcome {
    /// Read; the problems list may be non-empty.
    Read { report: StatusReport, problems: Vec<Problem>, total: u64 },
    /// Could not be read at all.
    Failed(Error),
}

/// Exit code for a set of outcomes: 2 if any file could not be read, else 1 if any had
/// problems, else 0.
pub fn exit_code(outs: &[Outcome]) -> u8 {
    outs.iter()
        .map(|o| match o {
            Outcome::Failed(_) => 2,
            Outcome::Read { total, .. } if *total > 0 => 1,
            Outcome::Read { .. } => 0,
        })
        .max()
        .unwrap_or(0)
}

fn version(v: EtcdVersionArg) -> EtcdVersion {
    match v {
        EtcdVersionArg::Auto => EtcdVersion::Auto,
        EtcdVersionArg::V34 => EtcdVersion::V34,
        EtcdVersionArg::V35 => EtcdVersion::V35,
        EtcdVersionArg::V36 => EtcdVersion::V36,
    }
}

/// Reads one file: the status pass, and the trailer hash on the other core when asked.
pub fn status_file(path: &Path, args: &StatusArgs) -> Outcome {
    let ver = version(args.etcd_version);
    let res = db::read_consistent(path, |data| {
        let (st, tr) = rayon::join(
            || DbView::new(data).and_then(|v| status::status(&v, ver)),
            || {
                if args.verify_trailer {
                    trailer::verify(data)
                } else {
                    None
                }
            },
        );
        Ok((st?, tr))
    });
    match res {
        Err(e) => Outcome::Failed(e),
        Ok(((report, tr), torn)) => {
            let mut problems = report.structure.problems.clone();
            let mut total = report.structure.problem_total;
            if let Some(t) = tr.filter(|t| !t.ok()) {
                problems.push(Problem::new(
                    ProblemKind::TrailerMismatch,
                    format!("sha256 trailer is {}, the file hashes to {}", t.stored, t.computed),
                ));
                total += 1;
            }
            if torn {
                problems.push(Problem::new(
                    ProblemKind::Torn,
                    format!(
                        "the file changed on every one of {} reads (a live etcd committing?); the answer may be torn",
                        db::RETRIES + 1
                    ),
                ));
                total += 1;
            }
            Outcome::Read { report, problems, total }
        }
    }
}

/// Runs `status` over every file in parallel and prints in argument order.
pub fn run_status(args: &StatusArgs) -> u8 {
    let outs: Vec<Outcome> = args.files.par_iter().map(|p| status_file(p, args)).collect();
    let many = args.files.len() > 1;
    let fmt = match args.write_out {
        OutFormat::Simple => Format::Simple,
        OutFormat::Table => Format::Table,
        OutFormat::Json => Format::Json,
        OutFormat::Fields => Format::Fields,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (path, o) in args.files.iter().zip(&outs) {
        match o {
            Outcome::Failed(e) => eprintln!("boltscope: {}: {e}", path.display()),
            Outcome::Read { problems, total, .. } if *total > 0 => print_problems(path, problems, *total),
            Outcome::Read { report, .. } => {
                let text = if many && fmt == Format::Json {
                    let mut v = serde_json::to_value(&report.status).unwrap_or_default();
                    v["file"] = path.display().to_string().into();
                    format!("{v}\n")
                } else if many {
                    format!("==> {} <==\n{}", path.display(), status::render(&report.status, fmt))
                } else {
                    status::render(&report.status, fmt)
                };
                let _ = out.write_all(text.as_bytes());
            }
        }
    }
    let _ = out.flush();
    exit_code(&outs)
}

/// Prints a file's problems on stderr, one per line.
pub fn print_problems(path: &Path, problems: &[Problem], total: u64) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "boltscope: {}: integrity check failed: {total} problem(s) found", path.display());
    for p in problems {
        let _ = writeln!(err, "  {p}");
    }
    if total > problems.len() as u64 {
        let _ = writeln!(err, "  ... and {} more", total - problems.len() as u64);
    }
}

/// Runs `inspect` over every file in parallel and prints in argument order.
pub fn run_inspect(args: &InspectArgs) -> u8 {
    let opt = inspect::Options { depth: args.depth, quota: args.quota, verify_trailer: !args.no_trailer_check };
    let outs: Vec<Result<(Inspect, bool), Error>> = args
        .files
        .par_iter()
        .map(|p| db::read_consistent(p, |data| DbView::new(data).map(|v| inspect::inspect(&v, &opt))))
        .collect();
    let mut code = 0;
    let mut done: Vec<(String, &Inspect)> = Vec::new();
    for (path, o) in args.files.iter().zip(&outs) {
        let name = path.display().to_string();
        match o {
            Err(e) => {
                eprintln!("boltscope: {name}: {e}");
                code = 2;
            }
            Ok((r, torn)) => {
                if *torn {
                    eprintln!("boltscope: {name}: the file changed on every read (a live etcd committing?); figures may be torn");
                }
                if r.problem_total > 0 || *torn || r.trailer.sha256_ok == Some(false) {
                    code = code.max(1);
                }
                done.push((name, r));
            }
        }
    }
    let text = match args.write_out {
        InspectFormat::Table => done.iter().map(|(p, r)| inspect_out::table(p, r)).collect::<Vec<_>>().join("\n"),
        InspectFormat::Json => done.iter().map(|(p, r)| inspect_out::json(p, r)).collect(),
        InspectFormat::Prometheus => {
            let v: Vec<(&str, &Inspect)> = done.iter().map(|(p, r)| (p.as_str(), *r)).collect();
            inspect_out::prometheus(&v)
        }
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    code
}
