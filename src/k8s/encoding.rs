//! What a stored Kubernetes value is, from its first bytes.
//!
//! Facts (Kubernetes source):
//! - protobuf: the 4-byte magic `6b 38 73 00` (`k8s\0`), then a `runtime.Unknown`
//!   (k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go, `protoEncodingPrefix`);
//! - CBOR: the self-described CBOR tag 55799, whose head is `d9 d9 f7`
//!   (k8s.io/apimachinery/pkg/runtime/serializer/cbor/cbor.go, `selfDescribedCBOR`);
//! - JSON: the object's text (CRDs, custom resources and APIServices are stored as JSON);
//! - encryption at rest (k8s.io/apiserver/pkg/server/options/encryptionconfig/config.go): the
//!   provider prefix `k8s:enc:aescbc:v1:`, `k8s:enc:aesgcm:v1:`, `k8s:enc:secretbox:v1:`,
//!   `k8s:enc:kms:v1:` or `k8s:enc:kms:v2:`, then the key's (aes*, secretbox) or KMS plugin's
//!   name and `:`, then the ciphertext. The `identity` provider adds no prefix.
//!   - KMS v1 ciphertext (…/storage/value/encrypt/envelope/envelope.go): a big-endian `uint16`
//!     length of the encrypted DEK, the encrypted DEK, the encrypted data.
//!   - KMS v2 ciphertext (…/envelope/kmsv2/v2/api.proto): a protobuf `EncryptedObject{
//!     encryptedData = 1 (bytes), keyID = 2 (string), encryptedDEKSource = 3 (bytes; named
//!     encryptedDEK before 1.29), annotations = 4 (map<string, bytes>), encryptedDEKSourceType
//!     = 5 (enum: 0 AES_GCM_KEY, 1 HKDF_SHA256_XNONCE_AES_GCM_SEED)}`.
//!
//! Labels ([`Encoding::label`]) are stable strings for JSON keys and Prometheus label values:
//! `protobuf`, `json`, `cbor`, `other`, and `encrypted:<provider>:<name>` where `<provider>` is
//! `aescbc`, `aesgcm`, `secretbox` (any `k8s:enc:P:v1:` gives `P`), `kms-v1`, `kms-v2` (any
//! other version `V` gives `P-V`). A prefix whose name has no closing `:` within
//! [`MAX_NAME_LEN`] bytes gives `encrypted:<provider>` with no name.

use std::borrow::Cow;

use super::wire::{fields, Wire};

/// The magic in front of Kubernetes protobuf values.
pub const PROTOBUF_MAGIC: &[u8] = b"k8s\0";
/// The head of CBOR tag 55799 (self-described CBOR).
pub const CBOR_MAGIC: &[u8] = &[0xd9, 0xd9, 0xf7];
/// The start of every encryption-at-rest prefix.
pub const ENC_PREFIX: &[u8] = b"k8s:enc:";
/// Longest provider, version or key name read from an encryption prefix.
pub const MAX_NAME_LEN: usize = 256;

/// The class of a stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encoding<'a> {
    /// `k8s\0` + runtime.Unknown.
    Protobuf,
    /// `{` after optional ASCII whitespace.
    Json,
    /// `d9 d9 f7` + CBOR.
    Cbor,
    /// Encrypted at rest.
    Encrypted(Encrypted<'a>),
    /// Anything else.
    Other,
}

/// An encrypted value's envelope, as far as it can be read without keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encrypted<'a> {
    /// `aescbc`, `aesgcm`, `secretbox`, `kms-v1`, `kms-v2`, or `<provider>-<version>`.
    pub provider: Cow<'a, str>,
    /// Key name (aes*, secretbox) or KMS plugin name; `None` when the prefix is cut short.
    pub key: Option<Cow<'a, str>>,
    /// The bytes after the whole prefix (ciphertext or KMS envelope).
    pub payload: &'a [u8],
}

impl Encoding<'_> {
    /// The stable label of this class (see the module docs).
    pub fn label(&self) -> String {
        match self {
            Encoding::Protobuf => "protobuf".into(),
            Encoding::Json => "json".into(),
            Encoding::Cbor => "cbor".into(),
            Encoding::Other => "other".into(),
            Encoding::Encrypted(e) => match &e.key {
                Some(k) => format!("encrypted:{}:{k}", e.provider),
                None => format!("encrypted:{}", e.provider),
            },
        }
    }
}

/// Classifies a stored value by its first bytes.
pub fn classify(v: &[u8]) -> Encoding<'_> {
    if v.starts_with(PROTOBUF_MAGIC) {
        return Encoding::Protobuf;
    }
    if let Some(rest) = v.strip_prefix(ENC_PREFIX) {
        return encrypted(rest).filter(ciphertext_shaped).map_or(Encoding::Other, Encoding::Encrypted);
    }
    if v.starts_with(CBOR_MAGIC) {
        return Encoding::Cbor;
    }
    if v.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        return Encoding::Json;
    }
    Encoding::Other
}

/// Splits `<provider>:<version>:<name>:<payload>` (the part after `k8s:enc:`). `None` unless at
/// least provider and version are there.
fn encrypted(rest: &[u8]) -> Option<Encrypted<'_>> {
    let (provider, rest) = segment(rest)?;
    let (version, rest) = segment(rest)?;
    let provider =
        if provider == "kms" || version != "v1" { Cow::Owned(format!("{provider}-{version}")) } else { provider };
    Some(match segment(rest) {
        Some((key, payload)) => Encrypted { provider, key: Some(key), payload },
        None => Encrypted { provider, key: None, payload: rest },
    })
}

/// Whether the payload can be what the API server's provider writes (review 49b: a value written
/// `k8s:enc:aescbc:v1:key1:` + a Secret's JSON, which no provider writes, passed for encrypted:
/// printed as stored and counted by `--require-encryption`). aescbc: a 16-byte IV, then the
/// ciphertext padded to whole 16-byte blocks; aesgcm: a 12-byte nonce, then the ciphertext and a
/// 16-byte tag; secretbox: a 24-byte nonce, then the ciphertext and 16 bytes of overhead; KMS v1:
/// a 2-byte big-endian length and the encrypted DEK of that length, then the ciphertext; KMS v2: a
/// protobuf `EncryptedObject`. A value cut short within those sizes is no ciphertext either. And
/// ciphertext is never text: a payload (KMS v2: its encrypted data) of 16 bytes or more that is
/// all UTF-8 text without control characters (review 49c: a Secret's JSON behind an aesgcm prefix,
/// or padded to whole aescbc blocks) is not one, whatever the provider; the chance that random
/// bytes read so is below one in a billion. Other providers are taken at their word otherwise.
/// Such a value is then read as the bytes it is.
fn ciphertext_shaped(e: &Encrypted<'_>) -> bool {
    let n = e.payload.len();
    let sealed = match (e.provider.as_ref(), e.key.is_some()) {
        (_, false) => true,
        ("aescbc", _) => n >= 32 && n % 16 == 0,
        ("aesgcm", _) => n >= 28,
        ("secretbox", _) => n >= 40,
        ("kms-v1", _) => {
            let dek = e.payload.get(..2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            dek.is_some_and(|d| d > 0 && n >= 2 + d + 16)
        }
        ("kms-v2", _) => {
            let data = fields(e.payload).find_map(|f| match f {
                Ok((1, Wire::Bytes(b))) => Some(b),
                _ => None,
            });
            return data.is_some_and(|d| !d.is_empty() && !is_text(d));
        }
        _ => true,
    };
    sealed && !is_text(e.payload)
}

/// Whether bytes (16 or more) are UTF-8 text without control characters but whitespace.
fn is_text(b: &[u8]) -> bool {
    b.len() >= 16 && super::render::is_text(b, true)
}

/// One `name:` segment: the name (lossy UTF-8) and what follows the colon.
fn segment(b: &[u8]) -> Option<(Cow<'_, str>, &[u8])> {
    let end = b.iter().take(MAX_NAME_LEN + 1).position(|&c| c == b':')?;
    let (name, rest) = (b.get(..end)?, b.get(end + 1..)?);
    Some((String::from_utf8_lossy(name), rest))
}

/// What a KMS v2 `EncryptedObject` says about itself (the DEK and data stay encrypted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KmsV2Envelope<'a> {
    /// Field 2: the KMS key ID used.
    pub key_id: Option<Cow<'a, str>>,
    /// Field 1's length.
    pub encrypted_data_len: usize,
    /// Field 3's length.
    pub encrypted_dek_source_len: usize,
    /// Field 5 (0 = AES_GCM_KEY, 1 = HKDF_SHA256_XNONCE_AES_GCM_SEED).
    pub dek_source_type: Option<u64>,
    /// Field 4's keys and their values' lengths.
    pub annotations: Vec<(Cow<'a, str>, usize)>,
}

/// Parses a KMS v2 payload. `Err` carries a description (never payload bytes).
pub fn kms_v2(payload: &[u8]) -> Result<KmsV2Envelope<'_>, String> {
    let mut e = KmsV2Envelope::default();
    for f in fields(payload) {
        match f.map_err(|e| e.to_string())? {
            (1, Wire::Bytes(b)) => e.encrypted_data_len = b.len(),
            (2, Wire::Bytes(b)) => e.key_id = Some(String::from_utf8_lossy(b)),
            (3, Wire::Bytes(b)) => e.encrypted_dek_source_len = b.len(),
            (4, Wire::Bytes(b)) => {
                let (mut k, mut n) = (Cow::Borrowed(""), 0);
                for g in fields(b) {
                    match g.map_err(|e| format!("annotation: {e}"))? {
                        (1, Wire::Bytes(x)) => k = String::from_utf8_lossy(x),
                        (2, Wire::Bytes(x)) => n = x.len(),
                        _ => {}
                    }
                }
                e.annotations.push((k, n));
            }
            (5, Wire::Varint(v)) => e.dek_source_type = Some(v),
            (n, w) => return Err(format!("unexpected field {n} ({})", w.kind())),
        }
    }
    Ok(e)
}

/// The encrypted DEK length of a KMS v1 payload (big-endian `uint16` prefix), if it fits.
pub fn kms_v1_dek_len(payload: &[u8]) -> Option<usize> {
    let n = usize::from(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
    (payload.len() >= n + 2).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::super::testpb::{bytes, entry, varint};
    use super::*;

    fn label(v: &[u8]) -> String {
        classify(v).label()
    }

    #[test]
    fn classifies_plain_encodings() {
        assert_eq!(label(b"k8s\0\x0a\x00"), "protobuf");
        assert_eq!(label(b"k8s\0"), "protobuf");
        assert_eq!(label(b"{}"), "json");
        assert_eq!(label(b" \n\t{\"a\":1}"), "json");
        assert_eq!(label(b"[1]"), "other");
        assert_eq!(label(&[0xd9, 0xd9, 0xf7, 0xa0]), "cbor");
        assert_eq!(label(&[0xd9, 0xd9]), "other");
        assert_eq!(label(b""), "other");
        assert_eq!(label(b"   "), "other");
        assert_eq!(label(b"k8s"), "other");
        assert_eq!(label(b"12345"), "other");
    }

    #[test]
    fn classifies_encryption_prefixes() {
        let sealed = |prefix: &[u8], n: usize| [prefix, &vec![0xa5; n]].concat();
        let v = sealed(b"k8s:enc:aescbc:v1:key1:", 32);
        let e = classify(&v);
        assert_eq!(e.label(), "encrypted:aescbc:key1");
        let Encoding::Encrypted(x) = e else { panic!() };
        assert_eq!(x.payload, &[0xa5; 32]);
        assert_eq!(label(&sealed(b"k8s:enc:aesgcm:v1:key2:", 28)), "encrypted:aesgcm:key2");
        assert_eq!(label(&sealed(b"k8s:enc:secretbox:v1:sb:", 40)), "encrypted:secretbox:sb");
        assert_eq!(label(&sealed(b"k8s:enc:kms:v1:myplugin:\x00\x01k", 32)), "encrypted:kms-v1:myplugin");
        let kms2 = [&b"k8s:enc:kms:v2:vault:"[..], &bytes(1, &[7; 40])].concat();
        assert_eq!(label(&kms2), "encrypted:kms-v2:vault");
        // A payload no provider writes is no ciphertext (review 49b: a Secret's JSON behind an
        // aescbc prefix passed for encrypted): read as the bytes it is.
        for fake in [
            sealed(b"k8s:enc:aescbc:v1:key1:", 2),
            sealed(b"k8s:enc:aescbc:v1:key1:", 106),
            sealed(b"k8s:enc:aesgcm:v1:key2:", 27),
            sealed(b"k8s:enc:secretbox:v1:sb:", 39),
            sealed(b"k8s:enc:kms:v1:myplugin:\x00\x40k", 32),
            b"k8s:enc:kms:v2:vault:{\"kind\":\"Secret\"}".to_vec(),
            b"k8s:enc:aescbc:v1:key1:{\"kind\":\"Secret\",\"data\":{\"pw\":\"aHVudGVyMg==\"}}".to_vec(),
            // Text of a size its provider's ciphertext may have (review 49c): still no ciphertext.
            b"k8s:enc:aesgcm:v1:key2:{\"kind\":\"Secret\",\"data\":{\"pw\":\"aHVudGVyMg==\"}}".to_vec(),
            [&b"k8s:enc:aescbc:v1:key1:{\"kind\":\"Secret\",\"data\":{\"pw\":\"aHVudGVyMg==\"}}"[..], b"        "]
                .concat(),
            [&b"k8s:enc:aescbc:v1:"[..], &[b'x'; 300]].concat(),
            [&b"k8s:enc:kms:v2:vault:"[..], &bytes(1, b"{\"kind\":\"Secret\",\"data\":{}}")].concat(),
        ] {
            assert_eq!(label(&fake), "other", "{}", String::from_utf8_lossy(&fake));
        }
        assert_eq!(label(b"k8s:enc:future:v1:k:"), "encrypted:future:k");
        assert_eq!(label(b"k8s:enc:future:v3:k:"), "encrypted:future-v3:k");
        // Cut short after the version: provider known, no key name.
        assert_eq!(label(b"k8s:enc:aescbc:v1:no-colon-here"), "encrypted:aescbc");
        let long = [b"k8s:enc:aescbc:v1:".to_vec(), vec![0xa5; 300], b":x".to_vec()].concat();
        assert_eq!(label(&long), "encrypted:aescbc");
        // Text there is no ciphertext, key name or not (review 49c).
        let long = [b"k8s:enc:aescbc:v1:".to_vec(), vec![b'a'; 300], b":x".to_vec()].concat();
        assert_eq!(label(&long), "other");
        assert_eq!(label(b"k8s:enc:"), "other");
        assert_eq!(label(b"k8s:enc:aescbc"), "other");
        // Non-UTF-8 names are shown lossily.
        assert_eq!(label(&sealed(b"k8s:enc:aescbc:v1:k\xff:", 32)), "encrypted:aescbc:k\u{fffd}");
    }

    #[test]
    fn reads_kms_envelopes() {
        let env = [
            bytes(1, &[7; 40]),
            bytes(2, b"kid-2024-06"),
            bytes(3, &[9; 32]),
            entry(4, b"version.encryption.remote.io", b"1"),
            varint(5, 1),
        ]
        .concat();
        let k = kms_v2(&env).unwrap();
        assert_eq!(k.key_id.as_deref(), Some("kid-2024-06"));
        assert_eq!((k.encrypted_data_len, k.encrypted_dek_source_len, k.dek_source_type), (40, 32, Some(1)));
        assert_eq!(k.annotations, vec![(Cow::Borrowed("version.encryption.remote.io"), 1)]);
        assert!(kms_v2(&[0x0a, 0x05]).unwrap_err().contains("length past the end"));
        assert!(kms_v2(&varint(9, 1)).unwrap_err().contains("unexpected field 9"));
        assert_eq!(kms_v1_dek_len(&[0, 2, 1, 1, 5]), Some(2));
        assert_eq!(kms_v1_dek_len(&[0, 9, 1]), None);
        assert_eq!(kms_v1_dek_len(&[0]), None);
    }
}
