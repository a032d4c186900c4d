//! What a value's text says of its kind when no decoder reads it as a Kubernetes object: JSON cut
//! short, YAML (a manifest, a `kubectl get -o yaml`), JSON behind a byte-order mark, and objects
//! that carry Secrets inside them (a `List` from `kubectl get secrets -o json`). Used by
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
            Some(quoted) if i < rest.len() => serde_json::from_slice::<String>(quoted).is_ok_and(|k| k == "Secret"),
            // Cut inside the value: what is there may still be the start of `Secret`.
            _ => {
                let cut = rest.get(1..).unwrap_or_default();
                let cut = &cut[..cut.iter().position(|&c| c == b'\\').unwrap_or(cut.len())];
                b"Secret".starts_with(cut)
            }
        }
    })
}

/// Whether text names kind `Secret` as YAML or JSON write it: `kind`, maybe quoted, a colon,
/// then `Secret`, maybe quoted, ending there (`kind: Secret`, `- kind: "Secret"`, `{kind: Secret,`,
/// `"kind":"Secret"`; not `kind: SecretStore`).
pub(super) fn text_names_kind_secret(value: &[u8]) -> bool {
    memchr::memmem::find_iter(value, b"kind").any(|at| {
        let rest = &value[at + 4..];
        let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
        let rest = &rest[skip_space(rest)..];
        let Some(rest) = rest.strip_prefix(b":") else { return false };
        let rest = &rest[skip_space(rest)..];
        let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
        rest.strip_prefix(b"Secret")
            .is_some_and(|end| !end.first().is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_'))
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
                let secret = m.get("kind").and_then(Value::as_str) == Some("Secret")
                    && (m.contains_key("data") || m.contains_key("stringData"));
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
    fn yaml_and_json_forms_of_kind_secret_are_read_and_other_kinds_are_not() {
        for yes in [
            &b"apiVersion: v1\nkind: Secret\ndata:\n  pw: aHVudGVyMg==\n"[..],
            b"items:\n- kind: \"Secret\"\n  data: {}\n",
            b"{kind: Secret, data: {pw: x}}",
            b"\xef\xbb\xbf{\"kind\" : \"Secret\"}",
            b"kind: 'Secret' # a comment",
            b"kind:Secret",
        ] {
            assert!(text_names_kind_secret(yes), "{}", String::from_utf8_lossy(yes));
        }
        for no in [
            &b"kind: SecretStore\n"[..],
            b"kind: ConfigMap\n# about a Secret\n",
            b"the kind of Secret we keep",
            b"kind: Secrets",
            b"kind",
        ] {
            assert!(!text_names_kind_secret(no), "{}", String::from_utf8_lossy(no));
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
