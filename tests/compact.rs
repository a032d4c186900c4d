//! `boltscope compact` on every fixture: the copy's content equals what real bbolt dumped of the
//! source (fixtures/*.oracle-dump.txt.gz), its status equals etcdutl's answer for the source,
//! `--revision` agrees with `inspect`'s prediction, and the safety rules hold.

mod common;
use boltscope::bbolt::cursor::{self, BucketRoot};
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::DbView;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn compact(args: &[&str], src: &Path, dst: &Path) -> Output {
    common::boltscope().arg("compact").args(args).arg(src).arg("-o").arg(dst).output().unwrap()
}

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
        let out = compact(&[], &src, &dst);
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
        let out = compact(&["--page-size", &ps.to_string(), "--byte-order", order, "-w", "json"], &src, &dst);
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
        let out = compact(&["--page-size", ps], &src, &d);
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
        let out = compact(&["--revision", "latest", "-w", "json"], &src, &dst);
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
fn safety_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("k8s-0.005.snap.db", &tmp);
    let dst = tmp.path().join("out.db");
    std::fs::write(&dst, b"precious").unwrap();
    let out = compact(&[], &src, &dst);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&dst).unwrap(), b"precious", "an existing DST is untouched without --force");
    assert!(compact(&["--force"], &src, &dst).status.success());
    // DST is SRC: by path, through a symlink, through a hard link; even with --force.
    let link = tmp.path().join("link.db");
    let hard = tmp.path().join("hard.db");
    std::os::unix::fs::symlink(&src, &link).unwrap();
    std::fs::hard_link(&src, &hard).unwrap();
    let before = std::fs::read(&src).unwrap();
    for d in [&src, &link, &hard] {
        let out = compact(&["--force"], &src, d);
        assert_eq!(out.status.code(), Some(2), "{}", d.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains("source file itself"));
    }
    assert_eq!(std::fs::read(&src).unwrap(), before, "SRC never written");
    // A damaged source is refused and leaves nothing behind (no DST, no temporary file).
    let mut bad = common::bytes("k8s-0.005.member.db");
    bad[65 * 4096 + 8] = 0x20;
    let badp = tmp.path().join("bad.db");
    std::fs::write(&badp, &bad).unwrap();
    let d2 = tmp.path().join("nothing.db");
    let out = compact(&[], &badp, &d2);
    assert_eq!(out.status.code(), Some(1), "a damaged SRC is a problem with the file: exit 1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("boltscope check"));
    assert!(!d2.exists());
    let leftovers: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".boltscope-compact-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn revision_refusals_and_trailer_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("k8s-0.005.member.db", &tmp);
    let d = tmp.path().join("x.db");
    // k8s-0.005: current revision 111, finished compaction at 96 (endpoint status / inspect).
    for (rev, why) in [("112", "past the current revision"), ("95", "below the finished compaction")] {
        let out = compact(&["--revision", rev], &src, &d);
        assert_eq!(out.status.code(), Some(2), "{rev}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!d.exists());
    }
    let generic = common::path("bolt-4k-synced.db", &tmp);
    assert_eq!(compact(&["--revision", "latest"], &generic, &d).status.code(), Some(2));
    assert!(compact(&["--revision", "100"], &src, &d).status.success());
    // The raw file has no trailer: auto adds none, always adds a valid one.
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&d).unwrap()), None);
    assert!(compact(&["--trailer", "always", "--force"], &src, &d).status.success());
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&d).unwrap()).map(|t| t.ok()), Some(true));
    let snap = common::path("k8s-0.005.snap.db", &tmp);
    assert!(compact(&["--trailer", "never", "--force"], &snap, &d).status.success());
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&d).unwrap()), None);
    assert_eq!(compact(&["--fill", "0.3"], &src, &d).status.code(), Some(2));
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
        assert!(compact(&["--revision", "latest", "--fill", "0.9"], &src, &dst).status.success());
        let real = common::answer_json(name, "compact-defrag.json").unwrap();
        let defrag = real["after_defrag"]["status"]["totalSize"].as_u64().unwrap();
        let data = std::fs::read(&dst).unwrap();
        assert_eq!(DbView::new(&data).unwrap().total_size(), defrag - 2 * 4096, "{name}");
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_leaves_nothing() {
    // A 64 KiB tmpfs cannot hold the 152 kB copy. Mounting needs root (CI runs as root).
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root?)");
        return;
    }
    let src = common::path("k8s-0.005.snap.db", &dir);
    let out = compact(&[], &src, &mnt.join("out.db"));
    let left: Vec<_> = std::fs::read_dir(&mnt).unwrap().map(|e| e.unwrap().file_name()).collect();
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left on device"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(left.is_empty(), "nothing left behind: {left:?}");
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
        let out = compact(&["--no-verify", "-w", "json"], &src, &dst);
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
    let out = compact(&["--no-verify"], &badp, &d2);
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
    use boltscope::etcd::compaction::{keep, keep_within};
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
            }
            assert!(one.kept > 0 && one.kept <= one.len, "{name}: at {rev}");
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} etcd fixtures");
}

/// A 4 KiB-page bbolt file whose bucket `b` holds `n` values of `len` bytes each (keys `k0`,
/// `k1`, ...), every value on overflow pages of its own leaf under one branch: a large copy
/// from a small recipe.
fn big_source(n: u64, len: usize) -> Vec<u8> {
    use boltscope::bbolt::meta::{meta_page, MetaFields};
    use boltscope::bbolt::order::PageId;
    use boltscope::bbolt::page::ByteOrder::Little;
    const PS: usize = 4096;
    // Little-endian fields (offset, value, width) of a page.
    let set = |p: &mut [u8], fields: &[(usize, u64, usize)]| {
        for &(at, v, w) in fields {
            p[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
        }
    };
    let mut file = vec![0u8; 4 * PS]; // metas, root bucket leaf (page 2), branch (page 3)
    let mut children = Vec::new();
    for i in 0..n {
        let (id, key) = ((file.len() / PS) as u64, format!("k{i}"));
        let pages = (16 + 16 + key.len() + len).div_ceil(PS);
        let mut p = vec![0u8; pages * PS];
        // Leaf header, then its one element: flags 0, pos 16 (just past it), ksize, vsize.
        let (k, v) = (key.len() as u64, len as u64);
        set(
            &mut p,
            &[(0, id, 8), (8, 0x02, 2), (10, 1, 2), (12, pages as u64 - 1, 4), (20, 16, 4), (24, k, 4), (28, v, 4)],
        );
        p[32..32 + key.len()].copy_from_slice(key.as_bytes());
        p[32 + key.len()..32 + key.len() + len].fill(i as u8 + 1);
        file.extend(p);
        children.push((id, key));
    }
    // Page 3: the branch over the leaves (keys k0 < k1 < ... for n <= 10).
    let b = &mut file[3 * PS..4 * PS];
    set(b, &[(0, 3, 8), (8, 0x01, 2), (10, n, 2)]);
    let mut at = 16 + 16 * n as usize;
    for (i, (id, key)) in children.iter().enumerate() {
        let e = 16 + 16 * i;
        set(b, &[(e, (at - e) as u64, 4), (e + 4, key.len() as u64, 4), (e + 8, *id, 8)]);
        b[at..at + key.len()].copy_from_slice(key.as_bytes());
        at += key.len();
    }
    // Page 2: the root bucket, one bucket entry `b` -> {root 3, sequence 0}.
    let r = &mut file[2 * PS..3 * PS];
    set(r, &[(0, 2, 8), (8, 0x02, 2), (10, 1, 2), (16, 1, 4), (20, 16, 4), (24, 1, 4), (28, 16, 4), (33, 3, 8)]);
    r[32] = b'b';
    let hwm = (file.len() / PS) as u64;
    let m = MetaFields { root: PageId(2), seq: 0, freelist: PageId(u64::MAX), pgid: hwm };
    file[..PS].copy_from_slice(&meta_page(Little, PS as u64, 0, &m, 2));
    file[PS..2 * PS].copy_from_slice(&meta_page(Little, PS as u64, 1, &m, 1));
    file
}

#[test]
fn an_interrupted_copy_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("big.db");
    std::fs::write(&src, big_source(4, 16 << 20)).unwrap();
    {
        let m = std::fs::read(&src).unwrap();
        let r = status::status(&DbView::new(&m).unwrap(), EtcdVersion::V35).unwrap();
        assert!(r.structure.is_clean(), "the recipe makes a clean file: {:?}", r.structure.problems);
        assert_eq!(r.status.total_key, 4, "etcdutl counts the entries of top-level buckets: b's four");
    }
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let dst = out_dir.join("copy.db");
    let temps = || -> Vec<PathBuf> {
        let entries = std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().path());
        entries.filter(|p| p.to_string_lossy().contains(".boltscope-compact-")).collect()
    };
    for signal in ["INT", "TERM", "HUP"] {
        let mut child = common::boltscope()
            .arg("compact")
            .arg(&src)
            .arg("-o")
            .arg(&dst)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait for the copy to be under way (its temporary file in DST's folder), then signal.
        let t0 = std::time::Instant::now();
        while temps().is_empty() {
            assert!(child.try_wait().unwrap().is_none(), "SIG{signal}: the copy ended before it was seen");
            assert!(t0.elapsed().as_secs() < 20, "SIG{signal}: no temporary file appeared");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let sent = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status().unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "SIG{signal}: {err}");
        assert!(err.contains("interrupted; the unfinished copy was removed"), "SIG{signal}: {err}");
        assert!(temps().is_empty(), "SIG{signal}: left behind: {:?}", temps());
        assert!(!dst.exists(), "SIG{signal}: no DST from an interrupted copy");
    }
    // Uninterrupted, the same command copies it (etcdutl's HASH covers every name, key and value).
    assert!(compact(&[], &src, &dst).status.success());
    let hash = |p: &Path| {
        let m = std::fs::read(p).unwrap();
        status::status(&DbView::new(&m).unwrap(), EtcdVersion::V35).unwrap().status.hash
    };
    assert_eq!(hash(&dst), hash(&src));
}

/// The active meta's root page of a 4 KiB-page little-endian file, and for each root bucket
/// entry the byte offset of its value's root page id, read by hand from the raw layout.
fn root_bucket_roots(d: &[u8]) -> (u64, Vec<usize>) {
    let u = |o: usize, n: usize| d[o..o + n].iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b));
    let m = if u(4096 + 64, 8) > u(64, 8) { 4096 } else { 0 };
    let root = u(m + 32, 8);
    let at = root as usize * 4096;
    let count = u(at + 10, 2) as usize;
    let roots = (0..count).map(|i| at + 16 + 16 * i).map(|e| e + u(e + 4, 4) as usize + u(e + 8, 4) as usize).collect();
    (root, roots)
}

#[test]
fn buckets_that_share_pages_or_contain_themselves_are_refused() {
    // Found by the fuzzer: a bucket nested in itself sent the copy into endless recursion (a
    // stack overflow, and a temporary file left behind). Two buckets sharing a tree were copied
    // twice, and the copy still verified, since it was summed from the same reading.
    let tmp = tempfile::tempdir().unwrap();
    let base = common::bytes("k8s-0.005.member.db");
    let (root, roots) = root_bucket_roots(&base);
    // `a`: a bucket with pages of its own (an inline bucket's root id is 0); `b`: another one,
    // made to point at a tree that is not its own (a non-zero root makes it a paged bucket).
    let a = *roots.iter().find(|&&at| base[at..at + 8] != [0; 8]).expect("a bucket with pages");
    let b = *roots.iter().find(|&&at| at != a).expect("another bucket");
    let a_root: [u8; 8] = base[a..a + 8].try_into().unwrap();
    let damages =
        [("a bucket whose root is the root bucket's page", root.to_le_bytes()), ("two buckets with one tree", a_root)];
    for (what, new_root) in damages {
        let mut d = base.clone();
        d[b..b + 8].copy_from_slice(&new_root);
        let src = tmp.path().join("damaged.db");
        std::fs::write(&src, &d).unwrap();
        let dst = tmp.path().join("out").join("copy.db");
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let out = compact(&[], &src, &dst);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(
            err.contains("multiple_references") && err.contains("Refusing to copy a damaged file"),
            "{what}: {err}"
        );
        assert_eq!(std::fs::read_dir(dst.parent().unwrap()).unwrap().count(), 0, "{what}: nothing left behind");
    }
}

#[test]
fn a_snapshot_whose_trailer_does_not_match_is_refused_unless_told() {
    // A bit flipped inside a value passes every structural check; only the sha256 trailer
    // knows. A copy with a fresh trailer would vouch for the damage.
    let tmp = tempfile::tempdir().unwrap();
    let d = common::with_last_value_flipped("k8s-0.005.snap.db");
    let src = tmp.path().join("rotten.snap.db");
    std::fs::write(&src, &d).unwrap();
    let dst = tmp.path().join("copy.db");
    for extra in [&[][..], &["--trailer", "never"]] {
        let out = compact(extra, &src, &dst);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("sha256 trailer is") && err.contains("--skip-hash-check"), "{extra:?}: {err}");
        assert!(!dst.exists());
    }
    let out = compact(&["--skip-hash-check", "-w", "json"], &src, &dst);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = common::answer_json("k8s-0.005.snap.db", "status.json").unwrap();
    assert_ne!(
        rep["dst_status"]["hash"],
        format!("{:x}", want["hash"].as_u64().unwrap()),
        "the flipped bit is in the copy"
    );
    assert_eq!(rep["dst_status"]["total_keys"], want["totalKey"]);
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&dst).unwrap()).map(|t| t.ok()), Some(true));
}
