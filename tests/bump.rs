//! Files real etcd 3.5.16 wrote with the marker of `etcdutl snapshot restore --bump-revision N
//! --mark-compacted` (`fixtures/make-bump.sh`; etcdutl 3.5.1 has no such flag): `bump-1.member.db`
//! as the restore left it (a record with an empty value at revision 1009, sub revision 0, the
//! compaction scheduled there and not finished) and `bump-2.snap.db`, a snapshot of etcd 3.5.16
//! serving it after writes and a compaction at 1013, above the marker (which etcd kept: it indexed
//! it as a put of the empty key). Their `get`/`log`/`hashkv` answers are replayed with the other
//! fixtures' in keys_answers.rs; here, the file-level verdicts and figures, and `compact`.
//! tests/bump_interop.rs makes them anew and restores boltscope's copies into etcd 3.5.16.

mod common;

use serde_json::Value;
use std::path::PathBuf;

const FILES: [&str; 2] = ["bump-1.member.db", "bump-2.snap.db"];

fn file(name: &str) -> PathBuf {
    common::dir().join("bump").join(name)
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn the_files_etcd_wrote_pass_check_and_status_is_etcdutls() {
    for name in FILES {
        let f = file(name);
        let check = common::boltscope().args(["--no-index", "check", "-w", "json"]).arg(&f).output().unwrap();
        let v = json(&check);
        assert_eq!(check.status.code(), Some(0), "{name}: {v}");
        assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{name}: {v}");
        // etcdutl 3.5.16's status of the same file (make-bump.sh), byte for byte.
        let want = std::fs::read_to_string(file(&format!("{name}.status.json"))).unwrap();
        let st = common::boltscope().args(["--no-index", "status", "-w", "json"]).arg(&f).output().unwrap();
        assert_eq!(st.status.code(), Some(0), "{name}");
        assert_eq!(String::from_utf8_lossy(&st.stdout), want, "{name}");
    }
}

#[test]
fn the_header_carries_the_term_a_server_on_the_file_reports() {
    // bump-1 is a member etcdutl restored (meta term 1); etcd 3.5.16 serving it elected itself at
    // term 2 before answering (key-answers/bump-1.server.json), as every restored member does.
    let server: Value =
        serde_json::from_str(&std::fs::read_to_string(common::dir().join("key-answers/bump-1.server.json")).unwrap())
            .unwrap();
    assert_eq!(server["file_meta"]["term"], 1, "the file's own term");
    let term = &server["endpoint_status_start"]["header"]["raft_term"];
    let f = file("bump-1.member.db");
    let get = common::boltscope().args(["--no-index", "get", "-w", "json"]).arg(&f).arg("key0").output().unwrap();
    assert_eq!(&json(&get)["header"]["raft_term"], term);
}

#[test]
fn compact_keeps_the_marker_and_what_every_revision_reads() {
    // The copy at the file's own floor (default) and compacted at the head (--revision latest):
    // clean, the marker still counted (same revision), every live key as the original lists it.
    let tmp = tempfile::tempdir().unwrap();
    for name in FILES {
        let src = file(name);
        let get_all = |p: &std::path::Path| {
            let mut c = common::boltscope();
            json(&c.args(["--no-index", "get", "-w", "json"]).arg(p).args(["", "--from-key"]).output().unwrap())
        };
        let orig = get_all(&src);
        for (i, args) in [&[][..], &["--revision", "latest"][..]].into_iter().enumerate() {
            let dst = tmp.path().join(format!("{name}.{i}.db"));
            let out = common::compact(args, &src, &dst);
            assert!(out.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            let check = common::boltscope().args(["--no-index", "check"]).arg(&dst).output().unwrap();
            assert_eq!(check.status.code(), Some(0), "{name} {args:?}: {}", String::from_utf8_lossy(&check.stdout));
            let copy = get_all(&dst);
            assert_eq!(copy["kvs"], orig["kvs"], "{name} {args:?}");
            assert_eq!(copy["header"]["revision"], orig["header"]["revision"], "{name} {args:?}: the marker kept");
            if !args.is_empty() {
                let h = common::boltscope().args(["--no-index", "hashkv", "-w", "json"]).arg(&dst).output().unwrap();
                let h = json(&h);
                assert_eq!(h["compactRevision"], orig["header"]["revision"], "{name}: compacted at the head");
            }
        }
    }
}
