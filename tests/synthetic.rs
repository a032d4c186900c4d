//! Files built byte by byte here, following the on-disk format independently of boltscope, for
//! what real tools did not produce: every page size from 512 B to 64 KiB, both byte orders, the
//! freelist count escape, and meta selection. Expected values are hand calculations (CRC-32C of
//! the concatenated names, keys and values) or real bbolt's checksums quoted in BBOLT-FORMAT.md.

use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::{DbView, ProblemKind};

#[derive(Clone, Copy)]
struct W {
    ps: usize,
    be: bool,
}

impl W {
    fn put(&self, p: &mut [u8], off: usize, v: u64, n: usize) {
        let b = v.to_le_bytes();
        for i in 0..n {
            p[off + if self.be { n - 1 - i } else { i }] = b[i];
        }
    }
    fn header(&self, p: &mut [u8], id: u64, flags: u64, count: u64, overflow: u64) {
        self.put(p, 0, id, 8);
        self.put(p, 8, flags, 2);
        self.put(p, 10, count, 2);
        self.put(p, 12, overflow, 4);
    }
    fn meta(&self, id: u64, txid: u64, root: u64, freelist: u64, pgid: u64) -> Vec<u8> {
        let mut p = vec![0; self.ps];
        self.header(&mut p, id, 0x04, 0, 0);
        for (off, v, n) in [
            (16, 0xED0C_DAED, 4),
            (20, 2, 4),
            (24, self.ps as u64, 4),
            (32, root, 8),
            (48, freelist, 8),
            (56, pgid, 8),
            (64, txid, 8),
        ] {
            self.put(&mut p, off, v, n);
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in &p[16..72] {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        self.put(&mut p, 72, h, 8);
        p
    }
    /// A leaf page (or inline page image when `id` is None) with packed `key||value` data.
    fn leaf(&self, id: Option<u64>, elems: &[(u64, &[u8], Vec<u8>)]) -> Vec<u8> {
        let data: usize = elems.iter().map(|(_, k, v)| k.len() + v.len()).sum();
        let used = 16 + 16 * elems.len() + data;
        let mut p = vec![0; if id.is_some() { used.div_ceil(self.ps) * self.ps } else { used }];
        let ovf = if id.is_some() { (p.len() / self.ps - 1) as u64 } else { 0 };
        self.header(&mut p, id.unwrap_or(0), 0x02, elems.len() as u64, ovf);
        let mut at = 16 + 16 * elems.len();
        for (i, (flags, k, v)) in elems.iter().enumerate() {
            let e = 16 + 16 * i;
            self.put(&mut p, e, *flags, 4);
            self.put(&mut p, e + 4, (at - e) as u64, 4);
            self.put(&mut p, e + 8, k.len() as u64, 4);
            self.put(&mut p, e + 12, v.len() as u64, 4);
            p[at..at + k.len()].copy_from_slice(k);
            p[at + k.len()..at + k.len() + v.len()].copy_from_slice(v);
            at += k.len() + v.len();
        }
        p
    }
    fn bucket_value(&self, root: u64, inline: Option<Vec<u8>>) -> Vec<u8> {
        let mut v = vec![0; 16];
        self.put(&mut v, 0, root, 8);
        v.extend(inline.unwrap_or_default());
        v
    }
}

fn rev(main: u64, sub: u64) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend(sub.to_be_bytes());
    k
}

/// meta0 (txid 3), meta1 (txid 2), freelist page 2 (empty), root leaf page 3 with an inline
/// bucket "b" {k1: v1, k2: v22} and bucket "key" rooted at page 4 (two revisions).
fn small_db(w: W) -> Vec<u8> {
    let inline = w.leaf(None, &[(0, b"k1", b"v1".to_vec()), (0, b"k2", b"v22".to_vec())]);
    let root = w.leaf(Some(3), &[(1, b"b", w.bucket_value(0, Some(inline))), (1, b"key", w.bucket_value(4, None))]);
    let key = w.leaf(Some(4), &[(0, &rev(7, 0), b"seven".to_vec()), (0, &rev(9, 1), b"nine".to_vec())]);
    let mut fl = vec![0; w.ps];
    w.header(&mut fl, 2, 0x10, 0, 0);
    [w.meta(0, 3, 3, 2, 5), w.meta(1, 2, 3, 2, 5), fl, root, key].concat()
}

#[test]
fn every_page_size_and_both_byte_orders() {
    let mut want = b"b".to_vec();
    want.extend(b"k1v1k2v22key");
    want.extend(rev(7, 0));
    want.extend(b"seven");
    want.extend(rev(9, 1));
    want.extend(b"nine");
    let hash = crc32c::crc32c(&want);
    for ps in [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536] {
        for be in [false, true] {
            let d = small_db(W { ps, be });
            let v = DbView::new(&d).unwrap_or_else(|e| panic!("ps {ps} be {be}: {e}"));
            assert_eq!((v.page_size, v.meta_index), (ps as u64, 0));
            let r = status::status(&v, EtcdVersion::V35).unwrap();
            assert!(r.structure.is_clean(), "ps {ps} be {be}: {:?}", r.structure.problems);
            assert_eq!(r.status.hash, hash, "ps {ps} be {be}");
            assert_eq!((r.status.revision, r.status.total_key, r.status.total_size), (9, 4, 5 * ps as u64));
            assert_eq!(r.structure.free_pages, 0);
        }
    }
}

#[test]
fn fresh_db_meta_checksums_equal_real_bbolts() {
    // BBOLT-FORMAT.md 14.1: a fresh 4 KiB database written by real bbolt.
    let w = W { ps: 4096, be: false };
    let m0 = w.meta(0, 0, 3, 2, 4);
    let m1 = w.meta(1, 1, 3, 2, 4);
    assert_eq!(u64::from_le_bytes(m0[72..80].try_into().unwrap()), 0x07516e114689fdee);
    assert_eq!(u64::from_le_bytes(m1[72..80].try_into().unwrap()), 0x264c351a5179480f);
    assert_eq!(boltscope::bbolt::meta::fnv1a64(&m0[16..72]), 0x07516e114689fdee);
    let mut fl = vec![0; 4096];
    w.header(&mut fl, 2, 0x10, 0, 0);
    let root = w.leaf(Some(3), &[]);
    let d = [m0, m1, fl, root].concat();
    let v = DbView::new(&d).unwrap();
    assert_eq!(v.meta_index, 1, "the fresh database's active meta is page 1 (txid 1)");
    let r = status::status(&v, EtcdVersion::V35).unwrap();
    assert!(r.structure.is_clean());
    assert_eq!((r.status.hash, r.status.total_key, r.status.total_size), (0, 0, 16384));
}

#[test]
fn meta_selection_follows_bbolt() {
    let w = W { ps: 4096, be: false };
    let base = small_db(w);
    // Higher txid on page 1.
    let mut d = base.clone();
    d[4096..8192].copy_from_slice(&w.meta(1, 4, 3, 2, 5));
    assert_eq!(DbView::new(&d).unwrap().meta_index, 1);
    // Equal txids: page 0.
    d[4096..8192].copy_from_slice(&w.meta(1, 3, 3, 2, 5));
    assert_eq!(DbView::new(&d).unwrap().meta_index, 0);
    // Higher one invalid: the other, and it says so.
    let mut d = base.clone();
    d[64] ^= 1; // txid byte of page 0, checksum now wrong
    let v = DbView::new(&d).unwrap();
    assert_eq!(v.meta_index, 1);
    assert_eq!(v.metas.problems()[0].kind, ProblemKind::MetaInvalid);
    // --meta 0 on an invalid page is refused; --meta 1 reads.
    assert!(DbView::with_meta(&d, 0).is_err());
    assert_eq!(DbView::with_meta(&base, 1).unwrap().meta_index, 1);
}

#[test]
fn freelist_count_escape() {
    // 512-byte pages: meta 0/1, empty root leaf at 2, the freelist run at 3.., then 66 000 free
    // pages, more than the u16 count holds, so count = 0xFFFF and the real count is the first u64.
    let w = W { ps: 512, be: false };
    let n: u64 = 66_000;
    let fl_bytes = 16 + 8 + 8 * n as usize;
    let fl_pages = fl_bytes.div_ceil(512) as u64;
    let hwm = 3 + fl_pages + n;
    let mut fl = vec![0; fl_pages as usize * 512];
    w.header(&mut fl, 3, 0x10, 0xFFFF, fl_pages - 1);
    w.put(&mut fl, 16, n, 8);
    for i in 0..n {
        w.put(&mut fl, 24 + 8 * i as usize, 3 + fl_pages + i, 8);
    }
    let mut d = [w.meta(0, 5, 2, 3, hwm), w.meta(1, 4, 2, 3, hwm), w.leaf(Some(2), &[]), fl].concat();
    d.resize(hwm as usize * 512, 0);
    let v = DbView::new(&d).unwrap();
    let r = status::status(&v, EtcdVersion::V35).unwrap();
    assert!(r.structure.is_clean(), "{:?}", &r.structure.problems[..3.min(r.structure.problems.len())]);
    assert_eq!(r.structure.free_pages, n);
    assert_eq!(r.structure.freelist_inuse, fl_bytes as u64);
    // A count larger than the run can hold is a problem, not a read past the run.
    w.put(&mut d, 3 * 512 + 16, u64::MAX / 2, 8);
    let r = status::status(&DbView::new(&d).unwrap(), EtcdVersion::V35).unwrap();
    assert!(r.structure.problems.iter().any(|p| p.kind == ProblemKind::FreelistInvalid));
}

#[test]
fn v36_counts_live_keys_and_reports_storage_version() {
    // key bucket: put a@2, put b@3, delete a@4 (tombstone), put b@5; meta/storageVersion=3.6.0.
    let w = W { ps: 4096, be: false };
    let kv = |k: &[u8]| {
        let mut v = vec![0x0a, k.len() as u8];
        v.extend(k);
        v
    };
    let mut tomb = rev(4, 0);
    tomb.push(b't');
    let key = w.leaf(
        Some(4),
        &[(0, &rev(2, 0), kv(b"a")), (0, &rev(3, 0), kv(b"b")), (0, &tomb, kv(b"a")), (0, &rev(5, 0), kv(b"b"))],
    );
    let meta = w.leaf(None, &[(0, b"storageVersion", b"3.6.0".to_vec())]);
    let root = w.leaf(Some(3), &[(1, b"key", w.bucket_value(4, None)), (1, b"meta", w.bucket_value(0, Some(meta)))]);
    let mut fl = vec![0; 4096];
    w.header(&mut fl, 2, 0x10, 0, 0);
    let d = [w.meta(0, 3, 3, 2, 5), w.meta(1, 2, 3, 2, 5), fl, root, key].concat();
    let v = DbView::new(&d).unwrap();
    let auto = status::status(&v, EtcdVersion::Auto).unwrap().status;
    assert_eq!((auto.total_key, auto.version.as_deref(), auto.revision), (1, Some("3.6.0"), 5));
    let v35 = status::status(&v, EtcdVersion::V35).unwrap().status;
    assert_eq!((v35.total_key, v35.version), (5, None));
    assert_eq!(status::render(&auto, status::Format::Simple).split(", ").last(), Some("3.6.0\n"));
}
