//! `boltscope compact`'s refusals and safety rules: what it will not overwrite or write over,
//! revisions it refuses, a full disk, an interrupted copy, trees whose buckets share pages, and a
//! snapshot whose trailer does not match. Each leaves nothing behind.

mod common;
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::DbView;
use std::path::{Path, PathBuf};
use std::process::Command;
#[test]
fn safety_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("k8s-0.005.snap.db", &tmp);
    let dst = tmp.path().join("out.db");
    std::fs::write(&dst, b"precious").unwrap();
    let out = common::compact(&[], &src, &dst);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&dst).unwrap(), b"precious", "an existing DST is untouched without --force");
    assert!(common::compact(&["--force"], &src, &dst).status.success());
    // DST is SRC: by path, through a symlink, through a hard link; even with --force.
    let link = tmp.path().join("link.db");
    let hard = tmp.path().join("hard.db");
    std::os::unix::fs::symlink(&src, &link).unwrap();
    std::fs::hard_link(&src, &hard).unwrap();
    let before = std::fs::read(&src).unwrap();
    for d in [&src, &link, &hard] {
        let out = common::compact(&["--force"], &src, d);
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
    let out = common::compact(&[], &badp, &d2);
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
fn a_dst_in_a_missing_folder_is_told_as_such() {
    // Review 36a: the error named the temporary file it could not make there.
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("k8s-0.005.snap.db", &tmp);
    let missing = tmp.path().join("missing");
    for cmd in ["compact", "salvage"] {
        let out =
            common::run(["--no-index", cmd, src.to_str().unwrap(), "-o", missing.join("out.db").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("no such folder") && err.contains("missing") && !err.contains(".boltscope-"),
            "{cmd}: {err}"
        );
    }
    assert!(!missing.exists());
}

#[test]
fn a_file_cut_inside_its_meta_pages_is_told_cut_not_foreign() {
    // Review 36a: salvage said neither meta page was valid; both are, the file ends before page 2.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("short.db");
    std::fs::write(&src, &common::bytes("tiny-1.snap.db")[..5000]).unwrap();
    let out =
        common::run(["--no-index", "salvage", src.to_str().unwrap(), "-o", tmp.path().join("s.db").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cut short") && !err.contains("neither meta page"), "{err}");
}

#[test]
fn revision_refusals_and_trailer_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("k8s-0.005.member.db", &tmp);
    let d = tmp.path().join("x.db");
    // k8s-0.005: current revision 111, finished compaction at 96 (endpoint status / inspect).
    for (rev, why) in [("112", "past the current revision"), ("95", "below the finished compaction")] {
        let out = common::compact(&["--revision", rev], &src, &d);
        assert_eq!(out.status.code(), Some(2), "{rev}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!d.exists());
    }
    let generic = common::path("bolt-4k-synced.db", &tmp);
    assert_eq!(common::compact(&["--revision", "latest"], &generic, &d).status.code(), Some(2));
    assert!(common::compact(&["--revision", "100"], &src, &d).status.success());
    // The raw file has no trailer: auto adds none, always adds a valid one.
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&d).unwrap()), None);
    assert!(common::compact(&["--trailer", "always", "--force"], &src, &d).status.success());
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&d).unwrap()).map(|t| t.ok()), Some(true));
    let snap = common::path("k8s-0.005.snap.db", &tmp);
    assert!(common::compact(&["--trailer", "never", "--force"], &snap, &d).status.success());
    assert_eq!(boltscope::etcd::trailer::verify(&std::fs::read(&d).unwrap()), None);
    assert_eq!(common::compact(&["--fill", "0.3"], &src, &d).status.code(), Some(2));
    // A `key` bucket that cannot be read is damage, with --revision too: exit 1, `src_damaged`
    // with its problems (review 46a: exit 2, `bad_revision`, as for a revision asked wrongly).
    // The last leaf, which --revision reads first (for the newest revision).
    let mut bytes = std::fs::read(&src).unwrap();
    let (_, v) = common::checks::root_entry(&bytes, b"key");
    let root = common::u64_at(&bytes, v) as usize * 4096;
    let last = common::u16_at(&bytes, root + 10) - 1;
    let leaf = common::u64_at(&bytes, root + 16 + last * 16 + 8) as usize * 4096;
    assert_eq!(common::u16_at(&bytes, leaf + 8), 2, "a leaf");
    bytes[leaf..leaf + 4096].fill(0);
    let damaged = tmp.path().join("damaged.db");
    std::fs::write(&damaged, &bytes).unwrap();
    for rev in ["100", "latest"] {
        let out = common::compact(&["--revision", rev, "-w", "json", "--force"], &damaged, &d);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((out.status.code(), v["error"]["kind"].as_str()), (Some(1), Some("src_damaged")), "{rev}: {v}");
        assert_eq!(v["problems"][0]["page"].as_u64(), Some(leaf as u64 / 4096), "{rev}: {v}");
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
    let out = common::compact(&[], &src, &mnt.join("out.db"));
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
    assert!(common::compact(&[], &src, &dst).status.success());
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
        let out = common::compact(&[], &src, &dst);
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
        let out = common::compact(extra, &src, &dst);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(err.contains("sha256 trailer is") && err.contains("--skip-hash-check"), "{extra:?}: {err}");
        assert!(!dst.exists());
    }
    let out = common::compact(&["--skip-hash-check", "-w", "json"], &src, &dst);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // Copied as told, but not as if it were vouched for.
    assert!(err.contains("trailer was not checked") && err.contains("vouches only for the copy"), "{err}");
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

#[test]
fn a_snapshot_whose_trailer_was_cut_is_refused_unless_told() {
    // The same flipped bit, with the trailer then cut short: nothing is left to check the bytes
    // against, and a fresh trailer on the copy would vouch for them.
    let tmp = tempfile::tempdir().unwrap();
    let d = common::with_last_value_flipped("k8s-0.005.snap.db");
    let dst = tmp.path().join("copy.db");
    for left in [31, 16, 1] {
        let src = tmp.path().join(format!("cut-{left}.snap.db"));
        std::fs::write(&src, &d[..d.len() - 32 + left]).unwrap();
        for extra in [&[][..], &["--trailer", "always"]] {
            let out = common::compact(extra, &src, &dst);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{left} {extra:?}: {err}");
            assert!(err.contains("trailing_bytes") || err.contains("past the high-water mark"), "{left}: {err}");
            assert!(err.contains("--skip-hash-check"), "{left}: {err}");
            assert!(!dst.exists());
        }
        let salvaged = tmp.path().join(format!("salvaged-{left}.db"));
        let out = common::run(["--no-index", "salvage", src.to_str().unwrap(), "-o", salvaged.to_str().unwrap()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{left}: salvage must not call it lossless: {text}");
        assert!(text.contains("missing or cut") && !text.contains("nothing lost"), "{left}: {text}");
    }
    let src = tmp.path().join("cut-31.snap.db");
    // Refused in JSON with `check`'s problems, as every command's JSON gives a damaged file
    // (review 49a F2: no `problems`, no `problem_total`).
    let out = common::compact(&["-w", "json"], &src, &dst);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&v["ok"], &v["error"]["kind"]), (&false.into(), &"trailing_bytes".into()));
    assert_eq!((v["problems"].clone(), v["problem_total"].clone()), checked(&src), "{v}");
    // Copied when told, and the copy is whole; SRC is still not sound (exit 1), as `check` says.
    let out = common::compact(&["--skip-hash-check"], &src, &dst);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("outside the copied tree") && err.contains("bytes past the high-water mark"), "{err}");
    assert_eq!(common::run(["--no-index", "check", dst.to_str().unwrap()]).status.code(), Some(0));
}

/// `check -w json`'s `problems` and `problem_total` of a file.
fn checked(src: &std::path::Path) -> (serde_json::Value, serde_json::Value) {
    let out = common::run(["--no-index", "check", "-w", "json", src.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v["problems"].clone(), v["problem_total"].clone())
}

#[test]
fn problems_outside_the_copied_tree_are_told_not_carried() {
    // The older meta page made invalid: the copy of the newer one's tree is whole and verified,
    // and the note says SRC has a problem the copy does not carry.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.snap.db");
    let older = if common::u64_at(&d, 4096 + 64) > common::u64_at(&d, 64) { 0 } else { 1 };
    d[older * 4096 + 72] ^= 0xFF;
    let src = tmp.path().join("older-meta.snap.db");
    std::fs::write(&src, &d[..d.len() - 32]).unwrap();
    let dst = tmp.path().join("copy.db");
    let out = common::compact(&["-w", "json"], &src, &dst);
    let err = String::from_utf8_lossy(&out.stderr);
    // The copy is written and sound, but SRC is not (review 49a F1: exit 0, and JSON with no
    // `ok`, `problems` or `problem_total`, for a file `check` fails): exit 1, and its object says
    // it as every command's JSON says a damaged file.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 problem(s) outside the copied tree"), "{err}");
    assert_eq!(common::run(["--no-index", "check", dst.to_str().unwrap()]).status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&v["ok"], &v["verified"]), (&false.into(), &true.into()), "{v}");
    assert_eq!((&v["problems"][0]["kind"], &v["problems"][0]["page"]), (&"meta_invalid".into(), &older.into()), "{v}");
    // `check`'s list, warnings included (review 49c: the copy's walk listed its own).
    assert_eq!((v["problems"].clone(), v["problem_total"].clone()), checked(&src), "{v}");
    // The older meta page's own refusal (the newer one made invalid) lists it too.
    let mut d = common::bytes("k8s-0.005.snap.db");
    d[(1 - older) * 4096 + 72] ^= 0xFF;
    std::fs::write(&src, &d[..d.len() - 32]).unwrap();
    let out = common::compact(&["-w", "json", "--force"], &src, &dst);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "meta_fallback", "{v}");
    assert_eq!(v["problems"][0]["page"], 1 - older, "{v}");
    assert_eq!((v["problems"].clone(), v["problem_total"].clone()), checked(&src), "{v}");
    // salvage copies what it can, and its JSON says SRC is damaged, with check's problems; of a
    // sound source it claims nothing.
    let salvage = |from: &std::path::Path| {
        let (from, to) = (from.to_str().unwrap(), dst.to_str().unwrap());
        let out = common::run(["--no-index", "salvage", "-w", "json", "--force", from, "-o", to]);
        (out.status.code(), serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
    };
    let (_, v) = salvage(&src);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!((v["problems"].clone(), v["problem_total"].clone()), checked(&src), "{v}");
    let (code, v) = salvage(&common::path("k8s-0.005.snap.db", &tmp));
    assert_eq!(code, Some(0));
    assert!(v.get("ok").is_none() && v.get("problems").is_none(), "a sound source's salvage claims nothing: {v}");
}

#[test]
fn a_refusal_in_json_is_a_json_line_as_every_command_gives() {
    // compact and salvage -w json printed nothing on stdout when refused.
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("tiny-1.snap.db", &tmp);
    let dst = tmp.path().join("there.db");
    std::fs::write(&dst, b"mine").unwrap();
    for cmd in ["compact", "salvage"] {
        let out = common::run([cmd, "-w", "json", src.to_str().unwrap(), "-o", dst.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert_eq!((v["ok"].as_bool(), v["error"]["kind"].as_str()), (Some(false), Some("dst_exists")), "{cmd}: {v}");
        assert_eq!(v["path"], src.to_str().unwrap(), "{cmd}: {v}");
        assert_eq!(std::fs::read(&dst).unwrap(), b"mine");
    }
}
