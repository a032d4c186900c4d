//! Secrets' manifests kept compressed: Helm's ConfigMap storage driver (`HELM_DRIVER=configmap`,
//! and Helm 2's Tiller, which kept every release in a ConfigMap) stores each release as base64 of
//! gzip, of JSON (Helm 3) or protobuf (Helm 2); the release holds its rendered manifest, Secrets
//! included, and the values given to it. A file kept gzipped in a ConfigMap's `binaryData`, or
//! at an application's key, is the same bytes without the base64.
//!
//! A text or field that is a gzip stream (it starts with the magic `1f 8b 08`), or base64 of one
//! (`H4sI`), is inflated and its bytes judged as the caller judges any (a text, a protobuf message,
//! a stored value). Inflating is bounded: every stream one stored value holds shares
//! [`BUDGET`] bytes of output (a 1.5 MiB value can inflate to 1.5 GB), and streams inside
//! inflated streams go [`MAX_NESTED`] deep. Past either bound the bytes are not read through, and
//! a value holding them is withheld, as text past what is read is. So is one holding more than
//! [`MAX_MEMBERS`] gzip members; inflated bytes over [`MAX_JUDGED`] are not parsed, and are
//! withheld when they may name a Secret.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

/// The first bytes of a gzip stream (deflate, the only method there is).
pub(super) const GZIP_MAGIC: &[u8] = b"\x1f\x8b\x08";

/// Those bytes in base64, as a text holding base64 of a gzip stream begins.
pub(super) const GZIP_BASE64: &[u8] = b"H4sI";

/// That text in base64 again, as a JSON object's `binaryData` writes a file holding it.
pub(super) const GZIP_BASE64_TWICE: &[u8] = b"SDRzSU";

/// The bytes the streams one stored value holds may inflate to: a large Helm release (a chart
/// such as kube-prometheus-stack, its templates and values) inflates to a few MiB.
const BUDGET: u64 = 32 << 20;

/// How many streams deep, one inside another's bytes, are inflated.
const MAX_NESTED: u8 = 3;

/// How many gzip members (streams, or members of one stream) one stored value may hold: each
/// costs a decoder's setup whatever it inflates to (review 44b: 1.5 million empty members in 48
/// KB took 10 s).
const MAX_MEMBERS: u32 = 256;

/// The most inflated bytes handed to the rules as a whole: what the text rules parse at most
/// (review 44b: 32 MiB of tiny JSON objects, parsed whole, ran out of memory). Past it, withheld
/// when they may name a Secret in any spelling, shown otherwise.
const MAX_JUDGED: usize = 4 << 20;

std::thread_local! {
    /// Bytes the stored value being judged may still inflate to.
    static LEFT: Cell<u64> = const { Cell::new(BUDGET) };
    /// Members the stored value being judged may still hold.
    static MEMBERS: Cell<u32> = const { Cell::new(MAX_MEMBERS) };
    /// Streams being judged on this thread, one inside another.
    static NESTED: Cell<u8> = const { Cell::new(0) };
}

/// Gives the next stored value (or pass over one) its budget.
pub(super) fn reset() {
    LEFT.with(|l| l.set(BUDGET));
    MEMBERS.with(|m| m.set(MAX_MEMBERS));
}

/// Base64 as a value may hold it: standard or URL-safe, with or without padding, in lines.
pub(super) fn base64_lenient(b: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{general_purpose::GeneralPurposeConfig, DecodePaddingMode, GeneralPurpose};
    use base64::{alphabet, Engine};
    let compact: Vec<u8> = b.iter().copied().filter(|c| !c.is_ascii_whitespace()).collect();
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [alphabet::STANDARD, alphabet::URL_SAFE].iter().find_map(|a| GeneralPurpose::new(a, config).decode(&compact).ok())
}

/// `b` past leading whitespace and a UTF-8 byte-order mark.
fn lead(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let b = &b[b.iter().position(|c| !c.is_ascii_whitespace() && *c != 0x0b).unwrap_or(b.len())..];
    b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b)
}

/// The gzip stream `b` is (past leading whitespace), itself or decoded from base64; `None` when
/// it is none.
fn stream(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    let b = lead(b);
    if b.starts_with(GZIP_MAGIC) {
        return Some(Cow::Borrowed(b));
    }
    if b.starts_with(GZIP_BASE64) {
        return base64_lenient(b).filter(|d| d.starts_with(GZIP_MAGIC)).map(Cow::Owned);
    }
    if b.starts_with(GZIP_BASE64_TWICE) {
        let once = base64_lenient(b)?;
        return stream(&once).map(|s| Cow::Owned(s.into_owned()));
    }
    None
}

/// Whether `b` may be a compressed text: it begins (past whitespace and a byte-order mark) with a
/// gzip stream's magic, or base64 of it. Cheap: what decides whether [`holds`] is worth asking.
pub(super) fn may_be(b: &[u8]) -> bool {
    let b = lead(b);
    b.starts_with(GZIP_MAGIC) || b.starts_with(GZIP_BASE64) || b.starts_with(GZIP_BASE64_TWICE)
}

/// Inflates `gz`, member after member, into `out` up to `left` bytes and the value's members;
/// false when a bound was passed.
fn inflate(gz: &[u8], left: u64, out: &mut Vec<u8>) -> bool {
    let mut rest = gz;
    while rest.starts_with(GZIP_MAGIC) {
        if MEMBERS.with(|m| m.replace(m.get().saturating_sub(1))) == 0 {
            return false;
        }
        let room = left.saturating_sub(out.len() as u64);
        let mut member = flate2::bufread::GzDecoder::new(rest);
        // A read error (a member cut short, damaged) leaves what was inflated before it.
        let failed = (&mut member).take(room.saturating_add(1)).read_to_end(out).is_err();
        if out.len() as u64 > left {
            return false;
        }
        let next = member.into_inner();
        if failed || next.len() >= rest.len() {
            break;
        }
        rest = next;
    }
    true
}

/// Whether `b`, a gzip stream or base64 of one, holds what `judge` looks for in its inflated
/// bytes; true, unread, past the value's budget or [`MAX_NESTED`] streams deep. A stream cut
/// short, or damaged, is judged by the bytes it inflates to before the damage.
pub(super) fn holds(b: &[u8], judge: &dyn Fn(&[u8]) -> bool) -> bool {
    let Some(gz) = stream(b) else { return false };
    let depth = NESTED.with(Cell::get);
    if depth >= MAX_NESTED {
        return true;
    }
    let left = LEFT.with(Cell::get);
    let mut out = Vec::new();
    // Several members, one after another, are one stream to gunzip.
    if !inflate(&gz, left, &mut out) {
        LEFT.with(|l| l.set(0));
        return true;
    }
    LEFT.with(|l| l.set(left - out.len() as u64));
    if out.len() > MAX_JUDGED {
        return super::secret_manifest::may_hold(&out);
    }
    struct Level(u8);
    impl Drop for Level {
        fn drop(&mut self) {
            NESTED.with(|n| n.set(self.0));
        }
    }
    let _level = Level(depth);
    NESTED.with(|n| n.set(depth + 1));
    judge(&out)
}

#[cfg(test)]
#[path = "secret_gzip_tests.rs"]
mod tests;
