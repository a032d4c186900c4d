//! The replay of recorded etcdctl answers (`NAME.{get,watch,hashkv}.jsonl`, as
//! fixtures/make-key-answers.sh writes them) through boltscope, and the checks of `--decode` and
//! of the Secret rule against `decode-answers.py`'s independent reading: shared by
//! keys_answers.rs and keys_decode.rs (committed answers) and keys_interop.rs (answers made live).

#![allow(dead_code)]

use base64::Engine;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

mod decode;
#[allow(unused_imports)]
pub use decode::*;

/// One recorded etcdctl run.
pub struct Case {
    /// Its arguments after `etcdctl --endpoints=...`.
    pub args: Vec<String>,
    /// Its exit code (-2: stopped by SIGINT, for watch).
    pub code: i32,
    /// Its stderr.
    pub stderr: String,
    /// Its stdout, byte for byte.
    pub stdout: Vec<u8>,
}

/// The cases of `DIR/NAME.KIND.jsonl`.
pub fn cases(dir: &Path, fixture: &str, kind: &str) -> Vec<Case> {
    let path = dir.join(format!("{fixture}.{kind}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a case");
            Case {
                args: v["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect(),
                code: v["code"].as_i64().unwrap() as i32,
                stderr: v["stderr"].as_str().unwrap().to_string(),
                stdout: base64::engine::general_purpose::STANDARD.decode(v["stdout_b64"].as_str().unwrap()).unwrap(),
            }
        })
        .collect()
}

/// The boltscope binary of this test build.
pub fn boltscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_boltscope"))
}

/// etcdctl's exit codes in boltscope's policy: usage errors (128 bad args, 4 bad feature) are 2.
pub fn our_code(etcdctl: i32) -> i32 {
    match etcdctl {
        128 | 4 => 2,
        c => c,
    }
}

/// The last line of stderr: etcdctl's `Error: ...` (its client's JSON log line before it is not
/// reproducible: a timestamp and a pointer).
pub fn last_line(s: &str) -> &str {
    s.trim_end().lines().last().unwrap_or("")
}

/// The last line of boltscope's stderr that is not one of its own notes (`boltscope: ...`, e.g.
/// that arguments etcdctl ignores were ignored): what stands for etcdctl's last line.
pub fn our_last_line(s: &str) -> &str {
    s.trim_end().lines().rev().find(|l| !l.starts_with("boltscope: ")).unwrap_or("")
}

/// When etcdctl refused a flag's value (its flag parser: exit 1, the usage on stdout, then
/// `Error: invalid argument "V" for "--flag" flag: WHY`): the flag and Go's WHY.
pub fn flag_error(c: &Case) -> Option<(String, String)> {
    let line = last_line(&c.stderr).strip_prefix("Error: invalid argument ")?;
    let (_, rest) = line.split_once(" for \"")?;
    let (flag, why) = rest.split_once("\" flag: ")?;
    Some((flag.to_string(), why.to_string()))
}

/// boltscope refuses the same value as a command-line error: exit 2, naming the flag, with Go's
/// reason.
pub fn assert_flag_refused(out: &Output, flag: &str, why: &str, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(out.stdout.is_empty(), "{what}: nothing on stdout");
    assert!(err.contains(&format!("'{flag}")) && err.contains(why), "{what}: {err}");
}

/// An integer as Go's `strconv.ParseInt(s, 0, 64)` reads it, for values etcdctl accepted: a
/// sign, a base prefix (or a leading 0 for octal), `_` separators.
pub fn go_int(s: &str) -> i64 {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = s.replace('_', "");
    let low = s.to_ascii_lowercase();
    let (base, digits) = match low.as_bytes() {
        [b'0', b'x', ..] => (16, &low[2..]),
        [b'0', b'o', ..] => (8, &low[2..]),
        [b'0', b'b', ..] => (2, &low[2..]),
        [b'0', _, ..] => (8, &low[1..]),
        _ => (10, low.as_str()),
    };
    let n = i64::from_str_radix(digits, base).unwrap();
    if neg {
        -n
    } else {
        n
    }
}

/// `boltscope [--index IX | --no-index] CMD FILE ARGS... --show-secrets` (etcdctl shows Secrets).
pub fn run(index: Option<&Path>, cmd: &str, file: &Path, args: &[String]) -> Output {
    let mut c = boltscope();
    match index {
        Some(ix) => c.arg("--index").arg(ix),
        None => c.arg("--no-index"),
    };
    c.arg(cmd).arg(file).args(args).arg("--show-secrets").output().expect("run boltscope")
}

/// Replays every `get` case, without an index and through `index` (the first run builds it):
/// stdout byte for byte, exit code, last stderr line. Returns the number of runs.
pub fn replay_get(dir: &Path, fixture: &str, file: &Path, index: &Path) -> usize {
    let mut total = 0;
    for c in cases(dir, fixture, "get") {
        for ix in [None, Some(index)] {
            let out = run(ix, "get", file, &c.args[1..]);
            let what = format!("{fixture}: etcdctl {:?} (index: {})", c.args, ix.is_some());
            if let Some((flag, why)) = flag_error(&c) {
                assert_flag_refused(&out, &flag, &why, &what);
                total += 1;
                continue;
            }
            assert_eq!(out.stdout, c.stdout, "{what}: stdout\n{}", String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.status.code(), Some(our_code(c.code)), "{what}: exit code");
            assert_eq!(our_last_line(&String::from_utf8_lossy(&out.stderr)), last_line(&c.stderr), "{what}: stderr");
            total += 1;
        }
    }
    total
}

/// The events of a recorded `etcdctl watch -w json` output, as `log -w json` writes them, and
/// whether the server canceled the watch.
pub fn watch_events(stdout: &[u8]) -> (Vec<Value>, bool) {
    let mut events = Vec::new();
    let mut canceled = false;
    for line in String::from_utf8_lossy(stdout).lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        canceled |= r["Canceled"] == true;
        // A watch canceled at its creation answers `"Events":null`.
        for e in r["Events"].as_array().into_iter().flatten() {
            let kind = if e["type"] == 1 { "DELETE" } else { "PUT" };
            let mut ev = json!({"type": kind, "kv": e["kv"]});
            if let Some(p) = e.get("prev_kv") {
                ev["prev_kv"] = p.clone();
            }
            events.push(ev);
        }
    }
    (events, canceled)
}

/// Why the server canceled a recorded watch (etcdctl's `watch was canceled (REASON)` line).
pub fn cancel_reason(stderr: &str) -> Option<&str> {
    stderr.lines().find_map(|l| l.strip_prefix("watch was canceled (")?.strip_suffix(')'))
}

/// Replays every `watch -w json|simple` case as `log` with the same arguments (log reads them as
/// etcdctl watch does): returns (runs, runs with events).
pub fn replay_watch(dir: &Path, fixture: &str, file: &Path, index: &Path) -> (usize, usize) {
    let (mut checked, mut with_events) = (0, 0);
    for c in cases(dir, fixture, "watch") {
        let a = &c.args;
        let fmt = a.iter().position(|x| x == "-w").map(|i| a[i + 1].clone()).unwrap();
        if fmt != "json" && fmt != "simple" {
            continue;
        }
        for ix in [None, Some(index)] {
            let out = run(ix, "log", file, &a[1..]);
            let what = format!("{fixture}: etcdctl {a:?} (index: {})", ix.is_some());
            let err = String::from_utf8_lossy(&out.stderr);
            checked += 1;
            if let Some((flag, why)) = flag_error(&c) {
                assert_flag_refused(&out, &flag, &why, &what);
                continue;
            }
            if c.code == 128 {
                // etcdctl refused the command line: log gives its message, exit 2.
                assert_eq!(out.status.code(), Some(2), "{what}: {err}");
                assert_eq!(our_last_line(&err), last_line(&c.stderr), "{what}");
                continue;
            }
            if let Some(reason) = cancel_reason(&c.stderr) {
                // The server canceled the watch; log refuses with its reason, exit 1.
                assert_eq!(out.status.code(), Some(1), "{what}: {err}");
                assert!(out.stdout.is_empty(), "{what}");
                assert_eq!(our_last_line(&err), format!("Error: {reason}"), "{what}");
                continue;
            }
            assert_eq!(c.code, -2, "{what}: etcdctl watched until stopped");
            if c.stdout.is_empty() && out.status.code() == Some(1) {
                // Past the head, watch waits for writes that never come; log says why it has none.
                assert_eq!(our_last_line(&err), "Error: etcdserver: mvcc: required revision is a future revision");
                continue;
            }
            assert_eq!(out.status.code(), Some(0), "{what}: {err}");
            if fmt == "simple" {
                assert_eq!(out.stdout, c.stdout, "{what}\n{err}");
            } else {
                let got: Vec<Value> =
                    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                let (events, _) = watch_events(&c.stdout);
                assert_eq!(got, events, "{what}\n{err}");
                with_events += usize::from(!got.is_empty());
            }
        }
    }
    (checked, with_events)
}

/// Replays every `endpoint hashkv` case: the hash, compact and hash revisions where the server
/// answered; the same refusal where it refused (but for R equal to the compaction, which
/// etcdutl 3.6, whose output `hashkv` follows, hashes). Returns the number of hashes compared.
pub fn replay_hashkv(dir: &Path, fixture: &str, file: &Path) -> usize {
    let server: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{fixture}.server.json"))).unwrap()).unwrap();
    // The store's compaction: the finished one, or the scheduled one a store opened on the file
    // resumes (a snapshot taken while etcd was compacting).
    let meta = &server["file_meta"];
    let compacted = meta["finishedCompactRev"].as_i64().unwrap().max(meta["scheduledCompactRev"].as_i64().unwrap());
    let f = file.to_str().unwrap();
    let mut equal = 0;
    for c in cases(dir, fixture, "hashkv") {
        let a = &c.args;
        let rev = a.iter().position(|x| x == "--rev").map_or("0".to_string(), |i| a[i + 1].clone());
        let fmt = a.iter().position(|x| x == "-w").map(|i| a[i + 1].clone()).unwrap();
        let what = format!("{fixture}: etcdctl {a:?}");
        if fmt == "protobuf" {
            let p = boltscope().args(["--no-index", "hashkv", "-w", "protobuf", f]).output().unwrap();
            assert_eq!(p.status.code(), Some(2), "{what}");
            assert_eq!(last_line(&String::from_utf8_lossy(&p.stderr)), last_line(&c.stderr), "{what}");
            continue;
        }
        let out = boltscope().args(["--no-index", "hashkv", "-w", "json", "--rev", &rev, f]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        if let Some((flag, why)) = flag_error(&c) {
            assert_flag_refused(&out, &flag, &why, &what);
            continue;
        }
        if c.code != 0 {
            let r = go_int(&rev);
            if r == compacted && compacted > 0 {
                assert_eq!(out.status.code(), Some(0), "{what}: {err}");
                continue;
            }
            assert_eq!(out.status.code(), Some(1), "{what}");
            // etcdutl's message is the server's without its `etcdserver: ` prefix.
            assert_eq!(last_line(&err), last_line(&c.stderr).replace("etcdserver: ", ""), "{what}");
            continue;
        }
        if fmt != "json" {
            continue;
        }
        let theirs: Value = serde_json::from_slice(&c.stdout).unwrap();
        let theirs = &theirs[0]["HashKV"];
        let ours: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{what}: {err}"));
        assert_eq!(ours["hash"], theirs["hash"], "{what}");
        assert_eq!(ours["compactRevision"], theirs.get("compact_revision").cloned().unwrap_or(json!(0)), "{what}");
        let head = theirs["header"]["revision"].as_i64().unwrap();
        let asked = go_int(&rev);
        assert_eq!(ours["hashRevision"], if asked == 0 { head } else { asked }, "{what}");
        equal += 1;
    }
    equal
}
