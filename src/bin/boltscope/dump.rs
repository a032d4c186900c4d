//! `dump`: every key of the file (or every revision) as JSON lines, streamed with bounded memory,
//! for `jq`, DuckDB or a spreadsheet.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::keyread::{self, Failure, ObjectFormat, ValueArgs};
use boltscope::etcd::dump::{self, Select};
use boltscope::etcd::range::KeyRange;
use boltscope::etcd::scan::Entry;
use boltscope::input;
use clap::Parser;
use serde_json::Value;
use std::borrow::Cow;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// Arguments of `dump`.
#[derive(Parser, Debug)]
pub struct DumpArgs {
    /// The etcd file: a snapshot, `member/snap/db`, or either compressed.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Only keys starting with P.
    #[arg(long, value_name = "P")]
    pub prefix: Option<OsString>,
    /// The keys live at this revision (default: the current one). Read as etcdctl reads
    /// integers, as `get`, `log` and `hashkv` do: `0x` hex, `0o`/leading-`0` octal, `0b` binary.
    #[arg(
        long,
        value_name = "R",
        allow_hyphen_values = true,
        value_parser = crate::goflag::parse_i64,
        conflicts_with = "all_revisions"
    )]
    pub rev: Option<i64>,
    /// Every revision the file holds, deletes (tombstones) included, instead of one record per key.
    #[arg(long)]
    pub all_revisions: bool,
    /// Decoding and Secrets.
    #[command(flatten)]
    pub value: ValueArgs,
    #[command(flatten)]
    pub hash: keyread::HashArgs,
}

/// Appends the record of one entry as JSON text (fields in a fixed order, `key` first), written
/// straight into the chunk's buffer.
fn record(a: &DumpArgs, buf: &mut Vec<u8>, e: &Entry<'_>, withheld: &AtomicU64) {
    let kv = &a.value.guard(e.kv, withheld);
    if plain_ascii(kv.key) {
        // Nearly every etcd key: ASCII with nothing to escape, copied as it is (no UTF-8 check,
        // no escape search: a byte-at-a-time loop that stopped at the first byte to escape was a
        // tenth of this function's time).
        buf.extend_from_slice(b"{\"key\":\"");
        buf.extend_from_slice(kv.key);
        buf.push(b'"');
    } else {
        match std::str::from_utf8(kv.key) {
            Ok(k) => {
                buf.extend_from_slice(b"{\"key\":");
                json_string(buf, k);
            }
            Err(_) => {
                buf.extend_from_slice(b"{\"key_base64\":\"");
                base64_into(buf, kv.key);
                buf.push(b'"');
            }
        }
    }
    if e.rev.tombstone {
        buf.extend_from_slice(b",\"create_revision\":null,\"mod_revision\":");
        int(buf, e.rev.main as i64);
        buf.extend_from_slice(
            b",\"version\":null,\"lease\":null,\"tombstone\":true,\"value_size\":null,\"value_base64\":null}",
        );
        return;
    }
    buf.extend_from_slice(b",\"create_revision\":");
    int(buf, kv.create_revision as i64);
    buf.extend_from_slice(b",\"mod_revision\":");
    int(buf, e.rev.main as i64);
    buf.extend_from_slice(b",\"version\":");
    int(buf, kv.version as i64);
    buf.extend_from_slice(b",\"lease\":");
    if kv.lease == 0 {
        buf.extend_from_slice(b"null");
    } else {
        let _ = write!(buf, "\"{}\"", boltscope::etcd::ctl::lease_id(kv.lease));
    }
    buf.extend_from_slice(b",\"tombstone\":false,\"value_size\":");
    buf.extend_from_slice(itoa::Buffer::new().format(kv.value.len()).as_bytes());
    if a.value.decoding() {
        let _ = write!(buf, ",\"object\":{}", a.value.object(kv.key, kv.value));
    } else if matches!(a.value.raw(kv.key, kv.value, withheld), Cow::Borrowed(_)) {
        buf.extend_from_slice(b",\"value_base64\":\"");
        base64_into(buf, kv.value);
        buf.push(b'"');
    } else {
        buf.extend_from_slice(b",\"value_base64\":null,\"redacted\":true");
    }
    buf.push(b'}');
}

/// Whether `b` is ASCII with no control character, quote or backslash: a JSON string of its own
/// bytes. Every byte is looked at (no early stop), so the loop runs on vectors.
fn plain_ascii(b: &[u8]) -> bool {
    b.iter().fold(true, |ok, &c| ok & (0x20..0x80).contains(&c) & (c != b'"') & (c != b'\\'))
}

/// Appends a signed decimal (etcd's revisions and versions are int64).
fn int(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `s` as a JSON string, exactly as `serde_json` writes it: a key with nothing to escape
/// (no control character, quote or backslash: nearly every etcd key) is copied as it is.
fn json_string(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        buf.push(b'"');
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *buf, s);
    }
}

/// Appends standard base64 (with padding) of `b`, with the CPU's vector instructions where it
/// has them (`base64-simd` picks them at run time), straight into the buffer's spare room (never
/// zeroed first: that cost a tenth of the encoding).
fn base64_into(buf: &mut Vec<u8>, b: &[u8]) {
    let b64 = base64_simd::STANDARD;
    // Room taken the amortised way first: the crate reserves exactly what one value needs.
    buf.reserve(b64.encoded_length(b.len()));
    b64.encode_append(b, buf);
}

/// One record, written: a JSON line, or a YAML document.
fn write_record(a: &DumpArgs, buf: &mut Vec<u8>, e: &Entry<'_>, withheld: &AtomicU64) {
    if a.value.decoding() && a.value.format() == ObjectFormat::Yaml {
        let mut text = Vec::new();
        record(a, &mut text, e, withheld);
        let v: Value = serde_json::from_slice(&text).unwrap_or_default();
        buf.extend_from_slice(b"---\n");
        let y = boltscope::k8s::yaml::to_string(&v).unwrap_or_else(|e| format!("# {e}\n"));
        buf.extend_from_slice(y.as_bytes());
    } else {
        record(a, buf, e, withheld);
        buf.push(b'\n');
    }
}

/// Runs `dump`.
pub fn run(a: &DumpArgs, ix: &Ix) -> Verdict {
    let path = a.file.as_path();
    let range = a.prefix.as_ref().map_or_else(KeyRange::all, |p| KeyRange::prefix(p.as_bytes()));
    let file = match input::open(path) {
        Ok(f) => f,
        Err(e) => return keyread::fail(path, &Failure::Unreadable(e)),
    };
    let data = file.bytes();
    let stamp = input::commit_stamp(data);
    let view = match keyread::view(data, None) {
        Ok(v) => v,
        Err(f) => return keyread::fail(path, &f),
    };
    let (store, kb) = match keyread::open_store(&view) {
        Ok(s) => s,
        Err(f) => return keyread::fail(path, &f),
    };
    let select = if a.all_revisions {
        Select::AllRevisions
    } else {
        match store.read_at(a.rev.unwrap_or(0)) {
            Ok(r) => Select::At(r),
            Err(e) => return keyread::fail(path, &Failure::Rev(e)),
        }
    };
    let Some(kb) = kb else { return Verdict::Clean };
    let withheld = AtomicU64::new(0);
    // A chunk's buffer of 64 KiB or more is written as it is, not copied into this one.
    let mut out = std::io::BufWriter::with_capacity(64 << 10, crate::out::stdout());
    let mut wrote = false;
    let res = dump::dump(&view, kb, &range, select, &|buf, e| write_record(a, buf, e, &withheld), &mut |buf| {
        wrote |= !buf.is_empty();
        keyread::emit(&mut out, buf)
    });
    let flushed = out.flush();
    let res = res.map(|judged| (judged, keyread::file_issues(data, None, a.hash)));
    keyread::streamed(path, data, &stamp, res, (flushed, wrote), &withheld)
        .max(keyread::tell_remembered(path, ix.failure(path, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_key_is_one_serde_json_writes_as_it_is() {
        for b in 0..=255u8 {
            let k = [b'/', b, b'a'];
            let plain = plain_ascii(&k);
            let written = std::str::from_utf8(&k).ok().map(|s| serde_json::to_vec(s).unwrap());
            let as_is = written.as_deref() == Some(&[&b"\""[..], &k, b"\""].concat()[..]);
            // Plain keys are written as serde_json writes them; non-ASCII UTF-8 is not plain
            // (it goes the general way), nor anything serde_json escapes.
            assert!(!plain || as_is, "{b:#x}");
            assert_eq!(plain, as_is && b < 0x80, "{b:#x}");
        }
    }

    #[test]
    fn strings_and_base64_match_the_general_encoders() {
        for s in ["/registry/pods/ns/a", "", "quote\"back\\slash", "tab\tnl\n\u{1}", "caf\u{e9} \u{7f}/"] {
            let mut mine = Vec::new();
            json_string(&mut mine, s);
            assert_eq!(mine, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
        use base64::Engine;
        for n in 0..70usize {
            let b: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            let mut mine = b"x".to_vec();
            base64_into(&mut mine, &b);
            assert_eq!(mine[1..], *base64::engine::general_purpose::STANDARD.encode(&b).as_bytes(), "{n}");
        }
    }
}
