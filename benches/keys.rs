//! `cargo bench --bench keys`: the key commands on the large snapshot (`many:2`), against
//! `boltscope status` (the same file read whole) in the same run. Goals (issue 13): a cold `get
//! KEY` and a cold `log --prefix` no slower than `status`; a warm `get`/`log` of one key (answered
//! from the key -> revisions index) under 10 ms; `dump` at least at `status`'s rate; memory
//! bounded. Prints medians (page cache warm), ratios and peak anonymous memory; then `status` and
//! `dump` with the file's pages dropped from the page cache before each run (read from the disk).
//! Last, the real peer, what an operator does today: the file restored by `etcdutl snapshot
//! restore`, a real etcd started on it, and the same questions asked with `etcdctl` (skipped when
//! the tools are not on PATH).
//!
//! "Cold" is measured twice: with `--no-index` (the scan alone) and with a fresh index (the scan,
//! then the key index built and stored: what a first question costs). A small file proves it
//! runs: `BOLTSCOPE_BENCH_DIR=dir` with `dir/many-2.snap.db` any etcd snapshot.

mod common;
use common::*;
use std::time::Duration;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn ratio(a: Duration, b: Duration) -> String {
    format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64())
}

fn main() {
    let Some((snap, _)) = bench_files() else { return };
    let bolt = env!("CARGO_BIN_EXE_boltscope");
    let n = runs();
    let f = snap.to_str().expect("utf-8 path");
    let size = std::fs::metadata(&snap).map(|m| m.len()).unwrap_or(0);
    warm(&snap);
    let dir = tempfile::tempdir().expect("temp dir");
    let ix = dir.path().join("index.redb");
    let ixs = ix.to_str().unwrap();

    // A live key and a prefix to ask about, found by the command itself.
    let probe = run(bolt, &["--no-index", "get", f, "/registry/leases/", "--from-key", "--keys-only", "--limit", "1"]);
    let key = String::from_utf8_lossy(&probe.stdout).lines().next().unwrap_or("").to_string();
    assert!(!key.is_empty(), "no key found in {f}");
    let prefix = key.rsplit_once('/').map_or(key.clone(), |(p, _)| format!("{p}/"));

    let status = median(n, bolt, &["--no-index", "status", f]);
    let get_cold = median(n, bolt, &["--no-index", "get", f, &key]);
    let log_cold = median(n, bolt, &["--no-index", "log", f, &prefix, "--prefix", "-w", "json"]);
    // The whole keyspace gathered (the newest entry of every key, in memory) and counted.
    let whole = median(n, bolt, &["--no-index", "get", f, "", "--from-key", "--count-only", "-w", "fields"]);
    // A first question with an index: the scan plus building and storing the key index.
    let mut first: Vec<Run> = (0..n)
        .map(|_| {
            let _ = std::fs::remove_file(&ix);
            run(bolt, &["--index", ixs, "get", f, &key])
        })
        .collect();
    first.sort_by_key(|r| r.wall);
    let get_first = first.swap_remove(n / 2);
    let ix_size = std::fs::metadata(&ix).map(|m| m.len()).unwrap_or(0);
    let same = run(bolt, &["--index", ixs, "get", f, &key]);
    assert_eq!(same.stdout, get_cold.stdout, "the warm answer is the cold one");
    let get_warm = quick(n * 4, bolt, &["--index", ixs, "get", f, &key]);
    let log_warm = quick(n * 4, bolt, &["--index", ixs, "log", f, &key, "-w", "json"]);
    let dump_wall = quick(n, bolt, &["--no-index", "dump", f]);
    let (dump_anon, dump_bytes) = to_null(bolt, &["--no-index", "dump", f]);
    // Every revision: one pass that formats every entry, without the survivors' pass before it
    // (what the formatting alone costs against status).
    let all_wall = quick(n, bolt, &["--no-index", "dump", "--all-revisions", f]);
    let (_, all_bytes) = to_null(bolt, &["--no-index", "dump", "--all-revisions", f]);
    // One prefix's keys: the survivors' pass keeps only theirs, and the formatting pass reads
    // only the pages that hold them (what `log --prefix` costs, against status).
    let dump_prefix = median(n, bolt, &["--no-index", "dump", f, "--prefix", &prefix]);

    let (floor_all, floor_live, survivors) = floor(&snap, n);
    // From the disk: the file's pages dropped from the page cache before each run.
    let status_cold = cold(n, &snap, bolt, &["--no-index", "status", f]);
    let dump_cold = cold(n, &snap, bolt, &["--no-index", "dump", f]);
    warm(&snap);
    let hashkv = median(n, bolt, &["--no-index", "hashkv", f]);

    println!("keys on {f} ({}, median of {n}, page cache warm)", mib(size));
    println!("  status                        {}   peak anon {}", secs(status.wall), mib(status.peak_anon));
    against("get KEY, no index           ", &get_cold, &status, " (goal <= 1)");
    against("get KEY, first (index built)", &get_first, &status, &format!("; index {}", mib(ix_size)));
    let tail = format!(" (goal <= 1); {} of output", mib(log_cold.stdout.len() as u64));
    against(&format!("log --prefix {prefix}, no index"), &log_cold, &status, &tail);
    against("get --from-key --count-only  ", &whole, &status, " (no goal: every key's newest entry held and counted)");
    println!("  get KEY, warm index           {}   (goal < 10 ms)", ms(get_warm));
    println!("  log KEY, warm index           {}   (goal < 10 ms)", ms(log_warm));
    let rate = |d: Duration| size as f64 / (1 << 20) as f64 / d.as_secs_f64();
    println!(
        "  dump (every live key)         {}   peak anon {}   {:.0} MiB/s of file vs status {:.0} MiB/s ({} of \
         status's rate, goal >= 1); {} of JSON",
        secs(dump_wall),
        mib(dump_anon),
        rate(dump_wall),
        rate(status.wall),
        ratio(status.wall, dump_wall),
        mib(dump_bytes)
    );
    println!(
        "  dump --all-revisions          {}   {:.0} MiB/s of file ({} of status); {} of JSON",
        secs(all_wall),
        rate(all_wall),
        ratio(status.wall, all_wall),
        mib(all_bytes)
    );
    // What no dump can go below, and the pass that finds which records it writes, in process.
    for (label, took, what) in [
        (
            "floor of dump --all-revisions",
            floor_all,
            "every entry read whole, decoded and its value base64'd into one reused buffer, in process \
             (no start-up, no JSON, no output)",
        ),
        (
            "floor of dump                ",
            floor_live,
            "the same for the survivors only, their positions known for free",
        ),
        (
            "survivors' pass alone        ",
            survivors,
            "which entries `dump` writes (compaction's keep set at the current revision), in process",
        ),
    ] {
        println!("  {label} {}   {} of status's time: {what}", secs(took), ratio(took, status.wall));
    }
    let tail = format!("'s time; {} of JSON", mib(dump_prefix.stdout.len() as u64));
    against(&format!("dump --prefix {prefix}"), &dump_prefix, &status, &tail);
    println!(
        "  page cache cold (file evicted before each run): status {}, dump {} ({} of status's rate; dump reads the \
         disk in its survivors' pass, then formats from the page cache)",
        secs(status_cold),
        secs(dump_cold),
        ratio(status_cold, dump_cold)
    );
    println!("  hashkv                        {}   peak anon {}", secs(hashkv.wall), mib(hashkv.peak_anon));
    // The real peer last: its restored copy and its server would otherwise share the page cache
    // and the cores with boltscope's timed runs.
    if peer::available() {
        real_peer(&snap, n, &key, [get_cold.wall, dump_wall, hashkv.wall]);
    }
}

/// What the same answers cost today: the snapshot restored by the real etcdutl, a real etcd
/// started on it, then etcdctl: `get KEY` (median of `n`), the whole keyspace as JSON (`dump`'s
/// answer; once, it takes tens of seconds) and `endpoint hashkv` (median of `n`). Each is set
/// against boltscope's answer from the file (`ours`: get, dump, hashkv), counting the peer's
/// whole chain (restore, start, question) and the question alone on a server already up.
fn real_peer(snap: &std::path::Path, n: usize, key: &str, ours: [Duration; 3]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let version = std::process::Command::new("etcd").arg("--version").output().expect("etcd --version");
    let version = String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or("etcd").to_string();
    let s = peer::Server::restore_and_start(snap, dir.path());
    let (restore, start) = (s.restore, s.start);
    let get = s.median(n, &["get", key]);
    let (all, all_bytes) = s.time(&["get", "", "--prefix", "-w", "json"]);
    let hash = s.median(n, &["endpoint", "hashkv"]);
    drop(s);
    println!("real peer: {version}, the file restored by etcdutl and served, then asked with etcdctl");
    println!("  etcdutl snapshot restore      {}", secs(restore));
    println!("  etcd started, until healthy   {}", secs(start));
    for (label, q, ours, what) in [
        ("etcdctl get KEY                ", get, ours[0], "boltscope get KEY (no index)".to_string()),
        (
            "etcdctl get '' --prefix -w json",
            all,
            ours[1],
            format!("boltscope dump (etcdctl wrote {} of JSON)", mib(all_bytes)),
        ),
        ("etcdctl endpoint hashkv        ", hash, ours[2], "boltscope hashkv".to_string()),
    ] {
        let whole = restore + start + q;
        let alone = q.as_secs_f64() / ours.as_secs_f64();
        // A server already up holds its key index in memory: a single key is its fast case.
        let alone = if alone >= 1.0 { format!("{alone:.1}x faster") } else { format!("{:.1}x slower", 1.0 / alone) };
        println!(
            "  {label} {}   {what}: {}, {:.0}x faster than restore + start + question; {alone} than the question \
             alone, on a server already up",
            secs(q),
            secs(ours),
            whole.as_secs_f64() / ours.as_secs_f64(),
        );
    }
}

/// One timed command's line: its time and peak anonymous memory, its time against `status`'s,
/// then `tail`.
fn against(label: &str, r: &Run, status: &Run, tail: &str) {
    println!(
        "  {label}  {}   peak anon {}   {} of status{tail}",
        secs(r.wall),
        mib(r.peak_anon),
        ratio(r.wall, status.wall)
    );
}

/// The least any `dump` must do, timed in process (medians of `n`): open and map the file, list
/// the `key` bucket's leaves, read every entry whole, decode it and base64-encode its value into
/// one buffer per thread, reused (so no output memory, no JSON around it and no write). First for
/// every entry (`--all-revisions`), then only for the survivors at the current revision, whose
/// positions are computed beforehand and not timed (`dump` finds them in a pass of its own, timed
/// third: open, map, list the leaves and compute the keep set).
fn floor(snap: &std::path::Path, n: usize) -> (Duration, Duration, Duration) {
    use boltscope::etcd::{compaction, scan};
    use std::cell::RefCell;
    thread_local!(static OUT: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1 << 16)));
    let once = |keep: Option<&compaction::Keep>| {
        let start = std::time::Instant::now();
        let file = boltscope::input::open(snap).expect("open");
        let view = boltscope::DbView::new(file.bytes()).expect("bolt");
        let kb = scan::key_bucket(&view).expect("key bucket").expect("an etcd file");
        let leaves = scan::leaves(&view, kb).expect("leaves");
        let mut encoded = 0u64;
        scan::scan_elements(
            &view,
            &leaves,
            scan::Touch::Whole,
            &|ord| keep.map_or(true, |k| k.get(ord)),
            &|| 0u64,
            &|sum: &mut u64, e| {
                // The record decoded (every dump needs its value, and a record's other fields
                // are not written here), its value alone base64'd.
                let value = boltscope::etcd::proto::kv(e.value).map_or(e.value, |kv| kv.value);
                OUT.with_borrow_mut(|out| {
                    base64_simd::STANDARD.encode_append(value, out);
                    *sum += out.len() as u64;
                    out.clear();
                });
                Ok(())
            },
            &mut |sum| {
                encoded += sum;
                Ok(())
            },
        )
        .expect("scan");
        assert!(encoded > 0);
        start.elapsed()
    };
    let survivors = || {
        let start = std::time::Instant::now();
        let file = boltscope::input::open(snap).expect("open");
        let view = boltscope::DbView::new(file.bytes()).expect("bolt");
        let kb = scan::key_bucket(&view).expect("key bucket").expect("an etcd file");
        let head = boltscope::etcd::header::Store::read(&view).expect("etcd header").head;
        let keep = compaction::keep(&view, kb, head).expect("survivors");
        (start.elapsed(), keep)
    };
    let (_, keep) = survivors();
    let median = |f: &dyn Fn() -> Duration| {
        let mut t: Vec<Duration> = (0..n).map(|_| f()).collect();
        t.sort();
        t[n / 2]
    };
    (median(&|| once(None)), median(&|| once(Some(&keep))), median(&|| survivors().0))
}

/// Runs a command with its output counted and dropped (dump's would fill the disk), sampling its
/// peak anonymous memory every millisecond: (peak anon bytes, output bytes).
fn to_null(cmd: &str, args: &[&str]) -> (u64, u64) {
    use std::io::Read;
    let mut child = std::process::Command::new(cmd)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut out = child.stdout.take().expect("piped");
    let counter = std::thread::spawn(move || {
        let (mut buf, mut n) = (vec![0u8; 1 << 20], 0u64);
        while let Ok(k) = out.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        n
    });
    let mut peak = 0;
    while child.try_wait().ok().flatten().is_none() {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let anon = s
            .lines()
            .find(|l| l.starts_with("RssAnon:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok());
        peak = peak.max(anon.unwrap_or(0) * 1024);
        std::thread::sleep(Duration::from_millis(1));
    }
    (peak, counter.join().unwrap_or(0))
}
