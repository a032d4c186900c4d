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

use super::secret_text::{may_hold_secret, text_holds_secret};
use super::wire::{fields, Wire};
use serde_json::Value;

/// How many messages deep the walk reads (an annotation is three below the envelope's body);
/// deeper bytes are judged as text only.
const MAX_MESSAGES: usize = 16;

/// How deep a decoded object is walked; past it, a string that may hold a Secret is redacted
/// unread.
const MAX_VALUE_DEPTH: usize = 64;

/// Whether a length-delimited field anywhere in the protobuf message `msg` (read as text, or as a
/// message again) holds a Secret's manifest. Only bytes that may hold one ([`may_hold_secret`]:
/// naming `Secret`, an escape of it, or a Secret's fields) are read on, so an object that names no
/// Secret costs one search of its bytes. Within the stored value's budget of parsing
/// ([`super::secret::holds_plaintext`] sets it).
pub(super) fn message_holds_manifest(msg: &[u8]) -> bool {
    fn walk(msg: &[u8], depth: usize) -> bool {
        for f in fields(msg) {
            // A message cut or damaged here: what was read before it decided.
            let Ok((_, w)) = f else { break };
            let Wire::Bytes(b) = w else { continue };
            if may_hold_secret(b) && (text_holds_secret(b) || depth < MAX_MESSAGES && walk(b, depth + 1)) {
                return true;
            }
        }
        false
    }
    may_hold_secret(msg) && walk(msg, 0)
}

/// Redacts, in an object decoded from protobuf whose kind is not Secret, every string that holds
/// a Secret's manifest (`"<redacted: N bytes>"`). Returns how many it redacted.
pub(super) fn redact_decoded(v: &mut Value) -> usize {
    fn walk(v: &mut Value, depth: usize) -> usize {
        match v {
            Value::String(t) => {
                let b = t.as_bytes();
                if may_hold_secret(b) && (depth > MAX_VALUE_DEPTH || text_holds_secret(b)) {
                    *v = super::render::redacted(b.len());
                    1
                } else {
                    0
                }
            }
            Value::Array(a) => a.iter_mut().map(|x| walk(x, depth + 1)).sum(),
            Value::Object(m) => m.values_mut().map(|x| walk(x, depth + 1)).sum(),
            _ => 0,
        }
    }
    walk(v, 0)
}

/// Redacts, in `decoded` (a protobuf `value` decoded under its own kind, which is not Secret),
/// every string holding a Secret's manifest; when the value holds one that no decoded string
/// shows (it sat in bytes, or where the decode could not place it), redacts the object as a
/// Secret ([`redact_json`]). Returns whether the value held one.
pub fn redact_manifests(value: &[u8], decoded: &mut Value) -> bool {
    super::secret_parsed::per_value(|| {
        let body = value.get(super::encoding::PROTOBUF_MAGIC.len()..).unwrap_or_default();
        if !message_holds_manifest(body) {
            return false;
        }
        if redact_decoded(decoded) == 0 {
            super::redact::redact_json(decoded);
        }
        true
    })
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
    fn only_strings_holding_a_manifest_are_redacted() {
        let mut v = serde_json::json!({
            "kind": "ConfigMap",
            "metadata": {"name": "a", "annotations": {"note": "the Secret db"}},
            "data": {"s.yaml": "kind: Secret\ndata:\n  pw: eA==\n", "plain": "x"},
        });
        assert_eq!(redact_decoded(&mut v), 1);
        assert_eq!(v["data"]["s.yaml"], "<redacted: 30 bytes>");
        assert_eq!(v["data"]["plain"], "x");
        assert_eq!(v["metadata"]["annotations"]["note"], "the Secret db");
    }
}
