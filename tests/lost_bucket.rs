//! An etcd file whose root lost its `meta` bucket (one element count byte): the `key` bucket still
//! holds etcd's revisions, but the compactions and the consistent index are gone, so a server
//! restored from it would serve compacted revisions as readable. Before review 41b `check` called
//! it a bbolt file and passed it, `inspect` said ok, `du` exited 0, `compact` copied it and
//! `salvage` called its copy lossless, while the key readers refused it as "not an etcd file"
//! (as `diff` and `compact --revision` did until review 48a). Every command now calls it damaged,
//! with the same problem.

mod common;

use common::{u16_at, u32_at, u64_at};

const PS: usize = 4096;

/// `k8s-0.005.member.db` with its root leaf written again as bbolt lays one out, holding only the
/// buckets whose names `keep` keeps (at least one, and one left out), saved as `name` in `tmp`.
fn repacked(tmp: &tempfile::TempDir, name: &str, keep: &dyn Fn(&[u8]) -> bool) -> String {
    let mut d = common::bytes("k8s-0.005.member.db");
    let meta = |p: usize| u64_at(&d, p * PS + 64);
    let active = if meta(1) > meta(0) { 1 } else { 0 };
    let root = u64_at(&d, active * PS + 32) as usize;
    let names: Vec<Vec<u8>> = (0..u16_at(&d, root * PS + 10))
        .map(|i| {
            let e = root * PS + 16 + 16 * i;
            let (pos, ks) = (u32_at(&d, e + 4), u32_at(&d, e + 8));
            d[e + pos..e + pos + ks].to_vec()
        })
        .collect();
    assert!(
        names.iter().any(|n| !keep(n)) && names.iter().any(|n| keep(n)),
        "a bucket left out of {names:?}, one kept"
    );
    common::damage::repack(&mut d, root, &|i| keep(&names[i]));
    let p = tmp.path().join(name);
    std::fs::write(&p, &d).unwrap();
    p.to_str().unwrap().to_string()
}

/// `k8s-0.005.member.db` with its root leaf's `meta` bucket left out.
fn without_meta(tmp: &tempfile::TempDir) -> String {
    repacked(tmp, "no-meta.db", &|n| n != b"meta")
}

fn run(args: &[&str]) -> (Option<i32>, String) {
    let o = common::run_indexed(None, args);
    let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    (o.status.code(), text)
}

#[test]
fn an_etcd_file_without_its_meta_bucket_is_damaged_to_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let f = without_meta(&tmp);
    let out = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (copy, salvaged) = (out("copy.db"), out("salvaged.db"));
    for args in [
        vec!["check", &f],
        vec!["inspect", &f],
        vec!["du", &f],
        vec!["get", &f, "/", "--prefix", "--keys-only"],
        vec!["dump", &f],
        vec!["hashkv", &f],
        vec!["compact", &f, "--output", &copy],
        // Review 48a: these two called it "not an etcd file", exit 2.
        vec!["compact", "--revision", "latest", &f, "--output", &copy],
        vec!["diff", &f, &f],
    ] {
        let (code, text) = run(&args);
        assert_eq!(code, Some(1), "{args:?}: {text}");
        assert!(text.contains("etcd_bucket_missing") && text.contains("without its `meta` bucket"), "{args:?}: {text}");
    }
    assert!(!std::path::Path::new(&copy).exists(), "compact refuses it");
    let (code, text) = run(&["inspect", &f, "-w", "json"]);
    assert_eq!(code, Some(1));
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["ok"], false, "{text}");
    // Salvage writes what it can and does not call the copy lossless.
    let (code, text) = run(&["salvage", &f, "--output", &salvaged, "-w", "json"]);
    assert_eq!(code, Some(1), "{text}");
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["lossless"], false, "{text}");
}

/// `k8s-0.005.member.db` with its root leaf holding only the bucket `name`: etcd's own bucket,
/// alone.
fn alone(tmp: &tempfile::TempDir, name: &[u8]) -> String {
    repacked(tmp, &format!("only-{}.db", String::from_utf8_lossy(name)), &|n| n == name)
}

#[test]
fn a_key_or_meta_bucket_alone_is_no_etcd_file_that_lost_one() {
    // Review 41c: any program may keep a bucket named `key` whose keys read as revisions
    // ("20261201_backup01"), or `meta` holding `consistent_index`; told as a damaged etcd file,
    // such a bbolt file failed check and compact refused it. Without two more of etcd's own
    // buckets beside it, even etcd's own `key` (or `meta`) bucket alone is a bbolt file's.
    let tmp = tempfile::tempdir().unwrap();
    for name in [&b"key"[..], b"meta"] {
        let f = alone(&tmp, name);
        let (code, text) = run(&["check", &f]);
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("not an etcd file") && !text.contains("etcd_bucket_missing"), "{text}");
        let copy = tmp.path().join(format!("copy-{}.db", String::from_utf8_lossy(name)));
        let (code, text) = run(&["compact", &f, "--output", copy.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{text}");
    }
}

#[test]
fn bbolt_files_and_intact_etcd_files_are_not_told_a_bucket_is_missing() {
    for name in ["k8s-0.005.member.db", "k8s-0.005.snap.db", "bolt-16k-hashmap.db.gz", "bolt-4k-nosync.db.gz"] {
        let tmp = tempfile::tempdir().unwrap();
        let p = common::path(name, &tmp);
        let (code, text) = run(&["check", p.to_str().unwrap()]);
        assert_eq!(code, Some(0), "{name}: {text}");
        assert!(!text.contains("etcd_bucket_missing"), "{name}: {text}");
    }
}

#[test]
fn an_etcd_file_without_both_is_damaged_too() {
    // Review 48c F9: with both `key` and `meta` gone, the seven other buckets of etcd's left, the
    // file passed check as "not an etcd file". Its `members` bucket names etcd's member.
    let tmp = tempfile::tempdir().unwrap();
    let f = repacked(&tmp, "no-key-no-meta.db", &|n| n != b"key" && n != b"meta");
    let f = f.as_str();
    let copy = tmp.path().join("copy.db");
    let copy = copy.to_str().unwrap();
    for args in
        [vec!["check", f], vec!["inspect", f], vec!["get", f, "a"], vec!["diff", f, f], vec!["compact", f, "-o", copy]]
    {
        let (code, text) = run(&args);
        assert_eq!(code, Some(1), "{args:?}: {text}");
        assert!(
            text.contains("etcd_bucket_missing") && text.contains("without its `key` and `meta`"),
            "{args:?}: {text}"
        );
    }
}
