//! Schema-driven protobuf decoding: a message described as a table of `(field number, JSON name,
//! type)` is turned into a JSON object with Kubernetes' field names. The tables themselves are in
//! [`super::kinds`]; this file is the walker.
//!
//! Rules:
//! - a field the table does not list is kept under its number, rendered by [`super::generic`]
//!   (newer Kubernetes versions add fields; protobuf readers must skip them, we show them);
//! - a listed field of the wrong wire type, a map entry or message that does not parse, or a
//!   time out of range records an error naming the path (`field 2 (spec): ...`) and keeps what
//!   can be shown: never a silent partial object;
//! - singular fields seen twice keep the last value (protobuf's rule), repeated fields collect
//!   in order, map fields merge their entries (last value of a key wins).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::generic;
use super::render::{is_text, redacted, Ctx};
use super::secret;
use super::time::{self, Precision};
use super::wire::{cut_field, fields, validate, varint, Wire, WireError};

/// The type of one schema field.
#[derive(Debug)]
pub enum Ty {
    /// `string`.
    Str,
    /// `int32`/`int64` (two's complement varint).
    Int,
    /// `bool`.
    Bool,
    /// `bytes` (base64 in JSON).
    Bytes,
    /// `metav1.Time`.
    Time,
    /// `metav1.MicroTime`.
    MicroTime,
    /// `map<string, string>`.
    StrMap,
    /// `map<string, bytes>` (values base64 in JSON).
    BytesMap,
    /// A Secret's `map<string, string>` (`stringData`): values redacted unless shown.
    SecretStrMap,
    /// A Secret's `map<string, bytes>` (`data`): values redacted unless shown.
    SecretBytesMap,
    /// A Secret's `type`: shown when it looks like a type name (1 to 253 visible ASCII
    /// characters), else, unless shown, redacted with an error (damage may have put data there).
    SecretType,
    /// A message with a table here.
    Msg(&'static Msg),
    /// A message whose table this module does not carry: rendered by field number, but its
    /// bytes must parse as a message.
    AnyMsg,
    /// `metav1.FieldsV1{Raw = 1}`: JSON text, shown as JSON.
    FieldsV1,
    /// `runtime.RawExtension{raw = 1}`: usually JSON text, shown as JSON when it is.
    RawExtension,
}

impl Ty {
    /// What a value of this type is, for an error message (a message by its table's name).
    pub fn name(&self) -> &'static str {
        match self {
            Ty::Str | Ty::SecretType => "string",
            Ty::Int => "integer",
            Ty::Bool => "bool",
            Ty::Bytes => "bytes",
            Ty::Time => "Time",
            Ty::MicroTime => "MicroTime",
            Ty::StrMap | Ty::SecretStrMap => "map<string, string>",
            Ty::BytesMap | Ty::SecretBytesMap => "map<string, bytes>",
            Ty::Msg(m) => m.name,
            Ty::AnyMsg => "message",
            Ty::FieldsV1 => "FieldsV1",
            Ty::RawExtension => "RawExtension",
        }
    }
}

/// One field of a message table.
#[derive(Debug)]
pub struct Field {
    /// Protobuf field number.
    pub num: u32,
    /// Kubernetes JSON name.
    pub name: &'static str,
    /// Type.
    pub ty: Ty,
    /// `repeated` (a JSON array).
    pub repeated: bool,
}

/// A message table.
#[derive(Debug)]
pub struct Msg {
    /// Go/proto type name, for documentation and errors.
    pub name: &'static str,
    /// Fields, in any order.
    pub fields: &'static [Field],
}

/// A singular field (table helper).
pub const fn one(num: u32, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: false }
}

/// A repeated field (table helper).
pub const fn many(num: u32, name: &'static str, ty: Ty) -> Field {
    Field { num, name, ty, repeated: true }
}

/// Decodes the message in `buf` under `msg`. Errors go to `cx`; the object holds everything that
/// could be read.
pub fn decode(buf: &[u8], msg: &Msg, cx: &mut Ctx) -> Map<String, Value> {
    let mut out = Map::new();
    let mut unknown: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
    // How many times each listed field was seen: a map entry's number in errors.
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for f in fields(buf) {
        let (n, w) = match f {
            Ok(f) => f,
            Err(e) => {
                broken(buf, e, msg, &mut seen, &mut out, cx);
                break;
            }
        };
        match msg.fields.iter().find(|fd| fd.num == n) {
            Some(fd) => {
                let nth = count(&mut seen, n);
                cx.at(label(n, fd), |cx| field(fd, w, nth, &mut out, cx))
            }
            None => {
                let v = cx.at(format!("field {n}"), |cx| generic::value(w, cx));
                unknown.entry(n).or_default().push(v);
            }
        }
    }
    for (n, mut vs) in unknown {
        let v = if vs.len() == 1 { vs.pop().unwrap_or(Value::Null) } else { Value::Array(vs) };
        out.insert(n.to_string(), v);
    }
    out
}

fn label(n: u32, fd: &Field) -> String {
    format!("field {n} ({})", fd.name)
}

/// The field of `msg` that did not parse at `e`: its error names it when its tag can be read,
/// and a message field whose stated length runs past the end of `buf` (a value cut short, the
/// commonest damage) is read as far as it goes, so that its leading fields (an object's name and
/// namespace) still show. Only a message is: a string or map entry cut short is not shown in part.
fn broken(
    buf: &[u8],
    e: WireError,
    msg: &Msg,
    seen: &mut BTreeMap<u32, usize>,
    out: &mut Map<String, Value>,
    cx: &mut Ctx,
) {
    let mut pos = e.offset;
    let Some(n) = varint(buf, &mut pos).and_then(|tag| u32::try_from(tag >> 3).ok()).filter(|&n| n > 0) else {
        return cx.error(e);
    };
    let Some(fd) = msg.fields.iter().find(|fd| fd.num == n) else {
        return cx.at(format!("field {n}"), |cx| cx.error(e));
    };
    match cut_field(buf, e.offset) {
        Some((_, stated, rest)) if matches!(fd.ty, Ty::Msg(_)) => {
            let nth = count(seen, n);
            cx.at(label(n, fd), |cx| {
                cx.error(format!("{stated} bytes stated, {} left: cut short, read as far as it goes", rest.len()));
                field(fd, Wire::Bytes(rest), nth, out, cx)
            })
        }
        _ => cx.at(label(n, fd), |cx| cx.error(e)),
    }
}

/// Counts one more occurrence of field `n`: which one it is (from 1), for map entries' errors.
fn count(seen: &mut BTreeMap<u32, usize>, n: u32) -> usize {
    let c = seen.entry(n).or_default();
    *c += 1;
    *c
}

/// Decodes one occurrence of `fd`, the `nth` one seen (counted from 1), into `out`.
fn field(fd: &Field, w: Wire<'_>, nth: usize, out: &mut Map<String, Value>, cx: &mut Ctx) {
    if !cx.spend(fd.name.len() + 4) {
        return;
    }
    let map_kind = match fd.ty {
        Ty::StrMap | Ty::SecretStrMap => Some(false),
        Ty::BytesMap | Ty::SecretBytesMap => Some(true),
        _ => None,
    };
    if let Some(is_bytes) = map_kind {
        let secret = matches!(fd.ty, Ty::SecretStrMap | Ty::SecretBytesMap) && !cx.show_secrets;
        let slot = out.entry(fd.name).or_insert_with(|| Value::Object(Map::new()));
        let parsed = match w {
            Wire::Bytes(b) => map_entry(b),
            _ => Err(format!("expected a map entry, got {}", w.kind())),
        };
        let (key, val) = match parsed {
            Ok(kv) => kv,
            // A Secret's data: the place only, no number or byte read from the data.
            Err(_) if secret => return cx.error(format!("entry {nth} damaged")),
            Err(e) => return cx.error(e),
        };
        let Value::Object(m) = slot else { return };
        let Some(k) = map_key(key, secret, nth, m, cx) else { return };
        let v = match (secret, is_bytes) {
            (true, _) => redacted(val.len()),
            (false, true) => cx.schema_bytes(val),
            (false, false) => cx.multiline_text(val),
        };
        m.insert(k, v);
        return;
    }
    let v = value(&fd.ty, w, cx);
    if fd.repeated {
        match out.entry(fd.name).or_insert_with(|| Value::Array(Vec::new())) {
            Value::Array(a) => a.push(v),
            other => *other = Value::Array(vec![v]),
        }
    } else {
        out.insert(fd.name.to_owned(), v);
    }
}

/// One `{key = 1, value = 2}` map entry's key and value bytes, else what is wrong with it.
fn map_entry(b: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let (mut key, mut val): (&[u8], &[u8]) = (b"", b"");
    for f in fields(b) {
        match f {
            Ok((1, Wire::Bytes(k))) => key = k,
            Ok((2, Wire::Bytes(v))) => val = v,
            Ok((n, w)) => {
                return Err(format!(
                    "map entry of {} bytes: field {n} is {}, expected key 1 / value 2",
                    b.len(),
                    w.kind()
                ))
            }
            Err(e) => return Err(format!("map entry of {} bytes: {e}", b.len())),
        }
    }
    Ok((key, val))
}

/// The JSON key of map entry `nth`, `None` past the output budget. In a Secret's data, a key
/// that is not a data key name ([`secret::is_data_key`]) may be the data itself (a damaged or
/// crafted entry): shown as a placeholder, with an error. Elsewhere in a Secret (labels,
/// annotations), so is a key that is not text.
fn map_key(key: &[u8], secret_data: bool, nth: usize, m: &Map<String, Value>, cx: &mut Ctx) -> Option<String> {
    let hide = if secret_data { !secret::is_data_key(key) } else { cx.redacting() && !is_text(key, false) };
    let k = if hide {
        cx.error(format!("entry {nth}: key of {} bytes is not a key name; redacted", key.len()));
        secret::redacted_key(key.len(), m)
    } else {
        if std::str::from_utf8(key).is_err() {
            // Shown with replacement characters; told, as a string value that is not UTF-8 is.
            cx.error(format!("entry {nth}: key of {} bytes is not UTF-8", key.len()));
        }
        String::from_utf8_lossy(key).into_owned()
    };
    cx.spend(k.len() + 4).then_some(k)
}

/// Renders one value of type `ty`; on a mismatch records an error and falls back to the generic
/// rendering (which redacts for a Secret).
fn value(ty: &Ty, w: Wire<'_>, cx: &mut Ctx) -> Value {
    match (ty, w) {
        (Ty::Int, Wire::Varint(v)) => Value::from(v as i64),
        (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        (Ty::Str, Wire::Bytes(b)) => cx.schema_text(b),
        (Ty::SecretType, Wire::Bytes(b)) => {
            let looks_like_type = (1..=253).contains(&b.len()) && b.iter().all(u8::is_ascii_graphic);
            if cx.redacting() && !looks_like_type {
                cx.error(format!("not a Secret type name ({} bytes); redacted", b.len()));
                return redacted(b.len());
            }
            cx.schema_text(b)
        }
        (Ty::Bytes, Wire::Bytes(b)) => cx.schema_bytes(b),
        (Ty::Time, Wire::Bytes(b)) => time_value(b, Precision::Seconds, cx),
        (Ty::MicroTime, Wire::Bytes(b)) => time_value(b, Precision::Micros, cx),
        (Ty::Msg(m), Wire::Bytes(b)) => cx.nested(b, |b, cx| Value::Object(decode(b, m, cx))),
        (Ty::AnyMsg, Wire::Bytes(b)) => {
            if b.is_empty() {
                return Value::Object(Map::new());
            }
            if let Err(e) = validate(b) {
                cx.error(format!("not a protobuf message ({} bytes): {e}", b.len()));
                return cx.bytes(b);
            }
            cx.nested(b, generic::message)
        }
        (Ty::FieldsV1 | Ty::RawExtension, Wire::Bytes(b)) => cx.nested(b, raw_json),
        (ty, w) => {
            cx.error(format!("{} on the wire, expected {}", w.kind(), ty.name()));
            generic::value(w, cx)
        }
    }
}

/// `{seconds = 1, nanos = 2}` as RFC 3339 (see [`super::time`]).
fn time_value(b: &[u8], p: Precision, cx: &mut Ctx) -> Value {
    // No bytes is Go's zero time as the API server reads it (time_proto.go: an empty Time is
    // `time.Time{}`), which its JSON shows as null; not the epoch (review 49b).
    if b.is_empty() {
        return Value::Null;
    }
    let (mut secs, mut nanos) = (0i64, 0i64);
    for f in fields(b) {
        match f {
            Ok((1, Wire::Varint(v))) => secs = v as i64,
            Ok((2, Wire::Varint(v))) => nanos = v as i64,
            // seconds or nanos of another wire type: the decoder refuses the Time (gogo's
            // "wrong wireType"), and so does this one, rather than show the epoch.
            Ok((n @ (1 | 2), w)) => {
                cx.error(format!("time: field {n} is {}, not a varint", w.kind()));
                return cx.bytes(b);
            }
            Ok(_) => {}
            Err(e) => {
                cx.error(format!("time: {e}"));
                return cx.bytes(b);
            }
        }
    }
    match time::format(secs, nanos, p) {
        Some(Some(s)) => Value::String(s),
        Some(None) => Value::Null,
        None => {
            cx.error(format!("time out of range (seconds {secs}, nanos {nanos})"));
            serde_json::json!({"seconds": secs, "nanos": nanos})
        }
    }
}

/// A `{raw/Raw = 1}` wrapper whose bytes are JSON text: the parsed JSON, else the bytes.
fn raw_json(b: &[u8], cx: &mut Ctx) -> Value {
    let mut raw: &[u8] = b"";
    for f in fields(b) {
        match f {
            Ok((1, Wire::Bytes(r))) => raw = r,
            Ok((1, w)) => {
                cx.error(format!("raw: field 1 is {}, not length-delimited", w.kind()));
                return cx.bytes(b);
            }
            Ok(_) => {}
            Err(e) => {
                cx.error(e);
                return cx.bytes(b);
            }
        }
    }
    if raw.is_empty() {
        return Value::Null;
    }
    if cx.redacting() {
        return cx.bytes(raw);
    }
    match serde_json::from_slice::<Value>(raw) {
        Ok(v) if cx.spend(raw.len()) => v,
        Ok(_) => Value::String("<truncated>".into()),
        Err(e) => {
            cx.error(format!("raw is not JSON ({} bytes): {e}", raw.len()));
            cx.bytes(raw)
        }
    }
}
