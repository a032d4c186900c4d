//! How Go writes bytes in etcdctl's outputs: `%q` (`strconv.Quote` of the bytes as a string) for
//! `-w fields`, and `--hex`'s `\xNN` per byte.
//!
//! `%q` (FORMATS.md, "fields"): `"` and `\` are escaped; a valid UTF-8 sequence whose rune Go 1.16
//! deems printable ([`super::isprint`]) is written as is; `\a \b \f \n \r \t \v` for those
//! controls; other runes below U+0020 as `\xNN`; other unprintable runes (U+007F too) as `\uXXXX`
//! or `\UXXXXXXXX`; every byte that is not part of a valid UTF-8 sequence as `\xNN` (lowercase),
//! one byte at a time.

use super::isprint::PRINT;
use std::fmt::Write;

/// Whether Go 1.16's `strconv.IsPrint` accepts `c`.
pub fn is_print(c: char) -> bool {
    let r = u32::from(c);
    PRINT
        .binary_search_by(|&(lo, hi)| {
            if hi < r {
                std::cmp::Ordering::Less
            } else if lo > r {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `b` as Go's `%q` writes a string holding these bytes, quotes included.
pub fn quote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len() + 2);
    out.push('"');
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_str(&mut out, s);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                push_str(&mut out, std::str::from_utf8(valid).unwrap_or_default());
                // Go decodes an invalid sequence one byte at a time: each is a RuneError of width 1.
                let bad = e.error_len().unwrap_or(after.len()).max(1);
                let (bad, tail) = after.split_at(bad.min(after.len()));
                for x in bad {
                    let _ = write!(out, "\\x{x:02x}");
                }
                rest = tail;
            }
        }
    }
    out.push('"');
    out
}

fn push_str(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_print(c) => out.push(c),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if u32::from(c) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
}

/// `--hex`: every byte as `\xNN` (lowercase), printable ones too.
pub fn hex(b: &[u8]) -> Vec<u8> {
    let mut s = String::with_capacity(b.len() * 4);
    for x in b {
        let _ = write!(s, "\\x{x:02x}");
    }
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote(b"\x07\x08\x0c\n\r\t\x0b\x00\x1f\x7f"), r#""\a\b\f\n\r\t\v\x00\x1f\u007f""#);
        assert_eq!(quote(b"\xff\xe2\x82"), r#""\xff\xe2\x82""#);
        assert_eq!(quote("é'\u{0c3c}\u{1f600}\u{e0001}\u{85}".as_bytes()), "\"é'\\u0c3c\u{1f600}\\U000e0001\\u0085\"");
        assert_eq!(quote(b"\xed\xa0\x80"), r#""\xed\xa0\x80""#, "a surrogate is not UTF-8");
        assert_eq!(hex(b"a\x00"), b"\\x61\\x00");
    }

    #[test]
    fn the_table_is_gos() {
        // fixtures/go-isprint/ranges.txt: what Go printed.
        let text = include_str!("../../fixtures/go-isprint/ranges.txt");
        let ranges: Vec<(u32, u32)> = text
            .lines()
            .filter(|l| !l.starts_with("//"))
            .map(|l| {
                let mut p = l.split(' ').map(|x| u32::from_str_radix(x, 16).unwrap());
                (p.next().unwrap(), p.next().unwrap())
            })
            .collect();
        assert_eq!(ranges, PRINT.to_vec());
        assert!(is_print(' ') && is_print('~') && !is_print('\u{a0}') && !is_print('\u{ad}'));
    }
}
