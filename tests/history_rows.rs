//! What `history` is told: the verdict of the file as etcd reads it, never an ok `check` would
//! not give, under the file's exact name. The tree of a meta page asked for (`--meta N`) is no
//! row; a file that changed on every read is no ok; two names that differ only in bytes that are
//! not UTF-8 are two files.

mod common;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn run(index: &Path, args: &[&str], files: &[&Path]) -> Output {
    common::boltscope().arg("--index").arg(index).args(args).args(files).output().unwrap()
}

/// The rows `history -w json` gives for `files`.
fn rows(index: &Path, files: &[&Path]) -> Vec<Value> {
    let out = run(index, &["history", "-w", "json"], files);
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// k8s-0.005.member.db with its newer meta page still valid (checksum recomputed) but its root
/// moved to a page that is no tree page (found by hand: neither branch nor leaf): the file as
/// etcd reads it is broken, the older meta page's tree is sound. Returns the path and the older
/// meta page's number.
fn newer_tree_broken(dir: &Path) -> (PathBuf, usize) {
    let mut d = common::bytes("k8s-0.005.member.db");
    let l = common::damage::shape(&d);
    let not_tree = (2..l.hwm as usize).find(|&p| !matches!(common::u16_at(&d, p * 4096 + 8), 0x01 | 0x02)).unwrap();
    let m = l.active_meta * 4096;
    common::put_u64(&mut d, m + 32, not_tree as u64);
    let sum = boltscope::bbolt::meta::fnv1a64(&d[m + 16..m + 72]);
    d[m + 72..m + 80].copy_from_slice(&sum.to_le_bytes());
    let p = dir.join("newer-tree-broken.db");
    std::fs::write(&p, &d).unwrap();
    (p, 1 - l.active_meta)
}

#[test]
fn the_tree_of_a_meta_page_asked_for_is_no_row_and_never_the_file_s_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let (f, older) = newer_tree_broken(&dir);
    let older = older.to_string();
    assert_eq!(run(&ix, &["check"], &[&f]).status.code(), Some(1), "the file as etcd reads it");
    // The older tree is sound: both commands say so, and inspect answers a second time from the
    // index (it keeps the answer to that question), yet no row is added.
    let c = run(&ix, &["check", "--meta", &older], &[&f]);
    assert_eq!(c.status.code(), Some(0), "{}", String::from_utf8_lossy(&c.stdout));
    for _ in 0..2 {
        assert_eq!(run(&ix, &["inspect", "--meta", &older], &[&f]).status.code(), Some(0));
    }
    let r = rows(&ix, &[&f]);
    assert_eq!(r.len(), 1, "only the check of the file itself: {r:?}");
    assert_eq!((r[0]["command"].as_str(), r[0]["verdict"].as_str()), (Some("check"), Some("1 problem(s)")));
    // No answer about the older tree stands for the file: scan fails it too.
    assert_eq!(run(&ix, &["scan"], &[&dir]).status.code(), Some(1));
    for r in rows(&ix, &[&f]) {
        assert!(!r["verdict"].as_str().unwrap().starts_with("ok"), "{r}");
    }
}

/// Commits, as a live etcd does, to the older meta page of `p` until `stop`: its root bucket's
/// sequence counts up, its checksum recomputed, so every read sees the meta pages change (and
/// every state of the file is a sound one: the tree read is the newer meta page's).
fn committer(p: &Path, stop: &std::sync::atomic::AtomicBool) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
    let mut d = vec![0u8; 8192];
    f.read_exact_at(&mut d, 0).unwrap();
    let m = if common::u64_at(&d, 64) < common::u64_at(&d, 4096 + 64) { 0 } else { 4096 };
    let mut meta = d[m..m + 80].to_vec();
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        n += 1;
        common::put_u64(&mut meta, 40, n);
        let sum = boltscope::bbolt::meta::fnv1a64(&meta[16..72]);
        meta[72..80].copy_from_slice(&sum.to_le_bytes());
        f.write_all_at(&meta[40..80], (m + 40) as u64).unwrap();
    }
}

#[test]
fn a_file_that_changed_on_every_read_is_never_recorded_ok() {
    // A 4 MB etcd file (cluster-0.1 without its trailer, which any commit would make wrong) that
    // a committer keeps changing. Whether a run reads it torn is a race: each command runs until
    // it says it did, then its row must not be an ok (a run that read it whole may be one).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("live");
    std::fs::create_dir(&dir).unwrap();
    let f = dir.join("etcd-snapshot-live-1765000000");
    let d = common::bytes("cluster-0.1.snap.db");
    std::fs::write(&f, &d[..d.len() - 32]).unwrap();
    let still = common::boltscope().args(["--no-index", "check"]).arg(&f).output().unwrap();
    assert_eq!(still.status.code(), Some(0), "sound while still");
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| committer(&f, &stop));
        for cmd in ["check", "inspect", "scan", "trend", "du", "status"] {
            let target: &Path = if cmd == "scan" { &dir } else { &f };
            let torn = (0..40).find_map(|_| {
                // At the lowest priority, so the committer runs during its reads even on a busy
                // machine.
                let mut c = std::process::Command::new("nice");
                let out = c.args(["-n", "19", env!("CARGO_BIN_EXE_boltscope"), "--index"]).arg(&ix);
                let out = out.arg(cmd).arg(target).output().unwrap();
                let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
                (said.contains("changed on every") || said.contains("while read")).then_some((out, said))
            });
            let Some((out, said)) = torn else {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                panic!("{cmd}: no read was torn in 40 runs");
            };
            let last = rows(&ix, &[&f]).into_iter().rfind(|r| r["command"] == cmd).unwrap();
            let verdict = last["verdict"].as_str().unwrap();
            let ok = verdict.starts_with("ok") || verdict.starts_with("not verified");
            if ok {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            assert!(!ok, "{cmd} recorded a torn read as {verdict}: {said}");
            assert!(verdict.ends_with("changed while read"), "{cmd}: {verdict}");
            assert_eq!(out.status.code(), Some(1), "{cmd}: {said}");
        }
        // check's and inspect's JSON say the same: no ok for a torn read.
        let torn_json = |cmd: &str| {
            (0..40).find_map(|_| {
                let mut c = std::process::Command::new("nice");
                let out = c.args(["-n", "19", env!("CARGO_BIN_EXE_boltscope"), "--no-index", cmd, "-w", "json"]);
                let out = out.arg(&f).output().unwrap();
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
                (v["changed_while_read"] == true).then_some(v)
            })
        };
        let (check, inspect) = (torn_json("check"), torn_json("inspect"));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for (cmd, v) in [("check", check), ("inspect", inspect)] {
            let v = v.unwrap_or_else(|| panic!("{cmd} -w json: no read was torn in 40 runs"));
            assert_eq!(v["ok"], false, "{cmd}: {v}");
        }
    });
}

#[test]
fn two_names_that_differ_only_in_bytes_not_utf8_have_their_own_history() {
    use std::os::unix::ffi::OsStrExt;
    // `a\xff.db` and `a\xfe.db` read the same lossily (`a\u{fffd}.db`): one is sound, the other
    // fails check. Each has its own rows, shown with the bytes as `\xNN`, and trend finds both.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let name = |b: u8| tmp.path().join(std::ffi::OsStr::from_bytes(&[b'a', b, b'.', b'd', b'b']));
    let (good, bad) = (name(0xff), name(0xfe));
    assert_eq!(good.to_string_lossy(), bad.to_string_lossy());
    std::fs::write(&good, common::bytes("tiny-1.snap.db")).unwrap();
    let mut d = common::bytes("tiny-1.snap.db");
    d[20512 - 1] ^= 1; // the sha256 trailer's last byte
    std::fs::write(&bad, &d).unwrap();
    assert_eq!(run(&ix, &["check"], &[&good]).status.code(), Some(0));
    assert_eq!(run(&ix, &["check"], &[&bad]).status.code(), Some(1));
    let dir = tmp.path().display();
    for (f, shown, verdict) in [(&good, "ff", "ok"), (&bad, "fe", "1 problem(s)")] {
        let r = rows(&ix, &[f]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0]["path"], format!("{dir}/a\\x{shown}.db"));
        assert_eq!(r[0]["verdict"], verdict);
        let table = String::from_utf8_lossy(&run(&ix, &["history"], &[f]).stdout).into_owned();
        assert!(table.starts_with(&format!("{dir}/a\\x{shown}.db\n")), "{table}");
    }
    // trend without paths reads every file the index knows: both are there, not gone.
    let t = run(&ix, &["trend", "-w", "json"], &[]);
    let v: Value = serde_json::from_slice(&t.stdout).unwrap();
    assert_eq!(v["skipped"].as_array().map(Vec::len), Some(1), "the damaged one: {v}");
    assert_eq!(v["skipped"][0]["error"]["kind"], "damaged", "{v}");
    assert_eq!(rows(&ix, &[&good]).len(), 2, "trend read the sound one again");
}

#[test]
fn du_told_not_to_check_the_trailer_records_no_ok() {
    // One bit flipped under the sha256 trailer: only the trailer knows, and check fails the file.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let f = tmp.path().join("rotten.snap.db");
    std::fs::write(&f, common::with_last_value_flipped("k8s-0.005.snap.db")).unwrap();
    assert_eq!(run(&ix, &["check"], &[&f]).status.code(), Some(1));
    // Its figures, unchecked; the failure check recorded is told (exit 1), as every reader tells it.
    let du = run(&ix, &["du", "--skip-hash-check"], &[&f]);
    assert_eq!(du.status.code(), Some(1), "{}", String::from_utf8_lossy(&du.stderr));
    assert!(!du.stdout.is_empty(), "its figures still come out");
    let last = rows(&ix, &[&f]).pop().unwrap();
    assert_eq!(
        (last["command"].as_str(), last["verdict"].as_str()),
        (Some("du"), Some("not verified (sha256 trailer not checked)"))
    );
}

#[test]
fn every_command_s_row_of_an_archive_gives_the_size_of_the_database_in_it() {
    // du's row said the .gz's own size beside the others' expanded one (review 42b: the FILE
    // column jumped for one unchanged file).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("index.redb");
    let gz = tmp.path().join("tiny-1.snap.db.gz");
    std::fs::copy(common::dir().join("archives/tiny-1.snap.db.gz"), &gz).unwrap();
    for cmd in ["status", "inspect", "du", "check"] {
        assert_eq!(run(&ix, &[cmd], &[&gz]).status.code(), Some(0), "{cmd}");
    }
    let rows = rows(&ix, &[&gz]);
    let sizes: std::collections::BTreeSet<u64> = rows.iter().map(|r| r["file_size"].as_u64().unwrap()).collect();
    let expanded = common::bytes("tiny-1.snap.db").len() as u64;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(sizes.into_iter().collect::<Vec<_>>(), [expanded], "{rows:?}");
}
