//! `boltscope compact` judged by the real tools (run by `.ci/run` after `../shared/oracle/install.sh`;
//! ignored by plain `cargo test`, run with `cargo test --release --test compact_interop -- --ignored`):
//!
//! a. every fixture, copied without `--revision`: real bbolt 1.3.6 (`boltoracle check`) finds no
//!    error, `boltoracle dump` of the copy is byte-equal to that of the source, `etcdutl snapshot
//!    status` gives the source's hash, revision and key count, and a `*.snap.db` source gives a copy
//!    ending in a valid sha256 trailer. The big-endian fixture is judged by `boltoracle-s390x` under
//!    `qemu-s390x-static` (etcdutl cannot read it).
//! b. real bbolt keeps writing to every copy (`fixtures/bolt-writer`, built here with go), and its
//!    `tx.Check()` and `boltoracle check` still pass.
//! d. every fixture copied with `--page-size` and `--byte-order` changed: real bbolt of the copy's
//!    byte order checks it, dumps what it dumps of the source, and keeps writing to it.
//! c. (`--revision latest` against real etcd's own compaction) is in `compact_interop_etcd.rs`.
//!
//! Every fixture is tried; the failures are listed at the end of each test.

mod common;
use common::live::{compact_ok as compact, each, prefix, private_copy, run, run_ok, show, text, which};

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// Running tools

/// The big-endian fixture: x86 bbolt and etcdutl refuse it; it is judged on an emulated s390x.
fn big_endian(name: &str) -> bool {
    name.contains("bigendian")
}

/// Real bbolt 1.3.6: `boltoracle`, or for a big-endian file `boltoracle-s390x` under qemu.
fn oracle(be: bool) -> Command {
    if be {
        let mut c = Command::new(which("qemu-s390x-static"));
        c.arg(which("boltoracle-s390x"));
        c
    } else {
        Command::new(which("boltoracle"))
    }
}

fn oracle_check(what: &str, be: bool, db: &Path) {
    let mut c = oracle(be);
    c.arg("check").arg(db);
    let out = run(&mut c);
    assert!(
        out.status.success() && out.stdout == b"OK\n",
        "{what}: real bbolt's tx.Check() (`{}`) found errors ({}):\n{}\n{}",
        show(&c),
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn oracle_dump(what: &str, be: bool, db: &Path) -> Vec<u8> {
    let mut c = oracle(be);
    c.arg("dump").arg(db);
    let out = run_ok(what, &mut c);
    assert!(out.stderr.is_empty(), "{what}: `{}` wrote to stderr: {}", show(&c), text(&out.stderr));
    out.stdout
}

/// Where two dumps first differ, for a readable message.
fn first_diff(want: &[u8], got: &[u8]) -> String {
    let cut = |l: &str| if l.len() > 160 { format!("{}...", prefix(l, 160)) } else { l.to_string() };
    let (w, g) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let (wl, gl): (Vec<&str>, Vec<&str>) = (w.lines().collect(), g.lines().collect());
    let i = wl.iter().zip(&gl).position(|(a, b)| a != b).unwrap_or(wl.len().min(gl.len()));
    format!(
        "{} lines from SRC, {} from DST; first difference at line {}:\n  SRC: {}\n  DST: {}",
        wl.len(),
        gl.len(),
        i + 1,
        wl.get(i).map_or("<end>".into(), |l| cut(l)),
        gl.get(i).map_or("<end>".into(), |l| cut(l))
    )
}

fn etcdutl_status(what: &str, db: &Path) -> Value {
    let out = run_ok(what, Command::new(which("etcdutl")).args(["snapshot", "status", "-w", "json"]).arg(db));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{what}: etcdutl json: {e}: {}", text(&out.stdout)))
}

// ---------------------------------------------------------------------------------------------
// a. A plain copy: same content, to the byte, as real bbolt and etcdutl see it

#[test]
#[ignore = "needs real etcd/bbolt: run by .ci/run after ../shared/oracle/install.sh"]
fn copy_has_the_same_content_for_real_bbolt_and_etcdutl() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    each(&common::databases(), |name| {
        let tmp = tempfile::tempdir().unwrap();
        let src = private_copy(name, &tmp);
        let dst = tmp.path().join("dst.db");
        compact(name, &src, &dst, &[]);
        let be = big_endian(name);

        oracle_check(&format!("{name}: DST"), be, &dst);
        let want = oracle_dump(&format!("{name}: boltoracle dump SRC"), be, &src);
        let got = oracle_dump(&format!("{name}: boltoracle dump DST"), be, &dst);
        assert!(want == got, "{name}: `boltoracle dump` of DST differs from SRC's: {}", first_diff(&want, &got));

        // etcdutl cannot read a big-endian file (its recorded answer is `Error: invalid database`).
        if !be {
            let want = common::answer_json(name, "status.json").expect("recorded etcdutl status of the fixture");
            let got = etcdutl_status(&format!("{name}: etcdutl snapshot status DST"), &dst);
            for k in ["hash", "revision", "totalKey"] {
                assert_eq!(
                    got[k], want[k],
                    "{name}: etcdutl snapshot status {k} of DST vs SRC (DST: {got}, SRC: {want})"
                );
            }
        }

        let d = std::fs::read(&dst).unwrap();
        let s = std::fs::metadata(&src).unwrap().len();
        if name.ends_with(".snap.db") {
            assert_eq!(s % 512, 32, "{name}: the source should have a trailer");
            assert_eq!(d.len() % 512, 32, "{name}: SRC has a sha256 trailer, DST ({} bytes) has none", d.len());
            let (body, trailer) = d.split_at(d.len() - 32);
            let sum = Sha256::digest(body);
            assert!(
                sum.as_slice() == trailer,
                "{name}: DST's trailer is not the sha256 of the {} bytes before it",
                body.len()
            );
        } else {
            assert_ne!(
                d.len() % 512,
                32,
                "{name}: SRC ({s} bytes) has no trailer, but DST ({} bytes) looks like it has one (--trailer auto)",
                d.len()
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// b. Real bbolt goes on writing to the copy

/// Builds fixtures/bolt-writer (real bbolt 1.3.6 from Debian's source) into `dir`.
fn build_bolt_writer(dir: &Path, goarch: Option<&str>) -> PathBuf {
    let out = dir.join(format!("bolt-writer{}", goarch.map(|a| format!("-{a}")).unwrap_or_default()));
    let gopath = dir.join("gopath");
    std::fs::create_dir_all(&gopath).unwrap();
    let mut c = Command::new(which("go"));
    c.current_dir(common::dir().join("bolt-writer"))
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .env("GOPATH", format!("{}:/usr/share/gocode", gopath.display()))
        .env("GO111MODULE", "off");
    if std::env::var_os("GOCACHE").is_none() && std::env::var_os("HOME").is_none() {
        c.env("GOCACHE", dir.join("gocache"));
    }
    if let Some(a) = goarch {
        c.env("GOARCH", a);
    }
    run_ok("build fixtures/bolt-writer (needs golang-github-coreos-bbolt-dev)", &mut c);
    out
}

/// Real bbolt (`writers`: the x86 and the s390x build of bolt-writer) opens a copy of `db`
/// read-write, writes, deletes and nests, and both its own `tx.Check()` and `boltoracle check`
/// pass afterwards.
fn keeps_writing(what: &str, writers: &(PathBuf, PathBuf), be: bool, db: &Path, tmp: &Path) {
    let w = tmp.join("written.db");
    std::fs::copy(db, &w).unwrap();
    let mut c = if be {
        let mut c = Command::new(which("qemu-s390x-static"));
        c.arg(&writers.1);
        c
    } else {
        Command::new(&writers.0)
    };
    c.arg(&w);
    let out = run(&mut c);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        out.status.success() && lines.first() == Some(&"OK"),
        "{what}: real bbolt writing to a copy of DST: `{}` ({}):\n{}\n{}",
        show(&c),
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let n: u64 = lines
        .last()
        .and_then(|l| l.strip_prefix("keys written: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: bolt-writer's last line: {stdout}"));
    assert!(n > 2000, "{what}: bolt-writer wrote only {n} keys");
    oracle_check(&format!("{what}: DST after bolt-writer"), be, &w);
}

fn bolt_writers(dir: &Path) -> (PathBuf, PathBuf) {
    (build_bolt_writer(dir, None), build_bolt_writer(dir, Some("s390x")))
}

#[test]
#[ignore = "needs real etcd/bbolt: run by .ci/run after ../shared/oracle/install.sh"]
fn real_bbolt_keeps_writing_to_the_copy() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    let writers = bolt_writers(bin.path());
    each(&common::databases(), |name| {
        let tmp = tempfile::tempdir().unwrap();
        let src = private_copy(name, &tmp);
        let dst = tmp.path().join("dst.db");
        compact(name, &src, &dst, &[]);
        keeps_writing(name, &writers, big_endian(name), &dst, tmp.path());
    });
}

// ---------------------------------------------------------------------------------------------
// d. Another page size and the other byte order

#[test]
#[ignore = "needs real etcd/bbolt: run by .ci/run after ../shared/oracle/install.sh"]
fn copy_in_another_page_size_and_byte_order_is_the_same_database_to_real_bbolt() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    // Every fixture goes to the other byte order and, in turn, to each page size that is not its
    // own: judged by the real bbolt built for the copy's order (x86, or s390x under qemu).
    let bin = tempfile::tempdir().unwrap();
    let writers = bolt_writers(bin.path());
    let names = common::databases();
    let turn = std::sync::atomic::AtomicUsize::new(0);
    each(&names, |name| {
        let tmp = tempfile::tempdir().unwrap();
        let src = private_copy(name, &tmp);
        let (src_be, be) = (big_endian(name), !big_endian(name));
        let src_ps = boltscope::DbView::new(&std::fs::read(&src).unwrap()).unwrap().page_size;
        let sizes = [1024u64, 16384, 65536, 4096];
        let i = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ps = (0..4).map(|k| sizes[(i + k) % 4]).find(|&p| p != src_ps).unwrap();
        let what = format!("{name} -> {ps} B pages, {}-endian", if be { "big" } else { "little" });
        let dst = tmp.path().join("dst.db");
        let order = if be { "big" } else { "little" };
        compact(&what, &src, &dst, &["--page-size", &ps.to_string(), "--byte-order", order]);

        oracle_check(&what, be, &dst);
        let info = oracle(be).arg("info").arg(&dst).output().unwrap();
        let info: Value = serde_json::from_slice(&info.stdout).unwrap_or_else(|e| panic!("{what}: info: {e}"));
        assert_eq!(info["page_size"].as_u64(), Some(ps), "{what}: real bbolt's page size of DST: {info}");
        let want = oracle_dump(&format!("{what}: boltoracle dump SRC"), src_be, &src);
        let got = oracle_dump(&format!("{what}: boltoracle dump DST"), be, &dst);
        assert!(want == got, "{what}: `boltoracle dump` of DST differs from SRC's: {}", first_diff(&want, &got));
        if !be {
            // etcdutl reads a little-endian copy, of the big-endian fixture too: its figures
            // are the source's, as real bbolt computed them (`boltoracle status`).
            let got = etcdutl_status(&format!("{what}: etcdutl snapshot status DST"), &dst);
            let want = common::answer_json(name, "oracle-status.json").expect("recorded boltoracle status");
            for k in ["hash", "revision", "totalKey"] {
                assert_eq!(got[k], want[k], "{what}: etcdutl's {k} of DST vs SRC");
            }
        }
        keeps_writing(&what, &writers, be, &dst, tmp.path());
    });
}
