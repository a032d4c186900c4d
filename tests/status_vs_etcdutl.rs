//! `boltscope status` against what the real etcdutl 3.5.1 printed for every fixture, in all four
//! formats, byte for byte; and the library's figures against real bbolt's (`boltoracle status`),
//! which also covers the big-endian file etcdutl cannot read.

mod common;
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::DbView;
use std::process::Command;

fn boltscope() -> Command {
    common::boltscope()
}

#[test]
fn cli_output_equals_etcdutl_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for name in common::databases() {
        if common::answer(&name, "status.exit").map(|s| s.trim().to_string()) != Some("0".into()) {
            continue; // etcdutl could not read it (the big-endian file): covered below
        }
        let path = common::path(&name, &tmp);
        for fmt in ["simple", "table", "json", "fields"] {
            let want = common::answer(&name, &format!("status.{fmt}")).expect("answer recorded");
            let out = boltscope().args(["status", "-w", fmt]).arg(&path).output().unwrap();
            assert!(out.status.success(), "{name} -w {fmt}: {}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{name} -w {fmt}");
            compared += 1;
        }
    }
    assert!(compared >= 40, "only {compared} comparisons");
}

#[test]
fn default_format_is_simple() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "tiny-1.snap.db";
    let out = boltscope().arg("status").arg(common::path(name, &tmp)).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), common::answer(name, "status.simple").unwrap());
}

#[test]
fn library_figures_equal_real_bbolt_on_every_fixture() {
    for name in common::databases() {
        let want = common::answer_json(&name, "oracle-status.json").expect("oracle status recorded");
        let data = common::bytes(&name);
        let view = DbView::new(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = status::status(&view, EtcdVersion::V35).unwrap();
        assert!(r.structure.is_clean(), "{name}: {:?}", r.structure.problems);
        let got = serde_json::to_value(&r.status).unwrap();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn several_files_print_in_argument_order_and_one_bad_file_sets_the_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let a = common::path("tiny-1.snap.db", &tmp);
    let b = common::path("auth-1.member.db", &tmp);
    let missing = tmp.path().join("missing.db");
    let out = boltscope().args(["status", "-w", "simple"]).arg(&b).arg(&missing).arg(&a).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let want = format!(
        "==> {} <==\n{}==> {} <==\n{}",
        b.display(),
        common::answer("auth-1.member.db", "status.simple").unwrap(),
        a.display(),
        common::answer("tiny-1.snap.db", "status.simple").unwrap()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.db"));
}

#[test]
fn json_for_several_files_is_one_object_per_line_with_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let names = ["tiny-1.snap.db", "k8s-0.005.snap.db"];
    let paths: Vec<_> = names.iter().map(|n| common::path(n, &tmp)).collect();
    let out = boltscope().args(["status", "-w", "json"]).args(&paths).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for ((line, name), path) in lines.iter().zip(names).zip(&paths) {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["path"], path.display().to_string());
        // (No `ok` claimed: status checks neither the trailer nor the histories.)
        assert!(v.get("ok").is_none(), "{v}");
        v.as_object_mut().unwrap().remove("path");
        assert_eq!(v, common::answer_json(name, "status.json").unwrap());
    }
}

#[test]
fn json_gives_a_damaged_file_its_line_with_its_problems_never_a_clean_looking_one() {
    let tmp = tempfile::tempdir().unwrap();
    let good = common::path("k8s-0.005.snap.db", &tmp);
    // A branch pointing past the high-water mark: no figures.
    let broken = tmp.path().join("broken.db");
    let mut d = common::bytes("k8s-0.005.snap.db");
    common::damage::one_page("child past the high-water mark", &mut d);
    std::fs::write(&broken, &d).unwrap();
    // One bit under the trailer, with --check-hash: etcdutl's figures stand, the file is not ok.
    let rotten = tmp.path().join("rotten.db");
    std::fs::write(&rotten, common::with_last_value_flipped("k8s-0.005.snap.db")).unwrap();
    let out =
        boltscope().args(["status", "--check-hash", "-w", "json"]).args([&good, &broken, &rotten]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "one line per file, damaged ones included");
    let kinds = |v: &serde_json::Value| -> Vec<String> {
        v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!((lines[0].get("ok"), lines[0].get("problems")), (None, None));
    assert_eq!(lines[1]["path"], broken.display().to_string());
    // (--check-hash: the damage also breaks the trailer.)
    assert_eq!(
        (lines[1]["ok"].clone(), kinds(&lines[1])),
        (false.into(), vec!["page_out_of_bounds".to_string(), "trailer_mismatch".to_string()])
    );
    assert_eq!(lines[1]["problems"][0]["offset"].as_u64().map(|o| o > 0), Some(true), "the byte offset is named");
    assert!(lines[1].get("hash").is_none() && lines[1].get("revision").is_none(), "figures withheld");
    assert_eq!((lines[2]["ok"].clone(), kinds(&lines[2])), (false.into(), vec!["trailer_mismatch".to_string()]));
    assert_eq!(lines[2]["revision"], 111, "a trailer mismatch leaves the tree's figures standing");
    // One file with problems: the same line, not etcdutl's clean-looking object or nothing.
    let one = boltscope().args(["status", "-w", "json"]).arg(&broken).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!((v["ok"].clone(), kinds(&v)), (false.into(), vec!["page_out_of_bounds".to_string()]));
}

#[test]
fn verify_trailer_accepts_real_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["tiny-1.snap.db", "k8s-0.005.snap.db", "auth-1.member.db"] {
        let out = boltscope().args(["status", "--verify-trailer"]).arg(common::path(name, &tmp)).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
}
