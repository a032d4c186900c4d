//! The MVCC replay of `inspect` and `check` gives the same report whatever its memory budget:
//! within it (records gathered by the walk) or past it (dropped, then replayed by partitioned
//! passes over the `key` bucket, the size prediction streamed from a bitmap of survivors).

mod common;

use boltscope::analysis::inspect::{self, Options};
use boltscope::bbolt::cursor;
use boltscope::etcd::compaction;
use boltscope::DbView;

#[test]
fn every_fixture_inspects_the_same_past_the_budget() {
    let mut replayed = 0;
    for name in common::databases() {
        let data = common::bytes(&name);
        let Ok(view) = DbView::new(&data) else { continue };
        let opt = Options::default();
        let whole = serde_json::to_value(inspect::inspect(&view, &opt)).unwrap();
        for budget in [1, 3000, 64 << 10] {
            let (r, ()) = inspect::inspect_within(&view, &opt, &(), budget);
            assert_eq!(serde_json::to_value(&r).unwrap(), whole, "{name} within {budget} bytes");
        }
        replayed += u64::from(whole["mvcc"].is_object());
    }
    assert!(replayed >= 8, "only {replayed} etcd fixtures");
}

#[test]
fn a_record_that_breaks_etcds_invariants_counts_the_same_past_the_budget() {
    // Damage `check` reports (a put whose mod revision is not its key's) but that leaves the
    // record readable: the report must not depend on which way it was replayed, and the MVCC
    // figures are withheld either way (as `du` withholds its own), the tree's figures kept.
    let mut d = common::bytes("k8s-0.005.snap.db");
    common::damage::mod_revision_changed(&mut d);
    let view = DbView::new(&d).unwrap();
    let opt = Options::default();
    let whole = serde_json::to_value(inspect::inspect(&view, &opt)).unwrap();
    assert!(whole["mvcc"].is_null() && whole["prediction"].is_null(), "{}", whole["mvcc"]);
    assert!(whole["buckets"].is_array(), "{}", whole["buckets"]);
    let kinds = whole["problems"].to_string();
    assert!(kinds.contains("inconsistent_key_value"), "{kinds}");
    for budget in [1, 3000] {
        let (r, ()) = inspect::inspect_within(&view, &opt, &(), budget);
        assert_eq!(serde_json::to_value(&r).unwrap(), whole, "within {budget} bytes");
    }
}

#[test]
fn a_history_etcd_cannot_have_written_is_found_both_ways() {
    // A branch pointing at a stale leaf (a misdirected write): every page and record reads well,
    // but two keys' histories break etcd's rules. The in-memory replay and the bounded passes
    // (which fold each key a stretch at a time) must both find it, and give the same report.
    let mut d = common::bytes("k8s-0.005.member.db");
    common::damage::misdirected_branch(&mut d);
    let (whole, current) = found_by_every_pass(&d, 2);
    assert!(whole["mvcc"].is_null() && whole["prediction"].is_null(), "withheld");
    let opt = Options::default();
    // The clean file: no such problem either way.
    let clean = common::bytes("k8s-0.005.member.db");
    let view = DbView::new(&clean).unwrap();
    for budget in [1, 3000, u64::MAX] {
        let (r, ()) = inspect::inspect_within(&view, &opt, &(), budget);
        assert!(r.problems.iter().all(|p| p.kind.name() != "history_inconsistent"), "within {budget} bytes");
        let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
        assert_eq!(compaction::keep_within(&view, kb, current, budget).unwrap().history_broken, 0);
    }
}

#[test]
fn a_version_out_of_turn_is_found_by_every_pass() {
    // One put's version rewritten in place (review 46a): one key.
    let mut d = common::bytes("k8s-0.005.member.db");
    common::damage::version_rewritten(&mut d, 96);
    found_by_every_pass(&d, 1);
}

/// Holds that `keys` keys of `d` break etcd's rules for a history, found alike by the in-memory
/// replay and the bounded passes (which fold each key a stretch at a time), in one report, and by
/// the survivors' pass (dump, hashkv, compact --revision) in one pass or many, read on every core
/// or by the cursor. Returns inspect's report and the current revision.
fn found_by_every_pass(d: &[u8], keys: u64) -> (serde_json::Value, u64) {
    let view = DbView::new(d).unwrap();
    let opt = Options::default();
    let whole = serde_json::to_value(inspect::inspect(&view, &opt)).unwrap();
    let problems = whole["problems"].as_array().unwrap();
    let hist: Vec<_> = problems.iter().filter(|p| p["kind"] == "history_inconsistent").collect();
    assert_eq!(hist.len(), 1, "{problems:?}");
    let said = format!("{keys} key(s) hold a history");
    assert!(hist[0]["message"].as_str().unwrap().starts_with(&said), "{}", hist[0]);
    for budget in [1, 3000, 64 << 10] {
        let (r, ()) = inspect::inspect_within(&view, &opt, &(), budget);
        assert_eq!(serde_json::to_value(&r).unwrap(), whole, "within {budget} bytes");
    }
    let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
    let current = compaction::target(&view, compaction::Revision::Latest).unwrap().unwrap().current;
    for budget in [1, 3000, u64::MAX] {
        let k = compaction::keep_within(&view, kb, current, budget).unwrap();
        assert_eq!(k.history_broken, keys, "within {budget} bytes");
        assert_eq!(compaction::keep_by_cursor(&view, kb, current, budget).unwrap(), k, "within {budget} bytes");
    }
    (whole, current)
}
