//! `boltscope compact` on every fixture: the copy's content equals what real bbolt dumped of the
//! source (fixtures/*.oracle-dump.txt.gz), its status equals etcdutl's answer for the source,
//! `--revision` agrees with `inspect`'s prediction, and progress is reported. The refusals and
//! safety rules are in `compact_refusals.rs` and `compact_safety.rs`.

mod common;
use boltscope::bbolt::cursor::{self, BucketRoot};
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::DbView;
use std::io::Read;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The copy dumped in boltoracle's format: `B path seq=N`, then `K path key value` per pair,
/// sub-buckets recursively in key order.
fn dump(view: &DbView<'_>) -> String {
    fn bucket(view: &DbView<'_>, path: &str, root: BucketRoot<'_>, seq: u64, out: &mut String) {
        out.push_str(&format!("B {path} seq={seq}\n"));
        let mut entries = Vec::new();
        cursor::for_each(view, root, &mut |e| entries.push(*e)).unwrap();
        for e in entries {
            if e.is_bucket() {
                let sub = cursor::bucket_root(view, e.value).unwrap();
                let seq = view.order.u64(e.value, 8).unwrap();
                bucket(view, &format!("{path}/{}", hex(e.key)), sub, seq, out);
            } else {
                out.push_str(&format!("K {path} {} {}\n", hex(e.key), hex(e.value)));
            }
        }
    }
    let mut out = String::new();
    let mut tops = Vec::new();
    cursor::for_each(view, cursor::root(view), &mut |e| tops.push(*e)).unwrap();
    for e in tops {
        let root = cursor::bucket_root(view, e.value).unwrap();
        bucket(view, &hex(e.key), root, view.order.u64(e.value, 8).unwrap(), &mut out);
    }
    out
}

/// Real bbolt's dump of a fixture, when it is committed (every fixture but cluster-0.1, whose
/// 3.3 MB dump is left out for size: its copies are held to etcdutl's status answers here, and
/// to real bbolt's own dump live in compact_interop).
fn real_dump(name: &str) -> Option<String> {
    let f = std::fs::File::open(common::dir().join(format!("{name}.oracle-dump.txt.gz"))).ok()?;
    let mut s = String::new();
    flate2::read::GzDecoder::new(f).read_to_string(&mut s).unwrap();
    Some(s)
}

/// The copy's content equals real bbolt's dump of the source, where one is committed; returns
/// whether it was compared.
fn same_as_real_dump(view: &DbView<'_>, name: &str) -> bool {
    let Some(want) = real_dump(name) else {
        assert!(name.starts_with("cluster-"), "{name}: no committed oracle dump");
        return false;
    };
    assert_eq!(dump(view), want, "{name}: content differs from real bbolt's dump of the source");
    true
}

#[test]
fn every_fixture_copies_to_what_real_bbolt_saw_in_the_source() {
    let tmp = tempfile::tempdir().unwrap();
    for name in common::databases() {
        let src = common::path(&name, &tmp);
        let dst = tmp.path().join(format!("{name}.compact"));
        let out = common::compact(&[], &src, &dst);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let data = std::fs::read(&dst).unwrap();
        let view = DbView::new(&data).unwrap();
        same_as_real_dump(&view, &name);
        let r = status::status(&view, EtcdVersion::V35).unwrap();
        assert!(r.structure.is_clean(), "{name}: {:?}", r.structure.problems);
        assert_eq!(r.structure.free_pages, 0, "{name}: a compacted copy has no free page");
        assert_eq!(view.page_size, DbView::new(&common::bytes(&name)).unwrap().page_size, "{name}: page size kept");
        if let Some(want) = common::answer_json(&name, "status.json") {
            let got = serde_json::to_value(&r.status).unwrap();
            for k in ["hash", "revision", "totalKey"] {
                assert_eq!(got[k], want[k], "{name}: {k} equals etcdutl's answer for the source");
            }
        }
        // The trailer follows the source (auto), and is the sha256 of the rest.
        let snap = name.ends_with(".snap.db");
        assert_eq!(boltscope::etcd::trailer::verify(&data).map(|t| t.ok()), snap.then_some(true), "{name}");
    }
}

#[test]
fn another_page_size_and_byte_order_hold_the_same_content() {
    // Every fixture to the other byte order and, in turn, to each page size that is not its own.
    let tmp = tempfile::tempdir().unwrap();
    let sizes = [1024u64, 16384, 65536, 4096];
    for (i, name) in common::databases().into_iter().enumerate() {
        let src = common::path(&name, &tmp);
        let sv = common::bytes(&name);
        let sv = DbView::new(&sv).unwrap();
        let ps = (0..4).map(|k| sizes[(i + k) % 4]).find(|&p| p != sv.page_size).unwrap();
        let (order, want_order) = match sv.order {
            boltscope::bbolt::page::ByteOrder::Little => ("big", boltscope::bbolt::page::ByteOrder::Big),
            boltscope::bbolt::page::ByteOrder::Big => ("little", boltscope::bbolt::page::ByteOrder::Little),
        };
        let dst = tmp.path().join(format!("{name}.{ps}.{order}"));
        let out = common::compact(&["--page-size", &ps.to_string(), "--byte-order", order, "-w", "json"], &src, &dst);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((rep["page_size"].as_u64(), rep["byte_order"].as_str()), (Some(ps), Some(order)), "{name}");
        let data = std::fs::read(&dst).unwrap();
        let view = DbView::new(&data).unwrap();
        assert_eq!((view.page_size, view.order), (ps, want_order), "{name}: the copy's layout as asked");
        // bbolt's Open reads 4096 bytes to find the page size and refuses a shorter file (the
        // fill-1 backend in 1 KiB pages takes three pages: padded).
        assert!(data.len() >= 4096, "{name}: {} bytes, which real bbolt refuses", data.len());
        same_as_real_dump(&view, &name);
        let r = status::status(&view, EtcdVersion::V35).unwrap();
        assert!(r.structure.is_clean(), "{name}: {:?}", r.structure.problems);
        assert_eq!(r.structure.free_pages, 0, "{name}");
        // etcdutl's figures as real bbolt computed them for the source (the big-endian one too).
        let want = common::answer_json(&name, "oracle-status.json").unwrap();
        let got = serde_json::to_value(&r.status).unwrap();
        for k in ["hash", "revision", "totalKey"] {
            assert_eq!(got[k], want[k], "{name}: {k} of the copy vs real bbolt's of the source");
        }
    }
    // Sizes bbolt cannot be given are refused before anything is written.
    let src = common::path("tiny-1.snap.db", &tmp);
    let d = tmp.path().join("refused.db");
    for ps in ["512", "3000", "131072", "0", "4k"] {
        let out = common::compact(&["--page-size", ps], &src, &d);
        assert_eq!(out.status.code(), Some(2), "--page-size {ps}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("power of two from 1024 to 65536"), "{ps}");
        assert!(!d.exists());
    }
}

#[test]
fn revision_latest_agrees_with_the_prediction_and_records_the_compaction() {
    let tmp = tempfile::tempdir().unwrap();
    for name in common::databases().into_iter().filter(|n| !n.starts_with("bolt-")) {
        let src = common::path(&name, &tmp);
        let dst = tmp.path().join(format!("{name}.rev"));
        let out = common::compact(&["--revision", "latest", "-w", "json"], &src, &dst);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let data = std::fs::read(&dst).unwrap();
        let view = DbView::new(&data).unwrap();
        let pred =
            boltscope::analysis::inspect::inspect(&DbView::new(&common::bytes(&name)).unwrap(), &Default::default());
        assert_eq!(
            view.total_size(),
            pred.prediction.as_ref().unwrap().compact_size,
            "{name}: prediction and real output agree"
        );
        let real = common::answer_json(&name, "compact-defrag.json").unwrap();
        assert_eq!(rep["revision"], real["compact_revision"], "{name}: compacted where etcd did");
        // What compaction keeps: etcd's own count after compact + defrag, less the keys its
        // restore and server rewrote (compare live keys instead, which restore does not touch).
        let after = boltscope::analysis::inspect::inspect(&view, &Default::default());
        let before = pred.mvcc.unwrap();
        let m = after.mvcc.unwrap();
        assert_eq!(m.live_keys, before.live_keys, "{name}");
        assert_eq!(m.revisions, before.compaction.keep_entries, "{name}");
        assert_eq!(m.compaction.delete_entries, 0, "{name}: compacting again deletes nothing");
        let e = after.etcd.unwrap();
        let rev = rep["revision"].as_u64();
        assert_eq!((e.scheduled_compact_revision, e.finished_compact_revision), (rev, rev), "{name}");
    }
}

#[test]
fn fill_percent_changes_the_layout_as_predicted() {
    // At fill 0.9 the copy is what etcd's defrag writes, less the two pages a fresh file leaves
    // free: the fixtures' real `etcdutl defrag` answers give the size.
    let tmp = tempfile::tempdir().unwrap();
    for name in ["k8s-0.005.snap.db", "churn-0.005.member.db"] {
        let src = common::path(name, &tmp);
        let dst = tmp.path().join("f.db");
        let _ = std::fs::remove_file(&dst);
        assert!(common::compact(&["--revision", "latest", "--fill", "0.9"], &src, &dst).status.success());
        let real = common::answer_json(name, "compact-defrag.json").unwrap();
        let defrag = real["after_defrag"]["status"]["totalSize"].as_u64().unwrap();
        let data = std::fs::read(&dst).unwrap();
        assert_eq!(DbView::new(&data).unwrap().total_size(), defrag - 2 * 4096, "{name}");
    }
}

#[test]
fn progress_counts_every_leaf_page_read_up_to_its_total() {
    for name in common::databases() {
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap();
        // Leaf pages of the root bucket and of every top-level bucket, counted by walking them.
        let ps = view.page_size;
        let mut leaves = 0u64;
        cursor::for_each_leaf(&view, cursor::root(&view), &mut |_| {
            leaves += 1;
            Ok(())
        })
        .unwrap();
        cursor::for_each(&view, cursor::root(&view), &mut |e| {
            if let Some(b) = e.is_bucket().then(|| cursor::bucket_root(&view, e.value)).flatten() {
                cursor::for_each_leaf(&view, b, &mut |_| {
                    leaves += 1;
                    Ok(())
                })
                .unwrap();
            }
        })
        .unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let opt = boltscope::write::copier::Options::default();
        boltscope::compact::copy_to(
            &view,
            &opt,
            None,
            Vec::new(),
            Box::new(move |d, t| s2.lock().unwrap().push((d, t))),
        )
        .unwrap();
        let seen = seen.lock().unwrap();
        // Small trees: the estimate reads every branch page, so it is exact.
        assert_eq!(boltscope::write::copier::progress_total(&view), leaves * ps, "{name}: estimated total");
        assert_eq!(seen.last(), Some(&(leaves * ps, leaves * ps)), "{name}: the last report is complete");
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "{name}: progress never goes back");
    }
}

#[test]
fn no_verify_copies_the_same_and_still_refuses_a_damaged_source() {
    // Without verification the source is checked in full while it is copied, instead of after.
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for name in common::databases() {
        let src = common::path(&name, &tmp);
        let dst = tmp.path().join(format!("{name}.nv"));
        let out = common::compact(&["--no-verify", "-w", "json"], &src, &dst);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["verified"], false, "{name}");
        let data = std::fs::read(&dst).unwrap();
        let view = DbView::new(&data).unwrap();
        same_as_real_dump(&view, &name);
        if let Some(want) = common::answer_json(&name, "status.json") {
            // The report's figures are snake_case with the hash in hex; etcdutl's JSON has it in
            // decimal.
            let hash = format!("{:x}", want["hash"].as_u64().unwrap());
            for side in ["src_status", "dst_status"] {
                assert_eq!(r[side]["hash"], hash, "{name}: {side} hash equals etcdutl's");
                assert_eq!(r[side]["revision"], want["revision"], "{name}: {side} revision equals etcdutl's");
                assert_eq!(r[side]["total_keys"], want["totalKey"], "{name}: {side} keys equal etcdutl's");
            }
            compared += 1;
        }
    }
    assert!(compared >= 10, "only {compared} fixtures have etcdutl's answers");
    let mut bad = common::bytes("k8s-0.005.member.db");
    bad[65 * 4096 + 8] = 0x20;
    let badp = tmp.path().join("bad.db");
    std::fs::write(&badp, &bad).unwrap();
    let d2 = tmp.path().join("nothing.db");
    let out = common::compact(&["--no-verify"], &badp, &d2);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("boltscope check"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!d2.exists());
}

#[test]
fn the_keep_set_is_the_same_in_one_pass_or_in_many() {
    // A budget of a few bytes splits the keys over many passes (up to one entry per pass).
    use boltscope::etcd::compaction::{keep, keep_by_cursor, keep_within};
    let mut checked = 0;
    for name in common::databases() {
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap();
        let Some(kb) = cursor::top_bucket(&view, b"key").unwrap() else { continue };
        let Some(last) = cursor::last(&view, kb).unwrap().and_then(|e| boltscope::etcd::revision::main_of(e.key))
        else {
            continue;
        };
        for rev in [last / 2, last] {
            let one = keep(&view, kb, rev).unwrap();
            for budget in [1, 1000, 100_000] {
                assert_eq!(keep_within(&view, kb, rev, budget).unwrap(), one, "{name}: at {rev}, budget {budget}");
                // The leaves read on every core and the cursor's one-thread reading agree.
                let by_cursor = keep_by_cursor(&view, kb, rev, budget).unwrap();
                assert_eq!(by_cursor, one, "{name}: at {rev}, budget {budget}, by cursor");
            }
            assert!(one.kept > 0 && one.kept <= one.len, "{name}: at {rev}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} etcd fixtures");
}

#[test]
fn a_leaf_reached_twice_or_a_tree_of_copies_stops_the_keep_set() {
    use boltscope::etcd::compaction::{keep, keep_by_cursor};
    use boltscope::ProblemKind;
    // Two parents for one leaf: its records would be counted twice. The listing of the leaves
    // finds the page reached twice; the cursor, which lists nothing, finds that the revisions no
    // longer increase. Both report instead of answering.
    let mut d = common::bytes("k8s-0.005.snap.db");
    common::damage::one_page("two parents", &mut d);
    let view = DbView::new(&d).unwrap();
    let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
    let listed = keep(&view, kb, u64::MAX >> 1).map(|_| ()).unwrap_err();
    assert_eq!(listed.kind, ProblemKind::MultipleReferences, "{listed}");
    let by_cursor = keep_by_cursor(&view, kb, u64::MAX >> 1, 1 << 30).map(|_| ()).unwrap_err();
    assert_eq!(by_cursor.kind, ProblemKind::KeysOutOfOrder, "{by_cursor}");
    // Every child of the key bucket's root pointed back at the root: the listing meets the root
    // again at the next level, and stops there (no level holds the root's children over again).
    let mut d = common::bytes("k8s-0.005.snap.db");
    let s = common::damage::shape(&d);
    for i in 0..common::u16_at(&d, s.key_root * 4096 + 10) {
        common::put_u64(&mut d, s.key_root * 4096 + 16 + 16 * i + 8, s.key_root as u64);
    }
    let view = DbView::new(&d).unwrap();
    let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
    let err = boltscope::etcd::scan::leaves(&view, kb).map(|_| ()).unwrap_err();
    assert_eq!(err.kind, ProblemKind::MultipleReferences, "{err}");
    assert_eq!(err.page, Some(s.key_root as u64), "{err}");
}

#[test]
fn a_keep_set_of_some_keys_is_the_whole_one_without_the_others() {
    // What `dump --prefix` reads back: the survivors of the selected keys, and of no other.
    use boltscope::etcd::compaction::keep_in;
    use boltscope::etcd::range::KeyRange;
    use boltscope::etcd::scan;
    let (mut checked, mut narrowed) = (0, 0);
    for name in common::databases() {
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap();
        let Ok(Some(kb)) = scan::key_bucket(&view) else { continue };
        let leaves = scan::leaves(&view, kb).unwrap();
        let entries: Vec<(u64, Vec<u8>, u64)> = scan::collect(&view, kb, &Vec::new, &|v, e| {
            v.push((e.ord, e.kv.key.to_vec(), e.rev.main));
        })
        .unwrap()
        .concat();
        let Some(&(_, _, last)) = entries.last() else { continue };
        // Prefixes of several widths, taken from the file's own keys, and one that selects nothing.
        let mut prefixes: Vec<Vec<u8>> = vec![b"/registry/".to_vec(), b"/nothing-here/".to_vec()];
        for (_, k, _) in entries.iter().step_by(entries.len().div_ceil(4)) {
            let cut = k.iter().rposition(|&b| b == b'/').unwrap_or(k.len());
            prefixes.push(k[..cut].to_vec());
            prefixes.push(k.clone());
        }
        for rev in [last / 2, last] {
            let whole = keep_in(&view, &leaves, rev, None).unwrap();
            for p in &prefixes {
                let range = KeyRange::prefix(p);
                let some = keep_in(&view, &leaves, rev, Some(&range)).unwrap();
                for (ord, key, _) in &entries {
                    let want = whole.get(*ord) && range.contains(key);
                    assert_eq!(
                        some.get(*ord),
                        want,
                        "{name}: at {rev}, prefix {:?}, entry {ord}",
                        String::from_utf8_lossy(p)
                    );
                }
                narrowed += usize::from(some.kept < whole.kept);
            }
        }
        checked += 1;
    }
    assert!(checked >= 10 && narrowed >= checked, "{checked} etcd fixtures, {narrowed} narrowed sets");
}
