//! `cargo bench --bench diff`: `boltscope diff` and `boltscope trend` on the large snapshot and
//! its raw backend file (`many:2`, a million keys), whole process each, in one run, beside the
//! real peer's full read of the same file (`etcdutl snapshot status`) and `boltscope inspect`
//! (one pass with the MVCC replay). No tool diffs two snapshots offline, so the peer is a reader
//! of the same bytes. Prints median times, ratios and peak anonymous memory: the diff's memory
//! must stay bounded (live keys are joined in passes of at most 96 MiB), whatever the key count.

mod common;
use common::*;

fn main() {
    let Some((snap, member)) = bench_files() else { return };
    let bolt = env!("CARGO_BIN_EXE_boltscope");
    let n = runs();
    let (s, m) = (snap.to_str().expect("utf-8 path"), member.to_str().expect("utf-8 path"));
    let size = std::fs::metadata(&snap).map(|x| x.len()).unwrap_or(0);
    warm(&snap);
    warm(&member);
    let peer = median(n, &etcdutl(), &["snapshot", "status", "-w", "json", s]);
    let inspect = median(n, bolt, &["--no-index", "inspect", "-w", "json", s]);
    let same = median(n, bolt, &["--no-index", "diff", "-w", "json", s, s]);
    let two = member.exists().then(|| median(n, bolt, &["--no-index", "diff", "-w", "json", s, m]));
    let trend = median(n, bolt, &["--no-index", "trend", "-w", "json", s]);
    println!("diff and trend on {s} ({}, median of {n}, page cache warm)", mib(size));
    println!("  etcdutl snapshot status   {}", secs(peer.wall));
    println!("  boltscope inspect         {}   peak anon {}", secs(inspect.wall), mib(inspect.peak_anon));
    println!("  boltscope diff A A        {}   peak anon {}", secs(same.wall), mib(same.peak_anon));
    if let Some(t) = &two {
        println!("  boltscope diff snap member {}  peak anon {}", secs(t.wall), mib(t.peak_anon));
    }
    println!("  boltscope trend FILE      {}   peak anon {}", secs(trend.wall), mib(trend.peak_anon));
    println!(
        "  ratios                    diff A A / etcdutl {:.2}x, / inspect {:.2}x; trend / inspect {:.2}x",
        same.wall.as_secs_f64() / peer.wall.as_secs_f64(),
        same.wall.as_secs_f64() / inspect.wall.as_secs_f64(),
        trend.wall.as_secs_f64() / inspect.wall.as_secs_f64()
    );
    println!(
        "  exit codes                diff A A {}, trend {}",
        if same.ok { "0" } else { "non-zero" },
        if trend.ok { "0" } else { "non-zero" }
    );
}
