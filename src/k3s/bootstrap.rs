//! k3s bootstrap data: the cluster's CA certificates and keys, service-account key, encryption
//! configuration and the like, which a k3s server keeps in its datastore (with embedded etcd,
//! always; so every k3s etcd snapshot holds it) encrypted with the server token. Without the
//! right token a restored snapshot cannot bring the cluster back, so "does this token open this
//! snapshot's bootstrap data?" is worth answering before a restore.
//!
//! The format (k3s `pkg/cluster/encrypt.go`, `storage.go`):
//!
//! - passphrase: the normalised token ([`super::token::normalise`]: the password part);
//! - etcd key: `/bootstrap/` + the first 12 hex digits of sha256(passphrase). k3s also knows the
//!   key of the empty passphrase (data saved before a token was set) and, when migrating, the
//!   key of the token as given (un-normalised); it moves both to the normalised key;
//! - value: `<salt>:<base64(nonce || ciphertext || tag)>`, the salt 8 random bytes as 16 hex
//!   characters, used as text; key = PBKDF2-HMAC-SHA1(passphrase, salt, 4096 rounds, 32 bytes);
//!   AES-256-GCM with a 12-byte nonce and no associated data;
//! - plaintext: JSON, an object from file names (`ServerCA`, `ServerCAKey`, `ETCDPeerCA`, ...)
//!   to `{"Timestamp": ..., "Content": base64}`.
//!
//! The plaintext is secret. Only [`open`] returns it; [`check`] and [`check_entries`] return
//! which key matched and the names of the plaintext's top-level JSON keys, never a value.

use super::token::{normalise, TokenError};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroize;

/// The etcd key prefix of bootstrap data.
pub const KEY_PREFIX: &str = "/bootstrap/";
/// PBKDF2 rounds k3s uses.
pub const PBKDF2_ROUNDS: u32 = 4096;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Go's base64.StdEncoding as k3s decodes with it: padding required, non-zero trailing bits
/// accepted (Go's default, non-strict decoding).
const GO_STD_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Why bootstrap data could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootstrapError {
    /// The token is not one k3s accepts.
    Token(TokenError),
    /// The value is not `salt:base64(nonce || ciphertext)`.
    Malformed(String),
    /// AES-GCM authentication failed: the token is not the one the data was encrypted with (or
    /// the value is damaged).
    WrongToken,
}

impl fmt::Display for BootstrapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootstrapError::Token(e) => write!(f, "bad token: {e}"),
            BootstrapError::Malformed(what) => write!(f, "the bootstrap value is not k3s encrypted data: {what}"),
            BootstrapError::WrongToken => f.write_str(
                "the token does not open the bootstrap data (AES-GCM authentication failed): it is encrypted with \
                 another token, or damaged",
            ),
        }
    }
}

impl std::error::Error for BootstrapError {}

impl From<TokenError> for BootstrapError {
    fn from(e: TokenError) -> Self {
        BootstrapError::Token(e)
    }
}

/// The etcd key k3s stores bootstrap data under for a passphrase: `/bootstrap/` + the first 12
/// hex digits of its sha256.
pub fn key_for_passphrase(passphrase: &str) -> String {
    let digest = Sha256::digest(passphrase.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{hex}")
}

/// The etcd key of the bootstrap data for `token` (normalised first, as k3s does).
pub fn bootstrap_key(token: &str) -> Result<String, BootstrapError> {
    Ok(key_for_passphrase(normalise(token)?.passphrase()))
}

/// Which passphrase a bootstrap key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The normalised token's key: what current k3s reads and writes.
    Token,
    /// The key of the empty passphrase: data saved before a token was set; it opens without a
    /// token, and k3s moves it to the token's key on the next start.
    EmptyPassphrase,
    /// The key of the token exactly as given, when that differs from the normalised form (a
    /// full `K10...` token): written by k3s releases before normalisation; k3s migrates it.
    UnnormalisedToken,
}

/// The keys to look for with `token`, in k3s's order of preference, each with the passphrase
/// kind. The empty-passphrase key is always included.
pub fn candidate_keys(token: &str) -> Result<Vec<(String, KeyKind)>, BootstrapError> {
    let passphrase = normalise(token)?;
    let mut keys = vec![(key_for_passphrase(passphrase.passphrase()), KeyKind::Token)];
    if token != passphrase.passphrase() {
        keys.push((key_for_passphrase(token), KeyKind::UnnormalisedToken));
    }
    keys.push((key_for_passphrase(""), KeyKind::EmptyPassphrase));
    Ok(keys)
}

/// Decrypts a bootstrap value with `token`. An empty `token` means the empty passphrase (the
/// [`KeyKind::EmptyPassphrase`] key); any other token is normalised first. The result is the
/// cluster's CA keys and other secrets: never print it unless the user asked for exactly that.
pub fn open(token: &str, value: &[u8]) -> Result<Vec<u8>, BootstrapError> {
    if token.is_empty() {
        return decrypt("", value);
    }
    decrypt(normalise(token)?.passphrase(), value)
}

/// What [`check`] learned from a value it could open. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The plaintext's length in bytes.
    pub plaintext_len: usize,
    /// The plaintext's top-level JSON object keys, sorted (the bootstrap file names); `None`
    /// when the plaintext is not a JSON object.
    pub names: Option<Vec<String>>,
}

/// Opens `value` with `token` as [`open`] does, and keeps only the names of the plaintext's
/// top-level JSON keys; the plaintext is wiped before returning.
pub fn check(token: &str, value: &[u8]) -> Result<Opened, BootstrapError> {
    open(token, value).map(summarise)
}

/// The names of the plaintext's top-level JSON keys and its length; wipes the plaintext.
fn summarise(mut plain: Vec<u8>) -> Opened {
    let names = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&plain)
        .ok()
        .map(|m| m.keys().cloned().collect::<Vec<_>>());
    let opened = Opened { plaintext_len: plain.len(), names };
    plain.zeroize();
    opened
}

/// The answer for a snapshot: which of its bootstrap entries `token` opens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntriesCheck {
    /// An entry at one of the token's candidate keys opened.
    Opened {
        /// The entry's key.
        key: String,
        /// Which passphrase opened it.
        kind: KeyKind,
        /// What the plaintext holds (names only).
        opened: Opened,
    },
    /// No entry under `/bootstrap/` at all.
    NoBootstrapData,
    /// Bootstrap entries exist, but none at a key of this token: encrypted with another token.
    OtherToken {
        /// The keys found.
        keys: Vec<String>,
    },
    /// An entry at one of this token's keys did not open.
    Failed {
        /// The entry's key.
        key: String,
        /// Which passphrase was tried.
        kind: KeyKind,
        /// Why it failed.
        error: BootstrapError,
    },
}

/// Checks `token` against a snapshot's bootstrap entries (each `(key, value)`: the latest,
/// undeleted value of each etcd key under `/bootstrap/`). Tries the token's candidate keys in
/// order ([`candidate_keys`]); the first present key decides. Entries outside `/bootstrap/` are
/// ignored.
pub fn check_entries(token: &str, entries: &[(&[u8], &[u8])]) -> Result<EntriesCheck, BootstrapError> {
    let passphrase = normalise(token)?;
    let bootstrap: Vec<&(&[u8], &[u8])> =
        entries.iter().filter(|(k, _)| k.starts_with(KEY_PREFIX.as_bytes())).collect();
    if bootstrap.is_empty() {
        return Ok(EntriesCheck::NoBootstrapData);
    }
    for (key, kind) in candidate_keys(token)? {
        let Some((_, value)) = bootstrap.iter().find(|(k, _)| *k == key.as_bytes()) else {
            continue;
        };
        let pass = match kind {
            KeyKind::Token => passphrase.passphrase(),
            KeyKind::UnnormalisedToken => token,
            KeyKind::EmptyPassphrase => "",
        };
        return Ok(match decrypt(pass, value) {
            Ok(plain) => EntriesCheck::Opened { key, kind, opened: summarise(plain) },
            Err(error) => EntriesCheck::Failed { key, kind, error },
        });
    }
    let keys = bootstrap.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect();
    Ok(EntriesCheck::OtherToken { keys })
}

/// k3s's decrypt: split at the first `:`, derive the key from the salt text, base64-decode,
/// open with AES-256-GCM.
fn decrypt(passphrase: &str, value: &[u8]) -> Result<Vec<u8>, BootstrapError> {
    let colon = value.iter().position(|&b| b == b':').ok_or_else(|| {
        BootstrapError::Malformed(format!("no ':' between a salt and the ciphertext ({} bytes)", value.len()))
    })?;
    let (salt, rest) = (value.get(..colon).unwrap_or_default(), value.get(colon + 1..).unwrap_or_default());
    // Go's decoder skips line breaks anywhere in the input.
    let b64: Vec<u8> = rest.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
    let data = GO_STD_BASE64
        .decode(&b64)
        .map_err(|e| BootstrapError::Malformed(format!("the part after the salt is not base64: {e}")))?;
    if data.len() < NONCE_LEN + TAG_LEN {
        return Err(BootstrapError::Malformed(format!(
            "{} bytes after base64 decoding, fewer than a {NONCE_LEN}-byte nonce and a {TAG_LEN}-byte tag",
            data.len()
        )));
    }
    let (nonce, sealed) = data.split_at(NONCE_LEN);
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase.as_bytes(), salt, PBKDF2_ROUNDS, &mut key);
    let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| BootstrapError::Malformed("key length".into()));
    key.zeroize();
    cipher?.decrypt(Nonce::from_slice(nonce), sealed).map_err(|_| BootstrapError::WrongToken)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        // sha256("") = e3b0c44298fc1c14...
        assert_eq!(key_for_passphrase(""), "/bootstrap/e3b0c44298fc");
        assert_eq!(bootstrap_key("K10::server:abc").unwrap(), bootstrap_key("abc").unwrap());
        let kinds: Vec<KeyKind> = candidate_keys("K10::server:abc").unwrap().into_iter().map(|(_, k)| k).collect();
        assert_eq!(kinds, [KeyKind::Token, KeyKind::UnnormalisedToken, KeyKind::EmptyPassphrase]);
        assert_eq!(candidate_keys("abc").unwrap().len(), 2, "a bare password is its own normal form");
        assert!(matches!(bootstrap_key(""), Err(BootstrapError::Token(TokenError::Empty))));
    }

    #[test]
    fn malformed_values() {
        let m = |v: &[u8]| matches!(open("tok", v), Err(BootstrapError::Malformed(_)));
        assert!(m(b""));
        assert!(m(b"no colon at all"));
        assert!(m(b"salt:not base64!"));
        assert!(m(b"salt:AAAA"));
        // Long enough, valid base64, wrong key: authentication fails.
        assert_eq!(
            open("tok", b"0011223344556677:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            Err(BootstrapError::WrongToken)
        );
    }
}
