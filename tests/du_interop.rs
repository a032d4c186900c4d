//! Live interop for `du` (run by `.ci/run` with `-- --ignored` after
//! ../shared/oracle/install.sh): a real etcd 3.5.1 loaded now with etcdload.py's `cluster`
//! shape; while it serves, `etcdctl get "" --prefix -w json` gives the live keys and values and
//! `etcdctl snapshot save` the file; real bbolt's `boltoracle dump` of the file and that get go
//! through fixtures/du-oracle.py; `boltscope du` must give its figures exactly, by resource and
//! by namespace. The etcd listens on 127.0.0.1 only (client port `$BOLTSCOPE_TEST_PORT` and the
//! next one for peers, else two free ports) and is killed when the test ends. Skipped, with a
//! message, without the tools (a failure under .ci/run, which requires them).

mod common;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn oracle_dir() -> PathBuf {
    let d = std::env::var_os("ORACLE").map(PathBuf::from);
    d.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle"))
}

/// Kills the etcd it holds when dropped (also when an assertion fails).
struct Etcd(Child);

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tool(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The figures of `du -w json` groups keyed by name, as the oracle writes them.
fn groups(v: &Value) -> Value {
    let keys = ["live_keys", "live_bytes", "revisions", "tombstones", "stored_bytes", "compact_revisions"];
    let mut m = serde_json::Map::new();
    for g in v["groups"].as_array().unwrap() {
        let mut f: serde_json::Map<String, Value> = keys.iter().map(|k| (k.to_string(), g[*k].clone())).collect();
        for k in ["compact_bytes", "leases", "encodings"] {
            f.insert(k.into(), g[k].clone());
        }
        m.insert(g["name"].as_str().unwrap().to_owned(), Value::Object(f));
    }
    Value::Object(m)
}

#[test]
#[ignore = "needs real etcd/etcdctl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn du_equals_the_oracle_on_a_fresh_real_cluster_snapshot() {
    if !common::live::have(&["etcd", "etcdctl", "boltoracle", "python3"]) {
        return;
    }
    let load = oracle_dir().join("etcdload.py");
    assert!(load.exists(), "no {} (set ORACLE to the oracle folder)", load.display());
    let fixed: Option<u16> = std::env::var("BOLTSCOPE_TEST_PORT").ok().and_then(|p| p.parse().ok());
    let (port, peer_port) = fixed.map_or_else(common::live::free_ports, |p| (p, p + 1));
    let tmp = tempfile::tempdir().unwrap();
    let (client, peer) = (format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{peer_port}"));
    let data = tmp.path().join("data");
    let etcd = Etcd(
        Command::new("etcd")
            .args(["--name", "n1", "--data-dir", data.to_str().unwrap()])
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args([
                "--initial-cluster",
                &format!("n1={peer}"),
                "--max-txn-ops",
                "2000",
                "--max-request-bytes",
                "10485760",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd"),
    );
    let ep = format!("--endpoints=127.0.0.1:{port}");
    let healthy = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        Command::new("etcdctl").args([ep.as_str(), "endpoint", "health"]).output().is_ok_and(|o| o.status.success())
    });
    assert!(healthy, "etcd did not start on port {port}");
    tool("python3", &[load.to_str().unwrap(), &client, "cluster", "0.1"]);
    let get = tmp.path().join("get.json");
    std::fs::write(&get, tool("etcdctl", &[ep.as_str(), "get", "", "--prefix", "-w", "json"])).unwrap();
    let snap = tmp.path().join("cluster.snap.db");
    tool("etcdctl", &[ep.as_str(), "snapshot", "save", snap.to_str().unwrap()]);
    drop(etcd);
    let dump = tmp.path().join("dump.txt");
    std::fs::write(&dump, tool("boltoracle", &["dump", snap.to_str().unwrap()])).unwrap();
    let oracle = common::dir().join("du-oracle.py");
    let want: Value = serde_json::from_slice(&tool(
        "python3",
        &[oracle.to_str().unwrap(), dump.to_str().unwrap(), get.to_str().unwrap()],
    ))
    .unwrap();
    let du = |args: &[&str]| -> Value {
        let out = common::boltscope().args(["--no-index", "du", "-w", "json"]).args(args).arg(&snap).output().unwrap();
        assert!(out.status.success());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = du(&[]);
    assert_eq!((&v["by"], &v["revision"]), (&want["default_by"], &want["source"]["revision"]));
    assert_eq!(groups(&v), want["by"]["resource"]);
    let t = &v["total"];
    for k in [
        "live_keys",
        "live_bytes",
        "revisions",
        "tombstones",
        "stored_bytes",
        "compact_revisions",
        "compact_bytes",
        "leases",
        "encodings",
    ] {
        assert_eq!(t[k], want["total"][k], "total {k}");
    }
    assert_eq!(groups(&du(&["--by", "namespace"])), want["by"]["namespace"]);
    let pairs =
        |l: &Value, m: &str| -> Vec<Value> { l.as_array().unwrap().iter().map(|e| json!([e["key"], e[m]])).collect() };
    assert_eq!(pairs(&v["top"]["largest"], "bytes"), pairs(&want["top"]["live_bytes"], "live_bytes"));
    assert_eq!(pairs(&v["top"]["most_revised"], "revisions"), pairs(&want["top"]["revisions"], "revisions"));
    assert_eq!(pairs(&v["top"]["most_stored"], "stored_bytes"), pairs(&want["top"]["stored_bytes"], "stored_bytes"));
}
