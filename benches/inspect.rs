//! `cargo bench --bench inspect`: `boltscope inspect` next to `boltscope status`, etcdutl, and
//! SHA-256 over the file alone, on the same large real snapshot in one run. Goals (issue 3): on the
//! raw backend file `inspect` at most 1.5x `status`; on the snapshot (trailer verified) at most
//! 1.1x SHA-256 alone, the floor.

mod common;
use common::*;

fn main() {
    let Some(Setup { snap, member, bolt, n, etcdutl }) = setup(env!("CARGO_BIN_EXE_boltscope")) else { return };
    let (m, s) = (member.to_str().unwrap(), snap.to_str().unwrap());
    let st = median(n, bolt, &["--no-index", "status", m]);
    let ins = median(n, bolt, &["--no-index", "inspect", "-w", "json", m]);
    let eu = median(n, &etcdutl, &["snapshot", "status", m]);
    println!("raw backend file {m} (median of {n}, page cache warm)");
    println!("  etcdutl snapshot status   {}", secs(eu.wall));
    println!("  boltscope status          {}   peak anon {}", secs(st.wall), mib(st.peak_anon));
    println!("  boltscope inspect         {}   peak anon {}", secs(ins.wall), mib(ins.peak_anon));
    println!("  inspect / status          {:.2}x (goal <= 1.5x)", ins.wall.as_secs_f64() / st.wall.as_secs_f64());
    println!("  etcdutl / inspect         {:.1}x", eu.wall.as_secs_f64() / ins.wall.as_secs_f64());
    let sha = sha_alone(&snap, n);
    let ins = median(n, bolt, &["--no-index", "inspect", "-w", "json", s]);
    let st = median(n, bolt, &["--no-index", "status", s]);
    println!("snapshot {s} (trailer verified by inspect)");
    println!("  SHA-256 alone (sha2)      {}", secs(sha));
    println!("  boltscope status          {}", secs(st.wall));
    println!("  boltscope inspect         {}   peak anon {}", secs(ins.wall), mib(ins.peak_anon));
    println!("  inspect / SHA-256 alone   {:.2}x (goal <= 1.1x)", ins.wall.as_secs_f64() / sha.as_secs_f64());
    // The size prediction against what real etcd made of this file (benches/make-bench-data.sh).
    let real = std::fs::read(format!("{s}.compact-defrag.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let pred: serde_json::Value = serde_json::from_slice(&ins.stdout).expect("inspect JSON");
    if let Some(real) = real {
        let p = pred["prediction"]["size_fill_0_9"].as_f64().unwrap_or(0.0);
        let r = real["after_defrag"]["status"]["totalSize"].as_f64().unwrap_or(1.0);
        println!(
            "  predicted size after compact + defrag {p} vs real etcd {r}: {:+.3}% (goal within 2%)",
            (p - r) / r * 100.0
        );
    }
}
