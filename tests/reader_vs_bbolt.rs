//! The reader's page accounting and tree facts against real bbolt 1.3.6 (`boltoracle info` and
//! `check`, recorded next to each fixture).

mod common;
use boltscope::bbolt::{cursor, structure as walk};
use boltscope::etcd::status::StatusFold;
use boltscope::DbView;

#[test]
fn free_pages_and_tree_facts_equal_real_bbolt() {
    for name in common::databases() {
        let info = common::answer_json(&name, "oracle-info.json").expect("oracle info recorded");
        let check = common::answer(&name, "oracle-check.txt").expect("oracle check recorded");
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap();
        let (_, s) = walk::walk(&view, &StatusFold);
        assert_eq!(check.trim(), "OK", "{name}: real bbolt says the fixture is damaged");
        assert!(s.is_clean(), "{name}: {:?}", s.problems);
        assert_eq!(s.free_pages, info["free_page_n"].as_u64().unwrap(), "{name}: free pages");
        assert_eq!(view.page_size, info["page_size"].as_u64().unwrap(), "{name}: page size");
        assert_eq!(view.total_size(), info["tx_size"].as_u64().unwrap(), "{name}: tx size");
        assert_eq!(view.meta().txid.0, info["txid"].as_u64().unwrap(), "{name}: txid");
        assert_eq!(data.len() as u64, info["file_size"].as_u64().unwrap(), "{name}: file size");
        let mut top = 0;
        cursor::for_each(&view, cursor::root(&view), &mut |_| top += 1).unwrap();
        assert_eq!(top, info["top_buckets"].as_u64().unwrap(), "{name}: top-level buckets");
    }
}

#[test]
fn grow_ahead_slack_past_the_high_water_mark_is_ignored() {
    // A live member/snap/db is grown ahead of use by up to 16 MiB of zeros past hwm x pageSize.
    let name = "k8s-0.005.member.db";
    let mut data = common::bytes(name);
    data.extend(std::iter::repeat_n(0u8, 16 << 20));
    let view = DbView::new(&data).unwrap();
    assert_eq!(view.slack(), 16 << 20);
    let r = boltscope::etcd::status::status(&view, boltscope::etcd::status::EtcdVersion::V35).unwrap();
    assert!(r.structure.is_clean());
    assert_eq!(serde_json::to_value(&r.status).unwrap(), common::answer_json(name, "status.json").unwrap());
    let info = common::answer_json(name, "oracle-info.json").unwrap();
    assert_eq!(r.structure.free_pages, info["free_page_n"].as_u64().unwrap());
}
