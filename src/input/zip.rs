//! zip: the archive k3s and RKE2 write for `--etcd-snapshot-compress` (Go's archive/zip, one
//! Deflate entry named like the archive without `.zip`, sizes and CRC in a data descriptor after
//! the data). The central directory (at the end of the file) is read, so the data descriptor flag
//! does not matter; zip64 archives are read too. Exactly one entry, Deflate or Stored, not
//! encrypted; its CRC-32 and uncompressed size from the central directory are checked.

use super::copy::{copy_bounded, CopyError, BUF_LEN};
use super::error::{InputError, LISTED_ENTRIES};
use super::sniff::Container;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use zip::result::ZipError;
use zip::ZipArchive;

/// The end of central directory record's signature, and how far from the end it can be: its 22
/// bytes plus a comment of up to 65535 bytes.
const EOCD_MAGIC: [u8; 4] = *b"PK\x05\x06";
const EOCD_SEARCH: u64 = 22 + 65535;

/// Archives recording more entries than this are refused before their directory is parsed
/// (without entry names).
const MAX_PARSED_ENTRIES: u64 = 1024;

/// Expands the one entry of the zip archive `input` into `out`, at most `limit` bytes. Returns
/// the bytes written and the entry's name.
pub(crate) fn expand(
    path: &Path,
    mut input: File,
    out: &mut dyn Write,
    limit: u64,
) -> Result<(u64, String), InputError> {
    let fail = |what: String| InputError::Corrupt { path: path.to_path_buf(), container: Container::Zip, what };
    let read_err = |source: io::Error| InputError::Read { path: path.to_path_buf(), source };
    let Some(recorded) = recorded_entries(&mut input).map_err(read_err)? else {
        return Err(InputError::Truncated {
            path: path.to_path_buf(),
            container: Container::Zip,
            what: "no end of central directory record, the index every zip archive ends with".into(),
        });
    };
    if recorded > MAX_PARSED_ENTRIES {
        return Err(InputError::ZipEntries { path: path.to_path_buf(), count: recorded, names: Vec::new() });
    }
    input.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut archive = ZipArchive::new(BufReader::with_capacity(BUF_LEN, input)).map_err(|e| match e {
        ZipError::Io(source) if source.kind() == io::ErrorKind::UnexpectedEof => InputError::Truncated {
            path: path.to_path_buf(),
            container: Container::Zip,
            what: "the central directory runs past the end of the file".into(),
        },
        ZipError::Io(source) => read_err(source),
        e => fail(e.to_string()),
    })?;
    let count = archive.len();
    if count != 1 {
        let names =
            (0..count.min(LISTED_ENTRIES)).filter_map(|i| archive.name_for_index(i)).map(str::to_string).collect();
        return Err(InputError::ZipEntries { path: path.to_path_buf(), count: count as u64, names });
    }
    let (name, crc, size) = {
        let entry = archive.by_index_raw(0).map_err(|e| match e {
            ZipError::Io(source) if source.kind() == io::ErrorKind::UnexpectedEof => InputError::Truncated {
                path: path.to_path_buf(),
                container: Container::Zip,
                what: "in the entry's local header".into(),
            },
            e => fail(format!("entry 1: {e}")),
        })?;
        let name = entry.name().to_string();
        let unsupported =
            |what: String| InputError::ZipUnsupported { path: path.to_path_buf(), entry: name.clone(), what };
        if entry.is_dir() {
            return Err(unsupported("is a directory, not a file".into()));
        }
        if entry.encrypted() {
            return Err(unsupported("is encrypted; boltscope reads unencrypted archives only".into()));
        }
        let method = method_number(entry.compression());
        if method != 0 && method != 8 {
            return Err(unsupported(format!(
                "compression method {method} ({}); only Deflate (8) and Stored (0) are read: extract it with unzip \
                 and pass the extracted file",
                method_name(method)
            )));
        }
        if entry.size() > limit {
            // The central directory already says it: refuse before writing anything.
            return Err(InputError::TooLarge { path: path.to_path_buf(), container: Container::Zip, limit });
        }
        (name, entry.crc32(), entry.size())
    };
    let mut entry = archive.by_index(0).map_err(|e| fail(format!("entry {name:?}: {e}")))?;
    let mut budget = limit;
    let mut hasher = crc32fast::Hasher::new();
    let copied = copy_bounded(&mut entry, out, &mut budget, &mut hasher);
    let actual_crc = hasher.finalize();
    let crc_error = || {
        InputError::Checksum {
        path: path.to_path_buf(),
        container: Container::Zip,
        what: format!(
            "entry {name:?}: the central directory's CRC-32 is {crc:#010x} but the expanded data's is {actual_crc:#010x}"
        ),
    }
    };
    let n = match copied {
        Ok(n) => n,
        Err(CopyError::TooLarge) => {
            return Err(InputError::TooLarge { path: path.to_path_buf(), container: Container::Zip, limit })
        }
        Err(CopyError::Write(source)) => return Err(InputError::TempFile { path: path.to_path_buf(), source }),
        // The zip crate checks the CRC-32 when the entry ends, and says so as invalid data.
        Err(CopyError::Read(e)) if e.kind() == io::ErrorKind::InvalidData && actual_crc != crc => {
            return Err(crc_error())
        }
        Err(CopyError::Read(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(InputError::Truncated {
                path: path.to_path_buf(),
                container: Container::Zip,
                what: format!("inside the data of entry {name:?}"),
            })
        }
        Err(CopyError::Read(e)) if matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData) => {
            return Err(fail(format!("entry {name:?}: {e}")))
        }
        Err(CopyError::Read(source)) => return Err(read_err(source)),
    };
    if actual_crc != crc {
        return Err(crc_error());
    }
    if n != size {
        return Err(InputError::SizeMismatch {
            path: path.to_path_buf(),
            container: Container::Zip,
            what: format!("entry {name:?}: the size in the central directory"),
            recorded: size,
            actual: n,
        });
    }
    Ok((n, name))
}

/// The entry count of the archive's end of central directory record (the last `PK\x05\x06` in
/// the final 65557 bytes; its zip64 record's count when the 16-bit one is 0xffff and a zip64
/// locator precedes it), or `None` when there is no such record: almost always a file cut short.
/// Read before the zip crate parses the directory, so that a hostile count cannot make it
/// reserve memory for millions of entries.
fn recorded_entries(f: &mut File) -> io::Result<Option<u64>> {
    let len = f.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(EOCD_SEARCH);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity(usize::try_from(len - start).unwrap_or(0));
    Read::by_ref(f).take(EOCD_SEARCH).read_to_end(&mut tail)?;
    let Some(at) = tail.windows(EOCD_MAGIC.len()).rposition(|w| w == EOCD_MAGIC) else {
        return Ok(None);
    };
    let le16 = |d: &[u8], o: usize| d.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let Some(count16) = le16(&tail, at + 10) else {
        return Ok(None);
    };
    if count16 != u16::MAX {
        return Ok(Some(u64::from(count16)));
    }
    // zip64: the locator (20 bytes) just before the record gives the zip64 record's offset.
    let zip64 = at.checked_sub(20).and_then(|l| tail.get(l..l + 20)).filter(|loc| loc.starts_with(b"PK\x06\x07"));
    let Some(offset) = zip64.and_then(|loc| loc.get(8..16)).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    else {
        return Ok(Some(u64::from(count16)));
    };
    let mut record = [0u8; 40];
    f.seek(SeekFrom::Start(offset))?;
    if f.read_exact(&mut record).is_err() || !record.starts_with(b"PK\x06\x06") {
        return Ok(Some(u64::from(count16)));
    }
    Ok(record.get(32..40).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes))
}

/// The number the archive records for a compression method (the zip crate deprecates this
/// accessor in favour of matching its constants, but the number is what users can look up).
#[allow(deprecated)]
fn method_number(m: zip::CompressionMethod) -> u16 {
    m.to_u16()
}

/// The zip specification's name of a compression method.
fn method_name(method: u16) -> &'static str {
    match method {
        0 => "Stored",
        1 => "Shrunk",
        2..=5 => "Reduced",
        6 => "Imploded",
        8 => "Deflate",
        9 => "Deflate64",
        12 => "bzip2",
        14 => "LZMA",
        93 => "zstd",
        95 => "xz",
        98 => "PPMd",
        99 => "AES-encrypted",
        _ => "unknown",
    }
}
