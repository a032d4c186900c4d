//! What several commands print the same way: a file's problems on stderr, and the outcome of
//! reading one file (why it could not be read, or that it kept changing).

use crate::exit::Verdict;
use boltscope::error::Error;
use boltscope::Problem;
use std::io::Write;
use std::path::Path;

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
/// or that it kept changing, raises `verdict` to problems when `failed` says so or it was torn,
/// and hands back the report to print.
pub fn settle<'r, T>(
    path: &Path,
    o: &'r Result<(T, bool), Error>,
    failed: impl Fn(&T) -> bool,
    verdict: &mut Verdict,
) -> Option<&'r T> {
    let name = path.display();
    match o {
        Err(e) => {
            eprintln!("boltscope: {name}: {e}");
            *verdict = (*verdict).max(Verdict::of_error(e));
            None
        }
        Ok((r, torn)) => {
            if *torn {
                eprintln!("boltscope: {name}: the file changed on every read (a live etcd committing?); the result may be torn");
            }
            if failed(r) || *torn {
                *verdict = (*verdict).max(Verdict::Problems);
            }
            Some(r)
        }
    }
}

/// The verdict recorded in the index and shown by `scan`, the same words everywhere: `ok`, with
/// the warnings counted, or the errors, or a failed gate.
pub fn verdict_text(errors: u64, warnings: u64, gate_failed: bool) -> String {
    let mut v = match (errors, warnings) {
        (0, 0) => "ok".to_string(),
        (0, w) => format!("ok, {w} warning(s)"),
        (e, _) => format!("{e} problem(s)"),
    };
    if gate_failed {
        v = if errors == 0 { "gate failed".into() } else { format!("{v}, gate failed") };
    }
    v
}

/// The JSON line for a file that could not be read, so a pipeline sees every file it asked
/// about: `{"path":...,"ok":false,"error":{"kind":...,"message":...}}`.
pub fn error_json(path: &Path, e: &Error) -> String {
    let v = serde_json::json!({
        "path": path.display().to_string(),
        "ok": false,
        "error": { "kind": e.kind().name(), "message": e.to_string() },
    });
    format!("{v}\n")
}
