//! Reading the file of a running etcd: never blocked by its flock, and a commit landing while
//! boltscope reads is noticed (the meta pages changed), re-read, and reported if it never settles;
//! a file another process cuts short while it is read ends the run with a word, exit 2.

mod common;
use boltscope::input as db;
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
    // Until the holder has the lock (5 s at most: a loaded machine may start it late).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let held = loop {
        let held = !Command::new("flock").arg("-n").arg(&p).arg("true").status().unwrap().success();
        if held || std::time::Instant::now() > deadline {
            break held;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let out = common::boltscope().arg("status").arg(&p).output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(held, "the lock was held while boltscope read");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), common::answer("k8s-0.005.member.db", "status.simple").unwrap());
}

/// Rewrites meta page 0's txid byte and its checksum, as a commit would, through a separate
/// write handle.
fn commit(p: &std::path::Path, n: u8) {
    let mut meta = std::fs::read(p).unwrap()[..80].to_vec();
    meta[64] = n;
    let sum = boltscope::bbolt::meta::fnv1a64(&meta[16..72]);
    meta[72..80].copy_from_slice(&sum.to_le_bytes());
    let mut f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
    f.seek(SeekFrom::Start(64)).unwrap();
    f.write_all(&meta[64..80]).unwrap();
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

fn compact_job(src: &std::path::Path, dst: &std::path::Path) -> boltscope::compact::Job {
    use boltscope::compact::{Destination, Job, Revision, Trailer};
    let (src, dst) = (src.to_path_buf(), Destination::File(dst.to_path_buf()));
    let (fill, revision, trailer) = (1.0, Revision::None, Trailer::Auto);
    Job { fill, revision, trailer, force: false, verify: true, skip_hash_check: false, ..Job::new(src, dst) }
}

/// Compacts a copy of tiny-1.member.db to `copy.db` beside it while a "commit" lands: so small a
/// copy reports its progress once, at its end, before it is checked against the meta pages, and
/// the n-th report rewrites meta page 0's txid byte to `commit_on(n)`, if any.
fn compact_live(
    commit_on: impl Fn(u8) -> Option<u8> + Send + 'static,
) -> (tempfile::TempDir, Result<boltscope::compact::Report, boltscope::compact::CompactError>) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("live.db");
    std::fs::write(&p, common::bytes("tiny-1.member.db")).unwrap();
    let job = compact_job(&p, &tmp.path().join("copy.db"));
    let mut n = 0u8;
    let progress = move |_, _| {
        n += 1;
        if let Some(b) = commit_on(n) {
            commit(&p, b);
        }
    };
    let r = boltscope::compact::run(&job, Box::new(progress));
    (tmp, r)
}

#[test]
fn compact_copies_again_after_a_commit_during_the_copy() {
    let (tmp, r) = compact_live(|n| (n == 1).then_some(0x55));
    assert_eq!(r.unwrap().reads, 2, "copied again once the file settled");
    let data = std::fs::read(tmp.path().join("copy.db")).unwrap();
    let st = boltscope::etcd::status::status(
        &boltscope::DbView::new(&data).unwrap(),
        boltscope::etcd::status::EtcdVersion::V35,
    );
    assert!(st.unwrap().structure.is_clean());
}

#[test]
fn compact_refuses_a_file_that_never_settles() {
    let (tmp, r) = compact_live(|n| Some(0x40 + n));
    let e = r.unwrap_err().to_string();
    let reads = db::RETRIES + 1;
    assert!(e.contains(&format!("changed on every one of {reads} reads")), "{e}");
    assert!(e.contains("etcdctl snapshot save"), "the message says what to do instead: {e}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("live.db")], "no DST and no temporary file");
}

/// A file cut short by another process while `dump` reads it (a backup overwritten in place):
/// one line on stderr and exit 2, not a bus error with no word. `dump` is held mid-file by its
/// unread output pipe while the file is truncated.
#[test]
fn a_file_cut_short_while_it_is_read_is_an_unreadable_file_not_a_crash() {
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("overwritten.db");
    std::fs::write(&f, common::bytes("cluster-0.1.snap.db")).unwrap();
    let mut child = common::boltscope()
        .args(["--no-index", "dump", "--all-revisions"])
        .arg(&f)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its first output proves it is reading; the pipe (64 KiB, unread) then holds it mid-file.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 4096];
    stdout.read_exact(&mut first).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(0).unwrap();
    let mut sink = Vec::new();
    stdout.read_to_end(&mut sink).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cut short by another process") && err.lines().count() == 1, "{err}");
}
