//! The name under which the index keeps a file's rows (`history`, `du`): exact for any path bytes,
//! so two files whose names differ only in bytes that are not UTF-8 never share a history.
//!
//! A UTF-8 path is its own name, as every index has always kept it: rows written before stay
//! readable, with no conversion. Any other path has each byte that is not part of valid UTF-8
//! written as a NUL and two hex digits. No path holds a NUL (the kernel refuses it in a name), so
//! no UTF-8 path has such a name, and two different paths never have the same one. (Indexes
//! written before kept such a path lossily, U+FFFD for its bad bytes: those rows stay under that
//! name, as they were.) For people, [`display`] shows those bytes as `\xNN`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The index's name for `p` (made absolute by the caller, as rows name files).
pub fn key(p: &Path) -> String {
    let mut out = String::new();
    for chunk in p.as_os_str().as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\0' {
                // Never in a real path; written as a byte so that a NUL always starts one.
                out.push_str("\u{0}00");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\0{b:02x}"));
        }
    }
    out
}

/// The bytes of `key`'s hex-written bytes and UTF-8 text, in order.
fn bytes(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len());
    let mut rest = key;
    while let Some(i) = rest.find('\0') {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let hex = rest.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                rest = &rest[i + 3..];
            }
            // Not a name [`key`] gives: kept as it is.
            None => {
                out.push(0);
                rest = &rest[i + 1..];
            }
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// The path a name stands for (the inverse of [`key`]).
pub fn path(key: &str) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes(key)))
}

/// A name for people: the path, each byte that is not UTF-8 shown as `\xNN`.
pub fn display(key: &str) -> String {
    if !key.contains('\0') {
        return key.to_string();
    }
    let mut out = String::new();
    for chunk in bytes(key).utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(b: &[u8]) -> PathBuf {
        PathBuf::from(OsString::from_vec(b.to_vec()))
    }

    #[test]
    fn a_utf8_path_is_its_own_name() {
        for s in ["/backups/etcd-snapshot-n-1765000000", "/b/ünïcode ✓.db", "/b/a\u{fffd}.db", ""] {
            assert_eq!(key(Path::new(s)), s);
            assert_eq!(path(s), Path::new(s));
            assert_eq!(display(s), s);
        }
    }

    #[test]
    fn names_that_differ_only_in_bytes_not_utf8_differ_and_come_back_exact() {
        let names: [&[u8]; 6] =
            [b"/b/a\xff.db", b"/b/a\xfe.db", b"/b/a\xef\xbf\xbd.db", b"/b/a\xc3.db", b"/b/a\xc3\xff", b"/b/\0ff"];
        let keys: Vec<String> = names.iter().map(|n| key(&p(n))).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(path(&keys[i]).as_os_str().as_bytes(), *n, "{}", keys[i].escape_debug());
            for j in 0..i {
                assert_ne!(keys[i], keys[j], "{} and {}", display(&keys[i]), display(&keys[j]));
            }
        }
        assert_eq!(display(&keys[0]), "/b/a\\xff.db");
        assert_eq!(display(&keys[1]), "/b/a\\xfe.db");
        assert_eq!(keys[2], "/b/a\u{fffd}.db", "a real U+FFFD is UTF-8: its own name");
        assert_eq!(display(&keys[4]), "/b/a\\xc3\\xff");
    }
}
