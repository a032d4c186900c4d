//! Running `status` over files and printing results and problems.

use crate::cli::{EtcdVersionArg, InspectArgs, InspectFormat, OutFormat, StatusArgs};
use crate::index::Ix;
use crate::inspect_out;
use boltscope::error::{Error, Problem, ProblemKind};
use boltscope::inspect::{self, Inspect};
use boltscope::status::{self, EtcdVersion, Format, Status};
use boltscope::{db, trailer, DbView};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

/// Outcome of one file.
pub enum Outcome {
    /// Read; the problems list may be non-empty.
    Read { status: Status, problems: Vec<Problem>, total: u64 },
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

/// Reads one file: from the index when it knows the file, else the status pass (and the trailer
/// hash on the other core when asked), remembered in the index when clean.
pub fn status_file(path: &Path, args: &StatusArgs, ix: &Ix) -> Outcome {
    let ver = version(args.etcd_version);
    let tag = format!("status/{ver:?}/{}", args.verify_trailer);
    let res = db::read_consistent(path, |data| {
        let (id, hit) = ix.lookup::<Status>(path, data, &tag);
        if let Some(st) = hit {
            return Ok((st, Vec::new(), 0, None));
        }
        let (st, tr) = rayon::join(
            || DbView::new(data).and_then(|v| status::status(&v, ver)),
            || if args.verify_trailer { trailer::verify(data) } else { None },
        );
        let r = st?;
        let mut problems = r.structure.problems.clone();
        let mut total = r.structure.problem_total;
        if let Some(t) = tr.filter(|t| !t.ok()) {
            problems.push(Problem::new(
                ProblemKind::TrailerMismatch,
                format!("sha256 trailer is {}, the file hashes to {}", t.stored, t.computed),
            ));
            total += 1;
        }
        // A history row only when there is an index to keep it.
        let store = id.map(|id| {
            let st = &r.status;
            let hash = Some(format!("{:x}", st.hash));
            let rev = Some(st.revision.max(0) as u64);
            (id, ix.row(path, data.len() as u64, "status", Some(st.total_size), rev, hash, None, None, total))
        });
        Ok((r.status, problems, total, store))
    });
    match res {
        Err(e) => Outcome::Failed(e),
        Ok(((status, mut problems, mut total, store), torn)) => {
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
            if let Some((id, row)) = store {
                ix.store(&id, &tag, (total == 0).then_some(&status), &row);
            }
            Outcome::Read { status, problems, total }
        }
    }
}

/// Runs `status` over every file (in parallel when several) and prints in argument order.
pub fn run_status(args: &StatusArgs, ix: &Ix) -> u8 {
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
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (path, o) in args.files.iter().zip(&outs) {
        match o {
            Outcome::Failed(e) => eprintln!("boltscope: {}: {e}", path.display()),
            Outcome::Read { status, problems, total } => {
                if *total > 0 {
                    print_problems(path, problems, *total);
                }
                // Figures only when nothing that could make them wrong was found (a bad meta page
                // whose twin is read, a trailer mismatch, or freelist damage do not).
                let trusted = problems.len() as u64 == *total && problems.iter().all(|p| !p.kind.affects_figures());
                if !trusted {
                    continue;
                }
                let text = if many && fmt == Format::Json {
                    let mut v = serde_json::to_value(status).unwrap_or_default();
                    v["file"] = path.display().to_string().into();
                    format!("{v}\n")
                } else if many {
                    format!("==> {} <==\n{}", path.display(), status::render(status, fmt))
                } else {
                    status::render(status, fmt)
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
    let _ = writeln!(err, "boltscope: {}: {total} problem(s) found", path.display());
    for p in problems {
        let _ = writeln!(err, "  {p}");
    }
    if total > problems.len() as u64 {
        let _ = writeln!(err, "  ... and {} more", total - problems.len() as u64);
    }
}

/// Settles one file's outcome for commands that print reports: prints why it could not be read
/// (exit 2) or that it kept changing, raises `code` to 1 when `failed` says so or it was torn,
/// and hands back the report to print.
pub fn settle<'r, T>(
    path: &Path,
    o: &'r Result<(T, bool), Error>,
    failed: impl Fn(&T) -> bool,
    code: &mut u8,
) -> Option<&'r T> {
    let name = path.display();
    match o {
        Err(e) => {
            eprintln!("boltscope: {name}: {e}");
            *code = 2;
            None
        }
        Ok((r, torn)) => {
            if *torn {
                eprintln!("boltscope: {name}: the file changed on every read (a live etcd committing?); the result may be torn");
            }
            if failed(r) || *torn {
                *code = (*code).max(1);
            }
            Some(r)
        }
    }
}

/// Inspects one file, from the index when it knows the file (the quota verdict is recomputed).
pub fn inspect_file(path: &Path, opt: &inspect::Options, ix: &Ix) -> Result<(Inspect, bool), Error> {
    let tag = format!("inspect/{}/{}", opt.depth, opt.verify_trailer);
    let (r, torn) = db::read_consistent(path, |data| {
        let (id, hit) = ix.lookup::<Inspect>(path, data, &tag);
        if let Some(mut r) = hit {
            r.quota = inspect::quota(r.size.total, r.prediction.size_fill_0_9, opt.quota);
            return Ok((r, None));
        }
        let r = inspect::inspect(&DbView::new(data)?, opt);
        Ok((r, id))
    })?;
    let (r, id) = r;
    if let Some(id) = id {
        let s = &r.size;
        let rev = r.etcd.as_ref().map(|e| e.current_revision);
        let row = ix.row(
            path,
            r.file.file_size,
            "inspect",
            Some(s.total),
            rev,
            None,
            Some(s.in_use),
            Some(s.fragmentation),
            r.problem_total,
        );
        let clean = r.problem_total == 0 && !torn && r.trailer.sha256_ok != Some(false);
        ix.store(&id, &tag, clean.then_some(&r), &row);
    }
    Ok((r, torn))
}

/// Runs `inspect` over every file in parallel and prints in argument order.
pub fn run_inspect(args: &InspectArgs, ix: &Ix) -> u8 {
    let opt = inspect::Options { depth: args.depth, quota: args.quota, verify_trailer: !args.no_trailer_check };
    let outs: Vec<Result<(Inspect, bool), Error>> = args.files.par_iter().map(|p| inspect_file(p, &opt, ix)).collect();
    let mut code = 0;
    let mut done: Vec<(String, &Inspect)> = Vec::new();
    for (path, o) in args.files.iter().zip(&outs) {
        let failed = |r: &Inspect| r.problem_total > 0 || r.trailer.sha256_ok == Some(false);
        if let Some(r) = settle(path, o, failed, &mut code) {
            done.push((path.display().to_string(), r));
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
