//! Opening an input file: sniffed by its first bytes, passed through when plain, or streamed
//! through its decoder into an unlinked temporary file (`$TMPDIR`) with fixed-size buffers.

use super::copy::{copy_bounded, CopyError};
use super::error::InputError;
use super::room::Roomy;
use super::sniff::{sniff, Container, Sniffed, SNIFF_LEN};
use super::{gzip, zip};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use zstd::zstd_safe::zstd_sys::ZSTD_ErrorCode;

/// The expansion limit the CLI uses unless told otherwise: 64 GiB.
pub const DEFAULT_MAX_EXPANDED: u64 = 64 << 30;

/// An input file ready to be mapped read-only.
#[derive(Debug)]
pub struct Expanded {
    /// The database bytes: the input file itself when [`Container::Plain`], else an unlinked
    /// temporary file holding the expanded data (gone when this is dropped). Positioned at 0.
    pub file: File,
    /// The input file as opened (for a container, the archive the bytes came out of): what the
    /// index's identity of the bytes describes, whatever is at the path by then.
    pub source: File,
    /// The container the input was in.
    pub container: Container,
    /// The zip entry's name (k3s: the snapshot's name without `.zip`); `None` for other containers.
    pub entry_name: Option<String>,
    /// The input file's size in bytes.
    pub compressed_size: u64,
    /// The database's size in bytes (the input's size when plain).
    pub expanded_size: u64,
}

/// Opens `path` and, when it is a zip, gzip or zstd container, expands it into an unlinked
/// temporary file, writing at most `limit` bytes (past it: [`InputError::TooLarge`]). A file
/// with no known magic is returned as it is; an etcd WAL, tar, xz, bzip2 or lz4 file, inside a
/// container or not, is refused as [`InputError::NotDatabase`], as is a container inside a
/// container ([`InputError::Nested`]).
pub fn expand(path: &Path, limit: u64) -> Result<Expanded, InputError> {
    let read_err = |source: io::Error| InputError::Read { path: path.to_path_buf(), source };
    let mut input = super::open_regular(path).map_err(read_err)?;
    let compressed_size = input.metadata().map_err(read_err)?.len();
    let head = read_head(&mut input).map_err(read_err)?;
    let container = match sniff(&head) {
        Sniffed::NotDatabase(kind) => {
            return Err(InputError::NotDatabase { path: path.to_path_buf(), kind, inside: None });
        }
        Sniffed::Container(Container::Plain) => {
            return Ok(Expanded {
                source: input.try_clone().map_err(read_err)?,
                file: input,
                container: Container::Plain,
                entry_name: None,
                compressed_size,
                expanded_size: compressed_size,
            });
        }
        Sniffed::Container(c) => c,
    };
    let source = input.try_clone().map_err(read_err)?;
    let temp_err = |source: io::Error| InputError::TempFile { path: path.to_path_buf(), source };
    let mut out = tempfile::tempfile().map_err(temp_err)?;
    // Written with an eye on the file system's free space: the limit alone can fill a small one.
    let mut room = Roomy::new(&mut out);
    let (expanded_size, entry_name) = match container {
        Container::Zip => zip::expand(path, input, &mut room, limit).map(|(n, name)| (n, Some(name)))?,
        Container::Gzip => (gzip::expand(path, input, &mut room, limit)?, None),
        Container::Zstd => (expand_zstd(path, input, &mut room, limit)?, None),
        Container::Plain => (0, None),
    };
    // A run of zeros at the end was skipped over (a hole): the length says where the data ends.
    out.set_len(expanded_size).map_err(temp_err)?;
    out.flush().map_err(temp_err)?;
    let inner = read_head(&mut out).map_err(temp_err)?;
    match sniff(&inner) {
        Sniffed::NotDatabase(kind) => {
            return Err(InputError::NotDatabase { path: path.to_path_buf(), kind, inside: Some(container) })
        }
        Sniffed::Container(Container::Plain) => {}
        Sniffed::Container(inner) => {
            return Err(InputError::Nested { path: path.to_path_buf(), outer: container, inner })
        }
    }
    Ok(Expanded { file: out, source, container, entry_name, compressed_size, expanded_size })
}

/// Reads up to [`SNIFF_LEN`] bytes from the start of `f`, and leaves it at the start again.
fn read_head(f: &mut File) -> io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    Read::by_ref(f).take(SNIFF_LEN as u64).read_to_end(&mut head)?;
    f.seek(SeekFrom::Start(0))?;
    Ok(head)
}

/// zstd: every frame (and skippable frame) in turn, as `zstd -d` does. Frames carrying a content
/// checksum are checked by libzstd. The decoding window is limited to libzstd's default of
/// 128 MiB, which bounds memory: a file made with `--long=28` or more is refused with a hint.
fn expand_zstd(path: &Path, input: File, out: &mut dyn Write, limit: u64) -> Result<u64, InputError> {
    let fail = |what: String| InputError::Corrupt { path: path.to_path_buf(), container: Container::Zstd, what };
    let end = input.metadata().map_or(0, |m| m.len());
    let mut dec = zstd::stream::read::Decoder::new(input)
        .map_err(|source| InputError::Read { path: path.to_path_buf(), source })?;
    let mut budget = limit;
    let mut crc = crc32fast::Hasher::new();
    match copy_bounded(&mut dec, out, &mut budget, &mut crc) {
        Ok(n) => Ok(n),
        Err(CopyError::TooLarge) => {
            Err(InputError::TooLarge { path: path.to_path_buf(), container: Container::Zstd, limit, declared: None })
        }
        Err(CopyError::Write(source)) => Err(InputError::TempFile { path: path.to_path_buf(), source }),
        Err(CopyError::Read(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(InputError::Truncated {
            path: path.to_path_buf(),
            container: Container::Zstd,
            what: format!("inside a frame; the file ends at byte {end}"),
        }),
        Err(CopyError::Read(e)) => match e.get_ref().and_then(|inner| inner.downcast_ref::<zstd::Error>()) {
            Some(z) if z.is(ZSTD_ErrorCode::ZSTD_error_checksum_wrong) => Err(InputError::Checksum {
                path: path.to_path_buf(),
                container: Container::Zstd,
                what: "a frame's content checksum (XXH64) does not match its data".into(),
            }),
            Some(z) if z.is(ZSTD_ErrorCode::ZSTD_error_frameParameter_windowTooLarge) => Err(fail(
                "a frame needs a decoding window larger than 128 MiB (made with zstd --long?); decompress it first \
                 with `zstd -d --long=31 FILE` and pass the result"
                    .into(),
            )),
            Some(z) => Err(fail(z.to_string())),
            None => Err(InputError::Read { path: path.to_path_buf(), source: e }),
        },
    }
}
