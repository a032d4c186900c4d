//! `salvage`: the report, lines for people or one JSON object (on standard error when the copy
//! goes to standard output).

use crate::compact::{grouped, parse_fill, TrailerArg};
use crate::exit::Verdict;
use boltscope::compact::salvage::{self, SalvageJob, SalvageReport};
use boltscope::compact::{Destination, Trailer};
use boltscope::etcd::humanize::bytes as h;
use clap::{Parser, ValueEnum};
use std::fmt::Write as _;
use std::path::PathBuf;

/// Arguments of `salvage`.
#[derive(Parser, Debug)]
pub struct SalvageArgs {
    /// The damaged file (read only).
    #[arg(value_name = "SRC")]
    pub src: PathBuf,
    /// Where to write what can be recovered (`-`: standard output, after verification).
    #[arg(short = 'o', long = "output", value_name = "DST")]
    pub dst: PathBuf,
    /// Append the sha256 trailer `etcdutl snapshot restore` verifies: auto = when SRC has one;
    /// `always` makes the copy restorable whatever SRC was.
    #[arg(long, value_enum, default_value_t = TrailerArg::Auto)]
    pub trailer: TrailerArg,
    /// How full to fill pages: a fraction from 0.5 to 1.0.
    #[arg(long, default_value_t = 1.0, value_parser = parse_fill)]
    pub fill: f64,
    /// Replace DST if it exists.
    #[arg(long)]
    pub force: bool,
    /// `text` (the report for people) or `json`.
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = SalvageFormat::Text)]
    pub write_out: SalvageFormat,
}

/// `salvage -w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SalvageFormat {
    /// Lines for people.
    Text,
    /// One JSON object.
    Json,
}

fn ranges(v: &[[u64; 2]]) -> String {
    let mut s: Vec<String> =
        v.iter().take(10).map(|[a, b]| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    if v.len() > 10 {
        s.push(format!("... ({} ranges)", v.len()));
    }
    s.join(", ")
}

/// The report for people.
fn text(r: &SalvageReport) -> String {
    let mut o = String::new();
    let v = &r.revisions;
    let verdict = if r.lossless { "nothing lost" } else { "SOMETHING IS LOST OR UNCERTAIN (see below)" };
    let etcd = r.buckets.iter().any(|b| b.name == "key") || r.method == salvage::Method::Copy;
    let what = if etcd {
        let how = match r.method {
            salvage::Method::Copy => String::new(),
            salvage::Method::Salvage => format!("{} from the tree, {} carved", grouped(v.from_tree), grouped(v.carved)),
        };
        match r.method {
            // A copy says the entries of every bucket, nested ones included (as `compact` counts
            // them); its `revisions` count the key bucket's records, as a salvage's do.
            salvage::Method::Copy => {
                let n = r.entries_copied.unwrap_or(v.recovered);
                format!("{} entries recovered (the tree reads whole: copied)", grouped(n))
            }
            salvage::Method::Salvage => format!("{} revisions recovered ({how})", grouped(v.recovered)),
        }
    } else {
        let n: u64 = r.buckets.iter().map(|b| b.entries).sum();
        format!("{} entries recovered (not an etcd file: nothing carved)", grouped(n))
    };
    let _ = writeln!(o, "{} {} -> {} {}: {what}; {verdict}", r.src, h(r.src_size), r.dst, h(r.dst_size));
    if r.method == salvage::Method::Copy {
        for n in &r.notes {
            let _ = writeln!(o, "  note      {n}");
        }
        let verified = if r.verified { "verified" } else { "NOT verified" };
        let _ = writeln!(o, "  copy      {verified}; {}", r.acceptance());
        return o;
    }
    if let Some(root) = &r.root {
        let from = match (&root.from, root.meta) {
            (salvage::root::RootFrom::Scan, _) => "found by scanning (no meta page names a readable root)".to_string(),
            (f, Some(m)) => {
                let how = match f {
                    salvage::root::RootFrom::Meta => "the newest valid meta page",
                    salvage::root::RootFrom::OlderMeta => "an older valid meta page",
                    _ => "an INVALID meta page: no valid one names a readable root",
                };
                format!("named by meta page {m} ({how})")
            }
            (_, None) => String::new(),
        };
        let _ = writeln!(o, "  tree      root page {} {from}", root.page);
    }
    if let Some(c) = r.compact_revision {
        let _ = writeln!(o, "  revision  last {}, compacted at {c}", r.last_revision);
    }
    let mut lost = ranges(&r.revision_ranges_lost);
    if let Some(from) = r.revisions_lost_from {
        let sep = if lost.is_empty() { "" } else { ", " };
        let _ = write!(lost, "{sep}{from} and later (the key bucket's last leaf cannot be read: how many is unknown)");
    }
    if !lost.is_empty() {
        let _ = writeln!(o, "  lost      revisions {lost}");
    }
    if !r.revision_ranges_possibly_lost.is_empty() {
        let _ = writeln!(o, "  maybe     revisions {} may have held records", ranges(&r.revision_ranges_possibly_lost));
    }
    if let Some(after) = r.revisions_possibly_lost_after {
        let _ = writeln!(o, "  maybe     revisions after {after} may have existed");
    }
    let fixed = v.layout_repaired + v.key_repaired;
    if fixed + v.unreadable + v.left_out > 0 {
        let _ = writeln!(
            o,
            "  records   {} read past a damaged element header, {} with a rebuilt revision key, {} unreadable, {} \
             carved and left out (residue or superseded)",
            v.layout_repaired, v.key_repaired, v.unreadable, v.left_out
        );
    }
    if let Some(live) = r.live_keys {
        let _ =
            writeln!(o, "  live      {live} live key(s), {} may have lost their newest record", r.live_keys_at_risk);
    }
    for k in &r.live_keys_at_risk_first {
        let _ = writeln!(o, "  at risk   {}", crate::report::show_key(k.as_bytes()));
    }
    for k in &r.uncertain_keys_first {
        let _ = writeln!(o, "  uncertain {}", crate::report::show_key(k.as_bytes()));
    }
    let b: Vec<String> = r.buckets.iter().map(|b| format!("{} {} ({})", b.name, b.entries, b.source)).collect();
    let _ = writeln!(o, "  buckets   {}", b.join(", "));
    if r.entries_unreadable + r.nested_buckets_left_out > 0 {
        let _ = writeln!(
            o,
            "  entries   {} unreadable in buckets other than key; {} nested bucket(s) left out (salvage copies \
             top-level buckets only)",
            r.entries_unreadable, r.nested_buckets_left_out
        );
    }
    for s in &r.pages_skipped {
        // A problem names its bucket itself.
        let _ = writeln!(o, "  skipped   {s}");
    }
    if r.pages_skipped_total > r.pages_skipped.len() as u64 {
        let _ = writeln!(o, "  ...       {} more skipped", r.pages_skipped_total - r.pages_skipped.len() as u64);
    }
    for n in &r.notes {
        let _ = writeln!(o, "  note      {n}");
    }
    let verified = match (r.verified, r.check_errors) {
        (false, _) => "NOT verified".to_string(),
        (true, 0) => "verified".to_string(),
        (true, n) => format!("read back as written, but `boltscope check` finds {n} error(s) in it (see the notes)"),
    };
    let _ = writeln!(o, "  copy      {verified}; {}", r.acceptance());
    o
}

/// The JSON of a finished salvage. A source `check` fails (one whose tree was salvaged, or copied
/// whole with problems outside it) is said to be damaged as every command's JSON says it:
/// `"ok": false`, `problems`, `problem_total` (review 49a F1: "lossless" and no problem read as
/// clean). Those are `check`'s, read again.
fn json(r: &salvage::SalvageReport, src: &std::path::Path) -> String {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    let told = r.method != salvage::Method::Copy || !r.notes.is_empty();
    if let (Some((problems, total)), Some(o)) =
        (told.then(|| crate::report::src_damage(src)).flatten(), v.as_object_mut())
    {
        o.insert("ok".into(), false.into());
        o.insert("problems".into(), serde_json::to_value(problems).unwrap_or_default());
        o.insert("problem_total".into(), total.into());
    }
    v.to_string() + "\n"
}

/// Runs the command.
pub fn run(a: &SalvageArgs) -> Verdict {
    let to_stdout = a.dst.as_os_str() == "-";
    if to_stdout {
        // A reader that goes away is an error here, so that the temporary copy is removed.
        boltscope::sys::ignore_sigpipe();
    }
    let job = SalvageJob {
        src: a.src.clone(),
        dst: if to_stdout { Destination::Stdout } else { Destination::File(a.dst.clone()) },
        fill: a.fill,
        trailer: match a.trailer {
            TrailerArg::Auto => Trailer::Auto,
            TrailerArg::Always => Trailer::Always,
            TrailerArg::Never => Trailer::Never,
        },
        force: a.force,
    };
    let res = salvage::run(&job, Box::new(|_, _| {}));
    let verdict = Verdict::of_salvage(&res);
    let r = match res {
        Err(e) => {
            // (A failed verification already says nothing was written.)
            let said = e.to_string();
            let tail = if said.ends_with("nothing was written") { "" } else { "; nothing was written" };
            errln!("boltscope: salvage {} -> {}: {said}{tail}", a.src.display(), job.dst);
            if a.write_out == SalvageFormat::Json {
                // As every command's JSON says a failure: {"path", "ok": false, "error"}.
                let v = crate::report::compact_error_value(&a.src, &e, &format!("{said}{tail}"));
                if to_stdout {
                    errln!("{v}");
                } else {
                    outln!("{v}");
                }
            }
            return verdict;
        }
        Ok(r) => r,
    };
    let out = match a.write_out {
        SalvageFormat::Json => json(&r, &a.src),
        SalvageFormat::Text => text(&r),
    };
    // With the copy on standard output, the report goes to standard error.
    if to_stdout {
        errout!("{out}");
    } else {
        out!("{out}");
    }
    verdict
}
