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

use super::secret_parsed::parsed_yaml_holds_secret;
use super::secret_text::{
    has, holds_secret_object, holds_secrets, json_stream_holds_secret, kindless_secret, may_hold_secret,
    names_kind_secret, shaped_like_secret, text_holds_secret,
};
use super::secret_yaml::yaml_holds_secret;
use serde_json::{Map, Value};

pub use super::redact::{redact_annotations, redact_json};
use super::secret_envelope::envelope_says_secret;
pub use super::secret_manifest::{redact_manifests, redact_texts};

/// The annotation in which `kubectl apply` keeps a copy of the applied object.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Top-level fields of a Secret that never hold its data.
pub(super) const SAFE_TOP: [&str; 5] = ["apiVersion", "kind", "metadata", "type", "immutable"];

/// Whether `key` is a name Kubernetes accepts as a key of a Secret's `data` or `stringData`:
/// 1 to 253 bytes of `[-._a-zA-Z0-9]` (apimachinery's `IsConfigMapKey`). Anything else under
/// such a map is damage, and may be the data itself: it is never shown as it is.
pub fn is_data_key(key: &[u8]) -> bool {
    (1..=253).contains(&key.len()) && key.iter().all(|&c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
}

/// Where and how a protobuf Secret's fields stop lying as the API server writes them
/// ([`layout`]): the length of the leading metadata, the only part a redacting decoder may read,
/// and what is wrong, named by field number and entry (never by a byte of the value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Misplaced {
    /// Bytes of leading metadata (0 when the metadata itself is at fault).
    pub meta_end: usize,
    /// What is wrong.
    pub why: String,
}

/// Whether a protobuf Secret's fields lie as the API server writes them: metadata (1), the `data`
/// entries (2) with key names ([`is_data_key`]) in strictly ascending order, `type` (3) as a type
/// name, the `stringData` entries (4) likewise, `immutable` (5) as 0 or 1; the singular fields at
/// most once, in that order, each entry exactly `{key 1, value 2}` (an empty value may be left
/// out), nothing else and nothing left over. One damaged length inside an entry shifts the rest of
/// its bytes into other fields (its data read as a type, as metadata, as numbers of unknown
/// fields), where no rule for names can tell data from damage: then [`Misplaced`].
pub fn layout(body: &[u8]) -> Result<(), Misplaced> {
    use super::wire::{fields, validate, Wire};
    let mut it = fields(body);
    let (mut last, mut meta_end) = (0u32, 0usize);
    let mut prev_key: Option<&[u8]> = None;
    let mut entries = [0usize; 2];
    let at = |meta_end: usize, why: String| Err(Misplaced { meta_end, why });
    while let Some(f) = it.next() {
        let (n, w) = match f {
            Ok(f) => f,
            Err(e) => {
                let after = if last == 0 { "in the first field".to_string() } else { format!("after field {last}") };
                return at(meta_end, format!("{} at byte {} ({after})", e.what, e.offset));
            }
        };
        if n == 2 && last != 2 || n == 4 && last != 4 {
            prev_key = None;
        }
        let ok = match (n, w) {
            (1, Wire::Bytes(m)) => last < 1 && (m.is_empty() || validate(m).is_ok()),
            (2 | 4, Wire::Bytes(e)) => {
                entries[usize::from(n == 4)] += 1;
                last <= n && entry_in_order(e, &mut prev_key)
            }
            // The API server takes any type (a custom one may hold spaces); one that is not a type
            // name is redacted by the decoder, the rest stays readable.
            (3, Wire::Bytes(t)) => last < 3 && std::str::from_utf8(t).is_ok(),
            (5, Wire::Varint(v)) => last < 5 && v <= 1,
            _ => false,
        };
        if !ok {
            let why = match n {
                1 => "field 1 (metadata) is not one message before the others".to_string(),
                2 | 4 => {
                    let (name, i) = if n == 2 { ("data", entries[0]) } else { ("stringData", entries[1]) };
                    format!("field {n} ({name}) entry {i} is not {{key, value}} with a key name after the one before, in its place")
                }
                3 => "field 3 (type) is not one UTF-8 string after data".to_string(),
                5 => "field 5 (immutable) is not one 0 or 1 after the others".to_string(),
                _ => format!("field {n} is no field of a Secret (a newer Kubernetes, or damage)"),
            };
            return at(meta_end, why);
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
pub(super) fn is_type_name(s: &str) -> bool {
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
            Err(_) => has(key, b"\"data\"") || has(key, b"\"stringData\""),
        };
    }
    // Nearly every key (`/registry/pods/ns/name`; every record of a dump is asked): no byte any
    // rule starts from. Every spelling of `Secret` the rules read holds an `S` (UTF-16 and CBOR
    // chunks too) or a backslash (escapes), a Secret without its kind names `metadata`, and CBOR
    // (`d9`) and UTF-16 (`ff fe`, `fe ff`) are told by their first byte.
    let plain = !matches!(key.first(), Some(0xd9 | 0xfe | 0xff))
        && memchr::memchr2(b'S', b'\\', key).is_none()
        && !has(key, b"metadata");
    !plain && holds_plaintext(b"", key)
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
///
/// A protobuf object of another kind holding a Secret's manifest in a string (a ConfigMap's data)
/// is one too ([`super::secret_manifest`]), as a JSON one is.
pub fn holds_plaintext(key: &[u8], value: &[u8]) -> bool {
    // Every text the value's judging parses shares one budget.
    super::secret_parsed::per_value(|| judge(key, value, true))
}

/// [`holds_plaintext`], but not counting a protobuf object of another kind for a manifest in its
/// strings: what the decoder redacts whole (it then redacts those strings alone,
/// [`redact_manifests`]).
pub fn is_plaintext_secret(key: &[u8], value: &[u8]) -> bool {
    super::secret_parsed::per_value(|| judge(key, value, false))
}

/// [`holds_plaintext`] (`manifests`: counting a protobuf object holding a manifest), within its
/// budget.
fn judge(key: &[u8], value: &[u8], manifests: bool) -> bool {
    use super::encoding::{classify, Encoding};
    let enc = classify(value);
    if matches!(enc, Encoding::Encrypted(_)) {
        return false;
    }
    if key_says_secret(key) {
        return true;
    }
    // A protobuf object whose magic was damaged (read as JSON when it became `{`, else as other
    // bytes): judged as one, by its envelope's kind, else by naming `Secret` (its kind cannot be
    // read), at any key (review 49b: printed at an application's key).
    // Text is no protobuf (review 49c: `k8s:` + YAML naming a secret reference was withheld).
    if super::secret_envelope::magic_damaged(value) && !super::render::is_text(value, true) {
        let body = value.get(super::encoding::PROTOBUF_MAGIC.len()..).unwrap_or_default();
        if envelope_says_secret(value).unwrap_or_else(|| has(value, b"Secret"))
            || manifests && super::secret_manifest::message_holds_manifest(body)
        {
            return true;
        }
    }
    // When the kind cannot be read (damage, or a writer other than the API server), a value
    // that names `Secret` is one.
    match enc {
        Encoding::Protobuf => {
            envelope_says_secret(value).unwrap_or_else(|| has(value, b"Secret"))
                || manifests
                    && super::secret_manifest::message_holds_manifest(
                        value.get(super::encoding::PROTOBUF_MAGIC.len()..).unwrap_or_default(),
                    )
        }
        Encoding::Json | Encoding::Cbor => {
            parsed_says_secret(enc == Encoding::Json, value, super::key::parse(key).is_some())
                || super::secret_manifest::unmarked_utf16_holds_manifest(value)
        }
        // Bytes in no encoding under a Kubernetes key: a stored object whose first bytes were
        // damaged (its magic, its opening brace), still naming `Secret` however its kind is
        // written (JSON, protobuf, CBOR; a damaged length byte before it). Prose there naming a
        // SecretStore is withheld too: values under a Kubernetes key are its objects.
        // Elsewhere, text that holds one (YAML, JSON behind a byte-order mark, an array).
        // UTF-16 without its byte-order mark (review 44: a manifest written so printed, at any
        // key) is read with its zero bytes taken out.
        Encoding::Other => {
            let named = has(value, b"Secret");
            named && super::key::parse(key).is_some()
                || may_hold_secret(value) && text_holds_secret(value)
                // Base64 text of a manifest stored as it is (review 49b: printed whole, where the
                // same base64 inside a JSON string is withheld); a value that is base64 alone is
                // judged as what it decodes to (base64 of base64, of gzip, of JSON: review 49c).
                || super::secret_manifest::names_in_base64(value)
                    && super::secret_manifest::text_holds_manifest(value)
                || base64_alone(value)
                    && super::secret_gzip::base64_lenient(value).is_some_and(|d| judge(key, &d, manifests))
                || super::secret_manifest::unmarked_utf16_holds_manifest(value)
                // A value kept gzipped (a manifest, a Helm release): what it inflates to, judged
                // as a stored value.
                || super::secret_gzip::may_be(value)
                    && super::secret_gzip::holds(value, &|d| judge(key, d, manifests))
        }
        Encoding::Encrypted(_) => false,
    }
}

/// Whether a value is base64 text alone (16 bytes or more of its alphabet, either one, padding
/// and whitespace): what it decodes to is a stored value of its own.
fn base64_alone(v: &[u8]) -> bool {
    v.len() >= 16 && v.iter().all(|&c| c.is_ascii_alphanumeric() || b"+/-_=\r\n\t ".contains(&c))
}

/// Whether a JSON (`json`) or CBOR object names kind `Secret`: decoded only when its bytes contain
/// `Secret` or may spell it otherwise (JSON escapes; CBOR chunks of a text string, 0x7f, or of a
/// byte string, 0x5f). Without a kind it reads, it is one where it looks like a Kubernetes object
/// (`k8s`: under its key or in an envelope; or naming an `apiVersion` or `metadata`), so that a
/// configuration naming an "AWS SecretsManager", or JSON lines, stay readable elsewhere.
pub(super) fn parsed_says_secret(json: bool, value: &[u8], k8s: bool) -> bool {
    // Also base64 of `Secret`: a manifest kept in base64 inside (a JSON ConfigMap's binaryData).
    let named = has(value, b"Secret") || super::secret_manifest::names_in_base64(value);
    // JSON's `\u`; a YAML manifest kept in one of its strings may escape with `\x` or `\U`.
    let spelled = if json {
        has(value, b"\\u") || has(value, b"\\x") || has(value, b"\\U")
    } else {
        value.contains(&0x7f) || value.contains(&0x5f)
    };
    // A Secret without its kind (what a Go program's json.Marshal of one writes) names none.
    let shaped = json && shaped_like_secret(value);
    // Gzip in one of its strings (a Helm release kept by a custom resource), or in a CBOR byte
    // string.
    let compressed = has(value, super::secret_gzip::GZIP_BASE64)
        || has(value, super::secret_gzip::GZIP_BASE64_TWICE)
        || !json && has(value, super::secret_gzip::GZIP_MAGIC);
    if !named && !spelled && !shaped && !compressed {
        return false;
    }
    let object_like = || k8s || has(value, b"apiVersion") || has(value, b"metadata");
    // JSON as Go reads it (the API server's reader): invalid UTF-8 or a lone surrogate escape is
    // no reason to withhold a value of another kind (review 47a).
    let parsed = if json { super::json_go::parse(value) } else { super::cbor::to_json(value).ok() };
    match parsed {
        // Its kind, or Secrets inside it (a List of them).
        Some(v) => match v.get("kind") {
            // At an application's key, a Secret's manifest without data holds nothing secret
            // (review 40a); an object where Kubernetes keeps them is judged by its kind alone. A
            // SecretList is one anywhere (`holds_secret_object` says so of its kind).
            Some(Value::String(k)) => {
                k8s && holds_secrets(k.as_bytes()) || holds_secret_object(&v) || kindless_secret(&v)
            }
            _ => named && object_like() || holds_secret_object(&v) || kindless_secret(&v),
        },
        // Cut short: a `kind` field naming Secret (escapes read; a value cut inside it that
        // could still be `Secret` counts), a YAML flow mapping holding one (by the line rules, or
        // as a parser reads it: `{data: ..., metadata: ..., type: ...}`, PyYAML's flow style), or
        // anything naming it where Kubernetes wrote it.
        None if json => {
            names_kind_secret(value)
                || json_stream_holds_secret(value)
                || yaml_holds_secret(value)
                || k8s && (named || spelled)
                // Damaged where its kind is written, but still a Secret's object with its data:
                // at any key (review 49b: printed at an application's key). `Secret` must end a
                // string there (not `SecretsManager`), and no kind of another name may read
                // (review 49c: a cut ConfigMap naming a Secret it uses was withheld).
                || has(value, b"Secret\"")
                    && (has(value, b"\"data\"") || has(value, b"\"stringData\""))
                    && object_like()
                    && !super::secret_text::names_another_kind(value)
                || parsed_yaml_holds_secret(&String::from_utf8_lossy(value))
        }
        None => object_like(),
    }
}

/// Whether a key names a Secret: under the resource `secrets` when it parses as a Kubernetes
/// key; else (another prefix, a damaged one) when any of its segments is `secrets`; and also
/// when a segment `secrets` has a namespace and a name after it, wherever it is: an API server
/// started with `--etcd-prefix=/registry/cluster1` writes `/registry/cluster1/secrets/ns/name`,
/// which parses as the resource `cluster1`. (A ConfigMap in a namespace named `secrets`, or
/// named so, has fewer segments after it, and stays readable.)
pub fn key_says_secret(key: &[u8]) -> bool {
    if !has(key, b"secrets") {
        return false;
    }
    let nested = || {
        let segs: Vec<&[u8]> = key.split(|&b| b == b'/').collect();
        segs.iter().rev().skip(2).any(|s| *s == b"secrets")
    };
    match super::key::parse(key) {
        Some(k) => is_secret(None, Some(k.resource.as_str())) || nested(),
        None => has(key, b"/secrets/"),
    }
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
