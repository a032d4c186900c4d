//! `history --resources`: per file, how each group of keys changed between the first and the
//! latest `du` the index remembers (stored and live bytes), largest change in stored bytes first.

use crate::cli::TableJson;
use crate::exit::Verdict;
use crate::history::when;
use crate::index::Ix;
use boltscope::etcd::humanize::bytes as h;
use boltscope::index::du::{growth, DuGroup, DuRow};
use boltscope::index::path::display;
use std::fmt::Write;

#[derive(serde::Serialize)]
struct Change<'a> {
    name: &'a str,
    before: &'a DuGroup,
    after: &'a DuGroup,
    stored_change: i128,
}

#[derive(serde::Serialize)]
struct FileGrowth<'a> {
    path: &'a str,
    by: &'a str,
    first: u64,
    last: u64,
    analyses: usize,
    groups: Vec<Change<'a>>,
}

fn signed(x: i128) -> String {
    let s = h(x.unsigned_abs().min(u128::from(u64::MAX)) as u64);
    if x < 0 {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}

/// Prints the growth per group of every file (`paths` absolute; all when empty).
pub fn run(paths: &[String], w: TableJson, ix: &Ix) -> Verdict {
    let rows = match ix.du_history(paths) {
        Ok(r) => r,
        Err(e) => {
            errln!("boltscope: history: {e}");
            return Verdict::Unreadable;
        }
    };
    let mut files: Vec<(&str, Vec<&DuRow>)> = Vec::new();
    for r in &rows {
        match files.last_mut() {
            Some((p, v)) if *p == r.path => v.push(r),
            _ => files.push((&r.path, vec![r])),
        }
    }
    let mut out = String::new();
    for (path, v) in &files {
        let (Some(first), Some(last)) = (v.iter().find(|r| r.by == v[v.len() - 1].by), v.last()) else { continue };
        let g = growth(first, last);
        match w {
            TableJson::Json => {
                let groups = g
                    .iter()
                    .map(|c| Change {
                        name: &c.name,
                        before: &c.before,
                        after: &c.after,
                        stored_change: c.stored_change(),
                    })
                    .collect();
                let shown = display(path);
                let f = FileGrowth {
                    path: &shown,
                    by: &last.by,
                    first: first.analysed_at,
                    last: last.analysed_at,
                    analyses: v.len(),
                    groups,
                };
                out.push_str(&serde_json::to_string(&f).unwrap_or_default());
                out.push('\n');
            }
            TableJson::Table => {
                let _ = writeln!(
                    out,
                    "{}\n  du {} -> {} ({} analyses), by {}",
                    display(path),
                    when(first.analysed_at),
                    when(last.analysed_at),
                    v.len(),
                    last.by
                );
                let _ = writeln!(
                    out,
                    "  {:<32} {:>10} {:>10} {:>10} {:>10} {:>10}",
                    "GROUP", "STORED", "NOW", "CHANGE", "LIVE", "NOW"
                );
                for c in &g {
                    let _ = writeln!(
                        out,
                        "  {:<32} {:>10} {:>10} {:>10} {:>10} {:>10}",
                        c.name.chars().take(32).collect::<String>(),
                        h(c.before.stored_bytes),
                        h(c.after.stored_bytes),
                        signed(c.stored_change()),
                        h(c.before.live_bytes),
                        h(c.after.live_bytes)
                    );
                }
            }
        }
    }
    if files.is_empty() && w == TableJson::Table {
        out.push_str("no du results recorded (run `boltscope du FILE` first)\n");
    }
    out!("{out}");
    Verdict::Clean
}
