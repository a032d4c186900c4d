//! The key readers (`get`, `log`, `dump`, `hashkv`) and `compact` hold the histories of
//! the keys they read to etcd's rules (`check`'s `history_inconsistent`): a stale leaf in the
//! `key` bucket reads well page by page, and bbolt's own check passes it, yet the answers it gives
//! are not etcd's. An answer from such keys still comes out (it is what the file holds) with the
//! problem on stderr and exit 1; keys the stale leaf did not touch answer as before, exit 0.
//!
//! Which keys the damage touched is told apart without boltscope's judgement: a key is touched
//! when its history (`log KEY -w json`) differs between the damaged file and the original.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

fn run(index: Option<&Path>, args: &[&str]) -> Output {
    common::run_indexed(index, args)
}

fn judged_broken(o: &Output) -> bool {
    String::from_utf8_lossy(&o.stderr).contains("history_inconsistent")
}

/// The original member file and the same file with one branch element of its `key` bucket
/// pointing at a stale leaf.
fn files(tmp: &tempfile::TempDir) -> (PathBuf, PathBuf) {
    let original = common::path("k8s-0.005.member.db", tmp);
    let mut d = common::bytes("k8s-0.005.member.db");
    common::damage::misdirected_branch(&mut d);
    let stale = tmp.path().join("stale.db");
    std::fs::write(&stale, &d).unwrap();
    (original, stale)
}

#[test]
fn get_and_log_judge_the_keys_they_read_cold_and_from_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let (original, stale) = files(&tmp);
    let (o, s) = (original.to_str().unwrap(), stale.to_str().unwrap());
    let keys = run(None, &["get", o, "/", "--prefix", "--keys-only"]);
    let keys: Vec<String> =
        String::from_utf8_lossy(&keys.stdout).lines().filter(|l| !l.is_empty()).map(String::from).collect();
    assert!(keys.len() > 30, "{keys:?}");
    let ix = tmp.path().join("ix.redb");
    let (mut touched, mut untouched) = (0, 0);
    for k in &keys {
        let history = |f: &str| run(None, &["log", f, k, "-w", "json", "--show-secrets"]).stdout;
        let changed = history(o) != history(s);
        if changed {
            touched += 1;
        } else {
            untouched += 1;
        }
        let want = Some(if changed { 1 } else { 0 });
        for (label, index) in [("no index", None), ("index", Some(ix.as_path())), ("index again", Some(ix.as_path()))] {
            let g = run(index, &["get", s, k]);
            assert_eq!(g.status.code(), want, "get {k} ({label}): {}", String::from_utf8_lossy(&g.stderr));
            assert_eq!(judged_broken(&g), changed, "get {k} ({label})");
            let named = String::from_utf8_lossy(&g.stderr).contains(&format!("(keys \"{k}\")"));
            assert_eq!(named, changed, "get {k} ({label}) names the key: {}", String::from_utf8_lossy(&g.stderr));
            assert!(!g.stdout.is_empty(), "get {k} ({label}): the answer still comes out");
            let l = run(index, &["log", s, k, "-w", "json"]);
            assert_eq!(l.status.code(), want, "log {k} ({label}): {}", String::from_utf8_lossy(&l.stderr));
            assert_eq!(judged_broken(&l), changed, "log {k} ({label})");
        }
        // The original's answers are clean.
        assert_eq!(run(None, &["get", o, k]).status.code(), Some(0), "{k}");
    }
    assert!(touched >= 1 && untouched > 30, "touched {touched}, untouched {untouched}");
    // A range over every key includes the touched ones.
    let all = run(None, &["get", s, "/", "--prefix", "--keys-only"]);
    assert_eq!(all.status.code(), Some(1));
    assert!(judged_broken(&all));
    // `log --rev` later than the damage judges every record of the keys, not only the replayed ones.
    let late = run(None, &["log", s, "/", "--prefix", "--rev", "100", "-w", "json"]);
    assert_eq!(late.status.code(), Some(1), "{}", String::from_utf8_lossy(&late.stderr));
}

#[test]
fn dump_and_hashkv_judge_every_key_they_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (original, stale) = files(&tmp);
    let (o, s) = (original.to_str().unwrap(), stale.to_str().unwrap());
    for args in [&["dump"][..], &["dump", "--all-revisions"], &["hashkv"], &["hashkv", "--rev", "100"]] {
        let bad = run(None, &[args, &[s]].concat());
        assert_eq!(bad.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&bad.stderr));
        assert!(judged_broken(&bad), "{args:?}");
        assert!(!bad.stdout.is_empty(), "{args:?}: the answer still comes out");
        let good = run(None, &[args, &[o]].concat());
        assert_eq!(good.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&good.stderr));
        assert!(!judged_broken(&good), "{args:?}");
    }
    // A prefix without a touched key: the keys dumped are judged, and they are sound.
    let touched = ["/registry/endpointslices/", "/registry/replicasets/"];
    let log = |f: &str, p: &str| run(None, &["log", f, p, "--prefix", "-w", "json", "--show-secrets"]).stdout;
    assert!(touched.iter().all(|p| log(o, p) != log(s, p)), "the damage touches these prefixes");
    assert_eq!(log(o, "/registry/pods/"), log(s, "/registry/pods/"), "and not this one");
    let pods = run(None, &["dump", s, "--prefix", "/registry/pods/"]);
    assert_eq!(pods.status.code(), Some(0), "{}", String::from_utf8_lossy(&pods.stderr));
    let slices = run(None, &["dump", s, "--prefix", touched[0]]);
    assert_eq!(slices.status.code(), Some(1));
    for (prefix, want) in [("/registry/pods/", 0), (touched[1], 1)] {
        let every = run(None, &["dump", s, "--all-revisions", "--prefix", prefix]);
        assert_eq!(every.status.code(), Some(want), "{prefix}: {}", String::from_utf8_lossy(&every.stderr));
    }
}

#[test]
fn histories_gathered_while_dumping_are_judged_as_by_a_pass_of_their_own() {
    // `dump --all-revisions` gathers the records it formats and judges them after the stream
    // when they fit one pass's budget, else judges by a pass of its own: both as `judge` does.
    use boltscope::etcd::compaction::{self, MAP_BUDGET};
    use boltscope::etcd::dump::{dump_within, Select};
    use boltscope::etcd::range::KeyRange;
    use boltscope::etcd::scan;
    let tmp = tempfile::tempdir().unwrap();
    let (original, stale) = files(&tmp);
    let mut broken_somewhere = false;
    for f in [&original, &stale] {
        let d = std::fs::read(f).unwrap();
        let view = boltscope::bbolt::view::DbView::new(&d).unwrap();
        let kb = scan::key_bucket(&view).unwrap().unwrap();
        let leaves = scan::leaves(&view, kb).unwrap();
        assert!(compaction::fits_one_pass(leaves.elements(), MAP_BUDGET));
        assert!(!compaction::fits_one_pass(leaves.elements(), 1));
        for prefix in ["", "/registry/pods/", "/registry/endpointslices/", "/registry/replicasets/"] {
            let range = if prefix.is_empty() { KeyRange::all() } else { KeyRange::prefix(prefix.as_bytes()) };
            let selected = (!prefix.is_empty()).then_some(&range);
            let alone = compaction::judge(&view, &leaves, selected).unwrap();
            for budget in [MAP_BUDGET, 1] {
                let mut bytes = 0usize;
                let mut sink = |b: &[u8]| {
                    bytes += b.len();
                    Ok(())
                };
                let fmt = |buf: &mut Vec<u8>, e: &scan::Entry<'_>| buf.extend_from_slice(e.kv.key);
                let j = dump_within(&view, kb, &range, Select::AllRevisions, (&fmt, &mut sink), budget).unwrap();
                assert_eq!((j.broken, j.compacted), (alone.broken, alone.compacted), "{f:?} {prefix:?} {budget}");
                assert!(bytes > 0, "{f:?} {prefix:?}: records were formatted");
            }
            broken_somewhere |= alone.broken > 0;
        }
    }
    assert!(broken_somewhere, "the stale leaf breaks some histories");
}

#[test]
fn compact_refuses_a_stale_leaf_with_or_without_a_revision_and_salvage_carries_it() {
    // Compaction would drop the stale records below R: the copy would pass `check`, and the
    // damage would be gone from view. A plain copy would carry it, called verified with exit 0,
    // of a file `check` fails. Both are refused, as every damaged tree is.
    let tmp = tempfile::tempdir().unwrap();
    let (original, stale) = files(&tmp);
    let dst = tmp.path().join("out.db");
    for extra in [&["--revision", "latest"][..], &[]] {
        let out = common::compact(extra, &stale, &dst);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(judged_broken(&out) && err.contains("salvage"), "{extra:?}: {err}");
        assert!(!dst.exists(), "{extra:?}: nothing is written");
        assert!(common::compact(extra, &original, &dst).status.success(), "{extra:?}");
        std::fs::remove_file(&dst).unwrap();
    }
    // `salvage` copies the tree as it is, and says the copy is not lossless.
    let out = run(None, &["salvage", stale.to_str().unwrap(), "-o", dst.to_str().unwrap(), "-w", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{v}");
    assert_eq!((v["method"].as_str(), v["lossless"].as_bool()), (Some("copy"), Some(false)), "{v}");
    assert!(v.to_string().contains("history etcd cannot have written"), "{v}");
    // The library's copy refuses it too.
    let d = std::fs::read(&stale).unwrap();
    let view = boltscope::bbolt::view::DbView::new(&d).unwrap();
    let opt = boltscope::write::copier::Options::default();
    let e = boltscope::compact::copy_to(&view, &opt, None, Vec::new(), Box::new(|_, _| {})).unwrap_err();
    assert!(e.to_string().contains("history_inconsistent"), "{e}");
}

#[test]
fn every_key_reader_says_in_its_help_what_a_broken_history_does() {
    for cmd in ["get", "log", "dump", "hashkv"] {
        let help = common::run([cmd, "--help"]);
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("history_inconsistent") && text.contains("exit 1"), "{cmd} --help: {text}");
    }
}

#[test]
fn no_command_records_a_stale_leaf_as_ok() {
    // `check` fails the file; a command that does not judge histories (status, which reads
    // etcdutl's figures) records `not verified`, and every other one finds the problem.
    let tmp = tempfile::tempdir().unwrap();
    let (original, stale) = files(&tmp);
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let in_dir = dir.join("etcd-snapshot-2026-12-01.db");
    std::fs::copy(&stale, &in_dir).unwrap();
    let ix = tmp.path().join("ix.redb");
    let (s, d) = (stale.to_str().unwrap(), dir.to_str().unwrap());
    for args in [&["status", s][..], &["inspect", s], &["du", s], &["check", s], &["scan", d], &["trend", d]] {
        let out = run(Some(&ix), args);
        let want = if args[0] == "status" { 0 } else { 1 };
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
        if args[0] == "trend" {
            // Its warning (deleted Secrets readable in free pages) is no problem of the file's.
            assert!(err.contains("1 problem(s) and 1 warning(s) found"), "{err}");
        }
    }
    let verdicts = |f: &Path| -> Vec<(String, String)> {
        let h = run(Some(&ix), &["history", "-w", "json", f.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&h.stdout).into_owned();
        let rows = text.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap());
        rows.map(|r| (r["command"].as_str().unwrap().to_owned(), r["verdict"].as_str().unwrap().to_owned())).collect()
    };
    let mut seen: Vec<String> = Vec::new();
    for (cmd, verdict) in verdicts(&stale).into_iter().chain(verdicts(&in_dir)) {
        let want = if cmd == "status" { "not verified (key histories not checked)" } else { "1 problem(s)" };
        assert_eq!(verdict, want, "{cmd}");
        seen.push(cmd);
    }
    seen.sort();
    assert_eq!(seen, ["check", "du", "inspect", "scan", "status", "trend"]);
    // trend's and du's machine outputs say so too.
    let prom = String::from_utf8_lossy(&run(None, &["trend", "-w", "prometheus", d]).stdout).into_owned();
    assert!(prom.contains("boltscope_backups_skipped{kind=\"damaged\"} 1"), "{prom}");
    let prom = String::from_utf8_lossy(&run(None, &["du", "-w", "prometheus", s]).stdout).into_owned();
    assert!(prom.contains(&format!("boltscope_keyspace_problems{{file=\"{s}\"}} 1")), "{prom}");
    let json: serde_json::Value = serde_json::from_slice(&run(None, &["du", "-w", "json", s]).stdout).unwrap();
    assert_eq!((json["ok"].as_bool(), json["changed_while_read"].as_bool()), (Some(false), Some(false)), "{json}");
    // The original's status row says the same: status never judges histories.
    assert_eq!(run(Some(&ix), &["status", original.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(verdicts(&original), [("status".to_string(), "not verified (key histories not checked)".to_string())]);
}

#[test]
fn diff_of_two_stale_copies_is_equal_but_no_clean_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (original, stale) = files(&tmp);
    let copy = tmp.path().join("copy.db");
    std::fs::copy(&stale, &copy).unwrap();
    let (o, s, c) = (original.to_str().unwrap(), stale.to_str().unwrap(), copy.to_str().unwrap());
    let out = run(None, &["diff", "-w", "json", s, c]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{v}");
    assert_eq!(v["equal"], true, "the live states are equal: {v}");
    for side in ["a", "b"] {
        assert_eq!(v[side]["ok"], false, "{side}: {v}");
        assert_eq!(v[side]["problems"][0]["kind"], "history_inconsistent", "{side}: {v}");
    }
    assert!(judged_broken(&out));
    // Against the original: only the stale side has the problem.
    let out = run(None, &["diff", "-w", "json", o, s]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["a"]["ok"].as_bool(), v["b"]["ok"].as_bool()), (Some(true), Some(false)), "{v}");
    // A prefix the damage did not touch compares clean.
    let pods = run(None, &["diff", s, c, "--prefix", "/registry/pods/"]);
    assert_eq!(pods.status.code(), Some(0), "{}", String::from_utf8_lossy(&pods.stderr));
}

#[test]
fn a_version_rewritten_in_place_breaks_the_keys_history_for_every_reader() {
    // Review 46a: a put's version rewritten (5 to 50) decodes, keeps every invariant of its own,
    // and bbolt reads the file as sound; `check` passed it and `compact` copied it. It is not the
    // next version of the put before it: a history etcd cannot have written.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (key, main) = common::damage::version_rewritten(&mut d, 96);
    let f = tmp.path().join("version.db");
    std::fs::write(&f, &d).unwrap();
    let (s, k) = (f.to_str().unwrap(), std::str::from_utf8(&key).unwrap());
    let ix = tmp.path().join("ix.redb");
    let rev = main.to_string();
    for args in [
        &["check", s][..],
        &["inspect", s],
        &["du", s],
        &["get", s, k],
        &["get", s, k, "--rev", &rev],
        &["log", s, k, "-w", "json"],
        &["dump", s],
        &["dump", s, "--all-revisions"],
        &["hashkv", s],
    ] {
        for index in [None, Some(ix.as_path())] {
            let out = run(index, args);
            let err = String::from_utf8_lossy(&out.stderr);
            let text = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
            assert_eq!(out.status.code(), Some(1), "{args:?} {index:?}: {err}");
            assert!(text.contains("history_inconsistent") || text.contains("history etcd cannot"), "{args:?}: {text}");
        }
    }
    let dst = tmp.path().join("out.db");
    let out = common::compact(&[], &f, &dst);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(judged_broken(&out) && !dst.exists());
    // The key's other readers are untouched: a key the rewrite did not touch answers clean.
    let other = run(None, &["get", s, "/registry/", "--prefix", "--keys-only"]);
    let first = String::from_utf8_lossy(&other.stdout).lines().find(|l| !l.is_empty() && *l != k).unwrap().to_string();
    assert_eq!(run(None, &["get", s, &first]).status.code(), Some(0), "{first}");
}
