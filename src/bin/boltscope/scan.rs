//! `scan`: every bbolt/etcd file in a folder tree, analysed in parallel into the index.

use crate::cli::TableJson;
use crate::exit::Verdict;
use crate::index::Ix;
use crate::inspect::{found, inspect_file};
use crate::report::error_value;
use boltscope::analysis::backup_files::{self, Walked};
use boltscope::analysis::inspect;
use boltscope::analysis::report::Inspect;
use boltscope::etcd::humanize::bytes as h;
use clap::Parser;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Arguments of `scan`.
#[derive(Parser, Debug)]
pub struct ScanArgs {
    /// The folder to scan (recursively; a symbolic link to a file is read, one to a folder is not followed).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Output: `table` (one line per file, then a summary) or `json`: one object per line per
    /// file (`{"path","ok","verdict",...}`, or `{"path","ok":false,"error":{"kind","message"}}`
    /// for one that could not be read, a folder too, or `{"path","skipped"}` for one that is no
    /// regular file), then `{"summary":{...}}`.
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = TableJson::Table)]
    pub write_out: TableJson,
}

/// `scan`: every bbolt file in the tree, inspected in parallel (through the index). The verdict
/// of each file is the one `check` gives it (without gates); the exit code is 1 when any file has
/// problems, 2 when any file or folder could not be read.
pub fn run(a: &ScanArgs, ix: &Ix) -> Verdict {
    if !a.dir.is_dir() {
        errln!("boltscope: scan: {} is not a folder", a.dir.display());
        return Verdict::Unreadable;
    }
    let mut walked = Walked::default();
    walked.walk(&a.dir);
    let (files, folders) = (&walked.files, &walked.unreadable);
    // The index itself may sit in the folder under a backup's name (`--index DIR/index.db`).
    let dbs: Vec<&PathBuf> =
        files.par_iter().filter(|p| backup_files::classify(p).taken() && !ix.is_own_file(p)).collect();
    let opt = inspect::Options::default();
    let results: Vec<_> = dbs.par_iter().map(|p| inspect_file(p, &opt, None, ix)).collect();
    let (mut total, mut problems, mut failed) = (0u64, 0u64, 0u64);
    let json = a.write_out == TableJson::Json;
    for (d, e) in folders {
        failed += 1;
        let shown = format!("{}/", d.display());
        if json {
            outln!("{}", error_value(&shown, "unreadable_folder", &e.to_string()));
        } else {
            outln!("{shown}  unreadable folder: {e}");
        }
    }
    for p in &walked.special {
        if json {
            outln!("{}", serde_json::json!({ "path": p.display().to_string(), "skipped": SPECIAL }));
        } else {
            outln!("{}  skipped: {SPECIAL}", p.display());
        }
    }
    for (p, r) in dbs.iter().zip(&results) {
        match r {
            Ok((r, torn)) => {
                // A high-water mark past the end of a damaged file makes a huge size: summed saturating
                // (review 45a: 2^64-1 pages wrapped the sum around to 20 kB).
                total = total.saturating_add(r.size.total);
                let bad = r.errors() > 0 || *torn;
                problems += u64::from(bad);
                // The verdict recorded: a file that kept changing while read is no ok.
                let verdict = found(r, *torn).verdict();
                if json {
                    outln!("{}", file_json(p, r, *torn, &verdict));
                    continue;
                }
                let rev = r.etcd.as_ref().map_or("-".into(), |e| e.current_revision.to_string());
                let in_use = r.size.in_use.map_or("-".into(), h);
                let frag = r.size.fragmentation.map_or("-".into(), |f| format!("{:.0}%", f * 100.0));
                outln!(
                    "{}  size {}  in use {in_use}  frag {frag}  revision {rev}  {verdict}",
                    p.display(),
                    h(r.size.total)
                );
            }
            Err(e) => {
                failed += 1;
                if json {
                    outln!("{}", error_value(&p.display().to_string(), e.kind().name(), &e.to_string()));
                } else {
                    outln!("{}  unreadable: {e}", p.display());
                }
            }
        }
    }
    let read = results.iter().filter(|r| r.is_ok()).count();
    let skipped = files.len() - dbs.len() + walked.special.len();
    let seen = files.len() + walked.special.len();
    if json {
        let summary = serde_json::json!({ "summary": {
            "files": seen, "bbolt": read, "bytes": total, "with_problems": problems,
            "unreadable": failed, "skipped": skipped, "recorded": ix.enabled(),
        }});
        outln!("{summary}");
    } else {
        outln!(
            "scanned {seen} files: {read} bbolt ({} in all), {problems} with problems, {failed} unreadable, \
             {skipped} skipped{}",
            h(total),
            if ix.enabled() { "" } else { "; no index, nothing recorded" }
        );
    }
    if failed > 0 {
        Verdict::Unreadable
    } else {
        Verdict::problems_if(problems > 0)
    }
}

/// Why a file named like a backup is listed but never opened.
const SPECIAL: &str = "named like a backup, but not a regular file (never opened)";

/// A file's line of `scan -w json`: check's verdict (and `ok`, as `check -w json` gives it) with
/// the figures of the table's line; figures a file does not have are null.
#[derive(serde::Serialize)]
struct FileLine<'a> {
    path: String,
    ok: bool,
    verdict: &'a str,
    changed_while_read: bool,
    size: u64,
    in_use: Option<u64>,
    fragmentation: Option<f64>,
    revision: Option<u64>,
    problem_total: u64,
    warnings: u64,
}

fn file_json(p: &Path, r: &Inspect, torn: bool, verdict: &str) -> String {
    let line = FileLine {
        path: p.display().to_string(),
        ok: r.errors() == 0 && !torn,
        verdict,
        changed_while_read: torn,
        size: r.size.total,
        in_use: r.size.in_use,
        fragmentation: r.size.fragmentation,
        revision: r.etcd.as_ref().map(|e| e.current_revision),
        problem_total: r.problem_total,
        warnings: r.warnings,
    };
    serde_json::to_string(&line).unwrap_or_default()
}
