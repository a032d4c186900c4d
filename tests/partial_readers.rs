//! `du --prefix` and `diff --prefix` hold only the keys under the prefix to etcd's history rules
//! (review 48a F1): a file `check` failed for a key outside it came out of them as ok, exit 0,
//! and `du` recorded an `ok` row, after which `trend` counted the file, once gone, as a sound
//! point. Like the readers that judge less than `check` (`status`, `--skip-hash-check`), they now
//! tell the failure the index remembers, and `du`'s row says what it did not check.

mod common;

use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn run(index: &Path, args: &[&str], files: &[&Path]) -> Output {
    common::boltscope().arg("--index").arg(index).args(args).args(files).output().unwrap()
}

#[test]
fn a_failure_outside_the_prefix_is_told_and_never_recorded_as_ok() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.snap.db");
    let (key, _) = common::damage::version_rewritten(&mut d, 96);
    common::reseal(&mut d);
    let prefix = "/registry/configmaps/";
    assert!(!key.starts_with(prefix.as_bytes()), "the damage lies outside {prefix}");
    let f = tmp.path().join("etcd-snapshot-n1-1796000000");
    std::fs::write(&f, &d).unwrap();
    let ix = tmp.path().join("index.redb");

    assert_eq!(run(&ix, &["check"], &[&f]).status.code(), Some(1), "check fails the file");
    let du = run(&ix, &["du", "-w", "json", "--prefix", prefix], &[&f]);
    let v: Value = serde_json::from_slice(&du.stdout).unwrap();
    assert_eq!((du.status.code(), &v["ok"]), (Some(1), &Value::Bool(false)), "{v}");
    assert_eq!(v["remembered_failure"]["command"], "check", "{v}");
    let diff = run(&ix, &["diff", "-w", "json", "--prefix", prefix], &[&f, &f]);
    let v: Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(diff.status.code(), Some(1), "{v}");
    assert_eq!(
        (&v["a"]["ok"], &v["a"]["remembered_failure"]["command"]),
        (&Value::Bool(false), &Value::from("check")),
        "{v}"
    );

    // du's own row says what it did not judge; the failure stands for trend once the file is gone.
    let hist = run(&ix, &["history", "-w", "json"], &[&f]);
    let rows: Vec<Value> = hist
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let du_row = rows.iter().find(|r| r["command"] == "du").unwrap();
    assert_eq!(du_row["verdict"], "not verified (key histories not checked)", "{rows:?}");
    std::fs::remove_file(&f).unwrap();
    let trend = run(&ix, &["trend", "-w", "json"], &[]);
    let v: Value = serde_json::from_slice(&trend.stdout).unwrap();
    assert_eq!(v["series"].as_array().map(Vec::len), Some(0), "no point from a failed file: {v}");
    assert_eq!(v["skipped"][0]["error"]["kind"], "gone", "{v}");
}
