//! Tests of the MVCC replay (`mvcc.rs`).

use super::*;

fn feed(n: &mut Parts, t: &mut Totals, key: &[u8], main: u64, tomb: bool) {
    let r = Rec::new(main, 0, 10, tomb);
    t.revisions += 1;
    t.tombstones += u64::from(tomb);
    t.bytes += r.bytes();
    n.push(crate::etcd::key_fingerprint(key) & !0xFFFF, r);
}

#[test]
fn keep_rule_by_hand() {
    // a: put@2, put@3          -> keep put@3
    // b: put@4, tombstone@5    -> generation ended below R=7: all dropped
    // c: put@6, tombstone@7    -> tombstone exactly at R: kept
    // d: put@1, tomb@2, put@7  -> keep put@7 (current generation)
    // In revision order, split over two stretches as the parallel walk would.
    let recs = [
        (&b"d"[..], 1, false),
        (b"a", 2, false),
        (b"d", 2, true),
        (b"a", 3, false),
        (b"b", 4, false),
        (b"b", 5, true),
        (b"c", 6, false),
        (b"c", 7, true),
        (b"d", 7, false),
    ];
    let (mut n, mut m, mut t) = (Parts::default(), Parts::default(), Totals::default());
    for (i, (k, main, tomb)) in recs.into_iter().enumerate() {
        feed(if i < 4 { &mut n } else { &mut m }, &mut t, k, main, tomb);
    }
    let r = replay(&[n, m], &t, 7, &Compacted::default());
    assert_eq!((r.mvcc.revisions, r.mvcc.distinct_keys, r.mvcc.live_keys, r.mvcc.tombstones), (9, 4, 2, 3));
    assert_eq!((r.mvcc.compaction.keep_entries, r.mvcc.compaction.delete_entries), (3, 6));
    // Survivors in revision order: a@3, c's tombstone@7, d@7.
    assert_eq!(r.survivors, vec![(17, 10), (18, 10), (17, 10)]);
    assert_eq!(r.mvcc.compaction.keep_bytes, 43 + 44 + 43);
    assert_eq!(r.mvcc.compaction.delete_bytes, t.bytes - 130);
}
