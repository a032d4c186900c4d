//! `salvage` when the compaction revision in the `meta` bucket cannot be taken as it is: the bucket
//! unreadable in the tree, a `finishedCompactRev` damaged past `scheduledCompactRev`, a value etcd
//! cannot read. The revision decides which records found outside the tree are certain and is what
//! the copy records, so each copy must pass `check` (no records compaction deleted put back, no
//! compaction etcd never writes) and tell the compaction real etcd reported for the undamaged file
//! (`endpoint hashkv`'s compact_revision in fixtures/key-answers/churn-0.005.hashkv.jsonl).

mod common;
use common::checks::{inline_entry, root_entry};
use common::damage;
use serde_json::Value;

/// Salvages `d` (written to a temporary file): the JSON report, and `check`'s exit code for the copy.
fn salvaged(d: &[u8]) -> (Value, Option<i32>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src.db"), tmp.path().join("copy.db"));
    std::fs::write(&src, d).unwrap();
    let out = common::boltscope().args(["salvage", "-w", "json"]).arg(&src).arg("-o").arg(&dst).output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(report.is_object(), "{}", String::from_utf8_lossy(&out.stderr));
    let checked = common::boltscope().args(["--no-index", "check"]).arg(&dst).output().unwrap();
    (report, checked.status.code(), String::from_utf8_lossy(&checked.stdout).into_owned())
}

fn notes(r: &Value) -> String {
    r["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_meta_bucket_the_tree_cannot_read_is_no_evidence_of_a_store_never_compacted() {
    let mut d = common::bytes("churn-0.005.snap.db");
    // The `meta` bucket's root page (an inline bucket: 0) pointed past the file.
    let (_, v) = root_entry(&d, b"meta");
    assert_eq!(u64::from_le_bytes(d[v..v + 8].try_into().unwrap()), 0, "an inline bucket");
    d[v..v + 8].copy_from_slice(&1_000_000_000u64.to_le_bytes());
    common::reseal(&mut d);
    let (r, check, text) = salvaged(&d);
    // It was taken as 0: the 34 records compaction deleted, carved from free pages, came back as
    // certain, and the copy failed `check` (history_inconsistent).
    assert_eq!(r["compact_revision"], common::served_compaction("churn-0.005"), "{r}");
    assert_eq!(r["revisions"]["carved"], 0, "{r}");
    assert_eq!(check, Some(0), "{text}");
    assert_eq!(r["check_errors"], 0);
}

#[test]
fn a_finished_compaction_damaged_past_the_scheduled_one_is_judged_by_the_records() {
    let mut d = common::bytes("churn-0.005.snap.db");
    // Every copy of finishedCompactRev (the tree's and older pages') with bit 48 set: 2^48 + 101.
    let name = b"finishedCompactRev";
    let at: Vec<usize> = d.windows(name.len()).enumerate().filter(|(_, w)| *w == name).map(|(i, _)| i).collect();
    assert!(!at.is_empty());
    for i in at {
        d[i + name.len() + 1] ^= 0x01;
    }
    common::reseal(&mut d);
    let (r, check, text) = salvaged(&d);
    // It was taken as 2^48 + 101 and written so: `check` failed the copy (finished past
    // scheduled), and a server started on it would jump to that revision.
    assert_eq!(r["compact_revision"], common::served_compaction("churn-0.005"), "{r}");
    assert_eq!(check, Some(0), "{text}");
    assert!(notes(&r).contains("is past scheduledCompactRev"), "{r}");
    assert_eq!(r["lossless"], false, "a damaged compaction is no lossless copy");
}

#[test]
fn a_compaction_key_etcd_cannot_read_is_not_carried_into_the_copy() {
    // Real case: etcd 3.5.1 stops on a 16-byte finishedCompactRev (fixtures/etcd-records/answers.tsv).
    use std::io::Read;
    let path = common::dir().join("etcd-records/meta-fcr16.snap.db.gz");
    let mut d = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut d).unwrap();
    let answers = std::fs::read_to_string(common::dir().join("etcd-records/answers.tsv")).unwrap();
    assert!(answers.lines().any(|l| l.starts_with("meta-fcr16\t") && l.contains("START_DIES")));
    let (r, check, text) = salvaged(&d);
    assert_eq!(check, Some(0), "the copy carried the value etcd stops on: {text}");
    assert!(notes(&r).contains("meta/finishedCompactRev cannot be read as a revision"), "{r}");
    assert_eq!(r["check_errors"], 0);
}

#[test]
fn a_meta_bucket_whose_count_lost_its_compaction_keys_is_read_back_whole() {
    // The inline page's element count cut from 5 to 2 (one byte): the two compaction keys were
    // gone, the bucket read whole. It was taken as never compacted (0): the records compaction
    // deleted came back as certain; then older copies of the root page in free pages told it.
    // Now the page's layout tells its count (review 42a: bbolt writes the first key right after
    // the element headers), and the keys are read back where they are.
    let mut d = common::bytes("churn-0.005.snap.db");
    let (page, _, _) = inline_entry(&d, b"meta", b"finishedCompactRev");
    assert_eq!(u16::from_le_bytes(d[page + 10..page + 12].try_into().unwrap()), 5);
    d[page + 10..page + 12].copy_from_slice(&2u16.to_le_bytes());
    common::reseal(&mut d);
    let (r, check, text) = salvaged(&d);
    assert_eq!(r["compact_revision"], common::served_compaction("churn-0.005"), "{r}");
    assert_eq!(r["revisions"]["carved"], 0, "{r}");
    assert_eq!(check, Some(0), "{text}");
    assert!(notes(&r).contains("read as 5 (a count that shrank"), "{r}");
}

#[test]
fn when_the_records_allow_either_value_the_older_copies_decide() {
    // finishedCompactRev 101 -> 229 (one bit), below the head: churn's records (one each) allow
    // both; the older root pages record 101, so the scheduled one was not damaged.
    let mut d = common::bytes("churn-0.005.snap.db");
    let (_, _, v) = inline_entry(&d, b"meta", b"finishedCompactRev");
    assert_eq!(u64::from_be_bytes(d[v..v + 8].try_into().unwrap()), common::served_compaction("churn-0.005"));
    d[v + 7] ^= 0x80;
    common::reseal(&mut d);
    let (r, check, text) = salvaged(&d);
    assert_eq!(r["compact_revision"], common::served_compaction("churn-0.005"), "{r}");
    assert_eq!(check, Some(0), "{text}");
}

#[test]
fn the_copy_is_checked_as_the_snapshot_it_is() {
    // `term` cut to 7 bytes (its element's value size: it is the bucket's last value, so the page
    // stays packed), the trailer left as it was: `etcdutl snapshot restore` rewrites it, so
    // `check` passes a snapshot holding it. The copy was checked before its trailer was appended,
    // as a member file, and said to fail `check`.
    let mut d = common::bytes("churn-0.005.snap.db");
    let (_, e, _) = inline_entry(&d, b"meta", b"term");
    assert_eq!(u32::from_le_bytes(d[e + 12..e + 16].try_into().unwrap()), 8);
    d[e + 12..e + 16].copy_from_slice(&7u32.to_le_bytes());
    let (r, check, text) = salvaged(&d);
    assert_eq!(check, Some(0), "{text}");
    assert_eq!(r["check_errors"], 0, "{r}");
    assert_eq!(r["method"], "salvage", "{r}");
}

#[test]
fn a_loss_that_spans_the_compaction_loses_every_revision_above_it() {
    // Every leaf of k8s-0.005's `key` bucket from the compaction's on zeroed: the last record
    // read is below the compaction, and every revision above it existed. They were reported lost
    // only from the last leaf's first ("102 and later"), and the restored cluster's start was
    // given as the last record's revision, where etcd starts at the compaction.
    let mut d = common::bytes("k8s-0.005.snap.db");
    let c = common::served_compaction("k8s-0.005");
    let leaves = damage::key_leaves(&d);
    assert!(leaves.iter().any(|&(first, _)| first == c), "a leaf starts at the compaction");
    for &(_, page) in leaves.iter().filter(|&&(first, _)| first >= c) {
        damage::zero_leaf(&mut d, page);
    }
    let (r, check, text) = salvaged(&d);
    assert_eq!(check, Some(0), "{text}");
    assert_eq!(r["compact_revision"], c, "{r}");
    assert_eq!(r["revisions_lost_from"], c + 1, "{r}");
    let note = format!("starts at revision {c} and gives revisions from {} on", c + 1);
    assert!(notes(&r).contains(&note), "{r}");
}

#[test]
fn live_keys_whose_newest_record_may_lie_in_a_lost_range_below_the_compaction_are_at_risk() {
    // compacting-1 (compaction scheduled at 16) with the leaves of revisions 10 and 11 zeroed:
    // compaction keeps each key's newest record at or below it, so keys updated there come back
    // with an older value. The report said none was at risk.
    use base64::Engine;
    let mut d = std::fs::read(common::dir().join("compacting/compacting-1.snap.db")).unwrap();
    for (_, page) in damage::key_leaves(&d).into_iter().filter(|&(first, _)| first == 10 || first == 11) {
        damage::zero_leaf(&mut d, page);
    }
    let (r, check, text) = salvaged(&d);
    assert_eq!(check, Some(0), "{text}");
    // What real etcd served for the undamaged file, against what the copy holds.
    let text = std::fs::read_to_string(common::dir().join("key-answers/compacting-1.get.jsonl")).unwrap();
    let all = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["args"] == serde_json::json!(["get", "", "--prefix", "--keys-only", "-w", "json"]))
        .unwrap();
    let served: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD.decode(all["stdout_b64"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("c.db");
    std::fs::write(&copy, &d).unwrap();
    let out = common::boltscope().args(["salvage", "-o"]).arg(tmp.path().join("s.db")).arg(&copy).output().unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2));
    let mut stale = 0;
    for kv in served["kvs"].as_array().unwrap() {
        let key =
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(kv["key"].as_str().unwrap()).unwrap())
                .unwrap();
        let got = common::boltscope()
            .args(["--no-index", "get", "-w", "json"])
            .arg(tmp.path().join("s.db"))
            .arg(&key)
            .output()
            .unwrap();
        let got: Value = serde_json::from_slice(&got.stdout).unwrap();
        // A key the copy holds with an older record than the one etcd served.
        if got["count"] == 1 && got["kvs"][0]["mod_revision"] != kv["mod_revision"] {
            stale += 1;
        }
    }
    assert!(stale > 0, "the damage loses some newest records");
    assert!(r["live_keys_at_risk"].as_u64().unwrap() >= stale, "{stale} keys stale: {r}");
}
