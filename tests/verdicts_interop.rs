//! The verdicts against the real tools, live (run by `.ci/run` after
//! `../shared/oracle/install.sh`; ignored by plain `cargo test`):
//!
//! - the NOSPACE recipe end to end: a real etcd 3.5.1 with a 16 MiB quota filled until it refuses
//!   writes (`fixtures/make-nospace.sh`); `boltscope check --fail-on-alarm` fails the snapshot;
//!   `boltscope compact --revision latest --clear-alarms --trailer always` writes a copy that
//!   `etcdutl snapshot restore` accepts, and a real etcd started on it takes a put without
//!   `etcdctl alarm disarm`, while one started on a copy that kept the alarm refuses it;
//! - a snapshot whose trailer was cut: `boltscope check` fails it, and `etcdutl snapshot restore`
//!   refuses it as boltscope says;
//! - a member's file with a page of data past its high-water mark (a transaction that never
//!   committed): real bbolt's check passes it, etcd restores and serves it, and `boltscope
//!   check` passes it with a warning.

mod common;
use common::live::{restore, run, run_ok, which, Etcd};
use std::path::Path;
use std::process::Command;

fn boltscope(args: &[&str]) -> std::process::Output {
    run(common::boltscope().arg("--no-index").args(args))
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl: run by .ci/run after ../shared/oracle/install.sh"]
fn nospace_recipe_a_compacted_copy_without_alarms_takes_writes() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/make-nospace.sh");
    run_ok("make-nospace.sh", Command::new("bash").arg(&script).arg(tmp.path()).env("PORT_BASE", "24500"));
    let snap = tmp.path().join("nospace.snap.db");
    let alarms = std::fs::read_to_string(tmp.path().join("nospace.alarms.txt")).unwrap();
    assert!(alarms.contains("alarm:NOSPACE"), "etcd raised NOSPACE: {alarms}");
    let s = snap.to_str().unwrap();
    let check = boltscope(&["check", "--fail-on-alarm", s]);
    assert_eq!(check.status.code(), Some(1), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(String::from_utf8_lossy(&check.stdout).contains("NOSPACE alarm raised"));
    for clear in [true, false] {
        let copy = tmp.path().join(format!("compacted-{clear}.db"));
        let mut args = vec!["compact", "--revision", "latest", "--trailer", "always", s, "-o", copy.to_str().unwrap()];
        if clear {
            args.push("--clear-alarms");
        }
        let out = boltscope(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let data = tmp.path().join(format!("data-{clear}"));
        restore(&format!("restore (clear {clear})"), &copy, &data);
        let etcd = Etcd::start_with(&format!("etcd (clear {clear})"), &data, &["--quota-backend-bytes", "16777216"]);
        let put = run(etcd.ctl().args(["put", "after-restore", "ok"]));
        let said = format!("{}{}", String::from_utf8_lossy(&put.stdout), String::from_utf8_lossy(&put.stderr));
        if clear {
            assert!(put.status.success(), "a put without disarm: {said}");
            let list = run_ok("alarm list", etcd.ctl().args(["alarm", "list"]));
            assert!(list.stdout.is_empty(), "no alarm: {}", String::from_utf8_lossy(&list.stdout));
        } else {
            assert!(!put.status.success() && said.contains("space exceeded"), "the kept alarm refuses: {said}");
        }
        etcd.stop();
    }
}

#[test]
#[ignore = "needs real etcdutl: run by .ci/run after ../shared/oracle/install.sh"]
fn a_cut_trailer_fails_check_and_etcdutl_restore_refuses_it() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let snap = common::bytes("tiny-1.snap.db");
    let cut = tmp.path().join("cut.snap.db");
    std::fs::write(&cut, &snap[..snap.len() - 16]).unwrap();
    let check = boltscope(&["check", cut.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("snapshot missing hash"));
    let out = run(Command::new(which("etcdutl"))
        .args(["snapshot", "restore"])
        .arg(&cut)
        .arg("--data-dir")
        .arg(tmp.path().join("data")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "etcdutl restored a cut snapshot");
    assert!(err.contains("snapshot missing hash"), "{err}");
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn pages_a_transaction_wrote_before_it_committed_are_no_damage() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    std::fs::write(&db, common::uncommitted_page("tiny-1.member.db")).unwrap();
    let oracle = run_ok("boltoracle check", Command::new(which("boltoracle")).arg("check").arg(&db));
    assert_eq!(oracle.stdout, b"OK\n");
    let check = boltscope(&["check", db.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(0), "{text}");
    assert!(text.contains("uncommitted_pages"), "{text}");
    let data = tmp.path().join("data");
    let out = run(Command::new(which("etcdutl"))
        .args(["snapshot", "restore", "--skip-hash-check"])
        .arg(&db)
        .arg("--data-dir")
        .arg(&data));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e = Etcd::start("uncommitted page", &data);
    let v = e.json("get key1", &["get", "key1"]);
    e.stop();
    assert_eq!(v["count"], 1, "{v}");
}
