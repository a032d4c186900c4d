//! `compact` never writes a wrong copy and calls it verified, and never replaces what it must
//! not: each damage below is built from the raw layout of a real etcd file (offsets found by hand
//! in tests/common), and each destination rule is driven through the binary.

mod common;
use common::{layout, put_u64, u16_at, u32_at, u64_at};
use std::path::Path;
use std::process::Output;

const PS: usize = 4096;
const FIXTURE: &str = "k8s-0.005.member.db";

fn compact(args: &[&str], src: &Path, dst: &str) -> Output {
    common::boltscope().arg("compact").args(args).arg(src).args(["-o", dst]).output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes the damaged bytes, and requires `check` to name `kind` and `compact` to refuse the file
/// (exit 1) naming it too, leaving nothing behind.
fn refused(d: &[u8], kind: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("damaged.db");
    std::fs::write(&src, d).unwrap();
    let check = common::run(["--no-index", "check", src.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert_eq!(check.status.code(), Some(1), "{report}");
    assert!(report.contains(kind), "check names {kind}: {report}");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let dst = out_dir.join("copy.db");
    let out = compact(&[], &src, dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{kind}: {}", err(&out));
    assert!(err(&out).contains(kind) && err(&out).contains("Refusing"), "{kind}: {}", err(&out));
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 0, "{kind}: nothing left behind");
}

/// Offset of branch element `i` of page `page`.
fn branch_elem(page: usize, i: usize) -> usize {
    page * PS + 16 + 16 * i
}

#[test]
fn a_branch_with_no_elements_is_refused_not_copied_without_its_subtree() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    d[l.key_root * PS + 10..l.key_root * PS + 12].copy_from_slice(&0u16.to_le_bytes());
    refused(&d, "empty_branch");
}

#[test]
fn a_page_reached_twice_in_the_copied_tree_is_refused() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    let second_child = u64_at(&d, branch_elem(l.key_root, 1) + 8);
    put_u64(&mut d, branch_elem(l.key_root, 2) + 8, second_child);
    refused(&d, "multiple_references");
}

#[test]
fn keys_out_of_order_in_the_copied_tree_are_refused() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    // The second key of the first leaf made smaller than the first: its main revision zeroed.
    let e = l.first_leaf * PS + 16 + 16;
    let k = e + u32_at(&d, e + 4);
    d[k..k + 8].copy_from_slice(&[0; 8]);
    refused(&d, "keys_out_of_order");
}

#[test]
fn a_branch_key_that_differs_from_its_child_is_refused() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    // Branch element 1's key (a revision: 8-byte big-endian main, `_`, sub) lowered by one in
    // its main revision: below its child's first key, still above element 0's.
    let e = branch_elem(l.key_root, 1);
    let k = e + u32_at(&d, e) + 7;
    assert!(d[k] > 0, "the main revision's low byte can be lowered");
    d[k] -= 1;
    refused(&d, "branch_key_mismatch");
}

#[test]
fn a_page_size_the_file_cannot_back_writes_nothing_of_that_size() {
    // Meta page 0 of an 8 KiB file, valid, states 1 GiB pages: compact wrote 2 GiB of
    // placeholders before refusing, salvage left a 3 GiB copy of nothing (at 1 GiB of memory).
    let mut d = common::bytes(FIXTURE)[..2 * PS].to_vec();
    d[24..28].copy_from_slice(&(1u32 << 30).to_le_bytes());
    let sum = boltscope::bbolt::meta::fnv1a64(&d[16..72]);
    d[72..80].copy_from_slice(&sum.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("huge-pages.db");
    std::fs::write(&src, &d).unwrap();
    let dst = tmp.path().join("copy.db");
    let out = compact(&[], &src, dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    assert!(err(&out).contains("page_past_eof"), "{}", err(&out));
    let out = common::run(["salvage", src.to_str().unwrap(), "-o", dst.to_str().unwrap()]);
    let written = std::fs::metadata(&dst).map_or(0, |m| m.len());
    assert!(written <= 1 << 20, "{written} bytes: {}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(out.status.code(), Some(0));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".boltscope"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_newer_meta_page_with_an_edited_page_size_is_refused_and_meta_n_copies_the_other() {
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    let m = l.active_meta * PS;
    d[m + 24..m + 28].copy_from_slice(&8192u32.to_le_bytes());
    let sum = boltscope::bbolt::meta::fnv1a64(&d[m + 16..m + 72]);
    d[m + 72..m + 80].copy_from_slice(&sum.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("edited.db");
    std::fs::write(&src, &d).unwrap();
    let check = common::run(["--no-index", "check", src.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&check.stdout).contains("meta_mismatch"));
    let dst = tmp.path().join("copy.db");
    let out = compact(&[], &src, dst.to_str().unwrap());
    let e = err(&out);
    assert_eq!(out.status.code(), Some(1), "{e}");
    let (newer, older) = (l.active_meta, 1 - l.active_meta);
    assert!(e.contains(&format!("newer meta page {newer} cannot be used")), "{e}");
    assert!(e.contains("real bbolt and etcd still read that one") && e.contains(&format!("--meta {older}")), "{e}");
    assert!(!dst.exists());
    // Copied deliberately; the newer meta page's problem lies outside the copy, and SRC is still
    // not sound (exit 1, as `check --meta N` says).
    let out = compact(&["--meta", &older.to_string(), "-w", "json"], &src, dst.to_str().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", err(&out));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&r["meta"], &r["ok"], &r["verified"]), (&older.into(), &false.into(), &true.into()));
    assert_eq!(common::run(["--no-index", "check", dst.to_str().unwrap()]).status.code(), Some(0));
}

#[test]
fn a_destination_that_is_not_a_regular_file_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("tiny-1.snap.db", &tmp);
    // /dev/stdout is a link into /proc: refused even with --force, and left as it is.
    let before = std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink();
    let out = compact(&["--force"], &src, "/dev/stdout");
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(err(&out).contains("lies under /dev or /proc"), "{}", err(&out));
    assert_eq!(std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink(), before);
    // A folder and a FIFO, even with --force.
    let dir = tmp.path().join("a-folder");
    std::fs::create_dir(&dir).unwrap();
    let fifo = tmp.path().join("a-fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (p, what) in [(&dir, "is a directory"), (&fifo, "is a FIFO")] {
        let out = compact(&["--force"], &src, p.to_str().unwrap());
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(err(&out).contains(what), "{}", err(&out));
    }
    assert!(dir.is_dir());
    // A link to a regular file: the file is replaced, the link stays a link.
    let target = tmp.path().join("target.db");
    std::fs::write(&target, b"old").unwrap();
    let link = tmp.path().join("link.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = compact(&["--force"], &src, link.to_str().unwrap());
    assert!(out.status.success(), "{}", err(&out));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link itself is kept");
    assert_eq!(hash_revision_keys(&target), hash_revision_keys(&src));
    // ... and the summary names the file replaced, which may lie in another folder.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("written to its target {}", target.display())), "{said}");
    let out = compact(&["--force", "-w", "json"], &src, link.to_str().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dst_target"].as_str(), Some(target.to_str().unwrap()), "{v}");
    let out = compact(&["--force", "-w", "json"], &src, target.to_str().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.get("dst_target"), None, "a plain DST has none: {v}");
    // A dangling link is a name that exists: without --force neither compact nor salvage writes
    // through it; with it, the file it names is created.
    let dangling = tmp.path().join("dangling.db");
    let nowhere = tmp.path().join("nowhere.db");
    std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
    let d = dangling.to_str().unwrap();
    for cmd in ["compact", "salvage"] {
        let out = common::run(["--no-index", cmd, src.to_str().unwrap(), "-o", d]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", err(&out));
        assert!(err(&out).contains("exists"), "{cmd}: {}", err(&out));
        assert!(!nowhere.exists(), "{cmd} wrote through the dangling link");
    }
    let out = compact(&["--force"], &src, d);
    assert!(out.status.success());
    assert_eq!(hash_revision_keys(&nowhere), hash_revision_keys(&src));
    // It said "its target was replaced" of a file it created.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("written to its target {}", nowhere.display())) && !said.contains("replaced"),
        "{said}"
    );
}

/// etcdutl's HASH, REVISION and TOTAL KEYS of a file, as `status` prints them (its size differs
/// after compaction).
fn hash_revision_keys(p: &Path) -> String {
    let st = common::run(["--no-index", "status", p.to_str().unwrap()]);
    assert!(st.status.success(), "{}", err(&st));
    let line = String::from_utf8_lossy(&st.stdout).into_owned();
    line.rsplit_once(", ").unwrap().0.to_string()
}

#[test]
fn dash_writes_the_verified_copy_to_standard_output() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("tiny-1.snap.db", &tmp);
    let out = compact(&[], &src, "-");
    assert!(out.status.success(), "{}", err(&out));
    assert!(!Path::new("-").exists(), "no file named -");
    assert!(err(&out).contains(" -> - "), "the summary goes to stderr: {}", err(&out));
    let copy = tmp.path().join("from-stdout.db");
    std::fs::write(&copy, &out.stdout).unwrap();
    let want = common::answer("tiny-1.snap.db", "status.simple").unwrap();
    assert!(want.starts_with(&format!("{}, ", hash_revision_keys(&copy))), "{want}");
    assert_eq!(boltscope::etcd::trailer::verify(&out.stdout).map(|t| t.ok()), Some(true));
}

#[test]
fn a_copy_left_by_a_killed_compact_is_removed_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("tiny-1.snap.db", &tmp);
    let dir = tmp.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    // pid 4194304 is above Linux's largest: no process of that id runs.
    let stale = dir.join(".boltscope-compact-4194304-x1y2z3");
    let other = dir.join(".boltscope-compact-notours");
    std::fs::write(&stale, vec![0u8; 8192]).unwrap();
    std::fs::write(&other, b"x").unwrap();
    // Left a while ago (a copy younger than ten seconds may still be about to be locked).
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(then).unwrap();
    let out = compact(&[], &src, dir.join("copy.db").to_str().unwrap());
    assert!(out.status.success(), "{}", err(&out));
    assert!(!stale.exists(), "the dead process's copy is gone");
    assert!(other.exists(), "a file whose owner cannot be told is left alone");
}

#[test]
fn the_refusals_name_page_and_offset_from_the_raw_layout() {
    // The empty branch is reported at the page the test emptied.
    let mut d = common::bytes(FIXTURE);
    let l = layout(&d);
    d[l.key_root * PS + 10..l.key_root * PS + 12].copy_from_slice(&0u16.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("damaged.db");
    std::fs::write(&src, &d).unwrap();
    let out = compact(&[], &src, tmp.path().join("copy.db").to_str().unwrap());
    let e = err(&out);
    assert!(e.contains(&format!("branch page {} has no elements", l.key_root)), "{e}");
    assert!(e.contains(&format!("byte offset {}", l.key_root * PS)), "{e}");
    assert_eq!(u16_at(&d, l.key_root * PS + 8), 0x01);
}

#[test]
fn a_replaced_dst_keeps_its_permissions_a_new_one_takes_the_sources() {
    // A snapshot holds Secrets: --force over a file kept 0600 gave it SRC's 0644, for compact and
    // salvage alike.
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("k8s-0.005.snap.db", &tmp);
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for cmd in ["compact", "salvage"] {
        let private = tmp.path().join(format!("{cmd}-private.db"));
        std::fs::write(&private, b"old").unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
        let fresh = tmp.path().join(format!("{cmd}-fresh.db"));
        for (dst, force) in [(&private, true), (&fresh, false)] {
            let mut c = common::boltscope();
            c.args(["--no-index", cmd]).arg(&src).arg("-o").arg(dst);
            if force {
                c.arg("--force");
            }
            let out = c.output().unwrap();
            assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert_eq!(mode(&private), 0o600, "{cmd}: the replaced file's mode");
        assert_eq!(mode(&fresh), 0o644, "{cmd}: a new file takes SRC's");
    }
}

#[test]
fn a_copy_to_a_reader_that_goes_away_leaves_no_temporary_copy() {
    // `compact -o - | head -c 100`: SIGPIPE ended the process and left the whole copy (Secrets
    // and all) in $TMPDIR, where nothing removed it.
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let src = common::path("cluster-0.1.snap.db", &tmp);
    let tmpdir = tmp.path().join("tmpdir");
    std::fs::create_dir(&tmpdir).unwrap();
    for cmd in ["compact", "salvage"] {
        let mut child = common::boltscope()
            .args(["--no-index", cmd, src.to_str().unwrap(), "-o", "-"])
            .env("TMPDIR", &tmpdir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut head = [0u8; 100];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.code(), Some(2), "{cmd}: a copy cut short is a failure");
        let left: Vec<_> = std::fs::read_dir(&tmpdir).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{cmd}: {left:?}");
    }
}

#[test]
fn a_compaction_where_no_key_is_live_verifies_its_copy() {
    // emptied-1 (real etcd 3.5.1): every key deleted at 8 and at 11. The copy's check hashed the
    // source as etcd's HashKV does (no filter when etcd's keep set is empty) and the copy, which
    // holds only the survivors, differed: compact refused, though etcd compacts there.
    let tmp = tempfile::tempdir().unwrap();
    let src = common::dir().join("emptied/emptied-1.snap.db");
    for rev in ["8", "11", "10"] {
        let dst = tmp.path().join(format!("at-{rev}.db"));
        let out = compact(&["--revision", rev], &src, dst.to_str().unwrap());
        assert!(out.status.success(), "--revision {rev}: {}", err(&out));
        let check = common::run(["--no-index", "check", dst.to_str().unwrap()]);
        assert!(check.status.success(), "--revision {rev}: {}", String::from_utf8_lossy(&check.stdout));
    }
}

#[test]
fn standard_output_onto_the_source_is_refused() {
    // `-o -` with standard output opened on SRC itself (`1<>SRC`, `>>SRC`): the copy was written
    // over the bytes being read (or after them), exit 0.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in.db");
    let before = common::bytes("tiny-1.snap.db");
    std::fs::write(&src, &before).unwrap();
    let bin = common::boltscope().get_program().to_owned();
    for cmd in ["compact", "salvage"] {
        for redirect in ["1<>", ">>"] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("exec \"$0\" --no-index {cmd} \"$1\" -o - {redirect}\"$1\""))
                .arg(&bin)
                .arg(&src)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {redirect}: {said}");
            assert!(said.contains("standard output is the source file itself"), "{said}");
            assert_eq!(std::fs::read(&src).unwrap(), before, "{cmd} {redirect}: SRC untouched");
        }
    }
}
