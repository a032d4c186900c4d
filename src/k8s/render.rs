//! The state shared by every protobuf decoder while one value is turned into JSON: the options,
//! whether the object is a Secret, the nesting depth, the output budget, and the errors found on
//! the way (each with the path of fields that led to it).
//!
//! Also the small leaf renderers every decoder uses, so that the Secret rule lives in one place:
//! [`Ctx::bytes`] and [`Ctx::schema_text`] are the only ways an undecoded or free-form value reaches the
//! output, and both return a placeholder for a Secret unless `show_secrets` is set.

use serde_json::{Map, Value};

/// The deepest nesting of protobuf messages decoded (schema-driven or generic). Real objects stay
/// well under it (a Pod's deepest path is about a dozen messages); deeper input is hostile.
pub const MAX_DEPTH: usize = 32;

/// Upper bound, in bytes of JSON text, of what one protobuf value may produce (strings counted
/// with their escapes). Past it, remaining leaves become `"<truncated>"` and an error says so.
pub const MAX_OUTPUT_BYTES: usize = 8 << 20;

/// At most this many errors are kept per value; the rest are counted.
pub const MAX_ERRORS: usize = 16;

/// Decoding state for one value.
#[derive(Debug)]
pub struct Ctx {
    /// Whether the value is a Secret (by kind or by key).
    pub secret: bool,
    /// Whether Secret data may be shown.
    pub show_secrets: bool,
    /// Current message nesting depth.
    pub depth: usize,
    budget: usize,
    path: Vec<String>,
    errors: Vec<String>,
    dropped_errors: usize,
    truncated: bool,
}

impl Ctx {
    /// Fresh state for one value.
    pub fn new(secret: bool, show_secrets: bool) -> Ctx {
        Ctx {
            secret,
            show_secrets,
            depth: 0,
            budget: MAX_OUTPUT_BYTES,
            path: Vec::new(),
            errors: Vec::new(),
            dropped_errors: 0,
            truncated: false,
        }
    }

    /// Whether free-form values must be replaced by placeholders.
    pub fn redacting(&self) -> bool {
        self.secret && !self.show_secrets
    }

    /// Runs `f` with `segment` appended to the error path.
    pub fn at<T>(&mut self, segment: String, f: impl FnOnce(&mut Ctx) -> T) -> T {
        self.path.push(segment);
        let r = f(self);
        self.path.pop();
        r
    }

    /// Decodes the message `b` one level deeper with `f`; past [`MAX_DEPTH`] levels, an error and
    /// the bytes as [`Ctx::bytes`] shows them.
    pub fn nested(&mut self, b: &[u8], f: impl FnOnce(&[u8], &mut Ctx) -> Value) -> Value {
        if self.depth >= MAX_DEPTH {
            self.error(format!("nesting deeper than {MAX_DEPTH} messages; shown as bytes"));
            return self.bytes(b);
        }
        self.depth += 1;
        let v = f(b, self);
        self.depth -= 1;
        v
    }

    /// Records an error at the current path. The message must never contain value bytes.
    pub fn error(&mut self, msg: impl std::fmt::Display) {
        if self.errors.len() >= MAX_ERRORS {
            self.dropped_errors += 1;
            return;
        }
        let mut s = self.path.join(": ");
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&msg.to_string());
        self.errors.push(s);
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// All errors as one string (`"a; b; … and N more"`), or `None`.
    pub fn error_text(&self) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let mut s = self.errors.join("; ");
        if self.dropped_errors > 0 {
            s.push_str(&format!("; and {} more", self.dropped_errors));
        }
        Some(s)
    }

    /// Takes `n` bytes from the output budget; `false` (and one error) once it is spent.
    pub fn spend(&mut self, n: usize) -> bool {
        if let Some(left) = self.budget.checked_sub(n) {
            self.budget = left;
            return true;
        }
        self.budget = 0;
        if !self.truncated {
            self.truncated = true;
            self.error(format!("output limit of {MAX_OUTPUT_BYTES} bytes reached; the rest is truncated"));
        }
        false
    }

    /// A string leaf from a field the schema says is text (a name, a label, a reason). Bytes
    /// that are not UTF-8 are shown with U+FFFD replacements (as Go's JSON encoder does) and
    /// recorded as an error: the apiserver never writes them.
    ///
    /// In a Secret (unless shown) a string that is not UTF-8 or holds any control character is
    /// a placeholder, with an error: such a string is damage, and damage may have put the
    /// Secret's data there (a swallowed map entry always holds tag bytes like 0x0a and 0x12).
    pub fn schema_text(&mut self, b: &[u8]) -> Value {
        self.text(b, false)
    }

    /// [`Ctx::schema_text`] for free text that may span lines (an annotation's value): in a
    /// Secret, tab, CR and LF are allowed, other control characters are not.
    pub fn multiline_text(&mut self, b: &[u8]) -> Value {
        self.text(b, true)
    }

    fn text(&mut self, b: &[u8], multiline: bool) -> Value {
        if self.redacting() && !is_text(b, multiline) {
            self.error(format!("string of {} bytes is not UTF-8 text without control characters; redacted", b.len()));
            return redacted(b.len());
        }
        let s = String::from_utf8_lossy(b);
        if let std::borrow::Cow::Owned(_) = s {
            self.error(format!("string of {} bytes is not UTF-8", b.len()));
        }
        if !self.spend(json_len(&s)) {
            return Value::String("<truncated>".into());
        }
        Value::String(s.into_owned())
    }

    /// A bytes leaf the schema says is binary: base64, as Kubernetes JSON shows `[]byte`; for a
    /// Secret a placeholder.
    pub fn schema_bytes(&mut self, b: &[u8]) -> Value {
        if self.redacting() {
            return redacted(b.len());
        }
        if !self.spend(b.len() / 3 * 4 + 6) {
            return Value::String("<truncated>".into());
        }
        Value::String(base64(b))
    }

    /// Free-form bytes of unknown meaning: UTF-8 text when printable, else `{"base64": ...}`;
    /// for a Secret a placeholder.
    pub fn bytes(&mut self, b: &[u8]) -> Value {
        if self.redacting() {
            return redacted(b.len());
        }
        match printable(b) {
            Some(s) => {
                if !self.spend(json_len(s)) {
                    return Value::String("<truncated>".into());
                }
                Value::String(s.to_owned())
            }
            None => {
                if !self.spend(b.len() / 3 * 4 + 16) {
                    return Value::String("<truncated>".into());
                }
                let mut m = Map::new();
                m.insert("base64".into(), Value::String(base64(b)));
                Value::Object(m)
            }
        }
    }
}

/// The placeholder that stands for `n` bytes of Secret data.
pub fn redacted(n: usize) -> Value {
    Value::String(format!("<redacted: {n} bytes>"))
}

/// Whether `b` is UTF-8 without control characters (tab, CR and LF allowed when `multiline`).
pub fn is_text(b: &[u8], multiline: bool) -> bool {
    std::str::from_utf8(b)
        .is_ok_and(|s| s.chars().all(|c| !c.is_control() || (multiline && matches!(c, '\t' | '\n' | '\r'))))
}

/// `b` as text if it is UTF-8 with no control characters other than tab, CR and LF.
pub fn printable(b: &[u8]) -> Option<&str> {
    is_text(b, true).then(|| std::str::from_utf8(b).ok()).flatten()
}

/// Length of `s` as a JSON string literal (quotes and escapes included), close enough for the
/// budget: control characters count 6 (`\u00XX`), quote and backslash 2.
pub fn json_len(s: &str) -> usize {
    let extra: usize = s
        .bytes()
        .map(|c| match c {
            b'"' | b'\\' => 1,
            c if c < 0x20 => 5,
            _ => 0,
        })
        .sum();
    s.len().saturating_add(extra).saturating_add(2)
}

/// Standard base64 with padding (RFC 4648 §4), as Go's `encoding/json` writes `[]byte`.
pub fn base64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648 §10 test vectors.
        for (i, o) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE=")]
        {
            assert_eq!(base64(i.as_bytes()), o);
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn secret_leaves_are_placeholders_and_budget_truncates() {
        let mut cx = Ctx::new(true, false);
        assert_eq!(cx.bytes(b"hunter2"), Value::String("<redacted: 7 bytes>".into()));
        assert_eq!(cx.schema_bytes(b"hunter2"), Value::String("<redacted: 7 bytes>".into()));
        let mut cx = Ctx::new(true, true);
        assert_eq!(cx.bytes(b"hunter2"), Value::String("hunter2".into()));
        assert_eq!(cx.schema_bytes(b"hunter2"), Value::String("aHVudGVyMg==".into()));
        let mut cx = Ctx::new(false, false);
        assert_eq!(cx.bytes(&[0, 1, 2]), serde_json::json!({"base64": "AAEC"}));
        assert!(cx.spend(MAX_OUTPUT_BYTES - 100));
        assert_eq!(cx.bytes(&[b'a'; 200]), Value::String("<truncated>".into()));
        cx.at("field 2 (spec)".into(), |cx| cx.error("bad"));
        let e = cx.error_text().unwrap();
        assert!(e.starts_with("output limit of 8388608 bytes reached"), "{e}");
        assert!(e.ends_with("; field 2 (spec): bad"), "{e}");
    }

    #[test]
    fn printable_and_json_len() {
        assert_eq!(printable(b"a\tb\n"), Some("a\tb\n"));
        assert_eq!(printable(b"a\x01"), None);
        assert_eq!(printable(&[0xff]), None);
        assert_eq!(json_len("a\"\u{1}"), 2 + 3 + 1 + 5);
    }
}
