//! Protobuf without a schema: fields by number, as `{"1": ..., "2": {...}}`.
//!
//! What each wire type becomes:
//! - varint: a JSON number, read as a two's-complement `int64` (Kubernetes uses `int32`,
//!   `int64`, `bool` and enums, never zig-zag `sint`), so `-1` shows as `-1`;
//! - fixed64 / fixed32: the unsigned number (Kubernetes' own types use neither);
//! - length-delimited: printable UTF-8 text as a string; else, if the bytes parse as a whole
//!   protobuf message, that message (recursively, at most [`MAX_DEPTH`](super::render::MAX_DEPTH)
//!   deep); else `{"base64": "..."}`.
//!
//! A field number seen more than once becomes an array (a repeated field); seen once, its single
//! value (a repeated field with one element looks like a singular one: the wire cannot tell).
//! Keys are field numbers in decimal. For a Secret every value becomes a `"<redacted: N bytes>"`
//! placeholder without being looked into (numbers too: eight bytes of data read as a fixed64).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::render::Ctx;
use super::wire::{fields, validate, Wire};

/// Renders the message in `buf` by field number. Fields before any damage are kept; the damage
/// itself is recorded as an error in `cx` (with its byte offset).
pub fn message(buf: &[u8], cx: &mut Ctx) -> Value {
    let mut by_number: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    for f in fields(buf) {
        match f {
            Ok((n, w)) => {
                let v = cx.at(format!("field {n}"), |cx| value(w, cx));
                by_number.entry(n).or_default().push(v);
            }
            Err(e) => cx.error(e),
        }
    }
    let mut m = Map::new();
    for (n, mut vs) in by_number {
        if !cx.spend(16) {
            break;
        }
        let v = if vs.len() == 1 { vs.pop().unwrap_or(Value::Null) } else { Value::Array(vs) };
        m.insert(n.to_string(), v);
    }
    Value::Object(m)
}

/// Renders one field value without a schema.
pub fn value(w: Wire<'_>, cx: &mut Ctx) -> Value {
    // In a Secret a number of unknown meaning may be eight bytes of its data.
    if cx.redacting() {
        match w {
            Wire::Varint(_) | Wire::Fixed64(_) => return super::render::redacted(8),
            Wire::Fixed32(_) => return super::render::redacted(4),
            Wire::Bytes(_) => {}
        }
    }
    match w {
        Wire::Varint(v) => Value::from(v as i64),
        Wire::Fixed64(v) => Value::from(v),
        Wire::Fixed32(v) => Value::from(v),
        Wire::Bytes(b) => bytes(b, cx),
    }
}

/// Renders length-delimited bytes of unknown meaning (see the module docs for the order of
/// guesses).
pub fn bytes(b: &[u8], cx: &mut Ctx) -> Value {
    if cx.redacting() || super::render::printable(b).is_some() {
        return cx.bytes(b);
    }
    if validate(b).is_ok() {
        return cx.nested(b, message);
    }
    cx.bytes(b)
}

#[cfg(test)]
mod tests {
    use super::super::render::MAX_DEPTH;
    use super::super::testpb::{bytes as fb, varint as fv};
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_by_number_with_repeats_nesting_and_text() {
        let inner = [fv(1, 7), fb(2, b"x")].concat();
        let msg = [fb(1, b"hello"), fv(2, u64::MAX), fb(3, &inner), fb(4, &[0xff, 0x00]), fv(5, 1), fv(5, 2)].concat();
        let mut cx = Ctx::new(false, false);
        let v = message(&msg, &mut cx);
        assert_eq!(v, json!({"1": "hello", "2": -1, "3": {"1": 7, "2": "x"}, "4": {"base64": "/wA="}, "5": [1, 2]}));
        assert!(!cx.has_errors());
    }

    #[test]
    fn damage_is_named_and_secrets_are_never_looked_into() {
        let msg = [fb(1, b"ok"), vec![0x12, 0x09, b'a']].concat();
        let mut cx = Ctx::new(false, false);
        assert_eq!(message(&msg, &mut cx), json!({"1": "ok"}));
        assert_eq!(cx.error_text().unwrap(), "length past the end at byte 4");

        let inner = fb(1, b"hunter2");
        let msg = [fb(2, &inner), fb(3, b"hunter2")].concat();
        let mut cx = Ctx::new(true, false);
        let v = message(&msg, &mut cx);
        assert_eq!(v, json!({"2": "<redacted: 9 bytes>", "3": "<redacted: 7 bytes>"}));
        assert!(!serde_json::to_string(&v).unwrap().contains("hunter2"));
    }

    #[test]
    fn nesting_stops_at_the_limit() {
        let mut m = fv(1, 1);
        for _ in 0..(MAX_DEPTH + 5) {
            m = [fb(1, &m), vec![0x10, 0x01]].concat(); // a non-printable message each level
        }
        let mut cx = Ctx::new(false, false);
        let v = bytes(&m, &mut cx);
        assert!(cx.error_text().unwrap().contains("nesting deeper than 32"), "{:?}", cx.error_text());
        let mut depth = 0;
        let mut cur = &v;
        while let Some(next) = cur.get("1") {
            depth += 1;
            cur = next;
        }
        assert_eq!(depth, MAX_DEPTH, "32 nested objects, the last holding the base64 leaf");
    }
}
