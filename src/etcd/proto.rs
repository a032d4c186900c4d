//! Just enough protobuf to read etcd's records: varints and length-delimited fields, every read
//! checked, no allocation.

/// Reads a varint at `*pos`, advancing it. `None` on truncation or more than 10 bytes.
pub fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos = pos.checked_add(1)?;
        v |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Appends `v` as a varint (the encoding [`varint`] reads).
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 2.
    Bytes(&'a [u8]),
    /// Wire types 1 and 5 (skipped contents).
    Fixed,
}

/// Iterates `(field number, value)` over a message; yields `Err(())` once on malformed input.
pub fn fields(b: &[u8]) -> impl Iterator<Item = Result<(u64, Field<'_>), ()>> + '_ {
    let mut pos = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= b.len() {
            return None;
        }
        let r = next(b, &mut pos);
        failed = r.is_none();
        Some(r.ok_or(()))
    })
}

fn next<'a>(b: &'a [u8], pos: &mut usize) -> Option<(u64, Field<'a>)> {
    let tag = varint(b, pos)?;
    let f = match tag & 7 {
        0 => Field::Varint(varint(b, pos)?),
        2 => {
            let n = usize::try_from(varint(b, pos)?).ok()?;
            let s = b.get(*pos..pos.checked_add(n)?)?;
            *pos += n;
            Field::Bytes(s)
        }
        1 => {
            *pos = pos.checked_add(8).filter(|&p| p <= b.len())?;
            Field::Fixed
        }
        5 => {
            *pos = pos.checked_add(4).filter(|&p| p <= b.len())?;
            Field::Fixed
        }
        _ => return None,
    };
    Some((tag >> 3, f))
}

/// The fields of an `mvccpb.KeyValue` (proto3: absent means zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kv<'a> {
    /// Field 1.
    pub key: &'a [u8],
    /// Field 2.
    pub create_revision: u64,
    /// Field 3.
    pub mod_revision: u64,
    /// Field 4.
    pub version: u64,
    /// Field 5's length (0 when absent).
    pub value_len: usize,
    /// Field 5 (empty when absent).
    pub value: &'a [u8],
    /// Field 6.
    pub lease: u64,
    /// Whether any field besides the key is present (a tombstone has none).
    pub more_than_key: bool,
}

/// Decodes an `mvccpb.KeyValue`; `None` when malformed.
///
/// etcd writes fields in number order, so the fast path reads them in that order and skips the
/// value by its length without touching its bytes; anything unexpected falls back to the general
/// decoder.
pub fn kv(value: &[u8]) -> Option<Kv<'_>> {
    fast_kv(value).or_else(|| slow_kv(value))
}

/// The `key` (1) and `lease` (6) fields of an `mvccpb.KeyValue`; `None` when malformed.
pub fn kv_key_lease(value: &[u8]) -> Option<(&[u8], u64)> {
    kv(value).map(|k| (k.key, k.lease))
}

fn fast_kv(b: &[u8]) -> Option<Kv<'_>> {
    let mut pos = 0;
    if *b.first()? != 0x0a {
        return None;
    }
    pos += 1;
    let n = usize::try_from(varint(b, &mut pos)?).ok()?;
    let mut kv = Kv { key: b.get(pos..pos.checked_add(n)?)?, ..Kv::default() };
    pos += n;
    while pos < b.len() {
        let tag = b[pos];
        pos += 1;
        kv.more_than_key = true;
        match tag {
            0x10 => kv.create_revision = varint(b, &mut pos)?,
            0x18 => kv.mod_revision = varint(b, &mut pos)?,
            0x20 => kv.version = varint(b, &mut pos)?,
            0x2a => {
                let n = usize::try_from(varint(b, &mut pos)?).ok()?;
                kv.value = b.get(pos..pos.checked_add(n)?)?;
                pos += n;
                kv.value_len = n;
            }
            0x30 => kv.lease = varint(b, &mut pos)?,
            _ => return None,
        }
    }
    Some(kv)
}

/// Any other record, by gogo's rules (what etcd's generated `KeyValue.Unmarshal` accepts: field
/// 0, a known field of another wire type, a group not closed are refused; unknown fields are
/// skipped): a value etcd cannot read at startup is no record (review 42a: trailing zero bytes,
/// "field 0", stopped etcd 3.5.1 and were read as a record).
fn slow_kv(value: &[u8]) -> Option<Kv<'_>> {
    use super::gogo::{walk, Seen, KEY_VALUE};
    let mut kv = Kv::default();
    walk(value, KEY_VALUE, &mut |n, f| {
        kv.more_than_key |= n != 1;
        match (n, f) {
            (1, Seen::Bytes(k)) => kv.key = k,
            (2, Seen::Varint(v)) => kv.create_revision = v,
            (3, Seen::Varint(v)) => kv.mod_revision = v,
            (4, Seen::Varint(v)) => kv.version = v,
            (5, Seen::Bytes(v)) => {
                kv.value_len = v.len();
                kv.value = v;
            }
            (6, Seen::Varint(v)) => kv.lease = v,
            _ => {}
        }
    })
    .ok()?;
    Some(kv)
}

/// The `value` field (5) of an `mvccpb.KeyValue` (empty when absent); `None` when malformed.
pub fn kv_value(value: &[u8]) -> Option<&[u8]> {
    kv(value).map(|k| k.value)
}

/// The `key` field (1) of an `mvccpb.KeyValue`.
pub fn kv_key(value: &[u8]) -> Option<&[u8]> {
    kv(value).map(|k| k.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kv_key_and_rejects_garbage() {
        // KeyValue{key:"ab", create_revision:300, value:"x"}: 0a 02 61 62 | 10 ac 02 | 2a 01 78
        let v = [0x0a, 2, b'a', b'b', 0x10, 0xac, 0x02, 0x2a, 1, b'x'];
        assert_eq!(kv_key(&v), Some(&b"ab"[..]));
        assert_eq!(kv_key_lease(&v), Some((&b"ab"[..], 0)));
        // Fields out of order (lease before value) take the slow path and agree.
        let w = [0x0a, 1, b'k', 0x30, 0x07, 0x2a, 1, b'x'];
        assert_eq!(fast_kv(&w).map(|k| (k.key, k.lease)), Some((&b"k"[..], 7)));
        assert_eq!(fast_kv(&w), slow_kv(&w));
        assert_eq!(kv(&v).map(|k| (k.value, k.value_len)), Some((&b"x"[..], 1)));
        assert_eq!(slow_kv(&w).map(|k| k.value), Some(&b"x"[..]));
        let u = [0x30, 0x07, 0x0a, 1, b'k'];
        assert_eq!(fast_kv(&u), None);
        assert_eq!(kv_key_lease(&u), Some((&b"k"[..], 7)));
        let mut p = 5;
        assert_eq!(varint(&v, &mut p), Some(300));
        assert_eq!(kv_key(&[0x0a, 5, b'a']), None); // length past the end
        assert_eq!(kv_key(&[0x0b]), None); // wire type 3
        assert_eq!(kv_key(&[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
    }

    #[test]
    fn refuses_what_etcds_keyvalue_unmarshal_refuses() {
        // A record grown by two zero bytes (its element's size raised by 2, review 42a): "field 0,
        // varint 0", which stopped etcd 3.5.1 ("illegal tag 0"), was read as the record.
        let v = [0x0a, 1, b'k', 0x10, 2, 0x2a, 1, b'x'];
        assert!(kv(&v).is_some());
        assert_eq!(kv(&[&v[..], &[0, 0]].concat()), None);
        // A known field of another wire type: the key as a varint, the value as a fixed64.
        assert_eq!(kv(&[0x08, 1]), None);
        assert_eq!(kv(&[0x0a, 1, b'k', 0x29, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        // Unknown fields are skipped, a closed group too (field 7: varint; field 9: a group).
        let u = [&v[..], &[0x38, 5, 0x4b, 0x38, 1, 0x4c]].concat();
        assert_eq!(kv(&u).map(|k| (k.key, k.value)), Some((&b"k"[..], &b"x"[..])));
        // A group not closed is refused.
        assert_eq!(kv(&[&v[..], &[0x4b, 0x38, 1]].concat()), None);
    }
}
