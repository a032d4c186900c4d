//! One index, several boltscope processes at once: a `scan` from cron while a user asks `get`,
//! parallel CI jobs each checking a backup. Each must read and record as if it were alone: no
//! two-second wait, no "index not updated", no row lost.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

fn bolt(ix: &std::path::Path) -> Command {
    let mut c = common::boltscope();
    c.arg("--index").arg(ix);
    c
}

#[test]
fn a_key_reader_holding_the_index_keeps_no_other_process_from_recording() {
    // `dump` opens the index when it starts and looks for a recorded failure when it ends; its
    // output is left unread here, so it stays blocked in the middle with the index open (before
    // the index was shared, that open kept every other process from writing: they waited two
    // seconds and went on without recording).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let big = common::path("churn-0.005.snap.db", &tmp);
    let small = common::path("tiny-1.snap.db", &tmp);
    let seed = bolt(&ix).arg("status").arg(&small).output().unwrap();
    assert!(seed.status.success());
    let mut dump = bolt(&ix)
        .args(["dump", "--all-revisions"])
        .arg(&big)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = dump.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"{", "dump has started streaming, the index open");

    let check = bolt(&ix).arg("check").arg(&small).output().unwrap();
    let status = bolt(&ix).arg("status").arg(&big).output().unwrap();

    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let done = dump.wait_with_output().unwrap();
    for (what, o) in [("check", &check), ("status", &status), ("dump", &done)] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{what}: {err}");
        assert!(!err.contains("index"), "{what} said of the index: {err}");
    }
    assert!(rest.len() > 100_000, "dump went on to the end: {} bytes", rest.len());
    // Both recorded, beside the first row.
    let hist = bolt(&ix).args(["history", "-w", "json"]).output().unwrap();
    let text = String::from_utf8_lossy(&hist.stdout);
    assert_eq!(text.matches("tiny-1.snap.db").count(), 2, "{text}");
    assert_eq!(text.matches("churn-0.005.snap.db").count(), 1, "{text}");
}

#[test]
fn a_scan_holding_the_index_for_writing_keeps_no_other_process_from_recording() {
    // A scan records each file as it reads it, then prints its table: with its output left
    // unread, it stays blocked with the index open for writing (before the index was shared,
    // every other process then waited two seconds and went on without recording).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let target = common::path("tiny-1.snap.db", &tmp);
    // Far more lines than a pipe holds (64 KiB).
    for i in 0..1000 {
        std::os::unix::fs::symlink(&target, dir.join(format!("etcd-snapshot-n-{}.db", 1_700_000_000 + i))).unwrap();
    }
    let mut scan = bolt(&ix).arg("scan").arg(&dir).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut out = scan.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();

    let other = common::path("k8s-0.005.snap.db", &tmp);
    let check = bolt(&ix).arg("check").arg(&other).output().unwrap();
    let get = bolt(&ix).args(["get", "--prefix"]).arg(&other).arg("/registry/configmaps/").output().unwrap();

    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    let done = scan.wait_with_output().unwrap();
    for (what, o) in [("check", &check), ("get", &get), ("scan", &done)] {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{what}: {err}");
        assert!(!err.contains("index"), "{what} said of the index: {err}");
    }
    assert!(!get.stdout.is_empty());
    assert!(String::from_utf8_lossy(&rest).contains("scanned 1000 files"));
    let hist = bolt(&ix).args(["history", "-w", "json"]).output().unwrap();
    let text = String::from_utf8_lossy(&hist.stdout);
    assert_eq!(text.matches("k8s-0.005.snap.db").count(), 1, "the check recorded: {text}");
    // The links name one file, which the scan recorded (rows name the file linked to).
    assert!(text.contains("\"command\":\"scan\""), "the scan recorded: {text}");
}

#[test]
fn a_new_index_made_by_several_processes_at_once_takes_every_row() {
    // Four first uses at once, five times: one process creates the index while the others look
    // at it (redb writes its header before its magic, so for a moment the file began with zeros
    // and something else, "not a boltscope index: left as it is", and those runs recorded
    // nothing). Each run records a file of its own.
    let tmp = tempfile::tempdir().unwrap();
    for trial in 0..5 {
        let ix = tmp.path().join(format!("ix-{trial}.redb"));
        let runs: Vec<_> = (0..4)
            .map(|i| {
                let f = tmp.path().join(format!("t{trial}-f{i}.snap.db"));
                std::fs::write(&f, common::bytes("tiny-1.snap.db")).unwrap();
                bolt(&ix).arg("status").arg(&f).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
            })
            .collect();
        for r in runs {
            let o = r.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "{err}");
            assert!(!err.contains("index"), "trial {trial}: {err}");
        }
        let hist = bolt(&ix).args(["history", "-w", "json"]).output().unwrap();
        let text = String::from_utf8_lossy(&hist.stdout);
        for i in 0..4 {
            assert_eq!(text.matches(&format!("t{trial}-f{i}.snap.db")).count(), 1, "trial {trial}: {text}");
        }
    }
}
