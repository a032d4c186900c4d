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
//! c. `--revision latest` on every etcd `*.snap.db`: the copy restores with etcdutl 3.5.1 (hash
//!    checked), and real etcd 3.5.1 serving it agrees with real etcd 3.5.1 that compacted the source
//!    online at its current revision (`etcdctl compact --physical`) and was defragmented offline:
//!    same key/values with their revisions, same `endpoint hashkv`, and it accepts new writes.
//!
//! Every fixture is tried; the failures are listed at the end of each test.

mod common;
use common::live::{prefix, restore, run, run_ok, show, text, which, Etcd};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Running tools

fn boltscope() -> Command {
    common::boltscope()
}

/// `boltscope compact SRC -o DST EXTRA...`, which must exit 0.
fn compact(name: &str, src: &Path, dst: &Path, extra: &[&str]) {
    let mut c = boltscope();
    c.arg("compact").arg(src).arg("-o").arg(dst).args(extra);
    run_ok(&format!("{name}: boltscope compact"), &mut c);
    assert!(dst.is_file(), "{name}: `{}` exited 0 but wrote no {}", show(&c), dst.display());
}

/// A private copy of a fixture database (decompressed if stored as `.gz`): the tools never open the
/// committed file, which another test may hold locked (`live.rs` holds `flock -x` on
/// `k8s-0.005.member.db`, and bbolt's read-only open then times out).
fn private_copy(name: &str, tmp: &tempfile::TempDir) -> PathBuf {
    let p = tmp.path().join(name);
    std::fs::write(&p, common::bytes(name)).unwrap();
    p
}

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

/// Runs `f` on every name, catching panics so every fixture is tried; fails listing the failures.
fn each(names: &[String], f: impl Fn(&str)) {
    assert!(!names.is_empty(), "no fixtures selected");
    let mut failed = Vec::new();
    for n in names {
        let t0 = Instant::now();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(n))) {
            Ok(()) => eprintln!("ok   {n} ({:.1} s)", t0.elapsed().as_secs_f64()),
            Err(_) => {
                eprintln!("FAIL {n} ({:.1} s)", t0.elapsed().as_secs_f64());
                failed.push(n.clone());
            }
        }
    }
    assert!(failed.is_empty(), "{} of {} fixtures failed (messages above): {failed:?}", failed.len(), names.len());
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

// ---------------------------------------------------------------------------------------------
// c. Offline compaction vs real etcd's online compaction + offline defrag

/// Enough base64 to show keys and values in messages.
fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let Some(v) = A.iter().position(|&a| a == c) else { return format!("<base64 {s}>") };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    let t = String::from_utf8_lossy(&out);
    if t.len() > 80 {
        format!("{:?}...", prefix(&t, 80))
    } else {
        format!("{t:?}")
    }
}

/// The kvs of `etcdctl get -w json`, as (key, the compared fields), header ignored.
fn kvs(v: &Value) -> Vec<(String, Value)> {
    let Some(a) = v["kvs"].as_array() else { return Vec::new() };
    a.iter()
        .map(|kv| {
            let key = kv["key"].as_str().unwrap_or_default().to_string();
            let f = json!({
                "key": kv["key"],
                "value": kv["value"],
                "create_revision": kv["create_revision"],
                "mod_revision": kv["mod_revision"],
                "version": kv["version"],
                "lease": kv["lease"],
            });
            (key, f)
        })
        .collect()
}

fn compare_kvs(name: &str, ours: &[(String, Value)], real: &[(String, Value)]) {
    let om: std::collections::BTreeMap<_, _> = ours.iter().cloned().collect();
    let rm: std::collections::BTreeMap<_, _> = real.iter().cloned().collect();
    let mut problems = Vec::new();
    for (k, v) in &rm {
        match om.get(k) {
            None => problems.push(format!("missing from ours: {} {v}", b64(k))),
            Some(o) if o != v => problems.push(format!("{}:\n      ours: {o}\n      real: {v}", b64(k))),
            _ => {}
        }
    }
    for (k, v) in &om {
        if !rm.contains_key(k) {
            problems.push(format!("only in ours: {} {v}", b64(k)));
        }
    }
    let n = problems.len();
    problems.truncate(10);
    assert!(
        n == 0,
        "{name}: `etcdctl get \"\" --from-key` differs: {} keys on ours (offline --revision latest), {} on real \
         etcd's compaction + defrag; {n} differences, first ones:\n  {}",
        ours.len(),
        real.len(),
        problems.join("\n  ")
    );
}

#[test]
#[ignore = "needs real etcd/bbolt: run by .ci/run after ../shared/oracle/install.sh"]
fn latest_compaction_serves_what_real_etcd_compaction_and_defrag_serve() {
    if !common::live::have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let snaps: Vec<String> = common::databases().into_iter().filter(|n| n.ends_with(".snap.db")).collect();
    each(&snaps, |name| {
        let tmp = tempfile::tempdir().unwrap();
        let src = private_copy(name, &tmp);
        let dst = tmp.path().join("dst.db");
        compact(name, &src, &dst, &["--revision", "latest"]);

        // Ours: restore the compacted copy, hash-checked (it must carry a valid trailer).
        let d1 = tmp.path().join("d1");
        restore(&format!("{name}: etcdutl snapshot restore DST (hash checked)"), &dst, &d1);

        // Real: restore the source, compact online at the current revision, stop, defrag offline.
        let d2 = tmp.path().join("d2");
        restore(&format!("{name}: etcdutl snapshot restore SRC"), &src, &d2);
        let real = Etcd::start(&format!("{name}: real etcd on restored SRC"), &d2);
        let st = real.json("endpoint status", &["endpoint", "status"]);
        let rev = st[0]["Status"]["header"]["revision"]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: no revision in endpoint status: {st}"));
        run_ok(
            &format!("{name}: real etcd compaction at {rev}"),
            real.ctl().args(["compact", &rev.to_string(), "--physical"]),
        );
        real.stop();
        run_ok(
            &format!("{name}: etcdutl defrag"),
            Command::new(which("etcdutl")).arg("defrag").arg("--data-dir").arg(&d2),
        );

        let ours = Etcd::start(&format!("{name}: etcd on boltscope's compacted DST"), &d1);
        let real = Etcd::start(&format!("{name}: etcd on real compacted+defragged SRC"), &d2);

        let get = ["get", "", "--from-key"];
        let (og, rg) = (ours.json("get all", &get), real.json("get all", &get));
        compare_kvs(name, &kvs(&og), &kvs(&rg));

        let (oh, rh) = (
            ours.json("endpoint hashkv", &["endpoint", "hashkv"]),
            real.json("endpoint hashkv", &["endpoint", "hashkv"]),
        );
        for k in ["compact_revision", "hash"] {
            assert_eq!(
                oh[0]["HashKV"][k], rh[0]["HashKV"][k],
                "{name}: endpoint hashkv {k}: ours (offline --revision latest) vs real etcd compacted at {rev}\n  \
                 ours: {oh}\n  real: {rh}"
            );
        }
        // boltscope's own offline HashKV, what `compact`'s verification compares, equals real
        // etcd's: of the copy, and of the source compacted at the same revision.
        let want = rh[0]["HashKV"]["hash"].as_u64().unwrap_or_else(|| panic!("{name}: no hash in {rh}"));
        let r = rev as u64;
        for (what, file) in [("DST", &dst), ("SRC", &src)] {
            let m = boltscope::input::open(file).unwrap();
            let v = boltscope::DbView::new(m.bytes()).unwrap();
            let got = boltscope::etcd::hashkv::kept_at_compaction(&v, r, Some(r)).unwrap();
            assert_eq!(
                u64::from(got),
                want,
                "{name}: boltscope's HashKV of {what} at {r}, compacted at {r}, vs real etcd's"
            );
        }

        // Stored alarms survive the same way (fill-1: NOSPACE); disarm them so writes are accepted.
        let alarms = |e: &Etcd| {
            String::from_utf8_lossy(&run_ok("alarm list", e.ctl().args(["alarm", "list"])).stdout).into_owned()
        };
        let (oa, ra) = (alarms(&ours), alarms(&real));
        assert_eq!(oa, ra, "{name}: etcdctl alarm list, ours vs real");
        if !oa.trim().is_empty() {
            run_ok(&format!("{name}: alarm disarm on ours"), ours.ctl().args(["alarm", "disarm"]));
            run_ok(&format!("{name}: alarm disarm on real"), real.ctl().args(["alarm", "disarm"]));
        }

        // Ours accepts writes, at the revision real etcd gives them.
        run_ok(&format!("{name}: put on ours"), ours.ctl().args(["put", "/after-compact", "x"]));
        let v =
            run_ok(&format!("{name}: get on ours"), ours.ctl().args(["get", "/after-compact", "--print-value-only"]));
        assert_eq!(String::from_utf8_lossy(&v.stdout), "x\n", "{name}: value read back from ours after the put");
        run_ok(&format!("{name}: put on real"), real.ctl().args(["put", "/after-compact", "x"]));
        let one = ["get", "/after-compact"];
        let (o1, r1) = (kvs(&ours.json("get /after-compact", &one)), kvs(&real.json("get /after-compact", &one)));
        assert_eq!(o1, r1, "{name}: the new key on ours vs on real (revisions continue the same way)");

        ours.stop();
        real.stop();
    });
}
