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
//! a value holding them is withheld, as text past what is read is.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::Read;

/// The first bytes of a gzip stream (deflate, the only method there is).
pub(super) const GZIP_MAGIC: &[u8] = b"\x1f\x8b\x08";

/// Those bytes in base64, as a text holding base64 of a gzip stream begins.
pub(super) const GZIP_BASE64: &[u8] = b"H4sI";

/// The bytes the streams one stored value holds may inflate to: a large Helm release (a chart
/// such as kube-prometheus-stack, its templates and values) inflates to a few MiB.
const BUDGET: u64 = 32 << 20;

/// How many streams deep, one inside another's bytes, are inflated.
const MAX_NESTED: u8 = 3;

std::thread_local! {
    /// Bytes the stored value being judged may still inflate to.
    static LEFT: Cell<u64> = const { Cell::new(BUDGET) };
    /// Streams being judged on this thread, one inside another.
    static NESTED: Cell<u8> = const { Cell::new(0) };
}

/// Gives the next stored value its budget (called as its judging starts).
pub(super) fn reset() {
    LEFT.with(|l| l.set(BUDGET));
}

/// The gzip stream `b` is (past leading whitespace), itself or decoded from base64; `None` when
/// it is none.
fn stream(b: &[u8]) -> Option<Cow<'_, [u8]>> {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let b = &b[start..];
    if b.starts_with(GZIP_MAGIC) {
        return Some(Cow::Borrowed(b));
    }
    if b.starts_with(GZIP_BASE64) {
        return super::secret_manifest::base64_text(b).filter(|d| d.starts_with(GZIP_MAGIC)).map(Cow::Owned);
    }
    None
}

/// Whether `b` may be a compressed text: it begins (past whitespace) with a gzip stream's magic,
/// or base64 of it. Cheap: what decides whether [`holds`] is worth asking.
pub(super) fn may_be(b: &[u8]) -> bool {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    b[start..].starts_with(GZIP_MAGIC) || b[start..].starts_with(GZIP_BASE64)
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
    let mut inflate = flate2::read::MultiGzDecoder::new(&gz[..]).take(left.saturating_add(1));
    // A read error leaves what was inflated before it in `out`.
    let _ = inflate.read_to_end(&mut out);
    let used = out.len() as u64;
    if used > left {
        LEFT.with(|l| l.set(0));
        return true;
    }
    LEFT.with(|l| l.set(left - used));
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
