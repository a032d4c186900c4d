//! The key readers (`get`, `log`, `dump`, `hashkv`) on a snapshot `check` fails for its length: cut
//! short, or with bytes appended (`trailing_bytes`; `etcdutl snapshot restore` refuses either),
//! and on a file `check` fails for a tree beside the `key` bucket (the root bucket's names out of
//! order). The `key` tree still reads whole, so the answer comes out, then the problem on stderr
//! and exit 1, as for a stale leaf; the intact file answers the same with exit 0.

mod common;

use std::process::Output;

fn run(args: &[&str]) -> Output {
    common::boltscope().arg("--no-index").args(args).output().unwrap()
}

#[test]
fn a_snapshot_cut_or_appended_to_answers_with_its_problem_and_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let good = common::bytes("tiny-1.snap.db");
    let mut appended = good.clone();
    appended.extend_from_slice(&[0u8; 100]);
    let cut = good[..good.len() - 10].to_vec();
    let cases = [("good.snap.db", good, 0), ("appended.snap.db", appended, 1), ("cut.snap.db", cut, 1)];
    let mut answers: Vec<Vec<Vec<u8>>> = Vec::new();
    for (name, bytes, want) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let f = p.to_str().unwrap();
        let mut these = Vec::new();
        for args in [&["get", f, "", "--from-key"][..], &["log", f, "-w", "json"], &["dump", f], &["hashkv", f]] {
            let out = run(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(want), "{args:?}: {err}");
            assert_eq!(err.contains("trailing_bytes"), want == 1, "{args:?}: {err}");
            assert!(!out.stdout.is_empty(), "{args:?}: the answer comes out");
            these.push(out.stdout);
        }
        answers.push(these);
    }
    // The answers are the tree's, the same whatever follows it.
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
}

#[test]
fn a_member_file_cut_short_is_told_also_with_meta_and_its_slack_is_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let d = common::bytes("k8s-0.005.member.db");
    // The last page cut: the high-water mark lies past the end (`check`: hwm_past_eof).
    let cut = tmp.path().join("cut.db");
    std::fs::write(&cut, &d[..d.len() - 4096]).unwrap();
    let c = cut.to_str().unwrap();
    for meta in [None, Some("0"), Some("1")] {
        for cmd in ["get", "log"] {
            let mut args = vec![cmd, c, "/registry/", "--prefix"];
            if let Some(m) = meta {
                args.extend(["--meta", m]);
            }
            let out = run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains("hwm_past_eof"), "{args:?}: {err}");
        }
    }
    // Whole pages past the high-water mark are a member file's slack to a key reader, unread (it
    // can be a gigabyte); `check` reads them for zeros and warns of these (`uncommitted_pages`:
    // what a transaction wrote before it committed, which bbolt and etcd never read).
    let mut slack = d.clone();
    slack.extend(std::iter::repeat(0xAB).take(2 * 4096));
    let s = tmp.path().join("slack.db");
    std::fs::write(&s, &slack).unwrap();
    let s = s.to_str().unwrap();
    assert_eq!(run(&["get", s, "/registry/", "--prefix", "--keys-only"]).status.code(), Some(0));
    let check = run(&["check", s]);
    assert_eq!(check.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&check.stdout).contains("uncommitted_pages"));
}

#[test]
fn a_damaged_bucket_beside_key_is_told_as_check_tells_it() {
    // The root bucket's second name made smaller than its first (`check`: keys_out_of_order on the
    // root leaf). The `key` bucket is still found and reads whole: the answer is the intact file's,
    // then check's problem in check's words, exit 1.
    let tmp = tempfile::tempdir().unwrap();
    let good = common::bytes("k8s-0.005.member.db");
    let mut d = good.clone();
    let l = common::layout(&d);
    let root = common::u64_at(&d, l.active_meta * 4096 + 32) as usize * 4096;
    let e = root + 16 + 16;
    let key_at = e + common::u32_at(&d, e + 4);
    d[key_at] = 0x01;
    let (gp, bp) = (tmp.path().join("good.db"), tmp.path().join("bad-root.db"));
    std::fs::write(&gp, &good).unwrap();
    std::fs::write(&bp, &d).unwrap();
    let check = run(&["check", "-w", "json", bp.to_str().unwrap()]);
    let check: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let problem = &check["problems"][0];
    assert_eq!(problem["kind"], "keys_out_of_order", "{check}");
    let (g, b) = (gp.to_str().unwrap(), bp.to_str().unwrap());
    for args in [
        &["get", "/registry/pods/", "--prefix"][..],
        &["log", "/registry/events/", "--prefix", "-w", "json"],
        &["dump", "--prefix", "/registry/"],
        &["hashkv"],
    ] {
        let with = |f: &str| {
            let mut a = vec![args[0], f];
            a.extend(&args[1..]);
            run(&a)
        };
        let (ok, bad) = (with(g), with(b));
        let err = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(ok.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&ok.stderr));
        assert_eq!(bad.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(problem["message"].as_str().unwrap()), "{args:?}: check's words: {err}");
        assert_eq!(ok.stdout, bad.stdout, "{args:?}: the same answer");
    }
}

#[test]
fn a_warm_answer_trusts_the_rest_of_the_file_only_as_the_index_found_it() {
    // The walk of the trees beside `key` grows with the `lease` bucket; a warm answer skips it when
    // the key index was built from a file that read clean and the file's identity (meta pages,
    // length, trailer, inode, time) is unchanged, as it trusts the index's keys. A file that did
    // not read clean is walked again on every answer.
    let tmp = tempfile::tempdir().unwrap();
    let good = common::bytes("k8s-0.005.member.db");
    let (gp, bp, ix) = (tmp.path().join("good.db"), tmp.path().join("bad.db"), tmp.path().join("ix.redb"));
    std::fs::write(&gp, &good).unwrap();
    let l = common::layout(&good);
    let root = common::u64_at(&good, l.active_meta * 4096 + 32) as usize * 4096;
    let e = root + 16 + 16;
    let key_at = e + common::u32_at(&good, e + 4);
    let mut bad = good.clone();
    bad[key_at] = 0x01;
    std::fs::write(&bp, &bad).unwrap();
    let get = |f: &std::path::Path, index: bool| {
        let mut c = common::boltscope();
        if index {
            c.arg("--index").arg(&ix);
        } else {
            c.arg("--no-index");
        }
        c.arg("get").arg(f).arg("/registry/pods/").arg("--prefix").arg("--keys-only").arg("--limit").arg("1");
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), out.stdout)
    };
    // Damaged beside `key`: told cold, and warm too (the index does not vouch for it).
    for round in ["cold", "warm"] {
        let (code, err, _) = get(&bp, true);
        assert_eq!(code, Some(1), "{round}: {err}");
        assert!(err.contains("keys_out_of_order"), "{round}: {err}");
    }
    // Clean when indexed: a warm answer comes from the index (which it leaves as it was).
    let (code, err, cold) = get(&gp, true);
    assert_eq!(code, Some(0), "{err}");
    let built = std::fs::read(&ix).unwrap();
    let (code, err, warm) = get(&gp, true);
    assert_eq!((code, warm), (Some(0), cold.clone()), "{err}");
    assert!(std::fs::read(&ix).unwrap() == built, "answered from the index");
    // Damaged in place with the modification time put back: the inode's change time makes it
    // another file, walked again.
    let modified = std::fs::metadata(&gp).unwrap().modified().unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&gp).unwrap();
        f.write_all_at(&[0x01], key_at as u64).unwrap();
        f.set_modified(modified).unwrap();
    }
    let (code, err, _) = get(&gp, true);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("keys_out_of_order"), "{err}");
    assert_eq!(get(&gp, false).0, Some(1), "without the index the walk tells the damage");
}

/// The file offset of the value of the root bucket's element `name` (a bucket header: root page id,
/// sequence).
fn root_bucket_value(d: &[u8], name: &[u8]) -> usize {
    let l = common::layout(d);
    let root = common::u64_at(d, l.active_meta * 4096 + 32) as usize * 4096;
    (0..common::u16_at(d, root + 10))
        .map(|i| root + 16 + 16 * i)
        .find_map(|e| {
            let (pos, ks) = (common::u32_at(d, e + 4), common::u32_at(d, e + 8));
            (&d[e + pos..e + pos + ks] == name).then_some(e + pos + ks)
        })
        .expect("the bucket is in the root")
}

#[test]
fn every_reader_fails_what_check_fails_beside_the_key_tree_and_a_bucket_flag_inside_it() {
    // Three files `check` fails (and etcd or real bbolt refuses) while the key readers, du and diff
    // answered with exit 0: a lease record etcd 3.5.1 cannot decode (its start panics), the
    // `members_removed` bucket pointed at the `key` bucket's root (a page of two trees: real
    // bbolt's check and etcdutl's restore panic), and a record of the `key` bucket flagged as a
    // nested bucket (real bbolt reads a tree beneath it, out of the file).
    let tmp = tempfile::tempdir().unwrap();
    let good = common::bytes("k8s-0.005.member.db");
    let mut lease = good.clone();
    // Every copy of lease 33dfa20c265aea07's record (free pages hold older ones).
    let id = [0x08, 0x87, 0xd4, 0xeb, 0xb2, 0xc2, 0xc1, 0xe8, 0xef, 0x33, 0x10, 0x90, 0x1c];
    let at: Vec<usize> = lease.windows(13).enumerate().filter(|(_, w)| *w == id).map(|(i, _)| i).collect();
    assert!(!at.is_empty());
    for i in at {
        lease[i + 10] = 0x0f;
    }
    let mut shared = good.clone();
    let v = root_bucket_value(&shared, b"members_removed");
    let key_root = common::layout(&shared).key_root as u64;
    shared[v..v + 8].copy_from_slice(&key_root.to_le_bytes());
    let mut flagged = good.clone();
    let leaf = common::damage::key_leaves(&flagged)[1].1;
    flagged[leaf * 4096 + 16..leaf * 4096 + 20].copy_from_slice(&1u32.to_le_bytes());
    let g = tmp.path().join("good.db");
    std::fs::write(&g, &good).unwrap();
    for (name, bytes, kind) in [
        ("lease.db", lease, "etcd_record_unreadable"),
        ("shared.db", shared, "multiple_references"),
        ("flagged.db", flagged, ""),
    ] {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let f = p.to_str().unwrap();
        let check = run(&["check", "-w", "json", f]);
        assert_eq!(check.status.code(), Some(1), "{name}: check fails it");
        // A record etcd cannot read is named by its page as well as its byte offset (page was null).
        let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
        for p in v["problems"].as_array().unwrap().iter().filter(|p| p["kind"] == "etcd_record_unreadable") {
            if let Some(o) = p["offset"].as_u64() {
                assert_eq!(p["page"].as_u64(), Some(o / 4096), "{name}: {p}");
            }
        }
        for args in [
            &["get", f, "/registry/", "--prefix", "--keys-only"][..],
            &["log", f, "/registry/", "--prefix"],
            &["dump", f],
            &["hashkv", f],
            &["du", f],
            &["diff", g.to_str().unwrap(), f],
        ] {
            let out = run(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {args:?}: {err}");
            assert!(err.contains(kind), "{name} {args:?}: {kind} told: {err}");
        }
    }
}

#[test]
fn a_key_element_holding_a_well_formed_nested_bucket_is_damage_to_every_reader() {
    // The last element of a key leaf flagged as a bucket whose value is a well-formed empty inline
    // bucket: real bbolt's check passes it, etcd reads it as a record with neither key nor value
    // (its revision counts). `check`, `du` and `status` skipped it (exit 0, revision one short of
    // etcd's) while the key readers refused it: now each calls it damage.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let leaf = common::damage::key_leaves(&d).last().unwrap().1 * 4096;
    let n = common::u16_at(&d, leaf + 10);
    let e = leaf + 16 + 16 * (n - 1);
    let (pos, ks) = (common::u32_at(&d, e + 4), common::u32_at(&d, e + 8));
    assert!(common::u32_at(&d, e + 12) >= 32, "room for a bucket header and an inline page");
    let v = e + pos + ks;
    d[e..e + 4].copy_from_slice(&1u32.to_le_bytes());
    d[e + 12..e + 16].copy_from_slice(&32u32.to_le_bytes());
    d[v..v + 32].fill(0);
    d[v + 24] = 0x02; // the inline page: a leaf with no elements
    let p = tmp.path().join("nested.db");
    std::fs::write(&p, &d).unwrap();
    let f = p.to_str().unwrap();
    let check = run(&["check", "-w", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check.status.code(), Some(1), "{v}");
    assert!(
        v["problems"].as_array().unwrap().iter().any(|p| p["kind"] == "bucket_malformed" && p["page"].is_u64()),
        "{v}"
    );
    for args in [&["du", f][..], &["status", f], &["get", f, "", "--prefix", "--keys-only"], &["hashkv", f]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_nested_bucket_in_a_leaf_past_its_first_page_is_named_by_the_same_page_everywhere() {
    // An element of a key leaf that spans pages, its key on the leaf's second page, flagged as a
    // bucket holding a well-formed empty inline bucket: check and du name the page holding the
    // key (in JSON), and every reader the same byte.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (leaf, e) = common::damage::key_leaves(&d)
        .into_iter()
        .find_map(|(_, leaf)| {
            let o = leaf * 4096;
            (0..common::u16_at(&d, o + 10))
                .map(|i| o + 16 + 16 * i)
                .find(|&e| e + common::u32_at(&d, e + 4) >= o + 4096)
                .map(|e| (leaf, e))
        })
        .expect("a key leaf with an element on its second page");
    let (pos, ks) = (common::u32_at(&d, e + 4), common::u32_at(&d, e + 8));
    let v = e + pos + ks;
    d[e..e + 4].copy_from_slice(&1u32.to_le_bytes());
    d[e + 12..e + 16].copy_from_slice(&32u32.to_le_bytes());
    d[v..v + 32].fill(0);
    d[v + 24] = 0x02;
    let p = tmp.path().join("nested2.db");
    std::fs::write(&p, &d).unwrap();
    let f = p.to_str().unwrap();
    let check = run(&["check", "-w", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    let prob = v["problems"].as_array().unwrap().iter().find(|p| p["kind"] == "bucket_malformed").expect("told");
    let page = prob["page"].as_u64().unwrap();
    assert_eq!((page, prob["offset"].as_u64()), (leaf as u64 + 1, Some((e + pos) as u64)), "{prob}");
    let du = run(&["du", "-w", "json", f]);
    let v: serde_json::Value = serde_json::from_slice(&du.stdout).unwrap();
    let told = v["problems"].as_array().unwrap().iter().find(|p| p["kind"] == "bucket_malformed").expect("du");
    assert_eq!((&told["page"], &told["offset"]), (&prob["page"], &prob["offset"]), "{told}");
    for args in [&["get", f, "", "--prefix", "--keys-only"][..], &["dump", f], &["hashkv", f]] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        let at = format!("(byte offset {})", e + pos);
        assert!(err.contains("bucket_malformed") && err.contains(&at), "{args:?}: {err}");
    }
}
