//! Whether etcd's generated protobuf code (gogo-protobuf 1.3, as etcd 3.5 builds it) accepts a
//! message: the rules its `Unmarshal` and `skip` functions apply, for the small records etcd
//! decodes when it starts (leases, alarms) or on a routine request (users, roles). etcd panics
//! or stops on a record its code refuses, so such a record is damage even when every byte of the
//! tree reads well.
//!
//! What refuses a message:
//! - a varint cut short, or still continuing after 10 bytes (extra bits of a 10th byte are
//!   dropped, not refused);
//! - a tag whose field number, taken as a 32-bit signed integer, is 0 or negative, or whose wire
//!   type is 4 (an end of group outside a group);
//! - a known field with another wire type than its own;
//! - a length that is negative as a 64-bit signed integer or runs past the end, a fixed32/64
//!   cut short;
//! - an unknown field of wire type 6 or 7, or a group (3) not closed before the end (a group
//!   closes at any end-of-group tag, whatever its field number);
//! - an embedded message of a known field refused by the same rules.
//!
//! Accepted: an empty message, unknown fields of wire types 0, 1, 2 and 5, closed groups,
//! repeated fields, any varint value (enums out of range, negative int64s).

/// The wire type a known field must have.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// Wire type 0: integers, enums, bools.
    Varint,
    /// Wire type 2 holding bytes or a string (never looked into).
    Bytes,
    /// Wire type 2 holding an embedded message of this schema.
    Message(&'static Schema),
}

/// A message's known fields: `(field number, kind)`.
pub type Schema = [(i32, Kind)];

/// `leasepb.Lease`: ID, TTL, RemainingTTL (int64).
pub const LEASE: &Schema = &[(1, Kind::Varint), (2, Kind::Varint), (3, Kind::Varint)];
/// `etcdserverpb.AlarmMember`: MemberID (uint64), Alarm (enum).
pub const ALARM_MEMBER: &Schema = &[(1, Kind::Varint), (2, Kind::Varint)];
/// `authpb.UserAddOptions`: no_password (bool).
const USER_ADD_OPTIONS: &Schema = &[(1, Kind::Varint)];
/// `authpb.User`: name, password, roles (repeated string), options.
pub const USER: &Schema = &[(1, Kind::Bytes), (2, Kind::Bytes), (3, Kind::Bytes), (4, Kind::Message(USER_ADD_OPTIONS))];
/// `authpb.Permission`: permType (enum), key, range_end.
const PERMISSION: &Schema = &[(1, Kind::Varint), (2, Kind::Bytes), (3, Kind::Bytes)];
/// `authpb.Role`: name, keyPermission (repeated Permission).
pub const ROLE: &Schema = &[(1, Kind::Bytes), (2, Kind::Message(PERMISSION))];

/// Why a message is refused, and at which byte of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Byte offset in the message where the refused element starts.
    pub at: usize,
    /// What is wrong, in words.
    pub why: String,
}

fn refused(at: usize, why: impl Into<String>) -> Refused {
    Refused { at, why: why.into() }
}

/// Reads a varint as gogo does: at most 10 bytes.
fn varint(b: &[u8], pos: &mut usize) -> Result<u64, Refused> {
    let start = *pos;
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = b.get(*pos) else { return Err(refused(start, "a varint is cut short")) };
        *pos += 1;
        v |= u64::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err(refused(start, "a varint runs past 10 bytes"))
}

/// Skips a length-delimited payload (its length read as a signed 64-bit integer).
fn skip_len(b: &[u8], pos: &mut usize) -> Result<(), Refused> {
    let start = *pos;
    let n = varint(b, pos)?;
    let n = usize::try_from(i64::try_from(n).map_err(|_| refused(start, "a length is negative"))?)
        .map_err(|_| refused(start, "a length is too large"))?;
    *pos = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| refused(start, "a length runs past the end"))?;
    Ok(())
}

/// A length-delimited payload, skipped.
fn payload<'a>(b: &'a [u8], pos: &mut usize) -> Result<&'a [u8], Refused> {
    let mut start = *pos;
    skip_len(b, pos)?;
    varint(b, &mut start)?;
    Ok(&b[start..*pos])
}

fn skip_fixed(b: &[u8], pos: &mut usize, n: usize) -> Result<(), Refused> {
    let start = *pos;
    *pos = pos.checked_add(n).filter(|&e| e <= b.len()).ok_or_else(|| refused(start, "a fixed field is cut short"))?;
    Ok(())
}

/// Skips an unknown field whose tag (wire type `wt`) was read at `tag_at`, groups included.
fn skip_unknown(b: &[u8], pos: &mut usize, wt: u64, tag_at: usize) -> Result<(), Refused> {
    let mut depth = 0usize;
    let mut wt = wt;
    loop {
        match wt {
            0 => {
                varint(b, pos)?;
            }
            1 => skip_fixed(b, pos, 8)?,
            2 => skip_len(b, pos)?,
            3 => depth += 1,
            4 => depth = depth.checked_sub(1).ok_or_else(|| refused(tag_at, "an end of group outside a group"))?,
            5 => skip_fixed(b, pos, 4)?,
            w => return Err(refused(tag_at, format!("illegal wire type {w}"))),
        }
        if depth == 0 {
            return Ok(());
        }
        if *pos >= b.len() {
            return Err(refused(tag_at, "a group is not closed"));
        }
        wt = varint(b, pos)? & 7;
    }
}

/// `mvccpb.KeyValue`: key, create_revision, mod_revision, version, value, lease.
pub const KEY_VALUE: &Schema =
    &[(1, Kind::Bytes), (2, Kind::Varint), (3, Kind::Varint), (4, Kind::Varint), (5, Kind::Bytes), (6, Kind::Varint)];

/// A field of a message [`walk`] visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen<'a> {
    /// A known varint field's value.
    Varint(u64),
    /// A known length-delimited field's bytes (an embedded message's too).
    Bytes(&'a [u8]),
    /// A field the schema does not know (skipped as gogo skips it).
    Unknown,
}

/// Whether gogo's `Unmarshal` of `schema` accepts `b`.
pub fn accepts(b: &[u8], schema: &Schema) -> Result<(), Refused> {
    walk(b, schema, &mut |_, _| {})
}

/// [`accepts`], telling `seen` every field on the way, in order: `(field number, what it holds)`.
/// Once it is refused, the fields seen so far are no message etcd reads.
pub fn walk<'a>(b: &'a [u8], schema: &Schema, seen: &mut dyn FnMut(i32, Seen<'a>)) -> Result<(), Refused> {
    let mut pos = 0;
    while pos < b.len() {
        let tag_at = pos;
        let tag = varint(b, &mut pos)?;
        let (field, wt) = ((tag >> 3) as i32, tag & 7);
        if wt == 4 {
            return Err(refused(tag_at, "an end of group outside a group"));
        }
        if field <= 0 {
            return Err(refused(tag_at, format!("illegal tag {field}")));
        }
        match schema.iter().find(|(n, _)| *n == field).map(|(_, k)| *k) {
            None => {
                skip_unknown(b, &mut pos, wt, tag_at)?;
                seen(field, Seen::Unknown);
            }
            Some(Kind::Varint) if wt == 0 => seen(field, Seen::Varint(varint(b, &mut pos)?)),
            Some(Kind::Bytes) if wt == 2 => seen(field, Seen::Bytes(payload(b, &mut pos)?)),
            Some(Kind::Message(inner)) if wt == 2 => {
                let m = payload(b, &mut pos)?;
                let at = pos - m.len();
                accepts(m, inner).map_err(|r| refused(at + r.at, format!("field {field}: {}", r.why)))?;
                seen(field, Seen::Bytes(m));
            }
            Some(_) => return Err(refused(tag_at, format!("wrong wire type {wt} for field {field}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn accepts_what_etcd_3_5_1_read_and_refuses_what_stopped_it() {
        // Each record put into a real snapshot (a `lease` value, an `alarm` key) which was then
        // restored and started with etcd 3.5.1: `true` where the server served, `false` where it
        // panicked or stopped decoding it (fixtures/etcd-records holds such files and answers).
        let cases = [
            ("A01-f2-wt7", ALARM_MEMBER, "088df2f48ec1f7a6d7bd011701", false),
            ("A02-truncated", ALARM_MEMBER, "088df2", false),
            ("A03-f1-wt1", ALARM_MEMBER, "090d39dd11bc9baebd1001", false),
            ("A04-f2-wt2", ALARM_MEMBER, "088df2f48ec1f7a6d7bd01120101", false),
            ("A05-unk-f3-varint", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110011801", true),
            ("A06-unk-f3-bytes", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110011a0161", true),
            ("A07-unk-wt6", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110011e01", false),
            ("A08-unk-wt7", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110011f01", false),
            ("A09-group-no-end", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110011b", false),
            ("A10-group-end-other", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110011b24", true),
            ("A11-extra-00", ALARM_MEMBER, "088df2f48ec1f7a6d7bd01100100", false),
            ("A12-type-none", ALARM_MEMBER, "088df2f48ec1f7a6d7bd011000", true),
            ("A13-type-9", ALARM_MEMBER, "088df2f48ec1f7a6d7bd011009", true),
            ("A14-type-neg1", ALARM_MEMBER, "088df2f48ec1f7a6d7bd0110ffffffffffffffffff01", true),
            ("A15-type-corrupt", ALARM_MEMBER, "088df2f48ec1f7a6d7bd011002", true),
            ("A16-value-nonempty", ALARM_MEMBER, "088df2f48ec1f7a6d7bd011001", true),
            ("A17-other-member", ALARM_MEMBER, "08011001", true),
            ("A18-only-unknown-field", ALARM_MEMBER, "1801", true),
            ("A20-bad-in-k8s", ALARM_MEMBER, "08011701", false),
            ("A21-fieldnum-2p31", ALARM_MEMBER, "08011001808080804001", false),
            ("L01-empty-value", LEASE, "", true),
            ("L02-trunc-id-varint", LEASE, "08", false),
            ("L03-unterminated-varint", LEASE, "08b4", false),
            ("L04-trunc-ttl", LEASE, "0887d4ebb2c2c1e8ef331090", false),
            ("L05-f1-wt1", LEASE, "09341200000000000010901c", false),
            ("L06-f2-wt2", LEASE, "0887d4ebb2c2c1e8ef331202901c", false),
            ("L07-f3-wt5", LEASE, "0887d4ebb2c2c1e8ef3310901c1d00000000", false),
            ("L08-f2-wt7", LEASE, "0887d4ebb2c2c1e8ef3317901c", false),
            ("L09-unk-f4-varint", LEASE, "0887d4ebb2c2c1e8ef3310901c2001", true),
            ("L10-unk-f5-bytes", LEASE, "0887d4ebb2c2c1e8ef3310901c2a03616263", true),
            ("L11-unk-f6-fixed64", LEASE, "0887d4ebb2c2c1e8ef3310901c310102030405060708", true),
            ("L12-unk-f7-fixed32", LEASE, "0887d4ebb2c2c1e8ef3310901c3d01020304", true),
            ("L13-unk-group", LEASE, "0887d4ebb2c2c1e8ef3310901c23080124", true),
            ("L14-unk-f4-wt6", LEASE, "0887d4ebb2c2c1e8ef3310901c2601", false),
            ("L15-unk-f4-wt7", LEASE, "0887d4ebb2c2c1e8ef3310901c2701", false),
            ("L16-group-no-end", LEASE, "0887d4ebb2c2c1e8ef3310901c230801", false),
            ("L17-endgroup-alone", LEASE, "0887d4ebb2c2c1e8ef3310901c24", false),
            ("L18-group-end-other-field", LEASE, "0887d4ebb2c2c1e8ef3310901c232c", true),
            ("L19-extra-00", LEASE, "0887d4ebb2c2c1e8ef3310901c00", false),
            ("L20-extra-ff", LEASE, "0887d4ebb2c2c1e8ef3310901cff", false),
            ("L21-negative-ttl", LEASE, "0887d4ebb2c2c1e8ef3310fbffffffffffffffff01", true),
            ("L22-key-3-bytes", LEASE, "08b424101e", true),
            ("L23-key-9-bytes", LEASE, "08b424101e", true),
            ("L24-key-ne-id", LEASE, "08b424101e", true),
            ("L30-varint-11-bytes", LEASE, "08ffffffffffffffffffff0110901c", false),
            ("L31-varint-10-excess", LEASE, "08ffffffffffffffffff7f10901c", true),
            ("L32-fieldnum-2p29", LEASE, "0887d4ebb2c2c1e8ef3310901c808080801001", true),
            ("L33-fieldnum-2p31", LEASE, "0887d4ebb2c2c1e8ef3310901c808080804001", false),
            ("L34-fieldnum-2p32plus1", LEASE, "888080808001b42410901c", true),
            ("L35-tag-zero", LEASE, "00", false),
            ("L36-id-zero", LEASE, "0800101e", true),
            ("L38-unk-bytes-overrun", LEASE, "0887d4ebb2c2c1e8ef3310901c2a056162", false),
            ("L39-unk-fixed64-trunc", LEASE, "0887d4ebb2c2c1e8ef3310901c310102", false),
            ("L40-ttl-maxint64", LEASE, "0887d4ebb2c2c1e8ef3310ffffffffffffffff7f", true),
            ("L41-remttl-negative", LEASE, "0887d4ebb2c2c1e8ef3310901c18fbffffffffffffffff01", true),
        ];
        for (case, schema, msg, served) in cases {
            let got = accepts(&hex(msg), schema);
            assert_eq!(got.is_ok(), served, "{case}: {got:?}");
        }
    }

    #[test]
    fn embedded_messages_are_held_to_the_same_rules() {
        // authpb.User with options {no_password: true}; then options holding a wire type 7.
        assert!(accepts(&hex("0a016122020801"), USER).is_ok());
        let bad = accepts(&hex("0a016122020f01"), USER).unwrap_err();
        assert_eq!((bad.at, bad.why.as_str()), (5, "field 4: wrong wire type 7 for field 1"));
        // authpb.Role with a permission whose key has the wrong wire type.
        assert!(accepts(&hex("0a0172120408011001"), ROLE).is_err());
        assert!(accepts(&hex("0a017212050801120161"), ROLE).is_ok());
        assert!(accepts(b"", USER).is_ok());
    }
}
