//! `check` against what etcd 3.5.1 did with records of its small buckets (fixtures/etcd-records,
//! made by fixtures/make-etcd-records.sh: each file restored with `etcdutl snapshot restore` and
//! started, its outcome in answers.tsv). A file etcd served from passes; one whose restore failed,
//! whose start died, or that a routine request (`user list`, `role list`) killed for good fails,
//! naming the record. It said OK for all of them.

mod common;
use serde_json::Value;

#[test]
fn check_fails_exactly_the_files_etcd_3_5_1_cannot_use() {
    let dir = common::dir().join("etcd-records");
    let answers = std::fs::read_to_string(dir.join("answers.tsv")).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for row in answers.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        let (case, edit, outcome) = (f[0], f[1], f[2]);
        let file = dir.join(format!("{case}.snap.db.gz"));
        let out = common::boltscope().args(["--no-index", "check", "-w", "json"]).arg(&file).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{case}: {out:?}"));
        let errors: Vec<&Value> =
            v["problems"].as_array().unwrap().iter().filter(|p| p["severity"] == "error").collect();
        match outcome {
            "SERVES" => assert_eq!(out.status.code(), Some(0), "{case} ({edit}): etcd served it: {errors:?}"),
            "START_DIES" | "RESTORE_FAILS" | "REQUEST_KILLS" => {
                assert_eq!(out.status.code(), Some(1), "{case} ({edit}): etcd could not use it");
                let kinds: Vec<&str> = errors.iter().map(|p| p["kind"].as_str().unwrap()).collect();
                assert!(
                    kinds.iter().all(|k| *k == "etcd_record_unreadable" || *k == "etcd_meta_malformed"),
                    "{case}: only the record is wrong: {kinds:?}"
                );
                // The bucket the edit touched is named.
                let bucket = edit.split(':').nth(1).unwrap();
                assert!(errors.iter().any(|p| p["bucket"][0] == bucket), "{case}: {errors:?}");
            }
            o => panic!("{case}: outcome {o}"),
        }
        *seen.entry(outcome).or_insert(0) += 1;
    }
    assert!(seen.get("SERVES") >= Some(&15) && seen.get("START_DIES") >= Some(&15), "{seen:?}");
    assert!(seen.contains_key("RESTORE_FAILS") && seen.contains_key("REQUEST_KILLS"), "{seen:?}");
}

#[test]
fn compact_refuses_a_file_etcd_cannot_start_from() {
    // It wrote a "verified" copy carrying the record that stops etcd.
    let tmp = tempfile::tempdir().unwrap();
    let src = common::dir().join("etcd-records/lease-f2-wt7.snap.db.gz");
    let out = common::compact(&[], &src, &tmp.path().join("copy.db"));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("etcd_record_unreadable"), "{out:?}");
    assert!(!tmp.path().join("copy.db").exists());
}
