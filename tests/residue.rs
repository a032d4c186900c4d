//! Residue: deleted Secrets whose values survive in free pages (fixtures/residue, made by real etcd
//! 3.5.1: 40 marked Secrets written, deleted, compacted, 5 more writes, `snapshot save`). Which
//! markers the file's bytes hold was found by an independent byte search
//! (`residue-markers.py`, committed as `residue-1.markers.json`); every one of them must be carved
//! (strictly: whole pages, every record checking out) and no other, and compact's copy must carry
//! none.

mod common;
use boltscope::etcd::carve;
use boltscope::DbView;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::dir().join("residue").join(name)).unwrap()
}

/// The markers the independent byte search found, present and absent.
fn markers(answer: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(common::dir().join("residue").join(answer)).unwrap()).unwrap();
    let set = |k: &str| v[k].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
    (set("present"), set("absent"))
}

/// The markers inside the values of the records carved from free pages.
fn carved_markers(d: &[u8]) -> BTreeSet<String> {
    let view = DbView::new(d).unwrap();
    let free = carve::free_records(&view).unwrap();
    let mut found = BTreeSet::new();
    for r in &free.records {
        let v = r.kv.value;
        for at in (0..v.len()).filter(|&i| v[i..].starts_with(b"RESIDUE-MARKER-")) {
            found.insert(String::from_utf8_lossy(&v[at..(at + 20).min(v.len())]).into_owned());
        }
    }
    found
}

#[test]
fn every_marker_in_the_bytes_is_carved_and_no_other() {
    for (db, answer) in
        [("residue-1.snap.db", "residue-1.markers.json"), ("residue-1.member.db", "residue-1.member.markers.json")]
    {
        let (present, absent) = markers(answer);
        assert_eq!(present.len() + absent.len(), 40, "{db}");
        let found = carved_markers(&fixture(db));
        assert_eq!(found, present, "{db}");
        assert!(found.is_disjoint(&absent), "{db}");
    }
}

#[test]
fn inspect_and_check_report_the_secrets_and_compacts_copy_carries_none() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::dir().join("residue/residue-1.snap.db");
    let (present, _) = markers("residue-1.markers.json");
    let inspect = |p: &Path| -> Value {
        let out = common::run(["--no-index", "inspect", "-w", "json", p.to_str().unwrap()]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let v = inspect(&src);
    let r = &v["residue"];
    // Each present marker NNNN is the value of the Secret `residue-NNNN`, deleted since.
    assert_eq!(r["secrets"].as_u64(), Some(present.len() as u64));
    assert_eq!(r["secret_key_count"].as_u64(), Some(present.len() as u64));
    let first = r["secret_keys"][0].as_str().unwrap();
    let n = present.iter().next().unwrap().trim_start_matches("RESIDUE-MARKER-").trim_end_matches('-');
    assert!(first.starts_with("/registry/secrets/") && first.ends_with(&format!("/residue-{n}")), "{first}");
    assert_eq!(r["by_resource"].as_object().unwrap().keys().collect::<Vec<_>>(), ["secrets"]);
    assert_eq!(v["problems"][0]["kind"], "residual_secrets");
    assert_eq!(v["ok"], true, "a warning");
    // Prometheus series.
    let prom = common::run(["--no-index", "inspect", "-w", "prometheus", src.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&prom.stdout);
    let line = format!("boltscope_residue_secrets{{file=\"{}\"}} {}", src.display(), present.len());
    assert!(text.lines().any(|l| l == line), "{line}");
    // check warns, and fails with the gate.
    let check =
        |args: &[&str], p: &Path| common::boltscope().args(["--no-index", "check"]).args(args).arg(p).output().unwrap();
    let out = check(&[], &src);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("residual_secrets") && text.contains("boltscope compact"), "{text}");
    assert_eq!(check(&["--fail-on-residual-secrets"], &src).status.code(), Some(1));
    // compact's copy has no free pages: no marker in its bytes, nothing to report, the gate passes.
    let copy = tmp.path().join("copy.db");
    let out = common::run(["compact", src.to_str().unwrap(), "-o", copy.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&copy).unwrap();
    assert!(!bytes.windows(15).any(|w| w == b"RESIDUE-MARKER-"));
    assert_eq!(inspect(&copy)["residue"]["records"], 0);
    assert_eq!(check(&["--fail-on-residual-secrets"], &copy).status.code(), Some(0));
}

#[test]
fn a_deleted_secret_in_free_pages_no_leaf_header_lists_is_found() {
    // A free leaf's header and element table written over (as when the first page of a leaf that
    // spanned several is used again, leaving the rest without a header): strict carving reads
    // nothing there, and `check --fail-on-residual-secrets` passed a file whose deleted Secret lay
    // whole in such pages (review 49b). Its records are found by their revision key and value.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = fixture("residue-1.snap.db");
    let (present, _) = markers("residue-1.markers.json");
    let page = {
        let view = DbView::new(&d).unwrap();
        let free = carve::free_records(&view).unwrap();
        let r = free.records.iter().find(|r| r.kv.value.windows(15).any(|w| w == b"RESIDUE-MARKER-")).unwrap();
        r.page.0 as usize
    };
    let count = common::u16_at(&d, page * 4096 + 10);
    d[page * 4096..page * 4096 + 16 + 16 * count].fill(0xee);
    common::reseal(&mut d);
    assert_eq!(carved_markers(&d), present, "every marker still found");
    let p = tmp.path().join("headerless.snap.db");
    std::fs::write(&p, &d).unwrap();
    let v: Value =
        serde_json::from_slice(&common::run(["--no-index", "inspect", "-w", "json", p.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["residue"]["secrets"].as_u64(), Some(present.len() as u64), "{}", v["residue"]);
    assert!(v["residue"]["headerless"].as_u64() >= Some(1), "{}", v["residue"]);
    let gate = common::run(["--no-index", "check", "--fail-on-residual-secrets", p.to_str().unwrap()]);
    assert_eq!(gate.status.code(), Some(1));
}

#[test]
fn a_record_the_tree_still_holds_is_never_residue() {
    // k8s-0.005: its free pages hold stale copies of leaves whose records are still live; none of
    // those revisions may be reported.
    let d = common::bytes("k8s-0.005.snap.db");
    let view = DbView::new(&d).unwrap();
    let free = carve::free_records(&view).unwrap();
    let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
    assert!(!free.records.is_empty());
    for r in &free.records {
        assert!(boltscope::bbolt::cursor::get(&view, kb, r.rev_key.bytes()).unwrap().is_none());
    }
    // A file whose tree cannot be read whole has no residue: damaged pages would pass for free.
    let mut bad = d.clone();
    let shape = common::damage::shape(&bad);
    common::damage::one_page("child past the high-water mark", &mut bad);
    assert!(carve::free_records(&DbView::new(&bad).unwrap()).is_err());
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("damaged.db");
    std::fs::write(&p, &bad).unwrap();
    let v: Value =
        serde_json::from_slice(&common::run(["--no-index", "inspect", "-w", "json", p.to_str().unwrap()]).stdout)
            .unwrap();
    assert_eq!(v["residue"], Value::Null, "withheld (key root {})", shape.key_root);
}

/// `log FILE --include-free -w json` with extra arguments: the events, as JSON.
fn log_free(db: &Path, extra: &[&str]) -> Vec<Value> {
    let out = common::boltscope()
        .args(["--no-index", "log"])
        .arg(db)
        .args(["--include-free", "-w", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn b64(v: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or("")).unwrap()
}

#[test]
fn log_include_free_reports_every_marker_in_the_bytes_and_no_other() {
    for (db, answer) in
        [("residue-1.snap.db", "residue-1.markers.json"), ("residue-1.member.db", "residue-1.member.markers.json")]
    {
        let (present, absent) = markers(answer);
        let path = common::dir().join("residue").join(db);
        let events = log_free(&path, &["--show-secrets"]);
        let mut found = BTreeSet::new();
        for e in events.iter().filter(|e| e["source"] == "free-page" && e["type"] == "PUT") {
            let v = b64(&e["kv"]["value"]);
            for at in (0..v.len()).filter(|&i| v[i..].starts_with(b"RESIDUE-MARKER-")) {
                found.insert(String::from_utf8_lossy(&v[at..(at + 20).min(v.len())]).into_owned());
            }
        }
        assert_eq!(found, present, "{db}");
        assert!(found.is_disjoint(&absent), "{db}");
        // The live keys' events carry no source; nothing carved stands for a revision they hold.
        let live: Vec<&Value> = events.iter().filter(|e| e["source"].is_null()).collect();
        assert_eq!(live.len(), 5, "{db}: the five ConfigMaps written after the compaction");
        // Without --show-secrets, the Secrets' values are withheld.
        let out = common::boltscope()
            .args(["--no-index", "log"])
            .arg(&path)
            .args(["--include-free", "-w", "json"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("UkVTSURVRS1NQVJLRVIt"), "{db}: no marker, even base64");
        assert!(!out.stdout.windows(15).any(|w| w == b"RESIDUE-MARKER-"), "{db}");
    }
}

#[test]
fn get_below_the_compaction_reads_what_free_pages_still_hold() {
    // The Secrets were put at revisions 2..41 (each Secret's number + 2) and compacted at 81: at
    // revision 41 every Secret existed; free pages hold those whose marker survives.
    let path = common::dir().join("residue/residue-1.snap.db");
    let (present, _) = markers("residue-1.markers.json");
    let get = |extra: &[&str]| {
        common::boltscope()
            .args(["--no-index", "get"])
            .arg(&path)
            .args(["", "--prefix", "--rev", "41", "-w", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = get(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("required revision has been compacted"));
    let out = get(&["--include-free"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kvs = v["kvs"].as_array().unwrap();
    assert!(kvs.iter().all(|kv| kv["source"] == "free-page"));
    let numbers: BTreeSet<String> = kvs
        .iter()
        .map(|kv| String::from_utf8(b64(&kv["key"])).unwrap().rsplit('-').next().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> =
        present.iter().map(|m| m.trim_start_matches("RESIDUE-MARKER-").trim_end_matches('-').to_string()).collect();
    assert_eq!(numbers, want);
    // At the head, free pages change nothing: the deletes are newer than the carved puts.
    let head = common::boltscope()
        .args(["--no-index", "get"])
        .arg(&path)
        .args(["", "--prefix", "--include-free", "-w", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&head.stdout).unwrap();
    assert_eq!(v["count"], 5);
}

#[test]
fn get_log_and_inspect_read_either_meta_page_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::dir().join("k8s-0.005.member.db");
    // Both meta pages valid: the last transaction of this file changed no key (etcd's final commit
    // on stop writes only its raft index), so both trees answer alike.
    for m in ["0", "1"] {
        for args in
            [&["get", "--meta", m, "-w", "json"][..], &["log", "--meta", m, "-w", "json"], &["inspect", "--meta", m]]
        {
            let mut a = args.to_vec();
            if a[0] == "get" {
                a.extend(["--prefix", ""]);
            }
            let out = common::boltscope().arg("--no-index").args(&a[..1]).arg(&src).args(&a[1..]).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{a:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    // An invalid meta page is refused by name, and nothing is written.
    let mut d = std::fs::read(&src).unwrap();
    d[72] ^= 0xFF;
    let bad = tmp.path().join("bad-meta0.db");
    std::fs::write(&bad, &d).unwrap();
    for cmd in ["get", "log", "inspect"] {
        let mut args = vec![cmd, "--meta", "0"];
        if cmd == "get" {
            args.extend(["--prefix", ""]);
        }
        let out = common::boltscope().arg("--no-index").arg(args[0]).arg(&bad).args(&args[1..]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("meta page 0"),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        args[2] = "1";
        let out = common::boltscope().arg("--no-index").arg(args[0]).arg(&bad).args(&args[1..]).output().unwrap();
        // The answer comes from meta page 1; the invalid meta page 0 is reported as a problem by
        // each, as `check --meta 1` fails the file.
        assert_eq!(out.status.code(), Some(1), "{cmd} --meta 1");
        assert!(!out.stdout.is_empty(), "{cmd} --meta 1 answers");
    }
    assert_eq!(std::fs::read(&bad).unwrap(), d);
}

#[test]
fn secrets_under_an_etcd_prefix_are_residual_secrets_too() {
    // An API server started with `--etcd-prefix=/registry/c` writes `/registry/c/secrets/NS/N`,
    // which parses as the resource `c`: such Secrets in free pages were not counted, and
    // `check --fail-on-residual-secrets` passed the file (review 35b). Every key is rewritten so
    // (its namespace two bytes shorter: every length stays), the trailer made again.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = fixture("residue-1.snap.db");
    let mut moved = 0;
    for ns in ["team-a", "team-b", "team-c", "default", "kube-system", "monitoring"] {
        let from = format!("/registry/secrets/{ns}/").into_bytes();
        let to = format!("/registry/c/secrets/{}/", &ns[2..]).into_bytes();
        assert_eq!(from.len(), to.len());
        let mut i = 0;
        while let Some(at) = d[i..].windows(from.len()).position(|w| w == from.as_slice()) {
            d[i + at..i + at + to.len()].copy_from_slice(&to);
            i += at + to.len();
            moved += 1;
        }
    }
    assert!(moved > 40, "{moved}");
    common::reseal(&mut d);
    let p = tmp.path().join("prefixed.snap.db");
    std::fs::write(&p, &d).unwrap();
    let (present, _) = markers("residue-1.markers.json");
    let out = common::run(["--no-index", "inspect", "-w", "json", p.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["residue"]["secrets"].as_u64(), Some(present.len() as u64), "{}", v["residue"]);
    assert!(v["residue"]["secret_keys"][0].as_str().unwrap().starts_with("/registry/c/secrets/"));
    let gate = common::run(["--no-index", "check", "--fail-on-residual-secrets", p.to_str().unwrap()]);
    assert_eq!(gate.status.code(), Some(1), "{}", String::from_utf8_lossy(&gate.stdout));
    // The gate's figures as numbers too (review 46c: `actual_value` was null).
    let gate = common::run(["--no-index", "check", "-w", "json", "--fail-on-residual-secrets", p.to_str().unwrap()]);
    let g: Value = serde_json::from_slice(&gate.stdout).unwrap();
    assert_eq!(
        (g["gates"][0]["limit_value"].as_u64(), g["gates"][0]["actual_value"].as_u64()),
        (Some(0), Some(present.len() as u64))
    );
}

#[test]
fn secrets_read_as_keys_in_free_pages_are_residual_secrets_too() {
    // Each Secret's record with its value tag made a key tag: etcd's decoder takes the value as
    // the key, and the value is empty. They were not counted, and the gate passed the file
    // (review 35d).
    let tmp = tempfile::tempdir().unwrap();
    let mut d = fixture("residue-1.snap.db");
    let head = b"/registry/secrets/";
    let mut flipped = 0;
    let mut i = 0;
    while let Some(at) = d[i..].windows(head.len()).position(|w| w == head) {
        let k = i + at;
        i = k + head.len();
        // The record: 0x0a, the key's length (one byte), the key, then its other fields.
        let len = usize::from(d[k - 1]);
        if k < 2 || d[k - 2] != 0x0a {
            continue;
        }
        if let Some(j) = common::value_tag(&d, k + len) {
            d[j] = 0x0a;
            flipped += 1;
        }
    }
    assert!(flipped >= 36, "{flipped}");
    common::reseal(&mut d);
    let p = tmp.path().join("flipped.snap.db");
    std::fs::write(&p, &d).unwrap();
    let (present, _) = markers("residue-1.markers.json");
    let out = common::run(["--no-index", "inspect", "-w", "json", p.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["residue"]["secrets"].as_u64().unwrap() >= present.len() as u64, "{}", v["residue"]);
    let gate = common::run(["--no-index", "check", "--fail-on-residual-secrets", p.to_str().unwrap()]);
    assert_eq!(gate.status.code(), Some(1), "{}", String::from_utf8_lossy(&gate.stdout));
    let text = String::from_utf8_lossy(&gate.stdout);
    assert!(!text.contains("RESIDUE-MARKER"), "the keys named are redacted: {text}");
}
