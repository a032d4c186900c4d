//! The `inspect` command: JSON schema and figures against the real tools' answers, Prometheus
//! exposition well-formed, several files, exit codes, and etcd figures against what etcdctl
//! reported while each fixture was made.

mod common;
use serde_json::Value;

fn inspect(args: &[&str], files: &[std::path::PathBuf]) -> std::process::Output {
    common::boltscope().arg("inspect").args(args).args(files).output().unwrap()
}

#[test]
fn json_schema_and_figures_equal_the_real_tools() {
    let tmp = tempfile::tempdir().unwrap();
    for name in common::databases() {
        let p = common::path(&name, &tmp);
        let out = inspect(&["-w", "json", "--depth", "3"], std::slice::from_ref(&p));
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["schema"], 5);
        assert_eq!(v["path"], p.display().to_string());
        assert_eq!((v["ok"].as_bool(), v["complete"].as_bool()), (Some(true), Some(true)), "{name}");
        for key in ["file", "trailer", "pages", "size", "buckets", "etcd", "mvcc", "prediction", "quota", "problems"] {
            assert!(v.get(key).is_some(), "{name}: missing {key}");
        }
        assert!(["within", "over_fixable", "over"].contains(&v["quota"]["code"].as_str().unwrap()), "{name}");
        let info = common::answer_json(&name, "oracle-info.json").unwrap();
        assert_eq!(v["size"]["total"], info["tx_size"], "{name}");
        assert_eq!(v["pages"]["free"], info["free_page_n"], "{name}");
        assert_eq!(v["file"]["page_size"], info["page_size"], "{name}");
        let snap = name.ends_with(".snap.db");
        assert_eq!(v["trailer"]["present"], snap, "{name}");
        assert_eq!(v["trailer"]["sha256_ok"], if snap { Value::Bool(true) } else { Value::Null }, "{name}");
        let etcd = !name.starts_with("bolt-");
        assert_eq!(v["etcd"].is_object(), etcd, "{name}");
        assert_eq!(v["residue"].is_object(), etcd, "{name}");
        if etcd {
            // etcdutl's REVISION is the last revision in the key bucket.
            let st = common::answer_json(&name, "status.json").unwrap();
            assert_eq!(v["etcd"]["last_revision"], st["revision"], "{name}");
        }
    }
}

#[test]
fn etcd_figures_equal_what_etcdctl_reported_while_the_fixture_was_made() {
    // endpoint status of the live server just before `snapshot save`: raft term and members.
    let tmp = tempfile::tempdir().unwrap();
    for shape in ["tiny-1", "k8s-0.005", "auth-1", "fill-1", "churn-0.005"] {
        let ep = common::answer_json(shape, "endpoint-status.json").unwrap();
        let ep = &ep[0]["Status"];
        let out = inspect(&["-w", "json"], &[common::path(&format!("{shape}.snap.db"), &tmp)]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["etcd"]["term"], ep["raftTerm"], "{shape}");
        assert_eq!(v["etcd"]["current_revision"], ep["header"]["revision"], "{shape}");
        // make-corpus.sh runs `etcdctl alarm list` (one raft entry) after `endpoint status` and
        // before `snapshot save`, so the saved consistent index is one past the applied index.
        assert_eq!(v["etcd"]["consistent_index"].as_u64(), ep["raftAppliedIndex"].as_u64().map(|i| i + 1), "{shape}");
        let member = format!("{:x}", ep["header"]["member_id"].as_u64().unwrap());
        assert_eq!(v["etcd"]["members"][0]["id"], member, "{shape}");
    }
    // fill-1 was made by filling etcd past a 1 MiB quota: etcd raised NOSPACE (alarms.txt).
    let alarms = common::answer("fill-1", "alarms.txt").unwrap();
    assert!(alarms.contains("NOSPACE"), "{alarms}");
    let out = inspect(&["-w", "json"], &[common::path("fill-1.snap.db", &tmp)]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["etcd"]["alarms"][0]["alarm"], "NOSPACE");
    let id = u64::from_str_radix(v["etcd"]["alarms"][0]["member_id"].as_str().unwrap(), 16).unwrap();
    assert!(alarms.contains(&format!("memberID:{id} alarm:NOSPACE")), "{alarms}");
    // auth-1 has users root and alice, roles root and reader (etcdload.py), auth not enabled.
    let out = inspect(&["-w", "json"], &[common::path("auth-1.snap.db", &tmp)]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["etcd"]["auth"]["users"].as_u64(), v["etcd"]["auth"]["roles"].as_u64()), (Some(2), Some(2)));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("$2a$"), "never a password hash");
}

#[test]
fn mvcc_figures_by_hand_on_the_tiny_snapshot() {
    // tiny: put key0..key6 (revisions 2..8), then key1 again (revision 9); no deletes, no
    // compaction. 8 revisions, 7 distinct keys, 7 live, 0 tombstones; compaction at 9 deletes
    // the first key1 (revision 3) and keeps 7.
    let tmp = tempfile::tempdir().unwrap();
    let out = inspect(&["-w", "json"], &[common::path("tiny-1.snap.db", &tmp)]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["mvcc"];
    assert_eq!(
        (m["revisions"].as_u64(), m["distinct_keys"].as_u64(), m["live_keys"].as_u64()),
        (Some(8), Some(7), Some(7))
    );
    assert_eq!((m["tombstones"].as_u64(), m["compaction"]["revision"].as_u64()), (Some(0), Some(9)));
    assert_eq!(
        (m["compaction"]["delete_entries"].as_u64(), m["compaction"]["keep_entries"].as_u64()),
        (Some(1), Some(7))
    );
}

#[test]
fn prometheus_exposition_is_well_formed_for_several_files() {
    let tmp = tempfile::tempdir().unwrap();
    let files = [common::path("k8s-0.005.snap.db", &tmp), common::path("bolt-4k-synced.db", &tmp)];
    let out = inspect(&["-w", "prometheus"], &files);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut types = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            assert!(types.insert(rest.split(' ').next().unwrap().to_string()), "one TYPE per family: {line}");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (metric, value) = line.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap_or_else(|_| panic!("value of {line}"));
        assert!(metric.contains("{file=\""), "{line}");
        let name = metric.split('{').next().unwrap();
        assert!(types.contains(name), "sample before its TYPE: {line}");
    }
    let want = common::answer_json("k8s-0.005.snap.db", "oracle-info.json").unwrap()["tx_size"].as_u64().unwrap();
    let line = format!("etcd_mvcc_db_total_size_in_bytes{{file=\"{}\"}} {want}", files[0].display());
    assert!(text.lines().any(|l| l == line), "{line}");
    // A trailer's presence is a series of its own (a snapshot cut by its 32 bytes has none).
    for (f, present) in [(&files[0], 1), (&files[1], 0)] {
        let line = format!("boltscope_snapshot_trailer_present{{file=\"{}\"}} {present}", f.display());
        assert!(text.lines().any(|l| l == line), "{line}");
    }
}

#[test]
fn a_file_named_twice_gives_its_series_once() {
    // Review 44a: every series came twice, which a scrape refuses; inspect's and du's both.
    let tmp = tempfile::tempdir().unwrap();
    let f = common::path("tiny-1.snap.db", &tmp);
    let f = f.to_str().unwrap();
    for cmd in ["inspect", "du"] {
        let out = common::boltscope().args(["--no-index", cmd, "-w", "prometheus", f, f]).output().unwrap();
        assert!(out.status.success(), "{cmd}");
        let text = String::from_utf8(out.stdout).unwrap();
        let mut seen = std::collections::HashSet::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let series = line.rsplit_once(' ').unwrap().0;
            assert!(seen.insert(series.to_string()), "{cmd}: {series} twice");
        }
        assert!(seen.len() > 3, "{cmd}: {text}");
    }
}

#[test]
fn buckets_named_by_bytes_that_are_not_utf8_keep_their_own_names_and_series() {
    use boltscope::bbolt::page::ByteOrder;
    use boltscope::write::buckets::{self, Bucket, Plan};
    use boltscope::write::copier::meta_pages_at;
    // Two top-level buckets whose names read alike as lossy UTF-8 (both U+FFFD).
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("binary-names.db");
    let entry = |k: &'static [u8]| (k, std::borrow::Cow::Borrowed(&b"v"[..]));
    let plan = Plan { order: ByteOrder::Little, page_size: 4096, fill: 0.5, freelist_page: true };
    let list = vec![
        Bucket { name: b"\xfe", sequence: 0, entries: vec![entry(b"a")] },
        Bucket { name: b"\xff", sequence: 0, entries: vec![entry(b"a"), entry(b"b")] },
    ];
    let mut file = std::fs::File::create(&p).unwrap();
    let layout = buckets::write(&plan, list, &mut file).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, &meta_pages_at(&layout, 1, 0), 0).unwrap();
    let out = inspect(&["-w", "json"], std::slice::from_ref(&p));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let exact: Vec<(&Value, &Value)> =
        v["buckets"].as_array().unwrap().iter().map(|b| (&b["path_base64"], &b["stats"]["key_n"])).collect();
    assert_eq!(
        exact,
        [(&serde_json::json!(["/g=="]), &Value::from(1)), (&serde_json::json!(["/w=="]), &Value::from(2))]
    );
    let out = inspect(&["-w", "prometheus"], &[p]);
    let text = String::from_utf8(out.stdout).unwrap();
    let keys: Vec<&str> = text.lines().filter(|l| l.starts_with("boltscope_bucket_keys{")).collect();
    assert_eq!(keys.len(), 2, "{text}");
    assert!(
        keys[0].ends_with(",bucket_base64=\"/g==\"} 1") && keys[1].ends_with(",bucket_base64=\"/w==\"} 2"),
        "{keys:?}"
    );
}

#[test]
fn table_fits_80_columns_and_leads_with_verdicts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = inspect(&[], &[common::path("k8s-0.005.member.db", &tmp)]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("  health"), "{text}");
    assert!(lines[2].starts_with("  quota"), "{text}");
    for l in &lines[1..] {
        assert!(l.chars().count() <= 80, "too wide: {l:?}");
    }
}

#[test]
fn over_quota_verdict_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("k8s-0.005.snap.db", &tmp);
    let out = inspect(&["--quota", "100kB"], std::slice::from_ref(&p));
    assert_eq!(out.status.code(), Some(0), "the quota is a verdict, not a failure");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("over quota (389%): NOSPACE would be raised"), "{text}");
    // The quota leads its verdict, and the longest verdict still fits 80 columns.
    let long = inspect(&["--quota", "1kB"], std::slice::from_ref(&p));
    let long = String::from_utf8(long.stdout).unwrap();
    assert!(long.contains("  quota     1000 B: over quota ("), "{long}");
    assert!(long.lines().all(|l| l.chars().count() <= 80), "{long}");
    let bad = tmp.path().join("bad.db");
    std::fs::write(&bad, b"not bbolt").unwrap();
    assert_eq!(inspect(&[], &[p, bad]).status.code(), Some(2));
}

#[test]
fn every_problem_in_json_says_whether_it_is_an_error_or_a_warning() {
    // fill-1 holds a raised NOSPACE alarm (a warning: the file passes); the same snapshot with a
    // bit flipped under its trailer fails. `check` counts errors and warnings; each problem says
    // which it is, in every command's JSON.
    let tmp = tempfile::tempdir().unwrap();
    let clean = common::path("fill-1.snap.db", &tmp);
    let mut d = common::bytes("fill-1.snap.db");
    let n = d.len();
    d[n - 40] ^= 0x01;
    let damaged = tmp.path().join("damaged.snap.db");
    std::fs::write(&damaged, &d).unwrap();
    for f in [&clean, &damaged] {
        let check = common::run(["--no-index", "check", "-w", "json", f.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        let of = |sev: &str| v["problems"].as_array().unwrap().iter().filter(|p| p["severity"] == sev).count();
        assert_eq!(of("warning") as u64, v["warnings"].as_u64().unwrap(), "{v}");
        assert_eq!(of("error") as u64, v["errors"].as_u64().unwrap(), "{v}");
        assert!(of("warning") >= 1, "the alarm: {v}");
        assert_eq!(of("error") > 0, f == &damaged, "{v}");
        let inspect = common::run(["--no-index", "inspect", "-w", "json", f.to_str().unwrap()]);
        let i: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        let severities: Vec<_> = i["problems"].as_array().unwrap().iter().map(|p| p["severity"].clone()).collect();
        assert!(severities.iter().all(|s| s == "error" || s == "warning") && !severities.is_empty(), "{i}");
    }
}

#[test]
fn a_freelist_page_that_cannot_be_read_leaves_no_guessed_free_space() {
    // The free pages are the ones the tree does not reach (what real bbolt counts for the
    // undamaged file); they were shown as 0 (0% fragmented) and passed a fragmentation gate.
    let tmp = tempfile::tempdir().unwrap();
    let name = "bolt-4k-synced.db";
    let mut d = common::bytes(name);
    let active = if common::u64_at(&d, 4096 + 64) > common::u64_at(&d, 64) { 1 } else { 0 };
    let freelist = common::u64_at(&d, active * 4096 + 48) as usize;
    d[freelist * 4096 + 8..freelist * 4096 + 10].copy_from_slice(&0x02u16.to_le_bytes());
    let p = tmp.path().join("freelist-typed-leaf.db");
    std::fs::write(&p, &d).unwrap();
    let out = inspect(&["-w", "json"], std::slice::from_ref(&p));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["problems"][0]["kind"], "freelist_invalid");
    let info = common::answer_json(name, "oracle-info.json").unwrap();
    assert_eq!(v["pages"]["free"], info["free_page_n"]);
    let gate =
        common::boltscope().args(["check", "-w", "json", "--max-fragmentation", "0.1"]).arg(&p).output().unwrap();
    let g: Value = serde_json::from_slice(&gate.stdout).unwrap();
    assert_eq!(g["gates"][0]["ok"], false, "{g}");
}
