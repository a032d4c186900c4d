//! `diff`: what changed between two backups, key by key, and how the two files relate.

use crate::cli::TableJson;
use crate::diff_render::{self, Shown};
use crate::exit::Verdict;
use crate::index::Ix;
use crate::report::{error_json, error_value, print_problems};
use boltscope::analysis::compare::{self, CompareError, Comparison, Which};
use boltscope::analysis::diff::{Options, BUDGET};
use boltscope::analysis::grouping::By;
use boltscope::error::Error;
use boltscope::etcd::trailer;
use boltscope::index::Failure;
use boltscope::k8s::object::DecodeOptions;
use boltscope::{input, DbView};
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `diff`.
#[derive(Parser, Debug)]
pub struct DiffArgs {
    /// Output: `table` for people, `json` (one object, on one line).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = TableJson::Table)]
    pub write_out: TableJson,
    /// Only keys starting with this prefix.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Group the summary by Kubernetes resource, namespace, both, or the first N path segments
    /// (`prefix` = `prefix:1`), as `du` does [default: resource when the files hold Kubernetes
    /// keys, else prefix:1].
    #[arg(long, value_name = "resource|namespace|resource+namespace|prefix[:N]", value_parser = By::parse)]
    pub by: Option<By>,
    /// Also show each key's value sizes (old and new for a changed key).
    #[arg(long)]
    pub values: bool,
    /// Decode both values of a changed key as Kubernetes objects and list the fields that differ
    /// (Secret data redacted unless --show-secrets). Implies --values.
    #[arg(long)]
    pub decode: bool,
    /// With --decode: show Secret data instead of redacting it. (A key whose own bytes hold a
    /// Secret, a value read as a key, is still shown as `<redacted key>`: `get --show-secrets`
    /// shows it.)
    #[arg(long, requires = "decode")]
    pub show_secrets: bool,
    /// Do not verify the sha256 trailers (saves a pass of SHA-256 over each file).
    #[arg(long = "skip-hash-check", alias = "no-trailer-check")]
    pub no_trailer_check: bool,
    /// Bytes of keys one pass of the join may hold (more passes when the files hold more).
    #[arg(long, value_name = "BYTES", value_parser = crate::cli::parse_size, hide = true)]
    pub pass_budget: Option<u64>,
    /// The old file.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The new file.
    #[arg(value_name = "B")]
    pub b: PathBuf,
}

/// What reading the two files gave.
enum Outcome {
    /// Compared.
    Done(Box<Comparison>),
    /// A file could not be opened as a bbolt file.
    Failed(Which, Error),
    /// A file (or both) cannot be compared (damaged, not etcd).
    Refused(Vec<CompareError>),
}

/// Whether `a` and `b` name one file (the same device and inode).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// What `check` fails a file for outside its `key` tree: a meta page that cannot be used, a
/// high-water mark past the end, a trailer cut short, damage in the other buckets and records
/// there etcd cannot read.
fn file_issues(view: &DbView<'_>) -> Vec<boltscope::Problem> {
    let mut out = view.file_problems();
    out.extend(boltscope::etcd::trailer::tail_problem(view).filter(|p| !p.kind.is_warning()));
    out.extend(boltscope::etcd::startup::beside_key_problems(view));
    out
}

/// The comparison, whether each file kept changing while read, what `check` fails each for beside
/// it, and the failure the index remembers for each (what `check` or another analysis found in
/// it, when --skip-hash-check or --prefix: told as every reader tells it, since neither file was
/// judged whole).
type Compared = (Outcome, [bool; 2], [Vec<boltscope::Problem>; 2], [Option<Failure>; 2]);

fn compare_files(args: &DiffArgs, opt: &Options, ix: &Ix) -> Compared {
    let torn_b = std::cell::Cell::new(false);
    let issues = std::cell::RefCell::new([Vec::new(), Vec::new()]);
    let remembered = std::cell::RefCell::new([None, None]);
    let res = input::read_consistent(&args.a, |da| {
        // Only a comparison of every key judges every history (review 48a: `diff --prefix`).
        let whole = !args.no_trailer_check && args.prefix.is_none();
        let failure = |p: &std::path::Path, d: &[u8]| ix.failure_unless_hashed(p, d, whole);
        remembered.borrow_mut()[0] = failure(&args.a, da);
        let va = match DbView::new(da) {
            Ok(v) => v,
            Err(e) => return Ok(Outcome::Failed(Which::A, e)),
        };
        issues.borrow_mut()[0] = file_issues(&va);
        let inner = input::read_consistent(&args.b, |db| {
            remembered.borrow_mut()[1] = failure(&args.b, db);
            let vb = DbView::new(db)?;
            issues.borrow_mut()[1] = file_issues(&vb);
            // The trailers are hashed beside the comparison, as `check` verifies them; one file
            // named twice is hashed once.
            let hash = |v: &DbView<'_>| if args.no_trailer_check { None } else { trailer::verify(v.data) };
            let same = same_file(&args.a, &args.b) && va.data.len() == vb.data.len();
            let ((compared, ta), tb) = rayon::join(
                || rayon::join(|| compare::compare(&va, &vb, opt), || hash(&va)),
                || if same { None } else { hash(&vb) },
            );
            let tb = if same { ta.clone() } else { tb };
            let mut found = issues.borrow_mut();
            found[0].extend(ta.and_then(|t| trailer::mismatch(&va, &t)));
            found[1].extend(tb.and_then(|t| trailer::mismatch(&vb, &t)));
            Ok(match compared {
                Ok(c) => Outcome::Done(Box::new(c)),
                Err(e) => Outcome::Refused(e),
            })
        });
        Ok(match inner {
            Ok((o, torn)) => {
                torn_b.set(torn);
                o
            }
            Err(e) => Outcome::Failed(Which::B, e),
        })
    });
    let (issues, remembered) = (issues.into_inner(), remembered.into_inner());
    match res {
        Ok((o, torn_a)) => (o, [torn_a, torn_b.get()], issues, remembered),
        Err(e) => (Outcome::Failed(Which::A, e), [false, false], issues, remembered),
    }
}

/// Tells why a file cannot be compared, on stderr and (with `-w json`) as its JSON line; its verdict.
fn refused(
    e: &CompareError,
    p: &std::path::Path,
    issues: &[Vec<boltscope::Problem>; 2],
    json: bool,
    out: &mut dyn Write,
) -> Verdict {
    let mut v = error_value(&p.display().to_string(), "not_etcd", &e.to_string());
    // A damaged file was read and has problems (exit 1, as every command gives such a file),
    // listed with their pages and byte offsets; one of another kind cannot be read as etcd's
    // (exit 2).
    let verdict = match e {
        CompareError::Damaged(w, problems, total) => {
            // What `check` fails the file for outside what the comparison read (a sha256 trailer
            // that does not match, damage beside the `key` tree) is told too.
            let beside = &issues[if *w == Which::A { 0 } else { 1 }];
            let more: Vec<_> = beside.iter().filter(|b| !problems.contains(b)).cloned().collect();
            let total = total + more.len() as u64;
            let problems = &[&problems[..], &more[..]].concat();
            print_problems(p, problems, total);
            v["error"]["kind"] = "damaged".into();
            v["problems"] = serde_json::to_value(problems).unwrap_or_default();
            v["problem_total"] = total.into();
            Verdict::Problems
        }
        CompareError::NotEtcd(_) => Verdict::Unreadable,
    };
    errln!("boltscope: {}: cannot compare: {e}", p.display());
    if json {
        let _ = out.write_all(format!("{v}\n").as_bytes());
    }
    verdict
}

/// Runs `diff`: exit 0 when the live states are equal, 1 when they differ (or the files are at
/// the same revision with histories that differ: `inconsistent`), 2 when a file cannot be read or
/// compared.
pub fn run(args: &DiffArgs, ix: &Ix) -> Verdict {
    let decode = args.decode.then_some(DecodeOptions { show_secrets: args.show_secrets });
    let opt = Options {
        prefix: args.prefix.clone().unwrap_or_default().into_bytes(),
        by: args.by,
        decode,
        budget: args.pass_budget.unwrap_or(BUDGET),
    };
    let (outcome, torn, issues, remembered) = compare_files(args, &opt, ix);
    let path = |w: Which| match w {
        Which::A => &args.a,
        Which::B => &args.b,
    };
    let json = args.write_out == TableJson::Json;
    let mut out = crate::out::stdout();
    let c = match outcome {
        Outcome::Failed(w, e) => {
            errln!("boltscope: {}: {e}", path(w).display());
            if json {
                let _ = out.write_all(error_json(path(w), &e).as_bytes());
            }
            return Verdict::of_error(&e);
        }
        Outcome::Refused(errors) => {
            // Each file that cannot be compared is told (both, when both are damaged).
            let mut verdict = Verdict::Clean;
            for e in &errors {
                verdict = verdict.max(refused(e, path(e.which()), &issues, json, &mut out));
            }
            // The other file, when it was readable, with what `check` fails it for (a trailer
            // that does not match, say): told too.
            for (i, w) in [Which::A, Which::B].into_iter().enumerate() {
                if issues[i].is_empty() || errors.iter().any(|e| e.which() == w) {
                    continue;
                }
                print_problems(path(w), &issues[i], issues[i].len() as u64);
                if json {
                    let v = serde_json::json!({
                        "path": path(w).display().to_string(),
                        "ok": false,
                        "problems": issues[i],
                        "problem_total": issues[i].len(),
                    });
                    let _ = out.write_all(format!("{v}\n").as_bytes());
                }
                verdict = verdict.max(Verdict::Problems);
            }
            return verdict;
        }
        Outcome::Done(c) => c,
    };
    for (w, t) in [(Which::A, torn[0]), (Which::B, torn[1])] {
        if t {
            errln!(
                "boltscope: {}: the file changed on every read (a live etcd committing?); the diff may be torn",
                path(w).display()
            );
        }
    }
    let mut issues = issues;
    for (i, p) in c.problems.iter().enumerate() {
        issues[i].extend(p.iter().cloned());
    }
    let shown = Shown {
        a: &args.a.display().to_string(),
        b: &args.b.display().to_string(),
        values: args.values || args.decode,
        torn,
        problems: [&issues[0], &issues[1]],
        remembered: [remembered[0].as_ref(), remembered[1].as_ref()],
    };
    let text = if json { diff_render::json(&c, &shown) } else { diff_render::table(&c, &shown) };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    // The trees compared may be equal, but a file `check` fails is no clean answer.
    let mut damaged = false;
    // `diff A A`: the one file's problems are told once (they were told for each side).
    let sides = if path(Which::A) == path(Which::B) { 1 } else { 2 };
    for (w, found) in [(Which::A, &issues[0]), (Which::B, &issues[1])].into_iter().take(sides) {
        if !found.is_empty() {
            print_problems(path(w), found, found.len() as u64);
            errln!("boltscope: {}: `check` fails this file; compared: the tree bbolt reads", path(w).display());
            damaged = true;
        }
    }
    for (w, f) in [(Which::A, &remembered[0]), (Which::B, &remembered[1])].into_iter().take(sides) {
        damaged |= crate::keyread::tell_remembered(path(w), f.clone()) != Verdict::Clean;
    }
    // Two files at the same revision whose histories differ are not the same file even when their
    // live states agree: one of them (or its member) went wrong, as etcd's hashkv check would say.
    let inconsistent = c.relation.kind == boltscope::analysis::relation::Kind::Inconsistent;
    Verdict::problems_if(!c.keys.equal() || damaged || inconsistent)
}
