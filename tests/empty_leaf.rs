//! A leaf under a branch with its element count set to 0: bbolt removes a leaf that empties, so
//! the keys its branch element names are lost (four live keys of the fixture, each its only
//! record). Real bbolt's `tx.Check` passes such a tree, and so did every command before review
//! 41b; now `check` and every reader name the page, and `compact` refuses it.

mod common;

#[test]
fn an_empty_leaf_under_a_branch_is_damage_to_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let leaf = common::damage::shape(&d).first_leaf;
    assert!(common::u16_at(&d, leaf * 4096 + 10) > 0, "the premise: the leftmost leaf holds records");
    d[leaf * 4096 + 10..leaf * 4096 + 12].copy_from_slice(&0u16.to_le_bytes());
    let p = tmp.path().join("empty-leaf.db");
    std::fs::write(&p, &d).unwrap();
    let f = p.to_str().unwrap();
    let copy = tmp.path().join("copy.db");
    let said = format!("leaf page {leaf} under a branch has no elements");
    for args in [
        vec!["check", f],
        vec!["inspect", f],
        vec!["status", f],
        vec!["du", f],
        vec!["get", f, "/", "--prefix", "--keys-only"],
        vec!["log", f, "/", "--prefix"],
        vec!["dump", f],
        vec!["hashkv", f],
        vec!["compact", f, "--output", copy.to_str().unwrap()],
    ] {
        let o = common::run_indexed(None, &args);
        let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains(&said), "{args:?}: {text}");
    }
    assert!(!copy.exists(), "compact refuses it");
}
