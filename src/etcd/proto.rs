//! Just enough protobuf to read etcd's records: varints and length-delimited fields, every read
//! checked, no allocation.

/// Reads a varint at `*pos`, advancing it. `None` on truncation or more than 10 bytes.
pub fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
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

/// The `key` (1) and `lease` (6) fields of an `mvccpb.KeyValue`; `None` when malformed.
pub fn kv_key_lease(value: &[u8]) -> Option<(&[u8], u64)> {
    let (mut key, mut lease) = (None, 0);
    for f in fields(value) {
        match f.ok()? {
            (1, Field::Bytes(k)) => key = Some(k),
            (6, Field::Varint(l)) => lease = l,
            _ => {}
        }
    }
    Some((key.unwrap_or(&[]), lease))
}

/// The `key` field (1) of an `mvccpb.KeyValue`.
pub fn kv_key(value: &[u8]) -> Option<&[u8]> {
    let mut key = None;
    for f in fields(value) {
        match f.ok()? {
            (1, Field::Bytes(k)) => key = Some(k),
            _ => continue,
        }
    }
    Some(key.unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_kv_key_and_rejects_garbage() {
        // KeyValue{key:"ab", create_revision:300, value:"x"}: 0a 02 61 62 | 10 ac 02 | 2a 01 78
        let v = [0x0a, 2, b'a', b'b', 0x10, 0xac, 0x02, 0x2a, 1, b'x'];
        assert_eq!(kv_key(&v), Some(&b"ab"[..]));
        let mut p = 5;
        assert_eq!(varint(&v, &mut p), Some(300));
        assert_eq!(kv_key(&[0x0a, 5, b'a']), None); // length past the end
        assert_eq!(kv_key(&[0x0b]), None); // wire type 3
        assert_eq!(kv_key(&[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
    }
}
