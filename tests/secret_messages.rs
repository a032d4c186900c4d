//! Problem messages name keys in hex; in etcd's `key` bucket a key read through a damaged
//! element can be bytes of a value (a Secret's data, in a CI log). There only a key shaped as a
//! revision is shown, any other by its length (review of stop 29: one bit in a leaf element's
//! position printed 17 bytes of a TLS key).

mod common;

#[test]
fn a_key_that_points_into_a_value_is_named_by_its_length_only() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.snap.db");
    let leaf = common::layout(&d).first_leaf * 4096;
    // Element 1 {flags, pos, ksize, vsize}: its key moved into its own value, past the
    // KeyValue's first bytes (the user key), where the stored value lies.
    let e = leaf + 16 + 16;
    let (pos, ks) = (common::u32_at(&d, e + 4), common::u32_at(&d, e + 8));
    let moved = pos + ks + 40;
    d[e + 4..e + 8].copy_from_slice(&(moved as u32).to_le_bytes());
    let shown: String = d[e + moved..e + moved + ks].iter().map(|b| format!("{b:02x}")).collect();
    let p = tmp.path().join("moved.db");
    std::fs::write(&p, &d).unwrap();
    let mut told = 0;
    for cmd in [&["check"][..], &["check", "-w", "json"], &["inspect"], &["status"], &["du"]] {
        let out = common::boltscope().arg("--no-index").args(cmd).arg(&p).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains(&shown[..16]), "{cmd:?} shows the value's bytes: {text}");
        told += usize::from(text.contains(&format!("<{ks} bytes, not a revision: not shown>")));
    }
    assert!(told >= 2, "check names the key by its length");
}

#[test]
fn a_bucket_name_under_key_read_from_a_value_is_not_shown() {
    // The last element of the key bucket's last leaf flagged as a bucket, its key moved into its
    // value: it passes the order check, and its name is on the path of the problems below it.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.snap.db");
    let (key_at, value_at) = {
        let view = boltscope::DbView::new(&d).unwrap();
        let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let e = boltscope::bbolt::cursor::last(&view, kb).unwrap().unwrap();
        let at = |b: &[u8]| b.as_ptr() as usize - d.as_ptr() as usize;
        (at(e.key), at(e.value))
    };
    // The leaf holding it: the page header at or before its key whose id is its own position.
    let page = (0..=key_at / 4096)
        .rev()
        .map(|p| p * 4096)
        .find(|&p| common::u64_at(&d, p) as usize == p / 4096 && common::u16_at(&d, p + 8) == 0x02)
        .unwrap();
    let count = common::u16_at(&d, page + 10);
    let e = page + 16 + 16 * (count - 1);
    let ks = common::u32_at(&d, e + 8);
    let moved = value_at + 60 - e;
    d[e..e + 4].copy_from_slice(&1u32.to_le_bytes());
    d[e + 4..e + 8].copy_from_slice(&(moved as u32).to_le_bytes());
    let name = String::from_utf8_lossy(&d[e + moved..e + moved + ks]).into_owned();
    let hexed: String = d[e + moved..e + moved + ks].iter().map(|b| format!("{b:02x}")).collect();
    let p = std::env::var_os("KEEP_BUCKET_DB").map_or_else(|| tmp.path().join("bucket.db"), std::path::PathBuf::from);
    std::fs::write(&p, &d).unwrap();
    for cmd in [&["check"][..], &["check", "-w", "json"], &["inspect", "-w", "json"], &["status"]] {
        let out = common::boltscope().arg("--no-index").args(cmd).arg(&p).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{cmd:?}: {text}");
        assert!(!text.contains(&hexed[..16]), "{cmd:?} shows the value's bytes: {text}");
        assert!(!text.contains(&name), "{cmd:?} shows the value's bytes as a bucket name: {text}");
        assert!(text.contains(&format!("<{ks} bytes, not a revision: not shown>")), "{cmd:?}: {text}");
    }
}

#[test]
fn a_record_whose_value_became_its_key_keeps_the_secret_withheld() {
    // One bit in a KeyValue record: the value's tag (5, bytes: 0x2a) read as the key's (0x0a), so
    // the stored Secret is the record's key (the last key field wins) and its value is empty.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("cluster-0.1.snap.db");
    let (tag_at, secret) = {
        let view = boltscope::DbView::new(&d).unwrap();
        let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let mut found = None;
        boltscope::bbolt::cursor::for_each(&view, kb, &mut |e| {
            let Some(kv) = boltscope::etcd::proto::kv(e.value) else { return };
            let plain = kv.key.starts_with(b"/registry/secrets/") && kv.value.starts_with(b"k8s\0");
            if found.is_none() && plain {
                // The tag, then the value's length as a varint.
                let varint = (64 - (kv.value.len() as u64 | 1).leading_zeros() as usize).div_ceil(7);
                let at = kv.value.as_ptr() as usize - d.as_ptr() as usize - 1 - varint;
                found = Some((at, kv.value.to_vec()));
            }
        })
        .unwrap();
        found.expect("a plaintext protobuf Secret in the fixture")
    };
    assert_eq!(d[tag_at], 0x2a, "the value's tag, before its length");
    d[tag_at] = 0x0a;
    let p = tmp.path().join("tag.db");
    std::fs::write(&p, &d).unwrap();
    let shown = |s: &[u8]| -> Vec<String> {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(s);
        vec![String::from_utf8_lossy(&s[20..40]).into_owned(), b[8..40].to_owned()]
    };
    for args in [
        &["dump"][..],
        &["dump", "--all-revisions"],
        &["get", "", "--from-key", "-w", "json"],
        &["log", "", "--from-key", "-w", "json"],
    ] {
        let out = common::boltscope().arg("--no-index").arg(args[0]).arg(&p).args(&args[1..]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        for n in shown(&secret) {
            assert!(!text.contains(&n), "{args:?} shows the Secret: {n}");
        }
        // Every record is dumped with --all-revisions (the others show it only if it is live).
        if args.contains(&"--all-revisions") {
            assert!(text.contains("<redacted key>"), "{args:?}");
        }
    }
}

/// cluster-0.1 with one byte of a plaintext Secret's record changed: the tag of its value field
/// (0x2a) made the tag of its key field (0x0a). etcd's decoder keeps the last key field, so the
/// record's key is the Secret's whole stored value; the file is otherwise sound (the trailer made
/// again), and `check` passes it. Returns the file and the Secret's stored value.
fn a_secret_read_as_a_key() -> (Vec<u8>, Vec<u8>) {
    let mut d = common::bytes("cluster-0.1.snap.db");
    let key = b"/registry/secrets/kube-system/secret-0023";
    let mut head = vec![0x0a, key.len() as u8];
    head.extend_from_slice(key);
    let at = d.windows(head.len()).position(|w| w == head.as_slice()).expect("the Secret's record");
    // Past create_revision, mod_revision and version, to the value's tag.
    let i = common::value_tag(&d, at + head.len()).expect("field order as etcd writes it");
    let (mut len, mut shift, mut j) = (0usize, 0, i + 1);
    loop {
        len |= usize::from(d[j] & 0x7f) << shift;
        shift += 7;
        j += 1;
        if d[j - 1] & 0x80 == 0 {
            break;
        }
    }
    let value = d[j..j + len].to_vec();
    assert!(value.starts_with(b"k8s\0") && boltscope::k8s::secret::holds_plaintext(key, &value));
    d[i] = 0x0a;
    common::reseal(&mut d);
    (d, value)
}

#[test]
fn a_secret_read_as_a_key_is_shown_by_no_command_and_kept_by_no_index() {
    // du (tables, JSON, Prometheus labels of prefix groups) and diff printed such a key, the
    // Secret in the clear, and the index stored it (review 35b); get, log and dump withheld it.
    use base64::Engine;
    let tmp = tempfile::tempdir().unwrap();
    let (d, value) = a_secret_read_as_a_key();
    let p = tmp.path().join("flipped.snap.db");
    std::fs::write(&p, &d).unwrap();
    let orig = common::path("cluster-0.1.snap.db", &tmp);
    // What shows the key in any form: its uid as text, its first 30 bytes in base64 (a key, or a
    // prefix group of it, base64'd from its start).
    let uid = "84cf124e-3d8a-fa73-b058-cbc01558d42c";
    assert!(String::from_utf8_lossy(&value).contains(uid), "the fixture's Secret");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&value[..30]);
    let check = common::run(["--no-index", "check", p.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    let (ps, os) = (p.to_str().unwrap(), orig.to_str().unwrap());
    let ix = tmp.path().join("index.redb");
    let ixs = ix.to_str().unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec!["--no-index", "du", "--top", "1000", ps],
        vec!["--no-index", "du", "--top", "1000", "-w", "json", ps],
        vec!["--no-index", "du", "--by", "prefix:1", ps],
        vec!["--no-index", "du", "--by", "prefix:1", "-w", "prometheus", ps],
        vec!["--no-index", "du", "--by", "prefix:2", "-w", "json", ps],
        vec!["--no-index", "diff", ps, os],
        vec!["--no-index", "diff", "-w", "json", ps, os],
        vec!["--no-index", "diff", "--by", "prefix:1", "-w", "json", ps, os],
        vec!["--no-index", "get", ps, "", "--from-key", "--keys-only"],
        vec!["--no-index", "log", ps, "-w", "table"],
        vec!["--index", ixs, "du", "--top", "1000", ps],
        vec!["--index", ixs, "get", ps, "/registry/secrets/", "--prefix", "--keys-only"],
    ];
    let mut redacted = 0;
    for args in &runs {
        let out = common::run(args.iter().copied());
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains(uid) && !text.contains(&b64), "{args:?} shows the Secret's bytes");
        redacted += usize::from(text.contains("<redacted key>"));
    }
    assert!(redacted >= 8, "the key is there, redacted ({redacted} of {})", runs.len());
    // The index file holds neither (the key index, which `get` builds, is compressed: the file
    // has none at all), and is its owner's alone.
    let stored = std::fs::read(&ix).unwrap();
    let raw = String::from_utf8_lossy(&stored);
    assert!(!raw.contains(uid) && !raw.contains(&b64), "the index stores the Secret's bytes");
    {
        let db = redb::Database::create(&ix).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        let blocks = tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("key_revisions"));
        let n = blocks.map_or(0, |t| redb::ReadableTableMetadata::len(&t).unwrap());
        assert_eq!(n, 0, "a key index of a file holding a Secret as a key");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&ix).unwrap().permissions().mode() & 0o777, 0o600);
}
