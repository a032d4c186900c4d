//! Live interop with the real tools (run by `.ci/run` after `../shared/oracle/install.sh`):
//! real etcd 3.5.1 and 3.4.23 make fresh snapshots now, and `boltscope status` must print what
//! `etcdutl snapshot status` prints on each, in every format. Ignored by plain `cargo test`
//! because it needs the tools; run with `cargo test --test interop -- --ignored`.

mod common;
use std::path::{Path, PathBuf};
use std::process::Command;

fn oracle_dir() -> PathBuf {
    let d = std::env::var_os("ORACLE").map(PathBuf::from);
    d.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle"))
}

fn make_corpus(out: &Path, shapes: &[&str], v34: bool) {
    let mut c = Command::new("bash");
    c.arg(oracle_dir().join("make-corpus.sh")).arg(out).args(shapes);
    if v34 {
        c.env("ETCD", "/usr/bin/etcd").env("ETCDCTL", "/usr/bin/etcdctl").env("PREFIX", "v34-").env("ETCDCTL_API", "3");
    }
    let st = c.status().expect("run make-corpus.sh (install the tools with ../shared/oracle/install.sh)");
    assert!(st.success(), "make-corpus.sh failed");
}

fn etcdutl_status(f: &Path, fmt: &str) -> String {
    let out = Command::new("etcdutl").args(["snapshot", "status", "-w", fmt]).arg(f).output().expect("etcdutl");
    assert!(out.status.success(), "etcdutl on {}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
#[ignore = "needs real etcd/etcdutl: run by .ci/run after ../shared/oracle/install.sh"]
fn status_equals_etcdutl_on_fresh_real_snapshots() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    make_corpus(tmp.path(), &["tiny", "k8s:0.01", "churn:0.01", "auth"], false);
    make_corpus(tmp.path(), &["tiny", "k8s:0.01"], true);
    let mut files: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 12, "{files:?}");
    for f in &files {
        for fmt in ["simple", "table", "json", "fields"] {
            let out = common::boltscope().args(["status", "-w", fmt]).arg(f).output().unwrap();
            assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8(out.stdout).unwrap(), etcdutl_status(f, fmt), "{} -w {fmt}", f.display());
        }
        let tr = common::boltscope().args(["status", "--verify-trailer"]).arg(f).status().unwrap();
        assert!(tr.success(), "trailer of {}", f.display());
    }
}
