//! `check --require-encryption` and `--require-encryption-key` on the cluster-0.1 fixture, whose
//! Secrets real etcd stores under aescbc (key1), aesgcm (key2) and KMS v2 (vault), a few left in
//! plaintext, and whose ConfigMaps are plaintext protobuf. The expected counts are the live values'
//! encodings per resource from fixtures/cluster-0.1.du.json (du-oracle.py over real etcd's `get`).

mod common;
use serde_json::Value;

fn check(args: &[&str], db: &str) -> (Option<i32>, Value, String) {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path(db, &tmp);
    let out = common::boltscope().args(["--no-index", "check"]).args(args).arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code(), serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

/// (values, unencrypted, encrypted under another key than `key`) of these resources, per the oracle.
fn expected(resources: &[&str], key: &str) -> (u64, u64, u64) {
    let du = common::answer_json("cluster-0.1", "du.json").unwrap();
    let (mut all, mut plain, mut other) = (0, 0, 0);
    for r in resources {
        for (enc, n) in du["by"]["resource"][r]["encodings"].as_object().unwrap() {
            let n = n.as_u64().unwrap();
            all += n;
            match enc.strip_prefix("encrypted:") {
                None => plain += n,
                Some(e) if e.rsplit(':').next() != Some(key) => other += n,
                Some(_) => {}
            }
        }
    }
    (all, plain, other)
}

#[test]
fn unencrypted_values_and_other_keys_fail_the_gates_with_the_keys_named() {
    let db = "cluster-0.1.snap.db";
    let (code, v, _) =
        check(&["-w", "json", "--require-encryption", "secrets,configmaps", "--require-encryption-key", "key1"], db);
    assert_eq!(code, Some(1));
    let (all, plain, other) = expected(&["secrets", "configmaps"], "key1");
    assert!(plain > 0 && other > 0 && all > plain + other, "the fixture has every case");
    let a = &v["encryption"];
    assert_eq!(
        (a["values"].as_u64(), a["unencrypted"].as_u64(), a["other_key"].as_u64()),
        (Some(all), Some(plain), Some(other))
    );
    let gates: Vec<(&str, bool)> = v["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["gate"].as_str().unwrap(), g["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(gates, [("--require-encryption", false), ("--require-encryption-key", false)]);
    let off: Vec<&str> = a["offenders"].as_array().unwrap().iter().map(|o| o["key"].as_str().unwrap()).collect();
    assert_eq!(off.len(), 20);
    assert!(off.windows(2).all(|w| w[0] < w[1]), "in key order");
    assert!(a["offenders"].as_array().unwrap().iter().all(|o| o["encoding"] != "encrypted:aescbc:key1"));
    // Secrets alone: the key gate counts only encrypted values under another key.
    let (_, v, text) = check(&["--require-encryption", "secrets", "--require-encryption-key", "key2"], db);
    let (all, plain, other) = expected(&["secrets"], "key2");
    assert!(text.contains(&format!("{plain} of {all} NOT encrypted")), "{text}");
    assert!(text.contains(&format!("{other} of {} encrypted values under another key", all - plain)), "{text}");
    assert!(text.contains("  offender  /registry/secrets/"), "{text}");
    assert_eq!(v, Value::Null, "a table, not JSON");
}

#[test]
fn gates_pass_when_nothing_offends_and_need_an_etcd_file() {
    let (code, v, _) = check(&["-w", "json", "--require-encryption", "podsecuritypolicies"], "cluster-0.1.snap.db");
    assert_eq!(code, Some(0), "no live value of that resource: nothing unencrypted");
    assert_eq!(v["gates"][0]["actual"], "no live values of podsecuritypolicies");
    let (code, v, _) = check(&["-w", "json", "--require-encryption", "secrets"], "bolt-4k-synced.db");
    assert_eq!(code, Some(1));
    assert_eq!(v["gates"][0]["actual"], "none (not an etcd file)");
    let (code, _, _) = check(&["--require-encryption-key", "key1"], "cluster-0.1.snap.db");
    assert_eq!(code, Some(2), "the key gate needs the resources");
}
