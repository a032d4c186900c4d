//! `du`: what fills each file, by Kubernetes resource, namespace or key prefix, with the keys to
//! blame; from the index when it knows the file.

use crate::du_render;
use crate::exit::Verdict;
use crate::index::Ix;
use crate::report::{error_json, Found};
use boltscope::analysis::du::{self, By, Options};
use boltscope::analysis::du_report::Du;
use boltscope::error::Error;
use boltscope::etcd::trailer;
use boltscope::DbView;
use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `du`.
#[derive(Parser, Debug)]
pub struct DuArgs {
    /// Output: `table` for people, `json` (one object per file per line), `csv` (one row per
    /// group, with a header), or `prometheus` (text exposition for node_exporter).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = DuFormat::Table)]
    pub write_out: DuFormat,
    /// Group keys by Kubernetes resource, namespace, both, or key prefix (`prefix:N`: the first N
    /// `/`-separated segments). Default: resource when keys live under /registry/,
    /// /kubernetes.io/ or /openshift.io/, else prefix:1.
    #[arg(long, value_name = "resource|namespace|resource+namespace|prefix[:N]", value_parser = By::parse)]
    pub by: Option<By>,
    /// Only keys starting with P (for a generic bbolt file: `bucket/.../key` names).
    #[arg(long, value_name = "P")]
    pub prefix: Option<std::ffi::OsString>,
    /// Length of each top list (largest live keys, most revised, most stored history).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=10000))]
    pub top: u32,
    /// Order of the groups in the table and CSV.
    #[arg(long, value_enum, default_value_t = SortBy::Stored)]
    pub sort: SortBy,
    /// Do not verify the sha256 trailer (saves one pass of SHA-256 over the file).
    #[arg(long = "skip-hash-check", alias = "no-trailer-check")]
    pub no_trailer_check: bool,
    /// Files to read.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `du -w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuFormat {
    /// Aligned text with a bar per group.
    Table,
    /// JSON lines.
    Json,
    /// Comma-separated values.
    Csv,
    /// Prometheus text format.
    Prometheus,
}

/// `du --sort` values: the figure groups are ordered by, largest first.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// Live bytes.
    Live,
    /// Stored bytes (history included).
    Stored,
    /// Records in the file.
    Revisions,
    /// Bytes compaction at the current revision frees.
    Compactable,
}

impl SortBy {
    /// Orders the groups of a report, largest first, ties by name.
    pub fn apply(self, d: &mut Du) {
        let Some(g) = d.groups.as_mut() else { return };
        g.sort_by(|a, b| {
            let k = |x: &boltscope::analysis::du_report::Group| match self {
                SortBy::Live => x.figures.live_bytes,
                SortBy::Stored => x.figures.stored_bytes,
                SortBy::Revisions => x.figures.revisions,
                SortBy::Compactable => x.figures.compact_bytes,
            };
            k(b).cmp(&k(a)).then_with(|| a.name.cmp(&b.name))
        });
    }
}

/// `du` of one file, from the index when it knows it; whether the read was torn; and the
/// failure the index remembers for this file (what `check` or another analysis found in it) when
/// this run does not judge all of it (--skip-hash-check, --prefix), told beside the figures as
/// every reader tells it, so a file `check` failed never comes out as ok.
pub fn du_file(path: &Path, opt: &Options, ix: &Ix) -> crate::report::Told<Du> {
    let prefix = opt.prefix.as_deref().map(hex).unwrap_or_default();
    let by = opt.by.map_or("auto".into(), |b| b.name());
    let tag = format!("du/{by}/{}/{}/{prefix}", opt.top, opt.verify_trailer);
    // Through the index's read, so a known file that can no longer be read gets a row saying so.
    let (r, torn) = ix.read(path, |data| {
        let (id, hit) = ix.lookup::<Du>(path, data, &tag);
        // Only a run over every key judges every history (review 48a: `du --prefix` passed a
        // file `check` failed for a key outside the prefix).
        let remembered = ix.failure_unless_hashed(path, data, opt.verify_trailer && opt.prefix.is_none());
        // A trailer this run verifies is hashed again (see `inspect::trailer_holds`).
        if let Some(r) = hit.filter(|_| !opt.verify_trailer || crate::inspect::trailer_holds(data)) {
            return Ok((r, None, false, (0, 0), remembered));
        }
        // The bytes analysed, as every command's row says: an archive's database expanded (review
        // 42b: du's rows said the archive's own size, beside the others' expanded one); and the
        // database's size (hwm x page size), as every row of a file read gives it.
        let view = DbView::new(data)?;
        let sizes = (data.len() as u64, view.total_size());
        Ok((du::du(&view, opt), id, trailer::present(data.len()), sizes, remembered))
    })?;
    let (r, id, trailer, (file_size, total_size), remembered) = r;
    if let Some(id) = id {
        // With --skip-hash-check a trailer present was not checked: as status says, not an ok.
        let trailer_unchecked = trailer && !opt.verify_trailer;
        // Warnings (the file passes `check` with them) are not errors, as `check` counts them.
        let errors = crate::report::errors_among(&r.problems, r.problem_total);
        let warnings = r.problem_total - errors;
        // With --prefix, the histories of the keys outside it were not held to etcd's rules: as
        // status says, not an ok.
        let histories_unchecked = opt.prefix.is_some() && r.revision.is_some();
        let found = Found { errors, warnings, trailer_unchecked, histories_unchecked, torn, ..Found::default() };
        let mut row = ix.row(path, file_size, found.verdict());
        // (A row without it was taken for a file that could not be read: a deleted backup `du`
        // read last stopped counting in `trend`, review 46b.)
        row.total_size = Some(total_size);
        row.revision = r.revision;
        row.in_use = r.in_use;
        let clean = errors == 0 && !torn;
        ix.store(&id, &tag, clean.then_some(&r), &row);
        if clean && opt.prefix.is_none() {
            ix.store_du(path, &r);
        }
    }
    Ok((r, torn, remembered))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs `du` over every file in parallel and prints in argument order.
pub fn run(args: &DuArgs, ix: &Ix) -> Verdict {
    use std::os::unix::ffi::OsStrExt;
    let opt = Options {
        by: args.by,
        prefix: args.prefix.as_ref().map(|p| p.as_bytes().to_vec()),
        top: args.top as usize,
        verify_trailer: !args.no_trailer_check,
        ..Options::default()
    };
    let (outs, remembered) =
        crate::report::split_remembered(args.files.par_iter().map(|p| du_file(p, &opt, ix)).collect());
    let mut verdict = Verdict::Clean;
    // Per file: its name, and its report with whether it changed on every read, or its error.
    type Row<'e> = (String, Result<(Du, bool), &'e Error>);
    let mut rows: Vec<Row> = Vec::new();
    for ((path, o), f) in args.files.iter().zip(outs.iter()).zip(&remembered) {
        let name = path.display().to_string();
        match o {
            Err(e) => {
                errln!("boltscope: {name}: {e}");
                verdict = verdict.max(Verdict::of_error(e));
                rows.push((name, Err(e)));
            }
            Ok((r, torn)) => {
                if *torn {
                    errln!("boltscope: {name}: the file changed on every read (a live etcd committing?); the result may be torn");
                }
                if r.problem_total > 0 {
                    crate::report::print_problems(path, &r.problems, r.problem_total);
                }
                // Warnings (the file passes `check` with them) do not fail it, as for `check`.
                if crate::report::errors_among(&r.problems, r.problem_total) > 0 || *torn {
                    verdict = verdict.max(Verdict::Problems);
                }
                verdict = verdict.max(crate::keyread::tell_remembered(path, f.clone()));
                let mut r = r.clone();
                args.sort.apply(&mut r);
                rows.push((name, Ok((r, *torn))));
            }
        }
    }
    let read: Vec<(&str, &Du)> = rows.iter().filter_map(|(p, r)| Some((p.as_str(), &r.as_ref().ok()?.0))).collect();
    let text = match args.write_out {
        DuFormat::Table => du_render::table(&read),
        DuFormat::Json => rows
            .iter()
            .zip(&remembered)
            .map(|((p, r), f)| match r {
                Ok((d, torn)) => du_render::json(p, d, *torn, f.as_ref()),
                Err(e) => error_json(Path::new(p), e),
            })
            .collect(),
        DuFormat::Csv => du_render::csv(&read),
        DuFormat::Prometheus => {
            // A file named twice is one file: its series once (a scrape refuses a repeated one).
            let mut seen = std::collections::HashSet::new();
            let all: Vec<du_render::PromFile> = rows
                .iter()
                .zip(&remembered)
                .filter(|((p, _), _)| seen.insert(p.as_str()))
                .map(|((p, r), f)| (p.as_str(), r.as_ref().ok().map(|(d, t)| (d, *t, f.is_some()))))
                .collect();
            du_render::prometheus(&all)
        }
    };
    let _ = crate::out::stdout().write_all(text.as_bytes());
    verdict
}
