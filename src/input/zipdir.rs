//! A zip archive's end record and central directory, read and checked before the zip crate parses
//! them, so that what the crate reads is exactly what Go's archive/zip (k3s restores through it)
//! would read, and a hostile archive cannot make it parse millions of entries:
//!
//! - the end record is the last `PK\x05\x06` in the final 65 KiB whose comment fits in the file
//!   (as Go finds it);
//! - the zip64 record (found by a zip64 locator just before the end record) counts only where a
//!   field of the end record is saturated (0xFFFF, 0xFFFFFFFF), as Go and the zip crate read it;
//! - the directory is read where Go reads it: ending where the record begins (bytes before the
//!   archive shift every offset alike), else at the offset as stated; there its headers are walked
//!   (at most [`MAX_PARSED_ENTRIES`] + 1 of them, in constant memory) until bytes that are no
//!   header, and there must be exactly as many as recorded. Go refuses an archive whose count and
//!   directory disagree; the zip crate fell back from a fake end record (one hidden in a comment)
//!   to an earlier one and parsed every entry it gave, and keys entries by name, so two entries of
//!   one name read as one.
//!
//! Byte layouts (little-endian):
//! - end record: `PK\x05\x06`, disk (2), directory's disk (2), entries on this disk (2), entries
//!   (2) at 10, directory size (4) at 12, directory offset (4) at 16, comment length (2) at 20;
//!   22 bytes and the comment.
//! - zip64 locator (20 bytes, just before the end record): `PK\x06\x07`, disk (4), the zip64
//!   record's offset (8) at 8, disks (4).
//! - zip64 record: `PK\x06\x06`, size (8), versions (2 + 2), disks (4 + 4), entries on this disk
//!   (8), entries (8) at 32, directory size (8) at 40, directory offset (8) at 48.
//! - directory header: `PK\x01\x02`, 42 bytes of fields with the name length (2) at 28, extra
//!   length (2) at 30, comment length (2) at 32; 46 bytes, then the name, extra and comment.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// Archives recording more entries than this are refused before their directory is walked.
pub(crate) const MAX_PARSED_ENTRIES: u64 = 1024;

const EOCD_MAGIC: [u8; 4] = *b"PK\x05\x06";
const EOCD_LEN: usize = 22;
/// How far from the end the end record is looked for: Go's archive/zip looks in the last 65 KiB
/// (a 65535-byte comment, and bytes after it).
const EOCD_SEARCH: u64 = 65 * 1024;
const HEADER_LEN: usize = 46;

/// What the central directory holds.
#[derive(Debug)]
pub(crate) struct Directory {
    /// The entries recorded (and found).
    pub count: u64,
    /// The first entries' names (at most `listed`), lossy UTF-8.
    pub names: Vec<String>,
}

/// Why the directory was not read.
#[derive(Debug)]
pub(crate) enum DirError {
    /// No end record: almost always a file cut short.
    Missing,
    /// More entries recorded than [`MAX_PARSED_ENTRIES`].
    TooMany(u64),
    /// The records contradict each other or the file (what, with byte offsets).
    Bad(String),
    /// The file could not be read (an `UnexpectedEof`: the directory runs past the end).
    Io(io::Error),
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirError::Missing => write!(f, "no end of central directory record (a file cut short?)"),
            DirError::TooMany(n) => write!(f, "the archive records {n} entries"),
            DirError::Bad(what) => write!(f, "{what}"),
            DirError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for DirError {
    fn from(e: io::Error) -> Self {
        DirError::Io(e)
    }
}

fn le16(d: &[u8], o: usize) -> u64 {
    d.get(o..o + 2).map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
}

fn le32(d: &[u8], o: usize) -> u64 {
    d.get(o..o + 4).and_then(|b| b.try_into().ok()).map_or(0, |b| u64::from(u32::from_le_bytes(b)))
}

fn le64(d: &[u8], o: usize) -> u64 {
    d.get(o..o + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
}

/// Reads and checks the directory of the archive `f`, listing up to `listed` names.
pub(crate) fn read(f: &mut File, listed: usize) -> Result<Directory, DirError> {
    let len = f.seek(SeekFrom::End(0))?;
    let start = len.saturating_sub(EOCD_SEARCH);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    Read::by_ref(f).take(EOCD_SEARCH).read_to_end(&mut tail)?;
    // The last end record whose comment fits in the file.
    let at = (0..tail.len().saturating_sub(EOCD_LEN - 1))
        .rev()
        .find(|&i| tail[i..].starts_with(&EOCD_MAGIC) && i + EOCD_LEN + le16(&tail, i + 20) as usize <= tail.len())
        .ok_or(DirError::Missing)?;
    let eocd = start + at as u64;
    let (mut count, mut size, mut offset, mut ends_at) =
        (le16(&tail, at + 10), le32(&tail, at + 12), le32(&tail, at + 16), eocd);
    // The zip64 record counts only where a field of the end record is saturated (as Go and the
    // zip crate read it): a locator beside a record that needs none is not followed.
    let saturated = count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF;
    let locator = at.checked_sub(20).and_then(|l| tail.get(l..l + 20)).filter(|l| l.starts_with(b"PK\x06\x07"));
    if let Some(loc) = locator.filter(|_| saturated) {
        let z = le64(loc, 8);
        let mut rec = [0u8; 56];
        f.seek(SeekFrom::Start(z))?;
        f.read_exact(&mut rec).ok().filter(|_| rec.starts_with(b"PK\x06\x06")).ok_or_else(|| {
            DirError::Bad(format!("the zip64 locator at byte {} points at no zip64 record", eocd - 20))
        })?;
        (count, size, offset, ends_at) = (le64(&rec, 32), le64(&rec, 40), le64(&rec, 48), z);
    }
    if count > MAX_PARSED_ENTRIES {
        return Err(DirError::TooMany(count));
    }
    // Where Go reads the directory: ending where the record begins (bytes before the archive, a
    // stub or another file, shift every offset it states alike), or, when no header starts
    // there, at the offset as stated.
    let shifted = ends_at.checked_sub(size).filter(|&s| s != offset);
    let mut walked = None;
    for start in shifted.into_iter().chain(std::iter::once(offset)) {
        match walk(f, start, count, listed)? {
            Walk::NoHeader if Some(start) == shifted => continue,
            w => {
                walked = Some((start, w));
                break;
            }
        }
    }
    let Some((start, walked)) = walked else { return Err(DirError::Missing) };
    match walked {
        Walk::Entries(names) => Ok(Directory { count, names }),
        Walk::NoHeader if count == 0 => Ok(Directory { count, names: Vec::new() }),
        Walk::NoHeader | Walk::Fewer(_) | Walk::More(_) => {
            let found = match walked {
                Walk::Fewer(n) => n.to_string(),
                Walk::More(at) => format!("more (another entry starts at byte {at})"),
                _ => "none".into(),
            };
            Err(DirError::Bad(format!(
                "the end record (byte {eocd}) records {count} entries, but the central directory (byte {start}) \
                 holds {found}: a damaged or crafted archive"
            )))
        }
    }
}

/// What a walk of the directory from a byte found.
enum Walk {
    /// Exactly the entries counted (their first names).
    Entries(Vec<String>),
    /// No header at the start.
    NoHeader,
    /// Fewer headers than counted (how many).
    Fewer(u64),
    /// A header past the count (where).
    More(u64),
}

/// Walks the directory headers from byte `start`, as Go reads them (until bytes that are no
/// header), at most `count` + 1 of them.
fn walk(f: &mut File, start: u64, count: u64, listed: usize) -> Result<Walk, DirError> {
    f.seek(SeekFrom::Start(start))?;
    let mut r = BufReader::new(Read::by_ref(f));
    let (mut pos, mut found, mut names) = (start, 0u64, Vec::new());
    loop {
        let mut h = [0u8; HEADER_LEN];
        let header = r.read_exact(&mut h).is_ok() && h.starts_with(b"PK\x01\x02");
        match (header, found) {
            (false, 0) => return Ok(Walk::NoHeader),
            (false, n) if n < count => return Ok(Walk::Fewer(n)),
            (false, _) => return Ok(Walk::Entries(names)),
            (true, n) if n == count => return Ok(Walk::More(pos)),
            (true, _) => {}
        }
        let (n, rest) = (le16(&h, 28), le16(&h, 30) + le16(&h, 32));
        let mut name = Vec::new();
        Read::by_ref(&mut r).take(n).read_to_end(&mut name)?;
        if (name.len() as u64) < n || io::copy(&mut Read::by_ref(&mut r).take(rest), &mut io::sink())? < rest {
            return Err(DirError::Bad(format!(
                "the central directory entry at byte {pos} runs past the end of the file"
            )));
        }
        if names.len() < listed {
            names.push(String::from_utf8_lossy(&name).into_owned());
        }
        pos += HEADER_LEN as u64 + n + rest;
        found += 1;
    }
}
