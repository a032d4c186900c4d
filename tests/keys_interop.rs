//! `get`, `log`, `hashkv` and `--decode` judged live by real etcd 3.5.1 (run by `.ci/run` after
//! `../shared/oracle/install.sh`; ignored by plain `cargo test`; run with
//! `cargo test --release --test keys_interop -- --ignored`):
//!
//! 1. a fresh `cluster`-shape snapshot is made now (etcd 3.5.1 loaded by the oracle's
//!    `etcdload.py cluster 0.1` with seed 11, not the fixture's, then `etcdctl snapshot save`);
//! 2. it, a snapshot taken now while etcd was compacting (`fixtures/make-compacting.sh`), and the
//!    fixtures tiny-1, k8s-0.005, churn-0.005 and cluster-0.1 are each restored into a
//!    real etcd 3.5.1 keeping their member and cluster ids, and asked every `etcdctl get` (every
//!    option, several prefixes, revisions across the compaction up to past the head), `watch
//!    --rev R` (stopped after 3 s) and `endpoint hashkv --rev R` case, by
//!    `fixtures/make-key-answers.sh` (the script that made the committed answers, pointed at these
//!    files and at a scratch answer folder);
//! 3. boltscope must answer every case as the live server did (the checks of keys_answers.rs:
//!    stdout byte for byte, cold and through the key index);
//! 4. the fresh snapshot's values, read by real bbolt (`boltoracle dump`) and decoded apart from
//!    boltscope (`decode-answers.py`, `k8s-meta-oracle.py`, `json.loads`), equal `dump --decode`,
//!    and its plaintext Secrets' data appears in no output without `--show-secrets`.
//!
//! Every etcd listens on 127.0.0.1 only, on ports from `KEYS_INTEROP_PORT_BASE` (default 24360:
//! 24360-24361 for the fresh load, the answers script from 24370, the compacting snapshot from
//! 24390), and is stopped at the end.

mod common;
mod keys_common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn oracle_dir() -> PathBuf {
    let d = std::env::var_os("ORACLE").map(PathBuf::from);
    d.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle"))
}

fn port_base() -> u16 {
    std::env::var("KEYS_INTEROP_PORT_BASE").ok().and_then(|s| s.parse().ok()).unwrap_or(24360)
}

fn run_ok(what: &str, c: &mut Command) -> std::process::Output {
    let out = c.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// An etcd 3.5.1 on loopback, killed when dropped.
struct Etcd(Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Makes `OUT/cluster-0.1.snap.db`: a fresh etcd 3.5.1 loaded with the `cluster` shape at scale
/// 0.1 (seed 11, another history than the fixture's), saved with `etcdctl snapshot save`.
fn fresh_cluster(out: &Path, work: &Path) {
    let (cp, pp) = (port_base(), port_base() + 1);
    let client = format!("http://127.0.0.1:{cp}");
    let peer = format!("http://127.0.0.1:{pp}");
    let log = std::fs::File::create(work.join("fresh-etcd.log")).unwrap();
    let child = Command::new("etcd")
        .args(["--name", "n1", "--data-dir"])
        .arg(work.join("fresh-data"))
        .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &format!("n1={peer}")])
        .args(["--max-txn-ops", "2000", "--max-request-bytes", "10485760"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("etcd 3.5.1 on PATH (../shared/oracle/install.sh)");
    let _etcd = Etcd(child);
    let endpoint = format!("127.0.0.1:{cp}");
    let t0 = Instant::now();
    while !Command::new("etcdctl")
        .args(["--endpoints", &endpoint, "endpoint", "health"])
        .output()
        .unwrap()
        .status
        .success()
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "fresh etcd not healthy");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut load = Command::new("python3");
    load.arg(oracle_dir().join("etcdload.py")).arg(&client).args(["cluster", "0.1"]).env("SEED", "11");
    run_ok("etcdload.py cluster 0.1", &mut load);
    let snap = out.join("cluster-0.1.snap.db");
    run_ok(
        "etcdctl snapshot save",
        Command::new("etcdctl").args(["--endpoints", &endpoint, "snapshot", "save"]).arg(&snap),
    );
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl 3.5.1, boltoracle and python3: run by .ci/run after ../shared/oracle/install.sh"]
fn get_log_hashkv_and_decode_equal_a_live_etcd() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle", "python3", "gzip"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (src, answers, work) = (tmp.path().join("src"), tmp.path().join("answers"), tmp.path().join("work"));
    for d in [&src, &answers, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    fresh_cluster(&src, &work);
    let fixtures = ["tiny-1", "k8s-0.005", "churn-0.005"];
    for fx in fixtures {
        std::fs::write(src.join(format!("{fx}.snap.db")), common::bytes(&format!("{fx}.snap.db"))).unwrap();
    }
    // The committed cluster-0.1 fixture, under another name (the answers script keys its case
    // choice by name: both take the `cluster-0.1` choices).
    let mut all: Vec<&str> = fixtures.to_vec();
    all.push("cluster-0.1");
    // A snapshot taken now while etcd 3.5.1 was still compacting (the script checks it with real
    // bbolt): the restored server resumes the compaction before it answers.
    let mut compacting = Command::new("bash");
    compacting.arg(common::dir().join("make-compacting.sh")).arg(&src).env("PORT_BASE", (port_base() + 30).to_string());
    run_ok("make-compacting.sh (a snapshot taken mid-compaction)", &mut compacting);
    all.extend(["compacting-1", "compacting-2"]);
    let mut make = Command::new("bash");
    make.arg(common::dir().join("make-key-answers.sh"))
        .args(&all)
        .env("SRC_DIR", &src)
        .env("OUTDIR", &answers)
        .env("PORT_BASE", (port_base() + 10).to_string())
        .env("DU_FIXTURES", "");
    run_ok("make-key-answers.sh (live etcd 3.5.1 answers)", &mut make);

    let (mut gets, mut watches, mut hashes) = (0, 0, 0);
    for fx in &all {
        let file = src.join(format!("{fx}.snap.db"));
        let ix = work.join(format!("{fx}.index.redb"));
        gets += keys_common::replay_get(&answers, fx, &file, &ix);
        watches += keys_common::replay_watch(&answers, fx, &file, &ix).1;
        hashes += keys_common::replay_hashkv(&answers, fx, &file);
    }
    assert!(gets > 2 * 400 && watches > 2 * 20 && hashes > 25, "{gets} gets, {watches} watches, {hashes} hashes");

    // The fresh file's values, decoded apart from boltscope.
    let fresh = src.join("cluster-0.1.snap.db");
    let dump = run_ok("boltoracle dump", Command::new("boltoracle").arg("dump").arg(&fresh));
    let dump_file = work.join("fresh.dump.txt");
    std::fs::write(&dump_file, &dump.stdout).unwrap();
    let decoded = run_ok(
        "decode-answers.py",
        Command::new("python3").arg(common::dir().join("key-answers/decode-answers.py")).arg(&dump_file),
    );
    let theirs: Vec<Value> =
        String::from_utf8(decoded.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (meta, jsons) = keys_common::check_decoded(&theirs, &fresh);
    assert!(meta > 500 && jsons > 10, "{meta} protobuf and {jsons} JSON values compared");
    let secrets = keys_common::check_secrets_withheld(&theirs, &fresh);
    assert!(secrets > 0, "the fresh snapshot has plaintext Secrets");
}
