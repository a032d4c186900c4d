//! Running `compact`: a progress bar on stderr when it is a terminal, then a summary line or JSON.

use crate::cli::{CompactArgs, CompactFormat, TrailerArg};
use boltscope::compact_file::{self, Job, Revision, Trailer};
use boltscope::humanize::bytes as h;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Groups digits by thousands with thin spaces, as in "4 152 000".
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Exit code after an interrupt (128 + SIGINT, as shells report it).
const INTERRUPTED: i32 = 130;

/// Runs the command; returns the exit code.
pub fn run(a: &CompactArgs) -> u8 {
    // Ctrl-C, SIGTERM or a closed terminal: the unfinished copy is removed before exiting (it
    // would otherwise stay behind as a hidden file as large as the result). DST is untouched:
    // it appears only by the final rename, complete.
    let handled = ctrlc::set_handler(|| {
        let n = boltscope::unfinished::remove_all();
        let what = if n > 0 { "; the unfinished copy was removed" } else { "" };
        eprintln!("boltscope: compact interrupted{what}");
        std::process::exit(INTERRUPTED);
    });
    if let Err(e) = handled {
        eprintln!("boltscope: warning: cannot handle interrupts ({e}); an interrupted copy may leave a .boltscope-compact-* file");
    }
    let revision = match a.revision.as_deref() {
        None => Revision::None,
        Some("latest") => Revision::Latest,
        Some(r) => match r.parse() {
            Ok(n) => Revision::At(n),
            Err(_) => {
                eprintln!("boltscope: --revision takes a number or `latest`, not {r:?}");
                return 2;
            }
        },
    };
    let trailer = match a.trailer {
        TrailerArg::Auto => Trailer::Auto,
        TrailerArg::Always => Trailer::Always,
        TrailerArg::Never => Trailer::Never,
    };
    let job = Job {
        src: a.src.clone(),
        dst: a.dst.clone(),
        fill: a.fill,
        page_size: a.page_size,
        order: a.byte_order,
        revision,
        trailer,
        force: a.force,
        verify: !a.no_verify,
        skip_hash_check: a.skip_hash_check,
    };
    let total = std::fs::metadata(&a.src).map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} read, {bytes_per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        b.set_style(style);
        b
    } else {
        ProgressBar::hidden()
    };
    let b2 = bar.clone();
    let res = compact_file::run(
        &job,
        Box::new(move |done, total| {
            b2.set_length(total);
            b2.set_position(done);
        }),
    );
    bar.finish_and_clear();
    match res {
        Err(e) => {
            eprintln!("boltscope: compact {} -> {}: {e}", a.src.display(), a.dst.display());
            2
        }
        Ok(r) => {
            match a.write_out {
                CompactFormat::Json => println!("{}", serde_json::to_string(&r).unwrap_or_default()),
                CompactFormat::Text => {
                    let ratio = r.src_size as f64 / r.dst_size.max(1) as f64;
                    // A copy can grow (larger pages, a nearly full source): say so plainly.
                    let ratio = if ratio >= 1.0 {
                        format!("{ratio:.2}x smaller")
                    } else {
                        format!("{:.2}x larger", r.dst_size as f64 / r.src_size.max(1) as f64)
                    };
                    let rev = r.revision.map_or(String::new(), |v| {
                        format!(", compacted at {v}: {} revisions dropped", grouped(r.compacted_away))
                    });
                    let reads = match r.reads {
                        1 => String::new(),
                        n => format!(", SRC read {n} times: it changed while read"),
                    };
                    println!(
                        "{} {} -> {} {} ({ratio}, {} entries{rev}, {:.2} s{reads}){}",
                        r.src,
                        h(r.src_size),
                        r.dst,
                        h(r.dst_size),
                        grouped(r.entries),
                        r.seconds,
                        if r.verified { "" } else { " [not verified]" }
                    );
                }
            }
            0
        }
    }
}
