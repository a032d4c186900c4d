//! `cargo bench --bench du`: `boltscope du` next to `boltscope inspect` on the same large real
//! raw backend file (`many:2`, a million revisions) in one run. Goals (issue 12): `du` within
//! 1.5x of `inspect`'s time, peak anonymous memory under 256 MiB.
//!
//! `BOLTSCOPE_BENCH_BIG=FILE` also measures `inspect`, `check` and `du` on a bigger file (made
//! with `make-corpus.sh DIR many:10`, about ten million puts): time and peak anonymous memory of
//! each, whose MVCC passes must stay under 256 MiB whatever the number of revisions.

mod common;
use common::*;

fn main() {
    let big = std::env::var_os("BOLTSCOPE_BENCH_BIG");
    let files: Vec<String> = match (&big, setup(env!("CARGO_BIN_EXE_boltscope"))) {
        (_, Some(Setup { member, .. })) => std::iter::once(member.to_str().unwrap().to_owned())
            .chain(big.iter().map(|b| b.to_string_lossy().into_owned()))
            .collect(),
        (Some(b), None) => vec![b.to_string_lossy().into_owned()],
        (None, None) => return,
    };
    let (bolt, n) = (env!("CARGO_BIN_EXE_boltscope"), runs());
    for (i, f) in files.iter().enumerate() {
        warm(std::path::Path::new(f));
        let ins = median(n, bolt, &["--no-index", "inspect", "-w", "json", "--no-trailer-check", f]);
        let du = median(n, bolt, &["--no-index", "du", "-w", "json", f]);
        assert!(du.ok, "du reads {f}");
        let v: serde_json::Value =
            serde_json::from_slice(du.stdout.split(|&b| b == b'\n').next().unwrap_or_default()).expect("du JSON");
        println!("{} {f} (median of {n}, page cache warm)", if i == 0 { "raw backend file" } else { "big file" });
        println!("  revisions in the key bucket {}", v["total"]["revisions"]);
        println!("  boltscope inspect         {}   peak anon {}", secs(ins.wall), mib(ins.peak_anon));
        if i > 0 {
            let ck = median(n, bolt, &["--no-index", "check", f]);
            println!("  boltscope check           {}   peak anon {}", secs(ck.wall), mib(ck.peak_anon));
        }
        println!("  boltscope du              {}   peak anon {} (goal < 256 MiB)", secs(du.wall), mib(du.peak_anon));
        println!("  du / inspect              {:.2}x (goal <= 1.5x)", du.wall.as_secs_f64() / ins.wall.as_secs_f64());
    }
}
