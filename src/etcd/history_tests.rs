//! Tests of the key history rules (`history.rs`).

use super::*;

/// The steps of records (main, tombstone, fresh) as etcd writes their fields: a put that
/// creates its key has version 1, one that does not continues the generation before it (or,
/// first, one created at revision 1 with version 2).
fn steps(recs: &[(u64, bool, bool)]) -> Vec<Step> {
    let (mut create, mut version) = (1, 1);
    recs.iter()
        .map(|&(main, tomb, fresh)| {
            (create, version) = if fresh { (main, 1) } else { (create, version + 1) };
            let sig = if tomb { 0 } else { generation_sig(create, version) };
            Step { main, tomb, fresh, sig }
        })
        .collect()
}

/// Whether the records (main, tombstone, fresh), in order, break a rule, folded one by one
/// and also in two halves (as stretches are).
fn broken(recs: &[(u64, bool, bool)], c: Compacted) -> bool {
    broken_steps(&steps(recs), c)
}

/// [`broken`] of records whose fields are given.
fn broken_steps(recs: &[Step], c: Compacted) -> bool {
    // A stretch's history, and whether its newest record is a tombstone.
    let fold = |rs: &[Step]| Some((History::of(rs.iter().copied(), &c)?, rs.last()?.tomb));
    let (whole, _) = fold(recs).unwrap();
    for cut in 1..recs.len() {
        let (mut a, a_tomb) = fold(&recs[..cut]).unwrap();
        let (b, _) = fold(&recs[cut..]).unwrap();
        a.then(a_tomb, &b);
        assert_eq!(a, whole, "split at {cut}");
    }
    whole.broken(&c)
}

const NONE: Compacted = Compacted { finished: 0, upto: 0, unknown: false };
const AT_20: Compacted = Compacted { finished: 20, upto: 20, unknown: false };

#[test]
fn a_value_read_as_a_key_is_named_by_its_length() {
    // A damaged record whose value tag became a key tag has the value as its key: the
    // message quoted a Secret's bytes on stderr (review 35b).
    let value = b"k8s\0\n\x0c\n\x02v1\x12\x06Secret\x12\x08password-LEAK".to_vec();
    for key in [value.clone(), b"{\"kind\":\"Secret\",\"data\":{\"a\":\"LEAK\"}}".to_vec()] {
        let j = Judged { broken: 2, compacted: AT_20, named: vec![b"b".to_vec(), key.clone()], ..Judged::default() };
        let m = j.problem().unwrap().message;
        assert!(!m.contains("LEAK") && !m.contains("Secret"), "{m}");
        assert!(m.contains(&format!("<{} bytes read as a stored object: not shown>", key.len())), "{m}");
        assert!(m.contains("\"b\""), "an ordinary key is still named: {m}");
    }
}

/// A put at `main` of the generation created at `create`, its `version`th.
fn put(main: u64, create: u64, version: u64) -> Step {
    Step { main, tomb: false, fresh: create == main, sig: generation_sig(create, version) }
}

/// A tombstone at `main`.
fn del(main: u64) -> Step {
    Step { main, tomb: true, fresh: false, sig: 0 }
}

#[test]
fn a_judge_of_mixed_keys_folds_each_key_apart() {
    let mut j = Judge::new(AT_20);
    // Key a: put@15 (kept by the compaction), put@25; key b: put@18, tombstone@19 (a generation
    // that ended below 20 and should be gone), put@30 (created again).
    j.feed(b"a", put(15, 10, 3));
    j.feed(b"b", put(18, 12, 2));
    j.feed(b"b", del(19));
    j.feed(b"a", put(25, 10, 4));
    j.feed(b"b", put(30, 30, 1));
    assert_eq!(
        j.judged(),
        Judged { broken: 1, compacted: AT_20, named: vec![b"b".to_vec()], unjudged: 0, holes: None }
    );
    let msg = j.judged().problem().unwrap().message;
    assert!(msg.starts_with("1 key(s)") && msg.ends_with(" (keys \"b\")"), "{msg}");
    let mut fine = Judge::new(AT_20);
    fine.feed(b"a", put(15, 10, 3));
    fine.feed(b"b", del(20));
    fine.feed(b"a", put(25, 10, 4));
    assert_eq!(fine.judged().broken, 0);
    assert_eq!(fine.judged().problem(), None);
}

#[test]
fn a_judge_past_its_cap_counts_what_it_did_not_judge() {
    let mut j = Judge::with_cap(NONE, 1);
    j.feed(b"a", put(5, 5, 1));
    j.feed(b"b", put(6, 2, 2)); // would be broken, but past the cap
    j.feed(b"a", put(7, 5, 2));
    j.feed(b"b", put(8, 2, 3));
    let got = j.judged();
    assert_eq!((got.broken, got.unjudged), (0, 2));
}

#[test]
fn a_put_continues_its_generation_with_the_next_version_and_the_same_create_revision() {
    // What etcd writes: versions 1, 2, 3 of the generation created at 5; after compaction at
    // 20, the kept record's version goes on.
    assert!(!broken_steps(&[put(5, 5, 1), put(6, 5, 2), put(9, 5, 3), del(10), put(12, 12, 1)], NONE));
    assert!(!broken_steps(&[put(15, 3, 7), put(25, 3, 8)], AT_20));
    // A version rewritten (5 to 50, review 46a), skipped, repeated or going back.
    for v in [50, 7, 6, 4, 1] {
        let recs = [put(5, 5, 1), put(6, 5, 2), put(7, 5, 3), put(8, 5, 4), put(9, 5, v), put(10, 5, 6)];
        assert!(broken_steps(&recs, NONE), "version {v}");
    }
    assert!(!broken_steps(&[put(5, 5, 1), put(6, 5, 2), put(7, 5, 3), put(8, 5, 4), put(9, 5, 5)], NONE));
    // A create revision rewritten, the version going on.
    assert!(broken_steps(&[put(5, 5, 1), put(6, 4, 2)], NONE));
    assert!(broken_steps(&[put(15, 3, 7), put(25, 2, 8)], AT_20));
    // The rule holds across a stretch's end, and a tombstone between two generations resets
    // nothing it should not.
    assert!(broken_steps(&[put(5, 5, 1), put(6, 5, 2), del(7), put(8, 8, 1), put(9, 8, 3)], NONE));
}

#[test]
fn what_etcd_writes_passes() {
    // put@5 (created), put@6, tombstone@7, put@9 (created again), put@12.
    let h = [(5, false, true), (6, false, false), (7, true, false), (9, false, true), (12, false, false)];
    assert!(!broken(&h, NONE));
    // After compaction at 20: the newest record at or below 20 of a live generation stays.
    assert!(!broken(&[(15, false, false), (25, false, false)], AT_20));
    // A tombstone exactly at the compaction is kept by newer servers.
    assert!(!broken(&[(20, true, false), (30, false, true)], AT_20));
    // An unfinished compaction at 20 (finished at 0) deleted only the oldest records.
    let part = Compacted { finished: 0, upto: 20, unknown: false };
    assert!(!broken(&[(7, true, false), (9, false, true), (15, false, false), (25, false, false)], part));
}

#[test]
fn what_etcd_cannot_write_is_broken() {
    // Two records at or below the finished compaction (the misdirected leaf's case).
    assert!(broken(&[(10, false, false), (18, false, false), (25, false, false)], AT_20));
    // A tombstone below it, alone: its generation should have been dropped.
    assert!(broken(&[(15, true, false)], AT_20));
    assert!(broken(&[(15, true, false), (25, false, true)], AT_20));
    // The oldest record above the compaction does not create the key: what came before is lost.
    assert!(broken(&[(25, false, false)], AT_20));
    assert!(broken(&[(3, false, false)], NONE));
    assert!(broken(&[(25, true, false)], AT_20));
    // A put after a put that creates the key; a put after a tombstone that does not.
    assert!(broken(&[(5, false, true), (6, false, true)], NONE));
    assert!(broken(&[(5, false, true), (6, true, false), (7, false, false)], NONE));
    // Two tombstones in a row.
    assert!(broken(&[(5, false, true), (6, true, false), (7, true, false)], NONE));
}

#[test]
fn one_bit_flipped_in_a_version_or_create_revision_is_never_the_next_signature() {
    // Review 47b: with the signature taken mod 2^16, every flip from bit 16 up passed (a lease
    // renewed every 2 s passes version 65,536 in 36 hours). Mod a prime, no power of two vanishes.
    for (create, version) in [(70_097u64, 70_000u64), (3, 5), (1 << 40, 1 << 20), (12_345_678, 65_536)] {
        let before = put(create + version + 10, create, version);
        let next = generation_sig(create, version + 1);
        assert_eq!(next, sig_after(before.sig));
        for bit in 0..48 {
            let v = (version + 1) ^ (1 << bit);
            assert_ne!(generation_sig(create, v), next, "version bit {bit}");
            assert_ne!(generation_sig(create ^ (1 << bit), version + 1), next, "create bit {bit}");
        }
    }
    // The step round-trips as the key index stores it.
    for (a, b) in [(0u16, 1u16), (65_520, 0), (7, 7), (100, 3)] {
        assert_eq!(sig_stepped(a, sig_step(a, b)), Some(b));
    }
    assert_eq!(sig_stepped(0, 65_521), None);
}

#[test]
fn a_record_etcdctl_migrate_wrote_starts_its_keys_history() {
    // A v2 key updated before `etcdctl migrate` (3.4) has one record of version 1 at sub
    // revision 0 whose create revision is the v2 key's (earlier): review 47b, called broken. A
    // later v3 put goes on with version 2.
    use crate::etcd::proto::Kv;
    use crate::etcd::revision::Revision;
    let kv = |create, version| Kv { key: b"/a", create_revision: create, mod_revision: 20, version, ..Kv::default() };
    let at = |sub| Revision { main: 20, sub, tombstone: false };
    assert!(starts_generation(&at(0), &kv(4, 1)));
    assert!(starts_generation(&at(3), &kv(20, 1)));
    assert!(!starts_generation(&at(3), &kv(4, 1)), "a v3 transaction's later put");
    assert!(!starts_generation(&at(0), &kv(4, 2)));
    let migrated = Step::of(&at(0), &kv(4, 1));
    assert!(!broken_steps(&[migrated], NONE));
    assert!(!broken_steps(&[migrated, put(25, 4, 2), put(26, 4, 3)], NONE));
    assert!(broken_steps(&[migrated, put(25, 4, 3)], NONE));
}
