//! `cargo bench --bench compact`: `boltscope compact` next to `etcdutl defrag --data-dir` and
//! `bolt.Compact` (what `bbolt compact` runs, through boltoracle) on the same large real backend
//! file, in one run: times, ratios, output sizes, memory. Goals (issue 5): 5x faster than
//! etcdutl's defrag, 10x faster than bbolt's, anonymous memory under 256 MB, output no larger
//! than bolt.Compact's at fill 1.0. Every run starts from a fresh copy, after `sync`, and ends
//! with the output on disk (all three fsync).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn sync() {
    let _ = Command::new("sync").status();
}

fn hwm_size(p: &Path) -> u64 {
    let m = boltscope::db::MappedFile::open(p).expect("map output");
    boltscope::DbView::new(m.bytes()).map(|v| v.total_size()).unwrap_or(0)
}

fn main() {
    let Some((_, member)) = bench_files() else { return };
    let bolt = env!("CARGO_BIN_EXE_boltscope");
    let n = runs();
    let dir = tempfile::tempdir_in(member.parent().expect("dir")).expect("temp dir");
    let dst = dir.path().join("boltscope.db");
    let src = member.to_str().unwrap();
    warm(&member);
    let mut ours = Vec::new();
    for _ in 0..n {
        let _ = std::fs::remove_file(&dst);
        sync();
        ours.push(run(bolt, &["compact", src, "-o", dst.to_str().unwrap()]));
        assert!(ours.last().unwrap().ok, "boltscope compact");
    }
    let peak_anon = ours.iter().map(|r| r.peak_anon).max().unwrap_or(0);
    ours.sort_by_key(|r| r.wall);
    let ours_t = ours[n / 2].wall;
    // etcdutl defrag works on a data dir in place: a fresh copy of the file for every run.
    let data = dir.path().join("data");
    let db = data.join("member/snap/db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let mut theirs = Vec::new();
    for _ in 0..n {
        std::fs::copy(&member, &db).unwrap();
        sync();
        theirs.push(run(&etcdutl(), &["defrag", "--data-dir", data.to_str().unwrap()]));
        assert!(theirs.last().unwrap().ok, "etcdutl defrag");
    }
    let eu_rss = theirs.iter().map(|r| r.peak_rss).max().unwrap_or(0);
    theirs.sort_by_key(|r| r.wall);
    let eu_t = theirs[n / 2].wall;
    let eu_size = hwm_size(&db);
    // bolt.Compact, as `bbolt compact` runs it (txMaxSize 65536): slow, so once.
    let bc = dir.path().join("bbolt.db");
    sync();
    let b = run("boltoracle", &["compact", src, bc.to_str().unwrap()]);
    let bc_size = hwm_size(&bc);
    let ours_size = hwm_size(&dst);
    println!("compact {src} ({}), page cache warm, output fsynced", mib(std::fs::metadata(&member).unwrap().len()));
    println!(
        "  etcdutl defrag            {} (median of {n})   peak RSS {}   -> {}",
        secs(eu_t),
        mib(eu_rss),
        mib(eu_size)
    );
    println!(
        "  bolt.Compact (bbolt)      {} (1 run)         peak RSS {}   -> {}",
        secs(b.wall),
        mib(b.peak_rss),
        mib(bc_size)
    );
    println!(
        "  boltscope compact         {} (median of {n})   peak anon {}   -> {}",
        secs(ours_t),
        mib(peak_anon),
        mib(ours_size)
    );
    println!("  vs etcdutl defrag         {:.1}x faster (goal >= 5x)", eu_t.as_secs_f64() / ours_t.as_secs_f64());
    println!("  vs bolt.Compact           {:.1}x faster (goal >= 10x)", b.wall.as_secs_f64() / ours_t.as_secs_f64());
    println!("  size vs bolt.Compact      {} vs {} bytes (goal: no larger)", ours_size, bc_size);
}
