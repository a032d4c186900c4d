//! One stored value to JSON for display: the entry point of the decoders.
//!
//! What [`decode`] returns, by [`super::encoding::classify`] class:
//! - protobuf: `{"apiVersion", "kind", "metadata": {...}, <the kind's fields>}` with Kubernetes'
//!   JSON names where this module has the kind's table ([`super::kinds`]) and field numbers
//!   elsewhere ([`super::generic`]); plus `"decodeError"` naming every field that did not parse;
//! - JSON: the parsed object (pretty printing is the caller's job);
//! - CBOR: the object converted as [`super::cbor`] says;
//! - encrypted: `{"encrypted": {"provider", "key", "bytes": N}}` (N = the stored value's length),
//!   for KMS v1 also `"encryptedDEKBytes"`, for KMS v2 also `"keyID"`, `"encryptedDataBytes"`,
//!   `"encryptedDEKSourceBytes"`, `"encryptedDEKSourceType"` and `"annotations"` (key → value
//!   length);
//! - anything else: `{"raw": {"bytes": N, "text": "..."}}` when printable UTF-8, else
//!   `{"raw": {"bytes": N, "base64": "..."}}`; at most [`MAX_RAW_SHOWN`] bytes are shown (then
//!   `"truncated": true`).
//!
//! A value that fails to parse as its class says (protobuf envelope, JSON, CBOR) gets
//! `"decodeError"` and the `"raw"` form. A Secret (kind `Secret` or key under `secrets`) never
//! shows its data unless [`DecodeOptions::show_secrets`] is set, whichever path it takes; see
//! [`super::secret`]. The `raw` form of a Secret is `{"bytes": N, "redacted": true}`.

use serde_json::{json, Map, Value};

use super::encoding::{self, classify, Encoding};
use super::render::{base64, printable, Ctx, MAX_OUTPUT_BYTES};
use super::wire::{fields, Wire};
use super::{cbor, kinds, schema, secret};

/// Most bytes of an unrecognised value shown in its `raw` form.
pub const MAX_RAW_SHOWN: usize = MAX_OUTPUT_BYTES / 4 * 3;

/// Options for [`decode`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Show Secret data (`data` as base64, as Kubernetes JSON does; `stringData` as text).
    /// Off by default: every value becomes `"<redacted: N bytes>"`.
    pub show_secrets: bool,
}

/// Decodes a stored value, with its key (used to recognise Secrets), into JSON for display.
/// Never panics; see the module docs for the shapes.
pub fn decode(key: &[u8], value: &[u8], opts: &DecodeOptions) -> Value {
    // A Secret by its key, or by what its bytes say when its kind cannot be read (see
    // [`secret::holds_plaintext`]): then every path below redacts it.
    // A protobuf object of another kind holding a Secret's manifest keeps its kind and schema:
    // the strings holding it are redacted after the decode.
    let key_says = secret::key_says_secret(key);
    let by_key = key_says || secret::is_plaintext_secret(key, value);
    let mut v = match classify(value) {
        Encoding::Protobuf => {
            let mut v = protobuf(value, by_key, opts);
            if !by_key && !opts.show_secrets && secret::redact_manifests(value, &mut v) {
                // The stored bytes shown beside a decode that failed hold the manifest too.
                if let Some(r) = v.get_mut("raw") {
                    *r = raw(value, true);
                }
            }
            v
        }
        Encoding::Json => match serde_json::from_slice::<Value>(value) {
            Ok(v) => finish_parsed(v, by_key, opts),
            Err(e) => failed(format!("json: {e}"), value, by_key, opts),
        },
        Encoding::Cbor => match cbor::to_json(value) {
            Ok(v) => finish_parsed(v, by_key, opts),
            Err(e) => failed(format!("cbor: {e}"), value, by_key, opts),
        },
        Encoding::Encrypted(e) => encrypted(&e, value.len()),
        Encoding::Other => json!({"raw": raw(value, by_key && !opts.show_secrets)}),
    };
    // An object of another kind holding a Secret's manifest: what the Secret rule leaves shown
    // (metadata, annotations as YAML, map keys) holds none either (review 43d). A Secret's own
    // are the Secret rule's.
    let kind = v.get("kind").and_then(Value::as_str);
    let itself = key_says || matches!(kind, Some("Secret" | "SecretList"));
    if by_key && !itself && !opts.show_secrets {
        secret::redact_texts(&mut v);
    }
    v
}

fn finish_parsed(mut v: Value, by_key: bool, opts: &DecodeOptions) -> Value {
    let is_secret = by_key || secret::is_secret(v.get("kind").and_then(Value::as_str), None);
    if is_secret && !opts.show_secrets {
        secret::redact_json(&mut v);
    }
    v
}

fn failed(why: String, value: &[u8], secret: bool, opts: &DecodeOptions) -> Value {
    json!({"decodeError": why, "raw": raw(value, secret && !opts.show_secrets)})
}

/// The `raw` form of bytes.
fn raw(value: &[u8], redact: bool) -> Value {
    let mut m = Map::new();
    m.insert("bytes".into(), value.len().into());
    if redact {
        m.insert("redacted".into(), true.into());
        return Value::Object(m);
    }
    let shown = value.get(..MAX_RAW_SHOWN).unwrap_or(value);
    match printable(shown) {
        Some(s) => m.insert("text".into(), s.into()),
        None => m.insert("base64".into(), base64(shown).into()),
    };
    if shown.len() < value.len() {
        m.insert("truncated".into(), true.into());
    }
    Value::Object(m)
}

/// The runtime.Unknown envelope's fields.
#[derive(Default)]
struct Unknown<'a> {
    api_version: Option<&'a [u8]>,
    kind: Option<&'a [u8]>,
    raw: Option<&'a [u8]>,
    content_encoding: &'a [u8],
    content_type: &'a [u8],
}

/// `k8s\0` + `runtime.Unknown{typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
/// contentEncoding = 3, contentType = 4}` (k8s.io/apimachinery/pkg/runtime/generated.proto).
/// Whatever was read before any damage is kept, with the damage described. A raw object whose
/// length runs past the end (a value cut short: the commonest damage) is kept as far as it goes,
/// so its metadata, which comes first, can still be read; so is a raw object after a typeMeta
/// damaged inside (its own length intact: review 49b, the metadata was hidden).
fn unknown(b: &[u8]) -> (Unknown<'_>, Option<String>) {
    let mut u = Unknown::default();
    // Damage inside the typeMeta, told first whatever follows.
    let mut type_meta: Option<String> = None;
    for f in fields(b) {
        let (n, w) = match f {
            Ok(f) => f,
            Err(e) => {
                if let Some((raw, stated)) = cut_raw(b, e.offset) {
                    u.raw = Some(raw);
                    let why = format!("envelope: raw object of {stated} bytes cut short to {}", raw.len());
                    return (u, type_meta.or(Some(why)));
                }
                return (u, type_meta.or(Some(format!("envelope: {e}"))));
            }
        };
        match (n, w) {
            (1, Wire::Bytes(tm)) => {
                for g in fields(tm) {
                    match g {
                        Ok((1, Wire::Bytes(v))) => u.api_version = Some(v),
                        Ok((2, Wire::Bytes(k))) => u.kind = Some(k),
                        Ok(_) => {}
                        Err(e) => {
                            type_meta.get_or_insert_with(|| format!("envelope: typeMeta: {e}"));
                            break;
                        }
                    }
                }
            }
            (2, Wire::Bytes(r)) => u.raw = Some(r),
            (3, Wire::Bytes(c)) => u.content_encoding = c,
            (4, Wire::Bytes(c)) => u.content_type = c,
            (n, w) => {
                let why = format!("envelope: field {n} is {}, not expected in runtime.Unknown", w.kind());
                return (u, type_meta.or(Some(why)));
            }
        }
    }
    (u, type_meta)
}

/// The raw field (2, length-delimited) starting at `at` of an envelope, when its stated length
/// runs past the end: the bytes there are, and the length stated.
fn cut_raw(b: &[u8], at: usize) -> Option<(&[u8], u64)> {
    super::wire::cut_field(b, at).filter(|&(num, _, _)| num == 2).map(|(_, stated, rest)| (rest, stated))
}

fn protobuf(value: &[u8], by_key: bool, opts: &DecodeOptions) -> Value {
    let body = value.get(encoding::PROTOBUF_MAGIC.len()..).unwrap_or_default();
    let (u, envelope_error) = unknown(body);
    let api_version = u.api_version.map(String::from_utf8_lossy).unwrap_or_default();
    let kind = u.kind.map(String::from_utf8_lossy).unwrap_or_default();
    let is_secret = by_key || secret::is_secret(Some(&kind), None);
    let redact = is_secret && !opts.show_secrets;
    let mut cx = Ctx::new(is_secret, opts.show_secrets);
    let mut out = Map::new();
    for (name, field) in [("apiVersion", u.api_version), ("kind", u.kind)] {
        if let Some(b) = field {
            out.insert(name.into(), type_word(name, b, &mut cx));
        }
    }
    let show_raw = envelope_error.is_some() || u.raw.is_none() || !u.content_encoding.is_empty();
    // The API server always writes the kind; its decoder refuses an envelope without one (told
    // when nothing else is wrong with the envelope: damage before the kind says enough).
    let no_kind = envelope_error.is_none() && u.kind.map_or(true, <[u8]>::is_empty);
    if let Some(e) = envelope_error {
        cx.error(e);
    }
    if no_kind {
        cx.error("envelope typeMeta names no kind");
    }
    let ct = u.content_type;
    let mut inner_secret = false;
    match u.raw {
        None => cx.error("envelope holds no raw object"),
        Some(_) if !u.content_encoding.is_empty() => {
            let what = quoted_word(u.content_encoding, &cx);
            cx.error(format!("envelope contentEncoding {what} is not supported"))
        }
        Some(raw) if ct.is_empty() || ct == b"application/vnd.kubernetes.protobuf" => {
            let table = if is_secret { &kinds::SECRET } else { kinds::lookup(&api_version, &kind) };
            match secret::layout(raw) {
                Err(m) if redact => {
                    // Only the metadata before the damage is read; the rest is withheld whole.
                    let n = m.meta_end;
                    out.extend(schema::decode(raw.get(..n).unwrap_or_default(), table, &mut cx));
                    let rest = raw.len().saturating_sub(n);
                    let after = if n == 0 { "" } else { " after its metadata" };
                    cx.error(format!(
                        "{}: the Secret's {rest} bytes{after} do not lie as the API server writes them (cut \
                         short, written by a newer Kubernetes, or damage that may have moved its data into \
                         other fields): withheld",
                        m.why
                    ));
                    out.insert("withheld".into(), super::render::redacted(rest));
                }
                _ => out.extend(schema::decode(raw, table, &mut cx)),
            }
        }
        Some(raw) if ct == b"application/json" => match serde_json::from_slice::<Value>(raw) {
            Ok(Value::Object(m)) => {
                // The object names its own kind, which replaces the envelope's: a Secret inside
                // an envelope that says otherwise is redacted all the same.
                inner_secret = secret::is_secret(m.get("kind").and_then(Value::as_str), None);
                out.extend(m)
            }
            Ok(_) => cx.error("envelope raw JSON is not an object"),
            Err(e) => cx.error(format!("envelope raw json: {e}")),
        },
        Some(_) => {
            let what = quoted_word(ct, &cx);
            cx.error(format!("envelope contentType {what} is not supported"))
        }
    }
    let mut v = Value::Object(out);
    let redact = redact || inner_secret && !opts.show_secrets;
    if redact {
        if ct == b"application/json" {
            secret::redact_json(&mut v);
        } else if let Some(Value::Object(meta)) = v.get_mut("metadata") {
            secret::redact_annotations(meta);
        }
    }
    if let (Some(text), Value::Object(m)) = (cx.error_text(), &mut v) {
        m.insert("decodeError".into(), text.into());
        // A Secret asked for with --show-secrets whose fields did not all decode: its bytes too,
        // so that what the decode could not place is still shown.
        if show_raw || (is_secret && !redact) {
            m.insert("raw".into(), raw(value, redact));
        }
    }
    v
}

/// The envelope's apiVersion or kind (`name`). In a Secret (by its key: a damaged envelope may
/// hold anything there) one that is not a plausible identifier ([`secret::is_type_word`]) is a
/// placeholder, with an error.
fn type_word(name: &str, b: &[u8], cx: &mut Ctx) -> Value {
    if cx.redacting() && !secret::is_type_word(b) {
        cx.error(format!("envelope {name} of {} bytes is not an identifier; redacted", b.len()));
        return super::render::redacted(b.len());
    }
    cx.schema_text(b)
}

/// An envelope field for an error message, quoted; in a Secret only by its length (a value that
/// is not supported is damage, and damage can move the Secret's own fields there).
fn quoted_word(b: &[u8], cx: &Ctx) -> String {
    if cx.redacting() {
        format!("of {} bytes", b.len())
    } else {
        format!("{:?}", String::from_utf8_lossy(b))
    }
}

fn encrypted(e: &encoding::Encrypted<'_>, total: usize) -> Value {
    let mut m = Map::new();
    m.insert("provider".into(), e.provider.as_ref().into());
    m.insert("key".into(), e.key.as_deref().map_or(Value::Null, Value::from));
    m.insert("bytes".into(), total.into());
    match e.provider.as_ref() {
        "kms-v2" => match encoding::kms_v2(e.payload) {
            Ok(k) => {
                m.insert("keyID".into(), k.key_id.as_deref().map_or(Value::Null, Value::from));
                m.insert("encryptedDataBytes".into(), k.encrypted_data_len.into());
                m.insert("encryptedDEKSourceBytes".into(), k.encrypted_dek_source_len.into());
                let ty = match k.dek_source_type {
                    None | Some(0) => "AES_GCM_KEY".into(),
                    Some(1) => "HKDF_SHA256_XNONCE_AES_GCM_SEED".into(),
                    Some(n) => Value::from(n),
                };
                m.insert("encryptedDEKSourceType".into(), ty);
                if !k.annotations.is_empty() {
                    let a: Map<String, Value> =
                        k.annotations.iter().map(|(k, n)| (k.to_string(), (*n).into())).collect();
                    m.insert("annotations".into(), Value::Object(a));
                }
            }
            Err(err) => {
                m.insert("decodeError".into(), format!("kms v2 envelope: {err}").into());
            }
        },
        "kms-v1" => match encoding::kms_v1_dek_len(e.payload) {
            Some(n) => {
                m.insert("encryptedDEKBytes".into(), n.into());
            }
            None => {
                m.insert("decodeError".into(), "kms v1 envelope: DEK length past the end".into());
            }
        },
        _ => {}
    }
    json!({"encrypted": m})
}
