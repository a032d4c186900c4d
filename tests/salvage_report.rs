//! What `salvage`'s report says, in `check`'s words: each thing named once, a skipped page under
//! the kind `check` gives it, revisions counted alike whether the tree was copied or gathered,
//! keys named and values never. The damaged files are fixtures changed at offsets read from the
//! raw layout (tests/common/damage.rs); expected counts come from real bbolt's answers.

mod common;
use boltscope::compact::salvage;
use common::damage;
use serde_json::Value;

fn salvage_cli(args: &[&str], src: &std::path::Path, dst: &str) -> std::process::Output {
    common::boltscope().arg("salvage").args(args).arg(src).args(["-o", dst]).output().unwrap()
}

#[test]
fn the_report_names_things_once_and_in_the_right_words() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst) = (tmp.path().join("src.db"), tmp.path().join("copy.db"));
    // A copy counts the entries of every bucket: etcdutl's TOTAL KEYS, not revisions.
    let st = common::answer_json("k8s-0.005.snap.db", "status.json").unwrap();
    let out = salvage_cli(&[], &common::path("k8s-0.005.member.db", &tmp), dst.to_str().unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{} entries recovered (the tree reads whole", st["totalKey"])), "{text}");
    // The older meta page invalid: copied whole, with compact's note on what the copy does not carry.
    let mut d = common::bytes("k8s-0.005.member.db");
    let older = 1 - damage::shape(&d).active_meta;
    d[older * 4096 + 72] ^= 0xFF;
    std::fs::write(&src, &d).unwrap();
    let out = salvage_cli(&["--force"], &src, dst.to_str().unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("note      ") && text.contains("1 problem(s) outside the copied tree"), "{text}");
    // A skipped page names its bucket once.
    let mut d = common::bytes("k8s-0.005.member.db");
    damage::one_page("branch cycle", &mut d);
    std::fs::write(&src, &d).unwrap();
    let out = salvage_cli(&["--force"], &src, dst.to_str().unwrap());
    let text = String::from_utf8_lossy(&out.stdout);
    let skipped = text.lines().find(|l| l.starts_with("  skipped")).unwrap();
    assert_eq!(skipped.matches("[bucket key]").count(), 1, "{skipped}");
}

#[test]
fn secret_values_are_never_printed() {
    // Residue of deleted Secrets (fixtures/residue): salvage it with the header of its key
    // bucket's only page (page 2, the root page's `key` entry says) scribbled on, so every page is
    // carved, the Secrets' records too; the report names keys, never values.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = std::fs::read(common::dir().join("residue/residue-1.snap.db")).unwrap();
    d[2 * 4096..2 * 4096 + 16].fill(0xFF);
    let src = tmp.path().join("residue.db");
    std::fs::write(&src, &d).unwrap();
    for w in ["text", "json"] {
        let out = salvage_cli(&["-w", w, "--force"], &src, tmp.path().join("copy.db").to_str().unwrap());
        let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(!String::from_utf8_lossy(&all).contains("RESIDUE-MARKER"), "{w}");
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_branch_child_past_the_high_water_mark_is_named_as_check_names_it() {
    // A branch element of the key bucket's root whose child id lies past the high-water mark: the
    // first element (nothing readable before it) and one in the middle. salvage skips it under
    // check's kind for it, page_out_of_bounds, not as keys out of order.
    let tmp = tempfile::tempdir().unwrap();
    // A child that is a meta page is a second claim on it: check says multiple_references.
    let hwm = damage::shape(&common::bytes("k8s-0.005.snap.db")).hwm;
    for (elem, child, kind) in
        [(0, hwm + 5, "page_out_of_bounds"), (3, hwm + 5, "page_out_of_bounds"), (3, 0, "multiple_references")]
    {
        let mut d = common::bytes("k8s-0.005.snap.db");
        let shape = damage::shape(&d);
        common::put_u64(&mut d, shape.key_root * 4096 + 16 + 16 * elem + 8, child);
        let src = tmp.path().join(format!("child-{elem}-{child}.db"));
        std::fs::write(&src, &d).unwrap();
        let out = common::run(["check", "-w", "json", src.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["problems"][0]["kind"], kind, "element {elem}: {v}");
        let out = salvage_cli(&["-w", "json", "--force"], &src, tmp.path().join("copy.db").to_str().unwrap());
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let skipped = v["pages_skipped"].as_array().unwrap();
        assert_eq!(skipped.len(), 1, "element {elem}: {skipped:?}");
        assert_eq!(
            (skipped[0]["kind"].as_str(), skipped[0]["page"].as_u64()),
            (Some(kind), Some(shape.key_root as u64)),
            "element {elem}: {skipped:?}"
        );
        let want = format!("element {elem} names page {child}");
        assert!(skipped[0]["message"].as_str().unwrap().contains(&want), "element {elem}: {skipped:?}");
    }
}

#[test]
fn a_copy_counts_the_key_buckets_revisions_as_a_salvage_does() {
    // `revisions.recovered` is the key bucket's records on both paths: a tree that reads whole
    // (copied) and one gathered. Real bbolt's count of the key bucket's entries is the answer.
    let tmp = tempfile::tempdir().unwrap();
    for file in ["k8s-0.005.snap.db", "churn-0.005.member.db"] {
        let stats = common::answer_json(file, "oracle-stats.json").unwrap();
        let want = stats["key"]["KeyN"].as_u64().unwrap();
        let out = salvage_cli(
            &["-w", "json", "--force"],
            &common::path(file, &tmp),
            tmp.path().join("copy.db").to_str().unwrap(),
        );
        assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["method"], "copy", "{file}");
        assert_eq!(
            (v["revisions"]["recovered"].as_u64(), v["revisions"]["from_tree"].as_u64()),
            (Some(want), Some(want)),
            "{file}"
        );
        let (_, gathered) = salvage::salvage_bytes(&common::bytes(file), 1.0).unwrap();
        assert_eq!(gathered.revisions.recovered, want, "{file}");
        // The compaction the file records, on both paths: what etcd's HashKV of the restored
        // server reports (it was null for a copy).
        let stem = file.split(".snap").next().unwrap().split(".member").next().unwrap();
        let want = common::server_compact_revision(stem) as u64;
        assert_eq!(v["compact_revision"].as_u64(), Some(want), "{file}: {v}");
        assert_eq!(gathered.compact_revision, Some(want), "{file}");
    }
}

#[test]
fn a_copy_counts_the_entries_of_nested_buckets_too() {
    // Review 36a: a copy of a file with nested buckets said "2 668 entries recovered" (etcdutl's
    // TOTAL KEYS, a nested bucket counted as one) where it copied 5 142, as compact says. Real
    // bbolt's dump of the file lists each entry as one K row.
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let file = "bolt-4k-synced.db";
    let mut dump = String::new();
    let gz = std::fs::File::open(common::dir().join(format!("{file}.oracle-dump.txt.gz"))).unwrap();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut dump).unwrap();
    let want = dump.lines().filter(|l| l.starts_with("K ")).count() as u64;
    let dst = tmp.path().join("copy.db");
    let out = salvage_cli(&["-w", "json"], &common::path(file, &tmp), dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["method"].as_str(), v["entries_copied"].as_u64()), (Some("copy"), Some(want)), "{v}");
    let text = salvage_cli(&["--force"], &common::path(file, &tmp), dst.to_str().unwrap());
    let shown = String::from_utf8_lossy(&text.stdout).replace(' ', "");
    assert!(shown.contains(&format!("{want}entriesrecovered")), "{shown}");
}

/// tiny-1.member.db with the value of its `key` bucket's `nth` record from the end made
/// undecodable (a protobuf group start), written to `dir`; and that record's main revision.
fn undecodable(dir: &std::path::Path, nth: usize) -> (std::path::PathBuf, u64) {
    let mut d = common::bytes("tiny-1.member.db");
    let (at, main) = {
        let view = boltscope::DbView::new(&d).unwrap();
        let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let mut recs = Vec::new();
        boltscope::bbolt::cursor::for_each(&view, kb, &mut |e| {
            let main = u64::from_be_bytes(e.key[..8].try_into().unwrap());
            recs.push((e.value.as_ptr() as usize - d.as_ptr() as usize, main));
        })
        .unwrap();
        recs[recs.len() - 1 - nth]
    };
    d[at] = 0x0b;
    let src = dir.join(format!("bad-record-{nth}.db"));
    std::fs::write(&src, &d).unwrap();
    (src, main)
}

#[test]
fn an_undecodable_record_is_named_as_check_names_it_and_its_revision_is_lost() {
    // tiny-1 was never compacted; its last record made undecodable. `check` names the record;
    // salvage's skipped line must say the same thing at the same offset; its revision (etcdutl's
    // REVISION of the file) certainly existed and is lost (not "after 8 may have existed"), and
    // revision 1 is not: etcd's first write is revision 2. A restored cluster would give it again.
    let tmp = tempfile::tempdir().unwrap();
    let (src, main) = undecodable(tmp.path(), 0);
    let revision = common::answer_json("tiny-1.member.db", "status.json").unwrap()["revision"].as_u64().unwrap();
    assert_eq!(main, revision);
    let dst = tmp.path().join("salvaged.db");
    let check = common::run(["--no-index", "check", "-w", "json", src.to_str().unwrap()]);
    let check: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let named = &check["problems"][0];
    assert_eq!(named["kind"], "invalid_key_value", "{check}");
    let out = salvage_cli(&["-w", "json"], &src, dst.to_str().unwrap());
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped = rep.to_string();
    assert!(skipped.contains("invalid_key_value"), "{rep}");
    assert!(skipped.contains(named["message"].as_str().unwrap()), "the same words: {rep}");
    assert!(!skipped.contains("element_outside_page"), "{rep}");
    assert_eq!(rep["revision_ranges_lost"], serde_json::json!([[revision, revision]]), "{rep}");
    assert_eq!((&rep["revisions_lost_from"], &rep["revisions_possibly_lost_after"]), (&Value::Null, &Value::Null));
    assert_eq!(rep["last_revision"], revision - 1, "{rep}");
    let note = format!("revision {revision} existed and its record cannot be read");
    assert!(rep["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().starts_with(&note)), "{rep}");
    // Every live key read may have changed at that revision.
    assert_eq!(rep["live_keys_at_risk"], rep["live_keys"], "{rep}");
}

#[test]
fn an_undecodable_record_inside_the_history_loses_its_revision_only() {
    // A record before the last one: its revision is lost, the ones after it are read, and only
    // the live keys whose newest record is older than it may have changed there.
    let tmp = tempfile::tempdir().unwrap();
    let (src, main) = undecodable(tmp.path(), 3);
    let revision = common::answer_json("tiny-1.member.db", "status.json").unwrap()["revision"].as_u64().unwrap();
    let dst = tmp.path().join("salvaged.db");
    let out = salvage_cli(&["-w", "json"], &src, dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1));
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rep["revision_ranges_lost"], serde_json::json!([[main, main]]), "{rep}");
    assert_eq!(rep["last_revision"], revision, "{rep}");
    assert_eq!((&rep["revisions_lost_from"], &rep["revisions_possibly_lost_after"]), (&Value::Null, &Value::Null));
    let (risk, live) = (rep["live_keys_at_risk"].as_u64().unwrap(), rep["live_keys"].as_u64().unwrap());
    assert!(risk > 0 && risk < live, "{rep}");
}

#[test]
fn one_unreadable_record_of_a_transaction_loses_its_revision() {
    // cluster-0.1: a revision with several records (a transaction), the value of its second made
    // undecodable. Its other records read, but the revision is lost all the same (a key deleted
    // there would come back), and the live keys older than it are at risk.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("cluster-0.1.snap.db");
    let (at, main) = {
        let view = boltscope::DbView::new(&d).unwrap();
        let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let mut recs: Vec<(usize, u64, u64)> = Vec::new();
        boltscope::bbolt::cursor::for_each(&view, kb, &mut |e| {
            let main = u64::from_be_bytes(e.key[..8].try_into().unwrap());
            let sub = u64::from_be_bytes(e.key[9..17].try_into().unwrap());
            recs.push((e.value.as_ptr() as usize - d.as_ptr() as usize, main, sub));
        })
        .unwrap();
        let last = recs.last().unwrap().1;
        let (at, main, _) = *recs.iter().rev().find(|r| r.2 == 1 && r.1 < last).expect("a transaction");
        (at, main)
    };
    d[at] = 0xff;
    let src = tmp.path().join("txn.db");
    std::fs::write(&src, &d).unwrap();
    let dst = tmp.path().join("out.db");
    let out = salvage_cli(&["-w", "json"], &src, dst.to_str().unwrap());
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lost = rep["revision_ranges_lost"].as_array().unwrap();
    let covers = lost.iter().any(|r| r[0].as_u64().unwrap() <= main && main <= r[1].as_u64().unwrap());
    assert!(covers, "revision {main} lost: {}", rep["revision_ranges_lost"]);
    assert!(rep["live_keys_at_risk"].as_u64().unwrap() > 0, "{}", rep["live_keys_at_risk"]);
}

#[test]
fn a_key_that_is_not_utf8_is_named_with_its_bytes_escaped() {
    // tiny-1 with key0's only record renamed to `ke\xff0` (same length) and the last record made
    // undecodable: every live key is at risk, and that one is named byte for byte, not with
    // replacement characters.
    let tmp = tempfile::tempdir().unwrap();
    let (src, _) = undecodable(tmp.path(), 0);
    let mut d = std::fs::read(&src).unwrap();
    let at = d.windows(6).position(|w| w == b"\x0a\x04key0").expect("key0's record") + 4;
    d[at] = 0xff;
    std::fs::write(&src, &d).unwrap();
    let dst = tmp.path().join("out.db");
    let out = salvage_cli(&["-w", "json"], &src, dst.to_str().unwrap());
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    let named: Vec<&str> =
        rep["live_keys_at_risk_first"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(named.contains(&"ke\\xff0"), "{named:?}");
    let text = salvage_cli(&["--force"], &src, dst.to_str().unwrap());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("at risk   ke\\xff0") && !text.contains('\u{fffd}'), "{text}");
}

#[test]
fn a_copy_without_etcds_meta_bucket_is_not_called_restorable() {
    // The `meta` bucket renamed in every leaf that names it (the tree reads whole, trailer
    // recomputed): the copy has no `meta`, which `etcdutl snapshot restore` 3.5.1 fails on (it
    // exits 1, as a real run of a snapshot without one showed), yet it was called restorable.
    use sha2::{Digest, Sha256};
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("tiny-1.snap.db");
    let body = d.len() - 32;
    let mut renamed = 0;
    for page in (2 * 4096..body).step_by(4096) {
        if common::u16_at(&d, page + 8) != 0x02 {
            continue;
        }
        for i in 0..common::u16_at(&d, page + 10) {
            let e = page + 16 + 16 * i;
            let (flags, pos, ks) = (common::u32_at(&d, e), common::u32_at(&d, e + 4), common::u32_at(&d, e + 8));
            if flags & 1 == 1 && &d[e + pos..e + pos + ks] == b"meta" {
                d[e + pos + 1] = b'x';
                renamed += 1;
            }
        }
    }
    assert!(renamed > 0);
    let sum = Sha256::digest(&d[..body]);
    d[body..].copy_from_slice(&sum);
    let src = tmp.path().join("no-meta.snap.db");
    std::fs::write(&src, &d).unwrap();
    let dst = tmp.path().join("copy.db");
    let out = salvage_cli(&["-w", "json"], &src, dst.to_str().unwrap());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["trailer"].as_bool(), v["restorable"].as_bool()), (Some(true), Some(false)), "{v}");
    let text = salvage_cli(&["--force"], &src, dst.to_str().unwrap());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("no etcd `meta` bucket"), "{text}");
}

/// Takes element `gone` out of the page at byte offset `page` as `bbolt surgery` would leave it:
/// the element headers after it moved up one slot, each still pointing at its key (its position
/// field, at `pos_at` in the header: 0 in a branch's, 4 in a leaf's, is relative to the header),
/// the last slot zeroed, the count lowered, the keys and values left where they were; the trailer
/// made again over it.
fn take_out(d: &mut [u8], page: usize, gone: usize, pos_at: usize) {
    let count = common::u16_at(d, page + 10);
    let header = |i: usize| page + 16 + i * 16;
    for i in gone..count - 1 {
        let at = header(i + 1) + pos_at;
        let pos = u32::from_le_bytes(d[at..at + 4].try_into().unwrap()) + 16;
        d.copy_within(header(i + 1)..header(i + 1) + 16, header(i));
        d[header(i) + pos_at..header(i) + pos_at + 4].copy_from_slice(&pos.to_le_bytes());
    }
    d[header(count - 1)..header(count)].fill(0);
    d[page + 10..page + 12].copy_from_slice(&(count as u16 - 1).to_le_bytes());
    common::reseal(d);
}

#[test]
fn a_branch_element_taken_out_loses_no_record_its_child_still_holds() {
    // An element taken out of the key bucket's branch page as `bbolt surgery` would leave it: the
    // headers after it moved up one slot (each still pointing at its key), the count lowered,
    // the keys left where they were. bbolt reads the page and never reaches the child; `check`
    // fails it (element_misplaced). salvage took the first element for lost (its key is not
    // right after the headers) and left the child's records out as residue, naming none of their
    // keys (review 46a F1). Now every listed element is followed, the skipped key bytes give the
    // range the lost child held, and its records, carved, are kept as uncertain: the copy holds
    // what the undamaged file holds (etcdutl's HASH of it, from its answer).
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.snap.db");
    let (_, v) = common::checks::root_entry(&d, b"key");
    let root = common::u64_at(&d, v) as usize * 4096;
    let count = common::u16_at(&d, root + 10);
    let gone = count / 2;
    let header = |i: usize| root + 16 + i * 16;
    let child = common::u64_at(&d, header(gone) + 8) as usize * 4096;
    take_out(&mut d, root, gone, 0);
    // The revisions of the child no element names any more.
    let view = boltscope::DbView::new(&d).unwrap();
    let leaf = view.page(boltscope::bbolt::order::PageId(child as u64 / 4096)).unwrap();
    let revs: Vec<u64> = (0..usize::from(leaf.count))
        .map(|i| u64::from_be_bytes(leaf.leaf_elem(i).unwrap().key[..8].try_into().unwrap()))
        .collect();
    let src = tmp.path().join("src.db");
    std::fs::write(&src, &d).unwrap();
    let check = common::boltscope().args(["--no-index", "check", "-w", "json"]).arg(&src).output().unwrap();
    let c: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert!(c["problems"].as_array().unwrap().iter().any(|p| p["kind"] == "element_misplaced"), "{c}");
    let dst = tmp.path().join("copy.db");
    let out = salvage_cli(&["-w", "json", "--trailer", "always"], &src, dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hash = common::answer("k8s-0.005.snap.db", "status.simple").unwrap();
    assert_eq!(r["dst_status"]["hash"].as_str(), hash.split(',').next(), "{r}");
    let ranges = r["revision_ranges_possibly_lost"].as_array().unwrap();
    for rev in &revs {
        let within = ranges.iter().any(|x| x[0].as_u64() <= Some(*rev) && Some(*rev) <= x[1].as_u64());
        assert!(within, "revision {rev} of the lost child is named: {r}");
    }
    assert!(r["uncertain_keys"].as_u64().unwrap() >= 1, "{r}");
}

#[test]
fn a_leaf_element_taken_out_is_no_lossless_salvage() {
    // The same taken out of a leaf: its record stays in the page's bytes, which no element lists.
    // salvage called the copy lossless, exit 0, and the record was gone (review 46c). Its key's
    // range is now told lost: not lossless, exit 1, the revision named; and the record is read
    // back from those bytes, so the copy holds what the undamaged file holds (etcdutl's HASH of
    // it, from its answer).
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.snap.db");
    // The pages the tree does not reach zeroed first (their bytes are no part of etcdutl's HASH):
    // the record is then nowhere but in the leaf's unlisted bytes, not in an older copy of the leaf.
    let unreached: Vec<usize> = {
        let view = boltscope::DbView::new(&d).unwrap();
        let (_, s, reached) = boltscope::bbolt::structure::walk_reached(&view, &());
        assert!(s.is_clean());
        (2..d.len() / 4096).filter(|&id| !reached.get(id as u64)).collect()
    };
    assert!(unreached.len() > 10, "{}", unreached.len());
    for id in unreached {
        d[id * 4096..(id + 1) * 4096].fill(0);
    }
    let leaf = common::checks::first_key_leaf(&d);
    let gone = 3;
    let rev = {
        let view = boltscope::DbView::new(&d).unwrap();
        let page = view.page(boltscope::bbolt::order::PageId(leaf as u64 / 4096)).unwrap();
        u64::from_be_bytes(page.leaf_elem(gone).unwrap().key[..8].try_into().unwrap())
    };
    take_out(&mut d, leaf, gone, 4);
    let src = tmp.path().join("src.db");
    std::fs::write(&src, &d).unwrap();
    let dst = tmp.path().join("copy.db");
    let out = salvage_cli(&["-w", "json", "--trailer", "always"], &src, dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["lossless"], false, "{r}");
    let ranges = r["revision_ranges_possibly_lost"].as_array().unwrap();
    assert!(ranges.iter().any(|x| x[0].as_u64() <= Some(rev) && Some(rev) <= x[1].as_u64()), "{rev}: {r}");
    let hash = common::answer("k8s-0.005.snap.db", "status.simple").unwrap();
    assert_eq!(r["dst_status"]["hash"].as_str(), hash.split(',').next(), "{r}");
}
