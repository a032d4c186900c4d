//! Secrets that applications store at their own keys, in shapes whose own kind is not Secret: a
//! List of them, a SecretList, a YAML manifest or flow mapping, JSON behind a byte-order mark, the
//! second document of a YAML stream, a merge key, an escaped kind, Secrets without their kind
//! (an array, an object, JSON lines, a YAML list), UTF-16. No command shows their data unless `--show-secrets`; values
//! that only name a Secret (an Event about one, a SecretStore, a reference) print as stored. The
//! fixture was made by a real etcd 3.5.1 (`fixtures/make-secrets-elsewhere.sh`), with the server's
//! own answer beside it.

mod common;

use base64::Engine;
use serde_json::Value;

const CANARY: &str = "CANARY5e1d";

fn file() -> std::path::PathBuf {
    common::dir().join("secrets-elsewhere/elsewhere.snap.db")
}

/// Whether output shows the canary: as text (UTF-16 read with its zero bytes taken out), or
/// inside any base64 run or gzip stream in it, to four encodings deep (a List's data is base64 in
/// the stored value, which JSON output encodes again; a Helm release is base64 of gzip, inside a
/// protobuf value that JSON output encodes again).
fn shows_canary(out: &[u8]) -> bool {
    holds_canary(out, 0)
}

fn holds_canary(b: &[u8], depth: usize) -> bool {
    holds_within(b, depth, &|t: &str| t.contains(CANARY) || t.contains("Q0FOQVJZNWUxZC"))
}

/// Whether output shows `text`, looked for as [`shows_canary`] looks.
fn shows_text(out: &[u8], text: &str) -> bool {
    holds_within(out, 0, &|t: &str| t.contains(text))
}

fn holds_within(b: &[u8], depth: usize, found: &dyn Fn(&str) -> bool) -> bool {
    let text = String::from_utf8_lossy(b).replace('\0', "");
    if found(&text) {
        return true;
    }
    if depth >= 4 {
        return false;
    }
    let gunzip = |at: usize| {
        use std::io::Read;
        let mut out = Vec::new();
        let _ = flate2::read::MultiGzDecoder::new(&b[at..]).take(64 << 20).read_to_end(&mut out);
        out
    };
    if memchr::memmem::find_iter(b, b"\x1f\x8b\x08").any(|at| holds_within(&gunzip(at), depth + 1, found)) {
        return true;
    }
    // Every run of base64's alphabet, read from each of its first four bytes (a run inside
    // binary bytes may begin with a length byte that happens to be a letter).
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    let alphabet = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=');
    b.split(|c| !alphabet(c)).filter(|run| run.len() >= 12).any(|run| {
        (0..4).any(|off| {
            let r: Vec<u8> = run[off..].iter().copied().filter(|&c| c != b'=').collect();
            let r = &r[..r.len() - r.len() % 4];
            b64.decode(r).is_ok_and(|d| holds_within(&d, depth + 1, found))
        })
    })
}

fn run(args: &[&str]) -> std::process::Output {
    let mut c = common::boltscope();
    c.arg("--no-index").arg(args[0]).arg(file()).args(&args[1..]);
    c.output().unwrap()
}

#[test]
fn no_command_shows_a_secret_stored_outside_kubernetes_keys() {
    for args in [
        &["get", "app/", "--prefix"][..],
        &["get", "app/", "--prefix", "-w", "json"],
        &["get", "app/", "--prefix", "-w", "fields"],
        &["get", "app/", "--prefix", "--decode"],
        &["get", "app/", "--prefix", "-o", "yaml"],
        &["get", "app/", "--prefix", "--print-value-only"],
        &["dump"],
        &["dump", "--all-revisions"],
        &["dump", "--decode"],
        &["log", "app/", "--prefix", "-w", "json"],
        &["log", "app/", "--prefix", "--decode"],
        // Kubernetes objects of another kind holding a Secret's manifest (review 43b).
        &["get", "/registry/", "--prefix"],
        &["get", "/registry/", "--prefix", "-w", "json"],
        &["get", "/registry/", "--prefix", "--decode"],
        &["get", "/registry/", "--prefix", "-o", "yaml"],
        &["log", "/registry/", "--prefix", "-w", "json"],
        &["dump", "--prefix", "/registry/", "--decode", "-o", "yaml"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!shows_canary(&out.stdout), "{args:?} shows a Secret: {}", String::from_utf8_lossy(&out.stdout));
        assert!(!shows_canary(&out.stderr), "{args:?}");
        // Values as stored say on stderr that some were withheld (decoded ones say it in place).
        let err = String::from_utf8_lossy(&out.stderr);
        let decoded = args.contains(&"--decode") || args.contains(&"-o");
        assert!(decoded || err.contains("--show-secrets"), "{args:?} says what was withheld: {err}");
        if decoded {
            assert!(String::from_utf8_lossy(&out.stdout).contains("redacted"), "{args:?}");
        }
        // What only names a Secret is shown, and a decoded object's other data.
        if args.contains(&"/registry/") {
            let text = String::from_utf8_lossy(&out.stdout);
            // A Helm release whose manifest holds no Secret shows, compressed as stored.
            if !decoded {
                assert!(shows_text(&out.stdout, "helm-web-visible"), "{args:?}: {text}");
            }
            if args.len() == 3 || decoded {
                assert!(text.contains("rotate the Secret db monthly"), "{args:?}: {text}");
            }
            if decoded {
                assert!(text.contains("plain-config-visible") && text.contains("ConfigMap"), "{args:?}: {text}");
            }
        }
        if args.len() == 3 && args[0] == "get" && args[1] == "app/" {
            let text = String::from_utf8_lossy(&out.stdout);
            for shown in [
                "Secret db rotated",
                "AWS SecretsManager",
                "rotated (yaml)",
                "valuesKey",
                "cfg",
                "click",
                "o-17",
                "schemaDoc",
            ] {
                assert!(text.contains(shown), "{args:?} shows {shown}: {text}");
            }
        }
    }
}

#[test]
fn with_show_secrets_the_values_are_the_servers() {
    let out = run(&["get", "app/", "--prefix", "-w", "json", "--show-secrets"]);
    assert_eq!(out.status.code(), Some(0));
    let mine: Value = serde_json::from_slice(&out.stdout).unwrap();
    let live: Value = serde_json::from_str(
        &std::fs::read_to_string(common::dir().join("secrets-elsewhere/elsewhere.live.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(mine["kvs"], live["kvs"]);
    assert_eq!(mine["count"], live["count"]);
    assert_eq!(mine["header"]["revision"], live["header"]["revision"]);
    assert!(shows_canary(&out.stdout), "the canary check finds what it looks for");
    let out = run(&["get", "/registry/", "--prefix", "-w", "json", "--show-secrets"]);
    let mine: Value = serde_json::from_slice(&out.stdout).unwrap();
    let live: Value = serde_json::from_str(
        &std::fs::read_to_string(common::dir().join("secrets-elsewhere/elsewhere.registry.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(mine["kvs"], live["kvs"]);
    assert!(shows_canary(&out.stdout));
}
