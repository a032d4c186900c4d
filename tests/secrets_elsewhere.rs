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

/// Whether output shows the canary: as text, or inside any base64 in it, once or twice encoded
/// (a List's data is base64 in the stored value, which JSON output encodes again).
fn shows_canary(out: &[u8]) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = String::from_utf8_lossy(out);
    let decoded = |s: &str| b64.decode(s.trim()).ok().map(|d| String::from_utf8_lossy(&d).into_owned());
    // UTF-16 text read with its zero bytes taken out.
    let holds = |s: &str| {
        let s = s.replace('\0', "");
        s.contains(CANARY) || s.contains("Q0FOQVJZNWUxZC")
    };
    holds(&text)
        || text
            .split(['"', '\n', ' '])
            .filter_map(decoded)
            .any(|d| holds(&d) || d.split(['"', '\n', ' ']).filter_map(decoded).any(|dd| holds(&dd)))
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
