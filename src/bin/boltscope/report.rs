//! What several commands print the same way: a file's problems on stderr, the outcome of
//! reading one file (why it could not be read, or that it kept changing), a key shown to people,
//! and the pieces of Prometheus text every exposition uses.

use crate::exit::Verdict;
use boltscope::error::Error;
use boltscope::Problem;
use std::io::Write;
use std::path::Path;

/// A key for a terminal: as text when it is UTF-8 without control characters, else escaped (a
/// key holding an escape sequence or a newline cannot move the cursor or split a row); a key
/// whose own bytes hold a Secret in the clear is `<redacted key>`.
pub fn show_key(key: &[u8]) -> String {
    show_key_as_is(boltscope::k8s::secret::shown_key(key))
}

/// [`show_key`] of a key shown as it is (`--show-secrets`, or one already guarded).
pub fn show_key_as_is(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => s.to_string(),
        Ok(s) => s.chars().flat_map(char::escape_default).collect(),
        Err(_) => key.escape_ascii().to_string(),
    }
}

/// How many of a file's `total` problems are errors, `problems` the ones listed: warnings (a file
/// still passes `check` with them) are told apart only when every problem is listed (the kinds of
/// those past the list are not known).
pub fn errors_among(problems: &[Problem], total: u64) -> u64 {
    match total == problems.len() as u64 {
        true => total - problems.iter().filter(|p| p.kind.is_warning()).count() as u64,
        false => total,
    }
}

/// Prints a file's problems on stderr, one per line.
pub fn print_problems(path: &Path, problems: &[Problem], total: u64) {
    let mut err = std::io::stderr().lock();
    // Warnings (a file still passes `check` with them) are counted apart, as `check` counts them,
    // when every problem is listed (the kinds of those past the list are not known).
    let found = match errors_among(problems, total) {
        errors if errors < total => format!("{errors} problem(s) and {} warning(s)", total - errors),
        _ => format!("{total} problem(s)"),
    };
    let _ = writeln!(err, "boltscope: {}: {found} found", path.display());
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
/// One file's answer: its report and whether the file changed on every read, or its error.
pub type Read<T> = Result<(T, bool), Error>;
/// [`Read`], with the failure the index remembers for the file.
pub type Told<T> = Result<(T, bool, Option<boltscope::index::Failure>), Error>;

/// Splits each file's answer from the failure the index remembers for it (none for a file that
/// could not be read).
pub fn split_remembered<T>(told: Vec<Told<T>>) -> (Vec<Read<T>>, Vec<Option<boltscope::index::Failure>>) {
    told.into_iter()
        .map(|o| match o {
            Ok((r, torn, f)) => (Ok((r, torn)), f),
            Err(e) => (Err(e), None),
        })
        .unzip()
}

pub fn settle<'r, T>(
    path: &Path,
    o: &'r Result<(T, bool), Error>,
    failed: impl Fn(&T) -> bool,
    verdict: &mut Verdict,
) -> Option<&'r T> {
    let name = path.display();
    match o {
        Err(e) => {
            errln!("boltscope: {name}: {e}");
            *verdict = (*verdict).max(Verdict::of_error(e));
            None
        }
        Ok((r, torn)) => {
            if *torn {
                errln!("boltscope: {name}: the file changed on every read (a live etcd committing?); the result may be torn");
            }
            if failed(r) || *torn {
                *verdict = (*verdict).max(Verdict::Problems);
            }
            Some(r)
        }
    }
}

/// What one read of a file found, for the verdict every command records in the index and `scan`
/// shows: one decision, so the words agree everywhere.
#[derive(Clone, Copy, Debug, Default)]
pub struct Found {
    /// Errors found.
    pub errors: u64,
    /// Warnings found.
    pub warnings: u64,
    /// A gate of `check` failed.
    pub gate_failed: bool,
    /// The file has a sha256 trailer that was not checked (`status` without --check-hash,
    /// `inspect --skip-hash-check`).
    pub trailer_unchecked: bool,
    /// The file is etcd's and its keys' histories were not held to etcd's rules (`status`, which
    /// reads etcdutl's figures: `check` fails a stale leaf it cannot see).
    pub histories_unchecked: bool,
    /// The file changed on every read (a live etcd committing): what was found may be torn.
    pub torn: bool,
}

/// The verdict recorded for a file in which nothing wrong was found, but whose sha256 trailer was
/// not checked (`--skip-hash-check` of `inspect` or `du`): not an ok, since `check`
/// may fail it. Every such verdict starts with `not verified`.
pub const NOT_VERIFIED: &str = "not verified (sha256 trailer not checked)";

/// What the verdict of a read the file changed during, every time, ends with.
pub const TORN: &str = "changed while read";

impl Found {
    /// The verdict in `check`'s words: `ok`, with the warnings counted, or the errors, or a failed
    /// gate; [`NOT_VERIFIED`] instead of an ok when the trailer was not checked. A torn read is
    /// never an ok: it counts as one problem more, as in every command's exit code, and says so
    /// (`N problem(s), changed while read`).
    pub fn verdict(&self) -> String {
        if self.torn {
            let found = Found {
                errors: self.errors + 1,
                torn: false,
                trailer_unchecked: false,
                histories_unchecked: false,
                ..*self
            };
            return format!("{}, {TORN}", found.verdict());
        }
        let unchecked = match (self.trailer_unchecked, self.histories_unchecked) {
            (true, false) => Some(NOT_VERIFIED.to_string()),
            (false, true) => Some("not verified (key histories not checked)".to_string()),
            (true, true) => Some("not verified (sha256 trailer and key histories not checked)".to_string()),
            (false, false) => None,
        };
        let mut v = match (self.errors, self.warnings, unchecked) {
            (0, 0, Some(u)) => u,
            (0, w, Some(u)) => format!("{u}, {w} warning(s)"),
            (0, 0, None) => "ok".to_string(),
            (0, w, None) => format!("ok, {w} warning(s)"),
            (e, _, _) => format!("{e} problem(s)"),
        };
        if self.gate_failed {
            v = if self.errors == 0 { "gate failed".into() } else { format!("{v}, gate failed") };
        }
        v
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

/// [`error_value`] of a `compact` or `salvage` that stopped with `e`: a source refused for damage
/// also lists its problems (page, byte offset) and their count, as every command's JSON gives a
/// damaged file (`problems`, `problem_total`).
pub fn compact_error_value(src: &Path, e: &boltscope::compact::CompactError, message: &str) -> serde_json::Value {
    use boltscope::compact::CompactError;
    let mut v = error_value(&src.display().to_string(), e.kind(), message);
    let listed = match e {
        CompactError::Damaged { problems, total, .. } => Some((problems.clone(), *total)),
        // Refused for a meta page or a trailer before any walk: `check`'s list, read again (review
        // 49a F2: these damaged files' objects had none).
        CompactError::MetaFallback { .. } | CompactError::TrailerMismatch { .. } | CompactError::TrailerCut { .. } => {
            src_damage(src)
        }
        _ => None,
    };
    if let Some((problems, total)) = listed {
        v["problems"] = serde_json::to_value(problems).unwrap_or_default();
        v["problem_total"] = total.into();
    }
    v
}

/// What `check` finds in the file at `path` (its problems, the first few, and how many), when it
/// finds any: for a job's JSON that must say so of a source it did not walk whole itself (as
/// every command's JSON gives a damaged file). `None` for a sound file, or one that cannot be read
/// again.
pub fn src_damage(path: &Path) -> Option<(Vec<Problem>, u64)> {
    use boltscope::analysis::{check, inspect};
    let file = boltscope::input::open(path).ok()?;
    let view = boltscope::DbView::new(file.bytes()).ok()?;
    let r = check::check(&view, &inspect::Options::default(), &check::Gates::default());
    (!r.ok).then_some((r.problems, r.problem_total))
}

/// [`error_value`] as a line, for a file that could not be read.
pub fn error_json(path: &Path, e: &Error) -> String {
    format!("{}\n", error_value(&path.display().to_string(), e.kind().name(), &e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_read_is_never_an_ok_whatever_was_found() {
        for errors in [0, 2] {
            for warnings in [0, 3] {
                for gate_failed in [false, true] {
                    for trailer_unchecked in [false, true] {
                        let f = Found {
                            errors,
                            warnings,
                            gate_failed,
                            trailer_unchecked,
                            histories_unchecked: true,
                            torn: false,
                        };
                        let torn = Found { torn: true, ..f }.verdict();
                        assert!(torn.starts_with(&format!("{} problem(s)", errors + 1)), "{f:?}: {torn}");
                        assert!(torn.ends_with(", changed while read"), "{f:?}: {torn}");
                        assert_eq!(f.gate_failed, torn.contains("gate failed"), "{f:?}: {torn}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_words_of_a_read_that_settled_are_check_s() {
        let v = |errors, warnings, gate_failed, trailer_unchecked| {
            Found { errors, warnings, gate_failed, trailer_unchecked, histories_unchecked: false, torn: false }
                .verdict()
        };
        assert_eq!(v(0, 0, false, false), "ok");
        assert_eq!(v(0, 2, false, false), "ok, 2 warning(s)");
        assert_eq!(v(3, 2, false, false), "3 problem(s)");
        assert_eq!(v(0, 0, true, false), "gate failed");
        assert_eq!(v(1, 0, true, false), "1 problem(s), gate failed");
        assert_eq!(v(0, 0, false, true), NOT_VERIFIED);
        assert_eq!(v(0, 1, false, true), format!("{NOT_VERIFIED}, 1 warning(s)"));
        assert_eq!(v(1, 0, false, true), "1 problem(s)");
    }

    #[test]
    fn a_key_shown_to_people_cannot_drive_the_terminal() {
        assert_eq!(show_key(b"/registry/pods/a"), "/registry/pods/a");
        assert_eq!(show_key("/caf\u{e9}".as_bytes()), "/caf\u{e9}");
        assert_eq!(show_key(b"a\x1b[31mb\nc"), "a\\u{1b}[31mb\\nc");
        assert_eq!(show_key(b"\xff\x00x"), "\\xff\\x00x");
    }
}
