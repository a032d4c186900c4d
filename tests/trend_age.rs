//! `boltscope trend`: which backup a series' age and staleness are measured from, in the table,
//! JSON and Prometheus: the newest backup still on disk (a deleted one counts in the growth by its
//! recorded size, never as the latest) and dated before now (one dated in the future is named in
//! a warning and never hides that no recent backup exists).

mod common;
use common::trend::{series, trend};

use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    common::dir().join("trend")
}

#[test]
fn a_deleted_backup_counts_in_the_growth_but_not_for_the_age() {
    // Three backups analysed, then the newest deleted: from the index alone it is still a point of
    // the growth estimate (its recorded size), marked gone, and the age, the staleness and the
    // Prometheus timestamps come from the newest backup that still exists.
    let tmp = tempfile::tempdir().unwrap();
    let names =
        ["etcd-snapshot-server-0-1764892800", "etcd-snapshot-server-0-1764979200", "etcd-snapshot-server-0-1765065600"];
    for n in names {
        std::fs::copy(dir().join(n), tmp.path().join(n)).unwrap();
    }
    let index = tmp.path().join("index.redb");
    let ix = index.to_str().unwrap();
    let now = "1765069200";
    let before: Value =
        serde_json::from_str(&trend(&["--index", ix, "-w", "json", "--now", now], &[tmp.path()]).1).unwrap();
    std::fs::remove_file(tmp.path().join(names[2])).unwrap();
    let (code, out, err) = trend(&["--index", ix, "-w", "json", "--now", now], &[]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = series(&v, "etcd-snapshot-server-0-*");
    assert_eq!(s["backups"], 3);
    let gone: Vec<bool> = s["points"].as_array().unwrap().iter().map(|p| p["gone"].as_bool().unwrap()).collect();
    assert_eq!(gone, [false, false, true]);
    assert_eq!(s["last"]["gone"], true);
    assert_eq!(
        s["size_bytes_per_day"],
        series(&before, "etcd-snapshot-server-0-*")["size_bytes_per_day"],
        "growth as before"
    );
    assert_eq!(s["age_seconds"], 1_765_069_200 - 1_764_979_200, "from the newest backup still there");
    assert_eq!(s["stale"], false);
    let (_, prom, _) = trend(&["--index", ix, "-w", "prometheus", "--now", now], &[]);
    let line =
        |name: &str| prom.lines().find(|l| l.starts_with(name)).map(|l| l.rsplit(' ').next().unwrap().to_string());
    assert_eq!(line("boltscope_backup_last_timestamp_seconds{").as_deref(), Some("1764979200"), "{prom}");
    assert_eq!(line("boltscope_backup_age_seconds{").as_deref(), Some("90000"), "{prom}");
    let (_, table, _) = trend(&["--index", ix, "--now", now], &[]);
    assert!(table.contains("gone      1 backup(s) no longer on disk"), "{table}");
    assert!(table.contains("age       last backup 25.0 h"), "{table}");
    // Every backup gone: no age, and stale.
    for n in &names[..2] {
        std::fs::remove_file(tmp.path().join(n)).unwrap();
    }
    let v: Value = serde_json::from_str(&trend(&["--index", ix, "-w", "json", "--now", now], &[]).1).unwrap();
    let s = series(&v, "etcd-snapshot-server-0-*");
    assert_eq!((s["age_seconds"].clone(), s["stale"].clone()), (Value::Null, Value::Bool(true)), "{s}");
}

#[test]
fn a_backup_dated_in_the_future_does_not_hide_that_no_recent_one_exists() {
    // The newest backup of a series named with a time years ahead (a clock that ran ahead, or a
    // wrong name): a warning names it, and the age and staleness come from the newest backup
    // dated before now. Exit 0: a warning, not a problem.
    let tmp = tempfile::tempdir().unwrap();
    let now = 1_765_069_200i64;
    std::fs::copy(
        dir().join("etcd-snapshot-server-0-1764547200"),
        tmp.path().join("etcd-snapshot-server-0-1764547200"),
    )
    .unwrap();
    let future = tmp.path().join("etcd-snapshot-server-0-1900000000");
    std::fs::copy(dir().join("etcd-snapshot-server-0-1764633600"), &future).unwrap();
    let now_s = now.to_string();
    let (code, out, err) = trend(&["--no-index", "-w", "json", "--now", &now_s], &[tmp.path()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning") && err.contains("etcd-snapshot-server-0-1900000000") && err.contains("by its name"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = series(&v, "etcd-snapshot-server-0-*");
    assert_eq!(s["age_seconds"], now - 1_764_547_200, "{s}");
    assert_eq!(s["stale"], true, "{s}");
    assert_eq!(s["future_dated"], serde_json::json!([future.display().to_string()]));
    let (_, prom, _) = trend(&["--no-index", "-w", "prometheus", "--now", &now_s], &[tmp.path()]);
    let gauge =
        |name: &str| prom.lines().find(|l| l.starts_with(name)).map(|l| l.rsplit(' ').next().unwrap().to_string());
    assert_eq!(gauge("boltscope_backup_age_seconds{").as_deref(), Some("522000"), "{prom}");
    assert_eq!(gauge("boltscope_backup_last_timestamp_seconds{").as_deref(), Some("1764547200"), "{prom}");
    let (_, table, _) = trend(&["--no-index", "--now", &now_s], &[tmp.path()]);
    assert!(table.contains("future    1 backup(s) dated after now"), "{table}");
    assert!(table.contains("age       STALE: no new backup for 6.0 days"), "{table}");

    // Dated ahead by its modification time, and the only backup of its series: no age, stale.
    let plain = tmp.path().join("member.db");
    std::fs::copy(common::dir().join("tiny-1.snap.db"), &plain).unwrap();
    let f = std::fs::File::options().write(true).open(&plain).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(now as u64 + 86_400)).unwrap();
    drop(f);
    let (code, out, err) = trend(&["--no-index", "-w", "json", "--now", &now_s], &[&plain]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("member.db") && err.contains("by its modification time"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["series"][0]["age_seconds"].clone(), v["series"][0]["stale"].clone()),
        (Value::Null, Value::Bool(true))
    );

    // A minute ahead is clock skew: the backup counts, aged 0 (never negative), no warning.
    let (code, out, err) = trend(&["--no-index", "-w", "json", "--now", &(now + 86_400 - 60).to_string()], &[&plain]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["series"][0]["age_seconds"].clone(), v["series"][0]["stale"].clone()),
        (Value::from(0), Value::Bool(false))
    );
}
