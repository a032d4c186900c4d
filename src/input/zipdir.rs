//! A zip archive's end record and central directory, read and checked before the zip crate parses
//! them, so that what the crate reads is exactly what Go's archive/zip (k3s restores through it)
//! would read, and a hostile archive cannot make it parse millions of entries:
//!
//! - the end record is the last `PK\x05\x06` in the final 65557 bytes whose comment fits in the
//!   file (as Go finds it); its zip64 record, when a zip64 locator lies just before it, gives the
//!   count, size and offset of the directory;
//! - the directory must end exactly where the end record (or the zip64 record) begins: an archive
//!   whose last end record does not describe the directory before it (one hidden in a comment, or a
//!   directory moved) is refused, where the zip crate would fall back to an earlier record;
//! - the directory is walked header by header (at most [`MAX_PARSED_ENTRIES`] + 1 of them, in
//!   constant memory) and must hold exactly the count recorded. Go refuses an archive whose count
//!   and directory disagree; the zip crate keys entries by name, so two entries of one name would
//!   read as one.
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
const EOCD_SEARCH: u64 = EOCD_LEN as u64 + 65535;
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
    let locator = at.checked_sub(20).and_then(|l| tail.get(l..l + 20)).filter(|l| l.starts_with(b"PK\x06\x07"));
    if let Some(loc) = locator {
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
    if offset.checked_add(size) != Some(ends_at) {
        return Err(DirError::Bad(format!(
            "the end record at byte {eocd} places the central directory at byte {offset} ({size} bytes), which does \
             not end where the record begins (byte {ends_at}): a damaged or crafted archive"
        )));
    }
    f.seek(SeekFrom::Start(offset))?;
    let mut r = BufReader::new(Read::by_ref(f).take(size));
    let (mut pos, mut found, mut names) = (offset, 0u64, Vec::new());
    while pos < ends_at {
        if found == count {
            return Err(DirError::Bad(format!(
                "the central directory holds more than the {count} entries its end record (byte {eocd}) records: \
                 a damaged or crafted archive (another entry starts at byte {pos})"
            )));
        }
        let mut h = [0u8; HEADER_LEN];
        r.read_exact(&mut h).map_err(|_| overrun(pos, ends_at))?;
        if !h.starts_with(b"PK\x01\x02") {
            return Err(DirError::Bad(format!(
                "entry {} of the central directory (byte {pos}) has no header",
                found + 1
            )));
        }
        let (n, rest) = (le16(&h, 28), le16(&h, 30) + le16(&h, 32));
        let mut name = Vec::new();
        Read::by_ref(&mut r).take(n).read_to_end(&mut name)?;
        if (name.len() as u64) < n || io::copy(&mut Read::by_ref(&mut r).take(rest), &mut io::sink())? < rest {
            return Err(overrun(pos, ends_at));
        }
        if names.len() < listed {
            names.push(String::from_utf8_lossy(&name).into_owned());
        }
        pos += HEADER_LEN as u64 + n + rest;
        found += 1;
    }
    if found != count {
        return Err(DirError::Bad(format!(
            "the end record (byte {eocd}) records {count} entries but the central directory holds {found}: a \
             damaged or crafted archive"
        )));
    }
    Ok(Directory { count, names })
}

fn overrun(pos: u64, end: u64) -> DirError {
    DirError::Bad(format!("the central directory entry at byte {pos} runs past the directory's end (byte {end})"))
}
