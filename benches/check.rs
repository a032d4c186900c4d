//! `cargo bench --bench check`: `boltscope check` next to `etcdutl snapshot status` (whose bbolt
//! integrity check is most of its time) and SHA-256 alone, on the same large real snapshot in one
//! run. Goals (issue 4): with the trailer verified, at most 1.1x SHA-256 alone; on the raw backend
//! file, at least 5x faster than etcdutl's status.

mod common;
use common::*;

fn main() {
    let Some(Setup { snap, member, bolt, n, etcdutl }) = setup(env!("CARGO_BIN_EXE_boltscope")) else { return };
    let (m, s) = (member.to_str().unwrap(), snap.to_str().unwrap());
    let sha = sha_alone(&snap, n);
    let ck = median(n, bolt, &["--no-index", "check", "--require-trailer", s]);
    let eu = median(n, &etcdutl, &["snapshot", "status", s]);
    assert!(ck.ok, "check passes on the benchmark snapshot");
    println!("snapshot {s} (median of {n}, page cache warm)");
    println!("  SHA-256 alone (sha2)      {}", secs(sha));
    println!("  etcdutl snapshot status   {}", secs(eu.wall));
    println!("  boltscope check           {}   peak anon {}", secs(ck.wall), mib(ck.peak_anon));
    println!("  check / SHA-256 alone     {:.2}x (goal <= 1.1x)", ck.wall.as_secs_f64() / sha.as_secs_f64());
    let ck = median(n, bolt, &["--no-index", "check", m]);
    let eu = median(n, &etcdutl, &["snapshot", "status", m]);
    println!("raw backend file {m}");
    println!("  etcdutl snapshot status   {}", secs(eu.wall));
    println!("  boltscope check           {}   peak anon {}", secs(ck.wall), mib(ck.peak_anon));
    println!("  etcdutl / check           {:.1}x faster (goal >= 5x)", eu.wall.as_secs_f64() / ck.wall.as_secs_f64());
}
