//! `boltscope diff` against the answers real etcd gave (fixtures/diff/, fixtures/README.md):
//! the added/removed/changed sets, records and groups computed by `fixtures/diff-oracle.py` from
//! `etcdctl get "" --prefix -w json` on the live servers; the cluster ids `etcdctl endpoint status`
//! reported; the revision where b and c diverge from `etcdctl endpoint hashkv --rev R`.

mod common;

use boltscope::analysis::compare;
use boltscope::analysis::diff::Options;
use boltscope::DbView;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    common::dir().join("diff").join(name)
}

fn answer(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// `boltscope --no-index diff ARGS -w json`: exit code and the parsed object.
fn diff(args: &[&str], a: &str, b: &str) -> (i32, Value) {
    let out = common::run(
        ["--no-index", "diff", "-w", "json"]
            .iter()
            .map(|s| s.to_string())
            .chain(args.iter().map(|s| s.to_string()))
            .chain([fixture(a), fixture(b)].iter().map(|p| p.display().to_string())),
    );
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap(), v)
}

/// A record as the oracle writes it (lease as a decimal number; value size) in boltscope's JSON
/// shape (lease as `etcdctl lease list` prints it: Go's `%016x` of the int64, or null).
fn oracle_record(r: &Value) -> Value {
    let lease = r["lease"].as_u64().unwrap();
    serde_json::json!({
        "create_revision": r["create_revision"],
        "mod_revision": r["mod_revision"],
        "version": r["version"],
        "lease": match lease as i64 {
            0 => Value::Null,
            l if l < 0 => format!("-{:015x}", l.unsigned_abs()).into(),
            l => format!("{l:016x}").into(),
        },
        "value_size": r["value_size"],
    })
}

fn ours_record(r: &Value) -> Value {
    let keys = ["create_revision", "mod_revision", "version", "lease", "value_size"];
    Value::Object(keys.iter().map(|k| (k.to_string(), r[*k].clone())).collect())
}

/// Key -> record, for one list.
fn by_key(list: &Value, rec: fn(&Value) -> Value) -> BTreeMap<String, Value> {
    list.as_array().unwrap().iter().map(|x| (x["key"].as_str().unwrap().to_string(), rec(x))).collect()
}

fn changed_map(list: &Value, oracle: bool) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| {
            let (a, b, f) = if oracle {
                (oracle_record(&x["old"]), oracle_record(&x["new"]), x["fields"].clone())
            } else {
                (ours_record(&x["a"]), ours_record(&x["b"]), x["fields"].clone())
            };
            (x["key"].as_str().unwrap().to_string(), serde_json::json!({"a": a, "b": b, "fields": f}))
        })
        .collect()
}

/// Our answer equals the oracle's, list by list, record by record, group by group.
fn assert_matches_oracle(ours: &Value, oracle: &Value, by: &str) {
    assert_eq!(by_key(&ours["added"], ours_record), by_key(&oracle["added"], oracle_record), "added");
    assert_eq!(by_key(&ours["removed"], ours_record), by_key(&oracle["deleted"], oracle_record), "removed");
    assert_eq!(changed_map(&ours["changed"], false), changed_map(&oracle["changed"], true), "changed");
    assert_eq!(ours["unchanged"], oracle["unchanged"], "unchanged");
    assert_eq!(ours["groups"], oracle["groups"][by], "groups by {by}");
    assert_eq!(ours["a"]["live_keys"], oracle["old"]["keys"]);
    assert_eq!(ours["b"]["live_keys"], oracle["new"]["keys"]);
    assert_eq!(ours["a"]["revision"], oracle["old"]["revision"]);
    assert_eq!(ours["b"]["revision"], oracle["new"]["revision"]);
}

fn cluster_id(p: &str) -> String {
    format!("{:x}", answer(&format!("{p}.endpoint-status.json"))[0]["Status"]["header"]["cluster_id"].as_u64().unwrap())
}

#[test]
fn a_to_b_equals_etcdctl_and_b_descends_from_a() {
    let oracle = answer("diff-a-b.answer.json");
    let (code, v) = diff(&["--values"], "diff-a.snap.db", "diff-b.snap.db");
    assert_eq!(code, 1, "the files differ");
    assert_matches_oracle(&v, &oracle, "resource");
    assert_eq!(v["by"], "resource");
    assert_eq!(
        (v["a"]["cluster_id"].as_str().unwrap(), v["b"]["cluster_id"].as_str().unwrap()),
        (&*cluster_id("diff-a"), &*cluster_id("diff-b"))
    );
    let r = &v["relation"];
    assert_eq!(r["kind"], "b_descends_from_a");
    assert_eq!(r["same_cluster"], true);
    assert_eq!((r["history"]["from"].as_u64(), r["history"]["to"].as_u64()), (Some(1), Some(324)));
    assert_eq!(r["history"]["diverged_at"], Value::Null);
    assert_eq!(r["conflicts"], 0);
    // By namespace too.
    let (_, n) = diff(&["--values", "--by", "namespace"], "diff-a.snap.db", "diff-b.snap.db");
    assert_matches_oracle(&n, &oracle, "namespace");
}

#[test]
fn reversed_a_descends_from_b() {
    let oracle = answer("diff-a-b.answer.json");
    let (code, v) = diff(&["--values"], "diff-b.snap.db", "diff-a.snap.db");
    assert_eq!(code, 1);
    assert_eq!(by_key(&v["added"], ours_record), by_key(&oracle["deleted"], oracle_record));
    assert_eq!(by_key(&v["removed"], ours_record), by_key(&oracle["added"], oracle_record));
    assert_eq!(v["relation"]["kind"], "a_descends_from_b");
}

/// The first revision at which `etcdctl endpoint hashkv --rev R` differs between the two servers.
fn hashkv_divergence() -> u64 {
    let (b, c) = (answer("diff-b.hashkv-by-rev.json"), answer("diff-c.hashkv-by-rev.json"));
    let hashes = |v: &Value| -> BTreeMap<u64, u64> {
        v.as_array().unwrap().iter().map(|x| (x["rev"].as_u64().unwrap(), x["hash"].as_u64().unwrap())).collect()
    };
    let (hb, hc) = (hashes(&b), hashes(&c));
    assert_eq!(hb.keys().collect::<Vec<_>>(), hc.keys().collect::<Vec<_>>());
    *hb.iter().find(|(r, h)| hc[r] != **h).expect("b and c differ somewhere").0
}

#[test]
fn b_and_c_are_two_clusters_that_diverged_with_the_keys_and_where() {
    let oracle = answer("diff-b-c.answer.json");
    let (code, v) = diff(&["--values"], "diff-b.snap.db", "diff-c.snap.db");
    assert_eq!(code, 1);
    assert_matches_oracle(&v, &oracle, "resource");
    let r = &v["relation"];
    // c was restored as a new one-member cluster: its members bucket names only itself, no
    // member of b's. Two clusters from one point that were written differently have diverged;
    // they are not inconsistent members of one, one of which went wrong (review 35c: two
    // clusters fed the same writes were called INCONSISTENT).
    assert_eq!(r["kind"], "diverged");
    assert_eq!(r["same_cluster"], false);
    assert_eq!(v["b"]["cluster_id"].as_str().unwrap(), cluster_id("diff-c"));
    assert_eq!(r["history"]["diverged_at"].as_u64(), Some(hashkv_divergence()));
    let mut want: Vec<String> = ["added", "deleted", "changed"]
        .iter()
        .flat_map(|l| oracle[*l].as_array().unwrap().iter().map(|x| x["key"].as_str().unwrap().to_string()))
        .collect();
    want.sort();
    let got: Vec<String> =
        r["keys"].as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap().to_string()).collect();
    assert_eq!(got, want, "the inconsistent keys");
    assert_eq!(r["conflicts"].as_u64(), Some(want.len() as u64));
}

#[test]
fn a_file_with_itself_is_identical_and_exits_0() {
    let (code, v) = diff(&[], "diff-c.snap.db", "diff-c.snap.db");
    assert_eq!(code, 0);
    assert_eq!(v["relation"]["kind"], "identical");
    assert_eq!(v["equal"], true);
    assert_eq!(v["unchanged"], answer("diff-b-c.answer.json")["new"]["keys"]);
    // c descends from a (c was restored from a and written to).
    let (code, v) = diff(&[], "diff-a.snap.db", "diff-c.snap.db");
    assert_eq!((code, v["relation"]["kind"].as_str()), (1, Some("b_descends_from_a")));
}

#[test]
fn many_passes_give_the_same_answer() {
    let (_, one) = diff(&["--values"], "diff-a.snap.db", "diff-b.snap.db");
    let (_, many) = diff(&["--values", "--pass-budget", "2000"], "diff-a.snap.db", "diff-b.snap.db");
    assert_eq!(one, many);
    // And through the library, with the pass count visible.
    let (a, b) = (std::fs::read(fixture("diff-a.snap.db")).unwrap(), std::fs::read(fixture("diff-b.snap.db")).unwrap());
    let (va, vb) = (DbView::new(&a).unwrap(), DbView::new(&b).unwrap());
    let c = compare::compare(&va, &vb, &Options { budget: 2000, ..Options::default() }).unwrap();
    assert!(c.keys.passes >= 10, "{} passes", c.keys.passes);
    assert_eq!((c.keys.added.len(), c.keys.removed.len(), c.keys.changed.len(), c.keys.unchanged), (9, 16, 15, 262));
}

#[test]
fn prefix_limits_the_keys() {
    let oracle = answer("diff-a-b.answer.json");
    let p = "/registry/configmaps/";
    let (_, v) = diff(&["--prefix", p], "diff-a.snap.db", "diff-b.snap.db");
    let count = |l: &Value| l.as_array().unwrap().iter().filter(|x| x["key"].as_str().unwrap().starts_with(p)).count();
    assert_eq!(v["added"].as_array().unwrap().len(), count(&oracle["added"]));
    assert_eq!(v["removed"].as_array().unwrap().len(), count(&oracle["deleted"]));
    assert_eq!(v["changed"].as_array().unwrap().len(), count(&oracle["changed"]));
    let g = &oracle["groups"]["resource"].as_array().unwrap().iter().find(|g| g["name"] == "configmaps").unwrap();
    assert_eq!(v["groups"], serde_json::json!([g]));
    assert_eq!(v["unchanged"], g["unchanged"]);
}

#[test]
fn decode_lists_changed_fields_and_redacts_secrets() {
    let (_, v) = diff(&["--decode"], "diff-a.snap.db", "diff-b.snap.db");
    let changed = v["changed"].as_array().unwrap();
    for c in changed {
        let value_changed = c["fields"].as_array().unwrap().iter().any(|f| f == "value");
        assert_eq!(c.get("decoded").is_some(), value_changed, "{c}");
        assert!(c["a"]["value_size"].is_u64(), "--decode implies --values");
    }
    let crd = changed.iter().find(|c| c["key"].as_str().unwrap().contains("customresourcedefinitions")).unwrap();
    assert!(crd["decoded"]["total"].as_u64().unwrap() > 0, "{crd}");
    // The fixture's Secrets are stored encrypted (aescbc): decoded, they show only the provider,
    // the key name and a length, never bytes of the value.
    for c in changed.iter().filter(|c| c["key"].as_str().unwrap().starts_with("/registry/secrets/")) {
        for f in c["decoded"]["changes"].as_array().unwrap() {
            assert!(f["path"].as_str().unwrap().starts_with("/encrypted/"), "{c}");
        }
    }
}

#[test]
fn unreadable_and_non_etcd_files_exit_2_damaged_ones_1_with_their_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.db");
    let run = |a: &std::path::Path, b: &std::path::Path| {
        let out =
            common::run(["--no-index", "diff", "-w", "json"].iter().map(PathBuf::from).chain([a.into(), b.into()]));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code().unwrap(), v)
    };
    let a = fixture("diff-a.snap.db");
    let (code, v) = run(&a, &missing);
    assert_eq!((code, v["ok"].as_bool(), v["error"]["kind"].as_str()), (2, Some(false), Some("io")));
    assert_eq!(v["path"], missing.display().to_string());
    let bolt = common::path("bolt-4k-synced.db", &tmp);
    let (code, v) = run(&bolt, &a);
    assert_eq!((code, v["error"]["kind"].as_str()), (2, Some("not_etcd")));
    // A branch of the key bucket pointed past the high-water mark.
    let mut d = std::fs::read(fixture("diff-b.snap.db")).unwrap();
    let view = DbView::new(&d).unwrap();
    let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
    let boltscope::bbolt::cursor::BucketRoot::Page(root) = kb else { panic!("inline key bucket") };
    let at = view.page(root).unwrap().offset as usize + 16 + 8;
    let hwm = view.hwm;
    common::put_u64(&mut d, at, hwm + 3);
    let bad = tmp.path().join("damaged.db");
    std::fs::write(&bad, &d).unwrap();
    let (code, v) = run(&a, &bad);
    // Exit 1, as every command gives a damaged file (it was 2), its problems listed.
    assert_eq!((code, v["error"]["kind"].as_str()), (1, Some("damaged")));
    assert_eq!(v["path"], bad.display().to_string());
    assert_eq!(v["problems"][0]["kind"], "page_out_of_bounds", "{v}");
    assert_eq!(v["problems"][0]["offset"].as_u64(), Some(at as u64), "{v}");
    // What check also fails it for (its sha256 trailer no longer matches) is told with them.
    let kinds: Vec<&str> = v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"trailer_mismatch"), "{v}");
    assert_eq!(v["problem_total"].as_u64(), Some(kinds.len() as u64), "{v}");
}

/// Randomly damaged copies of b compared with a (and with themselves): an answer or a refusal,
/// never a panic or a hang.
#[test]
fn damaged_copies_never_panic() {
    let a = std::fs::read(fixture("diff-a.snap.db")).unwrap();
    let b = std::fs::read(fixture("diff-b.snap.db")).unwrap();
    let va = DbView::new(&a).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let opt = Options { budget: 3000, decode: Some(Default::default()), ..Options::default() };
    let (mut refused, mut compared) = (0, 0);
    for _ in 0..300 {
        let mut d = b.clone();
        for _ in 0..1 + next() % 8 {
            let i = (next() % d.len() as u64) as usize;
            d[i] ^= 1 << (next() % 8);
        }
        if next() % 5 == 0 {
            d.truncate((next() % d.len() as u64) as usize);
        }
        let Ok(vd) = DbView::new(&d) else { continue };
        for (l, r) in [(&va, &vd), (&vd, &vd)] {
            match compare::compare(l, r, &opt) {
                Ok(_) => compared += 1,
                Err(_) => refused += 1,
            }
        }
    }
    assert!(compared > 0 && refused > 0, "{compared} compared, {refused} refused");
}

#[test]
fn equal_trees_in_a_file_check_fails_are_no_clean_answer() {
    // The same snapshot with its trailer cut short, and with its newer meta page made unusable:
    // the trees bbolt reads may still be equal, but the exit status says the file is damaged.
    let tmp = tempfile::tempdir().unwrap();
    let good = common::path("k8s-0.005.snap.db", &tmp);
    let d = std::fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.snap.db");
    std::fs::write(&cut, &d[..d.len() - 10]).unwrap();
    let mut m = d.clone();
    common::damage::one_page("newer meta bad", &mut m);
    let meta = tmp.path().join("meta.snap.db");
    std::fs::write(&meta, &m).unwrap();
    let ok = common::run(["--no-index", "diff", good.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0));
    for (bad, kind) in [(&cut, "trailing_bytes"), (&meta, "meta_invalid")] {
        let out = common::run(["--no-index", "diff", good.to_str().unwrap(), bad.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{kind}: {err}");
        assert!(err.contains(kind) && err.contains("`check` fails this file"), "{kind}: {err}");
    }
}

#[test]
fn equal_live_states_with_histories_that_differ_are_inconsistent_and_exit_1() {
    // One branch element of the `key` bucket pointed at a stale leaf that starts with the same
    // revision (a misdirected write): bbolt reads a tree as sound, the live keys are the same,
    // but the history at revision 41 is not. Same revision, different contents: one file went
    // wrong, so `diff A B && echo same` must not say same.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    common::damage::misdirected_branch(&mut d);
    let b = tmp.path().join("misdirected.db");
    std::fs::write(&b, &d).unwrap();
    let a = common::dir().join("k8s-0.005.member.db");
    let out = common::run(["--no-index", "diff", "-w", "json", a.to_str().unwrap(), b.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["equal"].as_bool(), v["relation"]["kind"].as_str()), (Some(true), Some("inconsistent")), "{v}");
    assert_eq!(out.status.code(), Some(1), "{v}");
}

#[test]
fn a_difference_at_the_first_revision_both_hold_is_no_divergence_point() {
    // compacting-2 holds revisions from 14 (compacted at 13); diff-b differs there. Their histories
    // may have parted below it: the text said "diverge at revision 14" (review 49b). Files that
    // share their start still name the revision (329 for diff-b and diff-c).
    let text = |a: &str, b: &str| {
        let (a, b) = (common::dir().join(a), common::dir().join(b));
        let out = common::run(["--no-index", "diff", a.to_str().unwrap(), b.to_str().unwrap()]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let t = text("compacting/compacting-2.snap.db", "diff/diff-b.snap.db");
    assert!(t.contains("histories differ from revision 14, the first both hold: they diverged at or before it"), "{t}");
    let t = text("diff/diff-b.snap.db", "diff/diff-c.snap.db");
    assert!(t.contains("histories diverge at revision 329"), "{t}");
}

#[test]
fn a_snapshot_saved_mid_compaction_is_the_same_history_as_its_compacted_state() {
    // fixtures/compacting: saved while etcd was compacting at 16 (records below 16 still there).
    // Its compaction finished (by boltscope's compact at 16) holds the same data: the restored
    // real server's HashKV (recorded) equals both files'. diff must not call them inconsistent
    // (it said "diverge at revision 2": the records compaction had yet to delete).
    let tmp = tempfile::tempdir().unwrap();
    let src = common::dir().join("compacting/compacting-1.snap.db");
    let done = tmp.path().join("compacted-16.db");
    let out = common::compact(&["--revision", "16"], &src, &done);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answers = std::fs::read_to_string(common::dir().join("key-answers/compacting-1.hashkv.jsonl")).unwrap();
    let first: Value = serde_json::from_str(answers.lines().next().unwrap()).unwrap();
    use base64::Engine;
    let stdout = base64::engine::general_purpose::STANDARD.decode(first["stdout_b64"].as_str().unwrap()).unwrap();
    let server: Value = serde_json::from_slice(&stdout).unwrap();
    let server_hash = server[0]["HashKV"]["hash"].as_u64().unwrap();
    for f in [&src, &done] {
        let h = common::run(["--no-index", "hashkv", "-w", "json", f.to_str().unwrap()]);
        let h: Value = serde_json::from_slice(&h.stdout).unwrap();
        assert_eq!(h["hash"].as_u64(), Some(server_hash), "{}", f.display());
    }
    // And the same file restored into real etcd 3.5.1 (which finished the compaction by its own
    // rule, deleting the tombstone at 16 that boltscope's compaction keeps as current etcd does)
    // and saved again: the same history, whichever side finished the compaction.
    let resaved = common::dir().join("compacting/compacting-1.resaved.snap.db");
    for (a, b) in [(&src, &done), (&src, &resaved), (&done, &resaved)] {
        let out = common::run(["--no-index", "diff", "-w", "json", a.to_str().unwrap(), b.to_str().unwrap()]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["relation"]["kind"], "identical", "{} {}: {}", a.display(), b.display(), v["relation"]);
        assert_eq!(out.status.code(), Some(0));
    }
}

#[test]
fn a_trailer_that_does_not_match_is_not_ok() {
    // One bit flipped under the sha256 trailer: the trees read well, only the hash knows. diff
    // called such a file "ok": true and exited 0.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("rotten.snap.db");
    std::fs::write(&p, common::with_last_value_flipped("k8s-0.005.snap.db")).unwrap();
    let run = |extra: &[&str]| {
        let mut c = common::boltscope();
        c.args(["--no-index", "diff", "-w", "json"]).args(extra).arg(&p).arg(&p);
        let out = c.output().unwrap();
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap())
    };
    let (code, v) = run(&[]);
    assert_eq!((code, v["equal"].as_bool(), v["b"]["ok"].as_bool()), (Some(1), Some(true), Some(false)), "{v}");
    assert_eq!(v["b"]["problems"][0]["kind"], "trailer_mismatch", "{v}");
    let (code, v) = run(&["--skip-hash-check"]);
    assert_eq!((code, v["b"]["ok"].as_bool()), (Some(0), Some(true)), "skipped when asked: {v}");
}

#[test]
fn files_of_two_clusters_with_no_history_to_compare_are_unrelated_not_a_descent() {
    // fill-1 and tiny-1 come from two clusters (etcdctl endpoint status gave two cluster ids) and
    // share no revision to compare: "B descends from A" rested on nothing.
    let id =
        |f: &str| common::answer_json(f, "endpoint-status.json").unwrap()[0]["Status"]["header"]["cluster_id"].clone();
    assert_ne!(id("fill-1"), id("tiny-1"));
    let out = common::run(
        ["--no-index", "diff", "-w", "json"]
            .map(String::from)
            .into_iter()
            .chain(["fill-1.snap.db", "tiny-1.snap.db"].map(|f| common::dir().join(f).display().to_string())),
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["relation"]["kind"].as_str(), v["relation"]["same_cluster"].as_bool()),
        (Some("unrelated"), Some(false)),
        "{v}"
    );
}

#[test]
fn both_files_damaged_are_both_told() {
    // Only A's damage was told (and only A's JSON line written), so fixing A and running again
    // met B's (review 35c).
    let tmp = tempfile::tempdir().unwrap();
    let base = common::bytes("k8s-0.005.member.db");
    let leaves = common::damage::key_leaves(&base);
    let mut files = Vec::new();
    for (name, leaf) in [("a.db", leaves[0].1), ("b.db", leaves[1].1)] {
        let mut d = base.clone();
        common::damage::zero_leaf(&mut d, leaf);
        let p = tmp.path().join(name);
        std::fs::write(&p, &d).unwrap();
        files.push(p.to_str().unwrap().to_string());
    }
    let out = common::run(["--no-index", "diff", "-w", "json", &files[0], &files[1]]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for f in &files {
        assert!(err.contains(&format!("{f}: cannot compare")), "{f}: {err}");
    }
    let lines: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let paths: Vec<&str> = lines.iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [files[0].as_str(), files[1].as_str()]);
    assert!(lines.iter().all(|v| v["error"]["kind"] == "damaged"), "{lines:?}");
}

#[test]
fn a_file_never_compacted_says_null_as_inspect_does_and_a_compacted_one_its_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (common::path("tiny-1.snap.db", &tmp), common::path("k8s-0.005.snap.db", &tmp));
    let out = common::run(["--no-index", "diff", "-w", "json", a.to_str().unwrap(), b.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["a"]["compact_revision"], Value::Null, "{v}");
    assert_eq!(v["b"]["compact_revision"], common::served_compaction("k8s-0.005"), "{v}");
    let inspect = common::run(["--no-index", "inspect", "-w", "json", a.to_str().unwrap()]);
    let i: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(i["etcd"]["finished_compact_revision"], Value::Null, "one spelling of never compacted");
}
