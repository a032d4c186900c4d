//! `inspect`: everything about a file from one pass, from the index when it knows the file.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::inspect_render;
use crate::report::settle;
use boltscope::analysis::inspect::{self, Inspect};
use boltscope::error::Error;
use boltscope::{input, DbView};
use clap::{Parser, ValueEnum};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `inspect`.
#[derive(Parser, Debug)]
pub struct InspectArgs {
    /// Output: `table` for people, `json` (one object per file per line, `"schema": 1`, exact
    /// integers), or `prometheus` (text exposition for node_exporter's textfile collector).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = InspectFormat::Table)]
    pub write_out: InspectFormat,
    /// Report nested buckets down to this depth (1: top-level buckets only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub depth: u32,
    /// The backend quota to measure against (etcd's --quota-backend-bytes; default etcd's 2 GiB).
    /// Accepts plain bytes or a suffix: 8GiB, 2GB, 512MiB.
    #[arg(long, default_value = "2GiB", value_parser = crate::cli::parse_size)]
    pub quota: u64,
    /// Do not verify the sha256 trailer (saves one pass of SHA-256 over the file).
    #[arg(long)]
    pub no_trailer_check: bool,
    /// Files to inspect.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `inspect -w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InspectFormat {
    /// Aligned text.
    Table,
    /// JSON lines.
    Json,
    /// Prometheus text format.
    Prometheus,
}

/// Inspects one file, from the index when it knows the file (the quota verdict is recomputed).
pub fn inspect_file(path: &Path, opt: &inspect::Options, ix: &Ix) -> Result<(Inspect, bool), Error> {
    let tag = format!("inspect/{}/{}", opt.depth, opt.verify_trailer);
    let (r, torn) = input::read_consistent(path, |data| {
        let (id, hit) = ix.lookup::<Inspect>(path, data, &tag);
        if let Some(mut r) = hit {
            r.quota = inspect::quota(r.size.total, r.prediction.size_fill_0_9, opt.quota);
            return Ok((r, None));
        }
        let r = inspect::inspect(&DbView::new(data)?, opt);
        Ok((r, id))
    })?;
    let (r, id) = r;
    if let Some(id) = id {
        let s = &r.size;
        let rev = r.etcd.as_ref().map(|e| e.current_revision);
        let row = ix.row(
            path,
            r.file.file_size,
            "inspect",
            Some(s.total),
            rev,
            None,
            Some(s.in_use),
            Some(s.fragmentation),
            r.problem_total,
        );
        let clean = r.problem_total == 0 && !torn && r.trailer.sha256_ok != Some(false);
        ix.store(&id, &tag, clean.then_some(&r), &row);
    }
    Ok((r, torn))
}

/// Runs `inspect` over every file in parallel and prints in argument order.
pub fn run(args: &InspectArgs, ix: &Ix) -> Verdict {
    let opt = inspect::Options { depth: args.depth, quota: args.quota, verify_trailer: !args.no_trailer_check };
    let outs: Vec<Result<(Inspect, bool), Error>> = args.files.par_iter().map(|p| inspect_file(p, &opt, ix)).collect();
    let mut verdict = Verdict::Clean;
    let mut done: Vec<(String, &Inspect)> = Vec::new();
    for (path, o) in args.files.iter().zip(&outs) {
        let failed = |r: &Inspect| r.problem_total > 0 || r.trailer.sha256_ok == Some(false);
        if let Some(r) = settle(path, o, failed, &mut verdict) {
            done.push((path.display().to_string(), r));
        }
    }
    let text = match args.write_out {
        InspectFormat::Table => done.iter().map(|(p, r)| inspect_render::table(p, r)).collect::<Vec<_>>().join("\n"),
        InspectFormat::Json => done.iter().map(|(p, r)| inspect_render::json(p, r)).collect(),
        InspectFormat::Prometheus => {
            let v: Vec<(&str, &Inspect)> = done.iter().map(|(p, r)| (p.as_str(), *r)).collect();
            inspect_render::prometheus(&v)
        }
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    verdict
}
