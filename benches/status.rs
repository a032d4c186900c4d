//! `cargo bench --bench status`: boltscope status vs `etcdutl snapshot status` on the same large
//! real snapshot (and its raw backend file), in one run. Prints both median times, the ratio, and
//! boltscope's peak anonymous memory. Goal (issue 2): at least 10x faster, under 64 MB anonymous.

mod common;
use common::*;

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let Some((snap, member)) = bench_files() else {
        return;
    };
    let bolt = env!("CARGO_BIN_EXE_boltscope");
    let etcdutl = etcdutl();
    let n = runs();
    // A member file with a gigabyte of grow-ahead slack, sparse as a live member's is (bbolt
    // extends the file with ftruncate): the slack is known to be zeros without being read.
    let slack_dir = tempfile::tempdir().expect("temp dir");
    let slack = slack_dir.path().join("k8s-0.005.member-with-1GiB-slack.db");
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/k8s-0.005.member.db");
    if std::fs::copy(&fixture, &slack).is_ok() {
        let f = std::fs::OpenOptions::new().write(true).open(&slack).expect("open the copy");
        let len = f.metadata().expect("stat").len();
        f.set_len(len + (1 << 30)).expect("extend sparsely");
    }
    for file in [&snap, &member, &slack] {
        if !file.exists() {
            continue;
        }
        let f = file.to_str().expect("utf-8 path");
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        warm(file);
        let ours = median(n, bolt, &["--no-index", "status", "-w", "json", f]);
        let theirs = median(n, &etcdutl, &["snapshot", "status", "-w", "json", f]);
        let same = ours.stdout == theirs.stdout;
        println!("status on {f} ({}, median of {n}, page cache warm)", mib(size));
        println!("  etcdutl snapshot status   {}", secs(theirs.wall));
        println!("  boltscope status          {}   peak anon {}", secs(ours.wall), mib(ours.peak_anon));
        println!(
            "  ratio                     {:.1}x faster; outputs {}",
            theirs.wall.as_secs_f64() / ours.wall.as_secs_f64(),
            if same && ours.ok { "identical" } else { "DIFFER" }
        );
        if !same {
            println!("    etcdutl:   {}", String::from_utf8_lossy(&theirs.stdout).trim());
            println!("    boltscope: {}", String::from_utf8_lossy(&ours.stdout).trim());
        }
    }
}
