//! The Secret rule: a Secret's data never reaches the output unless the caller asked for it.
//!
//! A value is treated as a Secret when its kind is `Secret` (any group) or its key is under the
//! resource `secrets` (see [`is_secret`]). Then, unless `show_secrets` is set:
//! - protobuf: decoded with the Secret table, whose `data` (2) and `stringData` (4) values are
//!   placeholders; every field the table does not know, and anything that fails to parse, is a
//!   placeholder too (never looked into); see [`super::render::Ctx::redacting`];
//! - JSON and CBOR: [`redact_json`] below, applied to the parsed object;
//! - any other bytes: their length only.
//!
//! A placeholder is the string `"<redacted: N bytes>"`, N the length of the hidden bytes
//! (decoded bytes for base64 `data` values in JSON).
//!
//! `kubectl apply` copies the whole object, data included, into the annotation
//! `kubectl.kubernetes.io/last-applied-configuration`; for a Secret that annotation, and any
//! other whose name mentions `last-applied` or whose value mentions a `data` or `stringData`
//! key, is parsed and redacted the same way (or replaced whole when it is not JSON).
//!
//! Damage must not move data past these rules: a `data`/`stringData` key that is not a data
//! key name, a string field that is not plain text, a kind or apiVersion that is not a plausible
//! one, are placeholders in a Secret, and the decode errors inside its data name the entry only.

use serde_json::{Map, Value};

use super::render::redacted;

/// The annotation in which `kubectl apply` keeps a copy of the applied object.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Top-level fields of a Secret that never hold its data.
const SAFE_TOP: [&str; 5] = ["apiVersion", "kind", "metadata", "type", "immutable"];

/// Whether `key` is a name Kubernetes accepts as a key of a Secret's `data` or `stringData`:
/// 1 to 253 bytes of `[-._a-zA-Z0-9]` (apimachinery's `IsConfigMapKey`). Anything else under
/// such a map is damage, and may be the data itself: it is never shown as it is.
pub fn is_data_key(key: &[u8]) -> bool {
    (1..=253).contains(&key.len()) && key.iter().all(|&c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
}

/// Whether a protobuf Secret's fields lie as the API server writes them: metadata (1), the `data`
/// entries (2) with key names ([`is_data_key`]) in strictly ascending order, `type` (3) as a type
/// name, the `stringData` entries (4) likewise, `immutable` (5) as 0 or 1; the singular fields at
/// most once, in that order, each entry exactly `{key 1, value 2}` (an empty value may be left
/// out), nothing else and nothing left over. One damaged length inside an entry shifts the rest of
/// its bytes into other fields (its data read as a type, as metadata, as numbers of unknown
/// fields), where no rule for names can tell data from damage: then `Err(n)`, `n` the length of
/// the leading metadata, the only part a redacting decoder may read.
pub fn layout(body: &[u8]) -> Result<(), usize> {
    use super::wire::{fields, validate, Wire};
    let mut it = fields(body);
    let (mut last, mut meta_end) = (0u32, 0usize);
    let mut prev_key: Option<&[u8]> = None;
    while let Some(f) = it.next() {
        let Ok((n, w)) = f else { return Err(meta_end) };
        if n == 2 && last != 2 || n == 4 && last != 4 {
            prev_key = None;
        }
        let ok = match (n, w) {
            (1, Wire::Bytes(m)) => last < 1 && (m.is_empty() || validate(m).is_ok()),
            (2 | 4, Wire::Bytes(e)) => last <= n && entry_in_order(e, &mut prev_key),
            // The API server takes any type (a custom one may hold spaces); one that is not a type
            // name is redacted by the decoder, the rest stays readable.
            (3, Wire::Bytes(t)) => last < 3 && std::str::from_utf8(t).is_ok(),
            (5, Wire::Varint(v)) => last < 5 && v <= 1,
            _ => false,
        };
        if !ok {
            return Err(meta_end);
        }
        last = n;
        if n == 1 {
            meta_end = it.offset();
        }
    }
    Ok(())
}

/// Whether a map entry is exactly `{key 1, value 2}` (the value may be absent) with a data key
/// name above `prev` (then the new `prev`).
fn entry_in_order<'a>(e: &'a [u8], prev: &mut Option<&'a [u8]>) -> bool {
    use super::wire::{fields, Wire};
    let mut it = fields(e);
    let key = match it.next() {
        Some(Ok((1, Wire::Bytes(k)))) if is_data_key(k) && prev.map_or(true, |p| p < k) => k,
        _ => return false,
    };
    let rest_ok = match it.next() {
        None => true,
        Some(Ok((2, Wire::Bytes(_)))) => it.next().is_none(),
        _ => false,
    };
    *prev = Some(key);
    rest_ok
}

/// Whether `s` is a plausible Secret `type` (`Opaque`, `kubernetes.io/tls`, `helm.sh/release.v1`):
/// 1 to 253 bytes of visible ASCII.
fn is_type_name(s: &str) -> bool {
    (1..=253).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_graphic())
}

/// Whether `b` is a plausible `kind` or `apiVersion`: at most 253 bytes of ASCII letters,
/// digits, `.`, `/` and `-`. In a Secret, anything else is shown as a placeholder.
pub fn is_type_word(b: &[u8]) -> bool {
    b.len() <= 253 && b.iter().all(|&c| c.is_ascii_alphanumeric() || b"./-".contains(&c))
}

/// The placeholder that stands for a map key of `n` bytes that may hold Secret data:
/// `<redacted key: N bytes>`, or `<redacted key: N bytes #2>` (and so on) when `m` already holds
/// that one.
pub fn redacted_key(n: usize, m: &Map<String, Value>) -> String {
    let first = format!("<redacted key: {n} bytes>");
    if !m.contains_key(&first) {
        return first;
    }
    (2..).map(|i| format!("<redacted key: {n} bytes #{i}>")).find(|k| !m.contains_key(k)).unwrap_or(first)
}

/// Whether a Secret's annotation may hold a copy of its data (as `kubectl apply`'s
/// `last-applied-configuration` does): its name mentions `last-applied`, or its value mentions
/// a `"data"` or `"stringData"` key (quoted, or quoted inside a JSON string). The exact name is
/// not required: one damaged byte in it must not show the copy.
pub fn may_copy_data(name: &str, value: &str) -> bool {
    const KEYS: [&str; 4] = ["\"data\"", "\"stringData\"", "\\\"data\\\"", "\\\"stringData\\\""];
    name.contains("last-applied") || KEYS.iter().any(|k| value.contains(k))
}

/// What a key whose own bytes hold a Secret in the clear is shown as.
pub const REDACTED_KEY: &str = "<redacted key>";

/// Whether a key's own bytes hold a Secret's data in the clear: a damaged record whose value
/// became its key (etcd's decoder keeps the last key field, so one flipped tag does it), or a key
/// written so. Every command shows such a key as [`REDACTED_KEY`] unless `--show-secrets` is given
/// (where a command takes it), and the index never stores it.
///
/// A key that begins as a JSON object is judged apart from a value: when it parses, by its kind
/// (as a value); when it does not (a JSON Secret cut before its kind, or spelling it with escapes),
/// by naming a `data` or `stringData` field, which a Secret's data sits under. So a key such as
/// `{tenant-a}/SecretStore/db-password`, which names `Secret` but is no object, is shown.
pub fn key_holds_secret(key: &[u8]) -> bool {
    if key.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return match serde_json::from_slice::<Value>(key) {
            Ok(_) => holds_plaintext(b"", key),
            Err(_) => contains(key, b"\"data\"") || contains(key, b"\"stringData\""),
        };
    }
    holds_plaintext(b"", key)
}

/// `key`, or [`REDACTED_KEY`] when its own bytes hold a Secret in the clear ([`key_holds_secret`]).
pub fn shown_key(key: &[u8]) -> &[u8] {
    if key_holds_secret(key) {
        REDACTED_KEY.as_bytes()
    } else {
        key
    }
}

/// Whether a value is a Secret: by its kind, or by the resource of its key.
pub fn is_secret(kind: Option<&str>, key_resource: Option<&str>) -> bool {
    kind == Some("Secret") || key_resource == Some("secrets")
}

/// Whether a stored value holds a Secret's data readable as it is: a Secret (by the resource of
/// its key, or by its kind) in any encoding but an encryption provider's. Commands that print
/// stored bytes (`get`, `log`, `dump` without `--decode`) withhold such values unless asked.
///
/// Cheap enough to ask of every value: the key is parsed only when it mentions `secrets`; a
/// protobuf value's kind is read from its envelope; a JSON or CBOR value is decoded only when its
/// bytes contain `Secret`; other bytes are not an object and not a Secret but by their key.
pub fn holds_plaintext(key: &[u8], value: &[u8]) -> bool {
    use super::encoding::{classify, Encoding};
    let enc = classify(value);
    if matches!(enc, Encoding::Encrypted(_)) {
        return false;
    }
    if key_says_secret(key) {
        return true;
    }
    // When the kind cannot be read (damage, or a writer other than the API server), a value
    // that names `Secret` is one.
    match enc {
        Encoding::Protobuf => envelope_says_secret(value).unwrap_or_else(|| contains(value, b"Secret")),
        Encoding::Json | Encoding::Cbor => {
            let named = contains(value, b"Secret");
            // JSON may spell the kind with escapes, CBOR in chunks (of a text string, 0x7f, or of a
            // byte string, 0x5f, as Kubernetes writes strings): then it is read too.
            let spelled = match enc {
                Encoding::Json => contains(value, b"\\u"),
                _ => value.contains(&0x7f) || value.contains(&0x5f),
            };
            if !named && !spelled {
                return false;
            }
            let parsed = match enc {
                Encoding::Json => serde_json::from_slice::<Value>(value).ok(),
                _ => super::cbor::to_json(value).ok(),
            };
            match parsed.as_ref().and_then(|v| v.get("kind")) {
                Some(Value::String(k)) => k == "Secret",
                _ => named,
            }
        }
        _ => false,
    }
}

/// Whether a key names a Secret: under the resource `secrets` when it parses as a Kubernetes
/// key; else (another prefix, a damaged one) when any of its segments is `secrets`; and also
/// when a segment `secrets` has a namespace and a name after it, wherever it is: an API server
/// started with `--etcd-prefix=/registry/cluster1` writes `/registry/cluster1/secrets/ns/name`,
/// which parses as the resource `cluster1`. (A ConfigMap in a namespace named `secrets`, or
/// named so, has fewer segments after it, and stays readable.)
pub fn key_says_secret(key: &[u8]) -> bool {
    if !contains(key, b"secrets") {
        return false;
    }
    let nested = || {
        let segs: Vec<&[u8]> = key.split(|&b| b == b'/').collect();
        segs.iter().rev().skip(2).any(|s| *s == b"secrets")
    };
    match super::key::parse(key) {
        Some(k) => is_secret(None, Some(k.resource.as_str())) || nested(),
        None => contains(key, b"/secrets/"),
    }
}

/// Whether a protobuf value's envelope says Secret: any of its typeMeta fields (a repeated
/// one is merged by the decoder, its last kind winning) with kind `Secret`. `None` when the
/// envelope cannot be read or names no kind.
fn envelope_says_secret(value: &[u8]) -> Option<bool> {
    let body = value.get(super::encoding::PROTOBUF_MAGIC.len()..)?;
    // As the API server writes it (every value of a dump is asked): typeMeta first, with one-byte
    // lengths, apiVersion then kind, and no second typeMeta after it.
    if let Some((kind, end)) = short_type_meta(body) {
        if body.get(end) != Some(&0x0a) {
            return Some(kind == b"Secret");
        }
    }
    envelope_fields_say_secret(body)
}

/// [`envelope_says_secret`] of the bytes after the magic, by the general field reader.
fn envelope_fields_say_secret(body: &[u8]) -> Option<bool> {
    use super::wire::{fields, Wire};
    let (mut kinds, mut secret) = (0, false);
    for f in fields(body) {
        // Bytes that stop reading after a kind was read (filler a test load put there, or damage
        // past the typeMeta) leave the kinds read to decide.
        // So does a field no envelope holds (1 typeMeta, 2 raw, 3 contentEncoding, 4 contentType).
        let Ok(f) = f else { break };
        if !(1..=4).contains(&f.0) || !matches!(f.1, Wire::Bytes(_)) {
            break;
        }
        if let (1, Wire::Bytes(tm)) = f {
            for g in fields(tm) {
                let Ok(g) = g else { break };
                if let (2, Wire::Bytes(kind)) = g {
                    kinds += 1;
                    secret |= kind == b"Secret";
                }
            }
        }
    }
    (kinds > 0).then_some(secret)
}

/// The kind of an envelope's leading typeMeta written with one-byte lengths
/// (`0a L [0a A apiVersion] 12 K kind`), and where the typeMeta ends; `None` otherwise (the
/// general reader decides).
fn short_type_meta(body: &[u8]) -> Option<(&[u8], usize)> {
    let short = |b: &[u8], at: usize, tag: u8| -> Option<(usize, usize)> {
        let (&t, &n) = (b.get(at)?, b.get(at + 1)?);
        (t == tag && n < 0x80).then_some((at + 2, at + 2 + usize::from(n)))
    };
    let (start, end) = short(body, 0, 0x0a)?;
    let tm = body.get(start..end)?;
    let at = short(tm, 0, 0x0a).map_or(0, |(_, e)| e);
    let (ks, ke) = short(tm, at, 0x12)?;
    // Nothing after the kind inside the typeMeta.
    (ke == tm.len()).then(|| tm.get(ks..ke).map(|k| (k, end)))?
}

/// Whether `needle` occurs in `hay` (`memchr`'s vectorised substring search: every value of a
/// dump may be asked).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    if hay.len() >= 256 {
        return memchr::memmem::find(hay, needle).is_some();
    }
    // A key is short: its first byte's places, then the rest compared, cost less than setting
    // up the search.
    memchr::memchr_iter(first, hay).any(|i| hay.get(i + 1..i + 1 + rest.len()) == Some(rest))
}

/// Redacts a Secret object parsed from JSON or CBOR, in place: every value of `data` and
/// `stringData` (and every key of them that is not a data key name, see [`is_data_key`]), every
/// top-level field other than apiVersion/kind/metadata/type/immutable, an apiVersion or kind that
/// is not a plausible one ([`is_type_word`]), and every annotation that may copy the data
/// ([`redact_annotations`]). A non-object becomes one placeholder.
pub fn redact_json(v: &mut Value) {
    let Value::Object(obj) = v else {
        *v = redacted(json_len(v));
        return;
    };
    for (k, val) in obj.iter_mut() {
        match (k.as_str(), val) {
            ("apiVersion" | "kind", Value::String(s)) if is_type_word(s.as_bytes()) => {}
            ("apiVersion" | "kind", other) => *other = redacted(json_len(other)),
            // Shown only in the shapes the API server writes them (a type name, a bool, an
            // object): anything else may carry data.
            ("type", Value::String(s)) if is_type_name(s) => {}
            ("immutable", Value::Bool(_)) | ("metadata", Value::Object(_)) => {}
            ("type" | "immutable" | "metadata", other) => *other = redacted(json_len(other)),
            (k, _) if SAFE_TOP.contains(&k) => {}
            ("data" | "stringData", Value::Object(m)) => {
                let is_data = k == "data";
                let mut out = Map::new();
                for (key, x) in std::mem::take(m) {
                    let n = match &x {
                        Value::String(s) if is_data => base64_decoded_len(s),
                        Value::String(s) => s.len(),
                        other => json_len(other),
                    };
                    let key = if is_data_key(key.as_bytes()) { key } else { redacted_key(key.len(), &out) };
                    out.insert(key, redacted(n));
                }
                *m = out;
            }
            (_, other) => *other = redacted(json_len(other)),
        }
    }
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        redact_annotations(meta);
    }
}

/// Redacts, in a Secret's metadata object, every annotation that may copy the data
/// ([`may_copy_data`]), in place: a JSON copy is redacted as the Secret itself is (its shape
/// stays readable), anything else becomes one placeholder.
pub fn redact_annotations(meta: &mut Map<String, Value>) {
    // Damage inside the metadata can move an annotation elsewhere in it (its value read as the
    // generateName, say): a string anywhere in it that may copy the data is redacted too.
    for (name, slot) in meta.iter_mut().filter(|(n, _)| n.as_str() != "annotations") {
        redact_copies(name, slot);
    }
    let Some(Value::Object(ann)) = meta.get_mut("annotations") else { return };
    for (name, slot) in ann.iter_mut() {
        let Value::String(text) = slot else {
            if may_copy_data(name, &slot.to_string()) {
                *slot = redacted(json_len(slot));
            }
            continue;
        };
        if !may_copy_data(name, text) {
            continue;
        }
        *slot = match serde_json::from_str::<Value>(text) {
            Ok(mut copy) => {
                // The copy may itself carry the annotation; one level is all kubectl writes, and
                // the recursion is bounded by serde_json's own nesting limit.
                redact_json(&mut copy);
                Value::String(serde_json::to_string(&copy).unwrap_or_default())
            }
            Err(_) => redacted(text.len()),
        };
    }
}

/// Replaces every string in `v` (named `name`, or under it) that may copy a Secret's data
/// ([`may_copy_data`]) by a placeholder.
fn redact_copies(name: &str, v: &mut Value) {
    match v {
        Value::String(text) if may_copy_data(name, text) => *v = redacted(text.len()),
        Value::Array(items) => items.iter_mut().for_each(|x| redact_copies(name, x)),
        Value::Object(m) => m.iter_mut().for_each(|(n, x)| redact_copies(n, x)),
        _ => {}
    }
}

fn json_len(v: &Value) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len())
}

/// Bytes that standard base64 text decodes to (padding and whitespace-free input assumed; for
/// anything else, a close estimate is fine: only the count is shown).
fn base64_decoded_len(s: &str) -> usize {
    let t = s.trim_end_matches('=');
    t.len() * 3 / 4
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
