//! k3s bootstrap data in a real etcd 3.5.1 snapshot (fixtures/k3s/k3s-bootstrap-1.snap.db, made by
//! fixtures/make-k3s-fixtures.sh): the value was encrypted by a Go program with Go's crypto
//! (fixtures/k3s-bootstrap/main.go) and put with etcdctl. The value is read here from the
//! snapshot's bytes (the etcd KeyValue record in its `key` bucket), and checked against
//! etcdctl's answer.

mod common;
use base64::Engine;
use boltscope::k3s::bootstrap::{
    bootstrap_key, check, check_entries, key_for_passphrase, open, BootstrapError, EntriesCheck, KeyKind,
};
use boltscope::k3s::token::{normalise, read_token};

fn text(name: &str) -> String {
    std::fs::read_to_string(format!("fixtures/k3s/{name}")).unwrap()
}

fn token() -> String {
    read_token(&text("k3s-bootstrap-1.token")).to_string()
}

fn wrong_token() -> String {
    read_token(&text("k3s-bootstrap-1.wrong-token")).to_string()
}

/// A protobuf varint at `d[*at..]`.
fn varint(d: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = d[*at];
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    v
}

/// The value of etcd key `key` in the snapshot's bytes: its mvccpb.KeyValue record starts with
/// field 1 (key: tag 0x0a, length, bytes); field 5 (tag 0x2a) is the value.
fn value_in_snapshot(snapshot: &[u8], key: &[u8]) -> Vec<u8> {
    let mut needle = vec![0x0a, key.len() as u8];
    needle.extend_from_slice(key);
    let start = snapshot.windows(needle.len()).position(|w| w == needle).expect("key in the snapshot");
    let mut at = start;
    loop {
        let tag = varint(snapshot, &mut at);
        match (tag >> 3, tag & 7) {
            (5, 2) => {
                let len = varint(snapshot, &mut at) as usize;
                return snapshot[at..at + len].to_vec();
            }
            (_, 2) => at += varint(snapshot, &mut at) as usize,
            (_, 0) => {
                varint(snapshot, &mut at);
            }
            other => panic!("unexpected field {other:?}"),
        }
    }
}

/// (key, value) of the bootstrap entry as etcdctl returned it from the live server.
fn etcdctl_kv() -> (Vec<u8>, Vec<u8>) {
    let v: serde_json::Value = serde_json::from_str(&text("k3s-bootstrap-1.etcdctl-get.json")).unwrap();
    let b64 = |s: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap()).unwrap();
    (b64(&v["kvs"][0]["key"]), b64(&v["kvs"][0]["value"]))
}

fn snapshot_kv() -> (Vec<u8>, Vec<u8>) {
    let key = text("k3s-bootstrap-1.key").trim().as_bytes().to_vec();
    let snap = std::fs::read("fixtures/k3s/k3s-bootstrap-1.snap.db").unwrap();
    let value = value_in_snapshot(&snap, &key);
    (key, value)
}

#[test]
fn key_matches_the_go_program_and_etcd() {
    let (key, value) = snapshot_kv();
    assert_eq!(bootstrap_key(&token()).unwrap().as_bytes(), key.as_slice());
    assert_eq!(etcdctl_kv(), (key, value), "the bytes in the snapshot are what etcdctl got");
}

#[test]
fn right_token_opens_it() {
    let (_, value) = snapshot_kv();
    let plain = open(&token(), &value).unwrap();
    assert_eq!(plain, std::fs::read("fixtures/k3s/k3s-bootstrap-1.plaintext.json").unwrap());
    // The bare password (the part after `::server:`) is the same passphrase.
    let bare = token().rsplit_once(':').unwrap().1.to_string();
    assert_eq!(normalise(&bare).unwrap().passphrase(), normalise(&token()).unwrap().passphrase());
    assert_eq!(open(&bare, &value).unwrap(), plain);
}

#[test]
fn check_names_without_values() {
    let (_, value) = snapshot_kv();
    let opened = check(&token(), &value).unwrap();
    let plain: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read("fixtures/k3s/k3s-bootstrap-1.plaintext.json").unwrap()).unwrap();
    let names: Vec<String> = plain.keys().cloned().collect();
    assert_eq!(opened.names.as_deref(), Some(names.as_slice()));
    assert!(names.contains(&"ServerCAKey".to_string()) && names.len() == 15);
    assert_eq!(
        opened.plaintext_len,
        std::fs::metadata("fixtures/k3s/k3s-bootstrap-1.plaintext.json").unwrap().len() as usize
    );
    let shown = format!("{opened:?}");
    assert!(!shown.contains("FAKE") && !shown.contains("LS0t"), "no content in {shown}");
}

#[test]
fn wrong_token_fails_authentication() {
    let (_, value) = snapshot_kv();
    assert_eq!(open(&wrong_token(), &value), Err(BootstrapError::WrongToken));
    assert!(check(&wrong_token(), &value).is_err());
    // A damaged value: one base64 character changed in the ciphertext.
    let mut bad = value.clone();
    let at = bad.len() / 2;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(open(&token(), &bad), Err(BootstrapError::WrongToken));
}

#[test]
fn entries_of_a_snapshot() {
    let (key, value) = snapshot_kv();
    let other = (b"/registry/namespaces/default".as_slice(), b"{}".as_slice());
    let entries = [other, (key.as_slice(), value.as_slice())];
    match check_entries(&token(), &entries).unwrap() {
        EntriesCheck::Opened { key: k, kind, opened } => {
            assert_eq!((k.as_bytes(), kind), (key.as_slice(), KeyKind::Token));
            assert_eq!(opened.names.map(|n| n.len()), Some(15));
        }
        other => panic!("{other:?}"),
    }
    match check_entries(&wrong_token(), &entries).unwrap() {
        EntriesCheck::OtherToken { keys } => assert_eq!(keys, [String::from_utf8(key.clone()).unwrap()]),
        other => panic!("{other:?}"),
    }
    assert_eq!(check_entries(&token(), &[other]).unwrap(), EntriesCheck::NoBootstrapData);
    // The token's own key holding data it cannot open.
    let bad = [(key.as_slice(), b"00:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".as_slice())];
    assert!(matches!(
        check_entries(&token(), &bad).unwrap(),
        EntriesCheck::Failed { kind: KeyKind::Token, error: BootstrapError::WrongToken, .. }
    ));
}

#[test]
fn empty_passphrase_data() {
    let kv = text("k3s-bootstrap-empty-passphrase.kv");
    let mut lines = kv.lines();
    let (key, value) = (lines.next().unwrap(), lines.next().unwrap());
    assert_eq!(key, key_for_passphrase(""));
    let plain = std::fs::read("fixtures/k3s/k3s-bootstrap-1.plaintext.json").unwrap();
    assert_eq!(open("", value.as_bytes()).unwrap(), plain);
    // Any token finds it, through the empty-passphrase key.
    match check_entries(&wrong_token(), &[(key.as_bytes(), value.as_bytes())]).unwrap() {
        EntriesCheck::Opened { kind, .. } => assert_eq!(kind, KeyKind::EmptyPassphrase),
        other => panic!("{other:?}"),
    }
}

/// `check --k3s-token`: the gate opens the Go-encrypted bootstrap data of the real etcd snapshot
/// with the right token (from a file or standard input), and fails it with another.
#[test]
fn check_k3s_token_gates_on_the_bootstrap_data() {
    let snap = common::dir().join("k3s/k3s-bootstrap-1.snap.db");
    let key = text("k3s-bootstrap-1.key");
    let right = common::dir().join("k3s/k3s-bootstrap-1.token");
    let wrong = common::dir().join("k3s/k3s-bootstrap-1.wrong-token");
    let run = |token: &std::path::Path| {
        common::run([
            "--no-index".as_ref(),
            "check".as_ref(),
            "--k3s-token".as_ref(),
            token.as_os_str(),
            snap.as_os_str(),
        ])
    };
    let ok = run(&right);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("opens {}", key.trim())) && out.contains("15 files"), "{out}");
    let plain = text("k3s-bootstrap-1.plaintext.json");
    let first_value = plain.split('"').nth(7).unwrap_or("x");
    assert!(!out.contains(first_value), "no bootstrap content is shown");
    let bad = run(&wrong);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("encrypted with another token"), "{out}");
    // The token on standard input.
    let mut child = common::boltscope()
        .args(["--no-index", "check", "--k3s-token", "-"])
        .arg(&snap)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), token().as_bytes()).unwrap();
    drop(child.stdin.take());
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
    // A snapshot without bootstrap data fails the gate.
    let none = common::run([
        "--no-index".as_ref(),
        "check".as_ref(),
        "--k3s-token".as_ref(),
        right.as_os_str(),
        common::dir().join("tiny-1.snap.db").as_os_str(),
    ]);
    assert_eq!(none.status.code(), Some(1));
    // What is no token file (a megabyte here; `/dev/zero` has no end) is refused with its reason,
    // read no further than a token can be long.
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big");
    std::fs::write(&big, vec![b'a'; 1 << 20]).unwrap();
    let refused = run(&big);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("--k3s-token ") && err.contains("not a k3s token file"), "{err}");
    // A token k3s refuses (empty, white space only, an agent's join token) is the operator's
    // mistake like an unreadable file (exit 2), not a snapshot that fails its gate (exit 1).
    for (name, token) in [("empty", ""), ("blank", " \n"), ("join", "abcdef.0123456789abcdef\n")] {
        let p = tmp.path().join(name);
        std::fs::write(&p, token).unwrap();
        let out = run(&p);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("not a usable k3s token") && out.stdout.is_empty(), "{name}: {err}");
    }
}

/// `inspect` of a k3s-named zip beside its metadata file shows both.
#[test]
fn inspect_shows_a_k3s_snapshot_name_and_its_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(tmp.path().join(".metadata")).unwrap();
    let name = "on-demand-node-1-1700000000.zip";
    std::fs::copy(common::dir().join("archives").join(name), dir.join(name)).unwrap();
    std::fs::write(tmp.path().join(".metadata").join(name), br#"{"cluster":"prod"}"#).unwrap();
    let out = common::run([
        "--no-index".as_ref(),
        "inspect".as_ref(),
        "-w".as_ref(),
        "json".as_ref(),
        dir.join(name).as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let src = &v["source"];
    assert_eq!(src["container"], "zip");
    assert_eq!(src["entry"], "on-demand-node-1-1700000000");
    assert_eq!(src["k3s"]["node"], "node-1");
    assert_eq!(src["k3s"]["unix_seconds"], 1_700_000_000);
    assert_eq!(src["k3s"]["kind"], "on-demand");
    assert_eq!(src["k3s_metadata"]["cluster"], "prod");
    let table = common::run(["--no-index".as_ref(), "inspect".as_ref(), dir.join(name).as_os_str()]);
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(
        t.contains("source    zip entry on-demand-node-1-1700000000; k3s on-demand snapshot of node node-1"),
        "{t}"
    );
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = common::run(["--version"]);
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.starts_with("boltscope 0."), "{v}");
    // Built from a git checkout (as the tests are), the version says which commit.
    if std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".git").exists() {
        assert!(v.contains("(git "), "{v}");
    }
}

/// A metadata file that is not JSON is named in a warning, left out, and fails nothing.
#[test]
fn inspect_warns_of_k3s_metadata_that_is_not_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(tmp.path().join(".metadata")).unwrap();
    let name = "etcd-snapshot-server-0-1764547200";
    std::fs::copy(common::dir().join("trend").join(name), dir.join(name)).unwrap();
    let sidecar = tmp.path().join(".metadata").join(name);
    std::fs::write(&sidecar, br#"{"cluster": "prod","#).unwrap();
    for w in ["table", "json"] {
        let out = common::run([
            "--no-index".as_ref(),
            "inspect".as_ref(),
            "-w".as_ref(),
            w.as_ref(),
            dir.join(name).as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{w}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("warning") && err.contains(&format!(".metadata/{name}")) && err.contains("not JSON"),
            "{w}: {err}"
        );
        if w == "json" {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["source"]["k3s_metadata"], serde_json::Value::Null);
        }
    }
}

/// The token given as the option's value (k3s takes `--token VALUE`) names no file: the error
/// said so with the token in it, into CI logs.
#[test]
fn a_token_given_as_the_value_is_never_echoed() {
    let snap = common::dir().join("k3s/k3s-bootstrap-1.snap.db");
    let value = token();
    let out = common::run(["--no-index", "check", "--k3s-token", value.trim(), snap.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let password = value.trim().rsplit(':').next().unwrap();
    assert!(!err.contains(password), "{err}");
    assert!(err.contains("no such file") && err.contains("not shown"), "{err}");
}
