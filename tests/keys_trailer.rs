//! The key readers (`get`, `log`, `dump`, `hashkv`) and a snapshot whose sha256 trailer does not
//! match: they do not hash the file unless asked (`--check-hash`: a second per GB, many times an
//! answer's own time), but a failure a recorded analysis found in this file is told, so a
//! file `check` failed is never answered for as sound. A failed gate (the file itself sound) sets
//! no mark.

mod common;

use std::path::Path;
use std::process::Output;

fn run(index: Option<&Path>, args: &[&str]) -> Output {
    common::run_indexed(index, args)
}

/// Writes `bytes` over `f` in place (the same inode) and puts its modification time back to
/// `when`: a file mended, or damaged, under the identity the index keeps.
fn in_place(f: &Path, bytes: &[u8], when: std::time::SystemTime) {
    let mut h = std::fs::OpenOptions::new().write(true).open(f).unwrap();
    std::io::Write::write_all(&mut h, bytes).unwrap();
    h.set_modified(when).unwrap();
}

/// The four key readers' command lines on `f`.
fn readers(f: &str) -> [Vec<&str>; 4] {
    [vec!["get", f, "", "--from-key"], vec!["log", f, "-w", "json"], vec!["dump", f], vec!["hashkv", f]]
}

/// A fixture snapshot's bytes, and the same with the last bit of its sha256 trailer flipped (the
/// tree intact: only a hash of the file tells them apart).
fn trailer_flipped(name: &str) -> (Vec<u8>, Vec<u8>) {
    let good = common::bytes(name);
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    (good, bad)
}

/// In `tmp`: an index's path, and `tiny-1.snap.db` with its trailer flipped (`bad.snap.db`).
fn flipped_in(tmp: &tempfile::TempDir) -> (std::path::PathBuf, String) {
    let (_, bad) = trailer_flipped("tiny-1.snap.db");
    let b = tmp.path().join("bad.snap.db");
    std::fs::write(&b, &bad).unwrap();
    (tmp.path().join("index.redb"), b.to_str().unwrap().to_string())
}

/// Runs every key reader on `f` (with `extra` flags) and checks its exit code and whether stderr
/// has `told`; returns the answers.
fn answers(index: Option<&Path>, f: &str, extra: &[&str], want: i32, told: &str) -> Vec<Vec<u8>> {
    readers(f)
        .into_iter()
        .map(|mut args| {
            args.extend_from_slice(extra);
            let out = run(index, &args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
            assert_eq!(err.contains(told), want == 1, "{args:?} should tell {told:?} only on exit 1: {err}");
            assert!(!out.stdout.is_empty(), "{args:?}: the answer comes out");
            out.stdout
        })
        .collect()
}

#[test]
fn a_trailer_that_does_not_match_fails_the_answer_when_hashed_or_when_check_found_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("index.redb");
    let (good, bad) = trailer_flipped("k8s-0.005.snap.db");
    let (g, b) = (tmp.path().join("good.snap.db"), tmp.path().join("bad.snap.db"));
    std::fs::write(&g, &good).unwrap();
    std::fs::write(&b, &bad).unwrap();
    let (g, b) = (g.to_str().unwrap(), b.to_str().unwrap());

    // Not hashed unless asked: the tree reads whole, the answer is the intact file's.
    let want = answers(None, g, &["--check-hash"], 0, "trailer_mismatch");
    assert_eq!(answers(None, b, &[], 0, "trailer_mismatch"), want);
    // Asked: the same answer, then the mismatch and exit 1.
    assert_eq!(answers(None, b, &["--check-hash"], 1, "trailer_mismatch"), want);

    // Once `check` has failed the file, with an index, every answer tells it.
    assert_eq!(run(Some(&ix), &["check", b]).status.code(), Some(1));
    assert_eq!(run(Some(&ix), &["check", g]).status.code(), Some(0));
    let remembered = "`check` found 1 problem(s) in this file";
    assert_eq!(answers(Some(&ix), b, &[], 1, remembered), want);
    // Asked twice: the key index built meanwhile answers, and still tells it.
    assert_eq!(answers(Some(&ix), b, &[], 1, remembered), want);
    assert_eq!(answers(Some(&ix), g, &[], 0, remembered), want);
    // --refresh answers without what the index remembers.
    assert_eq!(answers(Some(&ix), b, &["--refresh"], 0, remembered), want);
    // A chmod and a hard link (both change the inode's change time, so the file's identity) keep
    // the mark: it is kept under what the file holds.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(b, std::fs::Permissions::from_mode(0o600)).unwrap();
    let linked = tmp.path().join("linked.snap.db");
    std::fs::hard_link(b, &linked).unwrap();
    assert_eq!(answers(Some(&ix), b, &[], 1, remembered), want);
    assert_eq!(answers(Some(&ix), linked.to_str().unwrap(), &[], 1, remembered), want);
    // A copy of the sound file damaged inside a value keeps its size, meta pages and trailer:
    // each has its own mark, and the sound one's clean check does not clear the damaged one's.
    let mut inside = good.clone();
    let at = inside.len() - 32 - 100;
    inside[at] ^= 0x80;
    let d = tmp.path().join("damaged.snap.db");
    std::fs::write(&d, &inside).unwrap();
    let d = d.to_str().unwrap();
    assert_eq!(run(Some(&ix), &["check", d]).status.code(), Some(1));
    assert_eq!(run(Some(&ix), &["check", g]).status.code(), Some(0));
    let sound = run(Some(&ix), &["hashkv", g]);
    assert_eq!(sound.status.code(), Some(0), "{}", String::from_utf8_lossy(&sound.stderr));
    let damaged = run(Some(&ix), &["hashkv", d]);
    assert_eq!(damaged.status.code(), Some(1), "{}", String::from_utf8_lossy(&damaged.stderr));
}

#[test]
fn a_failed_gate_sets_no_mark() {
    // The file itself is sound: its answers stay clean. (A clean check clearing a mark is a unit
    // test of the index: a file whose identity holds is the same bytes, so only a newer boltscope
    // can find it clean after an older one failed it.)
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("index.redb");
    let fill = tmp.path().join("fill.snap.db");
    std::fs::write(&fill, common::bytes("fill-1.snap.db")).unwrap();
    let fill = fill.to_str().unwrap();
    let gate = run(Some(&ix), &["check", fill, "--fail-on-alarm"]);
    assert_eq!(gate.status.code(), Some(1), "{}", String::from_utf8_lossy(&gate.stdout));
    for args in readers(fill) {
        let out = run(Some(&ix), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // A member's db has no trailer: --require-hash fails its gate, and lists the missing trailer
    // as an error, but the file is sound (review 44: the mark it set failed inspect, du and diff).
    let member = tmp.path().join("tiny.member.db");
    std::fs::write(&member, common::bytes("tiny-1.member.db")).unwrap();
    let member = member.to_str().unwrap();
    assert_eq!(run(Some(&ix), &["check", member, "--require-hash"]).status.code(), Some(1));
    for args in readers(member).into_iter().chain([
        vec!["status", member],
        vec!["inspect", member, "--skip-hash-check"],
        vec!["du", member, "--no-trailer-check"],
        vec!["diff", member, member, "--no-trailer-check"],
    ]) {
        let out = run(Some(&ix), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn status_tells_a_failure_the_index_remembers_as_the_key_readers_do() {
    // status reads neither the trailer (unless asked) nor the keys' histories: a snapshot whose
    // trailer does not match passes its pass. Once `scan` or `check` failed it with an index,
    // status tells it and exits 1 (review 41b: it exited 0, alone among the readers), its figures
    // still printed; a sound file and --refresh answer as before.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("index.redb");
    let (good, bad) = trailer_flipped("tiny-1.snap.db");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let (g, b) = (dir.join("good.snap.db"), dir.join("bad.snap.db"));
    std::fs::write(&g, &good).unwrap();
    std::fs::write(&b, &bad).unwrap();
    let (g, b) = (g.to_str().unwrap(), b.to_str().unwrap());
    let before = run(Some(&ix), &["status", b, "-w", "json"]);
    assert_eq!(before.status.code(), Some(0), "{}", String::from_utf8_lossy(&before.stderr));
    assert_eq!(run(Some(&ix), &["scan", dir.to_str().unwrap()]).status.code(), Some(1));
    let after = run(Some(&ix), &["status", b, "-w", "json"]);
    let err = String::from_utf8_lossy(&after.stderr);
    assert_eq!(after.status.code(), Some(1), "{err}");
    assert!(err.contains("`scan` found 1 problem(s) in this file"), "{err}");
    // The figures still come out, in a line a JSON pipeline cannot take for a clean file's (review
    // 42b: the same line as a sound file's).
    let (was, now): (serde_json::Value, serde_json::Value) =
        (serde_json::from_slice(&before.stdout).unwrap(), serde_json::from_slice(&after.stdout).unwrap());
    for k in ["hash", "revision", "totalKey", "totalSize"] {
        assert_eq!(now[k], was[k], "{k}");
    }
    assert_eq!(now["ok"], false, "{now}");
    assert_eq!(now["remembered_failure"]["command"], "scan", "{now}");
    assert_eq!(now["path"], b, "{now}");
    let both = run(Some(&ix), &["status", "-w", "json", g, b]);
    let lines: Vec<serde_json::Value> = both
        .stdout
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!((lines[0].get("ok"), &lines[1]["ok"]), (None, &serde_json::Value::Bool(false)), "{lines:?}");
    let sound = run(Some(&ix), &["status", g]);
    assert_eq!(sound.status.code(), Some(0), "{}", String::from_utf8_lossy(&sound.stderr));
    assert_eq!(run(Some(&ix), &["status", b, "--refresh"]).status.code(), Some(0));
    // Several files: the one the index failed decides the exit status.
    assert_eq!(run(Some(&ix), &["status", g, b]).status.code(), Some(1));
}

#[test]
fn inspect_du_and_diff_tell_a_failure_the_index_remembers_when_they_do_not_hash_the_file() {
    // With --skip-hash-check / --no-trailer-check, inspect, du and diff read the tree alone: a
    // snapshot whose trailer does not match passes. Once `check` failed it with an index, they
    // tell it on stderr, exit 1, and say so in JSON (`ok` false, `remembered_failure`) and
    // Prometheus, as status and the key readers do (they said ok, with exit 0, though `check` had
    // failed it: left open at stop 42).
    let tmp = tempfile::tempdir().unwrap();
    let (ix, b) = flipped_in(&tmp);
    let b = b.as_str();
    let commands: [&[&str]; 2] = [&["inspect", b, "--skip-hash-check"], &["du", b, "--no-trailer-check"]];
    let json = |args: &[&str]| {
        let out = run(Some(&ix), &[args, &["-w", "json"]].concat());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    for args in commands {
        let (code, v, err) = json(args);
        assert_eq!((code, &v["ok"]), (Some(0), &serde_json::Value::Bool(true)), "{args:?} before check: {err}");
        assert!(v.get("remembered_failure").is_none(), "{v}");
    }
    assert_eq!(run(Some(&ix), &["check", b]).status.code(), Some(1));
    for args in commands {
        let (code, v, err) = json(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains("`check` found 1 problem(s) in this file"), "{args:?}: {err}");
        assert_eq!(v["ok"], false, "{args:?}: {v}");
        assert_eq!(v["remembered_failure"]["command"], "check", "{args:?}: {v}");
        // The figures still come out.
        assert_eq!(v["path"], b, "{v}");
        let table = run(Some(&ix), args);
        assert_eq!(table.status.code(), Some(1), "{args:?}");
        assert!(!table.stdout.is_empty(), "{args:?}");
        let prom = run(Some(&ix), &[args, &["-w", "prometheus"]].concat());
        let text = String::from_utf8_lossy(&prom.stdout);
        assert!(text.lines().any(|l| l.contains("remembered_failure{file=") && l.ends_with(" 1")), "{args:?}: {text}");
        // --refresh answers without what the index remembers.
        assert_eq!(run(Some(&ix), &[args, &["--refresh"]].concat()).status.code(), Some(0), "{args:?}");
    }
    // diff of the file with itself: the trees are equal, but the file is no clean answer.
    let out = run(Some(&ix), &["diff", b, b, "--no-trailer-check", "-w", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // Told once: the one file is both sides (it was told twice).
    assert_eq!(err.matches("`check` found 1 problem(s) in this file").count(), 1, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for side in ["a", "b"] {
        assert_eq!(v[side]["ok"], false, "{v}");
        assert_eq!(v[side]["remembered_failure"]["command"], "check", "{v}");
    }
    let fresh = run(Some(&ix), &["diff", b, b, "--no-trailer-check", "--refresh"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", String::from_utf8_lossy(&fresh.stderr));
    // --meta reads a tree of the same file: the mark is told there too, as `get --meta` tells it.
    let meta = run(Some(&ix), &["inspect", b, "--skip-hash-check", "--meta", "0"]);
    assert_eq!(meta.status.code(), Some(1), "{}", String::from_utf8_lossy(&meta.stderr));
}

#[test]
fn a_run_that_hashes_the_file_answers_by_what_it_finds_not_by_a_mark() {
    // A bit flipped in a value: only the trailer tells. check marks the file; the file is then
    // mended in place (same size, inode and modification time: the identity the mark is kept
    // under). inspect, du and diff that hash it find it sound (review 44: they exited 1 on the
    // mark); told not to hash it, they tell the mark, as status and the key readers do.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("index.redb");
    let f = tmp.path().join("mended.snap.db");
    std::fs::write(&f, common::with_last_value_flipped("tiny-1.snap.db")).unwrap();
    let when = std::fs::metadata(&f).unwrap().modified().unwrap();
    let f = f.to_str().unwrap();
    assert_eq!(run(Some(&ix), &["check", f]).status.code(), Some(1));
    in_place(Path::new(f), &common::bytes("tiny-1.snap.db"), when);
    for (args, want) in [
        (vec!["du", f], 0),
        (vec!["diff", f, f], 0),
        (vec!["inspect", f, "--skip-hash-check"], 1),
        (vec!["du", f, "--no-trailer-check"], 1),
        (vec!["diff", f, f, "--no-trailer-check"], 1),
        // A clean check, or a clean read as check reads (inspect with the trailer hashed), clears
        // the mark.
        (vec!["check", f], 0),
        (vec!["du", f, "--no-trailer-check"], 0),
    ] {
        let out = run(Some(&ix), &args);
        assert_eq!(out.status.code(), Some(want), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn compact_told_not_to_check_the_trailer_tells_a_failure_the_index_remembers() {
    // compact --skip-hash-check copies a snapshot whose trailer does not match, as asked. Once
    // `check` had failed it, the copy was still summarised as a clean job, exit 0 (left open at
    // stop 44): the index's mark is now told, as inspect, du and diff tell it. The copy is kept.
    let tmp = tempfile::tempdir().unwrap();
    let (ix, b) = flipped_in(&tmp);
    let b = b.as_str();
    let dst = tmp.path().join("copy.db");
    let d = dst.to_str().unwrap();
    let compact = |extra: &[&str]| {
        let _ = std::fs::remove_file(&dst);
        let out = run(Some(&ix), &[&["compact", b, "-o", d, "--skip-hash-check"], extra].concat());
        assert!(dst.is_file(), "{extra:?}: the copy is written: {}", String::from_utf8_lossy(&out.stderr));
        out
    };
    // Refused without --skip-hash-check; copied with it, and nothing remembered yet.
    assert_eq!(run(Some(&ix), &["compact", b, "-o", d]).status.code(), Some(1));
    let before = compact(&["-w", "json"]);
    assert_eq!(before.status.code(), Some(0), "{}", String::from_utf8_lossy(&before.stderr));
    let v: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert!(v.get("ok").is_none() && v.get("remembered_failure").is_none(), "{v}");
    // The JSON says SRC's trailer was not checked (review 46a: only a note on stderr said so), as
    // it says of one checked (`matches`) or missing (`absent`).
    assert_eq!(v["src_trailer"], "not checked", "{v}");
    for (src, want) in [("tiny-1.snap.db", "matches"), ("tiny-1.member.db", "absent")] {
        let _ = std::fs::remove_file(&dst);
        let out = run(None, &["compact", common::dir().join(src).to_str().unwrap(), "-o", d, "-w", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["src_trailer"], want, "{src}: {v}");
    }
    assert_eq!(run(Some(&ix), &["check", b]).status.code(), Some(1));
    for extra in [&[][..], &["-w", "json"]] {
        let out = compact(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("`check` found 1 problem(s) in this file"), "{extra:?}: {err}");
        assert!(err.contains("nothing vouches for those bytes"), "{err}");
        if !extra.is_empty() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!((&v["ok"], &v["remembered_failure"]["command"]), (&false.into(), &"check".into()), "{v}");
            assert_eq!(v["verified"], true, "the copy itself was verified: {v}");
        }
    }
    // --refresh ignores the mark; without an index there is none to tell.
    assert_eq!(compact(&["--refresh"]).status.code(), Some(0));
    let none = common::run_indexed(None, &["compact", b, "-o", d, "--skip-hash-check", "--force"]);
    assert_eq!(none.status.code(), Some(0), "{}", String::from_utf8_lossy(&none.stderr));
}

#[test]
fn a_file_mended_in_place_and_passed_by_scan_trend_or_inspect_is_no_longer_failed() {
    // A snapshot with a value byte flipped (its trailer no longer matches) is failed by `scan`,
    // then mended in place, its modification time put back: the index keeps its identity and
    // the mark. `scan`, `trend` and `inspect` read it as `check` does (the trailer verified) and
    // pass it; each now clears the mark as a clean `check` does (review 46b: `status` kept
    // failing it, exit 1, where they said ok).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("index.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let f = dir.join("etcd-snapshot-server-0-1700000000");
    let (good, bad) = (common::bytes("tiny-1.snap.db"), common::with_last_value_flipped("tiny-1.snap.db"));
    std::fs::write(&f, &good).unwrap();
    let when = std::fs::metadata(&f).unwrap().modified().unwrap();
    let in_place = |bytes: &[u8]| in_place(&f, bytes, when);
    let (fs, ds) = (f.to_str().unwrap(), dir.to_str().unwrap());
    for passing in [vec!["scan", ds], vec!["trend", ds], vec!["inspect", fs]] {
        in_place(&bad);
        assert_eq!(run(Some(&ix), &["scan", ds]).status.code(), Some(1), "{passing:?}");
        in_place(&good);
        assert_eq!(run(Some(&ix), &["status", fs]).status.code(), Some(1), "{passing:?}: the mark outlives the mend");
        let out = run(Some(&ix), &passing);
        assert_eq!(out.status.code(), Some(0), "{passing:?}: {}", String::from_utf8_lossy(&out.stderr));
        let status = run(Some(&ix), &["status", fs]);
        assert_eq!(status.status.code(), Some(0), "{passing:?}: {}", String::from_utf8_lossy(&status.stderr));
    }
    // A read that did not verify the trailer says nothing of it: the mark stays.
    in_place(&bad);
    assert_eq!(run(Some(&ix), &["scan", ds]).status.code(), Some(1));
    in_place(&good);
    assert_eq!(run(Some(&ix), &["inspect", fs, "--skip-hash-check"]).status.code(), Some(1));
    assert_eq!(run(Some(&ix), &["status", fs]).status.code(), Some(1));
}
