//! `history`: what the index remembers, per file over time.

use crate::cli::TableJson;
use crate::exit::Verdict;
use crate::index::Ix;
use boltscope::etcd::humanize::bytes as h;
use boltscope::index::path::{display, key};
use boltscope::index::HistoryRow;
use clap::Parser;
use std::path::PathBuf;

/// Arguments of `history`.
#[derive(Parser, Debug)]
pub struct HistoryArgs {
    /// `table` or `json` (one object per row per line).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = TableJson::Table)]
    pub write_out: TableJson,
    /// Per file, how each group of keys (resource, namespace, prefix) changed between the first
    /// and the latest `du` of it: stored and live bytes, largest change first.
    #[arg(long)]
    pub resources: bool,
    /// Only these files (default: every file the index knows).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// A UTC date and time, `YYYY-MM-DD HH:MM:SS`, for seconds since the Unix epoch.
pub fn when(secs: u64) -> String {
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
pub fn run(a: &HistoryArgs, ix: &Ix) -> Verdict {
    // Rows are kept under each file's exact name (`index::path`), shown with `\xNN` for bytes that
    // are not UTF-8.
    let paths: Vec<String> =
        a.paths.iter().map(|p| key(&std::path::absolute(p).unwrap_or_else(|_| p.clone()))).collect();
    if a.resources {
        return crate::history_du::run(&paths, a.write_out, ix);
    }
    let rows = match ix.history(&paths) {
        Ok(r) => r,
        Err(e) => {
            errln!("boltscope: history: {e}");
            return Verdict::Unreadable;
        }
    };
    let mut out = String::new();
    match a.write_out {
        TableJson::Json => {
            for r in &rows {
                let r = HistoryRow { path: display(&r.path), ..r.clone() };
                out.push_str(&serde_json::to_string(&r).unwrap_or_default());
                out.push('\n');
            }
        }
        TableJson::Table => {
            let mut last = String::new();
            for r in &rows {
                if r.path != last {
                    let name = display(&r.path);
                    out.push_str(&format!(
                        "{name}\n  {:<19} {:<8} {:>8} {:>8} {:>9} {:>8} {:>5}  VERDICT\n",
                        "WHEN (UTC)", "COMMAND", "FILE", "DB SIZE", "REVISION", "IN USE", "FRAG"
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
    out!("{out}");
    Verdict::Clean
}
