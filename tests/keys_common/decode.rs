//! The checks of `--decode` against `decode-answers.py`'s independent reading, and of the Secret
//! rule (no plaintext Secret byte in any output without `--show-secrets`).

use super::*;

/// Checks `boltscope dump --all-revisions --decode` against `decode-answers.py`'s lines for the
/// same file: per value, apiVersion, kind and ObjectMeta's name, namespace, uid,
/// creationTimestamp and labels for protobuf, the whole object for JSON. Returns how many of each
/// were compared.
pub fn check_decoded(theirs: &[Value], file: &Path) -> (usize, usize) {
    let out =
        boltscope().args(["--no-index", "dump"]).arg(file).args(["--all-revisions", "--decode"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ours: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["tombstone"] == false)
        .collect();
    assert_eq!(ours.len(), theirs.len(), "one record per value, in bucket order");
    let (mut meta, mut jsons) = (0, 0);
    for (o, t) in ours.iter().zip(theirs) {
        assert_eq!(o["key"], t["key"]);
        assert_eq!(o["mod_revision"], t["main"]);
        let obj = &o["object"];
        if let Some(m) = t.get("meta") {
            assert!(m.get("error").is_none(), "{t}");
            let what = format!("{} at {}", t["key"], t["main"]);
            assert_eq!(obj["apiVersion"], m["apiVersion"], "{what}");
            assert_eq!(obj["kind"], m["kind"], "{what}");
            let om = &obj["metadata"];
            for f in ["name", "namespace", "uid", "creationTimestamp"] {
                assert_eq!(om[f], m[f], "{what}: {f}");
            }
            let labels = if om["labels"].is_null() { json!({}) } else { om["labels"].clone() };
            assert_eq!(labels, m["labels"], "{what}: labels");
            meta += 1;
        }
        if let Some(j) = t.get("json") {
            assert_eq!(obj, j, "{} at {}", t["key"], t["main"]);
            jsons += 1;
        }
    }
    (meta, jsons)
}

/// The plaintext Secrets' data windows, and the forms they would take in an output: as bytes,
/// in base64 (at any of the three alignments), as `--hex`, and as Go's `%q` (`-w fields`). Each
/// form is a list of alternatives.
pub fn needles(answers: &[Value]) -> Vec<(String, Vec<Vec<u8>>)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::new();
    for t in answers {
        for d in t["secret_data"].as_array().into_iter().flatten() {
            let raw = b64.decode(d.as_str().unwrap()).unwrap();
            let what = format!("{} at {}", t["key"], t["main"]);
            out.push((format!("{what}: bytes"), vec![raw[8..40].to_vec()]));
            let aligned = (0..3).map(|skip| b64.encode(&raw[skip..]).as_bytes()[8..40].to_vec()).collect();
            out.push((format!("{what}: base64"), aligned));
            let hex: String = raw[8..24].iter().map(|b| format!("\\x{b:02x}")).collect();
            out.push((format!("{what}: hex"), vec![hex.into_bytes()]));
            let q = boltscope::etcd::goquote::quote(&raw[12..36]);
            out.push((format!("{what}: quoted"), vec![q.as_bytes()[8..q.len() - 8].to_vec()]));
        }
    }
    out
}

pub fn holds(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn every_output(f: &str, extra: &[&str]) -> Vec<(String, Vec<u8>)> {
    let runs: Vec<Vec<&str>> = vec![
        vec!["get", f, "", "--prefix"],
        vec!["get", f, "/registry/secrets/", "--prefix", "-w", "json"],
        vec!["get", f, "/registry/secrets/", "--prefix", "-w", "fields"],
        vec!["get", f, "/registry/secrets/", "--prefix", "-w", "protobuf"],
        vec!["get", f, "/registry/secrets/", "--prefix", "--hex"],
        vec!["get", f, "/registry/secrets/", "--prefix", "--print-value-only"],
        vec!["get", f, "/registry/secrets/", "--prefix", "--sort-by", "VALUE"],
        vec!["get", f, "/registry/secrets/", "--prefix", "--decode"],
        vec!["get", f, "/registry/secrets/", "--prefix", "-o", "yaml"],
        vec!["get", f, "/registry/secrets/", "--prefix", "--decode", "-w", "json"],
        vec!["get", f, "/registry/secrets/", "--prefix", "--decode", "-w", "fields"],
        vec!["log", f],
        vec!["log", f, "/registry/secrets/", "--prefix", "-w", "json", "--prev-kv"],
        vec!["log", f, "/registry/secrets/", "--prefix", "-w", "simple", "--prev-kv"],
        vec!["log", f, "/registry/secrets/", "--prefix", "-o", "yaml"],
        vec!["log", f, "/registry/secrets/", "--prefix", "-w", "json", "--decode"],
        vec!["dump", f],
        vec!["dump", f, "--all-revisions"],
        vec!["dump", f, "--all-revisions", "--decode"],
        vec!["dump", f, "--prefix", "/registry/secrets/", "-o", "yaml"],
    ];
    runs.into_iter()
        .map(|mut a| {
            a.extend_from_slice(extra);
            let mut args = vec!["--no-index"];
            args.extend(&a);
            let out = boltscope().args(&args).output().unwrap();
            assert!(out.status.success(), "{a:?}: {}", String::from_utf8_lossy(&out.stderr));
            let mut both = out.stdout;
            both.extend(out.stderr);
            (a.join(" "), both)
        })
        .collect()
}

/// Runs every output mode on `file` without `--show-secrets` (none may show a needle) and with it
/// (every Secret's bytes and base64 somewhere; hex and quoted forms for some Secret live now).
pub fn check_secrets_withheld(answers: &[Value], file: &Path) -> usize {
    let f = file.to_str().unwrap();
    let needles = needles(answers);
    for (cmd, out) in every_output(f, &[]) {
        for (what, forms) in &needles {
            assert!(!forms.iter().any(|n| holds(&out, n)), "`{cmd}` shows {what}");
        }
    }
    let shown = every_output(f, &["--show-secrets"]);
    let seen = |forms: &Vec<Vec<u8>>| shown.iter().any(|(_, out)| forms.iter().any(|n| holds(out, n)));
    for (what, forms) in &needles {
        if what.ends_with("bytes") || what.ends_with("base64") {
            assert!(seen(forms), "--show-secrets shows {what} somewhere");
        }
    }
    for form in ["hex", "quoted"] {
        assert!(needles.iter().any(|(w, f)| w.ends_with(form) && seen(f)), "--show-secrets shows a Secret {form}");
    }
    needles.len() / 4
}
