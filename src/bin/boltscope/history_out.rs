//! `history` (what the index remembers) and `scan` (analyse a folder tree into the index).

use crate::cli::{CheckFormat, HistoryArgs, ScanArgs};
use crate::index::Ix;
use crate::output::inspect_file;
use boltscope::humanize::bytes as h;
use boltscope::inspect;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

fn when(secs: u64) -> String {
    // UTC date and time from days since the epoch (civil-from-days).
    let (days, rem) = (secs / 86400, secs % 86400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), T::to_string)
}

/// `history`: rows by file, then time.
pub fn history(a: &HistoryArgs, ix: &Ix) -> u8 {
    let paths: Vec<String> =
        a.paths.iter().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()).display().to_string()).collect();
    let rows = match ix.history(&paths) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("boltscope: history: {e}");
            return 2;
        }
    };
    let mut out = String::new();
    match a.write_out {
        CheckFormat::Json => {
            for r in &rows {
                out.push_str(&serde_json::to_string(r).unwrap_or_default());
                out.push('\n');
            }
        }
        CheckFormat::Table => {
            let mut last = String::new();
            for r in &rows {
                if r.path != last {
                    out.push_str(&format!(
                        "{}\n  {:<19} {:<8} {:>8} {:>8} {:>9} {:>8} {:>5}  VERDICT\n",
                        r.path, "WHEN (UTC)", "COMMAND", "FILE", "DB SIZE", "REVISION", "IN USE", "FRAG"
                    ));
                    last = r.path.clone();
                }
                let frag = r.fragmentation.map_or("-".into(), |f| format!("{:.0}%", f * 100.0));
                out.push_str(&format!(
                    "  {:<19} {:<8} {:>8} {:>8} {:>9} {:>8} {:>5}  {}\n",
                    when(r.analysed_at),
                    r.command,
                    h(r.file_size),
                    r.total_size.map_or("-".into(), h),
                    opt(&r.revision),
                    r.in_use.map_or("-".into(), h),
                    frag,
                    r.verdict
                ));
            }
            if rows.is_empty() {
                out.push_str("no analysed files recorded\n");
            }
        }
    }
    print!("{out}");
    0
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
    [0usize, 4096, 16384, 65536].iter().any(|&at| head.get(at..n).and_then(boltscope::meta::detect_order).is_some())
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
pub fn scan(a: &ScanArgs, ix: &Ix) -> u8 {
    if !a.dir.is_dir() {
        eprintln!("boltscope: scan: {} is not a folder", a.dir.display());
        return 2;
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
    u8::from(problems + failed > 0)
}
