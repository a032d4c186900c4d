//! `inspect`'s size prediction against what real tools wrote (fixtures/*.compact-defrag.json,
//! made by fixtures/make-compaction-answers.sh): etcd 3.5.1 compacted at the current revision and
//! `etcdutl defrag` (fill percent 0.9), and `bolt.Compact` in one transaction (fill 1.0, which
//! also writes one freelist page). The bound is 2%; the measured error is printed and,
//! on every fixture so far, zero.

mod common;
use boltscope::analysis::inspect::{self, Options};
use boltscope::DbView;

#[test]
fn prediction_within_2_percent_of_real_compact_and_defrag() {
    let mut checked = 0;
    for name in common::databases() {
        let Some(real) = common::answer_json(&name, "compact-defrag.json") else { continue };
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap();
        let r = inspect::inspect(&view, &Options::default());
        let p = r.prediction.as_ref().expect("a clean fixture has a prediction");
        let ps = view.page_size;
        let defrag = real["after_defrag"]["status"]["totalSize"].as_u64().unwrap();
        let compact = real["bolt_compact_tx0"]["oracle_info"]["tx_size"].as_u64().unwrap() - ps;
        let err = |pred: u64, real: u64| (pred as f64 - real as f64) / real as f64 * 100.0;
        println!(
            "{name}: fill 0.9 predicted {} real {defrag} ({:+.2}%); fill 1.0 predicted {} real {compact} ({:+.2}%)",
            p.size_fill_0_9,
            err(p.size_fill_0_9, defrag),
            p.size_fill_1_0,
            err(p.size_fill_1_0, compact)
        );
        assert!(err(p.size_fill_0_9, defrag).abs() <= 2.0, "{name}: fill 0.9");
        assert!(err(p.size_fill_1_0, compact).abs() <= 2.0, "{name}: fill 1.0");
        // The compaction revision is the one etcd compacted at.
        assert_eq!(p.compact_revision, real["compact_revision"].as_u64(), "{name}");
        checked += 1;
    }
    assert!(checked >= 12, "only {checked} fixtures have compaction answers");
}
