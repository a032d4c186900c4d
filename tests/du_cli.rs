//! `boltscope du` from the command line: JSON shape, sorting, --prefix, every output format,
//! generic bbolt files against real bbolt's dump, non-UTF-8 keys, empty stores, and damaged or
//! unreadable files (problems and exit codes, never figures).

mod common;
use common::{u16_at, u32_at, u64_at};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

const PS: usize = 4096;

fn du(args: &[&str], files: &[&Path]) -> (Option<i32>, Vec<Value>, String) {
    let out = common::boltscope().args(["--no-index", "du", "-w", "json"]).args(args).args(files).output().unwrap();
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.code(), lines, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn names(v: &Value) -> Vec<String> {
    v["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn json_lines_carry_groups_top_and_total_in_the_order_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("k8s-0.005.snap.db", &tmp);
    let (code, v, _) = du(&[], &[&p]);
    assert_eq!(code, Some(0));
    let v = &v[0];
    assert_eq!(
        (&v["path"], &v["ok"], &v["by"], &v["revision"]),
        (&Value::from(p.to_str().unwrap()), &Value::Bool(true), &Value::from("resource"), &Value::from(111))
    );
    let g = v["groups"].as_array().unwrap();
    let stored: Vec<u64> = g.iter().map(|g| g["stored_bytes"].as_u64().unwrap()).collect();
    assert!(stored.windows(2).all(|w| w[0] >= w[1]), "by stored bytes: {stored:?}");
    let share = g[0]["share"].as_f64().unwrap();
    assert!((share - stored[0] as f64 / v["in_use"].as_f64().unwrap()).abs() < 1e-12);
    assert_eq!(v["top"]["largest"].as_array().unwrap().len(), 10);
    assert_eq!(v["total"]["revisions"], 53);
    let (_, by_live, _) = du(&["--sort", "live", "--top", "2"], &[&p]);
    let live: Vec<u64> =
        by_live[0]["groups"].as_array().unwrap().iter().map(|g| g["live_bytes"].as_u64().unwrap()).collect();
    assert!(live.windows(2).all(|w| w[0] >= w[1]), "by live bytes: {live:?}");
    assert_eq!(by_live[0]["top"]["most_revised"].as_array().unwrap().len(), 2);
    // --prefix: only those keys, and their figures are the group's in the whole file.
    let (_, pods, _) = du(&["--prefix", "/registry/pods/"], &[&p]);
    assert_eq!(names(&pods[0]), ["pods"]);
    let whole = g.iter().find(|g| g["name"] == "pods").unwrap();
    for f in ["live_keys", "live_bytes", "revisions", "stored_bytes", "compact_bytes", "encodings"] {
        assert_eq!(pods[0]["total"][f], whole[f], "{f}");
    }
}

#[test]
fn table_csv_and_prometheus() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("cluster-0.1.snap.db", &tmp);
    let run = |w: &str| {
        String::from_utf8(
            common::run(["--no-index", "du", "-w", w, "--by", "resource+namespace", p.to_str().unwrap()]).stdout,
        )
        .unwrap()
    };
    let t = run("table");
    assert!(
        t.contains("RESOURCE/NAMESPACE") && t.contains("largest live keys") && t.contains("encrypted:aescbc:key1"),
        "{t}"
    );
    assert!(t.lines().all(|l| l.is_ascii() || l.contains("/registry/")), "plain ASCII bars off a terminal");
    let csv = run("csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), "path,by,group,live_keys,live_bytes,revisions,tombstones,stored_bytes,compact_revisions,compact_bytes,leases,share,encodings");
    assert!(lines.all(|l| l.split(',').count() >= 13));
    assert!(csv.contains(",resource+namespace,(total),"));
    let prom = run("prometheus");
    for m in ["live_bytes", "stored_bytes", "live_keys", "revisions", "compactable_bytes"] {
        assert!(prom.contains(&format!("# TYPE boltscope_keyspace_{m} gauge")), "{m}");
    }
    assert!(prom.contains("resource=\"secrets\",namespace=\"monitoring\"}"), "{prom}");
    assert!(prom.contains("resource=\"nodes\",namespace=\"\"}"), "cluster-scoped: empty namespace");
    let out = common::run(["--no-index", "du", "-w", "prometheus", p.to_str().unwrap(), "/no/such.db"]);
    let prom = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(prom.contains("boltscope_keyspace_file_readable{file=\"/no/such.db\"} 0"), "{prom}");
    assert!(prom.contains(&format!("boltscope_keyspace_file_readable{{file=\"{}\"}} 1", p.display())));
    // Beside inspect's in one node_exporter textfile folder: no metric of both (node_exporter
    // refuses a series two files write, and one name with two HELP texts; review 42c).
    let names = |args: &[&str]| -> std::collections::BTreeSet<String> {
        let out = common::run(["--no-index"].iter().chain(args).chain(&[p.to_str().unwrap()]));
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    let (du, inspect) = (names(&["du", "-w", "prometheus"]), names(&["inspect", "-w", "prometheus"]));
    assert!(du.len() > 5 && inspect.len() > 5, "{du:?} {inspect:?}");
    assert!(du.is_disjoint(&inspect), "{:?}", du.intersection(&inspect).collect::<Vec<_>>());
}

/// Per top-level bucket (prefix:1) or two levels (prefix:2): pairs and key + value bytes, from
/// real bbolt's dump (`K <hex path, '/'-joined> <hex key> <hex value>`).
fn from_dump(name: &str, depth: usize) -> BTreeMap<String, (u64, u64)> {
    let gz = std::fs::File::open(common::dir().join(format!("{name}.oracle-dump.txt.gz"))).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut text).unwrap();
    let hex =
        |s: &str| (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>();
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(' ').collect();
        if f[0] != "K" {
            continue;
        }
        let mut segs: Vec<Vec<u8>> = f[1].split('/').map(hex).collect();
        let (k, v) = (hex(f[2]), f.get(3).map_or(Vec::new(), |v| hex(v)));
        let bytes = (k.len() + v.len()) as u64;
        segs.push(k);
        let group = String::from_utf8(segs[..depth.min(segs.len())].join(&b'/')).unwrap();
        let e = m.entry(group).or_insert((0, 0));
        e.0 += 1;
        e.1 += bytes;
    }
    m
}

#[test]
fn generic_bbolt_files_are_grouped_by_bucket_path_as_real_bbolt_dumps_them() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["bolt-4k-synced.db", "bolt-16k-hashmap.db", "bolt-4k-bigendian.db"] {
        let p = common::path(name, &tmp);
        for depth in [1, 2] {
            let (code, v, _) = du(&["--by", &format!("prefix:{depth}")], &[&p]);
            assert_eq!(code, Some(0), "{name}");
            let got: BTreeMap<String, (u64, u64)> = v[0]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    (
                        g["name"].as_str().unwrap().to_owned(),
                        (g["live_keys"].as_u64().unwrap(), g["live_bytes"].as_u64().unwrap()),
                    )
                })
                .collect();
            assert_eq!(got, from_dump(name, depth), "{name} prefix:{depth}");
            assert_eq!(v[0]["revision"], Value::Null);
            assert!(v[0]["top"]["most_revised"].as_array().unwrap().is_empty());
        }
        let (_, v, _) = du(&[], &[&p]);
        assert_eq!(v[0]["by"], "prefix:1", "{name}: the default without Kubernetes keys");
    }
}

/// Active meta, the `key` bucket's first leaf (its root is a branch in k8s-0.005.member.db).
fn first_key_leaf(d: &[u8]) -> usize {
    let m = if u64_at(d, PS + 64) > u64_at(d, 64) { PS } else { 0 };
    let root = u64_at(d, m + 32) as usize * PS;
    for i in 0..u16_at(d, root + 10) {
        let e = root + 16 + 16 * i;
        let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
        if &d[e + pos..e + pos + ks] == b"key" {
            let kroot = u64_at(d, e + pos + ks) as usize * PS;
            assert_eq!(u16_at(d, kroot + 8), 1, "branch");
            return u64_at(d, kroot + 16 + 8) as usize * PS;
        }
    }
    panic!("no key bucket")
}

/// Offset of element 0's KeyValue and of the user key inside it.
fn first_record(d: &[u8]) -> (usize, usize) {
    let e = first_key_leaf(d) + 16;
    let val = e + u32_at(d, e + 4) + u32_at(d, e + 8);
    assert_eq!(d[val], 0x0a, "KeyValue field 1");
    (val, val + 2)
}

#[test]
fn non_utf8_keys_are_base64_and_empty_stores_have_no_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (_, key) = first_record(&d);
    assert_eq!(&d[key..key + 10], b"/registry/");
    d[key + 1] = 0xff;
    let p = tmp.path().join("odd.db");
    std::fs::write(&p, &d).unwrap();
    let (code, v, _) = du(&["--by", "prefix:1", "--top", "100"], &[&p]);
    assert_eq!(code, Some(0));
    let g = v[0]["groups"].as_array().unwrap();
    assert!(g.iter().any(|g| g["name_base64"].as_str().is_some_and(|b| b.starts_with("L/9l"))), "{g:?}");
    let top = v[0]["top"]["most_stored"].as_array().unwrap();
    assert_eq!(top.iter().filter(|e| e.get("key_base64").is_some()).count(), 1);
    let (_, v, _) = du(&[], &[&p]);
    assert!(names(&v[0]).contains(&"(other)".to_owned()));
    // fill-1: an etcd file with no user key at all.
    let (code, v, _) = du(&[], &[&common::path("fill-1.snap.db", &tmp)]);
    assert_eq!(code, Some(0));
    assert_eq!((v[0]["groups"].as_array().unwrap().len(), &v[0]["total"]["revisions"]), (0, &Value::from(0)));
}

/// Offset of the user key inside element `i`'s KeyValue, in the first leaf of the `key` bucket.
fn record_key(d: &[u8], i: usize) -> usize {
    let e = first_key_leaf(d) + 16 + 16 * i;
    let val = e + u32_at(d, e + 4) + u32_at(d, e + 8);
    assert_eq!((d[val], d[val + 1] < 0x80), (0x0a, true), "KeyValue field 1, a one-byte length");
    val + 2
}

#[test]
fn prometheus_never_repeats_a_series_for_groups_people_see_alike() {
    // Three keys' first segments differ only in a control character or a byte that is not UTF-8:
    // tables show them alike (U+FFFD, `\xNN`), a scrape must see three groups.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    for (i, b) in [(0, 0x01), (1, 0x02), (2, 0xff)] {
        let k = record_key(&d, i);
        assert_eq!(&d[k..k + 10], b"/registry/");
        d[k + 1] = b;
    }
    let p = tmp.path().join("odd.db");
    std::fs::write(&p, &d).unwrap();
    let out = common::run(["--no-index", "du", "-w", "prometheus", "--by", "prefix:1", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let prom = String::from_utf8(out.stdout).unwrap();
    let series: Vec<&str> =
        prom.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit_once(' ').unwrap().0).collect();
    let unique: std::collections::HashSet<&&str> = series.iter().collect();
    assert_eq!(unique.len(), series.len(), "{prom}");
    assert!(
        prom.contains("boltscope_keyspace_live_keys{file=") && prom.contains(",prefix=\"/\u{1}egistry\"}"),
        "{prom}"
    );
    assert!(prom.contains(",prefix=\"/\u{2}egistry\"}") && prom.contains(",prefix_base64=\"L/9l"), "{prom}");
}

#[test]
fn damaged_files_give_problems_not_figures_and_unreadable_ones_an_error_object() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::bytes("k8s-0.005.member.db");
    let good = common::path("k8s-0.005.member.db", &tmp);
    // A record whose KeyValue cannot be decoded (wire type 7).
    let mut d = base.clone();
    let (val, _) = first_record(&d);
    d[val] = 0x07;
    let rec = tmp.path().join("record.db");
    std::fs::write(&rec, &d).unwrap();
    // A leaf of the key bucket that is no longer a leaf.
    let mut d = base.clone();
    let leaf = first_key_leaf(&d);
    d[leaf + 8] = 0x10;
    let page = tmp.path().join("page.db");
    std::fs::write(&page, &d).unwrap();
    let missing = tmp.path().join("missing.db");
    let (code, v, err) = du(&[], &[&rec, &page, &missing, &good]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(v.len(), 4, "one line per file, in order");
    for (i, kind) in [(0, "invalid_key_value"), (1, "invalid_page_type")] {
        assert_eq!(v[i]["ok"], false);
        assert_eq!((&v[i]["groups"], &v[i]["total"], &v[i]["top"]), (&Value::Null, &Value::Null, &Value::Null));
        assert!(v[i]["problems"].as_array().unwrap().iter().any(|p| p["kind"] == kind), "{}", v[i]);
    }
    assert_eq!((&v[2]["ok"], &v[2]["error"]["kind"]), (&Value::Bool(false), &Value::from("io")));
    assert_eq!(v[3]["ok"], true);
    let (code, _, err) = du(&[], &[&rec]);
    assert_eq!(code, Some(1));
    assert!(err.contains("invalid_key_value"), "{err}");
}

#[test]
fn the_index_remembers_du_and_history_shows_growth_per_resource() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let db = tmp.path().join("member.db");
    let run = |args: &[&str]| {
        let out = common::boltscope().arg("--index").arg(&ix).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    std::fs::write(&db, common::bytes("k8s-0.005.snap.db")).unwrap();
    let first = run(&["du", "-w", "json", db.to_str().unwrap()]);
    assert_eq!(run(&["du", "-w", "json", db.to_str().unwrap()]), first, "the second answer comes from the index");
    // The same path now holds another database: a new identity, a new du, a second row.
    std::fs::write(&db, common::bytes("cluster-0.1.snap.db")).unwrap();
    run(&["du", db.to_str().unwrap()]);
    let g: Value = serde_json::from_str(&run(&["history", "--resources", "-w", "json"])).unwrap();
    assert_eq!((g["analyses"].as_u64(), g["by"].as_str()), (Some(2), Some("resource")));
    let stored = |name: &str, r: &str| {
        common::answer_json(name, "du.json").unwrap()["by"]["resource"][r]["stored_bytes"].as_i64().unwrap_or(0)
    };
    let secrets = g["groups"].as_array().unwrap().iter().find(|c| c["name"] == "secrets").unwrap();
    assert_eq!(
        secrets["stored_change"].as_i64().unwrap(),
        stored("cluster-0.1", "secrets") - stored("k8s-0.005", "secrets")
    );
    let changes: Vec<i64> =
        g["groups"].as_array().unwrap().iter().map(|c| c["stored_change"].as_i64().unwrap().abs()).collect();
    assert!(changes.windows(2).all(|w| w[0] >= w[1]), "largest change first");
    assert!(run(&["history", "--resources"]).contains("secrets"));
}

#[test]
fn figures_read_through_the_older_meta_page_say_so() {
    // The newer meta page cannot be used, so bbolt (and du) read the previous transaction: the
    // figures are those of a whole tree, but the report says which page they come from, and why.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let newer = common::damage::shape(&d).active_meta;
    common::damage::one_page("newer meta bad", &mut d);
    let f = tmp.path().join("meta.db");
    std::fs::write(&f, &d).unwrap();
    let (code, v, err) = du(&[], &[&f]);
    assert_eq!(code, Some(1), "{err}");
    let said = v[0]["meta_fallback"].as_str().unwrap_or_default();
    let want = format!("read from meta page {}, the previous transaction: meta page {newer} cannot be used", 1 - newer);
    assert!(said.starts_with(&want), "{}", v[0]);
    let table = common::boltscope().args(["--no-index", "du"]).arg(&f).output().unwrap();
    assert!(String::from_utf8_lossy(&table.stdout).contains(&want));
    let (_, v, _) = du(&[], &[&common::path("k8s-0.005.member.db", &tmp)]);
    assert_eq!(v[0].get("meta_fallback"), None, "absent when the newer page is read");
}

#[test]
fn inspect_withholds_what_du_withholds_from_a_record_that_cannot_be_read() {
    // A record whose KeyValue does not decode has no key to count it under: du gives no figures,
    // and inspect keeps the tree's own figures but none that count records by key.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (val, _) = first_record(&d);
    d[val] = 0x07;
    let rec = tmp.path().join("record.db");
    std::fs::write(&rec, &d).unwrap();
    let (code, v, _) = du(&[], &[&rec]);
    assert_eq!((code, &v[0]["groups"]), (Some(1), &Value::Null));
    let out = common::boltscope().args(["--no-index", "inspect", "-w", "json"]).arg(&rec).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let i: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["mvcc", "resources", "prediction"] {
        assert!(i[k].is_null(), "{k} withheld: {}", i[k]);
    }
    assert!(i["etcd"]["leases"]["keys_attached"].is_null(), "{}", i["etcd"]["leases"]);
    assert!(i["size"]["in_use"].is_u64() && i["buckets"].is_array(), "the tree's figures stand");
    let text = common::boltscope().args(["--no-index", "inspect"]).arg(&rec).output().unwrap();
    let t = String::from_utf8_lossy(&text.stdout);
    assert!(t.contains("live keys attached withheld") && !t.contains("after compact"), "{t}");
    assert!(t.contains("withheld: a record of the key bucket cannot be read"), "{t}");
}

#[test]
fn keys_outside_the_api_prefixes_are_other_by_resource() {
    use boltscope::analysis::du::{du, Options};
    use boltscope::analysis::grouping::By;
    let data = common::bytes("auth-1.snap.db");
    let view = boltscope::DbView::new(&data).unwrap();
    let d = du(&view, &Options { by: Some(By::Resource), ..Options::default() });
    assert_eq!(d.by, "resource");
    assert!(d.revision.is_some(), "an etcd file");
    let names: Vec<String> = d.groups.unwrap().iter().map(|g| g.name.display()).collect();
    assert_eq!(names, ["(other)"], "auth-1 has only /app/config/N keys");
}

#[test]
fn an_answer_from_the_index_is_the_fresh_one_to_the_last_digit() {
    // Shares read back from the index lost their last digit (0.09771466071182469 came back as
    // ...468): serde_json parsed floats without the round trip.
    let tmp = tempfile::tempdir().unwrap();
    let f = common::path("cluster-0.1.snap.db", &tmp);
    let ix = tmp.path().join("index.redb");
    let run = |index: bool| {
        let mut c = common::boltscope();
        if index {
            c.arg("--index").arg(&ix);
        } else {
            c.arg("--no-index");
        }
        c.args(["du", "-w", "json", "--by", "resource+namespace"]).arg(&f).output().unwrap().stdout
    };
    let fresh = run(false);
    assert!(!fresh.is_empty());
    assert_eq!(run(true), fresh, "the run that fills the index");
    assert_eq!(String::from_utf8_lossy(&run(true)), String::from_utf8_lossy(&fresh), "the warm answer");
}
