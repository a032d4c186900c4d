//! `get`, `log` and `hashkv` against what real etcd 3.5.1 answered for the same data: every case
//! recorded in fixtures/key-answers (etcdctl 3.5.1 against a server restored from each fixture,
//! fixtures/README.md) is replayed through boltscope, without the index and then through an index
//! (the first run builds the key -> revisions table, later ones answer from it).

mod common;
mod keys_common;

use std::path::PathBuf;

const FIXTURES: [&str; 4] = ["tiny-1", "k8s-0.005", "churn-0.005", "cluster-0.1"];

fn answers() -> PathBuf {
    common::dir().join("key-answers")
}

#[test]
fn get_answers_byte_for_byte_cold_and_warm() {
    let mut total = 0;
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = common::path(&format!("{fx}.snap.db"), &tmp);
        let ix = tmp.path().join("index.redb");
        total += keys_common::replay_get(&answers(), fx, &file, &ix);
        // The first run recorded the file's key index; the later ones could answer from it.
        let data = std::fs::read(&file).unwrap();
        let id = boltscope::index::identity(&file, &data).expect("identity");
        let index = boltscope::index::Index::open(&ix).expect("index");
        let range = boltscope::etcd::range::KeyRange::all();
        let keys = index.key_revisions(&id, &range).expect("readable").expect("a key index for the file");
        assert!(!keys.is_empty(), "{fx}: keys indexed");
    }
    assert_eq!(total, 2 * 502, "every recorded get case");
}

#[test]
fn log_replays_what_watch_replayed() {
    let (mut checked, mut with_events) = (0, 0);
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = common::path(&format!("{fx}.snap.db"), &tmp);
        let (c, w) = keys_common::replay_watch(&answers(), fx, &file, &tmp.path().join("index.redb"));
        (checked, with_events) = (checked + c, with_events + w);
    }
    assert!(checked >= 2 * 40 && with_events >= 2 * 25, "{checked} watch cases, {with_events} with events");
}

#[test]
fn hashkv_equals_the_servers() {
    let mut equal = 0;
    for fx in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let file = common::path(&format!("{fx}.snap.db"), &tmp);
        equal += keys_common::replay_hashkv(&answers(), fx, &file);
    }
    assert!(equal >= 25, "{equal} hashes compared");
}
