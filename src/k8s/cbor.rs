//! CBOR values (`d9 d9 f7` + the object) to JSON, with Kubernetes' CBOR conventions.
//!
//! Facts (k8s.io/apimachinery/pkg/runtime/serializer/cbor/internal/modes/encode.go): Kubernetes
//! writes Go strings and struct field names as CBOR *byte* strings (major type 2), and `[]byte`
//! as a byte string inside tag 22 ("expected later base64 encoding"), so that CBOR maps onto the
//! same JSON as before. Hence, here:
//! - a byte string is a JSON string when it is UTF-8, else `{"base64": "..."}`;
//! - tag 22 around bytes is the base64 text of those bytes (what JSON shows for `[]byte`);
//! - tags 2 and 3 (bignums) are the number, or its decimal string when JSON cannot hold it;
//! - any other tag (55799 self-describe, 0 date text, ...) is its content;
//! - map keys become strings (text or UTF-8 bytes as is, anything else as its JSON text);
//! - floats that JSON cannot hold (NaN, ±Inf) become the strings `"NaN"`, `"+Inf"`, `"-Inf"`;
//!   integers outside `i64`/`u64` become their decimal string.
//!
//! Parsing is `ciborium`'s, with a nesting limit of [`MAX_CBOR_DEPTH`] (the same as
//! `serde_json`'s default for JSON values). Byte and text strings are read in chunks as they
//! arrive, so a hostile length header costs no memory beyond the input.

use serde_json::{Map, Number, Value};

use super::render::base64;

/// Deepest CBOR nesting accepted.
pub const MAX_CBOR_DEPTH: usize = 128;

/// Decodes one CBOR data item (after the caller has checked the `d9 d9 f7` magic; the tag is
/// part of the item) into JSON. `Err` carries ciborium's message (no value bytes) or trailing
/// garbage.
pub fn to_json(v: &[u8]) -> Result<Value, String> {
    let mut reader = v;
    let item: ciborium::Value =
        ciborium::de::from_reader_with_recursion_limit(&mut reader, MAX_CBOR_DEPTH).map_err(|e| describe(&e))?;
    if !reader.is_empty() {
        return Err(format!("{} bytes after the CBOR item", reader.len()));
    }
    // Kubernetes' CBOR decoder refuses a map that holds a key twice (one would hide the other).
    let mut dup = None;
    let v = convert(item, &mut dup);
    match dup {
        Some(n) => Err(format!("a CBOR map holds a key of {n} bytes twice")),
        None => Ok(v),
    }
}

fn describe<T: std::fmt::Debug>(e: &ciborium::de::Error<T>) -> String {
    match e {
        ciborium::de::Error::Io(_) => "truncated CBOR".into(),
        ciborium::de::Error::Syntax(at) => format!("CBOR syntax error at byte {at}"),
        ciborium::de::Error::Semantic(at, msg) => match at {
            Some(at) => format!("CBOR error at byte {at}: {msg}"),
            None => format!("CBOR error: {msg}"),
        },
        ciborium::de::Error::RecursionLimitExceeded => format!("CBOR nested deeper than {MAX_CBOR_DEPTH}"),
    }
}

/// The JSON form of a CBOR item; `dup` gets the length of the first map key met twice.
fn convert(v: ciborium::Value, dup: &mut Option<usize>) -> Value {
    use ciborium::Value as C;
    match v {
        C::Null => Value::Null,
        C::Bool(b) => Value::Bool(b),
        C::Integer(i) => {
            let i = i128::from(i);
            if let Ok(x) = i64::try_from(i) {
                Value::from(x)
            } else if let Ok(x) = u64::try_from(i) {
                Value::from(x)
            } else {
                Value::String(i.to_string())
            }
        }
        C::Float(f) => Number::from_f64(f).map_or_else(
            || {
                Value::String(
                    if f.is_nan() {
                        "NaN"
                    } else if f > 0.0 {
                        "+Inf"
                    } else {
                        "-Inf"
                    }
                    .into(),
                )
            },
            Value::Number,
        ),
        C::Text(s) => Value::String(s),
        C::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => Value::String(s),
            Err(e) => serde_json::json!({"base64": base64(e.as_bytes())}),
        },
        C::Tag(22, inner) => match *inner {
            C::Bytes(b) => Value::String(base64(&b)),
            other => convert(other, dup),
        },
        C::Tag(tag @ (2 | 3), inner) => match *inner {
            C::Bytes(b) => bignum(tag == 3, &b),
            other => convert(other, dup),
        },
        C::Tag(_, inner) => convert(*inner, dup),
        C::Array(a) => Value::Array(a.into_iter().map(|x| convert(x, dup)).collect()),
        C::Map(entries) => {
            let mut m = Map::new();
            for (k, v) in entries {
                let key = match convert(k, dup) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                if m.contains_key(&key) {
                    dup.get_or_insert(key.len());
                }
                m.insert(key, convert(v, dup));
            }
            Value::Object(m)
        }
        _ => Value::Null,
    }
}

/// Tags 2 and 3 (RFC 8949 §3.4.3): a big-endian magnitude `n`, the value `n` or `-1 - n`.
/// As a number when it fits JSON's integers, else decimal text; past 128 bits, base64.
fn bignum(negative: bool, b: &[u8]) -> Value {
    let digits = b.iter().skip_while(|&&x| x == 0).count();
    if digits > 16 {
        return serde_json::json!({"base64": base64(b)});
    }
    let n = b.iter().fold(0u128, |acc, &x| acc << 8 | u128::from(x));
    let v = if negative { i128::try_from(n).map(|n| -1 - n).ok() } else { i128::try_from(n).ok() };
    match v {
        Some(i) => i64::try_from(i)
            .map(Value::from)
            .or_else(|_| u64::try_from(i).map(Value::from))
            .unwrap_or_else(|_| Value::String(i.to_string())),
        None if negative => Value::String(format!("-{}", n.saturating_add(1))),
        None => Value::String(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubernetes_cbor_conventions() {
        // d9d9f7 a2 | 44 "kind" 49 "ConfigMap" | 44 "data" d6 43 01 02 03
        let mut v = vec![0xd9, 0xd9, 0xf7, 0xa2, 0x44];
        v.extend_from_slice(b"kind");
        v.push(0x49);
        v.extend_from_slice(b"ConfigMap");
        v.push(0x44);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&[0xd6, 0x43, 1, 2, 3]);
        assert_eq!(to_json(&v).unwrap(), json!({"kind": "ConfigMap", "data": "AQID"}));
        // The same key twice: refused, as Kubernetes' decoder does (the last one was shown).
        let mut dup = b"\xd9\xd9\xf7\xa2\x44kind\x43One\x44kind\x43Two".to_vec();
        assert_eq!(to_json(&dup).unwrap_err(), "a CBOR map holds a key of 4 bytes twice");
        dup[4] = 0x64; // the first key as text: the same JSON key
        assert!(to_json(&dup).is_err());
        // Text strings, negative and big integers, floats, non-UTF-8 bytes, integer keys.
        let w = [
            0xa5, 0x61, b'a', 0x20, // "a": -1
            0x61, b'b', 0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0, // "b": bignum 2^64
            0x61, b'c', 0xf9, 0x7e, 0x00, // "c": NaN (half)
            0x61, b'd', 0x42, 0xff, 0x00, // "d": h'ff00'
            0x01, 0xf5, // 1: true
        ];
        assert_eq!(to_json(&[0xc3, 0x41, 0x05]).unwrap(), json!(-6));
        assert_eq!(to_json(&[0xc2, 0x42, 0x01, 0x00]).unwrap(), json!(256));
        assert_eq!(
            to_json(&w).unwrap(),
            json!({"a": -1, "b": "18446744073709551616", "c": "NaN", "d": {"base64": "/wA="}, "1": true})
        );
    }

    #[test]
    fn hostile_cbor_is_refused_cleanly() {
        assert!(to_json(&[0xd9, 0xd9, 0xf7]).is_err()); // tag with no content
        assert!(to_json(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]).is_err()); // 2^64-1 byte string
        assert!(to_json(&[0x9b, 0x00, 0x00, 0x00, 0x10, 0, 0, 0, 0]).is_err()); // 2^36 items announced
        assert_eq!(to_json(&[0xf6, 0x00]).unwrap_err(), "1 bytes after the CBOR item");
        let deep = vec![0x81; 1000]; // arrays nested 1000 deep
        assert!(to_json(&deep).unwrap_err().contains("nested deeper"), "{:?}", to_json(&deep));
    }
}
