//! A record whose key field was damaged so that it reads as an empty key (review 48a F2): one bit
//! of its tag (`0x0a`, field 1, to `0x4a`, field 9) makes the key's bytes an unknown field, and the
//! record still decodes. etcd refuses to put or delete the empty key, so no such record is etcd's,
//! and no range of keys selects it (the "every key" readers start at `\0`). It passed `check` when
//! it was its key's only record, `inspect` and `du` counted it as a live key, and `get`, `dump` and
//! `log` left it out with exit 0. Now every command calls it what it is.

mod common;

use std::process::Output;

const PS: usize = 4096;

/// The snapshot fixture with the key field of a put that is its key's only record damaged (the
/// tag byte of its value: field 1 made field 9), the trailer made again over it; and that key.
fn damaged() -> (Vec<u8>, String) {
    let mut d = common::bytes("k8s-0.005.snap.db");
    // Every `key` record: (value's offset, revision key's length, the key its value names).
    let mut recs: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    for (_, leaf) in common::damage::key_leaves(&d) {
        for i in 0..common::u16_at(&d, leaf * PS + 10) {
            let h = leaf * PS + 16 + i * 16;
            let (k, ks) = (h + common::u32_at(&d, h + 4), common::u32_at(&d, h + 8));
            let v = k + ks;
            assert_eq!(d[v], 0x0a, "a KeyValue starts with its key field");
            let n = d[v + 1] as usize;
            assert!(n < 0x80, "a key shorter than 128 bytes");
            recs.push((v, ks, d[v + 2..v + 2 + n].to_vec()));
        }
    }
    let once = |key: &[u8]| recs.iter().filter(|r| r.2 == key).count() == 1;
    let (at, _, key) = recs.iter().find(|r| r.1 == 17 && once(&r.2)).expect("a key written once").clone();
    d[at] = 0x4a;
    common::reseal(&mut d);
    (d, String::from_utf8(key).unwrap())
}

fn run(file: &std::path::Path, args: &[&str]) -> Output {
    common::boltscope().arg("--no-index").args(args).arg(file).output().unwrap()
}

#[test]
fn a_record_whose_key_reads_empty_fails_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, key) = damaged();
    let f = tmp.path().join("emptied-key.db");
    std::fs::write(&f, &d).unwrap();

    let check = run(&f, &["check", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!(check.status.code(), Some(1), "{v}");
    assert!(v["problems"].to_string().contains("has an empty key"), "{v}");
    let inspect = run(&f, &["inspect", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!((inspect.status.code(), &v["mvcc"]), (Some(1), &serde_json::Value::Null), "live keys withheld");
    for (cmd, rest) in [
        ("du", &[][..]),
        ("hashkv", &[]),
        ("dump", &[]),
        ("dump", &["--all-revisions"]),
        ("log", &[]),
        ("get", &["", "--prefix", "--count-only"]),
        ("get", &[key.as_str()]),
    ] {
        let out = common::boltscope().args(["--no-index", cmd]).arg(&f).args(rest).output().unwrap();
        let args = (cmd, rest);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
