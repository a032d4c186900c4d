//! `scan`: every bbolt/etcd file in a folder tree, analysed in parallel into the index.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::inspect::inspect_file;
use crate::report::verdict_text;
use boltscope::analysis::inspect;
use boltscope::etcd::humanize::bytes as h;
use boltscope::input;
use clap::Parser;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Arguments of `scan`.
#[derive(Parser, Debug)]
pub struct ScanArgs {
    /// The folder to scan (recursively; symbolic links to folders are not followed).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Whether a file starts like a bbolt file: the magic in meta page 0 (either byte order), or in
/// meta page 1 at a usual page size; inside a zip, gzip or zstd container too (its first bytes
/// only are decompressed). A file that cannot be read, or a container that cannot be expanded
/// that far (a backup cut short), is taken too: it is then listed as unreadable, not skipped.
fn looks_like_bbolt(p: &Path) -> bool {
    let head = match input::peek(p, 65536 + 32) {
        Ok(Some(head)) => head,
        Ok(None) => return false,
        Err(_) => return true,
    };
    [0usize, 4096, 16384, 65536]
        .iter()
        .any(|&at| head.get(at..).and_then(boltscope::bbolt::meta::detect_order).is_some())
}

/// Every regular file below `dir` (symbolic links are not followed), sorted by name; folders that
/// cannot be read are listed in `unreadable`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, unreadable: &mut Vec<(PathBuf, std::io::Error)>) {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => return unreadable.push((dir.to_path_buf(), e)),
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&e.path(), out, unreadable);
        } else if t.is_file() {
            out.push(e.path());
        }
    }
}

/// `scan`: every bbolt file in the tree, inspected in parallel (through the index). The verdict
/// of each file is the one `check` gives it (without gates); the exit code is 1 when any file has
/// problems, 2 when any file or folder could not be read.
pub fn run(a: &ScanArgs, ix: &Ix) -> Verdict {
    if !a.dir.is_dir() {
        eprintln!("boltscope: scan: {} is not a folder", a.dir.display());
        return Verdict::Unreadable;
    }
    let (mut files, mut folders) = (Vec::new(), Vec::new());
    walk(&a.dir, &mut files, &mut folders);
    let dbs: Vec<&PathBuf> = files.par_iter().filter(|p| looks_like_bbolt(p)).collect();
    let opt = inspect::Options::default();
    let results: Vec<_> = dbs.par_iter().map(|p| inspect_file(p, &opt, None, ix)).collect();
    let (mut total, mut problems, mut failed) = (0u64, 0u64, 0u64);
    for (d, e) in &folders {
        failed += 1;
        println!("{}/  unreadable folder: {e}", d.display());
    }
    for (p, r) in dbs.iter().zip(&results) {
        match r {
            Ok((r, torn)) => {
                total += r.size.total;
                let bad = r.errors() > 0 || *torn;
                problems += u64::from(bad);
                let rev = r.etcd.as_ref().map_or("-".into(), |e| e.current_revision.to_string());
                let mut verdict = verdict_text(r.errors(), r.warnings, false);
                if *torn {
                    verdict.push_str(", kept changing while read");
                }
                let in_use = r.size.in_use.map_or("-".into(), h);
                let frag = r.size.fragmentation.map_or("-".into(), |f| format!("{:.0}%", f * 100.0));
                println!(
                    "{}  size {}  in use {in_use}  frag {frag}  revision {rev}  {verdict}",
                    p.display(),
                    h(r.size.total)
                );
            }
            Err(e) => {
                failed += 1;
                println!("{}  unreadable: {e}", p.display());
            }
        }
    }
    println!(
        "scanned {} files: {} bbolt ({} in all), {} with problems, {} unreadable, {} skipped{}",
        files.len(),
        dbs.len(),
        h(total),
        problems,
        failed,
        files.len() - dbs.len(),
        if ix.enabled() { "" } else { "; no index, nothing recorded" }
    );
    if failed > 0 {
        Verdict::Unreadable
    } else {
        Verdict::problems_if(problems > 0)
    }
}
