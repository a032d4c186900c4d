//! A k3s server token, normalised as k3s does before it derives the bootstrap key and passphrase
//! from it (k3s `pkg/cluster/storage.go` normalizeToken, `pkg/clientaccess/token.go`
//! ParseUsernamePassword): the full form `K10<CA hash>::<user>:<password>` and a bare
//! `<password>` give the same passphrase, the password.

use std::fmt;

/// The prefix of a full k3s token.
pub const TOKEN_PREFIX: &str = "K10";

/// The length of a CA hash in a full token: a hex sha256.
pub const CA_HASH_LEN: usize = 64;

/// A token k3s would refuse to normalise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenError {
    /// The token is empty.
    Empty,
    /// The CA hash between `K10` and `::` is neither empty nor 64 characters long.
    CaHashLength(usize),
    /// A kubeadm-style bootstrap token (`abcdef.0123456789abcdef`): an agent join token, which
    /// current k3s does not accept as a server token.
    BootstrapToken,
    /// The credentials are not `<user>:<password>` with a non-empty password.
    NoPassword,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Empty => f.write_str("the token is empty"),
            TokenError::CaHashLength(n) => write!(
                f,
                "the token's CA hash (between K10 and ::) is {n} characters long; k3s wants none or {CA_HASH_LEN}"
            ),
            TokenError::BootstrapToken => f.write_str(
                "this is a kubeadm-style bootstrap token (id.secret), which k3s uses for joining agents; the \
                 bootstrap data is encrypted with the server token (the server's token file, or --token)",
            ),
            TokenError::NoPassword => f.write_str(
                "not a k3s token: expected K10<CA-HASH>::<USERNAME>:<PASSWORD> or a bare <PASSWORD> (non-empty)",
            ),
        }
    }
}

impl std::error::Error for TokenError {}

/// A normalised token: its parts, and the passphrase k3s derives the bootstrap key and the
/// encryption key from. `Debug` does not show the passphrase.
#[derive(Clone, PartialEq, Eq)]
pub struct Normalised {
    /// The CA hash of a full token (`K10<hash>::`), `None` when absent or empty.
    pub ca_hash: Option<String>,
    /// The user name (`server` in a server's token file; empty for a bare password).
    pub username: String,
    passphrase: String,
}

impl Normalised {
    /// The passphrase: the token's password part. Secret.
    pub fn passphrase(&self) -> &str {
        &self.passphrase
    }
}

impl fmt::Debug for Normalised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Normalised")
            .field("ca_hash", &self.ca_hash)
            .field("username", &self.username)
            .field("passphrase", &"<redacted>")
            .finish()
    }
}

/// Normalises a token exactly as current k3s does:
///
/// 1. an empty token is refused;
/// 2. a token not starting with `K10` becomes `K10:::<token>` (a bare password), or `K10::<token>`
///    when it is a kubeadm bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`);
/// 3. after `K10`, the text up to the first `::` is the CA hash (empty or 64 characters) and the
///    rest the credentials; with no `::`, all of it is the credentials;
/// 4. credentials that are a bootstrap token are refused; otherwise they split at the first `:`
///    into user and password, and the password must not be empty.
///
/// So `K10<hash>::server:secret`, `K10::server:secret` and `secret` all give the passphrase
/// `secret`, while a bare `server:secret` (no `K10`) is a password that contains a colon and gives
/// `server:secret`. Surrounding white space is not trimmed here (see [`read_token`]).
pub fn normalise(token: &str) -> Result<Normalised, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    let full;
    let token = if token.starts_with(TOKEN_PREFIX) {
        token
    } else {
        let sep = if is_bootstrap_token(token) { "::" } else { ":::" };
        full = format!("{TOKEN_PREFIX}{sep}{token}");
        &full
    };
    let rest = token.get(TOKEN_PREFIX.len()..).unwrap_or_default();
    let (ca_hash, creds) = match rest.split_once("::") {
        Some((hash, creds)) => {
            if !hash.is_empty() && hash.len() != CA_HASH_LEN {
                return Err(TokenError::CaHashLength(hash.len()));
            }
            ((!hash.is_empty()).then(|| hash.to_string()), creds)
        }
        None => (None, rest),
    };
    if is_bootstrap_token(creds) {
        return Err(TokenError::BootstrapToken);
    }
    match creds.split_once(':') {
        Some((user, password)) if !password.is_empty() => {
            Ok(Normalised { ca_hash, username: user.to_string(), passphrase: password.to_string() })
        }
        _ => Err(TokenError::NoPassword),
    }
}

/// A token as read from a file or typed: surrounding white space (a trailing newline) removed,
/// as k3s does for `--token-file` (it trims white space) and `<data-dir>/token` (trailing
/// newlines).
pub fn read_token(text: &str) -> &str {
    text.trim()
}

/// Whether `s` is a kubeadm bootstrap token: `[a-z0-9]{6}\.[a-z0-9]{16}`, nothing else.
fn is_bootstrap_token(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.len() == 23 && b.get(6) == Some(&b'.') && b.iter().enumerate().all(|(i, c)| i == 6 || ok(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn pass(t: &str) -> Result<String, TokenError> {
        normalise(t).map(|n| n.passphrase().to_string())
    }

    #[test]
    fn full_and_bare_forms_give_the_password() {
        let n = normalise(&format!("K10{HASH}::server:s3cret")).unwrap();
        assert_eq!((n.ca_hash.as_deref(), n.username.as_str(), n.passphrase()), (Some(HASH), "server", "s3cret"));
        assert_eq!(pass("K10::server:s3cret").unwrap(), "s3cret");
        assert_eq!(pass("s3cret").unwrap(), "s3cret");
        // A bare password is taken whole, colons and all.
        assert_eq!(pass("server:s3cret").unwrap(), "server:s3cret");
        assert_eq!(pass("a::b").unwrap(), "a::b");
        // The password after the first colon keeps its own colons.
        assert_eq!(pass("K10::node:pa:ss").unwrap(), "pa:ss");
        // K10 with no `::`: the rest is user:password.
        assert_eq!(pass("K10user:pw").unwrap(), "pw");
    }

    #[test]
    fn refusals() {
        assert_eq!(pass(""), Err(TokenError::Empty));
        assert_eq!(pass("K10abc::server:x"), Err(TokenError::CaHashLength(3)));
        assert_eq!(pass("K10::server:"), Err(TokenError::NoPassword));
        assert_eq!(pass("K10nocolon"), Err(TokenError::NoPassword));
        assert_eq!(pass("abcdef.0123456789abcdef"), Err(TokenError::BootstrapToken));
        assert_eq!(pass("K10::abcdef.0123456789abcdef"), Err(TokenError::BootstrapToken));
        // Not quite bootstrap tokens: bare passwords.
        assert_eq!(pass("Abcdef.0123456789abcdef").unwrap(), "Abcdef.0123456789abcdef");
        assert_eq!(pass("abcdef-0123456789abcdef").unwrap(), "abcdef-0123456789abcdef");
    }

    #[test]
    fn debug_hides_the_passphrase() {
        let n = normalise("K10::server:topsecret").unwrap();
        assert!(!format!("{n:?}").contains("topsecret"));
        assert_eq!(read_token("  K10::server:x\n"), "K10::server:x");
    }
}
