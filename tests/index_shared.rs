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

/// `dump --all-revisions` of `file` started, its output left unread past its first byte: it stays
/// blocked in the middle, with the index open, until the caller reads on.
fn dump_under_way(ix: &std::path::Path, file: &std::path::Path) -> (std::process::Child, std::process::ChildStdout) {
    let mut dump = bolt(ix)
        .args(["dump", "--all-revisions"])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = dump.stdout.take().unwrap();
    let mut first = [0u8; 1];
    out.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"{", "dump has started streaming, the index open");
    (dump, out)
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
    let (dump, mut out) = dump_under_way(&ix, &big);

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

/// Runs `cmd`, killed after `secs` seconds: its output, and whether it ended by itself.
fn within(mut cmd: Command, secs: u64) -> (std::process::Output, bool) {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => (out.unwrap(), true),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            (rx.recv().unwrap().unwrap(), false)
        }
    }
}

#[test]
fn a_process_stopped_inside_a_write_keeps_no_other_waiting_for_long() {
    // This test holds a write transaction open in the shared mode, as a boltscope stopped by
    // Ctrl-Z (or a debugger, a frozen container) in the middle of recording does: redb's own
    // wait for it has no end, and every other process that records hung with it.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let small = common::path("tiny-1.snap.db", &tmp);
    assert!(bolt(&ix).arg("status").arg(&small).output().unwrap().status.success());
    let mut b = redb::Database::builder();
    b.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
    let db = b.create(&ix).unwrap();
    let held = db.begin_write().unwrap();
    let mut cmd = bolt(&ix);
    cmd.arg("status").arg(common::path("k8s-0.005.snap.db", &tmp));
    let (out, ended) = within(cmd, 20);
    drop(held);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(ended, "status hung behind the stopped writer: {err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("index").count(), 1, "one warning: {err}");
    assert!(err.contains("held by another"), "{err}");
}

#[test]
fn a_program_locking_another_way_keeps_the_index_in_place() {
    // A process of a later redb locking generation announces itself with a shared lock on a byte
    // past the file's end (redb's 2^62 + 6): redb refuses to share the file with it. That is no
    // damage: the index stays where it is, its history with it (it was moved aside).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let small = common::path("tiny-1.snap.db", &tmp);
    assert!(bolt(&ix).arg("status").arg(&small).output().unwrap().status.success());
    let script = "import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDONLY)\n\
                  fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 2**62 + 6)\nprint('held', flush=True)\ntime.sleep(60)\n";
    let mut other = Command::new("python3").arg("-c").arg(script).arg(&ix).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = [0u8; 5];
    other.stdout.take().unwrap().read_exact(&mut line).unwrap();
    assert_eq!(&line, b"held\n", "the line read whole: a line cut short ends the holder (EPIPE)");
    let out = bolt(&ix).arg("status").arg(common::path("k8s-0.005.snap.db", &tmp)).output().unwrap();
    let _ = other.kill();
    let _ = other.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("damaged"), "{err}");
    let aside = std::fs::read_dir(tmp.path()).unwrap().filter_map(Result::ok);
    assert_eq!(aside.filter(|e| e.file_name().to_string_lossy().contains("damaged")).count(), 0);
    let hist = bolt(&ix).args(["history", "-w", "json"]).output().unwrap();
    assert!(String::from_utf8_lossy(&hist.stdout).contains("tiny-1.snap.db"), "the history stays");
}

#[test]
fn a_key_reader_beside_a_whole_file_holder_warns_once_and_still_looks_for_a_failure() {
    // An older boltscope (or another redb program) holds the index read-only, locking the whole
    // file: the first `get` cannot store its key index (one warning), and used to say a second
    // time that it could not look for a failure recorded for the file.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let f = common::path("k8s-0.005.snap.db", &tmp);
    assert!(bolt(&ix).arg("status").arg(&f).output().unwrap().status.success());
    let held = redb::Database::builder().open_read_only(&ix).unwrap();
    let out = bolt(&ix).args(["get"]).arg(&f).arg("/registry/configmaps/ns-22/configmap-00002").output().unwrap();
    drop(held);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "one warning: {err}");
}

#[test]
fn a_process_stopped_holding_the_header_keeps_no_reader_waiting_for_long() {
    // redb's header (the file's first 320 bytes) is locked exclusively by a process writing it
    // (an open for writing, a commit, a close). A process stopped there (Ctrl-Z, a debugger) kept
    // every other process's reads waiting for as long as it stayed stopped: here `dump`, which
    // looks for a recorded failure once its records are out. This test holds the header as
    // that process would, once `dump` is under way.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let big = common::path("churn-0.005.snap.db", &tmp);
    assert!(bolt(&ix).arg("status").arg(common::path("tiny-1.snap.db", &tmp)).output().unwrap().status.success());
    let (dump, mut out) = dump_under_way(&ix, &big);
    let mut other = hold_header(&ix, true);
    let pid = dump.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = out.read_to_end(&mut rest);
        let _ = tx.send((rest.len(), dump.wait_with_output()));
    });
    let done = rx.recv_timeout(std::time::Duration::from_secs(20));
    if done.is_err() {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    let _ = other.kill();
    let _ = other.wait();
    let (rest, o) = done.expect("dump hung behind the process holding the header");
    let o = o.unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(rest > 100_000, "every record out: {rest} bytes");
    assert_eq!(err.matches("index").count(), 1, "one warning: {err}");
    assert!(err.contains("held by another"), "{err}");
}

/// Holds redb's header (the first 320 bytes) of `ix` from another process, shared or exclusive,
/// as a process stopped while it begins a read, or while it commits, holds it.
fn hold_header(ix: &std::path::Path, exclusive: bool) -> std::process::Child {
    let (mode, how) = if exclusive { ("os.O_RDWR", "LOCK_EX") } else { ("os.O_RDONLY", "LOCK_SH") };
    let script = format!(
        "import fcntl, os, sys, time\nfd = os.open(sys.argv[1], {mode})\n\
         fcntl.lockf(fd, fcntl.{how} | fcntl.LOCK_NB, 320, 0)\nprint('held', flush=True)\ntime.sleep(60)\n"
    );
    let mut other = Command::new("python3").arg("-c").arg(script).arg(ix).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = [0u8; 5];
    other.stdout.take().unwrap().read_exact(&mut line).unwrap();
    assert_eq!(&line, b"held\n", "the line read whole: a line cut short ends the holder (EPIPE)");
    other
}

/// Runs `f` on a thread: its answer within 20 s, or a failure naming `what`.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} waited without end"))
}

#[test]
fn a_header_held_by_a_stopped_process_bounds_commits_and_reads() {
    use boltscope::index::{Finding, Index};
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ix.redb");
    let ix = Index::open(&p).unwrap();
    ix.put(Finding::Nothing, Some(b"k1"), b"v1", None).unwrap();
    // Held shared (a process stopped as it began a read): reads go on, a commit cannot, nor the
    // close of a writer.
    let mut reader = hold_header(&p, false);
    let put = bounded("a commit or a close", move || {
        let put = ix.put(Finding::Nothing, Some(b"k2"), b"v2", None);
        assert_eq!(ix.get(b"k1").unwrap().as_deref(), Some(&b"v1"[..]), "reads go on");
        drop(ix);
        put
    });
    let _ = reader.kill();
    let _ = reader.wait();
    assert!(put.unwrap_err().contains("held by another"));
    // Held exclusively (a process stopped in its commit): no read either.
    let fresh = Index::open(&p).unwrap();
    let mut writer = hold_header(&p, true);
    let got = bounded("a read", move || fresh.get(b"k1"));
    let _ = writer.kill();
    let _ = writer.wait();
    assert!(got.unwrap_err().contains("held by another"));
    assert_eq!(Index::open(&p).unwrap().get(b"k1").unwrap().as_deref(), Some(&b"v1"[..]), "k1 kept, k2 not written");
    assert_eq!(Index::open(&p).unwrap().get(b"k2").unwrap(), None);
}

#[test]
fn a_process_stopped_in_the_middle_of_a_commit_keeps_no_writer_waiting() {
    // A commit takes redb's header several times, with syncs between: a process that begins a
    // read in one of those gaps and is stopped there holds the header shared, and the commit's
    // next take waited for it without end (review 39a: 16 of 16 runs with a holder at a random
    // moment). Asking whether the header is held before the commit cannot close that gap; the
    // waits themselves must end. The holder here tries for the header without pause while this
    // test writes (from a moment after the writes began), and keeps it from the first moment it gets it.
    use boltscope::index::{Finding, Index};
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ix.redb");
    let ix = Index::open(&p).unwrap();
    ix.put(Finding::Nothing, Some(b"k0"), b"v0", None).unwrap();
    let script = "import fcntl, os, sys, time\nfd = os.open(sys.argv[1], os.O_RDONLY)\nprint('ready', flush=True)\ntime.sleep(0.05)\n\
                  while True:\n    try:\n        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 320, 0)\n        break\n\
                  \x20   except OSError:\n        pass\ntime.sleep(60)\n";
    let mut other = Command::new("python3").arg("-c").arg(script).arg(&p).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = other.stdout.take().unwrap();
    let mut line = [0u8; 6];
    out.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ready\n");
    let results = bounded("a writer beside a holder taken mid-commit", move || {
        // Until the holder keeps one out (a few hundred writes at most: it tries without pause).
        let failed =
            (0..20_000u32).any(|i| ix.put(Finding::Nothing, Some(format!("k{i}").as_bytes()), b"v", None).is_err());
        drop(ix);
        failed
    });
    let _ = other.kill();
    let _ = other.wait();
    drop(out);
    assert!(results, "the holder kept a write out");
}
