//! `boltscope check`: damage of each etcd and meta class built here from offsets this test
//! computes from the raw layout, gates, `--meta`, exit codes and JSON.

mod common;
use common::checks::{check, first_key_leaf, json, kinds, root_entry, write, PS};
use common::{u16_at, u32_at, u64_at};
use serde_json::Value;

#[test]
fn clean_fixtures_pass_with_gates() {
    let tmp = tempfile::tempdir().unwrap();
    for name in common::databases() {
        let p = common::path(&name, &tmp);
        let (code, v) = json(&[], &p);
        assert_eq!(code, Some(0), "{name}: {v}");
        assert_eq!(v["ok"], true);
        assert_eq!(v["hash"], Value::Null, "the hash is computed only for --expect-hash");
        if let Some(st) = common::answer_json(&name, "status.json") {
            // --expect-hash takes etcdutl's HASH as it prints it.
            let hex = common::answer(&name, "status.simple").unwrap();
            let hex = hex.split(',').next().unwrap();
            let rev = st["revision"].to_string();
            let size = st["totalSize"].to_string();
            let mut args = vec!["--expect-hash", hex, "--max-size", &size];
            if !name.starts_with("bolt-") {
                args.extend(["--min-revision", &rev]);
            }
            let (code, v) = json(&args, &p);
            assert_eq!(code, Some(0), "{name}: {v}");
            assert_eq!(v["hash"], hex, "{name}");
            // The gates' figures as numbers too: etcdutl's HASH as its JSON writes it (decimal),
            // its DB SIZE, and a current revision no lower than its REVISION.
            let g = |flag: &str| v["gates"].as_array().unwrap().iter().find(|g| g["gate"] == flag).cloned().unwrap();
            let hash = g("--expect-hash");
            assert_eq!((&hash["limit_value"], &hash["actual_value"]), (&st["hash"], &st["hash"]), "{name}");
            let size = g("--max-size");
            assert_eq!((&size["limit_value"], &size["actual_value"]), (&st["totalSize"], &st["totalSize"]), "{name}");
            if !name.starts_with("bolt-") {
                let r = g("--min-revision");
                assert_eq!(r["limit_value"], st["revision"], "{name}");
                assert!(r["actual_value"].as_u64().unwrap() >= st["revision"].as_u64().unwrap(), "{name}: {r}");
            }
        }
    }
}

#[test]
fn gates_fail_with_exit_1_and_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("k8s-0.005.member.db", &tmp);
    let (code, v) = json(
        &["--max-fragmentation", "0.5", "--max-size", "100kB", "--min-revision", "1000", "--expect-hash", "deadbeef"],
        &p,
    );
    assert_eq!(code, Some(1));
    let failed: Vec<&str> = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["ok"] == false)
        .map(|g| g["gate"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["--max-fragmentation", "--max-size", "--min-revision", "--expect-hash"]);
    let (code, v) = json(&["--quota", "1MiB", "--max-quota-usage", "0.5"], &p);
    assert_eq!((code, &v["gates"][0]["ok"]), (Some(0), &Value::Bool(true)), "389 kB of 1 MiB is 37%");
    // The usage as a number: etcdutl's DB SIZE over the quota.
    let st = common::answer_json("k8s-0.005.member.db", "status.json").unwrap();
    let usage = st["totalSize"].as_f64().unwrap() / 1048576.0;
    assert_eq!(
        (v["gates"][0]["limit_value"].as_f64(), v["gates"][0]["actual_value"].as_f64()),
        (Some(0.5), Some(usage))
    );
    // --require-trailer: a raw backend file has none; a snapshot has a matching one.
    let (code, v) = json(&["--require-trailer"], &p);
    assert_eq!(code, Some(1));
    assert!(kinds(&v).contains(&"trailer_missing".to_string()));
    let (code, _) = json(&["--require-trailer"], &common::path("k8s-0.005.snap.db", &tmp));
    assert_eq!(code, Some(0));
}

#[test]
fn the_alarm_gate_is_withheld_for_a_tree_not_read_whole() {
    // The key bucket's first leaf names another page id: the tree cannot be read whole, so "no
    // alarm raised" is not known (it said "ok (actual none)", as the other gates do not).
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let leaf = first_key_leaf(&d);
    d[leaf] ^= 0x40;
    let p = write(&tmp, "damaged.db", &d);
    let (code, v) = json(&["--fail-on-alarm"], &p);
    assert_eq!(code, Some(1));
    let gate = &v["gates"][0];
    assert_eq!((gate["gate"].as_str(), gate["ok"].as_bool()), (Some("--fail-on-alarm"), Some(false)), "{v}");
    assert!(gate["actual"].as_str().unwrap().starts_with("withheld"), "{gate}");
    // A figure withheld is no number either.
    let (_, v) = json(&["--min-revision", "1"], &p);
    let gate = &v["gates"][0];
    assert_eq!(
        (&gate["limit_value"], &gate["actual_value"], &gate["ok"]),
        (&Value::from(1), &Value::Null, &Value::Bool(false))
    );
    // Read whole, with an alarm raised: failed, whatever else.
    let (code, v) = json(&["--fail-on-alarm"], &common::path("fill-1.member.db", &tmp));
    assert_eq!((code, v["gates"][0]["actual"].as_str()), (Some(1), Some("NOSPACE")), "{v}");
}

#[test]
fn trailer_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("tiny-1.snap.db");
    let n = d.len();
    d[n - 1] ^= 1;
    let (code, v) = json(&[], &write(&tmp, "t.db", &d));
    assert_eq!(code, Some(1));
    assert_eq!(kinds(&v), ["trailer_mismatch"]);
}

#[test]
fn etcd_record_invariants() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::bytes("k8s-0.005.member.db");
    let leaf = first_key_leaf(&base);
    let e = leaf + 16; // element 0
    let (pos, ks) = (u32_at(&base, e + 4), u32_at(&base, e + 8));
    let (key, val) = (e + pos, e + pos + ks);
    // mod_revision != the key's main revision: value = 0a LEN key 10 CREATE 18 MOD ...
    let mut d = base.clone();
    let klen = d[val + 1] as usize;
    let mut at = val + 2 + klen;
    assert_eq!(d[at], 0x10);
    at += 1;
    while d[at] & 0x80 != 0 {
        at += 1;
    }
    at += 1;
    assert_eq!(d[at], 0x18, "mod_revision field");
    d[at + 1] ^= 0x01; // change the low bit of the varint's first byte
    let (code, v) = json(&[], &write(&tmp, "mod.db", &d));
    assert_eq!(code, Some(1));
    let p = &v["problems"][0];
    assert_eq!(p["kind"], "inconsistent_key_value", "{v}");
    assert_eq!(p["page"].as_u64(), Some((leaf / PS) as u64));
    assert_eq!(p["offset"].as_u64(), Some(key as u64));
    assert_eq!(p["bucket"], serde_json::json!(["key"]));
    // A value that is not protobuf: field 1 with a length past the end.
    let mut d = base.clone();
    d[val + 1] = 0x7f;
    let (_, v) = json(&[], &write(&tmp, "kv.db", &d));
    assert!(kinds(&v).contains(&"invalid_key_value".to_string()), "{v}");
    // A key that is not a revision: the '_' separator replaced.
    let mut d = base.clone();
    d[key + 8] = b'-';
    let (_, v) = json(&[], &write(&tmp, "rev.db", &d));
    assert!(kinds(&v).contains(&"invalid_revision_key".to_string()), "{v}");
}

#[test]
fn tombstone_with_data() {
    // k8s deletes 10% of its objects: find a tombstone (18-byte key ending 't') in the key
    // bucket's leaves and give its KeyValue a version field.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (_, v) = root_entry(&d, b"key");
    let kroot = u64_at(&d, v) as usize * PS;
    let mut found = None;
    'outer: for c in 0..u16_at(&d, kroot + 10) {
        let leaf = u64_at(&d, kroot + 16 + 16 * c + 8) as usize * PS;
        for i in 0..u16_at(&d, leaf + 10) {
            let e = leaf + 16 + 16 * i;
            let (pos, ks, vs) = (u32_at(&d, e + 4), u32_at(&d, e + 8), u32_at(&d, e + 12));
            if ks == 18 && d[e + pos + 17] == b't' {
                found = Some((e + pos + ks, vs));
                break 'outer;
            }
        }
    }
    let (val, vs) = found.expect("a tombstone");
    // The tombstone's value is 0a LEN key; overwrite its last two key bytes with a version field.
    assert_eq!(d[val], 0x0a);
    d[val + 1] -= 2;
    d[val + vs - 2] = 0x20;
    d[val + vs - 1] = 0x01;
    let (code, v) = json(&[], &write(&tmp, "tomb.db", &d));
    assert_eq!(code, Some(1));
    assert!(kinds(&v).contains(&"tombstone_with_data".to_string()), "{v}");
}

#[test]
fn a_missing_lease_is_a_warning() {
    // k8s attaches events to one lease; change that lease's id in the (inline) lease bucket.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (_, v) = root_entry(&d, b"lease");
    assert_eq!(u64_at(&d, v), 0, "inline bucket");
    let page = v + 16;
    assert_eq!(u16_at(&d, page + 10), 1, "one lease");
    let e = page + 16;
    let key = e + u32_at(&d, e + 4);
    d[key + 7] ^= 0x01;
    let (code, v) = json(&[], &write(&tmp, "lease.db", &d));
    assert_eq!(code, Some(0), "a warning does not fail the check: {v}");
    // The fixture's free pages also hold old values of Secrets (tests/residue.rs).
    assert_eq!(kinds(&v), ["residual_secrets", "lease_missing"]);
    assert_eq!((v["errors"].as_u64(), v["warnings"].as_u64()), (Some(0), Some(2)));
}

#[test]
fn meta_pointing_past_its_high_water_mark_and_reading_the_other_meta() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let inactive = if u64_at(&d, PS + 64) > u64_at(&d, 64) { 0 } else { 1 };
    let m = inactive * PS;
    let hwm = u64_at(&d, m + 56);
    d[m + 32..m + 40].copy_from_slice(&(hwm + 3).to_le_bytes());
    // Recompute the FNV-1a checksum so the page stays valid.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &d[m + 16..m + 72] {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    d[m + 72..m + 80].copy_from_slice(&h.to_le_bytes());
    let p = write(&tmp, "meta.db", &d);
    let (code, v) = json(&[], &p);
    assert_eq!(code, Some(1));
    let pr = &v["problems"][0];
    assert_eq!((pr["kind"].as_str(), pr["page"].as_u64()), (Some("meta_out_of_range"), Some(inactive as u64)));
    // Reading that meta's tree: the root is out of bounds.
    let (code, v) = json(&["--meta", &inactive.to_string()], &p);
    assert_eq!(code, Some(1));
    assert!(kinds(&v).contains(&"page_out_of_bounds".to_string()), "{v}");
    assert_eq!(v["meta_used"].as_u64(), Some(inactive as u64));
}

#[test]
fn every_problem_is_listed_not_just_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let leaf = first_key_leaf(&d);
    d[leaf + 8] = 0x20; // invalid page type
    let (_, v) = root_entry(&d, b"key");
    let kroot = u64_at(&d, v) as usize * PS;
    let last = u16_at(&d, kroot + 10) - 1;
    let child = kroot + 16 + 16 * last + 8;
    let hwm = u64_at(&d, if u64_at(&d, PS + 64) > u64_at(&d, 64) { PS + 56 } else { 56 });
    d[child..child + 8].copy_from_slice(&(hwm + 9).to_le_bytes());
    let (code, v) = json(&[], &write(&tmp, "two.db", &d));
    assert_eq!(code, Some(1));
    let k = kinds(&v);
    assert!(k.contains(&"invalid_page_type".to_string()) && k.contains(&"page_out_of_bounds".to_string()), "{k:?}");
    // Counted under the name every command's JSON gives the count (check had only errors/warnings).
    let total = v["errors"].as_u64().unwrap() + v["warnings"].as_u64().unwrap();
    assert_eq!((v["problem_total"].as_u64(), total), (Some(k.len() as u64), k.len() as u64), "{v}");
}

#[test]
fn unreadable_inputs_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let p = write(&tmp, "empty", &[]);
    let out = check(&[], &p);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    let out = check(&["--meta", "2"], &p);
    assert_eq!(out.status.code(), Some(2), "usage error");
}
