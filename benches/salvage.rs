//! `cargo bench --bench salvage`: on the same large real files, in one run,
//!
//! - `boltscope salvage` of an undamaged file next to `boltscope compact` of it (goal, issue 15:
//!   within 2x; a file whose tree reads whole is copied by compact's own job, so the ratio is the
//!   cost of finding that out);
//! - the residue count's share of `inspect`: `inspect` with and without it, in process (goal: at
//!   most 20% more);
//! - with `BOLTSCOPE_BENCH_DAMAGED=1`, salvage of a copy whose `key` bucket lost one subtree (a
//!   branch element pointed past the high-water mark): the tolerant read, the carving of every page
//!   the tree does not reach and the merge, for their time and memory (no peer does this).
//!
//! Each command gets an untimed warm-up run, then its runs (`sync` before each, outputs fsynced).

mod common;
use boltscope::analysis::inspect::{self, Options};
use boltscope::DbView;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

fn sync() {
    let _ = Command::new("sync").status();
}

/// Median wall time (and highest peak anonymous memory) of `n` runs of `args`, after a warm-up;
/// `dst` is removed before each run. A salvage that lost something exits 1: `must_succeed` false.
fn timed(n: usize, bolt: &str, args: &[&str], dst: &str, must_succeed: bool) -> Run {
    let mut runs = Vec::new();
    for i in 0..=n {
        let _ = std::fs::remove_file(dst);
        sync();
        let r = run(bolt, args);
        assert!(r.ok || !must_succeed, "{args:?} failed");
        if i > 0 {
            runs.push(r);
        }
    }
    let peak = runs.iter().map(|r| r.peak_anon).max().unwrap_or(0);
    runs.sort_by_key(|r| r.wall);
    let mut m = runs.swap_remove(runs.len() / 2);
    m.peak_anon = peak;
    m
}

/// Median times of `inspect` in process without and with the residue count, runs interleaved
/// (a machine whose load changes affects both alike); and the records the count found.
fn inspect_times(data: &[u8], n: usize) -> (Duration, Duration, Option<u64>) {
    let view = DbView::new(data).expect("a bbolt file");
    let opt = |residue| Options { verify_trailer: false, residue, ..Options::default() };
    let _ = inspect::inspect(&view, &opt(true));
    let (mut without, mut with, mut records) = (Vec::new(), Vec::new(), None);
    for _ in 0..n.max(5) {
        for residue in [false, true] {
            let start = Instant::now();
            let r = inspect::inspect(&view, &opt(residue));
            let t = start.elapsed();
            if residue {
                with.push(t);
                records = r.residue.map(|r| r.records);
            } else {
                without.push(t);
            }
        }
    }
    without.sort();
    with.sort();
    (without[without.len() / 2], with[with.len() / 2], records)
}

fn main() {
    let Some(s) = setup(env!("CARGO_BIN_EXE_boltscope")) else { return };
    let (n, bolt) = (s.n, s.bolt);
    let dir = tempfile::tempdir_in(s.member.parent().expect("dir")).expect("temp dir");
    let dst = dir.path().join("out.db");
    let d = dst.to_str().unwrap();
    for (what, src) in [("raw backend", s.member.to_str().unwrap()), ("snapshot", s.snap.to_str().unwrap())] {
        let c = timed(n, bolt, &["compact", src, "-o", d], d, true);
        let v = timed(n, bolt, &["salvage", src, "-o", d], d, true);
        println!("{what} {src} (median of {n}, page cache warm, outputs fsynced)");
        println!("  boltscope compact   {}   peak anon {}", secs(c.wall), mib(c.peak_anon));
        println!("  boltscope salvage   {}   peak anon {}", secs(v.wall), mib(v.peak_anon));
        println!("  salvage / compact   {:.2}x (goal <= 2x)", v.wall.as_secs_f64() / c.wall.as_secs_f64());
    }
    let member = boltscope::input::open(&s.member).expect("map");
    let (without, with, records) = inspect_times(member.bytes(), n);
    println!("inspect of the raw backend in process (median of {}, interleaved, trailer not verified)", n.max(5));
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("  without the residue count   {}", ms(without));
    println!("  with it                     {}   ({} records in free pages)", ms(with), records.unwrap_or(0));
    println!(
        "  residue overhead            {:+.1}% (goal <= 20%)",
        (with.as_secs_f64() / without.as_secs_f64() - 1.0) * 100.0
    );
    if std::env::var_os("BOLTSCOPE_BENCH_DAMAGED").is_some() {
        let mut bytes = member.bytes().to_vec();
        let view = DbView::new(&bytes).expect("a bbolt file");
        let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().expect("a key bucket");
        let boltscope::bbolt::cursor::BucketRoot::Page(root) = kb else { panic!("an inline key bucket") };
        let at = (root.0 * view.page_size) as usize + 16 + 8;
        let hwm = view.hwm;
        drop(view);
        bytes[at..at + 8].copy_from_slice(&(hwm + 5).to_le_bytes());
        let damaged = dir.path().join("damaged.db");
        std::fs::write(&damaged, &bytes).unwrap();
        drop(bytes);
        let v = timed(n, bolt, &["salvage", "--force", damaged.to_str().unwrap(), "-o", d], d, false);
        println!("salvage of the raw backend with its key bucket's first subtree cut off");
        println!("  boltscope salvage   {}   peak anon {}", secs(v.wall), mib(v.peak_anon));
    }
}
