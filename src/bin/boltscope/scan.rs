//! `scan`: every bbolt/etcd file in a folder tree, analysed in parallel into the index.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::inspect::inspect_file;
use boltscope::analysis::inspect;
use boltscope::etcd::humanize::bytes as h;
use clap::Parser;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Arguments of `scan`.
#[derive(Parser, Debug)]
pub struct ScanArgs {
    /// The folder to scan (recursively; symbolic links to folders are not followed).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Whether a file starts like a bbolt file: the magic in meta page 0 (either byte order), or in
/// meta page 1 at a usual page size.
fn looks_like_bbolt(p: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(p) else { return false };
    let mut head = vec![0u8; 65536 + 32];
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    [0usize, 4096, 16384, 65536]
        .iter()
        .any(|&at| head.get(at..n).and_then(boltscope::bbolt::meta::detect_order).is_some())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            walk(&e.path(), out);
        } else if t.is_file() {
            out.push(e.path());
        }
    }
}

/// `scan`: every bbolt file in the tree, inspected in parallel (through the index).
pub fn run(a: &ScanArgs, ix: &Ix) -> Verdict {
    if !a.dir.is_dir() {
        eprintln!("boltscope: scan: {} is not a folder", a.dir.display());
        return Verdict::Unreadable;
    }
    let mut files = Vec::new();
    walk(&a.dir, &mut files);
    let dbs: Vec<&PathBuf> = files.par_iter().filter(|p| looks_like_bbolt(p)).collect();
    let opt = inspect::Options::default();
    let results: Vec<_> = dbs.par_iter().map(|p| inspect_file(p, &opt, ix)).collect();
    let (mut total, mut problems, mut failed) = (0u64, 0u64, 0u64);
    for (p, r) in dbs.iter().zip(&results) {
        match r {
            Ok((r, _)) => {
                total += r.size.total;
                problems += u64::from(r.problem_total > 0);
                let rev = r.etcd.as_ref().map_or("-".into(), |e| e.current_revision.to_string());
                let verdict =
                    if r.problem_total == 0 { "ok".to_string() } else { format!("{} problem(s)", r.problem_total) };
                println!(
                    "{}  size {}  in use {}  frag {:.0}%  revision {rev}  {verdict}",
                    p.display(),
                    h(r.size.total),
                    h(r.size.in_use),
                    r.size.fragmentation * 100.0
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
