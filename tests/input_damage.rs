//! `input::expand` on damaged copies of the real tools' archives (fixtures/archives): cut short,
//! a recorded checksum or length changed, every byte flipped in turn. Never a panic; each
//! damage named for what it is.

use boltscope::input::{expand, Container, InputError, DEFAULT_MAX_EXPANDED};
use std::path::{Path, PathBuf};

fn original(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("fixtures/archives").join(name)).unwrap()
}

fn write(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn expand_bytes(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> Result<u64, InputError> {
    expand(&write(dir, name, data), DEFAULT_MAX_EXPANDED).map(|e| e.expanded_size)
}

#[test]
fn gzip_cut_anywhere_is_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let gz = original("tiny-1.snap.db.gz");
    // In the header (after the magic), in the deflate data, in the trailer.
    for cut in [3, 9, 40, gz.len() / 2, gz.len() - 9, gz.len() - 4, gz.len() - 1] {
        match expand_bytes(&dir, "cut.gz", &gz[..cut]) {
            Err(InputError::Truncated { container: Container::Gzip, what, .. }) => {
                let want = if cut < 10 {
                    "header"
                } else if cut <= gz.len() - 8 {
                    "deflate data"
                } else {
                    "trailer"
                };
                assert!(what.contains(want), "cut at {cut}: {what}");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // The second member cut short.
    let two = original("tiny-1.snap.db.two-members.gz");
    let e = expand_bytes(&dir, "cut2.gz", &two[..two.len() - 100]).unwrap_err();
    assert!(matches!(&e, InputError::Truncated { what, .. } if what.contains("member 2")), "{e:?}");
}

#[test]
fn gzip_isize_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = original("tiny-1.snap.db.gz");
    let at = gz.len() - 4;
    gz[at] ^= 1;
    match expand_bytes(&dir, "isize.gz", &gz) {
        Err(InputError::SizeMismatch { container: Container::Gzip, recorded, actual, what, .. }) => {
            assert_eq!(actual, 20512);
            assert_eq!(recorded, 20512 ^ 1);
            assert!(what.contains("ISIZE"), "{what}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn zstd_cut_and_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let zst = original("tiny-1.snap.db.zst");
    for cut in [5, zst.len() / 2, zst.len() - 1] {
        let e = expand_bytes(&dir, "cut.zst", &zst[..cut]).unwrap_err();
        assert!(matches!(e, InputError::Truncated { container: Container::Zstd, .. }), "cut at {cut}: {e:?}");
    }
    // The last 4 bytes of a frame with a checksum are its XXH64 (low 32 bits).
    let mut bad = zst.clone();
    let at = bad.len() - 2;
    bad[at] ^= 0x40;
    let e = expand_bytes(&dir, "sum.zst", &bad).unwrap_err();
    assert!(matches!(e, InputError::Checksum { container: Container::Zstd, .. }), "{e:?}");
}

#[test]
fn zip_central_directory_crc_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let zip = original("on-demand-node-1-1700000000.zip");
    // Central directory file header: signature PK\x01\x02, CRC-32 at +16, uncompressed size at +24.
    let cd = zip.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    let mut bad = zip.clone();
    bad[cd + 16] ^= 0xff;
    let e = expand_bytes(&dir, "crc.zip", &bad).unwrap_err();
    assert!(
        matches!(&e, InputError::Checksum { container: Container::Zip, what, .. } if what.contains("CRC-32")),
        "{e}"
    );
    let mut bad = zip.clone();
    bad[cd + 24] ^= 0x01;
    let e = expand_bytes(&dir, "size.zip", &bad).unwrap_err();
    assert!(
        matches!(&e, InputError::SizeMismatch { .. } | InputError::Checksum { .. } | InputError::Corrupt { .. }),
        "a wrong recorded size is refused: {e:?}"
    );
}

/// Every byte of each archive inverted in turn: expand returns, never panics, and whatever it
/// accepts is no larger than the database (a flip in a field nothing checks, such as a
/// timestamp, or in the magic, which leaves a plain file).
#[test]
fn every_byte_flipped() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["on-demand-node-1-1700000000.zip", "tiny-1.snap.db.gz", "tiny-1.snap.db.zst", "zip64.zip"] {
        let data = original(name);
        let (mut ok, mut refused) = (0, 0);
        for i in 0..data.len() {
            let mut d = data.clone();
            d[i] ^= 0xff;
            match expand_bytes(&dir, "flip", &d) {
                Ok(n) => {
                    ok += 1;
                    assert!(n <= 20512, "{name} byte {i}: {n} bytes");
                }
                Err(e) => {
                    refused += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
        assert!(refused > data.len() / 2, "{name}: {ok} accepted, {refused} refused");
    }
}

/// An archive whose end record claims many entries is refused before its directory is parsed;
/// for zip64 the count comes from the zip64 end record.
#[test]
fn hostile_entry_counts() {
    let dir = tempfile::tempdir().unwrap();
    let zip = original("on-demand-node-1-1700000000.zip");
    let eocd = zip.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    let mut bad = zip.clone();
    bad[eocd + 8..eocd + 12].copy_from_slice(&[0xfe, 0xff, 0xfe, 0xff]);
    match expand_bytes(&dir, "many.zip", &bad) {
        Err(InputError::ZipEntries { count, names, .. }) => assert_eq!((count, names.len()), (0xfffe, 0)),
        other => panic!("{other:?}"),
    }

    let z64 = original("zip64.zip");
    let eocd = z64.windows(4).rposition(|w| w == b"PK\x05\x06").unwrap();
    let rec = z64.windows(4).rposition(|w| w == b"PK\x06\x06").unwrap();
    let mut claims = z64.clone();
    claims[eocd + 8..eocd + 12].copy_from_slice(&[0xff; 4]);
    // With the 16-bit counts at 0xffff, the zip64 record's count (still 1) decides: read as usual.
    assert_eq!(expand_bytes(&dir, "z64.zip", &claims).unwrap(), 20512);
    claims[rec + 24..rec + 40].copy_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
    match expand_bytes(&dir, "z64many.zip", &claims) {
        Err(InputError::ZipEntries { count, .. }) => assert_eq!(count, 1 << 40),
        other => panic!("{other:?}"),
    }
}

/// RFC 1952's optional header fields, spliced into the `gzip -9n` member (gzip itself writes
/// only FNAME): FEXTRA (a length and bytes), FCOMMENT (zero-terminated) and FHCRC (the low 16
/// bits of the CRC-32 of the header bytes before it); a wrong FHCRC is a checksum error.
#[test]
fn gzip_optional_header_fields() {
    let dir = tempfile::tempdir().unwrap();
    let gz = original("tiny-1.snap.db.gz");
    let mut header = gz[..10].to_vec();
    header[3] = 0x04 | 0x10 | 0x02; // FEXTRA, FCOMMENT, FHCRC
    header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
    header.extend_from_slice(b"a comment\0");
    let hcrc = (crc32fast::hash(&header) & 0xffff) as u16;
    let mut good = header.clone();
    good.extend_from_slice(&hcrc.to_le_bytes());
    good.extend_from_slice(&gz[10..]);
    assert_eq!(expand_bytes(&dir, "fields.gz", &good).unwrap(), 20512);
    let mut bad = header;
    bad.extend_from_slice(&(hcrc ^ 1).to_le_bytes());
    bad.extend_from_slice(&gz[10..]);
    let e = expand_bytes(&dir, "badhcrc.gz", &bad).unwrap_err();
    assert!(matches!(&e, InputError::Checksum { what, .. } if what.contains("CRC-16")), "{e}");
    // Reserved flag bits and another method are refused.
    let mut reserved = gz.clone();
    reserved[3] |= 0x20;
    assert!(matches!(expand_bytes(&dir, "r.gz", &reserved), Err(InputError::Corrupt { .. })));
    let mut method = gz.clone();
    method[2] = 7;
    assert!(matches!(expand_bytes(&dir, "m.gz", &method), Err(InputError::Corrupt { .. })));
}

#[test]
fn a_file_larger_than_the_address_space_allowed_says_so() {
    // Review 42b: under `ulimit -v`, mapping a large input said only "Cannot allocate memory".
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("large.db");
    std::fs::copy("fixtures/tiny-1.member.db", &f).unwrap();
    std::fs::File::options().write(true).open(&f).unwrap().set_len(1 << 30).unwrap(); // sparse
    let out = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 400000 && exec \"$0\" --no-index check \"$1\""])
        .arg(env!("CARGO_BIN_EXE_boltscope"))
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot map its 1073741824 bytes") && err.contains("ulimit -v"), "{err}");
}
