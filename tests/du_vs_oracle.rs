//! `du` against fixtures/du-oracle.py: per group live keys and bytes, leases and encodings from a
//! real etcd 3.5.1 serving the restored snapshot (`etcdctl get --prefix -w json`), records,
//! tombstones, stored and compactable bytes from real bbolt's dump of the `key` bucket, decoded
//! by the script (fixtures/README.md, "`du` answers").

mod common;

use boltscope::analysis::du::{self, By, Options};
use boltscope::analysis::du_report::{Du, Figures, GroupName, KeyText};
use boltscope::DbView;
use serde_json::{json, Value};

fn fixtures() -> Vec<(String, Value)> {
    let v: Vec<(String, Value)> = common::databases()
        .into_iter()
        .filter_map(|db| {
            let stem = db.strip_suffix(".snap.db")?.to_owned();
            Some((db, common::answer_json(&stem, "du.json")?))
        })
        .collect();
    assert!(v.len() >= 3, "du answers for {v:?}");
    v
}

fn figures(f: &Figures) -> Value {
    json!({
        "live_keys": f.live_keys, "live_bytes": f.live_bytes, "revisions": f.revisions,
        "tombstones": f.tombstones, "stored_bytes": f.stored_bytes,
        "compact_revisions": f.compact_revisions, "compact_bytes": f.compact_bytes,
        "leases": f.leases, "encodings": f.encodings,
    })
}

fn groups(d: &Du) -> Value {
    let mut m = serde_json::Map::new();
    for g in d.groups.as_ref().expect("figures") {
        let GroupName::Text(name) = &g.name else { panic!("non-UTF-8 group {:?}", g.name) };
        m.insert(name.clone(), figures(&g.figures));
    }
    Value::Object(m)
}

fn run(db: &str, by: Option<By>) -> Du {
    let data = common::bytes(db);
    let view = DbView::new(&data).unwrap();
    du::du(&view, &Options { by, ..Options::default() })
}

fn key(k: &KeyText) -> String {
    match k {
        KeyText::Text(s) => s.clone(),
        KeyText::Base64(b) => panic!("non-UTF-8 key {b}"),
    }
}

#[test]
fn groups_and_totals_match_the_oracle() {
    for (db, want) in fixtures() {
        let d = run(&db, None);
        assert_eq!(d.problem_total, 0, "{db}: {:?}", d.problems);
        assert_eq!(d.by, want["default_by"], "{db}");
        assert_eq!(Some(want["source"]["revision"].as_u64().unwrap()), d.revision, "{db}");
        assert_eq!(groups(&d), want["by"][&d.by], "{db}: by {}", d.by);
        assert_eq!(figures(d.total.as_ref().unwrap()), want["total"], "{db}: total");
        let ns = run(&db, Some(By::Namespace));
        assert_eq!(groups(&ns), want["by"]["namespace"], "{db}: by namespace");
    }
}

#[test]
fn top_lists_match_the_oracle() {
    for (db, want) in fixtures() {
        let top = run(&db, None).top.unwrap();
        let pairs = |w: &Value, m: &str| -> Vec<(String, u64)> {
            w.as_array()
                .unwrap()
                .iter()
                .map(|e| (e["key"].as_str().unwrap().to_owned(), e[m].as_u64().unwrap()))
                .collect()
        };
        let t = &want["top"];
        let largest: Vec<(String, u64)> = top.largest.iter().map(|e| (key(&e.key), e.bytes)).collect();
        assert_eq!(largest, pairs(&t["live_bytes"], "live_bytes"), "{db}: largest");
        let revised: Vec<(String, u64)> = top.most_revised.iter().map(|e| (key(&e.key), e.revisions)).collect();
        assert_eq!(revised, pairs(&t["revisions"], "revisions"), "{db}: most revised");
        let stored: Vec<(String, u64)> = top.most_stored.iter().map(|e| (key(&e.key), e.stored_bytes)).collect();
        assert_eq!(stored, pairs(&t["stored_bytes"], "stored_bytes"), "{db}: most stored");
    }
}

#[test]
fn a_small_budget_gives_the_same_answer() {
    for (db, _) in fixtures() {
        let data = common::bytes(&db);
        let view = DbView::new(&data).unwrap();
        let whole = du::du(&view, &Options::default());
        for budget in [1, 4096] {
            assert_eq!(du::du(&view, &Options { budget, ..Options::default() }), whole, "{db} within {budget}");
        }
    }
}

#[test]
fn inspect_names_the_largest_resources_as_the_oracle() {
    for (db, want) in fixtures() {
        if want["default_by"] != "resource" {
            continue;
        }
        let mut groups: Vec<(u64, String, u64)> = want["by"]["resource"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, f)| (f["stored_bytes"].as_u64().unwrap(), n.clone(), f["revisions"].as_u64().unwrap()))
            .collect();
        groups.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        groups.truncate(3);
        let data = common::bytes(&db);
        let r = boltscope::analysis::inspect::inspect(&DbView::new(&data).unwrap(), &Default::default());
        let got: Vec<(u64, String, u64)> =
            r.resources.unwrap().largest.into_iter().map(|x| (x.stored_bytes, x.resource, x.revisions)).collect();
        assert_eq!(got, groups, "{db}");
    }
}
