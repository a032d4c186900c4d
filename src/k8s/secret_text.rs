//! What a value's text says of its kind when no decoder reads it as a Kubernetes object: JSON cut
//! short, YAML (a manifest, a `kubectl get -o yaml`), JSON behind a byte-order mark, and objects
//! that carry Secrets inside them (a `List` from `kubectl get secrets -o json`, a `SecretList`). Used by
//! [`super::secret::holds_plaintext`], which withholds such values whole.

use serde_json::Value;

/// How deep [`holds_secret_object`] looks into nested JSON (Kubernetes' own nesting limit is
/// lower than the decoders').
const MAX_DEPTH: usize = 64;

/// Whether JSON text that does not parse has a `"kind"` field whose string value is `Secret`,
/// read with its escapes, or is cut inside a value that could still become `Secret`.
pub(super) fn names_kind_secret(value: &[u8]) -> bool {
    memchr::memmem::find_iter(value, b"\"kind\"").any(|at| {
        let rest = &value[at + 6..];
        let rest = &rest[skip_space(rest)..];
        let Some(rest) = rest.strip_prefix(b":") else { return false };
        let rest = &rest[skip_space(rest)..];
        if rest.first() != Some(&b'"') {
            return false;
        }
        // The string ends at the first quote not escaped (escapes are two bytes, or six).
        let mut i = 1;
        while i < rest.len() && rest[i] != b'"' {
            i += if rest[i] == b'\\' { 2 } else { 1 };
        }
        match rest.get(..=i) {
            Some(quoted) if i < rest.len() => {
                serde_json::from_slice::<String>(quoted).is_ok_and(|k| k == "Secret" || k == "SecretList")
            }
            // Cut inside the value: what is there may still be the start of `Secret`.
            _ => {
                let cut = rest.get(1..).unwrap_or_default();
                let cut = &cut[..cut.iter().position(|&c| c == b'\\').unwrap_or(cut.len())];
                b"SecretList".starts_with(cut)
            }
        }
    })
}

/// Whether a value in no encoding a decoder reads (text) holds a Secret: JSON behind a byte-order
/// mark or an array of objects, parsed, by its kind and what it holds ([`holds_secret_object`]);
/// text that does not parse (JSON cut short or damaged) whose `"kind"` says Secret; YAML
/// ([`yaml_holds_secret`]).
pub(super) fn text_holds_secret(value: &[u8]) -> bool {
    let body = value.strip_prefix(b"\xef\xbb\xbf").unwrap_or(value);
    let body = &body[skip_space(body)..];
    if matches!(body.first(), Some(b'{' | b'[')) {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            let kind = v.get("kind").and_then(Value::as_str);
            return matches!(kind, Some("Secret" | "SecretList")) || holds_secret_object(&v);
        }
    }
    names_kind_secret(value) || yaml_holds_secret(value)
}

/// Whether YAML text holds a Secret: a block mapping with `kind: Secret` (maybe quoted, tagged or
/// anchored) and a `data` or `stringData` key at the same indentation in the same document, any
/// `kind: SecretList`, or a flow mapping (`{kind: Secret, ...}`) with data after its brace. A
/// mapping that only names a Secret (an Event's `involvedObject`, a reference in a HelmRelease's
/// `valuesFrom`, a line of prose) is not one.
pub(super) fn yaml_holds_secret(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let text = text.trim_start_matches('\u{feff}');
    text.split("\n---").any(|doc| {
        let lines: Vec<(usize, &str)> = doc.lines().map(block_key).collect();
        let mut kinds = lines.iter().filter_map(|&(col, rest)| Some((col, kind_value(rest.strip_prefix("kind")?)?)));
        kinds.any(|(col, kind)| {
            kind == "SecretList"
                || lines.iter().any(|&(c, rest)| c == col && ["data", "stringData"].iter().any(|k| is_key(rest, k)))
        }) || doc.lines().any(flow_holds_secret)
    })
}

/// A line's key column and what follows it: list dashes count as indentation (`- kind: x` is
/// `kind` at the dash's column plus two); a quote before the key is taken off.
fn block_key(line: &str) -> (usize, &str) {
    let line = line.trim_end_matches('\r');
    let mut col = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[col..];
    while let Some(r) = rest.strip_prefix("- ") {
        let more = r.len() - r.trim_start_matches(' ').len();
        col += 2 + more;
        rest = &r[more..];
    }
    (col, rest.strip_prefix('"').or_else(|| rest.strip_prefix('\'')).unwrap_or(rest))
}

/// Whether `rest` (a key, maybe closing its quote) is the key `k` followed by its colon.
fn is_key(rest: &str, k: &str) -> bool {
    rest.strip_prefix(k).is_some_and(|r| {
        let r = r.strip_prefix('"').or_else(|| r.strip_prefix('\'')).unwrap_or(r);
        r.trim_start().starts_with(':')
    })
}

/// After `kind`: the kind named, when it is `Secret` or `SecretList` (a tag or an anchor before it
/// skipped, quotes and a comment after it taken off).
fn kind_value(after: &str) -> Option<&'static str> {
    let after = after.strip_prefix('"').or_else(|| after.strip_prefix('\'')).unwrap_or(after);
    let mut v = after.trim_start().strip_prefix(':')?.trim_start();
    while v.starts_with('!') || v.starts_with('&') {
        v = v.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    let v = v.split(" #").next().unwrap_or("").trim().trim_matches(|c| c == '"' || c == '\'');
    ["Secret", "SecretList"].into_iter().find(|k| *k == v)
}

/// Whether a line holds a flow mapping naming kind Secret (or SecretList) with data after its
/// brace (`{kind: Secret, stringData: {pw: x}}`).
fn flow_holds_secret(line: &str) -> bool {
    line.match_indices('{').any(|(at, _)| {
        let m = &line[at + 1..];
        let field = |k: usize| m[k + 4..].split([',', '}']).next().unwrap_or("");
        let kind = m.match_indices("kind").map(|(k, _)| kind_value(field(k))).find(Option::is_some).flatten();
        kind == Some("SecretList") || kind.is_some() && (m.contains("data") || m.contains("Data"))
    })
}

/// Whether a parsed object holds, anywhere inside it, an object of kind `Secret` with `data` or
/// `stringData` (the items of a List of Secrets; a Secret embedded in another object). An object
/// that only names a Secret (an Event about one, a reference to one) holds none.
pub(super) fn holds_secret_object(v: &Value) -> bool {
    fn walk(v: &Value, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            // Deeper than any object Kubernetes writes: not shown as it is.
            return true;
        }
        match v {
            Value::Object(m) => {
                let has = |k: &str| m.get(k).is_some_and(|d| !d.is_null());
                let secret = match m.get("kind").and_then(Value::as_str) {
                    Some("Secret") => has("data") || has("stringData"),
                    Some("SecretList") => true,
                    _ => false,
                };
                secret || m.values().any(|x| walk(x, depth + 1))
            }
            Value::Array(a) => a.iter().any(|x| walk(x, depth + 1)),
            _ => false,
        }
    }
    walk(v, 0)
}

fn skip_space(b: &[u8]) -> usize {
    b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_secrets_are_told_from_yaml_that_names_one() {
        for yes in [
            "apiVersion: v1\nkind: Secret\ndata:\n  pw: aHVudGVyMg==\n",
            "items:\n- kind: \"Secret\"\n  data: {}\n",
            "{kind: Secret, stringData: {pw: x}}",
            "\u{feff}kind: 'Secret' # a comment\r\nstringData:\r\n  a: b\r\n",
            "kind: !!str Secret\ndata:\n  a: b\n",
            "kind: &k Secret\n\"stringData\": {a: b}\n",
            "---\nkind: ConfigMap\n---\ndata:\n  a: b\nkind: Secret\n",
            "kind: SecretList\nitems: []\n",
            "- - kind: Secret\n    data: {a: b}\n",
        ] {
            assert!(yaml_holds_secret(yes.as_bytes()), "{yes}");
        }
        for no in [
            "kind: SecretStore\ndata: {}\n",
            "kind: Event\ninvolvedObject:\n  kind: Secret\n  name: db\nmessage: rotated\n",
            "spec:\n  valuesFrom:\n  - kind: Secret\n    name: db\n    valuesKey: values.yaml\n",
            "# Docs\nUse `kind: Secret` with data: for passwords.\n",
            "kind: ConfigMap\ndata:\n  note: kind: Secret\n",
            "---\nkind: Secret\n---\ndata:\n  a: b\n",
            "{kind: Secret, name: db}",
        ] {
            assert!(!yaml_holds_secret(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn secrets_inside_objects_are_found_and_references_to_them_are_not() {
        let list: Value = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"List","items":[{"kind":"ConfigMap","data":{}},{"kind":"Secret","data":{"pw":"aHVudGVyMg=="}}]}"#,
        )
        .unwrap();
        assert!(holds_secret_object(&list));
        let event: Value =
            serde_json::from_str(r#"{"kind":"Event","involvedObject":{"kind":"Secret","name":"db"}}"#).unwrap();
        assert!(!holds_secret_object(&event));
        let mut deep = serde_json::json!(1);
        for _ in 0..100 {
            deep = serde_json::json!([deep]);
        }
        assert!(holds_secret_object(&deep), "past any depth Kubernetes writes");
    }
}
