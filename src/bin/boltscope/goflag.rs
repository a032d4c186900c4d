//! Option values read the way etcdctl's flag library reads them, so that the same command line
//! means the same request to boltscope as to etcdctl:
//!
//! - integers (`--rev`, `--limit`) as Go's `strconv.ParseInt(s, 0, 64)`: an optional `+` or `-`,
//!   then decimal, or hexadecimal after `0x`, octal after `0o` or a bare leading `0`, binary after
//!   `0b` (prefix letters in either case); `_` may separate digits (or follow the prefix), never
//!   lead, trail or double; anything else, or a value outside the 64-bit signed range, is refused
//!   with Go's message (`--rev 024` is 20, as etcdctl sends it);
//! - booleans as Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`,
//!   given as `--flag=VALUE` (a bare `--flag` is true, `--flag VALUE` leaves VALUE an argument).

use boltscope::etcd::goquote::quote;

/// A value of a digit character in bases up to 36 (None for anything else).
fn digit(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 10),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        _ => None,
    }
}

/// Whether the underscores of `s` (sign already removed) sit only between digits, or between a
/// base prefix and a digit.
fn underscores_ok(s: &[u8]) -> bool {
    let hex = s.len() >= 2 && s[0] == b'0' && matches!(s[1], b'x' | b'X');
    let prefixed = s.len() >= 2 && s[0] == b'0' && matches!(s[1], b'b' | b'B' | b'o' | b'O' | b'x' | b'X');
    // What came last: a digit (or the prefix), an underscore, or something else.
    #[derive(PartialEq)]
    enum Last {
        Start,
        Digit,
        Underscore,
        Other,
    }
    let mut last = if prefixed { Last::Digit } else { Last::Start };
    for &c in &s[if prefixed { 2 } else { 0 }..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            last = Last::Digit;
        } else if c == b'_' {
            if last != Last::Digit {
                return false;
            }
            last = Last::Underscore;
        } else {
            if last == Last::Underscore {
                return false;
            }
            last = Last::Other;
        }
    }
    last != Last::Underscore
}

/// Why a value is refused: Go's two kinds of `strconv.NumError`.
enum NumError {
    Syntax,
    Range,
}

/// The magnitude of an unsigned literal with Go's base detection (`s` has no sign).
fn parse_unsigned(s: &str) -> Result<u64, NumError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(NumError::Syntax);
    }
    let (base, digits) = match b {
        [b'0', b'b' | b'B', _, ..] => (2, &b[2..]),
        [b'0', b'o' | b'O', _, ..] => (8, &b[2..]),
        [b'0', b'x' | b'X', _, ..] => (16, &b[2..]),
        [b'0', ..] => (8, &b[1..]),
        _ => (10, b),
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = digit(c).filter(|&d| d < base).ok_or(NumError::Syntax)?;
        n = n.checked_mul(u64::from(base)).and_then(|n| n.checked_add(u64::from(d))).ok_or(NumError::Range)?;
    }
    if underscores && !underscores_ok(b) {
        return Err(NumError::Syntax);
    }
    Ok(n)
}

/// `strconv.ParseInt(s, 0, 64)`; the error is Go's message.
pub fn parse_i64(s: &str) -> Result<i64, String> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let refuse = |why: &str| format!("strconv.ParseInt: parsing {}: {why}", quote(s.as_bytes()));
    let un = match parse_unsigned(rest) {
        Ok(n) => n,
        Err(NumError::Syntax) => return Err(refuse("invalid syntax")),
        Err(NumError::Range) => return Err(refuse("value out of range")),
    };
    let cutoff = 1u64 << 63;
    match (neg, un) {
        (false, n) if n < cutoff => Ok(n as i64),
        (true, n) if n <= cutoff => Ok((n as i64).wrapping_neg()),
        _ => Err(refuse("value out of range")),
    }
}

/// `strconv.ParseBool(s)`; the error is Go's message.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {}: invalid syntax", quote(s.as_bytes()))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn refused_values_are_quoted_as_go_quotes_them() {
        let e = super::parse_i64("\u{1}7\u{e9}").unwrap_err();
        assert_eq!(e, "strconv.ParseInt: parsing \"\\x017é\": invalid syntax");
        let e = super::parse_bool("\t").unwrap_err();
        assert_eq!(e, "strconv.ParseBool: parsing \"\\t\": invalid syntax");
    }

    use super::*;

    #[test]
    fn integers_read_as_go_parse_int_base_0() {
        let ok = [
            ("0", 0),
            ("-0", 0),
            ("+5", 5),
            ("24", 24),
            ("024", 20),
            ("010", 8),
            ("0o17", 15),
            ("0O17", 15),
            ("0x14", 20),
            ("0X1f", 31),
            ("-0x14", -20),
            ("0b101", 5),
            ("0B11", 3),
            ("1_000", 1000),
            ("0x_14", 20),
            ("0_7", 7),
            ("0b1_0", 2),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
            ("-0x8000000000000000", i64::MIN),
        ];
        for (s, v) in ok {
            assert_eq!(parse_i64(s), Ok(v), "{s}");
        }
        let syntax = [
            "", "-", "+", "x", "1x", "08", "0x", "0b", "0o", "0b2", "0o8", "0xg", "_1", "1_", "1__0", "+-1", "--1",
            " 1", "1 ", "1.0", "0x_", "_", "0_x1",
        ];
        for s in syntax {
            assert_eq!(parse_i64(s), Err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax")), "{s}");
        }
        let range = ["9223372036854775808", "-9223372036854775809", "0x8000000000000000", "99999999999999999999"];
        for s in range {
            assert_eq!(parse_i64(s), Err(format!("strconv.ParseInt: parsing {s:?}: value out of range")), "{s}");
        }
    }

    #[test]
    fn booleans_read_as_go_parse_bool() {
        for s in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_bool(s), Ok(true), "{s}");
        }
        for s in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_bool(s), Ok(false), "{s}");
        }
        for s in ["", "yes", "tRUE", "2", "on", " true"] {
            assert_eq!(parse_bool(s), Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")), "{s}");
        }
    }
}
