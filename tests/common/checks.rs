//! What the `check` tests share: running `boltscope check`, its JSON and problem kinds, and
//! finding a root bucket and the `key` bucket's first leaf in a 4 KiB-page fixture's raw bytes.

use super::{u16_at, u32_at, u64_at};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

pub const PS: usize = 4096;

pub fn check(args: &[&str], file: &Path) -> Output {
    super::boltscope().arg("check").args(args).arg(file).output().unwrap()
}

pub fn json(args: &[&str], file: &Path) -> (Option<i32>, Value) {
    let mut a = vec!["-w", "json"];
    a.extend_from_slice(args);
    let out = check(&a, file);
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
}

pub fn kinds(v: &Value) -> Vec<String> {
    v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap().to_string()).collect()
}

pub fn write(tmp: &tempfile::TempDir, name: &str, d: &[u8]) -> PathBuf {
    let p = tmp.path().join(name);
    std::fs::write(&p, d).unwrap();
    p
}

/// Active meta offset, and the `(element offset, key, value offset)` of a root bucket entry.
pub fn root_entry(d: &[u8], name: &[u8]) -> (usize, usize) {
    let m = if u64_at(d, PS + 64) > u64_at(d, 64) { PS } else { 0 };
    let root = u64_at(d, m + 32) as usize * PS;
    for i in 0..u16_at(d, root + 10) {
        let e = root + 16 + 16 * i;
        let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
        if &d[e + pos..e + pos + ks] == name {
            return (e, e + pos + ks);
        }
    }
    panic!("no bucket {name:?}");
}

/// The first leaf of the `key` bucket (its root is a branch in this fixture).
pub fn first_key_leaf(d: &[u8]) -> usize {
    let (_, v) = root_entry(d, b"key");
    let kroot = u64_at(d, v) as usize * PS;
    assert_eq!(u16_at(d, kroot + 8), 1, "branch");
    let leaf = u64_at(d, kroot + 16 + 8) as usize * PS;
    assert_eq!(u16_at(d, leaf + 8), 2, "leaf");
    leaf
}

/// An inline top-level bucket `bucket` of the tree's root: the offset of its page header, and the
/// element offset and value offset of its entry `name`.
pub fn inline_entry(d: &[u8], bucket: &[u8], name: &[u8]) -> (usize, usize, usize) {
    let (_, v) = root_entry(d, bucket);
    assert_eq!(u64_at(d, v), 0, "an inline bucket");
    let page = v + 16;
    for i in 0..u16_at(d, page + 10) {
        let e = page + 16 + 16 * i;
        let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
        if &d[e + pos..e + pos + ks] == name {
            return (page, e, e + pos + ks);
        }
    }
    panic!("no {name:?} in {bucket:?}");
}
