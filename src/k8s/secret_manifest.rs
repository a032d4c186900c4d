//! Secrets' manifests kept inside Kubernetes objects of another kind stored as protobuf: a
//! ConfigMap whose data holds `kind: Secret` YAML (a Cluster API ClusterResourceSet's, what
//! `kubectl create configmap --from-file=secret.yaml` writes), and the last-applied annotation
//! that copies it. The API server writes ConfigMaps as protobuf, so the rule JSON objects get
//! ([`super::secret_text::holds_secret_object`]: a string inside that holds a manifest) is applied
//! to a protobuf object's strings here, which are its fields' bytes (review 43b: the same
//! ConfigMap was withheld as JSON and printed as protobuf).
//!
//! Stored bytes shown as they are (`get`, `log`, `dump` without `--decode`) are withheld whole, as
//! a JSON object holding a manifest is. Decoded, the object keeps its own kind and schema and only
//! the strings holding a manifest become placeholders ([`redact_decoded`]); when one of the texts
//! found is not among its decoded strings (it sat in bytes, or in a field the decode could not
//! place), the object is shown by its name alone ([`withheld_whole`]).

use super::secret_text::{has, may_hold_secret, text_holds_secret};
use super::wire::{cut_field, fields, Wire};
use serde_json::Value;
use std::ops::ControlFlow;

/// How many messages deep the walk reads (an annotation is three below the envelope's body).
const MAX_MESSAGES: usize = 16;

/// How many texts holding a manifest are gathered for a decode's redaction; past it, the object
/// is redacted whole.
const MAX_TEXTS: usize = 64;

/// How deep in a decoded object a string is read; past it, one that may hold a Secret is
/// redacted unread.
const MAX_VALUE_DEPTH: usize = 64;

/// `Secret` in UTF-16 (either byte order: the big-endian form holds it too, one byte on).
const SECRET_UTF16: &[u8] = b"S\0e\0c\0r\0e\0t";

/// `Secret` in base64, at each of the three alignments (the characters its six bytes alone
/// decide), as a value holding base64 of a manifest shows it.
const SECRET_BASE64: [&[u8]; 3] = [b"U2VjcmV0", b"NlY3Jld", b"TZWNyZX"];

/// The searchers of [`may_hold`] and [`names_in_base64`], built once: every stored value of a
/// `dump` is asked, and building one took a tenth of its time.
struct Needles {
    utf16: memchr::memmem::Finder<'static>,
    starts: Starts,
    base64: [memchr::memmem::Finder<'static>; 3],
}

/// What [`may_hold`] looks for, in one pass: `Secret` (UTF-8, UTF-16), the three escapes a text
/// rule reads (`\u`, `\x`, `\U`), a gzip stream or base64 of one (Helm's releases), and
/// `metadata` (a Secret written without its kind), last.
const STARTS: [&[u8]; 9] = [
    b"Secret",
    SECRET_UTF16,
    b"\\u",
    b"\\x",
    b"\\U",
    super::secret_gzip::GZIP_BASE64,
    super::secret_gzip::GZIP_BASE64_TWICE,
    super::secret_gzip::GZIP_MAGIC,
    b"metadata",
];
const METADATA: usize = STARTS.len() - 1;

/// `metadata` in UTF-16 (a Secret without its kind, written so).
const METADATA_UTF16: &[u8] = b"m\0e\0t\0a\0d\0a\0t\0a";

fn needles() -> &'static Needles {
    use memchr::memmem::Finder;
    static N: std::sync::OnceLock<Needles> = std::sync::OnceLock::new();
    N.get_or_init(|| Needles {
        utf16: Finder::new(SECRET_UTF16),
        starts: match aho_corasick::packed::Config::new().builder().extend(STARTS).build() {
            Some(p) => Starts::Packed(p),
            None => Starts::Automaton(aho_corasick::AhoCorasick::new(STARTS).expect("nine fixed strings")),
        },
        base64: SECRET_BASE64.map(Finder::new),
    })
}

/// Whether bytes may hold a Secret's manifest anywhere inside, in any spelling the text rules read
/// (so whether a message is worth walking): what [`super::secret_text::may_hold_secret`] asks, and
/// `Secret` in UTF-16. Not base64 of it: three more searches of every value cost `dump` a fifth
/// of its time; a protobuf object holding a manifest only in base64 text is not looked into.
pub(super) fn may_hold(b: &[u8]) -> bool {
    if matches!(b, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]) {
        return true;
    }
    // `Secret` or an escape anywhere, yes; `metadata`, when the text rules read the whole (a
    // Secret written without its kind).
    let mut judged = false;
    needles().starts.any(b, |p| p != METADATA || !std::mem::replace(&mut judged, true) && may_hold_secret(b))
}

/// The one pass of [`may_hold`]: a vectorised multi-string search (Teddy, where the CPU has it),
/// which stops only where one of [`STARTS`] may begin. A search for `S` or a backslash alone, as
/// before, stopped every 128 bytes of a binary value (every protobuf object holds some), and cost
/// a fifth of `dump`'s time.
enum Starts {
    Packed(aho_corasick::packed::Searcher),
    /// Where no packed searcher can be built.
    Automaton(aho_corasick::AhoCorasick),
}

impl Starts {
    /// Whether `yes` says yes to the pattern of any occurrence in `b` (they cannot overlap).
    fn any(&self, b: &[u8], mut yes: impl FnMut(usize) -> bool) -> bool {
        match self {
            Starts::Packed(s) => s.find_iter(b).any(|m| yes(m.pattern().as_usize())),
            Starts::Automaton(a) => a.find_iter(b).any(|m| yes(m.pattern().as_usize())),
        }
    }
}

/// Whether bytes hold `Secret` in base64, at any alignment.
pub(super) fn names_in_base64(b: &[u8]) -> bool {
    needles().base64.iter().any(|f| f.find(b).is_some())
}

/// A field's bytes read as text: UTF-8 with no control character but tab and line ends (a
/// protobuf message has tags below 0x20 besides `\n`, so it is not one), or UTF-16 behind its
/// byte-order mark.
fn is_text(b: &[u8]) -> bool {
    matches!(b, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]) || super::render::is_text(b, true)
}

/// Whether one text (or field's bytes) holds a Secret's manifest: read when it names `Secret`
/// and a data field (the rule a JSON object's strings get, [`super::secret_text::holds_secret_object`];
/// a name alone, a reference to a Secret, is no manifest), or is UTF-16, or spells with escapes,
/// or with its NUL bytes taken out (UTF-16 without its mark) does; or when it is base64 of bytes
/// that do.
pub(super) fn text_holds_manifest(t: &[u8]) -> bool {
    // A text holding base64 of gzip inside (JSON or YAML: a last-applied annotation copying a
    // ConfigMap's gzipped file, review 44b) is read too: its strings are judged one by one.
    let gzip = super::secret_gzip::may_be(t);
    let named = names_secret_and_data(t) || !gzip && has(t, super::secret_gzip::GZIP_BASE64);
    let spelled =
        matches!(t, [0xff, 0xfe, ..] | [0xfe, 0xff, ..]) || has(t, b"\\u") || has(t, b"\\x") || has(t, b"\\U");
    if (named || spelled) && text_holds_secret(t) {
        return true;
    }
    if t.contains(&0) && has(t, SECRET_UTF16) {
        return text_holds_manifest(&narrowed(t));
    }
    names_in_base64(t) && base64_text(t).is_some_and(|d| text_holds_manifest(&d))
        || gzip && super::secret_gzip::holds(t, &inflated_holds_manifest)
}

/// Whether the bytes a gzip stream inflates to hold a manifest: as text, as a protobuf message
/// (Helm 2's releases), or as bytes that are neither.
fn inflated_holds_manifest(d: &[u8]) -> bool {
    if is_text(d) {
        text_holds_manifest(d)
    } else {
        message_holds_manifest(d) || bytes_hold_manifest(d)
    }
}

/// Whether bytes holding `Secret` in UTF-16 without a byte-order mark (either byte order) hold a
/// manifest, read with their zero bytes taken out ([`text_holds_manifest`]).
pub(super) fn unmarked_utf16_holds_manifest(b: &[u8]) -> bool {
    if !b.contains(&0) {
        return false;
    }
    if needles().utf16.find(b).is_some() {
        return text_holds_manifest(b);
    }
    // A Secret without its kind names `metadata` (review 44b: a list of them printed).
    has(b, METADATA_UTF16) && {
        let narrow = narrowed(b);
        may_hold_secret(&narrow) && text_holds_secret(&narrow)
    }
}

/// UTF-16 read as its ASCII: the bytes with the zero bytes taken out.
fn narrowed(b: &[u8]) -> Vec<u8> {
    b.iter().copied().filter(|&c| c != 0).collect()
}

/// Whether bytes name `Secret` and a data field (`data`, `stringData`, `Data`).
fn names_secret_and_data(b: &[u8]) -> bool {
    has(b, b"Secret") && (has(b, b"data") || has(b, b"Data"))
}

/// Whether bytes that are neither text nor a message (a file that is not UTF-8, damage) hold a
/// manifest: judged as text when they name `Secret` and a data field, in UTF-8 or UTF-16 (binary
/// bytes hold escapes by chance, and reading them as text costs; review 43d's shapes all name it).
fn bytes_hold_manifest(b: &[u8]) -> bool {
    (names_secret_and_data(b) || needles().utf16.find(b).is_some()) && text_holds_manifest(b)
        || super::secret_gzip::may_be(b) && super::secret_gzip::holds(b, &inflated_holds_manifest)
}

/// The bytes a text that is base64 alone (whitespace aside; standard or URL-safe, padded or not:
/// review 49c) decodes to.
fn base64_text(t: &[u8]) -> Option<Vec<u8>> {
    super::secret_gzip::base64_lenient(t)
}

/// Walks the protobuf message `msg` ([`field`] each length-delimited field). A message that
/// stops reading before its end (damage: a length too short, a wrong tag) is judged as text too,
/// whole, since a string cut in two by a damaged length lies whole in its bytes; a field whose
/// length runs past the end is taken as the bytes that are. `found` gets each text holding a
/// manifest.
fn walk<'a>(msg: &'a [u8], depth: usize, found: &mut dyn FnMut(&'a [u8]) -> ControlFlow<()>) -> ControlFlow<()> {
    let mut it = fields(msg);
    loop {
        let at = it.offset();
        match it.next() {
            None => return ControlFlow::Continue(()),
            Some(Ok((_, Wire::Bytes(b)))) => field(b, depth, found)?,
            Some(Ok(_)) => {}
            Some(Err(_)) => {
                if let Some((_, _, rest)) = cut_field(msg, at) {
                    field(rest, depth, found)?;
                }
                if bytes_hold_manifest(msg) {
                    found(msg)?;
                }
                return ControlFlow::Continue(());
            }
        }
    }
}

/// One field's bytes: a message (reading to its end) is walked in turn, when it may hold a
/// manifest; anything else, text or not (a file in `binaryData` that is not UTF-8, a string with
/// a control character, a message cut short: walked as far as it reads too), and anything past
/// [`MAX_MESSAGES`] deep, is judged as text.
fn field<'a>(b: &'a [u8], depth: usize, found: &mut dyn FnMut(&'a [u8]) -> ControlFlow<()>) -> ControlFlow<()> {
    if !may_hold(b) {
        return ControlFlow::Continue(());
    }
    let text = is_text(b);
    if !text && super::secret_gzip::may_be(b) {
        // A gzip stream (a file kept gzipped in `binaryData`) is no message (`1f` is no tag):
        // judged by what it inflates to.
        if super::secret_gzip::holds(b, &inflated_holds_manifest) {
            found(b)?;
        }
        return ControlFlow::Continue(());
    }
    if !text && depth >= MAX_MESSAGES {
        // Past the depth walked, not read through: withheld when it names a Secret and a data
        // field, as text past what is read is (review 43d: 17 messages deep printed).
        if names_secret_and_data(b) || text_holds_manifest(b) {
            found(b)?;
        }
        return ControlFlow::Continue(());
    }
    if !text {
        // A message is walked; bytes that stop reading as one (damage, a file that is not UTF-8)
        // are walked as far as they read, and judged as text, whole, where they stop ([`walk`]).
        return walk(b, depth + 1, found);
    }
    if text_holds_manifest(b) {
        found(b)?;
    }
    ControlFlow::Continue(())
}

/// Whether a text field anywhere in the protobuf message `msg` holds a Secret's manifest. A
/// message that may hold none ([`may_hold`]: no `Secret` in any spelling) costs one search of
/// its bytes. Within the stored value's budget of parsing ([`super::secret::holds_plaintext`]
/// sets it).
pub(super) fn message_holds_manifest(msg: &[u8]) -> bool {
    may_hold(msg) && walk(msg, 0, &mut |_| ControlFlow::Break(())).is_break()
}

/// The text fields of `msg` holding a manifest (at most [`MAX_TEXTS`] + 1: more says "too many").
fn manifest_texts(msg: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    if may_hold(msg) {
        let _ = walk(msg, 0, &mut |t| {
            out.push(t);
            if out.len() > MAX_TEXTS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
    }
    out
}

/// Redacts, in `decoded` (a protobuf `value` decoded under its own kind, which is not Secret),
/// every string that is a text holding a Secret's manifest, shown as text or as base64 (a
/// ConfigMap's `binaryData`), and every other string or map key holding one. When one of those
/// texts is not found among the decoded strings (the decode placed it elsewhere, or could not,
/// or it lay in damaged bytes), the object is shown by its identity alone ([`withheld_whole`]).
/// Returns whether the value held one.
pub fn redact_manifests(value: &[u8], decoded: &mut Value) -> bool {
    super::secret_parsed::per_value(|| {
        let body = value.get(super::encoding::PROTOBUF_MAGIC.len()..).unwrap_or_default();
        let texts = manifest_texts(body);
        if texts.is_empty() {
            return false;
        }
        let mut seen = vec![false; texts.len()];
        // The decoded strings are judged again: a budget of their own for what they inflate
        // (review 44b: harmless gzip entries came out redacted once the first pass spent it).
        super::secret_gzip::reset();
        redact_decoded(decoded, &texts, &mut seen, 0);
        if texts.len() > MAX_TEXTS || seen.contains(&false) {
            withheld_whole(decoded, value.len());
        }
        true
    })
}

/// Redacts every string and map key of a decoded object (a Secret's, already redacted as one, or
/// another kind's) that holds a Secret's manifest: what the Secret rule leaves shown (its
/// metadata, annotations as YAML, label keys) must not hold one either.
pub fn redact_texts(decoded: &mut Value) {
    super::secret_parsed::per_value(|| redact_decoded(decoded, &[], &mut [], 0));
}

/// An object shown by its identity alone: `apiVersion`, `kind`, `metadata.name` and
/// `metadata.namespace` (where they read as names), and `withheld` with the stored value's size.
fn withheld_whole(v: &mut Value, bytes: usize) {
    // Only what reads as a name (what damage or a field read as another puts there may be data).
    let named = |x: &&Value| {
        x.as_str().is_some_and(|t| {
            t.len() <= 253 && t.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'/'))
        })
    };
    let pick = |v: &Value, k: &str| v.get(k).filter(named).cloned();
    let mut meta = serde_json::Map::new();
    for k in ["name", "namespace"] {
        if let Some(x) = v.get("metadata").and_then(|m| pick(m, k)) {
            meta.insert(k.into(), x);
        }
    }
    let mut out = serde_json::Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(x) = pick(v, k) {
            out.insert(k.into(), x);
        }
    }
    out.insert("metadata".into(), Value::Object(meta));
    out.insert("withheld".into(), super::render::redacted(bytes));
    *v = Value::Object(out);
}

/// Replaces every string of `v` that is one of `texts` (or its base64), or holds a manifest
/// itself, by a placeholder, and every map key holding one by a redacted key; marks in `seen` the
/// texts found.
fn redact_decoded(v: &mut Value, texts: &[&[u8]], seen: &mut [bool], depth: usize) {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let decoded = if texts.is_empty() { None } else { base64_text(b) };
            let mut hit = false;
            for (i, t) in texts.iter().enumerate() {
                if *t == b || decoded.as_deref() == Some(*t) {
                    seen[i] = true;
                    hit = true;
                }
            }
            if hit || depth > MAX_VALUE_DEPTH && may_hold(b) || may_hold(b) && text_holds_manifest(b) {
                *v = super::render::redacted(decoded.map_or(b.len(), |d| d.len()));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_decoded(x, texts, seen, depth + 1)),
        // A Secret inside (a managedFields entry's fieldsV1 parsed, a List's item): the Secret
        // rule's redaction.
        Value::Object(m) if matches!(m.get("kind").and_then(Value::as_str), Some("Secret" | "SecretList")) => {
            super::redact::redact_json(v);
        }
        Value::Object(m) => {
            if m.keys().any(|k| may_hold(k.as_bytes()) && text_holds_manifest(k.as_bytes())) {
                let old = std::mem::take(m);
                for (k, x) in old {
                    let k = if may_hold(k.as_bytes()) && text_holds_manifest(k.as_bytes()) {
                        super::secret::redacted_key(k.len(), m)
                    } else {
                        k
                    };
                    m.insert(k, x);
                }
            }
            m.values_mut().for_each(|x| redact_decoded(x, texts, seen, depth + 1));
        }
        _ => {}
    }
}

#[cfg(test)]
#[path = "secret_manifest_tests.rs"]
mod tests;
