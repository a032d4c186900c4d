//! The binary on inputs that are not bbolt files at all (one line on stderr, exit 2, no panic), and
//! every command's `--help` (the JSON schema it shows, examples that use listed options).

mod common;
use std::path::Path;
use std::process::{Command, Output};

fn status(p: &Path) -> Output {
    common::boltscope().arg("status").arg(p).output().unwrap()
}

fn assert_unreadable(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}");
    assert_eq!(err.lines().count(), 1, "{what}: one line, got {err:?}");
    assert!(err.starts_with("boltscope: "), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

#[test]
fn non_bbolt_inputs_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", vec![]),
        ("one-byte", vec![7]),
        ("zeros", vec![0; 1 << 16]),
        ("text", b"hello, this is not a database\n".repeat(200)),
        ("half-a-meta", common::bytes("tiny-1.snap.db")[..600].to_vec()),
    ];
    for (name, bytes) in cases {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        assert_unreadable(&status(&p), name);
    }
    assert_unreadable(&status(tmp.path()), "directory");
    assert_unreadable(&status(&tmp.path().join("missing")), "missing");
}

#[test]
fn fifo_is_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("fifo");
    let made = Command::new("mkfifo").arg(&p).status().is_ok_and(|s| s.success());
    assert!(made, "mkfifo available");
    assert_unreadable(&status(&p), "fifo");
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    let bin = env!("CARGO_BIN_EXE_boltscope");
    let out = Command::new(bin).args(["status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin).args(["status", "-w", "yaml", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let help = Command::new(bin).args(["status", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for needle in
        ["etcdutl snapshot status", "--write-out", "--etcd-version", "Examples:", "exit 1", "history_inconsistent"]
    {
        assert!(text.contains(needle), "status --help lacks {needle:?}");
    }
    let top = Command::new(bin).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&top.stdout).contains("Exit codes"));
}

#[test]
fn input_file_is_never_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::path("k8s-0.005.member.db", &tmp);
    let before = std::fs::read(&p).unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    assert!(status(&p).status.success());
    assert_eq!(std::fs::read(&p).unwrap(), before);
    assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), mtime);
}

#[test]
fn help_shows_the_json_schema_in_use_and_examples_use_documented_spellings() {
    let help = |args: &[&str]| String::from_utf8_lossy(&common::run(args).stdout).into_owned();
    let inspect = help(&["inspect", "--help"]);
    let schema = boltscope::analysis::inspect::SCHEMA;
    assert!(inspect.contains(&format!("\"schema\": {schema}")), "{inspect}");
    // Every option an example uses is one the help lists (not a hidden old spelling).
    for cmd in ["status", "inspect", "check", "compact", "salvage", "du", "history", "scan", "trend", "diff", "hashkv"]
    {
        let h = help(&[cmd, "--help"]);
        let (_, after) = h.split_once("Examples:").or_else(|| h.split_once("Example:")).unwrap_or(("", ""));
        let examples: String =
            after.lines().take_while(|l| l.starts_with("  ") || l.is_empty()).collect::<Vec<_>>().join("\n");
        for flag in examples.split(|c: char| c.is_whitespace() || c == '=').filter(|w| w.starts_with("--")) {
            let listed = h.lines().any(|l| {
                let l = l.trim_start();
                l.starts_with('-') && l.split([' ', ',', '=']).any(|w| w == flag)
            });
            assert!(listed, "{cmd} --help: the example's {flag} is not a listed option");
        }
    }
}

#[test]
fn every_revision_flag_reads_integers_as_etcdctl_does() {
    // get, log and hashkv took `0x6f` for 111; dump refused it ("invalid digit").
    let tmp = tempfile::tempdir().unwrap();
    let f = common::path("k8s-0.005.snap.db", &tmp);
    for cmd in ["get", "log", "hashkv", "dump"] {
        let run = |rev: &str| {
            let mut c = common::boltscope();
            c.args(["--no-index", cmd]).arg(&f);
            if cmd == "get" || cmd == "log" {
                c.args(["/registry/", "--prefix"]);
            }
            c.args(["--rev", rev]).output().unwrap()
        };
        let (hex, dec) = (run("0x6f"), run("111"));
        assert_eq!(hex.status.code(), Some(0), "{cmd}: {}", String::from_utf8_lossy(&hex.stderr));
        assert_eq!(hex.stdout, dec.stdout, "{cmd}");
    }
}

#[test]
fn the_manual_page_lists_each_command_with_its_own_section_and_names_no_missing_page() {
    let out = common::run(["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    // One page is written: a `boltscope-status(1)` reference named a page that does not exist.
    assert!(!page.contains("(1)"), "a reference to another manual page");
    let list = &page[page.find(".SH COMMANDS\n").expect("a list of commands")..];
    let list = &list[..list[1..].find(".SH ").unwrap() + 1];
    let mut named = 0;
    for line in list.lines().filter(|l| l.starts_with("\\fB")) {
        let name = line.trim_start_matches("\\fB").trim_end_matches("\\fR");
        let section = format!(".SH \"BOLTSCOPE {}\"", name.to_uppercase());
        assert!(page.contains(&section), "{name}: no section {section}");
        named += 1;
    }
    assert!(named >= 15, "{named} commands listed");
}
