//! `boltscope check` on structural damage built here from the raw layout (a malformed inline
//! bucket, a page freed twice, a branch key unlike its child's, revisions out of order), inputs
//! it cannot read at all, and the headline on stderr. Gates, etcd invariants, `--meta` and the
//! JSON are in `check_cli.rs`.

mod common;
use common::checks::{check, first_key_leaf, json, kinds, root_entry, write, PS};
use common::{u16_at, u32_at, u64_at};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn only_kinds(tmp: &tempfile::TempDir, name: &str, d: &[u8]) -> Vec<String> {
    let (code, v) = json(&[], &write(tmp, name, d));
    assert_eq!(code, Some(1), "{v}");
    kinds(&v)
}

#[test]
fn inline_bucket_malformed() {
    // The lease bucket is inline: make its page claim to be a branch.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (_, v) = root_entry(&d, b"lease");
    assert_eq!(u64_at(&d, v), 0, "inline");
    d[v + 16 + 8] = 0x01;
    assert!(only_kinds(&tmp, "inline.db", &d).contains(&"bucket_malformed".to_string()));
}

#[test]
fn page_freed_twice() {
    // A synced freelist: list its first id twice.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("bolt-4k-synced.db");
    let m = if u64_at(&d, PS + 64) > u64_at(&d, 64) { PS } else { 0 };
    let fl = u64_at(&d, m + 48) as usize * PS;
    assert!(u16_at(&d, fl + 10) >= 2);
    let first = u64_at(&d, fl + 16);
    d[fl + 24..fl + 32].copy_from_slice(&first.to_le_bytes());
    let k = only_kinds(&tmp, "twice.db", &d);
    assert!(k.contains(&"page_freed_twice".to_string()), "{k:?}");
}

#[test]
fn branch_key_that_differs_from_its_childs_first_key() {
    // Set branch element 1's key just above child 0's last key (its last byte plus one): still
    // in order and still <= child 1's keys, but no longer child 1's first key.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let (_, v) = root_entry(&d, b"key");
    let kroot = u64_at(&d, v) as usize * PS;
    let e1 = kroot + 16 + 16;
    let (k1, k1len) = (e1 + u32_at(&d, e1), u32_at(&d, e1 + 4));
    let leaf0 = u64_at(&d, kroot + 16 + 8) as usize * PS;
    let last = leaf0 + 16 + 16 * (u16_at(&d, leaf0 + 10) - 1);
    let (lk, lklen) = (last + u32_at(&d, last + 4), u32_at(&d, last + 8));
    assert_eq!(lklen, k1len, "same key length");
    let mut new = d[lk..lk + lklen].to_vec();
    *new.last_mut().unwrap() += 1;
    assert!(new.as_slice() < &d[k1..k1 + k1len], "room between the two children");
    d[k1..k1 + k1len].copy_from_slice(&new);
    assert_eq!(only_kinds(&tmp, "bkey.db", &d), ["branch_key_mismatch"]);
}

#[test]
fn create_revision_after_mod_revision() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let leaf = first_key_leaf(&d);
    let e = leaf + 16;
    let val = e + u32_at(&d, e + 4) + u32_at(&d, e + 8);
    let at = val + 2 + d[val + 1] as usize;
    assert_eq!((d[at], d[at + 1] & 0x80), (0x10, 0), "one-byte create_revision");
    d[at + 1] = 0x7f; // 127 > mod_revision (<= 111)
    assert_eq!(only_kinds(&tmp, "create.db", &d), ["inconsistent_key_value", "residual_secrets"]);
}

#[test]
fn finished_compaction_past_the_scheduled_one() {
    // meta is inline in the root page: find finishedCompactRev's value and raise its main.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let name = b"finishedCompactRev";
    let m = if u64_at(&d, PS + 64) > u64_at(&d, 64) { PS } else { 0 };
    let root = u64_at(&d, m + 32) as usize * PS;
    let page = &d[root..root + PS];
    let at = root + page.windows(name.len()).position(|w| w == name).expect("key in the root page") + name.len();
    assert_eq!(d[at + 8], b'_', "a revision value");
    d[at + 7] += 1;
    let (code, v) = json(&[], &write(&tmp, "meta.db", &d));
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(kinds(&v), ["etcd_meta_malformed", "residual_secrets"]);
    // Named where the value lies, as every problem with a place is.
    let p = &v["problems"][0];
    assert_eq!((p["page"].as_u64(), p["offset"].as_u64()), (Some((root / PS) as u64), Some(at as u64)), "{p}");
}

#[test]
fn unreadable_file_exits_2_with_one_line() {
    // Root reads anything: drop to nobody for this one (setpriv, from util-linux).
    let tmp = tempfile::tempdir().unwrap();
    let p = copy_private(&tmp);
    // The binary too, so nobody can run it wherever the clone lives (/root is 0700).
    let bin = tmp.path().join("boltscope");
    std::fs::copy(env!("CARGO_BIN_EXE_boltscope"), &bin).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["--no-index", "check"])
        .arg(&p)
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED: setpriv not available");
        return;
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Permission denied"), "{err}");
}

/// A fixture copy readable by nobody but root, in a folder everyone may enter.
fn copy_private(tmp: &tempfile::TempDir) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = write(tmp, "private.db", &common::bytes("tiny-1.snap.db"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    p
}

#[test]
fn a_database_shorter_than_4096_bytes_fails_as_real_bbolt_refuses_it() {
    // fill-1's backend in 1 KiB pages is three pages: compact pads the copy to 4096 bytes, since
    // real bbolt 1.3.6 (`boltoracle check`, tests/compact_interop.rs) calls the unpadded 3072
    // bytes "invalid database". Cut back to its pages, the file is otherwise clean.
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("fill-1.member.db", &tmp);
    let padded = tmp.path().join("padded.db");
    let out = common::boltscope()
        .args(["compact", "--page-size", "1024", "-w", "json"])
        .arg(&src)
        .arg("-o")
        .arg(&padded)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rep: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((rep["pages"].as_u64(), rep["dst_size"].as_u64()), (Some(3), Some(4096)));
    assert_eq!(json(&[], &padded).0, Some(0), "the padded copy is clean");
    let d = std::fs::read(&padded).unwrap();
    let short = write(&tmp, "short.db", &d[..3 * 1024]);
    let (code, v) = json(&[], &short);
    assert_eq!(code, Some(1), "{v}");
    // fill-1 also holds the NOSPACE alarm real etcd raised (fill-1.alarms.txt): a warning.
    assert_eq!(kinds(&v), vec!["too_short_for_bbolt", "alarm_raised"], "{v}");
}

#[test]
fn the_headline_counts_warnings_and_a_file_that_is_not_etcd_says_so() {
    // fill-1 carries a NOSPACE alarm (a warning): it passes, but the headline does not say
    // "no problems" above the warning it lists. A generic bbolt file passes as bbolt, and says
    // that it holds no etcd data (a snapshot that lost its buckets must not read as sound).
    let tmp = tempfile::tempdir().unwrap();
    let out = check(&["--no-index"], &common::path("fill-1.snap.db", &tmp));
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.lines().next().unwrap().ends_with("OK: no errors, 1 warning(s)"), "{t}");
    let out = check(&["--no-index"], &common::path("bolt-4k-nosync.db", &tmp));
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("etcd      not an etcd file"), "{t}");
    let out = check(&["--no-index"], &common::path("tiny-1.snap.db", &tmp));
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.lines().next().unwrap().ends_with("OK: no problems") && !t.contains("not an etcd"), "{t}");
}

#[test]
fn bytes_appended_are_named_by_page_and_offset() {
    // Review 36b: trailing_bytes gave its byte offset with "page": null.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let end = d.len();
    assert_eq!(end % PS, 0);
    d.extend_from_slice(&[0x5a; 100]);
    let (code, v) = json(&[], &write(&tmp, "appended.db", &d));
    assert_eq!(code, Some(1), "{v}");
    let p = v["problems"].as_array().unwrap().iter().find(|p| p["kind"] == "trailing_bytes").expect("told");
    assert_eq!((p["page"].as_u64(), p["offset"].as_u64()), (Some((end / PS) as u64), Some(end as u64)), "{p}");
}
