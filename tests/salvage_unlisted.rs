//! `salvage` and the records of a `key` leaf that no element lists (review 47c): elements taken
//! out of a leaf leave their keys and values in its bytes, and salvage reads them back, but with
//! no header to vouch for a record's length it keeps them as uncertain; a leaf whose every
//! element was cleared is no empty leaf; and a record cut inside its value is never kept as a
//! whole one with an empty value.

mod common;

use serde_json::Value;

const PS: usize = 4096;

/// The snapshot fixture with the pages its tree does not reach zeroed (no older copy of a leaf
/// to carve), and the last leaf of its `key` bucket (byte offset): its records lie above the
/// compaction, where a record found outside the tree is kept as certain.
fn fixture() -> (Vec<u8>, usize) {
    let mut d = common::bytes("k8s-0.005.snap.db");
    let unreached: Vec<usize> = {
        let view = boltscope::DbView::new(&d).unwrap();
        let (_, s, reached) = boltscope::bbolt::structure::walk_reached(&view, &());
        assert!(s.is_clean());
        (2..d.len() / PS).filter(|&id| !reached.get(id as u64)).collect()
    };
    for id in unreached {
        d[id * PS..(id + 1) * PS].fill(0);
    }
    let (first, leaf) = *common::damage::key_leaves(&d).last().unwrap();
    assert!(first > 96, "above the compaction: {first}");
    (d, leaf * PS)
}

/// Element `i` of the leaf at `page`: (key offset, key length, value length), file offsets.
fn elem(d: &[u8], page: usize, i: usize) -> (usize, usize, usize) {
    let h = page + 16 + i * 16;
    (h + common::u32_at(d, h + 4), common::u32_at(d, h + 8), common::u32_at(d, h + 12))
}

/// Salvages `d` with a trailer: (exit code, report).
fn salvage(d: &[u8]) -> (Option<i32>, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, _) = common::salvage_bytes(d, tmp.path());
    (code, report)
}

fn key_of(d: &[u8], page: usize, i: usize) -> String {
    let (k, ks, _) = elem(d, page, i);
    let v = &d[k + ks..];
    String::from_utf8(v[2..2 + v[1] as usize].to_vec()).unwrap()
}

#[test]
fn a_record_taken_out_and_cut_inside_its_value_is_never_a_certain_one() {
    // The leaf's last element taken out (count lowered, its header slot zeroed) and its bytes
    // zeroed from its value's field on: what is left reads as a put with an empty value. It was
    // kept as a certain record, the copy called sound by `check` (review 47c F1).
    let (mut d, leaf) = fixture();
    let n = common::u16_at(&d, leaf + 10);
    let (k, ks, vs) = elem(&d, leaf, n - 1);
    let key = key_of(&d, leaf, n - 1);
    let value = &d[k + ks..k + ks + vs];
    let tag = value.iter().position(|&b| b == 0x2a).unwrap();
    d[k + ks + tag..k + ks + vs].fill(0);
    d[leaf + 16 + (n - 1) * 16..leaf + 16 + n * 16].fill(0);
    d[leaf + 10..leaf + 12].copy_from_slice(&(n as u16 - 1).to_le_bytes());
    common::reseal(&mut d);
    let (code, r) = salvage(&d);
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["lossless"], false, "{r}");
    let named = r["uncertain_keys_first"].as_array().unwrap().iter().any(|k| k == key.as_str());
    assert!(named, "{key} is named uncertain: {r}");
}

#[test]
fn a_leaf_whose_every_element_was_cleared_is_no_empty_leaf() {
    // Count 0 and every header slot zeroed, the records left where they were: the leaf was read
    // as empty and the copy called lossless, exit 0, its records gone (review 47c F2). Now its
    // range is told lost and its records are read back, uncertain.
    let (mut d, leaf) = fixture();
    let n = common::u16_at(&d, leaf + 10);
    let keys: Vec<String> = (0..n).map(|i| key_of(&d, leaf, i)).collect();
    d[leaf + 16..leaf + 16 + n * 16].fill(0);
    d[leaf + 10..leaf + 12].copy_from_slice(&0u16.to_le_bytes());
    common::reseal(&mut d);
    let (code, r) = salvage(&d);
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["lossless"], false, "{r}");
    let uncertain: Vec<&str> = r["uncertain_keys_first"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(keys.iter().all(|k| uncertain.contains(&k.as_str())), "{keys:?} all back, uncertain: {r}");
    // Every record is in the copy: the undamaged file's etcdutl HASH.
    let hash = common::answer("k8s-0.005.snap.db", "status.simple").unwrap();
    assert_eq!(r["dst_status"]["hash"].as_str(), hash.split(',').next(), "{r}");
}
