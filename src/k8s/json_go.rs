//! JSON as Go's `encoding/json` reads it, which is what the API server and most etcd clients
//! wrote and read: invalid UTF-8 in a string, and a `\u` escape of a lone UTF-16 surrogate, each
//! become U+FFFD instead of failing the whole text, as they do for `serde_json`. A value an
//! application wrote so (Node's `JSON.stringify` keeps a lone surrogate) is then judged by what
//! it says, not withheld as a Secret for failing to parse (review 47a: a custom resource of kind
//! `Thing` was printed as `<redacted>` and counted as a plaintext Secret).

use serde_json::Value;
use std::borrow::Cow;

/// `value` parsed as Go reads JSON: by `serde_json`, and when that fails on text holding invalid
/// UTF-8 or a lone surrogate escape, again with those replaced by U+FFFD. `None` when it still
/// does not parse.
pub fn parse(value: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(value) {
        Ok(v) => Some(v),
        Err(_) => serde_json::from_str(&go_replaced(value)?).ok(),
    }
}

/// The text with invalid UTF-8 and lone surrogate escapes replaced by U+FFFD; `None` when it
/// holds neither (nothing to read again).
fn go_replaced(value: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(value);
    let mut changed = matches!(text, Cow::Owned(_));
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        if b.get(i + 1) == Some(&b'u') {
            match hex4(b, i + 2) {
                Some(0xD800..=0xDBFF) if b.get(i + 6..i + 8) == Some(b"\\u") => {
                    if hex4(b, i + 8).is_some_and(|lo| (0xDC00..=0xDFFF).contains(&lo)) {
                        out.extend_from_slice(&b[i..i + 12]);
                        i += 12;
                    } else {
                        out.extend_from_slice(b"\\ufffd");
                        (i, changed) = (i + 6, true);
                    }
                    continue;
                }
                Some(0xD800..=0xDFFF) => {
                    out.extend_from_slice(b"\\ufffd");
                    (i, changed) = (i + 6, true);
                    continue;
                }
                _ => {}
            }
        }
        // Any other escape: the backslash and the byte after it, copied as they are.
        out.extend_from_slice(b.get(i..i + 2).unwrap_or(&b[i..]));
        i += 2;
    }
    // Only ASCII was put in place of ASCII in valid UTF-8: still valid.
    changed.then(|| String::from_utf8(out).ok()).flatten()
}

/// The four hex digits at `at`, as a number.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok().filter(|_| digits.bytes().all(|d| d.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_go_reads_with_a_replacement_character_parses() {
        let lone = br#"{"kind":"Thing","spec":{"s":"\ud800","t":"\udc00x","u":"\ud800\u0041"}}"#;
        let v = parse(lone).unwrap();
        assert_eq!(v["kind"], "Thing");
        assert_eq!(v["spec"]["s"], "\u{fffd}");
        assert_eq!(v["spec"]["t"], "\u{fffd}x");
        assert_eq!(v["spec"]["u"], "\u{fffd}A");
        let bad_utf8 = b"{\"kind\":\"Thing\",\"s\":\"a\xffb\"}";
        assert_eq!(parse(bad_utf8).unwrap()["s"], "a\u{fffd}b");
        // A pair stays a pair; an escaped backslash before `u` is no escape.
        let pair = br#"{"s":"\ud83d\ude00","t":"\\ud800"}"#;
        let v = parse(pair).unwrap();
        assert_eq!((v["s"].as_str(), v["t"].as_str()), (Some("\u{1f600}"), Some("\\ud800")));
        // What Go refuses too still fails: no parse is made up.
        for bad in [&b"{\"a\":1"[..], b"{\"a\":1e400}", b"not json", b"{\"s\":\"\\ud800\"", b"\\"] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn a_secret_written_so_is_still_one() {
        let v = parse(br#"{"kind":"Secret","data":{"a":"\udfff"}}"#).unwrap();
        assert_eq!(v["kind"], "Secret");
    }
}
