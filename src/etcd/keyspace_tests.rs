use super::*;
use crate::bbolt::cursor;
use crate::bbolt::view::DbView;
use crate::etcd::keystate::states_of;
use crate::etcd::{revision, schema};

fn entry(fp: u128, seq: u32, stored: u64, tomb: bool) -> Entry {
    let loc = u64::from(seq) | if tomb { TOMB } else { 0 };
    let hist = Default::default();
    Entry {
        fp: [(fp >> 64) as u64, fp as u64],
        hist,
        loc,
        stored,
        seq,
        len: seq,
        revisions: 1,
        tombstones: u32::from(tomb),
    }
}

#[test]
fn folding_keeps_the_newest_record_and_sums_the_rest() {
    let mut v = vec![entry(7, 0, 10, false), entry(9, 1, 5, false), entry(7, 2, 20, true), entry(7, 3, 30, false)];
    fold(&mut v);
    assert_eq!(v.len(), 2);
    let k7 = v.iter().find(|e| e.fp() == 7).unwrap();
    assert_eq!((k7.seq, k7.len, k7.stored, k7.revisions, k7.tombstones), (3, 3, 60, 3, 1));
    assert_eq!(k7.loc & TOMB, 0, "the newest record is a put");
    let k9 = v.iter().find(|e| e.fp() == 9).unwrap();
    assert_eq!((k9.seq, k9.stored, k9.revisions), (1, 5, 1));
}

#[test]
fn a_hot_key_costs_a_slot_per_stretch_not_per_record() {
    let mut s = Stretch::new();
    for i in 0..100_000u32 {
        s.push(entry(42, i, 1, false));
    }
    let p = &s.parts[partition(42)];
    assert!(p.len() <= FOLD_MIN + 1, "{} slots for one key", p.len());
    let mut map = FpMap::default();
    let keys = states_of(&[s], partition(42), &mut map);
    assert_eq!(keys.len(), 1);
    assert_eq!((keys[0].revisions, keys[0].stored_bytes, keys[0].ordinal), (100_000, 100_000, 99_999));
}

#[test]
fn later_stretches_hold_newer_records_and_ordinals_count_every_element() {
    let mut a = Stretch::new();
    a.push(entry(5, 0, 1, false));
    a.elements = 10;
    let mut b = Stretch::new();
    b.push(entry(5, 3, 2, true));
    b.elements = 4;
    let mut map = FpMap::default();
    let keys = states_of(&[a, b], partition(5), &mut map);
    assert_eq!(keys.len(), 1);
    let k = keys[0];
    assert_eq!((k.ordinal, k.revisions, k.tombstones, k.stored_bytes, k.live()), (13, 2, 1, 3, false));
}

#[test]
fn plans_split_keys_evenly_and_budgets_stay_exceeded() {
    let plans: Vec<Plan> = (0..3).map(|pass| Plan { pass, passes: 3, ..Plan::all(0) }).collect();
    for fp in [0u128, 1, 2, u128::MAX, 12345678901234567890] {
        assert_eq!(plans.iter().filter(|p| p.covers(fp)).count(), 1);
        assert!(Plan::all(0).covers(fp));
    }
    let b = Budget::new(100);
    assert!(b.charge(60));
    assert!(!b.charge(60));
    assert!(!b.charge(0));
    assert!(b.exceeded());
    assert_eq!(passes_for(0, 1), 1);
    assert_eq!(passes_for(10, 1), 10);
    assert_eq!(passes_for(1000, 1000 * ENTRY_COST), 1);
    assert_eq!(passes_for(1001, 1000 * ENTRY_COST), 2);
}

/// A key, its figures, live, survives, position.
type Row = (Vec<u8>, u64, u64, u64, bool, bool, u64);

/// Every key with its figures and newest record, sorted.
struct Collect<'a>(&'a [u8]);

impl KeyFold for Collect<'_> {
    type Acc = Vec<Row>;
    fn empty(&self) -> Self::Acc {
        Vec::new()
    }
    fn key(&self, acc: &mut Self::Acc, k: &KeyState) {
        let kv = k.newest(self.0).expect("newest record decodes");
        acc.push((kv.key.to_vec(), k.revisions, k.tombstones, k.stored_bytes, k.live(), k.survives(), k.ordinal));
    }
    fn join(&self, mut l: Self::Acc, r: Self::Acc) -> Self::Acc {
        l.extend(r);
        l
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    std::fs::read(dir.join(name)).expect("fixture")
}

fn keys_within(data: &[u8], budget: u64, filter: Option<&KeyFilter>) -> (Vec<Row>, GatherInfo) {
    let view = DbView::new(data).unwrap();
    let kb = cursor::top_bucket(&view, KEY_BUCKET).unwrap().unwrap();
    let last = cursor::last(&view, kb).unwrap().and_then(|e| revision::main_of(e.key)).unwrap();
    let rev = schema::read(&view, last).current_revision;
    let b = Budget::new(budget);
    let g = Gather::new(data, Plan::all(rev), &b).filter(filter);
    let (mut v, info) = fold_keys(&view, &g, &Collect(data));
    v.sort();
    (v, info)
}

#[test]
fn any_budget_gives_the_same_keys_as_one_pass() {
    for name in ["k8s-0.005.snap.db", "churn-0.005.snap.db", "tiny-1.snap.db"] {
        let data = fixture(name);
        let (all, info) = keys_within(&data, BUDGET, None);
        assert!(!all.is_empty(), "{name}");
        assert_eq!(info.problem_total, 0);
        assert_eq!(all.iter().map(|k| k.1).sum::<u64>(), info.entries, "{name}: every record counted once");
        for budget in [1, 200, 5000] {
            assert_eq!(keys_within(&data, budget, None).0, all, "{name} within {budget} bytes");
        }
    }
}

#[test]
fn figures_agree_with_the_mvcc_replay() {
    // k8s-0.005: 53 revisions, 38 distinct keys, 35 live, 3 tombstones; compaction at 111 keeps
    // 35 (what real etcd kept: fixtures/k8s-0.005.snap.db.compact-defrag.json).
    let data = fixture("k8s-0.005.snap.db");
    let (keys, info) = keys_within(&data, BUDGET, None);
    assert_eq!(info.entries, 53);
    assert_eq!(keys.len(), 38);
    assert_eq!(keys.iter().filter(|k| k.4).count(), 35);
    assert_eq!(keys.iter().map(|k| k.2).sum::<u64>(), 3);
    assert_eq!(keys.iter().filter(|k| k.5).count(), 35);
    let only_events: &KeyFilter = &|k: &[u8]| k.starts_with(b"/registry/events/");
    let (ev, evinfo) = keys_within(&data, 1, Some(only_events));
    assert!(!ev.is_empty() && ev.iter().all(|k| k.0.starts_with(b"/registry/events/")));
    assert_eq!(ev, keys.iter().filter(|k| k.0.starts_with(b"/registry/events/")).cloned().collect::<Vec<_>>());
    assert_eq!(evinfo.elements, 53, "positions count every element, filtered or not");
}

/// The live set by a plain replay in revision order, holding every key: the reference.
fn replay(view: &DbView<'_>) -> std::collections::BTreeMap<Vec<u8>, (u64, usize)> {
    let kb = cursor::top_bucket(view, KEY_BUCKET).unwrap().unwrap();
    let mut m = std::collections::BTreeMap::new();
    cursor::for_each(view, kb, &mut |e| {
        let Some(kv) = crate::etcd::proto::kv(e.value) else { return };
        if revision::is_tombstone(e.key) {
            m.remove(kv.key);
        } else if !e.value.is_empty() {
            m.insert(kv.key.to_vec(), (kv.mod_revision, kv.value.len()));
        }
    })
    .unwrap();
    m
}

/// What `diff` and `trend` rely on: each
/// key's newest record, gathered in passes by [`Plan`] and [`reduce`]d, gives every live key in
/// exactly one pass, as a replay does.
#[test]
fn passes_split_the_live_set_and_agree_with_a_replay() {
    for name in ["k8s-0.005.snap.db", "churn-0.005.snap.db", "diff/diff-b.snap.db"] {
        let data = fixture(name);
        let view = DbView::new(&data).unwrap();
        let want = replay(&view);
        for of in [1, 3, 7] {
            let mut got = std::collections::BTreeMap::new();
            for index in 0..of {
                let b = Budget::new(BUDGET);
                let g = walk_keys(&view, &Gather::new(&data, Plan { pass: index, passes: of, ..Plan::all(0) }, &b));
                assert!(!b.exceeded());
                for kv in reduce(g).iter().flatten().filter(|k| k.live()).filter_map(|k| k.newest(&data)) {
                    let old = got.insert(kv.key.to_vec(), (kv.mod_revision, kv.value.len()));
                    assert!(old.is_none(), "{name}: a key in two passes");
                    assert!(kv.version >= 1 && kv.create_revision <= kv.mod_revision);
                }
            }
            assert_eq!(got, want, "{name}: {of} passes");
        }
    }
}

#[test]
fn passes_that_pass_the_budget_are_split_until_every_key_is_covered_once() {
    // Keys with fingerprints 0..100 of one record each, but for 0 and 7 (hot keys: 30 records
    // each), within a budget of 50 records: 2 passes to start with, each holding a hot key.
    let weight = |fp: u64| if fp == 0 || fp == 7 { 30 } else { 1 };
    let mut kept = Vec::new();
    let mut walks = 0;
    let cap = 50 * ENTRY_COST;
    let passes = in_passes(
        100,
        cap,
        |pass, passes, budget| {
            walks += 1;
            for fp in (0..100u64).filter(|fp| Plan { pass, passes, ..Plan::all(0) }.covers(u128::from(*fp))) {
                budget.charge(ENTRY_COST * weight(fp));
            }
            (pass, passes)
        },
        |plan| kept.push(plan),
    );
    assert_eq!(passes, kept.len() as u64);
    for fp in 0..1000u128 {
        let n = kept.iter().filter(|&&(pass, passes)| Plan { pass, passes, ..Plan::all(0) }.covers(fp)).count();
        assert_eq!(n, 1, "fingerprint {fp} in {n} kept passes: {kept:?}");
    }
    assert_eq!(passes_for(100, cap), 2);
    assert!(kept.len() > 2, "the passes of the hot keys were split");
    assert!(walks < 3 * kept.len(), "{walks} walks for {} passes: only failing passes are walked again", kept.len());
}

#[test]
fn a_partition_first_entry_is_charged_one_slot() {
    let mut s = Stretch::new();
    let one = std::mem::size_of::<Entry>() as u64;
    assert_eq!(s.push(entry(3, 0, 1, false)), one);
    let more: u64 = (1..4).map(|i| s.push(entry(3, i, 1, false))).sum();
    assert_eq!(one + more, 4 * one, "then it grows as a Vec does");
}
