//! The real peer of the key commands: what an operator does today to read keys out of a snapshot.
//! `etcdutl snapshot restore` into a scratch data dir, a real etcd started on it (on loopback
//! ports the system gives), then `etcdctl`. Each step is timed; the server is stopped when
//! dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether etcd, etcdctl and etcdutl are all on PATH (else the peer is skipped, said once).
pub fn available() -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = ["etcd", "etcdctl", "etcdutl"]
        .into_iter()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    if !missing.is_empty() {
        eprintln!("SKIP the real peer: {} not on PATH (../shared/oracle/install.sh)", missing.join(", "));
    }
    missing.is_empty()
}

/// A real etcd serving a restored copy of a snapshot.
pub struct Server {
    child: Child,
    client: String,
    /// How long `etcdutl snapshot restore` took.
    pub restore: Duration,
    /// From starting etcd to its first healthy answer.
    pub start: Duration,
}

impl Server {
    /// Restores `snap` into `dir/data` with the real etcdutl and starts a real etcd on it.
    pub fn restore_and_start(snap: &Path, dir: &Path) -> Server {
        let data = dir.join("data");
        let t0 = Instant::now();
        let st = Command::new("etcdutl")
            .args(["snapshot", "restore"])
            .arg(snap)
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run etcdutl");
        assert!(st.success(), "etcdutl snapshot restore {} failed", snap.display());
        let restore = t0.elapsed();
        let (cp, pp) = two_ports();
        let client = format!("http://127.0.0.1:{cp}");
        let peer = format!("http://127.0.0.1:{pp}");
        let log = std::fs::File::create(dir.join("etcd.log")).expect("log file");
        let t1 = Instant::now();
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let mut s = Server { child, client, restore, start: Duration::ZERO };
        loop {
            assert!(s.child.try_wait().ok().flatten().is_none(), "etcd exited while starting (see its log)");
            let ok = s.ctl(&["endpoint", "health"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
            if ok.is_ok_and(|o| o.success()) {
                break;
            }
            assert!(t1.elapsed() < Duration::from_secs(300), "etcd not healthy after 300 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        s.start = t1.elapsed();
        s
    }

    /// `etcdctl ARGS` pointed at the server, with room for a whole keyspace in one answer.
    pub fn ctl(&self, args: &[&str]) -> Command {
        let mut c = Command::new("etcdctl");
        c.env_remove("ETCDCTL_ENDPOINTS")
            .args([&format!("--endpoints={}", self.client), "--command-timeout=900s"])
            .args(args);
        c
    }

    /// Runs `etcdctl ARGS` with its output counted and dropped: (wall time, output bytes).
    pub fn time(&self, args: &[&str]) -> (Duration, u64) {
        use std::io::Read;
        let t0 = Instant::now();
        let mut child = self.ctl(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("etcdctl");
        let mut out = child.stdout.take().expect("piped");
        let (mut buf, mut n) = (vec![0u8; 1 << 20], 0u64);
        while let Ok(k) = out.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        let st = child.wait().expect("etcdctl");
        assert!(st.success(), "etcdctl {args:?} failed");
        (t0.elapsed(), n)
    }

    /// The median of `n` runs of `etcdctl ARGS`.
    pub fn median(&self, n: usize, args: &[&str]) -> Duration {
        let mut t: Vec<Duration> = (0..n).map(|_| self.time(args).0).collect();
        t.sort();
        t[n / 2]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let t0 = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() && t0.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two distinct free loopback ports, held until both are known.
fn two_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let b = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    (a.local_addr().expect("port").port(), b.local_addr().expect("port").port())
}
