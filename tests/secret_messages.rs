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
