//! `boltscope trend` against `fixtures/trend/trend-answers.json`, which `fixtures/trend-oracle.py`
//! computed (exact fractions) from real etcdutl, bbolt and etcdctl answers about k3s-named
//! snapshots of one growing etcd 3.5.1 (fixtures/README.md).

mod common;
use common::trend::{series, trend};

use serde_json::Value;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    common::dir().join("trend")
}

fn answers() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("trend-answers.json")).unwrap()).unwrap()
}

fn trend_json(args: &[&str], paths: &[&Path]) -> Value {
    let (code, out, err) = trend(&[&["-w", "json"], args].concat(), paths);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn close(got: &Value, want: &Value, what: &str) {
    match (got.as_f64(), want["value"].as_f64()) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= w.abs() * 1e-12, "{what}: {g} vs {w} ({})", want["exact"]),
        (None, None) => assert!(got.is_null() && want.is_null(), "{what}: {got} vs {want}"),
        _ => panic!("{what}: {got} vs {want}"),
    }
}

#[test]
fn slopes_points_and_days_to_quota_equal_the_oracle() {
    let a = answers();
    let quotas = a["quotas"].as_array().unwrap();
    for q in quotas {
        let q = q.as_u64().unwrap().to_string();
        let v = trend_json(&["--no-index", "--quota", &q, "--now", "1765152000"], &[&dir()]);
        let want_series = a["series"].as_object().unwrap();
        assert_eq!(v["series"].as_array().unwrap().len(), want_series.len(), "{v}");
        assert_eq!(v["skipped"], serde_json::json!([]), "answers/ and the JSON are not backups and are not read");
        for (name, w) in want_series {
            let s = series(&v, name);
            let names: Vec<&str> = w["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
            let points = s["points"].as_array().unwrap();
            let got: Vec<&str> = points
                .iter()
                .map(|p| Path::new(p["path"].as_str().unwrap()).file_name().unwrap().to_str().unwrap())
                .collect();
            assert_eq!(got, names, "{name}: the points, by time");
            assert_eq!(s["backups"].as_u64(), Some(names.len() as u64));
            for p in points {
                let file = Path::new(p["path"].as_str().unwrap()).file_name().unwrap().to_str().unwrap();
                let o = a["points"].as_array().unwrap().iter().find(|o| o["name"] == file).unwrap();
                assert_eq!(p["time"], o["unix"], "{file}: the time in its name");
                assert_eq!(p["time_from"], "name");
                assert_eq!(p["size"], o["total_size"], "{file}: etcdutl's totalSize");
                assert_eq!(p["in_use"], o["in_use_file"], "{file}: bbolt's size less its free pages");
                assert_eq!(p["revision"], o["revision"], "{file}: etcdutl's revision");
            }
            close(&s["size_bytes_per_day"], &w["total_size"]["theil_sen_bytes_per_day"], &format!("{name} size slope"));
            close(
                &s["in_use_bytes_per_day"],
                &w["in_use_file"]["theil_sen_bytes_per_day"],
                &format!("{name} in-use slope"),
            );
            close(&s["days_to_quota"], &w["total_size"]["days_to_quota"][&q]["days"], &format!("{name} days to {q}"));
            match w["total_size"]["days_to_quota"][&q]["eta_unix"]["value"].as_f64() {
                Some(eta) => assert!((s["quota_at"].as_f64().unwrap() - eta).abs() <= 0.5, "{name}: quota_at"),
                None => assert!(s["quota_at"].is_null()),
            }
            assert_eq!(s["last"]["path"], s["points"][names.len() - 1]["path"]);
        }
    }
}

#[test]
fn prometheus_gauges_and_staleness() {
    let a = answers();
    let (code, text, _) =
        trend(&["--no-index", "-w", "prometheus", "--quota", "8388608", "--now", "1765069200"], &[&dir()]);
    assert_eq!(code, 0);
    let sched = format!("{}/etcd-snapshot-server-0-*", std::path::absolute(dir()).unwrap().display());
    let gauge = |name: &str, series: &str| -> Option<f64> {
        let prefix = format!("{name}{{series=\"{series}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap())
    };
    let w = &a["series"]["etcd-snapshot-server-0-*"]["total_size"];
    let growth = gauge("boltscope_backup_growth_bytes_per_day", &sched).unwrap();
    assert!((growth - w["theil_sen_bytes_per_day"]["value"].as_f64().unwrap()).abs() < 1e-6);
    let days = gauge("boltscope_backup_days_to_quota", &sched).unwrap();
    assert!((days - w["days_to_quota"]["8388608"]["days"]["value"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(gauge("boltscope_backup_last_timestamp_seconds", &sched), Some(1_765_065_600.0));
    assert_eq!(gauge("boltscope_backup_age_seconds", &sched), Some(3600.0));
    for name in ["growth_bytes_per_day", "days_to_quota", "last_timestamp_seconds", "age_seconds"] {
        assert!(text.contains(&format!("# TYPE boltscope_backup_{name} gauge")), "{name}");
    }
    // The on-demand series has one backup: no growth, no days.
    let od = sched.replace("etcd-snapshot-server-0-*", "on-demand-server-0-*");
    assert_eq!(gauge("boltscope_backup_days_to_quota", &od), None);
    assert_eq!(gauge("boltscope_backup_count", &od), Some(1.0));
    // Stale after 26 h by default: the on-demand backup (day 3.5) is, the scheduled one is not.
    let v = trend_json(&["--no-index", "--now", "1765069200"], &[&dir()]);
    assert_eq!(series(&v, "etcd-snapshot-server-0-*")["stale"], false);
    assert_eq!(series(&v, "on-demand-server-0-*")["stale"], true);
    assert_eq!(series(&v, "on-demand-server-0-*")["age_seconds"], 1_765_069_200 - 1_764_849_600);
}

#[test]
fn table_has_an_ascii_sparkline_when_not_a_terminal() {
    let (code, text, _) = trend(&["--no-index", "--now", "1765069200"], &[&dir()]);
    assert_eq!(code, 0);
    let line = text.lines().find(|l| l.contains("7 backup(s)")).unwrap();
    let spark = line.rsplit(' ').next().unwrap();
    assert_eq!(spark.chars().count(), 7, "{line}");
    assert!(spark.starts_with('_') && spark.ends_with('#') && spark.is_ascii(), "{line}");
    assert!(text.contains("grew most configmaps"), "{text}");
    assert!(text.contains("STALE"), "{text}");
}

#[test]
fn plot_writes_an_svg_with_a_panel_per_series() {
    let tmp = tempfile::tempdir().unwrap();
    let svg = tmp.path().join("growth.svg");
    let (code, _, err) = trend(&["--no-index", "--quota", "400kB", "--plot", svg.to_str().unwrap()], &[&dir()]);
    assert_eq!(code, 0, "{err}");
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"), "{}", &s[..100]);
    assert!(s.contains("etcd-snapshot-server-0-*") && s.contains("on-demand-server-0-*"));
    assert!(s.contains("quota 400 kB"), "the quota is within reach and drawn");
}

#[test]
fn plot_never_replaces_a_backup_read_a_fifo_or_an_existing_file_without_force() {
    // It wrote with fs::write: `--plot backup.db` turned the backup into SVG, a FIFO hung it.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("backups");
    std::fs::create_dir(&d).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir()).unwrap().flatten().map(|e| e.path()).collect();
    let snap = names.iter().find(|p| p.to_string_lossy().contains("etcd-snapshot-server-0-")).unwrap();
    let backup = d.join(snap.file_name().unwrap());
    std::fs::copy(snap, &backup).unwrap();
    let before = std::fs::read(&backup).unwrap();
    let plot = |to: &Path, force: bool| {
        let mut args = vec!["--no-index", "--plot", to.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        trend(&args, &[&d])
    };
    let (code, out, err) = plot(&backup, true);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("source file itself"), "{err}");
    assert!(out.contains("etcd-snapshot-server-0-*"), "the table still comes: {out}");
    assert_eq!(std::fs::read(&backup).unwrap(), before, "the backup is untouched");
    let fifo = tmp.path().join("fifo.svg");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (code, _, err) = plot(&fifo, true);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a FIFO"), "{err}");
    let svg = tmp.path().join("growth.svg");
    std::fs::write(&svg, b"mine").unwrap();
    let (code, _, err) = plot(&svg, false);
    assert_eq!((code, std::fs::read(&svg).unwrap()), (2, b"mine".to_vec()), "{err}");
    assert!(err.contains("use --force"), "{err}");
    let (code, _, err) = plot(&svg, true);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
    // A backup whose name is not UTF-8: the inputs were matched by their shown names (`\xfe`),
    // and a name that is no file failed the replacement ("No such file or directory").
    use std::os::unix::ffi::OsStrExt;
    let odd = d.join(std::ffi::OsStr::from_bytes(b"etcd-snapshot-server-0-1764633600-\xfe"));
    std::fs::copy(snap, &odd).unwrap();
    let (code, _, err) = plot(&svg, true);
    assert_eq!(code, 0, "{err}");
    // A new chart gets the mode the user's umask gives (it was 0644 whatever the umask).
    use std::os::unix::fs::PermissionsExt;
    let private = tmp.path().join("private.svg");
    let bin = common::boltscope().get_program().to_owned();
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" --no-index trend --plot \"$1\" \"$2\" > /dev/null")
        .arg(&bin)
        .arg(&private)
        .arg(&d)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(std::fs::metadata(&private).unwrap().permissions().mode() & 0o777, 0o600);
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".boltscope"))
        .collect();
    assert!(left.is_empty(), "no temporary file left: {left:?}");
}

/// Dated names, a k3s zip, a name without a time (its mtime), a damaged copy, and the index:
/// files analysed once are found again without naming them, and a file that is gone still counts.
#[test]
fn names_dates_mtimes_zips_damage_and_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("backups");
    std::fs::create_dir(&d).unwrap();
    let a = answers();
    let sched: Vec<&Value> = a["points"].as_array().unwrap().iter().filter(|p| p["kind"] == "scheduled").collect();
    for p in &sched {
        let unix = p["unix"].as_i64().unwrap();
        let day = (unix - 1_764_547_200) / 86_400 + 1;
        std::fs::copy(dir().join(p["name"].as_str().unwrap()), d.join(format!("etcd-2025-12-{day:02}T0000.db")))
            .unwrap();
    }
    std::fs::copy(
        common::dir().join("archives/on-demand-node-1-1700000000.zip"),
        d.join("on-demand-node-1-1700000000.zip"),
    )
    .unwrap();
    let plain = d.join("member.db");
    std::fs::copy(common::dir().join("tiny-1.snap.db"), &plain).unwrap();
    let f = std::fs::File::options().write(true).open(&plain).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_750_000_000)).unwrap();
    drop(f);
    let mut bad = std::fs::read(dir().join("etcd-snapshot-server-0-1764547200")).unwrap();
    // The key bucket's root page names another id in its header.
    let view = boltscope::DbView::new(&bad).unwrap();
    let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
    let boltscope::bbolt::cursor::BucketRoot::Page(root) = kb else { panic!("inline key bucket") };
    let at = view.page(root).unwrap().offset as usize;
    bad[at] ^= 0x40;
    std::fs::write(d.join("etcd-2025-11-30T0000.db"), &bad).unwrap();

    let index = tmp.path().join("index.redb");
    let ix = index.to_str().unwrap();
    let (code, out, err) = trend(&["--index", ix, "-w", "json", "--quota", "8MiB"], &[&d]);
    assert_eq!(code, 1, "the damaged copy is a problem: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = series(&v, "etcd-*.db");
    assert_eq!(s["backups"], 7, "the damaged copy gives no point");
    let w = &a["series"]["etcd-snapshot-server-0-*"]["total_size"];
    close(&s["size_bytes_per_day"], &w["theil_sen_bytes_per_day"], "dated names");
    close(&s["days_to_quota"], &w["days_to_quota"]["8388608"]["days"], "dated names");
    let zip = series(&v, "on-demand-node-1-*");
    assert_eq!(
        (zip["points"][0]["time"].as_i64(), zip["points"][0]["size"].as_u64()),
        (Some(1_700_000_000), Some(20480))
    );
    let m = series(&v, "member.db");
    assert_eq!(
        (m["points"][0]["time"].as_i64(), m["points"][0]["time_from"].as_str()),
        (Some(1_750_000_000), Some("mtime"))
    );
    let skipped = v["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["error"]["kind"], "damaged");

    // From the index alone: the same series; then with one file gone, its recorded size stays.
    let again: Value = serde_json::from_str(&trend(&["--index", ix, "-w", "json", "--quota", "8MiB"], &[]).1).unwrap();
    assert_eq!(series(&again, "etcd-*.db")["size_bytes_per_day"], s["size_bytes_per_day"]);
    let gone = d.join("etcd-2025-12-07T0000.db");
    std::fs::remove_file(&gone).unwrap();
    let after: Value = serde_json::from_str(&trend(&["--index", ix, "-w", "json"], &[]).1).unwrap();
    let s = series(&after, "etcd-*.db");
    assert_eq!(s["backups"], 7);
    let last = &s["points"][6];
    assert_eq!(last["path"], std::path::absolute(&gone).unwrap().display().to_string());
    assert_eq!(last["size"], 204800);
    assert_eq!(last["live_bytes"], Value::Null, "only what the index recorded");
}

#[test]
fn nothing_to_read() {
    let (code, _, err) = trend(&["--no-index"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("name backups or folders"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    let (code, out, _) = trend(&["--no-index"], &[tmp.path()]);
    assert_eq!((code, out.as_str()), (0, "no backups found\n"));
}

#[test]
fn a_backup_whose_trailer_was_cut_is_no_point_of_the_series() {
    // The last backup of the series cut by ten bytes: `check` fails it, so it is skipped as
    // damaged (exit 1) and the series ends at the one before.
    let tmp = tempfile::tempdir().unwrap();
    let names = ["etcd-snapshot-server-0-1764979200", "etcd-snapshot-server-0-1765065600"];
    for n in names {
        std::fs::copy(dir().join(n), tmp.path().join(n)).unwrap();
    }
    let last = tmp.path().join(names[1]);
    let d = std::fs::read(&last).unwrap();
    std::fs::write(&last, &d[..d.len() - 10]).unwrap();
    let (code, out, err) = trend(&["-w", "json"], &[tmp.path()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("trailing_bytes"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["skipped"][0]["error"]["kind"], "damaged", "{v}");
    let s = &v["series"][0];
    assert!(s["last"]["path"].as_str().unwrap().ends_with(names[0]), "{s}");
    // A compressed backup cut short, found in the folder: unreadable, whatever its name (exit 2).
    let zip = std::fs::read(common::dir().join("archives/stored.zip")).unwrap();
    std::fs::write(tmp.path().join("etcd-snapshot-server-0-1765152000.zip"), &zip[..zip.len() / 2]).unwrap();
    let (code, _, err) = trend(&["-w", "json"], &[tmp.path()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn an_empty_or_wiped_backup_in_the_folder_counts_but_k3s_metadata_and_other_files_do_not() {
    // k3s leaves a 0-byte snapshot when the save fails part-way; a disk error can wipe the meta
    // pages. Both are backups that cannot be restored: listed and exit 2, not passed over. The
    // JSON k3s writes beside its snapshots (`../.metadata/<name>`) and a notes file are no backups.
    let tmp = tempfile::tempdir().unwrap();
    let good = "etcd-snapshot-server-0-1764979200";
    std::fs::copy(dir().join(good), tmp.path().join(good)).unwrap();
    std::fs::create_dir(tmp.path().join(".metadata")).unwrap();
    std::fs::write(tmp.path().join(".metadata").join(good), b"{\"team\":\"a\"}").unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"rotation: 7 days").unwrap();
    let (code, out, err) = trend(&["--no-index", "-w", "json"], &[tmp.path()]);
    assert_eq!(code, 0, "{out}{err}");
    let mut wiped = std::fs::read(dir().join(good)).unwrap();
    wiped[..8192].fill(0);
    for (name, bytes, kind) in
        [("etcd-snapshot-server-0-1765065600", Vec::new(), "too_small"), ("nightly.db", wiped, "not_bbolt")]
    {
        std::fs::write(tmp.path().join(name), bytes).unwrap();
        let (code, out, err) = trend(&["--no-index", "-w", "json"], &[tmp.path()]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        let skipped = v["skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 1, "{name}: {skipped:?}");
        assert!(skipped[0]["path"].as_str().unwrap().ends_with(name), "{skipped:?}");
        assert_eq!(skipped[0]["error"]["kind"], kind, "{name}");
        std::fs::remove_file(tmp.path().join(name)).unwrap();
    }
}

#[test]
fn a_backup_whose_trailer_does_not_match_is_damaged_and_recorded_so() {
    // The newest backup's stored sha256 changed (its bytes otherwise intact): `check` fails it
    // (trailer_mismatch), so trend leaves it out of the series (exit 1), measures the age from the
    // backup before, and records no "ok" for it.
    let tmp = tempfile::tempdir().unwrap();
    let names = ["etcd-snapshot-server-0-1764547200", "etcd-snapshot-server-0-1765065600"];
    for n in names {
        std::fs::copy(dir().join(n), tmp.path().join(n)).unwrap();
    }
    let last = tmp.path().join(names[1]);
    let mut d = std::fs::read(&last).unwrap();
    let at = d.len() - 5;
    d[at..at + 2].copy_from_slice(b"XX");
    std::fs::write(&last, &d).unwrap();
    let index = tmp.path().join("index.redb");
    let ix = index.to_str().unwrap();
    let check = common::boltscope().args(["--index", ix, "check"]).arg(&last).output().unwrap();
    assert_eq!(check.status.code(), Some(1));
    for round in ["measured", "again"] {
        let (code, out, err) = trend(&["--index", ix, "-w", "json", "--now", "1765100000"], &[tmp.path()]);
        assert_eq!(code, 1, "{round}: {err}");
        assert!(err.contains("trailer_mismatch"), "{round}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["skipped"][0]["error"]["kind"], "damaged", "{round}: {v}");
        let s = &v["series"][0];
        assert_eq!(s["backups"], 1, "{round}: {s}");
        assert_eq!(s["age_seconds"], 1_765_100_000 - 1_764_547_200, "{round}: from the good backup");
    }
    let hist = common::boltscope().args(["--index", ix, "history", "-w", "json"]).arg(&last).output().unwrap();
    let rows: Vec<Value> =
        String::from_utf8_lossy(&hist.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["command"] == "trend"), "{rows:?}");
    for r in &rows {
        assert!(!r["verdict"].as_str().unwrap().starts_with("ok"), "{} recorded ok: {r}", r["command"]);
    }
}

#[test]
fn a_resource_that_did_not_grow_reads_0_b_as_other_zeros_do() {
    // The same backup twice, a day apart: nothing grew. The table prints that change as it prints
    // a zero rate ("0 B"), never "+0 B"; the JSON stays a number.
    let tmp = tempfile::tempdir().unwrap();
    let src = dir().join("etcd-snapshot-server-0-1765065600");
    for t in [1_764_979_200, 1_765_065_600] {
        std::fs::copy(&src, tmp.path().join(format!("etcd-snapshot-server-0-{t}"))).unwrap();
    }
    let (code, text, err) = trend(&["--no-index", "--now", "1765069200"], &[tmp.path()]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("growth    size 0 B/day,"), "{text}");
    let line = text.lines().find(|l| l.starts_with("  grew most ")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("configmaps 0 B") && !line.contains("+0") && !line.contains("-0"), "{line}");
    let v = trend_json(&["--no-index", "--now", "1765069200"], &[tmp.path()]);
    let resources = v["series"][0]["resources"].as_array().unwrap();
    assert!(!resources.is_empty() && resources.iter().all(|r| r["growth_bytes"] == 0), "{resources:?}");
}
