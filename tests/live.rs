//! Reading the file of a running etcd: never blocked by its flock, and a commit landing while
//! boltscope reads is noticed (the meta pages changed), re-read, and reported if it never settles.

mod common;
use boltscope::db;
use std::cell::Cell;
use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

#[test]
fn not_blocked_by_the_lock_a_running_etcd_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("k8s-0.005.member.db", &tmp);
    // Hold an exclusive flock, as bbolt does for a read-write open, for the whole test.
    let mut holder =
        Command::new("flock").arg("-x").arg(&p).args(["sleep", "30"]).stdout(Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let held = !Command::new("flock").arg("-n").arg(&p).arg("true").status().unwrap().success();
    let out = Command::new(env!("CARGO_BIN_EXE_boltscope")).arg("status").arg(&p).output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(held, "the lock was held while boltscope read");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), common::answer("k8s-0.005.member.db", "status.simple").unwrap());
}

/// Rewrites meta page 0's txid byte, as a commit would, through a separate write handle.
fn commit(p: &std::path::Path, n: u8) {
    let mut f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
    f.seek(SeekFrom::Start(64)).unwrap();
    f.write_all(&[n]).unwrap();
}

#[test]
fn a_commit_during_the_read_is_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("live.db");
    std::fs::write(&p, common::bytes("tiny-1.member.db")).unwrap();
    let calls = Cell::new(0);
    let (n, torn) = db::read_consistent(&p, |_| {
        calls.set(calls.get() + 1);
        if calls.get() == 1 {
            commit(&p, 0x55);
        }
        Ok(calls.get())
    })
    .unwrap();
    assert_eq!((n, torn), (2, false), "read again once the file settled");
}

#[test]
fn a_file_that_never_settles_is_reported_torn() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("live.db");
    std::fs::write(&p, common::bytes("tiny-1.member.db")).unwrap();
    let calls = Cell::new(0u8);
    let (n, torn) = db::read_consistent(&p, |_| {
        calls.set(calls.get() + 1);
        commit(&p, 0x40 + calls.get());
        Ok(calls.get())
    })
    .unwrap();
    assert!(torn);
    assert_eq!(usize::from(n), db::RETRIES + 1, "bounded retries");
}
