//! `salvage` and the older copies of a leaf whose values ran on into overflow pages (review 46a
//! F2): once a leaf is freed, its overflow pages may be written again or lost (zeroed by the
//! storage), and a record carved from the copy would then come back with another page's bytes or
//! zeros as its value. A run ends at a page the tree reached or that holds a page of its own; a
//! record whose value runs into a page of zeros is kept, but as uncertain (review 48c: etcd writes
//! values that hold pages of zeros, so it may be whole), its key named and the copy not lossless.
//!
//! The fixture (`fixtures/make-bigvals.sh`, real etcd 3.5.1) is never compacted and holds values of
//! 4.5 to 9 KB, so its free pages keep older copies of its leaves, overflow runs included.

mod common;

use serde_json::Value;

const PS: usize = 4096;

/// Element `i` of the leaf at page `p`: (key, value's file offset, value's length).
fn elem(d: &[u8], p: usize, i: usize) -> (&[u8], usize, usize) {
    let h = p * PS + 16 + i * 16;
    let (k, ks, vs) = (h + common::u32_at(d, h + 4), common::u32_at(d, h + 8), common::u32_at(d, h + 12));
    (&d[k..k + ks], k + ks, vs)
}

fn elems(d: &[u8], p: usize) -> impl Iterator<Item = (&[u8], usize, usize)> {
    (0..common::u16_at(d, p * PS + 10)).map(move |i| elem(d, p, i))
}

/// The fixture, a revision key held by one of its live `key` leaves and by exactly one free copy
/// of a leaf, in which its value runs on into the copy's overflow page: (file, revision key, live
/// leaf, free copy's page, the value in the copy: offset and length).
fn case() -> (Vec<u8>, Vec<u8>, usize, usize, (usize, usize)) {
    let d = common::bytes("bigvals/bigvals.snap.db");
    let reached = {
        let view = boltscope::DbView::new(&d).unwrap();
        let (_, s, reached) = boltscope::bbolt::structure::walk_reached(&view, &());
        assert!(s.is_clean());
        reached
    };
    let leaf = |p: usize| common::u64_at(&d, p * PS) == p as u64 && common::u16_at(&d, p * PS + 8) == 0x02;
    let pages = 2..d.len() / PS;
    // The tree's leaves holding revision keys: the `key` bucket's.
    let live: Vec<usize> =
        pages.clone().filter(|&p| reached.get(p as u64) && leaf(p) && elems(&d, p).any(|e| e.0.len() == 17)).collect();
    let free: Vec<usize> = pages.filter(|&p| !reached.get(p as u64) && leaf(p)).collect();
    for &l in &live {
        for (key, _, _) in elems(&d, l).filter(|e| e.0.len() == 17) {
            let copies: Vec<(usize, usize, usize)> =
                free.iter().flat_map(|&f| elems(&d, f).filter(|e| e.0 == key).map(move |e| (f, e.1, e.2))).collect();
            if let [(f, at, len)] = copies[..] {
                if at < (f + 1) * PS && at + len > (f + 1) * PS && common::u32_at(&d, f * PS + 12) >= 1 {
                    return (d.clone(), key.to_vec(), l, f, (at, len));
                }
            }
        }
    }
    panic!("no revision of a live leaf with one free copy running into its overflow page");
}

/// Salvages `d`: (exit code, report, the copy's every revision as `dump --all-revisions` lines).
fn salvage(d: &[u8]) -> (Option<i32>, Value, Vec<Value>) {
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, dst) = common::salvage_bytes(d, tmp.path());
    let dump = common::boltscope().args(["--no-index", "dump", "--all-revisions"]).arg(&dst).output().unwrap();
    let lines = dump.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    (code, report, lines.map(|l| serde_json::from_slice(l).unwrap()).collect())
}

fn lost(report: &Value, rev: u64) -> bool {
    let ranges = report["revision_ranges_lost"].as_array().unwrap();
    ranges.iter().any(|r| r[0].as_u64().unwrap() <= rev && rev <= r[1].as_u64().unwrap())
}

fn value_at(records: &[Value], rev: u64) -> Option<Vec<u8>> {
    use base64::Engine;
    let r = records.iter().find(|r| r["mod_revision"].as_u64() == Some(rev))?;
    Some(base64::engine::general_purpose::STANDARD.decode(r["value_base64"].as_str().unwrap()).unwrap())
}

#[test]
fn a_record_carved_from_a_free_copy_whose_overflow_page_was_zeroed_is_kept_as_uncertain() {
    let (d, key, live, copy, (at, len)) = case();
    let rev = u64::from_be_bytes(key[..8].try_into().unwrap());
    let stored = &d[at..at + len];
    assert_eq!(stored[0], 0x0a, "a KeyValue starts with its key");
    let name = String::from_utf8(stored[2..2 + stored[1] as usize].to_vec()).unwrap();
    let named = |r: &Value| r["uncertain_keys_first"].as_array().unwrap().iter().any(|k| k == name.as_str());
    let mut lost_leaf = d.clone();
    common::damage::zero_leaf(&mut lost_leaf, live);
    common::reseal(&mut lost_leaf);

    // The tree's leaf lost: the record comes back from the free copy, whole and certain.
    let (_, report, records) = salvage(&lost_leaf);
    assert!(!lost(&report, rev) && !named(&report), "revision {rev}: {report}");
    let value = value_at(&records, rev).expect("the carved record is in the copy");
    assert!(value.len() > PS && stored.windows(value.len()).any(|w| w == value), "revision {rev}'s value as stored");

    // The copy's overflow page zeroed too: the record is kept, but its key is named as uncertain
    // and the copy is not lossless (the zeros may be the storage's, not the value's).
    let mut zeroed = lost_leaf.clone();
    zeroed[(copy + 1) * PS..(copy + 2) * PS].fill(0);
    common::reseal(&mut zeroed);
    let (code, report, records) = salvage(&zeroed);
    assert_eq!((code, &report["lossless"]), (Some(1), &Value::Bool(false)), "{report}");
    assert!(named(&report), "{name} (revision {rev}) named as uncertain: {report}");
    assert!(value_at(&records, rev).is_some(), "revision {rev} kept");
}

#[test]
fn the_fixture_reads_as_the_real_tools_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("bigvals.snap.db");
    std::fs::write(&f, common::bytes("bigvals/bigvals.snap.db")).unwrap();
    let out = common::boltscope().args(["--no-index", "status", "-w", "json"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let etcdutl = std::fs::read_to_string(common::dir().join("bigvals/bigvals.snap.db.status.json")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim_end(), etcdutl.trim_end());
    assert_eq!(
        std::fs::read_to_string(common::dir().join("bigvals/bigvals.snap.db.oracle-check.txt")).unwrap(),
        "OK\n"
    );
    let check = common::boltscope().args(["--no-index", "check", "--require-hash"]).arg(&f).output().unwrap();
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
}
