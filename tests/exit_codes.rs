//! One exit-code policy for every command: 0 clean, 1 problems (or a failed gate), 2 unreadable
//! input or bad usage. Each command is run on a clean file, a damaged one, an unreadable one and
//! with a bad command line. Also: old flag spellings still work, out-of-range values are refused,
//! and the hints a new user needs are given.

mod common;
use std::path::{Path, PathBuf};
use std::process::Output;

struct Files {
    _tmp: tempfile::TempDir,
    clean: PathBuf,
    damaged: PathBuf,
    missing: PathBuf,
    dir: PathBuf,
}

/// A clean snapshot, the same with a flipped bit under its trailer, a path that does not exist,
/// and a folder holding each kind for scan.
fn files() -> Files {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean.snap.db");
    std::fs::write(&clean, common::bytes("tiny-1.snap.db")).unwrap();
    let mut d = common::bytes("tiny-1.snap.db");
    let n = d.len();
    d[n - 40] ^= 0x01; // in the last page, under the trailer
    let damaged = tmp.path().join("damaged.snap.db");
    std::fs::write(&damaged, &d).unwrap();
    let missing = tmp.path().join("missing.db");
    let dir = tmp.path().join("folder");
    std::fs::create_dir(&dir).unwrap();
    Files { _tmp: tmp, clean, damaged, missing, dir }
}

fn code(args: &[&str], file: Option<&Path>) -> (Option<i32>, String) {
    let mut c = common::boltscope();
    c.arg("--no-index").args(args);
    if let Some(f) = file {
        c.arg(f);
    }
    let o: Output = c.output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn every_reading_command_exits_0_clean_1_damaged_2_unreadable_2_bad_usage() {
    let f = files();
    for cmd in [&["status", "--check-hash"][..], &["inspect"], &["check"], &["du"]] {
        let what = cmd[0];
        assert_eq!(code(cmd, Some(&f.clean)).0, Some(0), "{what} clean");
        assert_eq!(code(cmd, Some(&f.damaged)).0, Some(1), "{what} damaged");
        assert_eq!(code(cmd, Some(&f.missing)).0, Some(2), "{what} unreadable");
        assert_eq!(code(cmd, Some(&f.dir)).0, Some(2), "{what} a folder");
        let mut bad = cmd.to_vec();
        bad.push("--no-such-flag");
        assert_eq!(code(&bad, Some(&f.clean)).0, Some(2), "{what} bad usage");
    }
}

#[test]
fn compact_exits_0_written_1_damaged_source_2_unreadable_or_bad_usage() {
    let f = files();
    let dst = |n: &str| f.dir.join(n).to_str().unwrap().to_string();
    assert_eq!(code(&["compact", "-o", &dst("a.db")], Some(&f.clean)).0, Some(0));
    assert_eq!(code(&["compact", "-o", &dst("b.db")], Some(&f.damaged)).0, Some(1));
    assert_eq!(code(&["compact", "-o", &dst("c.db")], Some(&f.missing)).0, Some(2));
    assert_eq!(code(&["compact", "--fill", "2", "-o", &dst("d.db")], Some(&f.clean)).0, Some(2));
    assert_eq!(code(&["compact", "--revision", "soon", "-o", &dst("e.db")], Some(&f.clean)).0, Some(2));
    assert_eq!(code(&["compact", "-o", &dst("a.db")], Some(&f.clean)).0, Some(2), "DST exists");
}

#[test]
fn salvage_exits_0_nothing_lost_1_something_lost_2_nothing_written() {
    let f = files();
    let dst = |n: &str| f.dir.join(n).to_str().unwrap().to_string();
    assert_eq!(code(&["salvage", "-o", &dst("a.db")], Some(&f.clean)).0, Some(0));
    // The flipped bit leaves the tree whole but the trailer says bytes changed: a value may carry
    // the change, so not everything is certain.
    assert_eq!(code(&["salvage", "-o", &dst("b.db")], Some(&f.damaged)).0, Some(1));
    assert_eq!(code(&["salvage", "-o", &dst("c.db")], Some(&f.missing)).0, Some(2));
    assert_eq!(code(&["salvage", "--fill", "2", "-o", &dst("d.db")], Some(&f.clean)).0, Some(2));
    assert_eq!(code(&["salvage", "-o", &dst("a.db")], Some(&f.clean)).0, Some(2), "DST exists");
    let junk = f.dir.join("junk.db");
    std::fs::write(&junk, vec![0x5a; 64 << 10]).unwrap();
    let (c, err) = code(&["salvage", "-o", &dst("e.db")], Some(&junk));
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("nothing was written") && !f.dir.join("e.db").exists(), "{err}");
}

#[test]
fn scan_and_history_and_the_generators_follow_the_same_policy() {
    let f = files();
    let scan = |dir: &Path| code(&["scan"], Some(dir)).0;
    std::fs::copy(&f.clean, f.dir.join("clean.db")).unwrap();
    assert_eq!(scan(&f.dir), Some(0));
    std::fs::copy(&f.damaged, f.dir.join("damaged.db")).unwrap();
    assert_eq!(scan(&f.dir), Some(1));
    std::fs::write(f.dir.join("short.db"), &common::bytes("tiny-1.snap.db")[..700]).unwrap();
    assert_eq!(scan(&f.dir), Some(2));
    assert_eq!(scan(&f.clean), Some(2), "scan of a file, not a folder");
    assert_eq!(code(&["history"], None).0, Some(2), "history without an index");
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let hist = common::boltscope().arg("--index").arg(&ix).arg("history").output().unwrap();
    assert_eq!(hist.status.code(), Some(0));
    assert_eq!(code(&["completions", "bash"], None).0, Some(0));
    assert_eq!(code(&["completions", "tcsh"], None).0, Some(2));
    assert_eq!(code(&["man"], None).0, Some(0));
    assert_eq!(code(&["man", "extra"], None).0, Some(2));
}

#[test]
fn every_help_states_the_exit_codes() {
    for cmd in ["status", "inspect", "check", "compact", "salvage", "scan", "history", "du"] {
        let out = common::run([cmd, "--help"]);
        let help = String::from_utf8_lossy(&out.stdout);
        // Each command's own meaning where it has one (compact and salvage write, they gate nothing),
        // stated once.
        let own = match cmd {
            "compact" => "Exit codes: 0 DST written",
            "salvage" => "Exit codes: 0 written, nothing lost",
            _ => "Exit codes: 0 clean",
        };
        assert!(help.contains(own), "{cmd} --help: {help}");
        // compact's exit 1 with its copy written (review 50b: the footer did not say it).
        if cmd == "compact" {
            assert!(help.contains("or DST written (and verified) but SRC has errors outside"), "{help}");
        }
        assert_eq!(help.matches("Exit codes:").count(), 1, "{cmd} --help: {help}");
        assert!(help.contains("Examples:") || help.contains("Example:"), "{cmd} --help has examples");
    }
}

#[test]
fn old_spellings_still_work_and_out_of_range_values_are_refused() {
    let f = files();
    // One spelling per idea (--check-hash, --skip-hash-check, --require-hash); the old ones are
    // hidden aliases.
    assert_eq!(code(&["status", "--verify-trailer"], Some(&f.damaged)).0, Some(1));
    assert_eq!(code(&["inspect", "--skip-hash-check"], Some(&f.damaged)).0, Some(0));
    assert_eq!(code(&["inspect", "--skip-hash-check"], Some(&f.damaged)).0, Some(0));
    assert_eq!(code(&["check", "--require-trailer"], Some(&f.clean)).0, Some(0));
    for (flag, v) in [("--max-fragmentation", "1.5"), ("--max-quota-usage", "2"), ("--max-fragmentation", "101%")] {
        let (c, err) = code(&["check", flag, v], Some(&f.clean));
        assert_eq!(c, Some(2), "{flag} {v}");
        assert!(err.contains("fraction from 0.0 to 1.0"), "{err}");
    }
    let help = String::from_utf8_lossy(&common::run(["compact", "--help"]).stdout).into_owned();
    assert!(help.contains("a fraction from 0.5 to 1.0") && !help.contains("fill percent"), "{help}");
}

#[test]
fn the_hints_a_new_user_needs() {
    let f = files();
    // An etcd data directory instead of its database.
    let data = f.dir.join("etcd-data");
    std::fs::create_dir_all(data.join("member/snap")).unwrap();
    std::fs::copy(common::dir().join("tiny-1.member.db"), data.join("member/snap/db")).unwrap();
    let (c, err) = code(&["status"], Some(&data));
    assert_eq!(c, Some(2));
    assert!(err.contains(&format!("did you mean {}?", data.join("member/snap/db").display())), "{err}");
    // An etcd WAL segment (the first bytes of a real etcd 3.5.1 WAL).
    let (c, err) = code(&["status"], Some(&common::dir().join("k3s/etcd-wal-head.bin")));
    assert_eq!(c, Some(2));
    assert!(err.contains("etcd WAL") && err.contains("member/snap/db"), "{err}");
    // A member file compacted without a trailer: how to make the copy restorable.
    let dst = f.dir.join("copy.db");
    let (c, err) = code(&["compact", "-o", dst.to_str().unwrap()], Some(&common::dir().join("tiny-1.member.db")));
    assert_eq!(c, Some(0));
    assert!(err.contains("--trailer always") && err.contains("etcdutl snapshot restore"), "{err}");
}

#[test]
fn a_damaged_index_is_set_aside_once_and_the_next_run_is_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    // redb's magic number (its first bytes), then garbage: an index, damaged.
    let mut d = b"redb\x1a\x0a\xa9\x0d\x0a".to_vec();
    d.resize(64 << 10, 0x5a);
    std::fs::write(&ix, d).unwrap();
    let clean = common::path("tiny-1.snap.db", &tmp);
    let run = || common::boltscope().arg("--index").arg(&ix).arg("status").arg(&clean).output().unwrap();
    let first = run();
    assert_eq!(first.status.code(), Some(0));
    let err = String::from_utf8_lossy(&first.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("was damaged") && err.contains("started a new one"), "{err}");
    let second = run();
    assert!(second.stderr.is_empty(), "{}", String::from_utf8_lossy(&second.stderr));
    let aside = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ix.redb.damaged-"));
    assert_eq!(aside.count(), 1, "the damaged index is kept aside for the user");
}

#[test]
fn an_output_that_cannot_be_written_exits_2_with_one_line_never_a_panic() {
    // A full disk behind `> report.json`: println! panicked (exit 101) in some commands, others
    // exited 0 with the report lost; dump exited 1.
    let f = files();
    let clean = f.clean.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy.db");
    let runs: [&[&str]; 14] = [
        // What clap prints itself (review 42c: these exited 0 with nothing written).
        &["help"],
        &["--version"],
        &["status", "--help"],
        &["help", "dump"],
        &["status", clean],
        &["check", "-w", "json", clean],
        &["inspect", clean],
        &["hashkv", clean],
        &["get", clean, "", "--prefix"],
        &["dump", clean],
        &["scan", f.dir.to_str().unwrap()],
        &["compact", clean, "-o", copy.to_str().unwrap()],
        &["completions", "bash"],
        &["man"],
    ];
    for args in runs {
        let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
        let out = common::boltscope().arg("--no-index").args(args).stdout(full).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(err.matches("writing to standard output failed").count(), 1, "{args:?}: {err}");
    }
    // Standard error that cannot be written: the verdict still decides the exit code.
    let full = std::fs::File::options().write(true).open("/dev/full").unwrap();
    let out = common::boltscope().args(["--no-index", "status"]).arg(&f.missing).stderr(full).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigterm_and_a_closed_terminal_exit_130_in_every_command() {
    // Only compact and salvage handled them: a read-only command died of the signal (143, 129),
    // though every --help promises 130. `check --k3s-token -` waits on its standard input.
    let snap = common::dir().join("tiny-1.snap.db");
    for sig in ["TERM", "HUP", "INT"] {
        let mut child = common::boltscope()
            .args(["--no-index", "check", "--k3s-token", "-"])
            .arg(&snap)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Its standard input stays open until it has exited (an end of input would let it finish).
        let stdin = child.stdin.take();
        // Time to start and install its handler, on a busy machine too.
        std::thread::sleep(std::time::Duration::from_millis(800));
        let killed = std::process::Command::new("kill").arg(format!("-{sig}")).arg(child.id().to_string()).status();
        assert!(killed.unwrap().success());
        let status = child.wait().unwrap();
        drop(stdin);
        let mut err = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(130), "SIG{sig}: {err}");
        assert!(err.contains("check interrupted"), "{err}");
    }
}
