//! Secrets' manifests kept inside Kubernetes objects of another kind stored as protobuf: a
//! ConfigMap whose data holds `kind: Secret` YAML (a Cluster API ClusterResourceSet's, what
//! `kubectl create configmap --from-file=secret.yaml` writes), and the last-applied annotation
//! that copies it. The API server writes ConfigMaps as protobuf, so the rule JSON objects get
//! ([`super::secret_text::holds_secret_object`]: a string inside that holds a manifest) is applied
//! to a protobuf object's strings here, which are its fields' bytes (review 43b: the same
//! ConfigMap was withheld as JSON and printed as protobuf).
//!
//! Stored bytes shown as they are (`get`, `log`, `dump` without `--decode`) are withheld whole, as
//! a JSON object holding a manifest is. Decoded, the object keeps its own kind and schema and only
//! the strings holding a manifest become placeholders ([`redact_decoded`]); when none of its
//! decoded strings holds it (it sat in bytes, or in a field the decode could not place), every
//! field that may carry data is redacted as a Secret's are.

use super::secret_text::{has, may_hold_secret, text_holds_secret};
use super::wire::{cut_field, fields, Wire};
use serde_json::Value;
use std::ops::ControlFlow;

/// How many messages deep the walk reads (an annotation is three below the envelope's body).
const MAX_MESSAGES: usize = 16;

/// How many texts holding a manifest are gathered for a decode's redaction; past it, the object
/// is redacted whole.
const MAX_TEXTS: usize = 64;

/// How deep a decoded object is walked; past it, a string that may hold a Secret is redacted
/// unread.
const MAX_VALUE_DEPTH: usize = 64;

/// `Secret` in UTF-16 (either byte order: the big-endian form holds it too, one byte on).
const SECRET_UTF16: &[u8] = b"S\0e\0c\0r\0e\0t";

/// Whether bytes may hold a Secret's manifest anywhere inside, in any spelling the text rules read
/// (so whether a message is worth walking).
fn may_hold(b: &[u8]) -> bool {
    may_hold_secret(b) || has(b, SECRET_UTF16)
}

/// A field's bytes read as text: UTF-8 with no control character but tab and line ends (a
/// protobuf message has tags below 0x20 besides `\n`, so it is not one), or UTF-16 behind its
/// byte-order mark.
fn is_text(b: &[u8]) -> bool {
    matches!(b, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]) || super::render::is_text(b, true)
}

/// Whether one text field holds a Secret's manifest: read when it names `Secret` and a data field
/// (the rule a JSON object's strings get, [`super::secret_text::holds_secret_object`]; a name
/// alone, a reference to a Secret, is no manifest), or is UTF-16, or spells with escapes.
fn text_holds_manifest(t: &[u8]) -> bool {
    let named = has(t, b"Secret") && (has(t, b"data") || has(t, b"Data"));
    let spelled = matches!(t, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]) || has(t, b"\\u") || has(t, b"\\x");
    (named || spelled) && text_holds_secret(t)
}

/// Walks the protobuf message `msg`: every length-delimited field is a text (judged on its own)
/// or a message (walked in turn, when it may hold a manifest); a field cut short (a value
/// truncated, or damaged there) is taken as the bytes that are. `found` gets each text holding a
/// manifest.
fn walk<'a>(msg: &'a [u8], depth: usize, found: &mut dyn FnMut(&'a [u8]) -> ControlFlow<()>) -> ControlFlow<()> {
    let mut it = fields(msg);
    loop {
        let at = it.offset();
        let b = match it.next() {
            None => return ControlFlow::Continue(()),
            Some(Ok((_, Wire::Bytes(b)))) => b,
            Some(Ok(_)) => continue,
            Some(Err(_)) => match cut_field(msg, at) {
                Some((_, _, rest)) => rest,
                None => return ControlFlow::Continue(()),
            },
        };
        if is_text(b) {
            if text_holds_manifest(b) {
                found(b)?;
            }
        } else if depth < MAX_MESSAGES && may_hold(b) {
            walk(b, depth + 1, found)?;
        }
    }
}

/// Whether a text field anywhere in the protobuf message `msg` holds a Secret's manifest. A
/// message that may hold none ([`may_hold`]: no `Secret` in any spelling) costs one search of
/// its bytes. Within the stored value's budget of parsing ([`super::secret::holds_plaintext`]
/// sets it).
pub(super) fn message_holds_manifest(msg: &[u8]) -> bool {
    may_hold(msg) && walk(msg, 0, &mut |_| ControlFlow::Break(())).is_break()
}

/// The text fields of `msg` holding a manifest (at most [`MAX_TEXTS`] + 1: more says "too many").
fn manifest_texts(msg: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    if may_hold(msg) {
        let _ = walk(msg, 0, &mut |t| {
            out.push(t);
            if out.len() > MAX_TEXTS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    }
    out
}

/// Redacts, in `decoded` (a protobuf `value` decoded under its own kind, which is not Secret),
/// every string that is a text holding a Secret's manifest, shown as text or as base64 (a
/// ConfigMap's `binaryData`); when one of those texts is not found among the decoded strings (the
/// decode placed it elsewhere, or could not), the object is redacted as a Secret
/// ([`super::redact::redact_json`]). Returns whether the value held one.
pub fn redact_manifests(value: &[u8], decoded: &mut Value) -> bool {
    super::secret_parsed::per_value(|| {
        let body = value.get(super::encoding::PROTOBUF_MAGIC.len()..).unwrap_or_default();
        let texts = manifest_texts(body);
        if texts.is_empty() {
            return false;
        }
        let mut seen = vec![false; texts.len()];
        redact_decoded(decoded, &texts, &mut seen, 0);
        if texts.len() > MAX_TEXTS || seen.contains(&false) {
            super::redact::redact_json(decoded);
        }
        true
    })
}

/// Replaces every string of `v` that is one of `texts` (or its base64), or holds a manifest
/// itself, by a placeholder; marks in `seen` the texts found.
fn redact_decoded(v: &mut Value, texts: &[&[u8]], seen: &mut [bool], depth: usize) {
    use base64::Engine;
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let decoded = base64::engine::general_purpose::STANDARD.decode(b).ok();
            let hit = texts.iter().position(|t| *t == b || decoded.as_deref() == Some(*t));
            if let Some(i) = hit {
                seen[i] = true;
            }
            if hit.is_some() || depth > MAX_VALUE_DEPTH && may_hold(b) || text_holds_manifest(b) {
                *v = super::render::redacted(decoded.map_or(b.len(), |d| d.len()));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_decoded(x, texts, seen, depth + 1)),
        Value::Object(m) => m.values_mut().for_each(|x| redact_decoded(x, texts, seen, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u8, data: &[u8]) -> Vec<u8> {
        let mut f = vec![num << 3 | 2, data.len() as u8];
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn a_manifest_in_a_nested_field_is_found_and_a_mention_is_not() {
        let manifest = b"kind: Secret\nstringData:\n  pw: x\n";
        let entry = [field(1, b"secret.yaml"), field(2, manifest)].concat();
        let raw = [field(1, &field(1, b"cm")), field(2, &entry)].concat();
        assert!(message_holds_manifest(&field(2, &raw)));
        let mention = [field(1, b"note"), field(2, b"rotate the Secret db")].concat();
        assert!(!message_holds_manifest(&field(2, &[field(1, &field(1, b"cm")), field(2, &mention)].concat())));
        // Cut short after the manifest's field: still found.
        let mut cut = field(2, &raw);
        cut.extend_from_slice(&[0x12, 0x7f, b'x']);
        assert!(message_holds_manifest(&cut));
    }

    #[test]
    fn only_the_texts_holding_a_manifest_are_redacted_as_text_or_base64() {
        use base64::Engine;
        let manifest: &[u8] = b"kind: Secret\ndata:\n  pw: eA==\n";
        let texts = [manifest];
        let b64 = base64::engine::general_purpose::STANDARD.encode(manifest);
        let mut v = serde_json::json!({
            "kind": "ConfigMap",
            "metadata": {"name": "a", "annotations": {"note": "the Secret db"}},
            "data": {"s.yaml": "kind: Secret\ndata:\n  pw: eA==\n", "plain": "x"},
            "binaryData": {"b.yaml": b64},
        });
        let mut seen = [false];
        redact_decoded(&mut v, &texts, &mut seen, 0);
        assert!(seen[0]);
        assert_eq!(v["data"]["s.yaml"], "<redacted: 30 bytes>");
        assert_eq!(v["binaryData"]["b.yaml"], "<redacted: 30 bytes>");
        assert_eq!(v["data"]["plain"], "x");
        assert_eq!(v["metadata"]["annotations"]["note"], "the Secret db");
    }

    #[test]
    fn separate_strings_are_judged_apart_and_a_reference_is_no_manifest() {
        // Two strings that make a manifest only when read as one text (tag 0x0a is a line end).
        let a = [field(1, b"k"), field(2, b"# cache\ndata:\n  ttl: 60\n")].concat();
        let b = [field(1, b"w"), field(2, b"# watch\nkind: Secret\nselector: app\n")].concat();
        assert!(!message_holds_manifest(&[field(2, &a), field(2, &b)].concat()));
        let sa = br#"{"kind":"ServiceAccount","metadata":{"name":"b"},"secrets":[{"kind":"Secret","name":"t"}]}"#;
        assert!(!message_holds_manifest(&field(1, &[field(1, b"x"), field(2, sa)].concat())));
    }

    /// A protobuf ConfigMap as the API server stores it: `data` (2) and `binaryData` (3) entries,
    /// and an annotation.
    fn configmap(data: &[(&str, &[u8])], binary: &[(&str, &[u8])], note: &str) -> Vec<u8> {
        use crate::k8s::testpb::{bytes, entry, envelope, meta};
        let mut m = meta("cm", "default", "u-1", 1_700_000_000, &[]);
        m.extend(entry(12, b"note", note.as_bytes()));
        let mut raw = bytes(1, &m);
        for (k, v) in data {
            raw.extend(entry(2, k.as_bytes(), v));
        }
        for (k, v) in binary {
            raw.extend(entry(3, k.as_bytes(), v));
        }
        envelope("v1", "ConfigMap", &raw)
    }

    fn judged(v: &[u8]) -> (bool, String) {
        let key = b"/registry/configmaps/default/cm";
        let shown = crate::k8s::object::decode(key, v, &Default::default()).to_string();
        (crate::k8s::secret::holds_plaintext(key, v), shown)
    }

    #[test]
    fn review_43c_objects_that_only_name_a_secret_are_shown() {
        // A dashboard of 70 KiB naming Secrets beside a datasource; a last-applied annotation
        // listing Secret references; two strings that read as a manifest only when joined.
        let dash = format!(
            "{{\"title\":\"ConfigMaps and Secrets\",\"datasource\":\"p\",\"pad\":\"{}\"}}",
            "x".repeat(70 << 10)
        );
        let sa = r#"{"kind":"ServiceAccount","metadata":{"name":"b"},"secrets":[{"kind":"Secret","name":"t"}]}"#;
        let joined: &[(&str, &[u8])] = &[("a", b"# cache\ndata:\n  ttl: 60\n"), ("b", b"# watch\nkind: Secret\n")];
        for v in
            [configmap(&[("d.json", dash.as_bytes())], &[], "n"), configmap(&[], &[], sa), configmap(joined, &[], "n")]
        {
            let (withheld, shown) = judged(&v);
            assert!(!withheld && !shown.contains("redacted"), "{}", &shown[..shown.len().min(300)]);
        }
    }

    #[test]
    fn review_43c_a_manifest_in_binary_data_utf16_or_a_cut_value_is_withheld_and_redacted() {
        let manifest = "kind: Secret\nstringData:\n  pw: CANARY-43c\n";
        let utf16: Vec<u8> =
            [0xff, 0xfe].into_iter().chain(manifest.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let other: &[(&str, &[u8])] = &[("a.yaml", manifest.as_bytes())];
        let mut cut = configmap(other, &[], "n");
        // Cut two bytes into the manifest (the envelope's last four are empty fields).
        cut.truncate(cut.len() - 6);
        for v in [
            configmap(other, &[("b.yaml", manifest.as_bytes())], "n"),
            configmap(&[], &[("ps.yaml", &utf16)], "n"),
            configmap(other, &[("ps.yaml", &utf16)], "n"),
            cut,
        ] {
            let (withheld, shown) = judged(&v);
            assert!(withheld, "{shown}");
            use base64::Engine;
            let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            for leak in ["CANARY-4".to_string(), b64(manifest.as_bytes()), b64(&utf16)] {
                assert!(!shown.contains(&leak), "{leak}: {shown}");
            }
            assert!(shown.contains("redacted"), "{shown}");
        }
    }
}
