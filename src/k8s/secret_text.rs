//! What a value's text says of its kind when no decoder reads it as a Kubernetes object: JSON cut
//! short, YAML (a manifest, a `kubectl get -o yaml`), JSON behind a byte-order mark, and objects
//! that carry Secrets inside them (a `List` from `kubectl get secrets -o json`, a `SecretList`). Used by
//! [`super::secret::holds_plaintext`], which withholds such values whole.

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

/// Whether a value in no encoding a decoder reads (text) holds a Secret: JSON behind a byte-order
/// mark or an array of objects, parsed, by its kind and what it holds ([`holds_secret_object`]);
/// text that does not parse (JSON cut short or damaged) whose `"kind"` says Secret; YAML
/// ([`yaml_holds_secret`]).
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
        if json_stream_holds_secret(body) {
            return true;
        }
    }
    names_kind_secret(value) || yaml_holds_secret(value)
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

/// Whether parsed JSON holds a Secret: its kind, a Secret inside it ([`holds_secret_object`]),
/// or Secrets without their kind ([`kindless_secret`]).
fn json_holds_secret(v: &Value) -> bool {
    let kind = v.get("kind").and_then(Value::as_str);
    kind.is_some_and(|k| holds_secrets(k.as_bytes())) || holds_secret_object(v) || kindless_secret(v)
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
    let any = |a: Option<&Vec<Value>>| a.is_some_and(|a| a.iter().any(secret_shaped));
    secret_shaped(v) || any(v.as_array()) || any(v.get("items").and_then(Value::as_array))
}

/// Whether bytes have the fields of a Secret without its kind: `metadata`, `type`, and `data` or
/// `stringData` (so that [`kindless_secret`] is asked).
pub(super) fn shaped_like_secret(value: &[u8]) -> bool {
    let has = |n: &[u8]| memchr::memmem::find(value, n).is_some();
    has(b"metadata") && has(b"type") && (has(b"data") || has(b"Data"))
}

/// Whether text (in no encoding a decoder reads) may hold a Secret, so that
/// [`text_holds_secret`] must read it: it names `Secret`, or may spell it with escapes (JSON's
/// `\u0053`, YAML's `\x53` and `\U00000053`), or has the fields of a Secret without its kind (a
/// list's items as the API server writes them, `jq .items` of a SecretList), or is UTF-16.
pub(super) fn may_hold_secret(value: &[u8]) -> bool {
    let has = |n: &[u8]| memchr::memmem::find(value, n).is_some();
    let utf16 = matches!(value, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]);
    utf16 || has(b"Secret") || has(b"\\u") || has(b"\\x") || has(b"\\U") || shaped_like_secret(value)
}

/// Whether a parsed object is a Secret without its kind, as a SecretList's items are written:
/// no `kind`, a `metadata` object with a `name`, a `type` string, and `data` or `stringData` (a
/// ConfigMap has no `type`; an application's event `{"type", "data", "metadata"}` no name).
fn secret_shaped(v: &Value) -> bool {
    let Some(m) = v.as_object() else { return false };
    let has = |k: &str| m.get(k).is_some_and(|d| !d.is_null());
    !m.contains_key("kind")
        && m.get("metadata").and_then(Value::as_object).is_some_and(|md| md.contains_key("name"))
        && m.get("type").is_some_and(Value::is_string)
        && (has("data") || has("stringData"))
}

/// `text` with YAML's and JSON's numeric escapes (`\xNN`, `\uNNNN`, `\UNNNNNNNN`) read as the
/// characters they stand for, wherever they are (inside quotes or not: an escape read where YAML
/// would not read one can only make more text look like a Secret, never less).
fn decode_escapes(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\\') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let esc = &rest[at + 1..];
        let digits = match esc.as_bytes().first() {
            Some(b'x') => 2,
            Some(b'u') => 4,
            Some(b'U') => 8,
            _ => 0,
        };
        let c = (digits > 0)
            .then(|| esc.get(1..=digits))
            .flatten()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        match c {
            Some(c) => {
                out.push(c);
                rest = &esc[1 + digits..];
            }
            None => {
                out.push('\\');
                rest = esc;
            }
        }
    }
    out.push_str(rest);
    out.into()
}

/// Whether YAML text holds a Secret: a block mapping with `kind: Secret` (maybe quoted, tagged,
/// anchored or escaped, or its value on the next line) and a `data`, `stringData` or merge (`<<`)
/// key at the same indentation in the same document, a mapping with a Secret's fields and no kind, any `kind: SecretList`, or a flow mapping (`{kind: Secret,
/// ...}`, over several lines too) with data in the text. A mapping that only names a Secret (an
/// Event's `involvedObject`, a reference in a HelmRelease's `valuesFrom`, a line of prose) is not
/// one. Linear in the text's length.
pub(super) fn yaml_holds_secret(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let text = decode_escapes(&text);
    let text = text.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.lines().collect();
    // Documents: runs of lines between `---` markers (a line that is `---`, or `---` then a space).
    let marker = |l: &str| l == "---" || l.starts_with("--- ") || l.starts_with("---\t") || l == "---\r";
    let mut docs: Vec<&[&str]> = Vec::new();
    let mut from = 0;
    for (i, l) in lines.iter().enumerate() {
        if marker(l) {
            docs.push(&lines[from..i]);
            from = i + 1;
        }
    }
    docs.push(&lines[from..]);
    docs.into_iter().any(block_holds_secret) || flow_holds_secret(text)
}

/// One YAML document's block mappings: a kind of Secret or SecretList, and for a Secret a `data`
/// or `stringData` key at its column.
fn block_holds_secret(doc: &[&str]) -> bool {
    let keys: Vec<(usize, &str)> = doc.iter().map(|l| block_key(l)).collect();
    let cols = |names: &[&str]| -> std::collections::HashSet<usize> {
        keys.iter().filter(|(_, rest)| names.iter().any(|k| is_key(rest, k))).map(|&(c, _)| c).collect()
    };
    // A merge key (`<<: *defaults`) may bring the data in.
    let data = cols(&["data", "stringData", "<<"]);
    if kindless_mapping(doc) {
        return true;
    }
    keys.iter().enumerate().any(|(i, &(col, rest))| {
        let Some(after) = rest.strip_prefix("kind") else { return false };
        // The value on the next line (`kind:` then `  Secret`), or a folded one (`kind: >-`).
        let next = || doc.get(i + 1).map_or("", |l| l.trim());
        let kind = kind_value(after).or_else(|| {
            let v = after.trim_start_matches(['"', '\'']).trim_start().strip_prefix(':')?.trim();
            matches!(v, "" | ">" | ">-" | "|" | "|-").then(|| kind_value(&format!(": {}", next()))).flatten()
        });
        match kind {
            Some("SecretList") => true,
            Some(_) => data.contains(&col),
            None => false,
        }
    })
}

/// Whether a YAML document has a block mapping that is a Secret without its kind (`yq .items` of
/// a SecretList): `metadata` naming the object (a `name` inside it), `type` with a value on its
/// line, and `data` or `stringData`; no `kind`. The keys must be one mapping's: a line at a lesser
/// indentation, or a list item's dash at the same one, ends a mapping (keys of unrelated mappings
/// at one indentation, as in a large CRD schema, are not one; nor an event's `type`, `data` and
/// `metadata` without a name, nor a schema's `type:` over a nested mapping).
fn kindless_mapping(doc: &[&str]) -> bool {
    /// One open mapping: its column; metadata named, type with a value, data, kind; and whether
    /// its last key was `metadata` over a nested mapping (whose `name` then names it).
    struct Open {
        col: usize,
        has: [bool; 4],
        meta_open: bool,
    }
    let done = |m: &Open| m.has[0] && m.has[1] && m.has[2] && !m.has[3];
    let mut open: Vec<Open> = Vec::new();
    for line in doc {
        let t = line.trim_start_matches(' ');
        if t.trim().is_empty() || t.starts_with('#') {
            continue;
        }
        let (col, rest) = block_key(line);
        let dashed = t.starts_with("- ");
        while let Some(top) = open.last() {
            if top.col > col || top.col == col && dashed {
                if done(top) {
                    return true;
                }
                open.pop();
            } else {
                break;
            }
        }
        let Some((key, value)) =
            rest.split_once(':').filter(|(k, v)| !k.contains(' ') && (v.is_empty() || v.starts_with(' ')))
        else {
            continue;
        };
        let key = key.trim_end_matches(['"', '\'']);
        let value = value.trim();
        if key == "name" {
            if let Some(parent) = open.iter_mut().rev().find(|m| m.col < col) {
                if parent.meta_open {
                    parent.has[0] = true;
                }
            }
        }
        if open.last().map(|m| m.col) != Some(col) {
            open.push(Open { col, has: [false; 4], meta_open: false });
        }
        let Some(top) = open.last_mut() else { continue };
        top.meta_open = false;
        match key {
            "metadata" if value.is_empty() => top.meta_open = true,
            "metadata" => top.has[0] |= value.contains("name"),
            "type" => top.has[1] |= !value.is_empty() && !value.starts_with('#'),
            "data" | "stringData" => top.has[2] = true,
            "kind" => top.has[3] = true,
            _ => {}
        }
    }
    open.iter().any(done)
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

/// Whether text holds a flow mapping (`{kind: Secret, stringData: {pw: x}}`, over several lines
/// too) naming kind Secret, and data anywhere in the text; or naming SecretList. One pass: `kind`
/// counts only inside braces.
fn flow_holds_secret(text: &str) -> bool {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut named = None;
    let mut i = 0;
    while i < b.len() && named != Some("SecretList") {
        match b[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'k' if depth > 0 && b[i..].starts_with(b"kind") => {
                // What follows, up to 64 bytes (a kind is short; a longer look made this quadratic).
                let near = &b[i + 4..b.len().min(i + 4 + 64)];
                let near = std::str::from_utf8(near)
                    .unwrap_or_else(|e| std::str::from_utf8(&near[..e.valid_up_to()]).unwrap_or_default());
                named = kind_value(near.split([',', '}', '\n']).next().unwrap_or("")).or(named);
                i += 4;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    named == Some("SecretList") || named.is_some() && (text.contains("data") || text.contains("Data"))
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
            // A manifest kept as a string (a ConfigMap's data, a field of a configuration).
            Value::String(t) if t.contains("Secret") && (t.contains("data") || t.contains("Data")) => {
                depth < 4 && text_holds_secret(t.as_bytes())
            }
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
            "{kind: Secret,\n data: {pw: aHVudGVyMg==}}",
            "- {kind: Secret,\n  stringData: {pw: x}}",
            "kind:\n  Secret\ndata:\n  a: b\n",
            "kind: >-\n  Secret\ndata:\n  a: b\n",
            "kind: Secret\nnote: \"a\n---b\"\ndata:\n  a: b\n",
            "kind: Secret\n<<: {stringData: {pw: x}}\n",
            "defaults: &d\n  data: {pw: x}\ns:\n  kind: Secret\n  <<: *d\n",
            "kind: \"\\x53ecret\"\ndata:\n  pw: x\n",
            "kind: \"\\U00000053ecret\"\nstringData: {pw: x}\n",
            "- metadata:\n    name: db\n  type: Opaque\n  data:\n    pw: x\n",
            "items:\n- kind: ConfigMap\n  metadata: {}\n  data: {}\n- metadata:\n    name: db\n  type: Opaque\n  data:\n    pw: x\n",
            "- metadata: {name: db, namespace: x}\n  type: Opaque\n  stringData:\n    pw: x\n",
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
            "metadata:\n  name: cfg\ndata:\n  a: b\n",
            "kind: ConfigMap\nmetadata: {}\ntype: x\ndata: {}\n",
            "path: C:\\xampp\\users\n",
            "a:\n  data: {}\nb:\n  metadata: {}\nc:\n  type: x\n",
            "- type: click\n  data: {x: 1}\n- metadata: {}\n  data: {}\n",
            "service:\n  type: ClusterIP\npod:\n  metadata: {}\nconfig:\n  data: {}\n",
            "- type: OrderPlaced\n  data:\n    orderId: x\n  metadata:\n    correlationId: c1\n",
            "properties:\n  type:\n    type: string\n  metadata:\n    name: x\n  data:\n    type: object\n",
        ] {
            assert!(!yaml_holds_secret(no.as_bytes()), "{no}");
        }
    }

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
        ] {
            assert!(may_hold_secret(text.as_bytes()) || !secret, "{text}");
            assert_eq!(text_holds_secret(text.as_bytes()), secret, "{text}");
        }
        let utf16le: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain("kind: Secret\r\ndata:\r\n  pw: eA==\r\n".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(may_hold_secret(&utf16le) && text_holds_secret(&utf16le), "UTF-16 behind its mark");
        assert_eq!(decode_escapes(r"\x53\u0065\U00000063ret \q \x4"), r"Secret \q \x4");
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
