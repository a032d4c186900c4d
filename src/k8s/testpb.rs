//! A tiny protobuf writer for the tests, and builders of real-looking stored values (the shapes
//! /work/shared/oracle/etcdload.py writes, plus fuller ObjectMeta and Secret forms).

/// Varint encoding.
pub fn uvarint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A length-delimited field.
pub fn bytes(num: u32, payload: &[u8]) -> Vec<u8> {
    [uvarint(u64::from(num) << 3 | 2), uvarint(payload.len() as u64), payload.to_vec()].concat()
}

/// A varint field.
pub fn varint(num: u32, v: u64) -> Vec<u8> {
    [uvarint(u64::from(num) << 3), uvarint(v)].concat()
}

/// A map entry field `num` holding `{1: key, 2: value}`.
pub fn entry(num: u32, key: &[u8], value: &[u8]) -> Vec<u8> {
    bytes(num, &[bytes(1, key), bytes(2, value)].concat())
}

/// `metav1.Time{seconds}`.
pub fn time(seconds: i64) -> Vec<u8> {
    varint(1, seconds as u64)
}

/// An ObjectMeta as etcdload.py's `object_meta` writes it: name=1, namespace=3, uid=5,
/// creationTimestamp=8, labels=11.
pub fn meta(name: &str, ns: &str, uid: &str, created: i64, labels: &[(&str, &str)]) -> Vec<u8> {
    let mut m = bytes(1, name.as_bytes());
    if !ns.is_empty() {
        m.extend(bytes(3, ns.as_bytes()));
    }
    m.extend(bytes(5, uid.as_bytes()));
    m.extend(bytes(8, &time(created)));
    for (k, v) in labels {
        m.extend(entry(11, k.as_bytes(), v.as_bytes()));
    }
    m
}

/// The storage envelope: `k8s\0` + runtime.Unknown{typeMeta=1{apiVersion=1, kind=2}, raw=2,
/// contentEncoding=3, contentType=4}, as etcdload.py's `proto_object` writes it.
pub fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let tm = [bytes(1, api_version.as_bytes()), bytes(2, kind.as_bytes())].concat();
    [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, raw), bytes(3, b""), bytes(4, b"")].concat()
}

/// A deterministic pseudo-random byte source (xorshift64*), for filler and fuzzing.
pub struct Rng(pub u64);

impl Rng {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `n` random bytes.
    pub fn fill(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
