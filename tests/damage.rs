//! Damaged copies of a real etcd snapshot: each damage is built here from offsets this test
//! computes from the raw on-disk layout (not through boltscope), and the exact problem kind is
//! required. The CLI must answer with exit 1 and the problem, never a panic.

mod common;
use boltscope::etcd::status::{self, EtcdVersion, StatusReport};
use boltscope::{DbView, Error, ProblemKind};

const PS: usize = 4096;
const FIXTURE: &str = "k8s-0.005.member.db";

use common::{layout, put_u64, u16_at, u32_at, u64_at};

fn report(d: &[u8]) -> StatusReport {
    let v = DbView::new(d).expect("meta pages still valid");
    status::status(&v, EtcdVersion::V35).expect("status runs")
}

fn kinds(r: &StatusReport) -> Vec<ProblemKind> {
    r.structure.problems.iter().map(|p| p.kind).collect()
}

/// Runs the CLI on damaged bytes: exit 1, nothing on stdout, the problem kind on stderr.
fn cli_rejects(d: &[u8], kind: ProblemKind) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("damaged.db");
    std::fs::write(&p, d).unwrap();
    let out = common::boltscope().arg("status").arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    assert!(out.stdout.is_empty(), "a damaged file gets no figures");
    assert!(err.contains(&kind.name()), "stderr lacks {}: {err}", kind.name());
}

#[test]
fn undamaged_fixture_is_clean() {
    let d = common::bytes(FIXTURE);
    assert!(report(&d).structure.is_clean());
}

#[test]
fn branch_pointing_at_itself_is_a_cycle() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    let at = l.key_root * PS + 16 + 16 * 3 + 8; // element 3's child pgid
    put_u64(&mut d, at, l.key_root as u64);
    let r = report(&d);
    let p = r.structure.problems.iter().find(|p| p.kind == ProblemKind::Cycle).expect("cycle reported");
    assert_eq!(p.page, Some(l.key_root as u64));
    assert_eq!(p.bucket, vec!["key".to_string()]);
    cli_rejects(&d, ProblemKind::Cycle);
}

#[test]
fn child_past_the_high_water_mark_is_out_of_bounds() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    put_u64(&mut d, l.key_root * PS + 16 + 8, l.hwm + 5);
    let r = report(&d);
    let p = r.structure.problems.iter().find(|p| p.kind == ProblemKind::PageOutOfBounds).expect("reported");
    assert_eq!(p.page, Some(l.hwm + 5));
    // Reported where it is named: the child id in the root's first branch element.
    assert_eq!(p.offset, Some((l.key_root * PS + 16 + 8) as u64), "{p}");
    assert!(p.message.contains(&format!("referenced by page {}", l.key_root)), "{p}");
    cli_rejects(&d, ProblemKind::PageOutOfBounds);
}

#[test]
fn two_branches_sharing_a_child_is_a_multiple_reference() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    let child0 = u64_at(&d, l.key_root * PS + 16 + 8);
    put_u64(&mut d, l.key_root * PS + 16 + 16 + 8, child0);
    let r = report(&d);
    assert!(kinds(&r).contains(&ProblemKind::MultipleReferences), "{:?}", kinds(&r));
}

#[test]
fn element_outside_its_page() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    let e = l.first_leaf * PS + 16 + 16 * 2; // element 2's pos
    d[e + 4..e + 8].copy_from_slice(&0x00F0_0000u32.to_le_bytes());
    let r = report(&d);
    let p = r.structure.problems.iter().find(|p| p.kind == ProblemKind::ElementOutsidePage).expect("reported");
    assert_eq!(p.page, Some(l.first_leaf as u64));
    assert_eq!(p.offset, Some(e as u64), "offset names the element header");
    cli_rejects(&d, ProblemKind::ElementOutsidePage);
}

#[test]
fn invalid_page_flags() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    d[l.first_leaf * PS + 8] = 0x20;
    let r = report(&d);
    assert!(kinds(&r).contains(&ProblemKind::InvalidPageType), "{:?}", kinds(&r));
    cli_rejects(&d, ProblemKind::InvalidPageType);
}

#[test]
fn header_id_mismatch() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    put_u64(&mut d, l.first_leaf * PS, 9999);
    let r = report(&d);
    let p = r.structure.problems.iter().find(|p| p.kind == ProblemKind::PageIdMismatch).expect("reported");
    assert_eq!(p.offset, Some((l.first_leaf * PS) as u64));
}

#[test]
fn swapped_keys_are_out_of_order() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    let key = |d: &[u8], i: usize| {
        let e = l.first_leaf * PS + 16 + 16 * i;
        (e + u32_at(d, e + 4), u32_at(d, e + 8))
    };
    let ((a, alen), (b, blen)) = (key(&d, 0), key(&d, 1));
    assert_eq!((alen, blen), (17, 17), "revision keys");
    let ka = d[a..a + 17].to_vec();
    d.copy_within(b..b + 17, a);
    d[b..b + 17].copy_from_slice(&ka);
    let r = report(&d);
    assert!(kinds(&r).contains(&ProblemKind::KeysOutOfOrder), "{:?}", kinds(&r));
    cli_rejects(&d, ProblemKind::KeysOutOfOrder);
}

#[test]
fn truncated_file_reports_pages_past_the_end() {
    let full = common::bytes(FIXTURE);
    let d = &full[..full.len() / 2];
    let r = report(d);
    let k = kinds(&r);
    assert!(k.contains(&ProblemKind::HwmPastEof), "{k:?}");
    assert!(k.contains(&ProblemKind::PagePastEof), "{k:?}");
    cli_rejects(d, ProblemKind::HwmPastEof);
}

#[test]
fn bad_checksum_on_the_active_meta_falls_back_to_the_other() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    d[l.active_meta * PS + 72] ^= 0xFF; // checksum byte
    let v = DbView::new(&d).unwrap();
    assert_eq!(v.meta_index, 1 - l.active_meta);
    assert!(!v.metas.other_valid());
    let r = status::status(&v, EtcdVersion::V35).unwrap();
    let p = &r.structure.problems[0];
    assert_eq!((p.kind, p.page), (ProblemKind::MetaInvalid, Some(l.active_meta as u64)));
}

#[test]
fn a_high_water_mark_past_the_end_is_found_in_either_meta_page_and_never_saturated() {
    // The other meta page's mark was not looked at (check said OK), and a mark whose bytes
    // overflow 64 bits was printed as 18446744073709551615 bytes.
    let base = common::bytes(FIXTURE);
    let l = layout(&base);
    let edit = |page: usize, hwm: u64| {
        let mut d = base.clone();
        let m = page * PS;
        put_u64(&mut d, m + 56, hwm);
        let sum = boltscope::bbolt::meta::fnv1a64(&d[m + 16..m + 72]);
        d[m + 72..m + 80].copy_from_slice(&sum.to_le_bytes());
        d
    };
    let other = 1 - l.active_meta;
    let d = edit(other, 1 << 40);
    let v = DbView::new(&d).unwrap();
    assert_eq!(v.meta_index, l.active_meta);
    let p: Vec<_> = v.file_problems().into_iter().filter(|p| p.kind == ProblemKind::HwmPastEof).collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!((p[0].page, p[0].offset), (Some(other as u64), Some((other * PS + 56) as u64)));
    assert!(p[0].message.starts_with(&format!("meta page {other} (the other one): ")), "{}", p[0].message);
    let d = edit(l.active_meta, 1 << 62);
    let v = DbView::new(&d).unwrap();
    let p = v.file_problems();
    let m = &p.iter().find(|p| p.kind == ProblemKind::HwmPastEof).unwrap().message;
    assert!(m.contains("more bytes than 64 bits count") && !m.contains("18446744073709551615"), "{m}");
}

#[test]
fn both_meta_pages_damaged_are_each_named_with_the_byte_offset() {
    // The error said only "neither meta page (0 or 1) is valid", of a file that carries bbolt's
    // magic twice: now each page's reason and where it lies.
    let mut d = common::bytes(FIXTURE);
    d[72] ^= 0x01; // meta page 0's checksum
    d[PS + 20] ^= 0x01; // meta page 1's version
    let e = DbView::new(&d).unwrap_err();
    assert_eq!(e.kind(), boltscope::error::ErrorKind::NotBbolt);
    let msg = e.to_string();
    assert!(msg.starts_with("neither meta page (0 or 1) is valid: meta page 0: checksum"), "{msg}");
    assert!(msg.contains("(byte offset 72)") && msg.contains(&format!("(byte offset {})", PS + 20)), "{msg}");
    assert!(msg.contains("meta page 1: version"), "{msg}");
    // Not bbolt at all: as before.
    let e = DbView::new(&vec![7u8; 3 * PS]).unwrap_err();
    assert_eq!(e.to_string(), "not a bbolt database: neither meta page (0 or 1) is valid");
}

#[test]
fn snapshot_with_one_bad_meta_still_gives_etcdutls_figures() {
    // A snapshot's two meta pages describe the same tree (Tx.WriteTo), so the figures from the
    // surviving meta are exactly what etcdutl printed for the intact file.
    let name = "k8s-0.005.snap.db";
    let mut d = common::bytes(name);
    let l = layout(&d);
    d[l.active_meta * PS + 20] ^= 0x01; // version field
    let r = report(&d);
    assert_eq!(kinds(&r), vec![ProblemKind::MetaInvalid]);
    assert_eq!(serde_json::to_value(&r.status).unwrap(), common::answer_json(name, "status.json").unwrap());
}

#[test]
fn both_metas_invalid_is_not_bbolt() {
    let mut d = common::bytes(FIXTURE);
    d[16] ^= 0xFF;
    d[PS + 16] ^= 0xFF;
    assert!(matches!(DbView::new(&d), Err(Error::NotBbolt { .. })));
}

#[test]
fn freed_reachable_page_and_leak() {
    // The synced generic file has a freelist page: list the (reachable) root page in it, which
    // bbolt's tx.Check calls "reachable freed".
    let name = "bolt-4k-synced.db";
    let mut d = common::bytes(name);
    let m = if u64_at(&d, PS + 64) > u64_at(&d, 64) { PS } else { 0 };
    let (root, fl) = (u64_at(&d, m + 32), u64_at(&d, m + 48) as usize);
    assert_eq!(u16_at(&d, fl * PS + 8), 0x10, "freelist page");
    let n = u16_at(&d, fl * PS + 10);
    assert!(n > 0 && n < 0xFFFF);
    put_u64(&mut d, fl * PS + 16, root); // first id := the root page (reachable)
    let r = report(&d);
    let k = kinds(&r);
    assert!(k.contains(&ProblemKind::ReachableFreed), "{k:?}");
    // The id it replaced is now neither reachable nor free: a leak.
    assert!(k.contains(&ProblemKind::UnreachableUnfreed), "{k:?}");
    let freed = r.structure.problems.iter().find(|p| p.kind == ProblemKind::ReachableFreed).unwrap();
    assert_eq!(freed.offset, Some(root * PS as u64), "{freed}");
    // The same id listed twice: reported where the freelist lists it the second time.
    let mut d = common::bytes(name);
    let second = u64_at(&d, fl * PS + 16);
    put_u64(&mut d, fl * PS + 16 + 8, second);
    let r = report(&d);
    let twice = r.structure.problems.iter().find(|p| p.kind == ProblemKind::PageFreedTwice).expect("reported");
    assert_eq!((twice.page, twice.offset), (Some(second), Some((fl * PS + 16 + 8) as u64)), "{twice}");
}
