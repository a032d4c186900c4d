//! The reader's page accounting and tree facts against real bbolt 1.3.6 (`boltoracle info` and
//! `check`, recorded next to each fixture).

mod common;
use boltscope::status::StatusFold;
use boltscope::{cursor, walk, DbView};

#[test]
fn free_pages_and_tree_facts_equal_real_bbolt() {
    for name in common::databases() {
        let info = common::answer_json(&name, "oracle-info.json").expect("oracle info recorded");
        let check = common::answer(&name, "oracle-check.txt").expect("oracle check recorded");
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap();
        let (_, s) = walk::walk(&view, &StatusFold);
        assert_eq!(
            check.trim(),
            "OK",
            "{name}: real bbolt says the fixture is damaged"
        );
        assert!(s.is_clean(), "{name}: {:?}", s.problems);
        assert_eq!(
            s.free_pages,
            info["free_page_n"].as_u64().unwrap(),
            "{name}: free pages"
        );
        assert_eq!(
            view.page_size as u64,
            info["page_size"].as_u64().unwrap(),
            "{name}: page size"
        );
        assert_eq!(
            view.total_size(),
            info["tx_size"].as_u64().unwrap(),
            "{name}: tx size"
        );
        assert_eq!(
            view.meta().txid,
            info["txid"].as_u64().unwrap(),
            "{name}: txid"
        );
        assert_eq!(
            data.len() as u64,
            info["file_size"].as_u64().unwrap(),
            "{name}: file size"
        );
        let mut top = 0;
        cursor::for_each(&view, cursor::root(&view), &mut |_| top += 1).unwrap();
        assert_eq!(
            top,
            info["top_buckets"].as_u64().unwrap(),
            "{name}: top-level buckets"
        );
    }
}
