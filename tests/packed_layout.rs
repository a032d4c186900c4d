//! bbolt's packed layout held by every reader (review 42a): a page's element count lowered by a
//! bit flip (the leaf's last records, or a branch's last subtrees, dropped) read well everywhere,
//! bbolt's own check passes it, and `check`, `compact` and `salvage` called the file sound while
//! etcd served it with revisions missing (and gave them out again). bbolt writes the first key
//! right after the element headers, so the first key now lies past where the count says:
//! `element_misplaced` in every command, and `salvage` reads the count back from the layout and
//! loses nothing. A `key` leaf's records past its count come back as uncertain, not as certain
//! (review 47c: `bbolt surgery` takes damaged elements off a leaf's end so, and one half zeroed
//! came back with exit 0): every record is in the copy, exit 1, the keys named.

mod common;

use common::damage::{key_leaves, shape};
use common::u16_at;

const PS: usize = 4096;

/// `k8s-0.005.member.db` with the count of page `page` lowered by `by`.
fn shrunk(page: usize, by: u16) -> Vec<u8> {
    let mut d = common::bytes("k8s-0.005.member.db");
    let n = u16_at(&d, page * PS + 10) as u16;
    d[page * PS + 10..page * PS + 12].copy_from_slice(&(n - by).to_le_bytes());
    d
}

fn every_record(f: &std::path::Path) -> String {
    let out =
        common::boltscope().args(["--no-index", "dump", "--all-revisions", "--show-secrets"]).arg(f).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_count_that_shrank_is_damage_to_every_reader_and_salvage_restores_it() {
    let d = common::bytes("k8s-0.005.member.db");
    let leaf = key_leaves(&d).into_iter().map(|(_, p)| p).find(|&p| u16_at(&d, p * PS + 10) >= 2).unwrap();
    let root = shape(&d).key_root;
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("orig.db");
    std::fs::write(&orig, &d).unwrap();
    let want = every_record(&orig);
    for (page, by) in [(leaf, 1), (root, 1), (root, u16_at(&d, root * PS + 10) as u16 - 1)] {
        let what = format!("page {page} count -{by}");
        let f = tmp.path().join(format!("p{page}-{by}.db"));
        std::fs::write(&f, shrunk(page, by)).unwrap();
        for args in
            [&["check"][..], &["status"], &["inspect"], &["du"], &["dump"], &["hashkv"], &["get", "", "--from-key"]]
        {
            let out = common::boltscope().arg("--no-index").arg(args[0]).arg(&f).args(&args[1..]).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{what}: {args:?}");
            let text = [out.stdout, out.stderr].concat();
            assert!(String::from_utf8_lossy(&text).contains("element_misplaced"), "{what}: {args:?}");
        }
        let dst = tmp.path().join(format!("p{page}-{by}.out"));
        assert_eq!(common::compact(&[], &f, &dst).status.code(), Some(1), "{what}: compact refuses");
        let out = common::boltscope().args(["--no-index", "salvage"]).arg(&f).arg("-o").arg(&dst).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(report.contains("a count that shrank"), "{what}: {report}");
        if page == leaf {
            assert_eq!(out.status.code(), Some(1), "{what}: {report}");
            assert!(report.contains("uncertain "), "{what}: {report}");
        } else {
            assert_eq!(out.status.code(), Some(0), "{what}: {report}");
            assert!(report.contains("nothing lost"), "{what}: {report}");
        }
        assert_eq!(every_record(&dst), want, "{what}: every record back");
    }
}

#[test]
fn a_count_lowered_in_an_inline_bucket_or_to_zero_is_told_by_every_reader() {
    // tiny-1.member.db: the root is leaf page 4 (its count at byte 16394, 10 buckets), the `key`
    // bucket is inline in it (its page's count at byte 16854, 8 records). Review 42d: salvage
    // left an inline page's shrunk count as it was ("nothing lost", the head revision gone), and a
    // count lowered to 0 passed every reader (an empty bucket, an empty root). Salvage fell back to
    // an older root (no revision in it) when the root's count shrank, or an inline one went to 0.
    let d = common::bytes("tiny-1.member.db");
    assert_eq!((u16_at(&d, 16392), u16_at(&d, 16394), u16_at(&d, 16852), u16_at(&d, 16854)), (2, 10, 2, 8));
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("orig.db");
    std::fs::write(&orig, &d).unwrap();
    for (at, count, kind, page) in [
        (16854, 7u16, "element_misplaced", "inline bucket page"),
        (16854, 0, "bucket_malformed", "inline bucket page"),
        (16394, 9, "element_misplaced", "leaf page 4"),
        (16394, 0, "element_misplaced", "leaf page 4"),
    ] {
        let what = format!("count at {at} set to {count}");
        let mut e = d.clone();
        e[at..at + 2].copy_from_slice(&count.to_le_bytes());
        let f = tmp.path().join(format!("c{at}-{count}.db"));
        std::fs::write(&f, &e).unwrap();
        for args in [&["check"][..], &["status"], &["inspect"], &["du"], &["dump"], &["hashkv"], &["get", "key1"]] {
            let out = common::boltscope().arg("--no-index").arg(args[0]).arg(&f).args(&args[1..]).output().unwrap();
            assert_eq!(out.status.code(), Some(1), "{what}: {args:?}");
            let text = [out.stdout, out.stderr].concat();
            assert!(String::from_utf8_lossy(&text).contains(kind), "{what}: {args:?}");
        }
        let dst = tmp.path().join(format!("c{at}-{count}.out"));
        let out = common::boltscope().args(["--no-index", "salvage"]).arg(&f).arg("-o").arg(&dst).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout).to_string();
        // Salvage reads every count back from the layout, the root's and a count of 0 too (before,
        // it fell back to an older root found by scanning, which held no revision).
        assert!(report.contains(page) && report.contains("a count that shrank"), "{what}: {report}");
        assert!(report.contains("named by meta page"), "{what}: {report}");
        // The `key` bucket's records past its count are uncertain; the root's buckets are not.
        if at == 16854 {
            assert_eq!(out.status.code(), Some(1), "{what}: {report}");
            assert!(report.contains("uncertain key1"), "{what}: {report}");
        } else {
            assert_eq!(out.status.code(), Some(0), "{what}: {report}");
            assert!(report.contains("nothing lost"), "{what}: {report}");
        }
        assert_eq!(every_record(&dst), every_record(&orig), "{what}");
    }
}

#[test]
fn a_compacted_file_s_root_count_lowered_to_zero_is_salvaged_whole_at_its_compaction() {
    // churn-0.005.member.db: compacted, its root a leaf of 10 buckets. The root's count set to 0
    // made salvage read an older root found by scanning.
    let d = common::bytes("churn-0.005.member.db");
    let meta = |i: usize| (common::u64_at(&d, i * PS + 16 + 48), common::u64_at(&d, i * PS + 16 + 16));
    let (_, root) = meta(0).max(meta(1));
    let at = root as usize * PS + 10;
    assert_eq!(u16_at(&d, at), 10, "the root lists the ten buckets");
    let tmp = tempfile::tempdir().unwrap();
    let orig = tmp.path().join("orig.db");
    std::fs::write(&orig, &d).unwrap();
    let mut e = d.clone();
    e[at..at + 2].copy_from_slice(&0u16.to_le_bytes());
    let (f, dst) = (tmp.path().join("zero.db"), tmp.path().join("zero.out"));
    std::fs::write(&f, &e).unwrap();
    let out =
        common::boltscope().args(["--no-index", "salvage", "-w", "json"]).arg(&f).arg("-o").arg(&dst).output().unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(r["root"]["from"], "meta", "{r}");
    assert_eq!(r["compact_revision"], common::served_compaction("churn-0.005"), "{r}");
    assert_eq!(every_record(&dst), every_record(&orig));
}

#[test]
fn a_root_emptied_with_one_element_header_damaged_is_no_sound_empty_database() {
    // Review 43c: tiny-1.member.db's root (leaf page 4, ten buckets) with its count set to 0 and
    // one bit of its fourth element's key size flipped read as an empty bbolt database: `check`
    // said OK and salvage copied it "whole", nothing lost.
    let mut d = common::bytes("tiny-1.member.db");
    let root = 4 * PS;
    d[root + 10..root + 12].copy_from_slice(&0u16.to_le_bytes());
    d[root + 16 + 3 * 16 + 8] ^= 0x10; // element 3: flags u32, pos u32, ksize u32
    let tmp = tempfile::tempdir().unwrap();
    let (f, dst) = (tmp.path().join("root0.db"), tmp.path().join("root0.out"));
    std::fs::write(&f, &d).unwrap();
    let out = common::boltscope().args(["--no-index", "check"]).arg(&f).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("element_misplaced") && text.contains("page 4"), "{text}");
    let out = common::boltscope().args(["--no-index", "salvage"]).arg(&f).arg("-o").arg(&dst).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(!report.contains("nothing lost") && !report.contains("reads whole"), "{report}");
}
