//! Redacting a Secret already parsed (from JSON or CBOR, or its protobuf metadata) for display:
//! its data's values, anything in a place that may hold them, and the annotations that may copy
//! them. Which values are Secrets, and how their bytes may lie, is [`super::secret`]'s.

use serde_json::{Map, Value};

use super::render::redacted;
use super::secret::is_type_name;
use super::secret::{is_data_key, is_type_word, may_copy_data, redacted_key, SAFE_TOP};

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
    let ann = match meta.get_mut("annotations") {
        Some(Value::Object(ann)) => ann,
        // Not the map the API server writes (a string, an array): it may hold anything.
        Some(Value::Null) | None => return,
        Some(other) => {
            *other = redacted(json_len(other));
            return;
        }
    };
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

/// Bytes that standard base64 text decodes to (padding and whitespace-free input assumed); text
/// that is no base64 (a CBOR Secret's data written as text strings) is its own length (review
/// 43b: `SEKRIT-03` said 6 bytes).
fn base64_decoded_len(s: &str) -> usize {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if s.len() % 4 != 0 || !s.bytes().all(alphabet) {
        return s.len();
    }
    let t = s.trim_end_matches('=');
    t.len() * 3 / 4
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_data_value_s_length_is_its_bytes_base64_or_not() {
        assert_eq!(super::base64_decoded_len("aHVudGVyMg=="), 7);
        assert_eq!(super::base64_decoded_len("SEKRIT-03"), 9);
    }
}
