//! gzip (RFC 1952): one or more members, each a header, deflate data and a trailer holding the
//! CRC-32 and the length (modulo 2^32) of its data. Like `gzip -d`, the members' data is
//! concatenated, and zero bytes after the last member are ignored; unlike `gzip -d`, which only
//! warns, any other bytes after the last member are refused. Every member's header CRC-16 (when
//! present), trailer CRC-32 and ISIZE are checked. Every error names the byte of the file where
//! the member, its deflate data or its trailer starts, and where the fault was found.

use super::copy::{copy_bounded, CopyError, BUF_LEN};
use super::error::InputError;
use super::sniff::Container;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::path::Path;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// Expands every member of the gzip stream `input` into `out`, at most `limit` bytes in all.
/// Returns the number of bytes written.
pub(crate) fn expand(path: &Path, input: File, out: &mut dyn Write, limit: u64) -> Result<u64, InputError> {
    let fail = Fail(path);
    let mut r = BufReader::with_capacity(BUF_LEN, input);
    let mut budget = limit;
    let mut total = 0u64;
    let mut member = 0u64;
    loop {
        member += 1;
        let start = at(&mut r, &fail)?;
        header(&mut r, (member, start), &fail)?;
        let data = at(&mut r, &fail)?;
        let mut crc = crc32fast::Hasher::new();
        let mut inflate = flate2::bufread::DeflateDecoder::new(&mut r);
        let n = match copy_bounded(&mut inflate, out, &mut budget, &mut crc) {
            Ok(n) => n,
            Err(CopyError::TooLarge) => {
                return Err(InputError::TooLarge {
                    path: path.to_path_buf(),
                    container: Container::Gzip,
                    limit,
                    declared: None,
                })
            }
            Err(CopyError::Write(source)) => return Err(InputError::TempFile { path: path.to_path_buf(), source }),
            Err(CopyError::Read(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let end = inflate.get_mut().get_ref().metadata().map_or(0, |m| m.len());
                return Err(fail.truncated(format!(
                    "inside the deflate data of member {member}, which starts at byte {data}; the file ends at byte \
                     {end}"
                )));
            }
            Err(CopyError::Read(e)) if e.kind() == io::ErrorKind::InvalidInput => {
                // Where the decoder stopped: the fault lies in the last few bytes it took.
                let near = data.saturating_add(inflate.total_in());
                return Err(fail.corrupt(format!(
                    "member {member}: {e} near byte {near} (its deflate data starts at byte {data})"
                )));
            }
            Err(CopyError::Read(source)) => return Err(InputError::Read { path: path.to_path_buf(), source }),
        };
        drop(inflate);
        let tail = at(&mut r, &fail)?;
        let mut trailer = [0u8; 8];
        read_exact(&mut r, &mut trailer, &fail, &format!("in the trailer of member {member}, at byte {tail}"))?;
        let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
        let (recorded_crc, recorded_len) = (u32::from_le_bytes([c0, c1, c2, c3]), u32::from_le_bytes([s0, s1, s2, s3]));
        let data_crc = crc.finalize();
        if recorded_crc != data_crc {
            return Err(InputError::Checksum {
                path: path.to_path_buf(),
                container: Container::Gzip,
                what: format!(
                    "member {member} (from byte {start}): the trailer's CRC-32 (at byte {tail}) is \
                     {recorded_crc:#010x} but the expanded data's is {data_crc:#010x}"
                ),
            });
        }
        let len_mod = n & u64::from(u32::MAX);
        if u64::from(recorded_len) != len_mod {
            return Err(InputError::SizeMismatch {
                path: path.to_path_buf(),
                container: Container::Gzip,
                what: format!(
                    "member {member} (from byte {start}): the trailer's ISIZE (length modulo 2^32, at byte {})",
                    tail.saturating_add(4)
                ),
                recorded: u64::from(recorded_len),
                actual: len_mod,
            });
        }
        total += n;
        if !another_member(&mut r, member, &fail)? {
            return Ok(total);
        }
    }
}

/// After a member: `true` if another member follows, `false` at the end of the file or when only
/// zero bytes follow; an error for anything else.
fn another_member(r: &mut BufReader<File>, member: u64, fail: &Fail<'_>) -> Result<bool, InputError> {
    let after = at(r, fail)?;
    let first = match r.fill_buf() {
        Ok(b) => b.first().copied(),
        Err(source) => return Err(InputError::Read { path: fail.0.to_path_buf(), source }),
    };
    match first {
        None => Ok(false),
        Some(0x1f) => Ok(true),
        Some(0) => {
            // Zero padding to the end (gzip -d ignores it): skip it in buffer-sized steps.
            let mut skipped = 0u64;
            loop {
                let buf = r.fill_buf().map_err(|source| InputError::Read { path: fail.0.to_path_buf(), source })?;
                if buf.is_empty() {
                    return Ok(false);
                }
                if let Some(at) = buf.iter().position(|&b| b != 0) {
                    let zeros = skipped + at as u64;
                    return Err(fail.corrupt(format!(
                        "after member {member}, {zeros} zero bytes from byte {after}, then other data at byte {}: \
                         neither another gzip member nor zero padding",
                        after.saturating_add(zeros)
                    )));
                }
                let n = buf.len();
                skipped += n as u64;
                r.consume(n);
            }
        }
        Some(b) => Err(fail.corrupt(format!(
            "the data after member {member}, at byte {after} (first byte {b:#04x}), is not another gzip member; \
             gzip -d would ignore it with a warning, boltscope refuses the file"
        ))),
    }
}

/// Reads and checks the header of one member (its number, and the byte it starts at), leaving `r`
/// at its deflate data.
fn header(r: &mut BufReader<File>, (member, start): (u64, u64), fail: &Fail<'_>) -> Result<(), InputError> {
    let at = format!("in the header of member {member}, which starts at byte {start}");
    let member = format!("{member} (at byte {start})");
    let mut crc = crc32fast::Hasher::new();
    let mut fixed = [0u8; 10];
    read_exact(r, &mut fixed, fail, &at)?;
    crc.update(&fixed);
    let [id1, id2, method, flags, ..] = fixed;
    if (id1, id2) != (0x1f, 0x8b) {
        return Err(fail.corrupt(format!("member {member}: no gzip magic (1f 8b) where the member starts")));
    }
    if method != 8 {
        return Err(
            fail.corrupt(format!("member {member}: compression method {method}; gzip defines only 8 (deflate)"))
        );
    }
    if flags & RESERVED != 0 {
        return Err(fail.corrupt(format!("member {member}: reserved header flags set ({flags:#04x})")));
    }
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        read_exact(r, &mut xlen, fail, &at)?;
        crc.update(&xlen);
        let mut left = usize::from(u16::from_le_bytes(xlen));
        let mut chunk = [0u8; 256];
        while left > 0 {
            let part = chunk.get_mut(..left.min(256)).unwrap_or_default();
            read_exact(r, part, fail, &at)?;
            crc.update(part);
            left -= part.len();
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            // A zero-terminated string of any length: skipped, never stored.
            loop {
                let buf = r.fill_buf().map_err(|source| InputError::Read { path: fail.0.to_path_buf(), source })?;
                if buf.is_empty() {
                    return Err(fail.truncated(at));
                }
                let (take, done) = buf.iter().position(|&b| b == 0).map_or((buf.len(), false), |i| (i + 1, true));
                crc.update(buf.get(..take).unwrap_or_default());
                r.consume(take);
                if done {
                    break;
                }
            }
        }
    }
    if flags & FHCRC != 0 {
        let mut hcrc = [0u8; 2];
        read_exact(r, &mut hcrc, fail, &at)?;
        let recorded = u16::from_le_bytes(hcrc);
        let actual = (crc.finalize() & 0xffff) as u16;
        if recorded != actual {
            return Err(InputError::Checksum {
                path: fail.0.to_path_buf(),
                container: Container::Gzip,
                what: format!(
                    "member {member}: the header's CRC-16 is {recorded:#06x} but its bytes' is {actual:#06x}"
                ),
            });
        }
    }
    Ok(())
}

/// The byte of the file `r` reads next.
fn at(r: &mut BufReader<File>, fail: &Fail<'_>) -> Result<u64, InputError> {
    r.stream_position().map_err(|source| InputError::Read { path: fail.0.to_path_buf(), source })
}

fn read_exact(r: &mut BufReader<File>, buf: &mut [u8], fail: &Fail<'_>, at: &str) -> Result<(), InputError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => fail.truncated(at.to_string()),
        _ => InputError::Read { path: fail.0.to_path_buf(), source: e },
    })
}

/// Builds this file's errors.
struct Fail<'a>(&'a Path);

impl Fail<'_> {
    fn truncated(&self, what: String) -> InputError {
        InputError::Truncated { path: self.0.to_path_buf(), container: Container::Gzip, what }
    }

    fn corrupt(&self, what: String) -> InputError {
        InputError::Corrupt { path: self.0.to_path_buf(), container: Container::Gzip, what }
    }
}
