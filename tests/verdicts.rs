//! Every verdict true, and the same everywhere: a file `check` fails is never recorded, scanned or
//! exported as ok; figures from a tree not read whole are withheld; every file asked about gets
//! an answer in JSON and Prometheus; the JSON is one schema. Damaged files are built here from
//! real fixtures; the expected facts come from the real tools' answers beside them.

mod common;
use boltscope::bbolt::cursor;
use boltscope::DbView;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn index_run(index: &Path, args: &[&str]) -> Output {
    common::boltscope().arg("--index").arg(index).args(args).output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn kinds(v: &Value) -> Vec<String> {
    v["problems"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap().to_string()).collect()
}

/// k8s-0.005.snap.db with one bit flipped in its last value: every structural check passes, only
/// the sha256 trailer knows.
fn rotten(dir: &Path) -> PathBuf {
    let p = dir.join("rotten.snap.db");
    std::fs::write(&p, common::with_last_value_flipped("k8s-0.005.snap.db")).unwrap();
    p
}

#[test]
fn a_bit_flipped_under_the_trailer_is_a_problem_for_every_command_and_in_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let p = rotten(&dir);
    let ps = p.to_str().unwrap();
    let check = index_run(&ix, &["check", "-w", "json", ps]);
    assert_eq!(check.status.code(), Some(1));
    // The fixture's free pages also hold old values of Secrets (a warning, tests/residue.rs).
    assert_eq!(kinds(&lines(&check)[0]), vec!["trailer_mismatch", "residual_secrets"]);
    let inspect = index_run(&ix, &["inspect", "-w", "json", ps]);
    assert_eq!(inspect.status.code(), Some(1));
    let v = &lines(&inspect)[0];
    assert_eq!(kinds(v), vec!["trailer_mismatch", "residual_secrets"], "inspect lists it as a problem");
    assert_eq!(v["ok"], false);
    let scan = index_run(&ix, &["scan", dir.to_str().unwrap()]);
    let (out, err) = text(&scan);
    assert_eq!(scan.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("1 problem(s)") && out.contains("1 with problems"), "{out}");
    // status prints etcdutl's figures (it checks no trailer unless asked) but records no "ok";
    // it tells the failure `scan` recorded, exit 1 (review 41b), unless told to --refresh.
    assert_eq!(index_run(&ix, &["status", ps]).status.code(), Some(1));
    assert_eq!(index_run(&ix, &["status", "--refresh", ps]).status.code(), Some(0));
    assert_eq!(index_run(&ix, &["status", "--check-hash", ps]).status.code(), Some(1));
    // inspect told not to check the trailer finds nothing itself and records what status
    // records, but tells the failure `check` and `scan` recorded, exit 1, as status does.
    assert_eq!(index_run(&ix, &["inspect", "--skip-hash-check", ps]).status.code(), Some(1));
    let hist = index_run(&ix, &["history", "-w", "json", ps]);
    let rows = lines(&hist);
    assert!(rows.len() >= 6, "{rows:?}");
    let last = rows.last().unwrap();
    assert_eq!(last["command"], "inspect");
    assert_eq!(last["verdict"], "not verified (sha256 trailer not checked), 1 warning(s)", "{last}");
    for r in &rows {
        let verdict = r["verdict"].as_str().unwrap();
        assert!(!verdict.starts_with("ok"), "a {} row records the damaged file as ok: {verdict}", r["command"]);
    }
}

#[test]
fn scan_exits_2_for_a_folder_or_file_it_cannot_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("scan");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(common::path("tiny-1.snap.db", &tmp), dir.join("good.db")).unwrap();
    let clean = common::run(["--no-index", "scan", dir.to_str().unwrap()]);
    assert_eq!(clean.status.code(), Some(0), "{:?}", text(&clean));
    // A file that starts like bbolt but is too short to be one.
    std::fs::write(dir.join("cut.db"), &common::bytes("tiny-1.snap.db")[..600]).unwrap();
    let out = common::run(["--no-index", "scan", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    std::fs::remove_file(dir.join("cut.db")).unwrap();
    // Compressed backups cut short: their first bytes are a container's, but nothing can be
    // expanded from them. Listed as unreadable, not passed over as another kind of file.
    let archives = common::dir().join("archives");
    for name in ["tiny-1.snap.db.gz", "stored.zip"] {
        let whole = std::fs::read(archives.join(name)).unwrap();
        let cut = dir.join(format!("cut-{name}"));
        std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
        let out = common::run(["--no-index", "scan", dir.to_str().unwrap()]);
        let (o, e) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {o}{e}");
        assert!(o.contains(&format!("cut-{name}")) && o.contains("1 unreadable"), "{name}: {o}");
        std::fs::remove_file(&cut).unwrap();
    }
    // A folder it may not read: root reads everything, so the scan runs as `nobody` then.
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.join("locked");
    std::fs::create_dir(&locked).unwrap();
    for d in [tmp.path(), dir.as_path()] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let root = unsafe_free_is_root();
    let mut cmd = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_boltscope")]);
        c
    } else {
        common::boltscope()
    };
    let mut trend = if root {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_boltscope")]);
        c
    } else {
        common::boltscope()
    };
    let out = cmd.args(["--no-index", "scan"]).arg(&dir).output().unwrap();
    let trend = trend.args(["--no-index", "trend", "-w", "json"]).arg(&dir).output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{o}{e}");
    assert!(o.contains("locked/  unreadable folder"), "{o}");
    // `trend` of the same folder: the backup is a point, the folder it could not list counts.
    let (o, e) = text(&trend);
    assert_eq!(trend.status.code(), Some(2), "{o}{e}");
    let v: Value = serde_json::from_str(&o).unwrap();
    assert_eq!(v["skipped"][0]["error"]["kind"], "unreadable_folder", "{v}");
    assert_eq!(v["series"][0]["backups"], 1, "{v}");
}

/// Whether this test runs as root (its files then belong to uid 0).
fn unsafe_free_is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let p = std::env::temp_dir().join(format!("boltscope-uid-{}", std::process::id()));
    std::fs::write(&p, b"").unwrap();
    let uid = std::fs::metadata(&p).unwrap().uid();
    let _ = std::fs::remove_file(&p);
    uid == 0
}

#[test]
fn bytes_past_the_high_water_mark_that_no_tool_expects_are_a_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let snap = common::bytes("tiny-1.snap.db");
    let cut = tmp.path().join("cut.snap.db");
    std::fs::write(&cut, &snap[..snap.len() - 16]).unwrap();
    let mut appended = snap.clone();
    appended.extend_from_slice(&[7u8; 100]);
    let app = tmp.path().join("appended.snap.db");
    std::fs::write(&app, &appended).unwrap();
    for p in [&cut, &app] {
        let out = common::run(["--no-index", "check", "-w", "json", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", p.display());
        let v = &lines(&out)[0];
        assert_eq!(kinds(v), vec!["trailing_bytes"], "{}", p.display());
        assert!(v["problems"][0]["message"].as_str().unwrap().contains("etcdutl snapshot restore"));
        // status still prints etcdutl's figures, and exits 1.
        let st = common::run(["--no-index", "status", p.to_str().unwrap()]);
        assert_eq!(st.status.code(), Some(1));
        assert_eq!(text(&st).0, common::answer("tiny-1.snap.db", "status.simple").unwrap());
    }
    // A member file's grow-ahead slack (whole zero pages) is fine.
    let mut member = common::bytes("tiny-1.member.db");
    member.extend_from_slice(&[0u8; 2 * 4096]);
    let m = tmp.path().join("slack.db");
    std::fs::write(&m, &member).unwrap();
    assert_eq!(common::run(["--no-index", "check", m.to_str().unwrap()]).status.code(), Some(0));
}

#[test]
fn a_raised_alarm_is_shown_gated_and_can_be_cleared_by_compact() {
    // fill-1: real etcd 3.5.1 with a 1 MiB quota refused a 1 MiB put and raised NOSPACE.
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("fill-1.snap.db", &tmp);
    let ps = p.to_str().unwrap();
    let alarms = common::answer("fill-1", "alarms.txt").unwrap();
    let member: u64 = alarms.split("memberID:").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let out = common::run(["--no-index", "inspect", ps]);
    assert_eq!(out.status.code(), Some(0), "an alarm is a warning");
    let t = text(&out).0;
    assert!(t.contains(&format!("NOSPACE alarm raised by member {member:x}")) && t.contains("alarm disarm"), "{t}");
    assert_eq!(common::run(["--no-index", "check", ps]).status.code(), Some(0));
    let gated = common::run(["--no-index", "check", "--fail-on-alarm", "-w", "json", ps]);
    assert_eq!(gated.status.code(), Some(1));
    let v = &lines(&gated)[0];
    assert_eq!(v["gates"][0]["gate"], "--fail-on-alarm");
    assert_eq!(v["gates"][0]["actual"], "NOSPACE");
    // compact keeps the alarm unless asked; --clear-alarms writes the copy without it.
    for (flags, cleared) in [(&[][..], false), (&["--clear-alarms"][..], true)] {
        let dst = tmp.path().join(format!("copy-{cleared}.db"));
        let out = common::boltscope().arg("compact").args(flags).arg(&p).arg("-o").arg(&dst).output().unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        assert_eq!(text(&out).0.contains("1 alarm(s) cleared"), cleared);
        assert_eq!(text(&out).1.contains("the copy keeps SRC's NOSPACE alarm"), !cleared, "{:?}", text(&out));
        let gated = common::run(["--no-index", "check", "--fail-on-alarm", dst.to_str().unwrap()]);
        assert_eq!(gated.status.code(), Some(if cleared { 0 } else { 1 }), "cleared: {cleared}");
    }
}

#[test]
fn figures_of_a_tree_not_read_whole_are_withheld_and_health_comes_first() {
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.db");
    std::fs::write(&cut, &common::bytes("k8s-0.005.member.db")[..100_000]).unwrap();
    let cs = cut.to_str().unwrap();
    let out = common::run(["--no-index", "inspect", cs]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out).0;
    let body: Vec<&str> = t.lines().collect();
    assert!(body[1].starts_with("  health    ") && body[1].contains("PROBLEM(S)"), "{t}");
    assert!(body[2].contains("WITHHELD"), "{t}");
    assert!(!t.contains(" in use, ") && !t.contains("after compact") && !body.contains(&"buckets"), "{t}");
    let v = &lines(&common::run(["--no-index", "inspect", "-w", "json", cs]))[0];
    assert_eq!(v["complete"], false);
    for k in ["pages", "buckets", "mvcc", "prediction", "etcd"] {
        assert!(v[k].is_null(), "{k} withheld: {}", v[k]);
    }
    for k in ["in_use", "free", "fragmentation"] {
        assert!(v["size"][k].is_null(), "size.{k} withheld");
    }
    assert!(v["size"]["total"].is_u64(), "the total comes from the meta page");
    let prom = text(&common::run(["--no-index", "inspect", "-w", "prometheus", cs])).0;
    assert!(prom.contains(&format!("boltscope_file_readable{{file=\"{cs}\"}} 1")), "{prom}");
    for withheld in ["etcd_mvcc_db_total_size_in_use_in_bytes", "boltscope_predicted_size_bytes", "boltscope_db_pages"]
    {
        assert!(!prom.contains(withheld), "{withheld} has a series: {prom}");
    }
    assert!(prom.contains("etcd_mvcc_db_total_size_in_bytes"));
}

#[test]
fn a_file_that_cannot_be_read_still_gets_its_object_and_metric() {
    let tmp = tempfile::tempdir().unwrap();
    let good = common::path("tiny-1.snap.db", &tmp);
    let missing = tmp.path().join("missing.db");
    let (g, m) = (good.to_str().unwrap(), missing.to_str().unwrap());
    for cmd in ["inspect", "check", "status"] {
        let out = common::run(["--no-index", cmd, "-w", "json", m, g]);
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let v = lines(&out);
        assert_eq!(v.len(), 2, "{cmd}: one object per file");
        assert_eq!(v[0]["path"], m, "{cmd}");
        assert_eq!(v[0]["ok"], false, "{cmd}");
        assert_eq!(v[0]["error"]["kind"], "io", "{cmd}");
        assert!(v[0]["error"]["message"].as_str().unwrap().contains("No such file"), "{cmd}");
        assert_eq!(v[1]["path"], g, "{cmd}: every object names its file with `path`");
    }
    let prom = text(&common::run(["--no-index", "inspect", "-w", "prometheus", m, g])).0;
    assert!(prom.contains(&format!("boltscope_file_readable{{file=\"{m}\"}} 0")), "{prom}");
    assert!(prom.contains(&format!("boltscope_file_readable{{file=\"{g}\"}} 1")), "{prom}");
}

#[test]
fn the_json_is_one_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let fill = common::path("fill-1.snap.db", &tmp);
    let f = fill.to_str().unwrap();
    // REVISION is the same figure in status and check (etcdutl's: 0 for fill-1, whose key bucket
    // is empty), and check adds the revision a server would start at.
    let st = common::answer_json("fill-1.snap.db", "status.json").unwrap();
    let v = &lines(&common::run(["--no-index", "check", "-w", "json", f]))[0];
    assert_eq!(v["revision"], st["revision"]);
    assert_eq!(v["current_revision"], 1);
    // Member and lease ids are hex strings; the quota verdict is a code and a sentence.
    let i = &lines(&common::run(["--no-index", "inspect", "-w", "json", f]))[0];
    let es = common::answer_json("fill-1", "endpoint-status.json").unwrap();
    let member = format!("{:x}", es[0]["Status"]["header"]["member_id"].as_u64().unwrap());
    assert_eq!(i["etcd"]["members"][0]["id"], member);
    assert_eq!(i["etcd"]["alarms"][0]["member_id"], member);
    assert_eq!(i["quota"]["code"], "within");
    assert!(i["quota"]["verdict"].as_str().unwrap().starts_with("within quota"));
    assert_eq!(i["schema"], 5);
}

#[test]
fn status_exits_1_on_a_record_etcd_cannot_read_but_prints_the_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("tiny-1.member.db");
    let at = {
        let view = DbView::new(&d).unwrap();
        let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let e = cursor::last(&view, kb).unwrap().unwrap();
        e.value.as_ptr() as usize - d.as_ptr() as usize
    };
    d[at] = 0x0b; // wire type 3 (a group start): not a KeyValue
    let p = tmp.path().join("bad-record.db");
    std::fs::write(&p, &d).unwrap();
    let out = common::run(["--no-index", "status", p.to_str().unwrap()]);
    let (o, e) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("invalid_key_value"), "{e}");
    assert!(o.ends_with(", 9, 14, 20 kB\n"), "the figures are printed: {o}");
}

#[test]
fn a_file_that_lost_its_key_bucket_is_no_ok_for_status_either() {
    // One bit renames the root's `key` bucket: the file reads as a bbolt file that is not etcd's,
    // whose status row said `ok` (and trend counted it) where check fails it (review 45a).
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let mut d = common::bytes("tiny-1.member.db");
    let root = DbView::new(&d).unwrap().meta().root.0 as usize * 4096;
    let at = root + d[root..root + 4096].windows(3).position(|w| w == b"key").expect("the bucket's name");
    d[at] ^= 0x02; // "iey"
    let p = tmp.path().join("lost-key.db");
    std::fs::write(&p, &d).unwrap();
    let f = p.to_str().unwrap();
    let out = index_run(&ix, &["status", f]);
    let (_, e) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    assert!(e.contains("etcd_bucket_missing"), "{e}");
    assert_eq!(index_run(&ix, &["check", f]).status.code(), Some(1));
    let rows = lines(&index_run(&ix, &["history", f, "-w", "json"]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r["verdict"] != "ok"), "no row says ok: {rows:?}");
}

#[test]
fn a_failed_check_leaves_no_earlier_answer_standing_and_a_refused_tree_no_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let good = common::path("k8s-0.005.snap.db", &tmp);
    let p = dir.join("a.snap.db");
    std::fs::copy(&good, &p).unwrap();
    let scan = |want: i32| {
        let o = index_run(&ix, &["scan", dir.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(want), "{:?}", text(&o));
    };
    scan(0);
    // Bit rot under the trailer, the modification time put back: the file's identity is the same,
    // but the trailer scan verifies is hashed on every run, so the index answers no ok for it.
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    std::fs::write(&p, common::with_last_value_flipped("k8s-0.005.snap.db")).unwrap();
    std::fs::File::options().write(true).open(&p).unwrap().set_modified(mtime).unwrap();
    scan(1);
    assert_eq!(index_run(&ix, &["check", p.to_str().unwrap()]).status.code(), Some(1));
    scan(1);
    // A tree status refuses to read leaves no revision or hash in the history.
    let mut d = common::bytes("k8s-0.005.snap.db");
    common::damage::one_page("child past the high-water mark", &mut d);
    let bad = tmp.path().join("bad.snap.db");
    std::fs::write(&bad, &d).unwrap();
    assert_eq!(index_run(&ix, &["status", bad.to_str().unwrap()]).status.code(), Some(1));
    let rows = lines(&index_run(&ix, &["history", "-w", "json", bad.to_str().unwrap()]));
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["revision"].is_null() && rows[0]["hash"].is_null(), "{}", rows[0]);
}

#[test]
fn a_stale_leaf_in_the_key_bucket_fails_check_and_every_verdict_agrees() {
    // bbolt's own check passes this file (its structure is sound); etcd could not have written
    // its history. check fails it, du withholds its figures, scan counts it with problems.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    common::damage::misdirected_branch(&mut d);
    let f = dir.join("stale.db");
    std::fs::write(&f, &d).unwrap();
    let fs = f.to_str().unwrap();
    let check = common::run(["--no-index", "check", "-w", "json", fs]);
    assert_eq!(check.status.code(), Some(1), "{:?}", text(&check));
    assert!(kinds(&lines(&check)[0]).contains(&"history_inconsistent".to_string()), "{:?}", text(&check));
    // The keys are named, as `get` names them (review 45a: check said only how many).
    let problems = lines(&check)[0]["problems"].clone();
    let history = problems.as_array().unwrap().iter().find(|p| p["kind"] == "history_inconsistent").unwrap();
    let message = history["message"].as_str().unwrap();
    let get = common::run(["--no-index", "get", fs, "", "--from-key", "--count-only", "-w", "fields"]);
    let told = String::from_utf8_lossy(&get.stderr).into_owned();
    let named =
        message.split_once("(keys ").map(|(_, k)| k.trim_end_matches(')')).unwrap_or_else(|| panic!("{message}"));
    for key in named.split(", ").filter(|k| *k != "...") {
        assert!(told.contains(key), "{key} is named by get too: {told}");
    }
    let du = common::run(["--no-index", "du", "-w", "json", fs]);
    assert_eq!(du.status.code(), Some(1));
    let v = &lines(&du)[0];
    assert!(v["groups"].is_null() && v["revision"].is_null(), "{v}");
    let scan = common::run(["--no-index", "scan", dir.to_str().unwrap()]);
    assert_eq!(scan.status.code(), Some(1), "{:?}", text(&scan));
    assert!(text(&scan).0.contains("1 with problems"), "{:?}", text(&scan));
}

#[test]
fn trend_records_the_verdict_check_gives_in_the_same_words() {
    // fill-1 has a raised NOSPACE alarm, k8s-0.005 values of deleted Secrets in free pages: both
    // are `ok, 1 warning(s)` for check, and so for every command that records them.
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    for (fixture, name) in
        [("fill-1.snap.db", "etcd-snapshot-a-1765000000"), ("k8s-0.005.snap.db", "etcd-snapshot-b-1765000000")]
    {
        let p = dir.join(name);
        std::fs::copy(common::path(fixture, &tmp), &p).unwrap();
        let ps = p.to_str().unwrap();
        assert_eq!(index_run(&ix, &["check", ps]).status.code(), Some(0), "{fixture}");
        assert_eq!(index_run(&ix, &["trend", ps]).status.code(), Some(0), "{fixture}");
        let rows = lines(&index_run(&ix, &["history", "-w", "json", ps]));
        let verdict = |cmd: &str| rows.iter().find(|r| r["command"] == cmd).map(|r| r["verdict"].clone());
        assert_eq!(verdict("check"), Some(Value::from("ok, 1 warning(s)")), "{fixture}: {rows:?}");
        assert_eq!(verdict("trend"), verdict("check"), "{fixture}: {rows:?}");
    }
}

#[test]
fn a_file_cut_short_past_its_tree_keeps_its_figures() {
    // k8s-0.005.snap.db less its last 100 bytes: the trailer and part of page 94, which the tree
    // does not reach. etcdutl prints its figures; check withheld the revision ("the tree could not
    // be read whole") and status printed nothing.
    let tmp = tempfile::tempdir().unwrap();
    let d = common::bytes("k8s-0.005.snap.db");
    let p = tmp.path().join("cut.snap.db");
    std::fs::write(&p, &d[..d.len() - 100]).unwrap();
    let check = common::boltscope().args(["--no-index", "check", "-w", "json"]).arg(&p).output().unwrap();
    let v = &lines(&check)[0];
    assert_eq!(check.status.code(), Some(1));
    assert_eq!(kinds(v)[0], "hwm_past_eof", "{v}");
    assert!(!kinds(v).iter().any(|k| k == "page_past_eof"), "the tree lies within the file: {v}");
    assert_eq!(v["revision"], 111, "{v}");
    let st = common::boltscope().args(["--no-index", "status"]).arg(&p).output().unwrap();
    assert_eq!(st.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&st.stdout), common::answer("k8s-0.005.snap.db", "status.simple").unwrap());
}

#[test]
fn pages_a_transaction_wrote_before_it_committed_are_a_warning_for_every_command() {
    // A member's file read while etcd commits, or left by one stopped mid-commit, holds pages past
    // its high-water mark: `check` failed it as "a snapshot whose trailer was cut" and `compact`
    // refused it. Real bbolt passes it and etcd serves it (tests/verdicts_interop.rs).
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    std::fs::write(&db, common::uncommitted_page("tiny-1.member.db")).unwrap();
    let p = db.to_str().unwrap();
    let check = common::run(["--no-index", "check", "-w", "json", p]);
    let v: Value = serde_json::from_slice(&check.stdout).unwrap();
    assert_eq!((check.status.code(), &v["ok"]), (Some(0), &Value::Bool(true)), "{v}");
    assert_eq!(kinds(&v), ["uncommitted_pages"]);
    // Named by its first page as well as its byte offset (the page was null).
    let (page, offset) = (&v["problems"][0]["page"], v["problems"][0]["offset"].as_u64().unwrap());
    assert_eq!(page.as_u64(), Some(offset / 4096), "{v}");
    for args in [["status", p, ""], ["get", p, "key1"], ["du", p, ""], ["hashkv", p, ""]] {
        let out = common::run(["--no-index"].into_iter().chain(args.into_iter().filter(|a| !a.is_empty())));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {:?}", text(&out));
    }
    // du's JSON `ok` is check's: a warning leaves it true.
    let du = common::run(["--no-index", "du", "-w", "json", p]);
    let v: Value = serde_json::from_slice(&du.stdout).unwrap();
    assert_eq!((&v["ok"], &v["problem_total"]), (&Value::Bool(true), &Value::from(1)), "{v}");
    let copy = tmp.path().join("copy.db");
    let out = common::run(["--no-index", "compact", p, "-o", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    // Zero pages around it are the grow-ahead slack: counted out, and the warning starts at the
    // page that holds data (review 46b: 3 zero pages before it and 5 after made "9 page(s)").
    let mut d = common::bytes("tiny-1.member.db");
    let hwm = d.len() / 4096;
    d.resize(d.len() + 3 * 4096, 0);
    d.extend_from_slice(&common::uncommitted_page("tiny-1.member.db")[hwm * 4096..(hwm + 1) * 4096]);
    d.resize(d.len() + 5 * 4096, 0);
    std::fs::write(&db, &d).unwrap();
    let v: Value = serde_json::from_slice(&common::run(["--no-index", "check", "-w", "json", p]).stdout).unwrap();
    let w = &v["problems"][0];
    assert!(w["message"].as_str().unwrap().starts_with("1 page(s) past"), "{v}");
    assert_eq!(
        (w["page"].as_u64(), w["offset"].as_u64()),
        (Some(hwm as u64 + 3), Some((hwm as u64 + 3) * 4096)),
        "{v}"
    );
}

#[test]
fn every_command_lists_a_damaged_files_problems_in_its_json() {
    // A damaged file is told in one JSON shape, whatever the command: `"ok": false` and its
    // problems (kind, page, byte offset) with their count, also where the command refused its job
    // (`compact`, `diff`, `trend` add `error`). compact's and trend's lines named only the first
    // problem, in a sentence.
    let tmp = tempfile::tempdir().unwrap();
    let mut d = common::bytes("k8s-0.005.member.db");
    let leaf = common::checks::first_key_leaf(&d);
    d[leaf] ^= 0x40;
    let p = tmp.path().join("etcd-snapshot-server-0-1700000000");
    std::fs::write(&p, &d).unwrap();
    let good = common::path("k8s-0.005.member.db", &tmp);
    let (f, g) = (p.to_str().unwrap(), good.to_str().unwrap());
    let dst = tmp.path().join("copy.db");
    let reference = &lines(&common::run(["--no-index", "check", "-w", "json", f]))[0];
    let told: Vec<Value> = reference["problems"].as_array().unwrap().clone();
    assert!(!told.is_empty(), "{reference}");
    let at = |p: &Value| (p["kind"].clone(), p["page"].clone(), p["offset"].clone());
    let runs: [(&str, Vec<&str>); 6] = [
        ("status", vec!["status", "-w", "json", f]),
        ("inspect", vec!["inspect", "-w", "json", f]),
        ("du", vec!["du", "-w", "json", f]),
        ("compact", vec!["compact", f, "-o", dst.to_str().unwrap(), "-w", "json"]),
        ("diff", vec!["diff", "-w", "json", f, g]),
        ("trend", vec!["trend", "-w", "json", f]),
    ];
    for (cmd, args) in runs {
        let out = common::boltscope().arg("--no-index").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", text(&out).1);
        let all = lines(&out);
        let v = if cmd == "trend" { &all[0]["skipped"][0] } else { &all[0] };
        assert_eq!((&v["path"], &v["ok"]), (&Value::from(f), &Value::Bool(false)), "{cmd}: {v}");
        let problems = v["problems"].as_array().unwrap_or_else(|| panic!("{cmd}: no problems: {v}"));
        assert!(!problems.is_empty(), "{cmd}: {v}");
        assert!(v["problem_total"].as_u64().unwrap() >= problems.len() as u64, "{cmd}: {v}");
        for p in problems {
            assert!(told.iter().any(|t| at(t) == at(p)), "{cmd}: {p} is not among check's {told:?}");
        }
    }
    assert!(!dst.exists(), "compact refused the file");
}
