//! Shared benchmark plumbing: finding the big snapshot, timing whole commands (median of N, page
//! cache warm), and sampling a child's peak anonymous memory from /proc.

#![allow(dead_code)]

pub mod peer;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The benchmark snapshot and raw backend file: `$BOLTSCOPE_BENCH_DIR/many-2.{snap,member}.db`
/// (default `target/bench-data`), made by `benches/make-bench-data.sh` when missing.
pub fn bench_files() -> Option<(PathBuf, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir =
        std::env::var_os("BOLTSCOPE_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target/bench-data"));
    let snap = dir.join("many-2.snap.db");
    if !snap.exists() {
        eprintln!("making {} with real etcd (benches/make-bench-data.sh)...", snap.display());
        let ok = Command::new("bash")
            .arg(root.join("benches/make-bench-data.sh"))
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !snap.exists() {
            eprintln!("SKIP: no benchmark snapshot (install the tools with ../shared/oracle/install.sh, or set BOLTSCOPE_BENCH_DIR)");
            return None;
        }
    }
    Some((snap, dir.join("many-2.member.db")))
}

/// Puts a file in the page cache as a read from disk leaves it, so every timed run starts warm and
/// alike: first dropped from the cache (`dd iflag=nocache`), then read whole. A file still cached
/// as it was written (the bench data just made by etcdctl's small writes) is held in 4 KiB pages,
/// and mapping it then takes a fault every 64 KiB instead of one for each large page readahead
/// makes: `status` of the same snapshot took 0.197 s with 19,282 faults before, 0.133 s with 1,128
/// after.
pub fn warm(path: &Path) {
    evict(path);
    let _ = Command::new("cat").arg(path).stdout(Stdio::null()).status();
}

/// Drops the file's pages from the page cache (`posix_fadvise(DONTNEED)` through `dd`; no
/// privilege needed), so the next read comes from the disk.
pub fn evict(path: &Path) {
    let _ = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status();
}

/// [`quick`] with `path` evicted from the page cache before each run: the median of `n`.
pub fn cold(n: usize, path: &Path, cmd: &str, args: &[&str]) -> Duration {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            evict(path);
            quick(1, cmd, args)
        })
        .collect();
    t.sort();
    t[n / 2]
}

/// One timed run of a command.
pub struct Run {
    /// Wall time.
    pub wall: Duration,
    /// Peak RssAnon sampled every millisecond, in bytes.
    pub peak_anon: u64,
    /// Peak resident set (VmHWM, file-backed pages included) at the last sample, in bytes.
    pub peak_rss: u64,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Exit status success.
    pub ok: bool,
}

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb * 1024)
}

/// Runs `cmd args` once, sampling its anonymous memory.
pub fn run(cmd: &str, args: &[&str]) -> Run {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let start = Instant::now();
    let mut child = Command::new(cmd)
        .args(args)
        .stdout(out.reopen().expect("reopen"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {cmd}: {e}"));
    let (mut peak, mut hwm) = (0, 0);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        peak = peak.max(status_field(child.id(), "RssAnon:").unwrap_or(0));
        hwm = hwm.max(status_field(child.id(), "VmHWM:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(1));
    };
    let wall = start.elapsed();
    Run {
        wall,
        peak_anon: peak,
        peak_rss: hwm,
        stdout: std::fs::read(out.path()).unwrap_or_default(),
        ok: status.success(),
    }
}

/// Runs a command `n` times; returns the median run (by wall time) and the highest peak memory.
pub fn median(n: usize, cmd: &str, args: &[&str]) -> Run {
    let mut runs: Vec<Run> = (0..n).map(|_| run(cmd, args)).collect();
    let peak = runs.iter().map(|r| r.peak_anon).max().unwrap_or(0);
    let hwm = runs.iter().map(|r| r.peak_rss).max().unwrap_or(0);
    runs.sort_by_key(|r| r.wall);
    let mut m = runs.swap_remove(n / 2);
    (m.peak_anon, m.peak_rss) = (peak, hwm);
    m
}

/// Number of timed runs per command: `BOLTSCOPE_BENCH_RUNS`, default 3.
pub fn runs() -> usize {
    std::env::var("BOLTSCOPE_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3).max(1)
}

/// The real etcdutl: `$ETCDUTL` or `etcdutl` on PATH.
pub fn etcdutl() -> String {
    std::env::var("ETCDUTL").unwrap_or_else(|_| "etcdutl".into())
}

/// Formats seconds.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Formats bytes in MiB.
pub fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// SHA-256 over the mapped file, in process, as `inspect` computes it (median of `n`).
pub fn sha_alone(path: &std::path::Path, n: usize) -> std::time::Duration {
    let mut t: Vec<std::time::Duration> = (0..n)
        .map(|_| {
            let start = std::time::Instant::now();
            let f = boltscope::input::open(path).expect("map");
            let c = boltscope::etcd::trailer::verify(f.bytes()).expect("has a trailer");
            assert!(c.ok(), "trailer matches");
            start.elapsed()
        })
        .collect();
    t.sort();
    t[n / 2]
}

/// Median wall time of `n` runs of a short command, without the memory sampler (whose 1 ms
/// polling would dominate a millisecond-long run).
pub fn quick(n: usize, cmd: &str, args: &[&str]) -> Duration {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let start = Instant::now();
            let st = Command::new(cmd).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("run");
            assert!(st.success(), "{cmd} {args:?}");
            start.elapsed()
        })
        .collect();
    t.sort();
    t[n / 2]
}

/// What the snapshot-and-backend benches start from: both files (page cache warmed), the binary,
/// the run count and the real etcdutl.
pub struct Setup {
    /// The snapshot (with trailer).
    pub snap: PathBuf,
    /// The raw backend file.
    pub member: PathBuf,
    /// boltscope's binary.
    pub bolt: &'static str,
    /// Timed runs per command.
    pub n: usize,
    /// etcdutl.
    pub etcdutl: String,
}

/// Finds (or makes) the benchmark files and warms them; `None` when they cannot be had.
pub fn setup(bolt: &'static str) -> Option<Setup> {
    let (snap, member) = bench_files()?;
    warm(&member);
    warm(&snap);
    Some(Setup { snap, member, bolt, n: runs(), etcdutl: etcdutl() })
}
