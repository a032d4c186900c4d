//! `inspect`: everything about a file from one pass, from the index when it knows the file.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::report::{error_json, settle, Found};
use crate::{inspect_prom, inspect_render, source};
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
    /// Output: `table` for people, `json` (one object per file per line, `"schema"`
    /// [`inspect::SCHEMA`], exact integers), or `prometheus` (text exposition for node_exporter's
    /// textfile collector).
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = InspectFormat::Table, help = format!(
        "Output: `table` for people, `json` (one object per file per line, `\"schema\": {}`, exact integers), or \
         `prometheus` (text exposition for node_exporter's textfile collector)",
        inspect::SCHEMA
    ))]
    pub write_out: InspectFormat,
    /// Report nested buckets down to this depth (1: top-level buckets only).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub depth: u32,
    /// The backend quota to measure against (etcd's --quota-backend-bytes; default etcd's 2 GiB).
    /// Accepts plain bytes or a suffix: 8GiB, 2GB, 512MiB.
    #[arg(long, default_value = "2GiB", value_parser = crate::cli::parse_size)]
    pub quota: u64,
    /// Read the tree of this meta page (0 or 1) instead of the active one, read-only: what the
    /// file held before its last transaction (the other meta page describes the previous one).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub meta: Option<u8>,
    /// Do not verify the sha256 trailer (saves one pass of SHA-256 over the file).
    #[arg(long, alias = "no-trailer-check")]
    pub skip_hash_check: bool,
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

/// Whether the file's sha256 trailer matches its bytes, or it has none: what a stored answer that
/// verified the trailer still needs before it is given again (the hash is no faster from the
/// index; the rest of the answer is).
pub fn trailer_holds(data: &[u8]) -> bool {
    boltscope::etcd::trailer::verify(data).map_or(true, |t| t.ok())
}

/// Inspects one file, from the index when it knows the file (the quota verdict is recomputed).
/// What is recorded, in the index's history too, is the verdict `check` gives without gates.
pub fn inspect_file(path: &Path, opt: &inspect::Options, meta: Option<u8>, ix: &Ix) -> Result<(Inspect, bool), Error> {
    inspect_told(path, opt, meta, ix).map(|(r, torn, _)| (r, torn))
}

/// [`inspect_file`], with the failure the index remembers for this file (what `check` or another
/// analysis found in it) when this run does not hash it (--skip-hash-check, with --meta too):
/// told beside the figures, as every reader tells it, so a file `check` failed never comes out
/// as ok.
fn inspect_told(path: &Path, opt: &inspect::Options, meta: Option<u8>, ix: &Ix) -> crate::report::Told<Inspect> {
    let m = meta.map_or("active".to_string(), |m| m.to_string());
    let tag = format!("inspect/{}/{}/{}/{m}", inspect::SCHEMA, opt.depth, opt.verify_trailer);
    let read = |data: &[u8]| {
        let (id, hit) = ix.lookup::<Inspect>(path, data, &tag);
        let remembered = ix.failure_unless_hashed(path, data, opt.verify_trailer);
        // A trailer this run verifies is hashed again: bit rot keeps the identity (size, meta
        // pages, mtime), and an answer from the index would call the rotten file sound.
        if let Some(mut r) = hit.filter(|_| !opt.verify_trailer || trailer_holds(data)) {
            r.quota = inspect::quota(r.size.total, r.prediction.as_ref().map(|p| p.size_fill_0_9), opt.quota);
            return Ok((r, None, remembered));
        }
        let view = match meta {
            Some(m) => DbView::with_meta(data, usize::from(m))?,
            None => DbView::new(data)?,
        };
        let r = inspect::inspect(&view, opt);
        Ok((r, id, remembered))
    };
    // A meta page asked for that cannot be used says nothing of the file as etcd reads it: no row.
    let (r, torn) = if meta.is_some() { input::read_consistent(path, read) } else { ix.read(path, read) }?;
    let (r, id, remembered) = r;
    // Nor does the tree of a meta page asked for (what the file held a transaction earlier), even
    // read whole: a clean answer is kept to answer the same question again, and no row says ok
    // for a file whose own tree (`check` without --meta) may fail.
    if let (Some(id), Some(_)) = (id, meta) {
        if r.errors() == 0 && !torn {
            ix.remember(&id, &tag, &r);
        }
        return Ok((r, torn, remembered));
    }
    if let Some(id) = id {
        let s = &r.size;
        let mut row = ix.row(path, r.file.file_size, found(&r, torn).verdict());
        row.total_size = Some(s.total);
        row.revision = r.etcd.as_ref().map(|e| e.current_revision);
        row.in_use = s.in_use;
        row.fragmentation = s.fragmentation;
        // Only a clean answer is kept to answer from later; every answer is a history row.
        let clean = r.errors() == 0 && !torn;
        // A read that verified the trailer gave check's verdict (without gates).
        if opt.verify_trailer {
            ix.store_checked(&id, &tag, clean.then_some(&r), &row);
        } else {
            ix.store(&id, &tag, clean.then_some(&r), &row);
        }
    }
    Ok((r, torn, remembered))
}

/// What an inspection found, for the verdict recorded and `scan`'s line: with --skip-hash-check a
/// trailer present was not checked (as status says, not an ok), and a read the file changed
/// during every time (`torn`) is no ok either.
pub fn found(r: &Inspect, torn: bool) -> Found {
    let trailer_unchecked = r.trailer.present && r.trailer.sha256_ok.is_none();
    Found { errors: r.errors(), warnings: r.warnings, trailer_unchecked, torn, ..Found::default() }
}

/// Runs `inspect` over every file in parallel and prints in argument order.
pub fn run(args: &InspectArgs, ix: &Ix) -> Verdict {
    let opt =
        inspect::Options { depth: args.depth, quota: args.quota, verify_trailer: !args.skip_hash_check, residue: true };
    let (outs, remembered) =
        crate::report::split_remembered(args.files.par_iter().map(|p| inspect_told(p, &opt, args.meta, ix)).collect());
    let mut verdict = Verdict::Clean;
    let mut text = String::new();
    let mut done: Vec<inspect_prom::Done<'_>> = Vec::new();
    for ((path, o), f) in args.files.iter().zip(&outs).zip(&remembered) {
        let failed = |r: &Inspect| r.errors() > 0;
        if settle(path, o, failed, &mut verdict).is_some() {
            verdict = verdict.max(crate::keyread::tell_remembered(path, f.clone()));
        }
        done.push((path.display().to_string(), o.as_ref().map(|(r, torn)| (r, *torn, f.as_ref()))));
    }
    match args.write_out {
        InspectFormat::Table => {
            let tables: Vec<String> = done
                .iter()
                .filter_map(|(p, r)| {
                    r.ok().map(|(r, torn, _)| inspect_render::table(p, r, &source::describe(Path::new(p)), torn))
                })
                .collect();
            text = tables.join("\n");
        }
        InspectFormat::Json => {
            for (p, r) in &done {
                match r {
                    Ok((r, torn, f)) => {
                        text.push_str(&inspect_render::json(p, r, &source::describe(Path::new(p)), *torn, *f))
                    }
                    Err(e) => text.push_str(&error_json(Path::new(p), e)),
                }
            }
        }
        InspectFormat::Prometheus => {
            // A file named twice is one file: its series once (a scrape refuses a repeated one).
            let mut seen = std::collections::HashSet::new();
            done.retain(|(p, _)| seen.insert(p.clone()));
            text = inspect_prom::prometheus(&done)
        }
    }
    let _ = crate::out::stdout().write_all(text.as_bytes());
    verdict
}
