//! etcdctl's output formats, byte for byte (fixtures/key-answers/FORMATS.md): a Range answer as
//! `etcdctl get -w simple|json|fields|protobuf` prints it, and the pieces other outputs share (a
//! KeyValue as Go's `json.Marshal` writes it, the response header).
//!
//! JSON follows Go's encoding of etcd's generated structs: snake_case names in field order, every
//! field omitted when zero or empty, integers as decimal numbers (also uint64 ids above 2^53),
//! bytes as standard base64 with padding.

use super::goquote::{hex, quote};
use super::header::Header;
use super::proto::{put_varint, Kv};
use super::range::Ranged;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt::Write;

/// A lease ID as etcdctl prints it (`lease grant`, `lease list`) and reads it back (`lease
/// timetolive ID`): Go's `%016x` of the int64, so a negative ID is `-` and fifteen digits.
pub fn lease_id(id: u64) -> String {
    let v = id as i64;
    if v < 0 {
        format!("-{:015x}", v.unsigned_abs())
    } else {
        format!("{v:016x}")
    }
}

/// Standard base64 with padding, as Go encodes `[]byte` in JSON.
pub fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// Appends the header as Go's `json.Marshal` writes `etcdserverpb.ResponseHeader`.
pub fn header_json(out: &mut String, h: &Header) {
    out.push('{');
    let mut sep = "";
    let mut field = |out: &mut String, name: &str, v: String, zero: bool| {
        if !zero {
            let _ = write!(out, "{sep}\"{name}\":{v}");
            sep = ",";
        }
    };
    field(out, "cluster_id", h.cluster_id.to_string(), h.cluster_id == 0);
    field(out, "member_id", h.member_id.to_string(), h.member_id == 0);
    field(out, "revision", h.revision.to_string(), h.revision == 0);
    field(out, "raft_term", h.raft_term.to_string(), h.raft_term == 0);
    out.push('}');
}

/// Appends a KeyValue as Go's `json.Marshal` writes `mvccpb.KeyValue`. With `object`, the value
/// is shown decoded under `"object"` instead of as `"value"`.
pub fn kv_json(out: &mut String, kv: &Kv<'_>, object: Option<&serde_json::Value>) {
    out.push('{');
    let mut sep = "";
    if !kv.key.is_empty() {
        let _ = write!(out, "\"key\":\"{}\"", b64(kv.key));
        sep = ",";
    }
    for (name, v) in
        [("create_revision", kv.create_revision), ("mod_revision", kv.mod_revision), ("version", kv.version)]
    {
        if v != 0 {
            let _ = write!(out, "{sep}\"{name}\":{}", v as i64);
            sep = ",";
        }
    }
    match object {
        Some(o) => {
            let _ = write!(out, "{sep}\"object\":{o}");
            sep = ",";
        }
        None if !kv.value.is_empty() => {
            let _ = write!(out, "{sep}\"value\":\"{}\"", b64(kv.value));
            sep = ",";
        }
        None => {}
    }
    if kv.lease != 0 {
        let _ = write!(out, "{sep}\"lease\":{}", kv.lease as i64);
    }
    out.push('}');
}

/// `etcdctl get -w json`: one line.
pub fn range_json(h: &Header, r: &Ranged<'_>) -> String {
    let mut s = String::from("{\"header\":");
    header_json(&mut s, h);
    if !r.kvs.is_empty() {
        s.push_str(",\"kvs\":[");
        for (i, kv) in r.kvs.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            kv_json(&mut s, kv, None);
        }
        s.push(']');
    }
    if r.more {
        s.push_str(",\"more\":true");
    }
    if r.count != 0 {
        let _ = write!(s, ",\"count\":{}", r.count);
    }
    s.push_str("}\n");
    s
}

/// `etcdctl get -w simple`: key and value lines, raw bytes (`--hex`: `\xNN` each); only values
/// with `print_value_only`.
pub fn range_simple(r: &Ranged<'_>, print_value_only: bool, as_hex: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let show = |b: &[u8]| if as_hex { hex(b) } else { b.to_vec() };
    for kv in &r.kvs {
        if !print_value_only {
            out.extend(show(kv.key));
            out.push(b'\n');
        }
        out.extend(show(kv.value));
        out.push(b'\n');
    }
    out
}

/// The header's four `-w fields` lines.
pub fn header_fields(out: &mut String, h: &Header) {
    let _ = write!(
        out,
        "\"ClusterID\" : {}\n\"MemberID\" : {}\n\"Revision\" : {}\n\"RaftTerm\" : {}\n",
        h.cluster_id, h.member_id, h.revision, h.raft_term
    );
}

/// A KeyValue's six `-w fields` lines, names prefixed with `prefix` (`Prev` for a prev_kv).
pub fn kv_fields(out: &mut String, prefix: &str, kv: &Kv<'_>) {
    let _ = writeln!(out, "\"{prefix}Key\" : {}", quote(kv.key));
    let _ = writeln!(out, "\"{prefix}CreateRevision\" : {}", kv.create_revision as i64);
    let _ = writeln!(out, "\"{prefix}ModRevision\" : {}", kv.mod_revision as i64);
    let _ = writeln!(out, "\"{prefix}Version\" : {}", kv.version as i64);
    let _ = writeln!(out, "\"{prefix}Value\" : {}", quote(kv.value));
    let _ = writeln!(out, "\"{prefix}Lease\" : {}", kv.lease as i64);
}

/// `etcdctl get -w fields`.
pub fn range_fields(h: &Header, r: &Ranged<'_>) -> String {
    let mut s = String::new();
    header_fields(&mut s, h);
    for kv in &r.kvs {
        kv_fields(&mut s, "", kv);
    }
    let _ = write!(s, "\"More\" : {}\n\"Count\" : {}\n", r.more, r.count);
    s
}

/// A varint field, left out when zero (proto3).
fn vfield(out: &mut Vec<u8>, num: u64, v: u64) {
    if v != 0 {
        put_varint(out, num << 3);
        put_varint(out, v);
    }
}

/// A length-delimited field.
fn bfield(out: &mut Vec<u8>, num: u64, b: &[u8]) {
    put_varint(out, (num << 3) | 2);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// `etcdserverpb.ResponseHeader` encoded.
pub fn header_pb(h: &Header) -> Vec<u8> {
    let mut m = Vec::new();
    vfield(&mut m, 1, h.cluster_id);
    vfield(&mut m, 2, h.member_id);
    vfield(&mut m, 3, h.revision as u64);
    vfield(&mut m, 4, h.raft_term);
    m
}

/// `mvccpb.KeyValue` encoded (empty bytes fields left out).
pub fn kv_pb(kv: &Kv<'_>) -> Vec<u8> {
    let mut m = Vec::new();
    if !kv.key.is_empty() {
        bfield(&mut m, 1, kv.key);
    }
    vfield(&mut m, 2, kv.create_revision);
    vfield(&mut m, 3, kv.mod_revision);
    vfield(&mut m, 4, kv.version);
    if !kv.value.is_empty() {
        bfield(&mut m, 5, kv.value);
    }
    vfield(&mut m, 6, kv.lease);
    m
}

/// `etcdctl get -w protobuf`: the RangeResponse's bytes (header 1, kvs 2, more 3, count 4).
pub fn range_protobuf(h: &Header, r: &Ranged<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    bfield(&mut out, 1, &header_pb(h));
    for kv in &r.kvs {
        bfield(&mut out, 2, &kv_pb(kv));
    }
    vfield(&mut out, 3, u64::from(r.more));
    vfield(&mut out, 4, r.count);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_ids_as_etcdctl_lease_list_prints_them() {
        // etcdctl 3.5.1 `lease list` for leases granted with these IDs (-5, 1, i64::MIN + 1).
        assert_eq!(lease_id((-5i64) as u64), "-000000000000005");
        assert_eq!(lease_id(1), "0000000000000001");
        assert_eq!(lease_id(0x8000_0000_0000_0001), "-7fffffffffffffff");
        assert_eq!(lease_id(0x694d_8a2f_3e1b_0c07), "694d8a2f3e1b0c07");
    }

    #[test]
    fn zero_fields_are_left_out() {
        let h = Header { cluster_id: 0, member_id: 7, revision: 9, raft_term: 0 };
        let kv = Kv { key: b"k", mod_revision: 3, ..Kv::default() };
        let r = Ranged { kvs: vec![kv], count: 1, more: false };
        assert_eq!(
            range_json(&h, &r),
            "{\"header\":{\"member_id\":7,\"revision\":9},\"kvs\":[{\"key\":\"aw==\",\"mod_revision\":3}],\"count\":1}\n"
        );
        assert_eq!(range_json(&h, &Ranged::default()), "{\"header\":{\"member_id\":7,\"revision\":9}}\n");
        assert_eq!(range_simple(&r, false, true), b"\\x6b\n\n");
        assert_eq!(range_protobuf(&h, &Ranged::default()), [0x0a, 4, 0x10, 7, 0x18, 9]);
    }
}
