//! Running the real tools from the interop tests: finding them, running them with their output
//! in failure messages, and a real etcd on loopback that is stopped when dropped.

use serde_json::Value;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether every tool is on PATH; when one is not, says which and that the test is skipped (the
/// interop tests need `../shared/oracle/install.sh`; plain `cargo test` never runs them).
pub fn have(tools: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> =
        tools.iter().copied().filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file())).collect();
    if !missing.is_empty() && std::env::var_os("BOLTSCOPE_INTEROP_REQUIRED").is_some() {
        panic!("{} not on PATH, and .ci/run requires the interop tests to run", missing.join(", "));
    }
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: {} not on PATH; install the real tools with ../shared/oracle/install.sh (root) to run this test",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

/// A tool on PATH, or a panic that says how to install it.
pub fn which(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} not on PATH (install the tools with ../shared/oracle/install.sh)"))
}

pub fn show(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// At most `n` bytes of `s`, cut at a char boundary.
pub fn prefix(s: &str, mut n: usize) -> &str {
    if n >= s.len() {
        return s;
    }
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

pub fn text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_end();
    if s.len() > 4000 {
        format!("{}... ({} bytes)", prefix(s, 4000), s.len())
    } else {
        s.to_string()
    }
}

pub fn run(c: &mut Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", show(c)))
}

/// Runs `c`, panicking with its command line and output unless it exits 0. `what` names the step.
pub fn run_ok(what: &str, c: &mut Command) -> Output {
    let out = run(c);
    assert!(
        out.status.success(),
        "{what}: `{}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        show(c),
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The peer URL written into the `members` bucket by restore: the same for both data dirs, so
/// restore writes the same member ID and meta for both (etcd restarting from a data dir does not
/// check it against the URL it listens on).
pub const RESTORE_PEER: &str = "http://127.0.0.1:2380";

pub fn restore(what: &str, snap: &Path, data: &Path) {
    let mut c = Command::new(which("etcdutl"));
    c.args(["snapshot", "restore"]).arg(snap).arg("--data-dir").arg(data).args([
        "--name",
        "n1",
        "--initial-cluster",
        &format!("n1={RESTORE_PEER}"),
        "--initial-advertise-peer-urls",
        RESTORE_PEER,
    ]);
    run_ok(what, &mut c);
}

/// Two distinct free loopback ports: from `$BOLTSCOPE_PORTS` (`LO-HI`, for a machine where each
/// user has a range) when set, else any the system gives.
pub fn free_ports() -> (u16, u16) {
    if let Some((lo, hi)) = std::env::var("BOLTSCOPE_PORTS").ok().and_then(|r| {
        let (a, b) = r.split_once('-')?;
        Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
    }) {
        let held: Vec<std::net::TcpListener> =
            (lo..=hi).filter_map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).ok()).take(2).collect();
        assert_eq!(held.len(), 2, "no two free ports in BOLTSCOPE_PORTS={lo}-{hi}");
        return (held[0].local_addr().unwrap().port(), held[1].local_addr().unwrap().port());
    }
    // Never the same port twice in one test process: the system may give a port back as soon as
    // it is released, before the etcd of the test that got it first has bound it.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut held = Vec::new();
    while held.len() < 2 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if !given.contains(&port) {
            given.push(port);
            held.push((l, port));
        }
    }
    (held[0].1, held[1].1)
}

pub fn wait_timeout(child: &mut Child, d: Duration) -> Option<ExitStatus> {
    let t0 = Instant::now();
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if t0.elapsed() > d {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A real etcd 3.5.1 on loopback; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Etcd {
    /// What the test calls it, for messages.
    pub what: String,
    child: Child,
    /// Its client URL.
    pub client: String,
    log: PathBuf,
}

impl Etcd {
    /// Starts etcd on `data` with two free loopback ports.
    pub fn start(what: &str, data: &Path) -> Etcd {
        Self::start_with(what, data, &[])
    }

    /// Starts etcd on `data` with extra flags (`--quota-backend-bytes N`).
    pub fn start_with(what: &str, data: &Path, extra: &[&str]) -> Etcd {
        Self::start_program(&which("etcd"), what, data, extra)
    }

    /// Starts the etcd binary `etcd` (another version than PATH's) on `data`.
    pub fn start_program(etcd: &Path, what: &str, data: &Path, extra: &[&str]) -> Etcd {
        let (cp, pp) = free_ports();
        let client = format!("http://127.0.0.1:{cp}");
        let peer = format!("http://127.0.0.1:{pp}");
        let log = data.with_extension("etcd.log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut c = Command::new(etcd);
        c.args(["--name", "n1", "--data-dir"]).arg(data).args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            &format!("n1={peer}"),
        ]);
        c.args(extra);
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(logf);
        let child = c.spawn().unwrap_or_else(|e| panic!("{what}: cannot start `{}`: {e}", show(&c)));
        let mut e = Etcd { what: what.to_string(), child, client, log };
        e.wait_healthy();
        e
    }

    /// The end of its log.
    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// `etcdctl` pointed at it.
    pub fn ctl(&self) -> Command {
        let mut c = Command::new(which("etcdctl"));
        c.env_remove("ETCDCTL_API").env_remove("ETCDCTL_ENDPOINTS").args([
            &format!("--endpoints={}", self.client),
            "--dial-timeout=5s",
            "--command-timeout=60s",
        ]);
        c
    }

    /// Healthy, or unhealthy only because of a stored alarm (fill-1 keeps its NOSPACE alarm).
    pub fn wait_healthy(&mut self) {
        let t0 = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                panic!("{}: etcd exited ({s}) while starting:\n{}", self.what, self.log_tail());
            }
            let out = run(self.ctl().args(["endpoint", "health", "-w", "json"]));
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            let h = &v[0];
            if h["health"] == true || h["error"].as_str().is_some_and(|e| e.contains("Active Alarm")) {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "{}: etcd not healthy after 60 s: {}\n{}",
                self.what,
                text(&out.stdout),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `etcdctl ARGS -w json`, which must succeed.
    pub fn json(&self, what: &str, args: &[&str]) -> Value {
        let out = run_ok(&format!("{}: {what}", self.what), self.ctl().args(args).args(["-w", "json"]));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: {what}: bad json ({e}): {}", self.what, text(&out.stdout)))
    }

    /// SIGTERM and wait; etcd commits its pending batch on a clean stop.
    pub fn stop(mut self) {
        let s = self.terminate();
        assert!(
            s.is_some_and(|s| s.success() || s.signal() == Some(15)),
            "{}: etcd did not stop cleanly ({s:?}):\n{}",
            self.what,
            self.log_tail()
        );
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(s)) = self.child.try_wait() {
            return Some(s);
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let s = wait_timeout(&mut self.child, Duration::from_secs(30));
        if s.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        s
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// `boltscope compact SRC -o DST EXTRA...`, which must exit 0.
pub fn compact_ok(name: &str, src: &Path, dst: &Path, extra: &[&str]) {
    let mut c = super::boltscope();
    c.arg("compact").arg(src).arg("-o").arg(dst).args(extra);
    run_ok(&format!("{name}: boltscope compact"), &mut c);
    assert!(dst.is_file(), "{name}: `{}` exited 0 but wrote no {}", show(&c), dst.display());
}

/// A private copy of a fixture database (decompressed if stored as `.gz`): the tools never open the
/// committed file, which another test may hold locked (`live.rs` holds `flock -x` on
/// `k8s-0.005.member.db`, and bbolt's read-only open then times out).
pub fn private_copy(name: &str, tmp: &tempfile::TempDir) -> PathBuf {
    let p = tmp.path().join(name);
    std::fs::write(&p, super::bytes(name)).unwrap();
    p
}

/// Runs `f` on every name, catching panics so every fixture is tried; fails listing the failures.
pub fn each(names: &[String], f: impl Fn(&str)) {
    assert!(!names.is_empty(), "no fixtures selected");
    let mut failed = Vec::new();
    for n in names {
        let t0 = Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(n))) {
            Ok(()) => eprintln!("ok   {n} ({:.1} s)", t0.elapsed().as_secs_f64()),
            Err(_) => {
                eprintln!("FAIL {n} ({:.1} s)", t0.elapsed().as_secs_f64());
                failed.push(n.clone());
            }
        }
    }
    assert!(failed.is_empty(), "{} of {} fixtures failed (messages above): {failed:?}", failed.len(), names.len());
}
