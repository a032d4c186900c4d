//! The protobuf wire format, as far as Kubernetes storage needs it: varints and the four wire
//! types a proto2/proto3 message can hold (groups are refused), every read bounds-checked, no
//! allocation. Varints are etcd's reader's ([`crate::etcd::proto::varint`]); the field iteration
//! here goes further than etcd's records need (fixed widths, groups refused, the failing field named).
//!
//! Layout of one field: a varint tag `(field number << 3) | wire type`, then
//! - wire type 0: a varint (int32/int64/bool/enum);
//! - wire type 1: 8 little-endian bytes (fixed64/double);
//! - wire type 2: a varint length `n`, then `n` bytes (string/bytes/message/map entry);
//! - wire type 5: 4 little-endian bytes (fixed32/float).
//!
//! Wire types 3 and 4 (groups) are not used by Kubernetes and are reported as errors.

use std::fmt;

/// The largest field number protobuf allows (2^29 - 1).
pub const MAX_FIELD_NUMBER: u64 = (1 << 29) - 1;

/// One field's value as it sits on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: the bytes after the length.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl Wire<'_> {
    /// A short name of the wire type, for error messages (never the value itself).
    pub fn kind(&self) -> &'static str {
        match self {
            Wire::Varint(_) => "varint",
            Wire::Fixed64(_) => "fixed64",
            Wire::Bytes(_) => "length-delimited",
            Wire::Fixed32(_) => "fixed32",
        }
    }
}

/// Why a message did not parse, and where (offset within the message's own bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireError {
    /// Byte offset, relative to the start of the message being read, of the field that failed.
    pub offset: usize,
    /// What was wrong.
    pub what: &'static str,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

/// Reads a varint at `*pos`, advancing it (etcd's reader: `None` on truncation or more than 10
/// bytes).
pub use crate::etcd::proto::varint;

/// The length-delimited field starting at `at` whose stated length runs past the end of `b` (a
/// message cut short, the commonest damage): its number, the length stated, and the bytes there
/// are. `None` for any other field, or one that cannot be read so far.
pub fn cut_field(b: &[u8], at: usize) -> Option<(u32, u64, &[u8])> {
    let mut pos = at;
    let tag = varint(b, &mut pos)?;
    if tag & 7 != 2 {
        return None;
    }
    let num = u32::try_from(tag >> 3).ok()?;
    let stated = varint(b, &mut pos)?;
    let rest = b.get(pos..)?;
    (stated > rest.len() as u64).then_some((num, stated, rest))
}

/// Iterator over `(field number, value)` of one message; yields one `Err` and stops on malformed
/// input, so a caller sees every field before the damage and then exactly where it is.
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

/// Iterates the fields of the message in `buf`.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, pos: 0, failed: false }
}

impl Fields<'_> {
    /// Where the next field starts (the end of the last one read).
    pub fn offset(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let r = read_field(self.buf, &mut self.pos).map_err(|what| WireError { offset: start, what });
        self.failed = r.is_err();
        Some(r)
    }
}

fn read_field<'a>(b: &'a [u8], pos: &mut usize) -> Result<(u32, Wire<'a>), &'static str> {
    let tag = varint(b, pos).ok_or("truncated or overlong tag")?;
    let number = tag >> 3;
    if number == 0 {
        return Err("field number 0");
    }
    let number =
        u32::try_from(number).ok().filter(|&n| u64::from(n) <= MAX_FIELD_NUMBER).ok_or("field number too large")?;
    let value = match tag & 7 {
        0 => Wire::Varint(varint(b, pos).ok_or("truncated varint")?),
        1 => Wire::Fixed64(u64::from_le_bytes(take(b, pos, 8)?.try_into().map_err(|_| "truncated fixed64")?)),
        2 => {
            let n = varint(b, pos).ok_or("truncated length")?;
            let n = usize::try_from(n).map_err(|_| "length past the end")?;
            Wire::Bytes(take(b, pos, n)?)
        }
        5 => Wire::Fixed32(u32::from_le_bytes(take(b, pos, 4)?.try_into().map_err(|_| "truncated fixed32")?)),
        3 | 4 => return Err("group wire type (not used by Kubernetes)"),
        _ => return Err("invalid wire type"),
    };
    Ok((number, value))
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], &'static str> {
    let end = pos.checked_add(n).ok_or("length past the end")?;
    let s = b.get(*pos..end).ok_or("length past the end")?;
    *pos = end;
    Ok(s)
}

/// Checks that `buf` is a whole, well-formed message with at least one field; returns the number
/// of fields. Used to decide whether unknown bytes are a nested message.
pub fn validate(buf: &[u8]) -> Result<usize, WireError> {
    let mut n = 0usize;
    for f in fields(buf) {
        f?;
        n += 1;
    }
    if n == 0 {
        return Err(WireError { offset: 0, what: "empty" });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_wire_type_and_stops_at_damage() {
        // 08 96 01 | 11 <8 bytes> | 1a 02 'h' 'i' | 25 <4 bytes>
        let mut m = vec![0x08, 0x96, 0x01, 0x11];
        m.extend_from_slice(&7u64.to_le_bytes());
        m.extend_from_slice(&[0x1a, 2, b'h', b'i', 0x25]);
        m.extend_from_slice(&9u32.to_le_bytes());
        let got: Vec<_> = fields(&m).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            got,
            vec![(1, Wire::Varint(150)), (2, Wire::Fixed64(7)), (3, Wire::Bytes(b"hi")), (4, Wire::Fixed32(9))]
        );
        assert_eq!(validate(&m), Ok(4));

        // A length past the end: the good field first, then one error naming the offset.
        let bad = [0x08, 1, 0x12, 5, b'a'];
        let got: Vec<_> = fields(&bad).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], Ok((1, Wire::Varint(1))));
        assert_eq!(got[1], Err(WireError { offset: 2, what: "length past the end" }));
        assert_eq!(got[1].unwrap_err().to_string(), "length past the end at byte 2");
    }

    #[test]
    fn refuses_groups_zero_field_and_overlong_varints() {
        assert_eq!(validate(&[0x0b]).unwrap_err().what, "group wire type (not used by Kubernetes)");
        assert_eq!(validate(&[0x0e]).unwrap_err().what, "invalid wire type");
        assert_eq!(validate(&[0x00, 0x01]).unwrap_err().what, "field number 0");
        assert_eq!(validate(&[]).unwrap_err().what, "empty");
        let long = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(validate(&long).unwrap_err().what, "truncated varint");
        // Field number 2^29 (tag 2^32) is one past the limit.
        let mut big = Vec::new();
        let mut t: u64 = 1 << 32;
        while t >= 0x80 {
            big.push((t as u8) | 0x80);
            t >>= 7;
        }
        big.extend_from_slice(&[t as u8, 0]);
        assert_eq!(validate(&big).unwrap_err().what, "field number too large");
        // Huge declared length on a 64-bit varint: no overflow, no allocation.
        let huge = [0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(validate(&huge).unwrap_err().what, "length past the end");
    }
}
