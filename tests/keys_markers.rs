//! An empty value in the `key` bucket: `etcdutl snapshot restore --bump-revision` writes one, under
//! a put's key at sub revision 0 (the marker of the revision it bumps the store to), and a record
//! whose value was lost looks the same. Every reader treats it as `check` does (review 41b): its
//! revision counts in the revisions' continuity, an empty value under a tombstone's key is damage,
//! and a record lost below a revision R is found by the readers at R (`hashkv --rev R`, `dump
//! --rev R`) as by `check`, though only the records above R show it.

mod common;

use common::u32_at;

const PS: usize = 4096;

/// The elements of the `key` bucket's leaves of `d`: each element header's offset and its
/// revision key.
fn elements(d: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for (_, page) in common::damage::key_leaves(d) {
        let count = common::u16_at(d, page * PS + 10);
        for i in 0..count {
            let e = page * PS + 16 + 16 * i;
            let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
            out.push((e, d[e + pos..e + pos + ks].to_vec()));
        }
    }
    out
}

/// `k8s-0.005.member.db` (compacted at 96, revision 111) with the value of the entry whose
/// revision key is `main`.0 (`tombstone`: the key ending in `t`) emptied: its size set to 0.
fn emptied(tmp: &tempfile::TempDir, main: u64, tombstone: bool) -> String {
    let mut d = common::bytes("k8s-0.005.member.db");
    let (e, _) = elements(&d)
        .into_iter()
        .find(|(_, k)| u64_at_be(k) == main && (k.len() == 18) == tombstone)
        .unwrap_or_else(|| panic!("no entry at revision {main} (tombstone {tombstone})"));
    d[e + 12..e + 16].copy_from_slice(&0u32.to_le_bytes());
    let p = tmp.path().join(format!("emptied-{main}-{tombstone}.db"));
    std::fs::write(&p, &d).unwrap();
    p.to_str().unwrap().to_string()
}

fn u64_at_be(k: &[u8]) -> u64 {
    u64::from_be_bytes(k[..8].try_into().unwrap())
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let o = common::run_indexed(None, args);
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Every key reader's arguments on `f`, at the current revision and at 100 (above the compaction).
fn readers(f: &str) -> Vec<Vec<&str>> {
    let mut all: Vec<Vec<&str>> = vec![
        vec!["get", f, "", "--from-key", "--keys-only"],
        vec!["get", f, "", "--from-key", "--keys-only", "--rev", "100"],
        vec!["log", f, "/", "--prefix", "-w", "json"],
        vec!["dump", f],
        vec!["dump", f, "--all-revisions"],
        vec!["dump", f, "--rev", "100"],
        vec!["hashkv", f],
        vec!["hashkv", f, "--rev", "100"],
    ];
    all.iter_mut().for_each(|a| a.push("--show-secrets"));
    all.iter_mut().filter(|a| a[0] == "hashkv").for_each(|a| {
        a.pop();
    });
    all
}

#[test]
fn an_empty_value_shaped_as_the_marker_counts_for_its_revision_in_every_reader_as_in_check() {
    let tmp = tempfile::tempdir().unwrap();
    // Revision 106, above the compaction at 96: a put at sub revision 0, so shaped as the marker.
    let f = emptied(&tmp, 106, false);
    let (code, err) = run(&["check", &f]);
    assert_eq!(code, Some(0), "{err}");
    for args in readers(&f) {
        let (code, err) = run(&args);
        // Before review 41b the readers' own scans left the marker's revision out: "revision 106
        // missing" from every reader, while check passed the file.
        assert!(!err.contains("revisions_missing"), "{args:?}: {err}");
        assert_eq!(code, Some(0), "{args:?} agrees with check: {err}");
    }
}

#[test]
fn an_empty_value_under_a_tombstones_key_is_damage_to_check_and_every_reader() {
    let tmp = tempfile::tempdir().unwrap();
    // Revision 97 is a delete: its key ends in `t`, and no marker is a tombstone.
    let f = emptied(&tmp, 97, true);
    let (code, err) = run(&["check", &f]);
    let out = common::run(["--no-index", "check", &f]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code, Some(1), "{text}{err}");
    assert!(text.contains("invalid_key_value") && text.contains("empty value at revision 97.0"), "{text}");
    for args in readers(&f) {
        let (code, err) = run(&args);
        assert_ne!(code, Some(0), "{args:?}: {err}");
        assert!(err.contains("empty value at revision 97.0"), "{args:?}: {err}");
    }
}

#[test]
fn a_record_lost_below_r_is_found_by_the_readers_at_r_as_by_check() {
    let tmp = tempfile::tempdir().unwrap();
    // Revision 16 created /registry/pods/ns-34/pod-00014, whose next record is at 107: with it
    // lost, the key has no record at or below the compaction (96) and its first is version 2.
    let original = common::path("k8s-0.005.member.db", &tmp);
    let o = original.to_str().unwrap();
    let log = common::run(["--no-index", "log", o, "/registry/pods/ns-34/pod-00014", "-w", "json"]);
    let revs: Vec<u64> = String::from_utf8_lossy(&log.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kv"]["mod_revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revs, [16, 107], "the premise: the key's history in the original");
    let f = emptied(&tmp, 16, false);
    let (code, err) = run(&["check", &f]);
    assert_eq!(code, Some(1), "{err}");
    for rev in ["96", "97", "100", "106"] {
        for args in [["hashkv", &f, "--rev", rev], ["dump", &f, "--rev", rev]] {
            let (code, err) = run(&args);
            // Judged on the records at or below R only, these passed with exit 0 (review 41b).
            assert_eq!(code, Some(1), "{args:?}: {err}");
            assert!(err.contains("history_inconsistent"), "{args:?}: {err}");
        }
        let (good, err) = run(&["hashkv", o, "--rev", rev]);
        assert_eq!(good, Some(0), "the original at {rev}: {err}");
    }
}

#[test]
fn a_marker_at_the_head_is_the_stores_revision_to_check_as_to_status_and_get() {
    // `etcdutl snapshot restore --bump-revision` leaves its marker as the bucket's last entry:
    // etcd's current revision, etcdutl's REVISION. check said the last record's (110) where
    // status and get's header said 111 (review 41b).
    let tmp = tempfile::tempdir().unwrap();
    let f = emptied(&tmp, 111, false);
    let check = common::run(["--no-index", "check", &f, "-w", "json"]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stderr));
    let c: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let status = common::run(["--no-index", "status", &f, "-w", "json"]);
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(s["revision"], 111);
    assert_eq!(c["revision"], 111, "{c}");
    let get = common::run(["--no-index", "get", &f, "/registry/none", "-w", "json"]);
    let g: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert_eq!(g["header"]["revision"], 111);
}
