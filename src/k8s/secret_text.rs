//! What a value's text says of its kind when no decoder reads it as a Kubernetes object: JSON cut
//! short, YAML ([`super::secret_yaml`]), JSON behind a byte-order mark, and objects
//! that carry Secrets inside them (a `List` from `kubectl get secrets -o json`, a `SecretList`). Used by
//! [`super::secret::holds_plaintext`], which withholds such values whole.

use super::secret_parsed::parsed_yaml_holds_secret;
use super::secret_yaml::yaml_holds_secret;
use serde_json::Value;

/// How deep [`holds_secret_object`] looks into nested JSON (Kubernetes' own nesting limit is
/// lower than the decoders').
const MAX_DEPTH: usize = 64;

/// The longest text [`text_holds_secret`] reads through (etcd's default request limit is 1.5 MiB).
const MAX_TEXT: usize = 4 << 20;

/// Whether a kind is one whose objects hold Secrets' data: `Secret`, or `SecretList` (what the API
/// server returns for a list of them; its items carry no kind).
pub(super) fn holds_secrets(kind: &[u8]) -> bool {
    kind == b"Secret" || kind == b"SecretList"
}

/// What follows each `"kind":` of JSON text (whitespace around the colon skipped), as far as
/// the text goes: where its value begins.
fn kind_values(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    memchr::memmem::find_iter(value, b"\"kind\"").filter_map(|at| {
        let rest = &value[at + 6..];
        let rest = rest[skip_space(rest)..].strip_prefix(b":")?;
        Some(&rest[skip_space(rest)..])
    })
}

/// Whether JSON text that does not parse has a `"kind"` field whose string value is `Secret`,
/// read with its escapes, or is cut inside a value that could still become `Secret`.
pub(super) fn names_kind_secret(value: &[u8]) -> bool {
    kind_values(value).any(|rest| {
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
                serde_json::from_slice::<String>(quoted).is_ok_and(|k| holds_secrets(k.as_bytes()))
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

/// Whether JSON text that does not parse has a `"kind"` field whose string value reads whole and
/// names no Secret (`"kind":"ConfigMap"`): an object of another kind, cut or damaged elsewhere.
pub(super) fn names_another_kind(value: &[u8]) -> bool {
    kind_values(value).any(|rest| {
        let Some(rest) = rest.strip_prefix(b"\"") else { return false };
        let end = rest.iter().position(|&c| c == b'"' || c == b'\\').unwrap_or(rest.len());
        let word = &rest[..end];
        rest.get(end) == Some(&b'"')
            && !word.is_empty()
            && word.iter().all(u8::is_ascii_alphanumeric)
            && !holds_secrets(word)
    })
}

/// Whether a value in no encoding a decoder reads (text) holds a Secret: JSON behind a byte-order
/// mark or an array of objects, parsed, by its kind and what it holds ([`holds_secret_object`]);
/// text that does not parse (JSON cut short or damaged) whose `"kind"` says Secret; YAML
/// ([`yaml_holds_secret`]), and YAML as a parser reads it ([`parsed_yaml_holds_secret`]).
pub(super) fn text_holds_secret(value: &[u8]) -> bool {
    // Past any object an API server or kubectl writes: not read through, withheld.
    if value.len() > MAX_TEXT {
        return true;
    }
    // UTF-16 behind its byte-order mark (what Windows PowerShell 5.1's `>` writes), read as text.
    if let Some(text) = utf16(value) {
        return text_holds_secret(text.as_bytes());
    }
    let body = value.strip_prefix(b"\xef\xbb\xbf").unwrap_or(value);
    let body = &body[skip_space(body)..];
    if matches!(body.first(), Some(b'{' | b'[')) {
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            return json_holds_secret(&v);
        }
        if json_stream_holds_secret(body) || cut_array_holds_secret(body) {
            return true;
        }
    }
    names_kind_secret(value) || yaml_holds_secret(value) || {
        let text = String::from_utf8_lossy(value);
        parsed_yaml_holds_secret(text.trim_start_matches('\u{feff}'))
    }
}

/// Text in UTF-16 behind its byte-order mark (little- or big-endian), decoded; `None` for any
/// other bytes (a unit that is no character is read as U+FFFD).
fn utf16(value: &[u8]) -> Option<String> {
    let (le, body) = match value {
        [0xff, 0xfe, rest @ ..] => (true, rest),
        [0xfe, 0xff, rest @ ..] => (false, rest),
        _ => return None,
    };
    let units =
        body.chunks_exact(2)
            .map(|c| if le { u16::from_le_bytes([c[0], c[1]]) } else { u16::from_be_bytes([c[0], c[1]]) });
    Some(char::decode_utf16(units).map(|c| c.unwrap_or('\u{fffd}')).collect())
}

/// Whether parsed JSON holds a Secret: it is one with data, or holds one ([`holds_secret_object`]),
/// or Secrets without their kind ([`kindless_secret`]). A Secret's manifest without data (a
/// ServiceAccount token's, a patch of its labels) holds nothing secret (review 40a).
pub(super) fn json_holds_secret(v: &Value) -> bool {
    holds_secret_object(v) || kindless_secret(v)
}

/// Whether JSON values one after another (JSON lines, `jq`'s output of several values; read up
/// to the first that does not parse) hold a Secret, as [`json_holds_secret`] tells.
pub(super) fn json_stream_holds_secret(text: &[u8]) -> bool {
    serde_json::Deserializer::from_slice(text).into_iter::<Value>().map_while(Result::ok).any(|v| json_holds_secret(&v))
}

/// Whether parsed JSON is a Secret without its kind ([`secret_shaped`]: how a Go program's
/// `json.Marshal` of a typed Secret writes it, client-go leaving its kind empty), or holds one as
/// an item of itself (an array: `jq .items`) or of its `items` (a List, `{"items": [...]}`).
pub(super) fn kindless_secret(v: &Value) -> bool {
    // Arrays in arrays too (`[[...]]`: `jq -s` of `jq .items` outputs), as deep as the decoders nest.
    fn listed(v: &Value, depth: usize) -> bool {
        secret_shaped(v) || depth < MAX_DEPTH && v.as_array().is_some_and(|a| a.iter().any(|x| listed(x, depth + 1)))
    }
    // A List's `items`, or a Go struct's `Secrets []corev1.Secret` field.
    let under = |k: &str| v.get(k).and_then(Value::as_array).is_some_and(|a| a.iter().any(|x| listed(x, 1)));
    listed(v, 0) || under("items") || under("secrets")
}

/// Whether a JSON array cut short (or damaged after some items) holds a Secret among the items
/// that read whole before the cut, as [`json_holds_secret`] tells of each.
fn cut_array_holds_secret(body: &[u8]) -> bool {
    let Some(mut rest) = body.strip_prefix(b"[") else { return false };
    loop {
        rest = &rest[skip_space(rest)..];
        let mut items = serde_json::Deserializer::from_slice(rest).into_iter::<Value>();
        match items.next() {
            Some(Ok(v)) if json_holds_secret(&v) => return true,
            Some(Ok(_)) => {}
            _ => return false,
        }
        rest = &rest[items.byte_offset()..];
        rest = &rest[skip_space(rest)..];
        match rest.strip_prefix(b",") {
            Some(r) => rest = r,
            None => return false,
        }
    }
}

/// Whether bytes have the fields of a Secret without its kind: `metadata`, `type`, and `data` or
/// `stringData` as words of their own (`data` inside `metadata` does not count: every object
/// with a `metadata` and a condition's `type` was parsed for nothing), so that
/// [`kindless_secret`] is asked.
pub(super) fn shaped_like_secret(value: &[u8]) -> bool {
    has(value, b"metadata") && has(value, b"type") && (word(value, b"data") || word(value, b"stringData"))
}

/// Whether `needle` occurs in `hay`: `memchr`'s vectorised substring search for a long `hay`;
/// for a short one (a key: every key of a dump is asked), the places of the needle's first byte,
/// then the rest compared, which cost less than setting that search up (it was a thirteenth of
/// `dump`'s time).
pub(super) fn has(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    if hay.len() >= 256 {
        return memchr::memmem::find(hay, needle).is_some();
    }
    memchr::memchr_iter(first, hay).any(|i| hay.get(i + 1..i + 1 + rest.len()) == Some(rest))
}

/// Whether `w` occurs in `hay` with no letter or digit just before it (a key of its own, quoted
/// or not, not the end of a longer name).
fn word(hay: &[u8], w: &[u8]) -> bool {
    memchr::memmem::find_iter(hay, w).any(|i| i == 0 || !hay[i - 1].is_ascii_alphanumeric())
}

/// Whether text (in no encoding a decoder reads) may hold a Secret, so that
/// [`text_holds_secret`] must read it: it names `Secret`, or may spell it with escapes (JSON's
/// `\u0053`, YAML's `\x53` and `\U00000053`), or has the fields of a Secret without its kind (a
/// list's items as the API server writes them, `jq .items` of a SecretList), or is UTF-16.
pub(super) fn may_hold_secret(value: &[u8]) -> bool {
    let utf16 = matches!(value, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]);
    // Every value of a dump is asked: one pass for the escapes' backslash, not one a form.
    let escaped = || memchr::memchr_iter(b'\\', value).any(|i| matches!(value.get(i + 1), Some(b'u' | b'x' | b'U')));
    // Base64 of gzip inside (a JSON array or YAML holding a Helm release: its strings are read).
    utf16
        || has(value, b"Secret")
        || escaped()
        || shaped_like_secret(value)
        || has(value, super::secret_gzip::GZIP_BASE64)
}

/// Whether a parsed object is a Secret without its kind, as a SecretList's items are written:
/// no `kind` (or a null one), a `metadata` object with a `name`, a `type` string, and data
/// ([`holds_data`]; a ConfigMap has no `type`; an application's event `{"type", "data",
/// "metadata"}` no name).
fn secret_shaped(v: &Value) -> bool {
    let Some(m) = v.as_object() else { return false };
    // No kind, or a null one (the Python client's `to_dict()` of a list's items).
    m.get("kind").map_or(true, Value::is_null)
        && m.get("metadata").and_then(Value::as_object).is_some_and(|md| md.contains_key("name"))
        && m.get("type").is_some_and(Value::is_string)
        && holds_data(m, false)
}

/// Whether an object has a Secret's data, not null: `data`, `stringData` or the Python client's
/// `string_data` (its `to_dict()`); in an object whose kind says Secret (`any_spelling`), also as
/// other client libraries spell them (`Data` in Go's or .NET's field names) and `binaryData`
/// (which Kubernetes ignores in a Secret, but which holds bytes). Without a kind, those spellings
/// are too common elsewhere (a CloudEvent's `Data`, a ConfigMap-like `binaryData`: review 40c).
fn holds_data(m: &serde_json::Map<String, Value>, any_spelling: bool) -> bool {
    m.iter().any(|(k, v)| {
        let named = match k.as_str() {
            "data" | "stringData" | "string_data" => true,
            _ if any_spelling => {
                let k: String = k.chars().filter(|c| !matches!(c, '_' | '-')).flat_map(char::to_lowercase).collect();
                matches!(k.as_str(), "data" | "stringdata" | "binarydata")
            }
            _ => false,
        };
        named && !v.is_null()
    })
}

/// Whether a parsed object holds, anywhere inside it, an object of kind `Secret` with `data` or
/// `stringData` (the items of a List of Secrets; a Secret embedded in another object). An object
/// that only names a Secret (an Event about one, a reference to one) holds none.
pub(super) fn holds_secret_object(v: &Value) -> bool {
    fn walk(v: &Value, depth: usize, schema: bool) -> bool {
        if depth > MAX_DEPTH {
            // Deeper than any object Kubernetes writes: not shown as it is.
            return true;
        }
        match v {
            Value::Object(m) => {
                let secret = match m.get("kind").and_then(Value::as_str) {
                    Some("Secret") => holds_data(m, true),
                    Some("SecretList") => true,
                    _ => false,
                };
                // A map key can hold one too (an annotation's name, review 43d).
                let key = |k: &str| {
                    super::secret_manifest::may_hold(k.as_bytes())
                        && super::secret_manifest::text_holds_manifest(k.as_bytes())
                };
                secret
                    || m.iter().any(|(k, x)| {
                        // Inside a JSON schema (a CRD's openAPIV3Schema), a field's description is
                        // prose documenting it, an example manifest too (review 43c); anywhere else
                        // (a ConfigMap's data with keys `type` and `description`) it is data.
                        let within = match k.as_str() {
                            "openAPIV3Schema" | "properties" | "items" | "additionalProperties" => true,
                            "data" | "stringData" | "binaryData" => false,
                            _ => schema,
                        };
                        key(k) || !(schema && k == "description" && x.is_string()) && walk(x, depth + 1, within)
                    })
            }
            Value::Array(a) => a.iter().any(|x| walk(x, depth + 1, schema)),
            // A manifest kept as a string (a ConfigMap's data, a field of a configuration), at
            // any depth (review 43b: one four levels down, an Argo CD Application's Helm values,
            // printed).
            // Base64 of one, UTF-16 and escapes too: one rule for these strings and a protobuf
            // object's (review 43d: base64 in a JSON ConfigMap's binaryData printed).
            Value::String(t)
                if super::secret_manifest::may_hold(t.as_bytes())
                    || super::secret_manifest::names_in_base64(t.as_bytes()) =>
            {
                super::secret_manifest::text_holds_manifest(t.as_bytes())
            }
            _ => false,
        }
    }
    walk(v, 0, false)
}

fn skip_space(b: &[u8]) -> usize {
    b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kindless_secrets_in_a_json_array_are_found() {
        for (text, secret) in [
            (r#"[{"metadata":{"name":"db"},"type":"Opaque","data":{"pw":"eA=="}}]"#, true),
            (r#"[{"metadata":{"name":"db"},"type":"kubernetes.io/tls","stringData":{"tls.key":"x"}}]"#, true),
            (r#"[{"type":"click","data":{"x":1}}]"#, false),
            (r#"[{"metadata":{"name":"cfg"},"data":{"a":"b"}}]"#, false),
            (r#"[{"kind":"ConfigMap","metadata":{},"type":"x","data":{}}]"#, false),
            (r#"{"metadata":{"name":"db"},"data":{"pw":"eA=="},"type":"Opaque"}"#, true),
            (r#"{"kind":"List","items":[{"metadata":{"name":"a"},"type":"Opaque","data":{"pw":"eA=="}}]}"#, true),
            (r#"[{"type":"OrderPlaced","data":{"id":"1"},"metadata":{"correlationId":"c1"}}]"#, false),
            ("{\"metadata\":{},\"type\":\"a\",\"data\":{}}\n{\"metadata\":{\"name\":\"a\"},\"type\":\"Opaque\",\"data\":{\"pw\":\"eA==\"}}\n", true),
            (r#"[[{"metadata":{"name":"db"},"type":"Opaque","data":{"pw":"eA=="}}]]"#, true),
            (r#"[{"kind":"ConfigMap"}, {"metadata":{"name":"db"},"type":"Opaque","data":{"pw":"eA=="}}, {"met"#, true),
            (r#"[{"kind":"ConfigMap"}, {"metadata":{"name":"db"},"type":"Opaque","data":{"pw":"eA"#, false),
        ] {
            assert!(may_hold_secret(text.as_bytes()) || !secret, "{text}");
            assert!(shaped_like_secret(text.as_bytes()) || !secret, "{text}");
            assert_eq!(text_holds_secret(text.as_bytes()), secret, "{text}");
        }
        // `data` only inside `metadata`: nothing to parse.
        assert!(!shaped_like_secret(br#"{"metadata":{"name":"a"},"status":{"conditions":[{"type":"Ready"}]}}"#));
        let utf16le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("kind: Secret\r\ndata:\r\n  pw: eA==\r\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(may_hold_secret(&utf16le) && text_holds_secret(&utf16le), "UTF-16 behind its mark");
    }

    #[test]
    fn hostile_text_is_read_in_one_pass() {
        // Each took from 12 s to minutes (review 38c); in one pass they take milliseconds.
        let mb = 1 << 20;
        let braces = format!("Secret {}", "{".repeat(mb));
        let kinds = format!("Secret {}", "{kind: ".repeat(mb / 7));
        let lines = "kind: Secret\n".repeat(mb / 13);
        let data_lines = format!("{}data:\n  a: b\n", "kind: Secret\n  x: y\n".repeat(mb / 20));
        assert!(!text_holds_secret(braces.as_bytes()));
        assert!(!text_holds_secret(kinds.as_bytes()), "a kind with no data");
        assert!(!text_holds_secret(lines.as_bytes()));
        assert!(text_holds_secret(data_lines.as_bytes()));
        assert!(text_holds_secret(&vec![b'x'; MAX_TEXT + 1]), "past what is read through: withheld");
    }

    #[test]
    fn secrets_inside_objects_are_found_and_references_to_them_are_not() {
        let list: Value = serde_json::from_str(
            r#"{"apiVersion":"v1","kind":"List","items":[{"kind":"ConfigMap","data":{}},{"kind":"Secret","data":{"pw":"aHVudGVyMg=="}}]}"#,
        )
        .unwrap();
        assert!(holds_secret_object(&list));
        let crd: Value = serde_json::from_str(
            r#"{"kind":"CustomResourceDefinition","spec":{"versions":[{"schema":{"openAPIV3Schema":{"properties":{"spec":{"type":"object","description":"Example:\n\n  kind: Secret\n  data:\n    key: base64"}}}}}]}}"#,
        )
        .unwrap();
        assert!(!holds_secret_object(&crd), "a schema's description is prose");
        let cm: Value =
            serde_json::from_str(r#"{"kind":"ConfigMap","data":{"description":"kind: Secret\ndata:\n  pw: eA==\n"}}"#)
                .unwrap();
        assert!(holds_secret_object(&cm), "a data entry named description is data");
        // Review 43e: keys `type` and `description` side by side, outside any schema.
        let typed: Value = serde_json::from_str(
            r#"{"kind":"ConfigMap","data":{"type":"t","description":"kind: Secret\ndata:\n  pw: eA==\n"}}"#,
        )
        .unwrap();
        assert!(holds_secret_object(&typed), "data with a type key is still data");
        let cr: Value =
            serde_json::from_str(r#"{"spec":{"type":"t","description":"kind: Secret\ndata:\n  pw: eA==\n"}}"#).unwrap();
        assert!(holds_secret_object(&cr), "a custom resource's description outside a schema");
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
