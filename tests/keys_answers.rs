//! `get`, `log` and `hashkv` against what real etcd 3.5.1 answered for the same data: every case
//! recorded in fixtures/key-answers (etcdctl 3.5.1 against a server restored from each fixture,
//! fixtures/README.md) is replayed through boltscope, without the index and then through an index
//! (the first run builds the key -> revisions table, later ones answer from it). `dump` at a
//! revision is then held to `get` at that revision (the same live keys with the same fields), and
//! `dump --all-revisions` to `log` (the same revisions, deletes included, in the same order).

mod common;
mod keys_common;

use std::path::PathBuf;

const FIXTURES: [&str; 11] = [
    "tiny-1",
    "k8s-0.005",
    "churn-0.005",
    "cluster-0.1",
    "compacting-1",
    "compacting-2",
    "emptied-1",
    "bump-1",
    "bump-2",
    "v34-tiny-1",
    "term-4",
];

/// A fixture's snapshot as a plain file. `compacting-1` (a snapshot taken while etcd was still
/// compacting, `fixtures/make-compacting.sh`) lives in its own folder: it has none of the bbolt
/// answers every file in `fixtures/` has.
fn snapshot(fx: &str, tmp: &tempfile::TempDir) -> PathBuf {
    match fx {
        "compacting-1" => common::dir().join("compacting/compacting-1.snap.db"),
        // The same, with no key live at 14, above the compaction at 13 still being done: HashKV
        // there hashes what the finished compaction leaves (review 45b).
        "compacting-2" => common::dir().join("compacting/compacting-2.snap.db"),
        // Every key deleted at some revisions after a compaction (`fixtures/make-emptied.sh`):
        // HashKV there hashes what the compaction kept.
        "emptied-1" => common::dir().join("emptied/emptied-1.snap.db"),
        // Restored by etcdutl 3.5.16 with --bump-revision --mark-compacted (a record with an empty
        // value at the bumped revision, the compaction scheduled there), and a snapshot of etcd
        // 3.5.16 serving it after writes and a compaction above that record
        // (`fixtures/make-bump.sh`): its answers are etcd 3.5.16's.
        "bump-1" => common::dir().join("bump/bump-1.member.db"),
        "bump-2" => common::dir().join("bump/bump-2.snap.db"),
        // A member that saw three elections (`meta/term` 4, `fixtures/make-terms.sh`); restored,
        // it answers at raft_term 2, as a file of etcd 3.4 (no term stored) does.
        "term-4" => common::dir().join("terms/term-4.snap.db"),
        _ => common::path(&format!("{fx}.snap.db"), tmp),
    }
}

fn answers() -> PathBuf {
    common::dir().join("key-answers")
}

#[test]
fn get_answers_byte_for_byte_cold_and_warm() {
    let mut total = 0;
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = snapshot(fx, &tmp);
        let ix = tmp.path().join("index.redb");
        total += keys_common::replay_get(&answers(), fx, &file, &ix);
        // The first run recorded the file's key index; the later ones could answer from it.
        let data = std::fs::read(&file).unwrap();
        let id = boltscope::index::identity(&file, &data).expect("identity");
        let index = boltscope::index::Index::open(&ix).expect("index");
        let range = boltscope::etcd::range::KeyRange::all();
        let keys = index.key_revisions(&id, &range).expect("readable").expect("a key index for the file");
        assert!(!keys.is_empty(), "{fx}: keys indexed");
    }
    assert_eq!(
        total,
        2 * (740 + 176 + 165 + 166 + 153 + 179 + 167 + 160),
        "every recorded get case (740: tiny-1, k8s-0.005, churn-0.005, cluster-0.1; 176, 165: compacting-1, \
         compacting-2; 166: emptied-1; 153, 179: bump-1, bump-2; 167, 160: v34-tiny-1, term-4)"
    );
}

#[test]
fn log_replays_what_watch_replayed() {
    let (mut checked, mut with_events) = (0, 0);
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = snapshot(fx, &tmp);
        let (c, w) = keys_common::replay_watch(&answers(), fx, &file, &tmp.path().join("index.redb"));
        (checked, with_events) = (checked + c, with_events + w);
    }
    assert!(checked >= 2 * 40 && with_events >= 2 * 25, "{checked} watch cases, {with_events} with events");
}

#[test]
fn hashkv_equals_the_servers() {
    let mut equal = 0;
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = snapshot(fx, &tmp);
        equal += keys_common::replay_hashkv(&answers(), fx, &file);
    }
    assert!(equal >= 25, "{equal} hashes compared");
}

#[test]
fn prometheus_compact_revision_is_the_servers() {
    // etcd's gauge is its store's compaction revision, which HashKV reports too: -1 when never
    // compacted, the scheduled one when a compaction was not finished. It said 0 and
    // finishedCompactRev.
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = snapshot(fx, &tmp);
        let out = common::boltscope().args(["--no-index", "inspect", "-w", "prometheus"]).arg(&file).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.starts_with("etcd_debugging_mvcc_compact_revision{")).unwrap();
        let got: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(got, common::server_compact_revision(fx), "{fx}: {line}");
    }
}

/// The live keys `get P --prefix --rev R -w json` lists (proved above against etcd): key -> (create,
/// mod, version, lease, value); `None` when get refuses the revision (its exit code).
type Live = std::collections::BTreeMap<Vec<u8>, (i64, i64, i64, u64, Vec<u8>)>;

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn live_by_get(file: &std::path::Path, prefix: &str, rev: i64) -> Result<Live, Option<i32>> {
    let f = file.to_str().unwrap();
    let r = rev.to_string();
    let out = common::run(["--no-index", "get", f, prefix, "--prefix", "--rev", &r, "-w", "json", "--show-secrets"]);
    if !out.status.success() {
        return Err(out.status.code());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = |kv: &serde_json::Value, k: &str| kv.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
    let kvs = v.get("kvs").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
    Ok(kvs
        .iter()
        .map(|kv| {
            let value = kv.get("value").and_then(serde_json::Value::as_str).map(b64).unwrap_or_default();
            let lease = n(kv, "lease") as u64;
            (
                b64(kv["key"].as_str().unwrap()),
                (n(kv, "create_revision"), n(kv, "mod_revision"), n(kv, "version"), lease, value),
            )
        })
        .collect())
}

fn live_by_dump(file: &std::path::Path, prefix: &str, rev: i64) -> Result<Live, Option<i32>> {
    let f = file.to_str().unwrap();
    let r = rev.to_string();
    let out = common::run(["--no-index", "dump", f, "--prefix", prefix, "--rev", &r, "--show-secrets"]);
    if !out.status.success() {
        return Err(out.status.code());
    }
    let mut live = Live::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let (key, modified, deleted, created, version, lease, value) = dump_record(line);
        assert!(!deleted, "a live key's record: {line}");
        assert!(live.insert(key, (created, modified, version, lease, value)).is_none(), "one record per key: {line}");
    }
    Ok(live)
}

/// One line of `dump`, read as the revision it shows (a tombstone has no value, version or
/// lease: zero, as in a watch's delete event).
fn dump_record(line: &str) -> Event {
    let d: serde_json::Value = serde_json::from_str(line).unwrap();
    let key = match d.get("key").and_then(serde_json::Value::as_str) {
        Some(k) => k.as_bytes().to_vec(),
        None => b64(d["key_base64"].as_str().unwrap()),
    };
    let n = |k: &str| d[k].as_i64().unwrap_or(0);
    let lease = d["lease"].as_str().map_or(0, |h| i64::from_str_radix(h, 16).unwrap() as u64);
    let value = d["value_base64"].as_str().map(b64).unwrap_or_default();
    (key, n("mod_revision"), d["tombstone"] == true, n("create_revision"), n("version"), lease, value)
}

#[test]
fn dump_at_a_revision_holds_exactly_the_keys_get_lists() {
    // Whole and by prefix (the survivors' pass then keeps only those keys, and the formatting pass
    // skips the pages without them), at the current revision and below it (or both refuse it).
    let (mut compared, mut records, mut refused) = (0, 0, 0);
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = snapshot(fx, &tmp);
        let head = common::run(["--no-index", "get", file.to_str().unwrap(), "x", "-w", "json"]);
        let head: serde_json::Value = serde_json::from_slice(&head.stdout).unwrap();
        let cur = head["header"]["revision"].as_i64().unwrap();
        for rev in [0, cur - 1, cur / 2, cur / 4] {
            for prefix in ["", "/registry/", "/registry/configmaps/", "/registry/secrets/", "key1", "/none/"] {
                let (get, dump) = (live_by_get(&file, prefix, rev), live_by_dump(&file, prefix, rev));
                match (&get, &dump) {
                    (Ok(g), Ok(d)) => {
                        assert!(
                            g == d,
                            "{fx}: --prefix {prefix:?} --rev {rev}: get {} keys, dump {}",
                            g.len(),
                            d.len()
                        );
                        compared += 1;
                        records += d.len();
                    }
                    (Err(a), Err(b)) => {
                        assert_eq!(a, b, "{fx}: --rev {rev}: the same refusal");
                        refused += 1;
                    }
                    _ => panic!("{fx}: --prefix {prefix:?} --rev {rev}: get {:?}, dump {:?}", get.err(), dump.err()),
                }
            }
        }
    }
    assert!(
        compared >= 60 && records > 4_000 && refused > 0,
        "{compared} compared, {records} records, {refused} refused"
    );
}

/// One revision of a key: (key, mod revision, delete, create revision, version, lease, value).
type Event = (Vec<u8>, i64, bool, i64, i64, u64, Vec<u8>);

#[test]
fn dump_of_every_revision_holds_exactly_the_events_log_replays() {
    // `log` is proved above against etcd's watch; `dump --all-revisions` writes the same revisions
    // in the same order, deletes included.
    let (mut compared, mut events) = (0, 0);
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = snapshot(fx, &tmp);
        let f = file.to_str().unwrap();
        for prefix in ["", "/registry/", "/registry/configmaps/", "key1", "/none/"] {
            let log = common::run(["--no-index", "log", f, prefix, "--prefix", "-w", "json", "--show-secrets"]);
            assert!(log.status.success(), "{fx}: log {prefix:?}");
            let by_log: Vec<Event> = String::from_utf8(log.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let e: serde_json::Value = serde_json::from_str(l).unwrap();
                    let kv = &e["kv"];
                    let n = |k: &str| kv.get(k).and_then(serde_json::Value::as_i64).unwrap_or(0);
                    let value = kv.get("value").and_then(serde_json::Value::as_str).map(b64).unwrap_or_default();
                    let key = b64(kv["key"].as_str().unwrap());
                    (
                        key,
                        n("mod_revision"),
                        e["type"] == "DELETE",
                        n("create_revision"),
                        n("version"),
                        n("lease") as u64,
                        value,
                    )
                })
                .collect();
            let dump = common::run(["--no-index", "dump", f, "--prefix", prefix, "--all-revisions", "--show-secrets"]);
            assert!(dump.status.success(), "{fx}: dump {prefix:?}");
            let by_dump: Vec<Event> = String::from_utf8(dump.stdout).unwrap().lines().map(dump_record).collect();
            assert!(
                by_log == by_dump,
                "{fx}: --prefix {prefix:?}: log {} events, dump {}",
                by_log.len(),
                by_dump.len()
            );
            compared += 1;
            events += by_dump.len();
        }
    }
    assert!(compared == 5 * FIXTURES.len() && events > 2_000, "{compared} compared, {events} events");
}

#[test]
fn a_tombstone_a_finished_compaction_kept_is_replayed_from_it() {
    // compacting-1 compacted at 16 by boltscope (which keeps a tombstone at 16, as etcd >= 3.5.16
    // does): the compaction is finished, so `log --rev 16` replays what the file holds from 16,
    // the delete of /t/a included, as a server holding the file replays it (a helper checked with
    // etcd 3.5.1 serving such a copy). Mid-compaction (the fixture itself) it is left out.
    let tmp = tempfile::tempdir().unwrap();
    let src = common::dir().join("compacting/compacting-1.snap.db");
    let done = tmp.path().join("c16.db");
    assert!(common::compact(&["--revision", "16"], &src, &done).status.success());
    let deletes_at_16 = |f: &std::path::Path| {
        let out =
            common::run(["--no-index", "log", f.to_str().unwrap(), "/t/", "--prefix", "--rev", "16", "-w", "json"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"DELETE\"") && l.contains("\"mod_revision\":16"))
            .count()
    };
    let held = common::run(["--no-index", "dump", done.to_str().unwrap(), "--prefix", "/t/", "--all-revisions"]);
    let held = String::from_utf8(held.stdout).unwrap();
    let tombstones_at_16 =
        held.lines().filter(|l| l.contains("\"mod_revision\":16") && l.contains("\"tombstone\":true")).count();
    assert_eq!(tombstones_at_16, 1, "{held}");
    assert_eq!(deletes_at_16(&done), 1);
    assert_eq!(deletes_at_16(&src), 0);
}

#[test]
fn a_file_of_several_members_answers_as_its_servers_do_and_says_its_ids_are_guessed() {
    let file = common::dir().join("members/two-members.snap.db");
    let live = std::fs::read_to_string(common::dir().join("members/two-members.live.jsonl")).unwrap();
    let servers: Vec<serde_json::Value> = live.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let f = file.to_str().unwrap();
    let out = common::boltscope().args(["--no-index", "get", f, "x/1", "-w", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mine: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for s in &servers {
        assert_eq!(mine["kvs"], s["kvs"]);
        assert_eq!(mine["count"], s["count"]);
        assert_eq!(mine["header"]["revision"], s["header"]["revision"]);
    }
    // Each server names itself; the file names neither, and says so.
    let ids: Vec<&serde_json::Value> = servers.iter().map(|s| &s["header"]["member_id"]).collect();
    assert!(ids.contains(&&mine["header"]["member_id"]), "{mine} is one of {ids:?}");
    assert!(err.contains("the file holds 2 member(s) and 0 removed") && err.contains("cluster_id"), "{err}");
    // Nothing told where no header is shown, nor for a file of one member.
    let simple = common::boltscope().args(["--no-index", "get", f, "x/1"]).output().unwrap();
    assert_eq!(simple.stdout, b"x/1\none\n");
    assert!(simple.stderr.is_empty(), "{}", String::from_utf8_lossy(&simple.stderr));
    // One member left, one removed: the cluster id was fixed before; the kvs are the server's.
    let shrunk = common::dir().join("members/shrunk.snap.db");
    let server: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::dir().join("members/shrunk.live.json")).unwrap()).unwrap();
    let out =
        common::boltscope().arg("--no-index").arg("get").arg(&shrunk).args(["x/1", "-w", "json"]).output().unwrap();
    let mine: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&mine["kvs"], &mine["header"]["member_id"]), (&server["kvs"], &server["header"]["member_id"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the file holds 1 member(s) and 1 removed"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    let one = common::path("tiny-1.snap.db", &tmp);
    let one =
        common::boltscope().args(["--no-index", "get", one.to_str().unwrap(), "key1", "-w", "json"]).output().unwrap();
    assert!(one.stderr.is_empty(), "{}", String::from_utf8_lossy(&one.stderr));
}

#[test]
fn a_backup_of_a_restored_cluster_answers_as_its_server_and_says_its_ids_may_be_stale() {
    // fixtures/make-restored-member.sh: a cluster restored under another member name and peer
    // URL, then backed up. Its `members` bucket and raft's configuration name different members
    // (review 48b: real files keep either one stale), so the header's ids come with a note.
    let file = common::dir().join("members/restored.snap.db");
    let server: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::dir().join("members/restored.live.json")).unwrap()).unwrap();
    let out = common::boltscope().arg("--no-index").arg("get").arg(&file).args(["a", "-w", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mine: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(mine, server, "this file's members bucket names the server that saved it");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("raft's configuration (meta/confState) name different members"), "{err}");
}
