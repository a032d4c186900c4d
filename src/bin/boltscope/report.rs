//! What several commands print the same way: a file's problems on stderr, the outcome of
//! reading one file (why it could not be read, or that it kept changing), and the pieces of
//! Prometheus text every exposition uses.

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

/// The verdict recorded for a file in which nothing wrong was found, but whose sha256 trailer was
/// not checked (`status` without --check-hash, `inspect --skip-hash-check`): not an ok, since
/// `check` may fail it.
pub const NOT_VERIFIED: &str = "not verified (sha256 trailer not checked)";

/// [`verdict_text`] for a command that may leave a trailer unchecked: [`NOT_VERIFIED`] (with the
/// warnings counted) instead of an ok when `trailer_unchecked`.
pub fn recorded_verdict(errors: u64, warnings: u64, trailer_unchecked: bool) -> String {
    match (errors, warnings) {
        (0, 0) if trailer_unchecked => NOT_VERIFIED.to_string(),
        (0, w) if trailer_unchecked => format!("{NOT_VERIFIED}, {w} warning(s)"),
        _ => verdict_text(errors, warnings, false),
    }
}

/// A Prometheus label value, escaped (backslash, double quote, newline).
pub fn prom_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The `# HELP` and `# TYPE` lines of a gauge family.
pub fn prom_gauge(o: &mut String, name: &str, help: &str) {
    o.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
}

/// The JSON object of a file that could not be read or used, so a pipeline sees every file it
/// asked about: `{"path":...,"ok":false,"error":{"kind":...,"message":...}}`.
pub fn error_value(path: &str, kind: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "path": path, "ok": false, "error": { "kind": kind, "message": message } })
}

/// [`error_value`] as a line, for a file that could not be read.
pub fn error_json(path: &Path, e: &Error) -> String {
    format!("{}\n", error_value(&path.display().to_string(), e.kind().name(), &e.to_string()))
}
