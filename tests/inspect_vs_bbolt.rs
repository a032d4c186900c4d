//! `inspect`'s figures against real bbolt 1.3.6 (`boltoracle stats` and `info`) on every fixture:
//! the thirteen `Bucket.Stats` figures of every top-level bucket, free pages and sizes.

mod common;
use boltscope::analysis::inspect::{self, Options};
use boltscope::DbView;

/// bbolt's Go field names to boltscope's snake_case ones.
fn snake(go: &str) -> String {
    let mut s = String::new();
    for (i, c) in go.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            s.push('_');
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

#[test]
fn bucket_stats_equal_real_bbolt_on_every_fixture() {
    let mut buckets = 0;
    for name in common::databases() {
        let want = common::answer_json(&name, "oracle-stats.json").expect("oracle stats recorded");
        let data = common::bytes(&name);
        let r = inspect::inspect(&DbView::new(&data).unwrap(), &Options::default());
        assert_eq!(r.errors(), 0, "{name}: {:?}", r.problems);
        let want = want.as_object().unwrap();
        let bs = r.buckets.as_ref().expect("a clean fixture has its buckets");
        assert_eq!(bs.len(), want.len(), "{name}: top-level buckets");
        for b in bs {
            let w = want.get(&b.name).unwrap_or_else(|| panic!("{name}: bucket {} unknown to bbolt", b.name));
            let got = serde_json::to_value(b.stats).unwrap();
            for (k, v) in w.as_object().unwrap() {
                assert_eq!(got[snake(k)], *v, "{name}: bucket {} {k}", b.name);
            }
            buckets += 1;
        }
    }
    assert!(buckets > 100);
}

#[test]
fn sizes_equal_real_bbolt_on_every_fixture() {
    for name in common::databases() {
        let info = common::answer_json(&name, "oracle-info.json").unwrap();
        let data = common::bytes(&name);
        let r = inspect::inspect(&DbView::new(&data).unwrap(), &Options::default());
        let ps = info["page_size"].as_u64().unwrap();
        let free = info["free_page_n"].as_u64().unwrap();
        assert_eq!(r.size.total, info["tx_size"].as_u64().unwrap(), "{name}");
        assert_eq!(r.pages.as_ref().unwrap().free, free, "{name}");
        assert_eq!(r.size.in_use, Some(r.size.total - free * ps), "{name}");
        assert_eq!(r.file.file_size, info["file_size"].as_u64().unwrap(), "{name}");
        // Every page below the high-water mark is meta, freelist, tree or free.
        let p = r.pages.as_ref().unwrap();
        assert_eq!(p.meta + p.freelist + p.branch + p.leaf + p.overflow + p.free, r.file.high_water_mark, "{name}");
    }
}
