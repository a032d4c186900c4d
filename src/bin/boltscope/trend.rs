//! `trend`: backups grouped into series, their growth per day and the days left until the quota.

use crate::exit::Verdict;
use crate::history::when;
use crate::index::Ix;
use crate::report::{print_problems, Found};
use crate::trend_once::{linked_once, once, renamed};
use crate::{trend_plot, trend_render};
use boltscope::analysis::backup_files::{self, Walked};
use boltscope::analysis::backup_name;
use boltscope::analysis::backup_point::{self, Measure, Withheld};
use boltscope::analysis::diff::BUDGET;
use boltscope::analysis::trend::{self, Point, Series, TimeFrom};
use boltscope::error::Error;
use boltscope::index;
use boltscope::DbView;
use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `trend`.
#[derive(Parser, Debug)]
pub struct TrendArgs {
    /// Output: `table` for people, `json` (one object), or `prometheus` (text exposition).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = TrendFormat::Table)]
    pub write_out: TrendFormat,
    /// The backend quota (etcd's --quota-backend-bytes); accepts 8GiB, 2GB, ...
    #[arg(long, default_value = "2GiB", value_parser = crate::cli::parse_size)]
    pub quota: u64,
    /// Also write a chart of size, in-use size and quota over time to this SVG file (as `compact`
    /// writes its copy: a temporary file renamed into place; never over a backup read, nor over a
    /// FIFO or device; an existing file only with --force).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Replace the --plot file when it exists.
    #[arg(long, requires = "plot")]
    pub force: bool,
    /// A series whose last backup is older than this many hours is stale.
    #[arg(long, value_name = "HOURS", default_value_t = 26.0)]
    pub stale_after: f64,
    /// Judge ages at this time (seconds since the Unix epoch) instead of now.
    #[arg(long, value_name = "SECONDS")]
    pub now: Option<i64>,
    /// Backups, or folders of them (searched recursively) [default: every file the index knows].
    #[arg(value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,
}

/// `trend -w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendFormat {
    /// Aligned text with a sparkline per series.
    Table,
    /// One JSON object.
    Json,
    /// Prometheus text format.
    Prometheus,
}

/// `error.kind` of a folder whose listing failed.
const UNREADABLE_FOLDER: &str = "unreadable_folder";

/// The index tag of a measured backup (2: measured by `check`'s pass, the trailer verified; what
/// `trend/1` kept was measured without the trailer and is not reused).
const TAG: &str = "trend/2";

/// A file that gave no point.
#[derive(Default)]
pub struct Skipped {
    /// The path.
    pub path: String,
    /// `error.kind` in JSON.
    pub kind: String,
    /// Why.
    pub message: String,
    /// A damaged file's problems (page, byte offset) and their count, as every command's JSON
    /// lists them.
    pub problems: Option<(Vec<boltscope::Problem>, u64)>,
}

/// The time of a backup: from its name, else (also for a name that is not UTF-8) its
/// modification time.
fn time_of(path: &Path) -> Option<(i64, TimeFrom)> {
    if let Some(s) = path.file_name().and_then(|n| n.to_str()).and_then(backup_name::parse) {
        return Some((s.unix, TimeFrom::Name));
    }
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let secs = m.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some((i64::try_from(secs).ok()?, TimeFrom::Mtime))
}

/// Why a file gave no point.
pub enum Failure {
    /// It could not be read.
    Unreadable(Error),
    /// It was read, and found damaged: its figures are withheld.
    Withheld(Withheld),
}

/// Measures one file, from the index when it knows the file; remembers a clean answer. Also
/// whether the file changed on every read (a problem: its point may be torn), and the file's
/// identity as history rows name it, when the index keeps it.
fn measure(path: &Path, ix: &Ix) -> (Result<(Measure, bool), Failure>, Option<String>) {
    let mut named = None;
    let r = measure_named(path, ix, &mut named);
    (r, named)
}

fn measure_named(path: &Path, ix: &Ix, named: &mut Option<String>) -> Result<(Measure, bool), Failure> {
    let res = ix.read(path, |data| {
        let (id, hit) = ix.lookup::<Measure>(path, data, TAG);
        // The trailer was verified when the answer was stored, and is hashed again: bit rot keeps
        // the identity (size, meta pages, mtime), as `du` and `inspect` know.
        if let Some(m) = hit.filter(|_| crate::inspect::trailer_holds(data)) {
            return Ok((Ok(m), id, false, data.len() as u64));
        }
        Ok((backup_point::measure(&DbView::new(data)?, BUDGET), id, true, data.len() as u64))
    });
    let ((r, id, read, len), torn) = res.map_err(Failure::Unreadable)?;
    if torn {
        errln!("boltscope: {}: the file changed on every read (a live etcd committing?)", path.display());
    }
    *named = id.as_ref().map(crate::index::file_identity);
    if let Some(id) = id.filter(|_| read) {
        // check's words for what check's pass found: `ok, N warning(s)` as much as `N problem(s)`.
        let (errors, warnings) = match &r {
            Ok(m) => (0, m.warnings),
            Err(w) => (w.errors.max(1), w.warnings),
        };
        // A file that changed on every read is no ok, whatever this read found.
        let found = Found { errors, warnings, torn, ..Found::default() };
        let mut row = ix.row(path, len, found.verdict());
        if let Ok(m) = &r {
            row.total_size = Some(m.size);
            row.revision = m.revision;
            row.in_use = m.in_use;
            row.fragmentation = m.in_use.map(|u| if m.size == 0 { 0.0 } else { (m.size - u) as f64 / m.size as f64 });
        }
        // check's pass, the trailer verified: its clean verdict is check's.
        ix.store_checked(&id, TAG, r.as_ref().ok().filter(|_| !torn), &row);
    }
    r.map(|m| (m, torn)).map_err(Failure::Withheld)
}

/// A point for a file the index remembers but that is gone: its last recorded figures, when its
/// name carries its time.
fn remembered(row: &boltscope::index::HistoryRow) -> Option<Point> {
    let path = index::path::path(&row.path);
    let name = path.file_name()?.to_str()?;
    let stamp = backup_name::parse(name)?;
    let measure = Measure {
        size: row.total_size?,
        in_use: row.in_use,
        revision: row.revision,
        live_keys: None,
        live_bytes: None,
        resources: Vec::new(),
        warnings: 0,
    };
    Some(Point {
        path: index::path::display(&row.path),
        time: stamp.unix,
        time_from: TimeFrom::Name,
        measure,
        gone: true,
    })
}

/// What [`measure`] gives: the measure (and whether the file changed while read), and the file's
/// identity.
pub type Measured = (Result<(Measure, bool), Failure>, Option<String>);

/// What to read: files, points of files that are gone (with the file each was, when its row
/// names it), files that give no point.
type Gathered = (Vec<PathBuf>, Vec<(Point, Option<String>)>, Vec<Skipped>);

/// The files to read: those named (folders searched), else every path the index knows, with the
/// points of files that are gone.
fn gather(args: &TrendArgs, ix: &Ix) -> Result<Gathered, String> {
    if !args.paths.is_empty() {
        let (mut files, mut walked) = (Vec::new(), Walked::default());
        for p in &args.paths {
            if p.is_dir() {
                walked.walk(p);
            } else {
                files.push(p.clone());
            }
        }
        files.extend(walked.files.into_iter().filter(|p| backup_files::classify(p).taken() && !ix.is_own_file(p)));
        let mut skipped: Vec<Skipped> = walked
            .unreadable
            .into_iter()
            .map(|(d, e)| Skipped {
                path: d.display().to_string(),
                kind: UNREADABLE_FOLDER.into(),
                message: format!("unreadable folder: {e}"),
                problems: None,
            })
            .collect();
        // A file named twice (`trend dir dir/x`, `trend dir ./dir/`) is one backup, and so is
        // one linked under two names.
        let files = linked_once(files, &mut skipped);
        return Ok((files, Vec::new(), skipped));
    }
    let rows = ix.history(&[])?;
    // Each file's latest row, and the latest that found problems unless a read that judged the
    // whole file found none after it: a file found damaged after an earlier clean read must not
    // come back as that clean read once it is gone, nor as a later read that checked less (status
    // says `not verified`: it does not hash the trailer).
    let mut latest: BTreeMap<String, (&boltscope::index::HistoryRow, Option<&boltscope::index::HistoryRow>)> =
        BTreeMap::new();
    let mut ordered: Vec<&boltscope::index::HistoryRow> = rows.iter().collect();
    ordered.sort_by_key(|r| r.analysed_at);
    for r in ordered {
        let e = latest.entry(r.path.clone()).or_insert((r, None));
        e.0 = r;
        if !r.found_no_problem() {
            e.1 = Some(r);
        } else if r.judged_sound() {
            e.1 = None;
        }
    }
    let (mut files, mut gone, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (key, (last, failed)) in latest {
        let row = failed.unwrap_or(last);
        // Rows name a file exactly (`index::path`), whatever its bytes.
        let path = index::path::path(&key);
        if path.is_file() {
            files.push(path);
        } else if !row.found_no_problem() {
            // Listed, not counted: it was unsound when last read. Deleting it is no failure of
            // the backups left, so the exit code stays.
            let message = format!("gone; when last read ({}): {}, figures withheld", row.command, row.verdict);
            skipped.push(Skipped { path: index::path::display(&key), kind: "gone".into(), message, problems: None });
        } else if let Some(p) = remembered(row) {
            gone.push((p, row.file_identity.clone()));
        } else {
            let message = "gone, and its name carries no time".to_string();
            skipped.push(Skipped { path: index::path::display(&key), kind: "gone".into(), message, problems: None });
        }
    }
    let files = linked_once(files, &mut skipped);
    Ok((files, gone, skipped))
}

/// Runs `trend`.
pub fn run(args: &TrendArgs, ix: &Ix) -> Verdict {
    let (files, gone, mut skipped) = match gather(args, ix) {
        Ok(g) => g,
        Err(e) => {
            errln!("boltscope: trend: name backups or folders, or keep an index: {e}");
            return Verdict::Unreadable;
        }
    };
    let measured: Vec<(&PathBuf, _)> = files.par_iter().map(|p| (p, measure(p, ix))).collect();
    let mut points = renamed(gone, &measured, &mut skipped);
    let mut verdict = Verdict::Clean;
    for s in skipped.iter().filter(|s| s.kind == UNREADABLE_FOLDER) {
        errln!("boltscope: {}: {}", s.path, s.message);
        verdict = Verdict::Unreadable;
    }
    for (p, (r, _)) in measured {
        // Shown as history shows it: bytes that are not UTF-8 as `\xNN`.
        let shown = index::path::display(&index::path::key(p));
        // A file that changed on every read is a problem, as for every command.
        if matches!(r, Ok((_, true))) {
            verdict = verdict.max(Verdict::Problems);
        }
        match (r, time_of(p)) {
            (Ok((measure, _)), Some((time, time_from))) => {
                points.push(Point { path: shown, time, time_from, measure, gone: false })
            }
            (Ok(_), None) => {
                skipped.push(Skipped { path: shown, kind: "no_time".into(), message: "no time".into(), problems: None })
            }
            (Err(Failure::Unreadable(e)), _) => {
                // Files found in folders were taken as backups by their bytes or their names
                // (`backup_files`), so one that cannot be read counts as one named does.
                errln!("boltscope: {shown}: {e}");
                verdict = verdict.max(Verdict::of_error(&e));
                skipped.push(Skipped {
                    path: shown,
                    kind: e.kind().name().into(),
                    message: e.to_string(),
                    problems: None,
                });
            }
            (Err(Failure::Withheld(w)), _) => {
                print_problems(p, &w.problems, w.total);
                verdict = verdict.max(Verdict::Problems);
                let message = format!("{} problem(s): figures withheld", w.errors.max(1));
                let problems = Some((w.problems.clone(), w.total));
                skipped.push(Skipped { path: shown, kind: "damaged".into(), message, problems });
            }
        }
    }
    once(&mut points, &mut skipped);
    let mut groups: BTreeMap<(String, String), Vec<Point>> = BTreeMap::new();
    for p in points {
        let path = Path::new(&p.path);
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let folder = abs.parent().map_or_else(String::new, |d| d.display().to_string());
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let series = backup_name::parse(&name).map_or(name, |s| s.series);
        groups.entry((folder, series)).or_default().push(p);
    }
    let now = args.now.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    });
    let series: Vec<Series> =
        groups.into_iter().map(|((folder, name), pts)| trend::estimate(folder, name, pts, args.quota, now)).collect();
    let view = trend_render::View { quota: args.quota, now, stale_after: (args.stale_after * 3600.0) as i64 };
    // A warning, not a problem (the exit code stays): such a backup may well be sound, but it is
    // no proof that one was taken lately.
    for p in series.iter().flat_map(|s| s.future_dated(now)) {
        let by = match p.time_from {
            TimeFrom::Name => "its name",
            TimeFrom::Mtime => "its modification time",
        };
        errln!(
            "boltscope: warning: {}: dated {} UTC by {by}, after now ({} UTC): clock skew or a wrong name? it is not \
             counted as its series' latest backup",
            p.path,
            when(p.time.max(0) as u64),
            when(now.max(0) as u64)
        );
    }
    if let Some(svg) = &args.plot {
        // Every file read (skipped ones too), by its real name: none may be replaced.
        let read: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        if let Err(e) = trend_plot::write(svg, &series, args.quota, &read, args.force) {
            errln!("boltscope: {}: {e}", svg.display());
            verdict = Verdict::Unreadable;
        }
    }
    let text = match args.write_out {
        TrendFormat::Table => trend_render::table(&series, &skipped, &view),
        TrendFormat::Json => trend_render::json(&series, &skipped, &view),
        TrendFormat::Prometheus => trend_render::prometheus(&series, &skipped, &view),
    };
    let _ = crate::out::stdout().write_all(text.as_bytes());
    verdict
}
