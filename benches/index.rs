//! `cargo bench --bench index`: `boltscope status` of the large snapshot answered from a warm
//! index, against reading it (`--no-index`), whole process each, in one run; and the index's size
//! per analysed file after scanning the fixtures. Goals (issue 6): at least 100x faster warm, under
//! 64 KiB per file.

mod common;
use common::*;

fn main() {
    let Some((snap, _)) = bench_files() else { return };
    let bolt = env!("CARGO_BIN_EXE_boltscope");
    let n = runs().max(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let ix = dir.path().join("index.redb");
    let ixs = ix.to_str().unwrap();
    let s = snap.to_str().unwrap();
    warm(&snap);
    let cold = median(n, bolt, &["--no-index", "status", s]);
    assert!(run(bolt, &["--index", ixs, "status", s]).ok, "fill the index");
    let same = run(bolt, &["--index", ixs, "status", s]);
    assert_eq!(same.stdout, cold.stdout, "same answer from the index");
    let hot = quick(n * 4, bolt, &["--index", ixs, "status", s]);
    let cold_q = quick(n, bolt, &["--no-index", "status", s]);
    println!("status of {s} (whole process, median, page cache warm)");
    println!("  without index             {}", secs(cold_q));
    println!("  warm index                {:.2} ms", hot.as_secs_f64() * 1000.0);
    println!("  ratio                     {:.0}x (goal >= 100x)", cold_q.as_secs_f64() / hot.as_secs_f64());
    // Index size per analysed file: scan every fixture (status + inspect + check of each).
    let fx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let ix2 = dir.path().join("fixtures.redb");
    let ix2s = ix2.to_str().unwrap();
    let dbs: Vec<String> = std::fs::read_dir(&fx)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["--index", ix2s, "status"];
    args.extend(dbs.iter().map(String::as_str));
    assert!(run(bolt, &args).ok);
    for cmd in ["inspect", "check"] {
        let mut a = vec!["--index", ix2s, cmd];
        a.extend(dbs.iter().map(String::as_str));
        let _ = run(bolt, &a);
    }
    let size = std::fs::metadata(&ix2).map(|m| m.len()).unwrap_or(0);
    println!(
        "index after status + inspect + check of {} fixture files: {} bytes, {:.1} KiB per file (goal < 64 KiB)",
        dbs.len(),
        size,
        size as f64 / 1024.0 / dbs.len().max(1) as f64
    );
}
