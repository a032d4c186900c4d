//! zip: the archive k3s and RKE2 write for `--etcd-snapshot-compress` (Go's archive/zip, one
//! Deflate entry named like the archive without `.zip`, sizes and CRC in a data descriptor after
//! the data). The central directory (at the end of the file) is read, so the data descriptor flag
//! does not matter; zip64 archives are read too. Exactly one entry, Deflate or Stored, not
//! encrypted; its CRC-32 and uncompressed size from the central directory are checked.

use super::copy::{copy_bounded, CopyError, BUF_LEN};
use super::error::{InputError, LISTED_ENTRIES};
use super::sniff::Container;
use super::zipdir::{self, DirError};
use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::path::Path;
use zip::result::ZipError;
use zip::ZipArchive;

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
    let truncated =
        |what: &str| InputError::Truncated { path: path.to_path_buf(), container: Container::Zip, what: what.into() };
    let dir = match zipdir::read(&mut input, LISTED_ENTRIES) {
        Ok(d) => d,
        Err(DirError::Missing) => {
            return Err(truncated("no end of central directory record, the index every zip archive ends with"))
        }
        Err(DirError::TooMany(count)) => {
            return Err(InputError::ZipEntries { path: path.to_path_buf(), count, names: Vec::new() })
        }
        Err(DirError::Bad(what)) => return Err(fail(what)),
        Err(DirError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(truncated("the central directory runs past the end of the file"))
        }
        Err(DirError::Io(e)) => return Err(read_err(e)),
    };
    // Counted from the directory itself: the zip crate keys entries by name, so two entries of
    // one name would read as one.
    if dir.count != 1 {
        return Err(InputError::ZipEntries { path: path.to_path_buf(), count: dir.count, names: dir.names });
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
            let declared = Some(entry.size());
            return Err(InputError::TooLarge { path: path.to_path_buf(), container: Container::Zip, limit, declared });
        }
        (name, entry.crc32(), entry.size())
    };
    let mut entry = archive.by_index(0).map_err(|e| fail(format!("entry {name:?}: {e}")))?;
    // No more than the directory declares (one byte past it tells a lie): an entry that inflates
    // past its declared size must not fill the temporary directory up to the limit first.
    let mut budget = limit.min(size.saturating_add(1));
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
        Err(CopyError::TooLarge) if size < limit => {
            return Err(fail(format!(
                "entry {name:?}: the central directory declares {size} bytes, but the data expands past them \
                 (stopped at {} bytes)",
                size.saturating_add(1)
            )))
        }
        Err(CopyError::TooLarge) => {
            return Err(InputError::TooLarge {
                path: path.to_path_buf(),
                container: Container::Zip,
                limit,
                declared: None,
            })
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
