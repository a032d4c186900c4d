//! TOTAL SIZE's humanizer against real go-humanize 1.0.0 (what etcdutl 3.5.1 links), on 518
//! sizes: every power-of-1000 and power-of-two edge, rounding edges and random sizes.

#[test]
fn equals_go_humanize_on_every_recorded_size() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/humanize.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (size, want) = line.split_once('\t').unwrap();
        assert_eq!(boltscope::etcd::humanize::bytes(size.parse().unwrap()), want, "size {size}");
        n += 1;
    }
    assert!(n > 500);
}
