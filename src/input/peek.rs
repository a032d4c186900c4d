//! The first bytes of a database inside a container, without expanding it: how `scan` tells a
//! compressed snapshot from any other compressed file at the cost of a few kilobytes of
//! decompression.

use super::sniff::{sniff, Container, Sniffed, SNIFF_LEN};
use super::zipdir::{self, DirError};
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Up to `n` bytes of what `path` holds: its own first bytes when plain, else the start of the
/// container's first member (a zip's first entry, of one or several). `Ok(None)` for no database
/// kind of file (another kind of file, an empty zip); an `Err` for one that cannot be read: a file that cannot be opened, a zip
/// without its index (cut short), a gzip or zstd stream its decoder refuses, so a scan lists it as
/// unreadable rather than passing it over. (A stream that simply ends gives what it holds.)
pub fn peek(path: &Path, n: usize) -> io::Result<Option<Vec<u8>>> {
    let mut f = super::open_regular(path)?;
    let mut head = vec![0u8; SNIFF_LEN];
    let got = read_up_to(&mut f, &mut head)?;
    head.truncate(got);
    let container = match sniff(&head) {
        Sniffed::Container(c) => c,
        Sniffed::NotDatabase(_) => return Ok(None),
    };
    let mut f = super::open_regular(path)?;
    let mut out = vec![0u8; n];
    let got = match container {
        Container::Plain => read_up_to(&mut BufReader::new(f), &mut out),
        Container::Gzip => read_up_to(&mut flate2::read::MultiGzDecoder::new(BufReader::new(f)), &mut out),
        Container::Zstd => zstd::stream::read::Decoder::new(f).and_then(|mut d| read_up_to(&mut d, &mut out)),
        Container::Zip => {
            // Checked first, as expanding it checks it: the zip crate would parse every entry of a
            // directory whose end record lies about it.
            // A zip of several is peeked into too (its first entry): one holding a database is
            // taken, and reading it then says why it cannot be used, where passing it over hid a
            // backup (review 46b: `scan` and `trend` skipped a zip of a snapshot and a README).
            match zipdir::read(&mut f, 0) {
                Ok(d) if d.count >= 1 => {}
                Ok(_) | Err(DirError::TooMany(_)) => return Ok(None),
                Err(DirError::Io(e)) => return Err(e),
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
            let mut z = zip::ZipArchive::new(BufReader::new(f)).map_err(io::Error::other)?;
            let mut entry = z.by_index(0).map_err(io::Error::other)?;
            read_up_to(&mut entry, &mut out)
        }
    }?;
    out.truncate(got);
    Ok(Some(out))
}

/// The container `path` is in, and a zip's entry name, from its first bytes (and a zip's
/// central directory) alone. `None` when it cannot be read or is no database kind of file.
pub fn container_of(path: &Path) -> Option<(Container, Option<String>)> {
    let mut f = super::open_regular(path).ok()?;
    let mut head = vec![0u8; SNIFF_LEN];
    let got = read_up_to(&mut f, &mut head).ok()?;
    head.truncate(got);
    match sniff(&head) {
        Sniffed::Container(Container::Zip) => {
            let mut f = super::open_regular(path).ok()?;
            if !matches!(zipdir::read(&mut f, 0), Ok(d) if d.count == 1) {
                return Some((Container::Zip, None));
            }
            let mut z = zip::ZipArchive::new(BufReader::new(f)).ok()?;
            let name = (z.len() == 1).then(|| z.by_index(0).ok().map(|e| e.name().to_string())).flatten();
            Some((Container::Zip, name))
        }
        Sniffed::Container(c) => Some((c, None)),
        Sniffed::NotDatabase(_) => None,
    }
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A damaged or truncated container still tells what it starts with.
            Err(_) if n > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_into_every_container_and_refuses_what_is_no_database() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let plain = std::fs::read(dir.join("tiny-1.snap.db")).unwrap();
        for f in [
            "tiny-1.snap.db",
            "archives/tiny-1.snap.db.gz",
            "archives/tiny-1.snap.db.zst",
            "archives/on-demand-node-1-1700000000.zip",
        ] {
            assert_eq!(peek(&dir.join(f), 8192).unwrap().as_deref(), Some(&plain[..8192]), "{f}");
        }
        assert_eq!(peek(&dir.join("archives/tiny-1.snap.db.xz"), 8192).unwrap(), None);
        // A zip of several: its first entry (a snapshot here), so a scan takes it and says why
        // it cannot be read, rather than passing it over.
        assert_eq!(peek(&dir.join("archives/two-entries.zip"), 8192).unwrap().as_deref(), Some(&plain[..8192]));
        // A zip cut short has no index to find its entry by: an error, not "no database". (A
        // gzip cut short gives what it has; the scan then reads it and finds it unreadable.)
        assert!(peek(&dir.join("archives/truncated.zip"), 8192).is_err());
    }
}
