//! The key index of a live member's file (`member/snap/db` of a running etcd 3.5.1; run by
//! `.ci/run`, ignored by plain `cargo test`: `cargo test --release --test keys_live_member --
//! --ignored`). A commit landing while `get` or `log` reads the file must leave no key index
//! stored under the file's new identity: the records it holds are older than the file, and a warm
//! answer from them would miss the new revision, with exit 0 (review of stop 29: the identity was
//! taken after the read).

mod common;
use common::live::{have, run_ok, Etcd};
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

fn put(e: &Etcd, k: &str, v: &str) {
    run_ok("etcdctl put", e.ctl().args(["put", k, v]));
}

/// Runs `boltscope ARGS` with its stdout held unread, so it blocks writing its answer once the
/// pipe is full (the answer is larger than a pipe), then lets `meanwhile` commit, then reads the
/// rest and waits for it.
fn with_commit_while_writing(args: &[&std::ffi::OsStr], meanwhile: impl FnOnce()) {
    let mut child = common::boltscope().args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    meanwhile();
    let mut sink = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut sink).unwrap();
    child.wait().unwrap();
    assert!(sink.len() > 64 << 10, "the answer must outgrow a pipe for the test to mean anything");
}

fn text(c: &mut Command) -> (Option<i32>, String) {
    let out = c.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
#[ignore = "interop: needs etcd 3.5.1 (../shared/oracle/install.sh)"]
fn a_commit_during_the_read_leaves_no_key_index_under_the_new_identity() {
    if !have(&["etcd", "etcdctl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let e = Etcd::start("live member", &tmp.path().join("data"));
    let db = tmp.path().join("data/member/snap/db");
    let big = "x".repeat(3000);
    for i in 0..80 {
        put(&e, &format!("/k/{i:02}"), &big);
    }
    put(&e, "/k/target", "OLD");
    let ix = tmp.path().join("ix.redb");
    let bolt = |args: &[&str]| {
        let mut c = common::boltscope();
        c.arg("--index").arg(&ix).args(&args[..1]).arg(&db).args(&args[1..]);
        c
    };
    let os = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(Into::into).collect() };
    for (round, cmd, new) in [(1, "get", "NEW1"), (2, "log", "NEW2")] {
        let _ = std::fs::remove_file(&ix);
        let mut args = os(&["--index"]);
        args.push(ix.clone().into());
        args.extend(os(&[cmd]));
        args.push(db.clone().into());
        args.extend(os(&["/k/", "--prefix", "-w", "json"]));
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        with_commit_while_writing(&refs, || {
            put(&e, "/k/target", new);
            // etcd commits its backend in batches (every 100 ms): wait until the file holds it.
            let t0 = std::time::Instant::now();
            let now = || {
                let mut c = common::boltscope();
                c.args(["--no-index", "get"]).arg(&db).args(["/k/target", "--print-value-only"]);
                text(&mut c).1
            };
            while now().trim() != new {
                assert!(t0.elapsed() < Duration::from_secs(10), "round {round}: {new} never reached the file");
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        // The warm answer, if there is one, must be the file's as it is now.
        let (code, warm) = text(&mut bolt(&["get", "/k/target", "--print-value-only"]));
        assert_eq!((code, warm.trim()), (Some(0), new), "round {round}: get after a {cmd} read across a commit");
        let (code, log) = text(&mut bolt(&["log", "/k/target"]));
        assert_eq!(code, Some(0), "round {round}");
        let puts = log.lines().filter(|l| l.contains(" PUT ")).count();
        assert_eq!(puts, round + 1, "round {round}: log after a {cmd} read across a commit misses {new}:\n{log}");
    }
    e.stop();
}
