//! The `--bump-revision` marker judged live by real etcd 3.5.16 (run by `.ci/run`; ignored by plain
//! `cargo test`; run with `cargo test --release --test bump_interop -- --ignored`):
//!
//! 1. etcd, etcdctl and etcdutl 3.5.16 are fetched from Debian trixie's packages
//!    (`fixtures/get-etcd-3.5.16.sh`: apt-get download with a private package list, nothing
//!    installed; ../shared/oracle installs 3.5.1, whose etcdutl has no `--bump-revision`);
//! 2. `fixtures/make-bump.sh` makes both files anew (a restore with `--bump-revision 1000
//!    --mark-compacted`; writes and a compaction above the marker, then a snapshot) and records
//!    what etcd 3.5.16 serving each answers to every get/watch/hashkv case;
//! 3. boltscope must answer every case as the live server did (keys_answers.rs's checks);
//! 4. boltscope's compacted copies of both (at the file's floor, and at the head) are restored by
//!    etcdutl 3.5.16 and served by etcd 3.5.16: every live key equal to what boltscope reads in
//!    the original, and the server's HashKV equal to `boltscope hashkv` of the copy.
//!
//! etcd listens on 127.0.0.1 only: make-bump.sh from `BUMP_INTEROP_PORT_BASE` (default 24600),
//! the restored copies on free ports.

mod common;
mod keys_common;

use common::live::{run_ok, Etcd, RESTORE_PEER};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

#[test]
#[ignore = "needs boltoracle, python3 and Debian's apt-get (etcd 3.5.16 is fetched): run by .ci/run"]
fn bump_files_and_their_compacted_copies_equal_a_live_etcd_3_5_16() {
    if !common::live::have(&["boltoracle", "python3", "apt-get", "dpkg-deb", "etcdctl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (bin, out, answers) = (tmp.path().join("etcd316"), tmp.path().join("out"), tmp.path().join("answers"));
    let mut get = Command::new("bash");
    get.arg(common::dir().join("get-etcd-3.5.16.sh")).arg(&bin);
    if !get.status().is_ok_and(|s| s.success()) {
        assert!(std::env::var_os("BOLTSCOPE_INTEROP_REQUIRED").is_none(), "could not fetch etcd 3.5.16");
        eprintln!("SKIPPED: etcd 3.5.16 could not be fetched from deb.debian.org");
        return;
    }
    let port = std::env::var("BUMP_INTEROP_PORT_BASE").unwrap_or_else(|_| "24600".into());
    let mut make = Command::new("bash");
    make.arg(common::dir().join("make-bump.sh")).arg(&out);
    make.env("ETCD316_DIR", &bin).env("ANSWERS", &answers).env("PORT_BASE", port);
    run_ok("make-bump.sh", &mut make);

    for (fx, name) in [("bump-1", "bump-1.member.db"), ("bump-2", "bump-2.snap.db")] {
        let file = out.join(name);
        let ix = tmp.path().join(format!("{fx}.redb"));
        assert!(keys_common::replay_get(&answers, fx, &file, &ix) > 100, "{fx}: get cases");
        let (watched, _) = keys_common::replay_watch(&answers, fx, &file, &ix);
        assert!(watched > 10, "{fx}: watch cases");
        assert!(keys_common::replay_hashkv(&answers, fx, &file) > 5, "{fx}: hashkv cases");
        for (i, args) in [&[][..], &["--revision", "latest"][..]].into_iter().enumerate() {
            served_copy(&bin, &file, &tmp.path().join(format!("{fx}-{i}")), args);
        }
    }
}

/// Compacts `src` with `args`, restores the copy with etcdutl 3.5.16, serves it with etcd 3.5.16,
/// and holds the server's keys and HashKV to boltscope's.
fn served_copy(bin: &Path, src: &Path, work: &Path, args: &[&str]) {
    std::fs::create_dir_all(work).unwrap();
    let what = format!("{} {args:?}", src.display());
    let copy = work.join("copy.db");
    let c = common::compact(&[args, &["--trailer", "always"]].concat(), src, &copy);
    assert!(c.status.success(), "{what}: {}", String::from_utf8_lossy(&c.stderr));
    let data = work.join("data");
    let mut restore = Command::new(bin.join("etcdutl"));
    restore.args(["snapshot", "restore"]).arg(&copy).arg("--data-dir").arg(&data);
    restore.args(["--name", "n1", "--initial-cluster", &format!("n1={RESTORE_PEER}")]);
    run_ok(&format!("{what}: restore"), restore.args(["--initial-advertise-peer-urls", RESTORE_PEER]));
    let etcd = Etcd::start_program(&bin.join("etcd"), &what, &data, &[]);
    let served = etcd.json("get every key", &["get", "", "--from-key"]);
    let hash = etcd.json("hashkv", &["endpoint", "hashkv"]);
    etcd.stop();
    // boltscope CMD FILE ARGS...
    let ours = |args: &[&str], file: &Path| -> Value {
        let out = common::boltscope().args(["--no-index", args[0]]).arg(file).args(&args[1..]).output().unwrap();
        assert!(out.status.success(), "{what}: boltscope {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let read = ours(&["get", "", "--from-key", "-w", "json", "--show-secrets"], src);
    assert_eq!(served["kvs"], read["kvs"], "{what}: the keys etcd serves from the copy");
    assert_eq!(served["header"]["revision"], read["header"]["revision"], "{what}: the revision");
    let h = ours(&["hashkv", "-w", "json"], &copy);
    assert_eq!(hash[0]["HashKV"]["hash"], h["hash"], "{what}: HashKV of the copy");
    assert_eq!(hash[0]["HashKV"]["compact_revision"], h["compactRevision"], "{what}: compaction of the copy");
}
