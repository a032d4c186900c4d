//! What a file is, from its first bytes (never from its name): a container boltscope expands, a
//! file passed through as is, or something users pass by mistake that is no database at all.

use std::fmt;

/// How many leading bytes [`sniff`] looks at (tar's `ustar` magic ends at byte 263). Fewer are
/// fine: a kind whose magic lies past the end of `head` is simply not recognised.
pub const SNIFF_LEN: usize = 512;

/// A container boltscope expands before reading, or `Plain` for a file read as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    /// No known container magic: the file is read as it is (a bbolt file, or whatever it is).
    Plain,
    /// A zip archive (`PK\x03\x04`, or `PK\x05\x06` for an empty one): k3s and RKE2 write
    /// `--etcd-snapshot-compress` snapshots as a zip of one Deflate entry.
    Zip,
    /// A gzip stream (`1f 8b`), one or more members.
    Gzip,
    /// A zstd stream (`28 b5 2f fd`, or a skippable frame first), one or more frames.
    Zstd,
}

impl Container {
    /// The container's name as users know it: `plain`, `zip`, `gzip`, `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Container::Plain => "plain",
            Container::Zip => "zip",
            Container::Gzip => "gzip",
            Container::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something recognised that is not a database and that boltscope does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotDatabase {
    /// An etcd write-ahead log segment (`member/wal/*.wal`): its first record is a crc record.
    EtcdWal,
    /// A tar archive (`ustar` at byte 257).
    Tar,
    /// An xz stream (`fd 37 7a 58 5a 00`).
    Xz,
    /// A bzip2 stream (`BZh1`..`BZh9` and a block or end-of-stream magic).
    Bzip2,
    /// An lz4 frame (`04 22 4d 18`).
    Lz4,
}

impl NotDatabase {
    /// A short name: `etcd WAL file`, `tar archive`, `xz stream`, `bzip2 stream`, `lz4 frame`.
    pub fn name(self) -> &'static str {
        match self {
            NotDatabase::EtcdWal => "etcd WAL file",
            NotDatabase::Tar => "tar archive",
            NotDatabase::Xz => "xz stream",
            NotDatabase::Bzip2 => "bzip2 stream",
            NotDatabase::Lz4 => "lz4 frame",
        }
    }

    /// The indefinite article that goes before [`NotDatabase::name`]: `a` or `an`.
    pub fn article(self) -> &'static str {
        match self {
            NotDatabase::EtcdWal | NotDatabase::Xz | NotDatabase::Lz4 => "an",
            NotDatabase::Tar | NotDatabase::Bzip2 => "a",
        }
    }

    /// What the user probably meant to do instead, in one sentence.
    pub fn hint(self) -> &'static str {
        match self {
            NotDatabase::EtcdWal => {
                "a WAL holds raft log entries, not the key space: pass member/snap/db from the same data \
                 directory, or a snapshot made by `etcdctl snapshot save`"
            }
            NotDatabase::Tar => "extract the snapshot from the archive first (tar -xf) and pass the extracted file",
            NotDatabase::Xz => "decompress it first (xz -dk FILE) and pass the result",
            NotDatabase::Bzip2 => "decompress it first (bzip2 -dk FILE) and pass the result",
            NotDatabase::Lz4 => "decompress it first (lz4 -d FILE OUT) and pass the result",
        }
    }
}

impl fmt::Display for NotDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`sniff`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sniffed {
    /// A container to expand, or [`Container::Plain`].
    Container(Container),
    /// A known kind of file that is no database.
    NotDatabase(NotDatabase),
}

/// Recognises a file from its first bytes (pass up to [`SNIFF_LEN`] of them; fewer is fine).
/// Anything unrecognised, including an empty head, is [`Container::Plain`].
pub fn sniff(head: &[u8]) -> Sniffed {
    let starts = |magic: &[u8]| head.starts_with(magic);
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Sniffed::Container(Container::Zip)
    } else if starts(&[0x1f, 0x8b]) {
        Sniffed::Container(Container::Gzip)
    } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) || is_zstd_skippable(head) {
        Sniffed::Container(Container::Zstd)
    } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Sniffed::NotDatabase(NotDatabase::Xz)
    } else if is_bzip2(head) {
        Sniffed::NotDatabase(NotDatabase::Bzip2)
    } else if starts(&[0x04, 0x22, 0x4d, 0x18]) {
        Sniffed::NotDatabase(NotDatabase::Lz4)
    } else if head.get(257..262) == Some(b"ustar") {
        Sniffed::NotDatabase(NotDatabase::Tar)
    } else if is_etcd_wal(head) {
        Sniffed::NotDatabase(NotDatabase::EtcdWal)
    } else {
        Sniffed::Container(Container::Plain)
    }
}

/// A zstd skippable frame (magic `0x184D2A50`..=`0x184D2A5F`, little-endian): what `pzstd`
/// writes before its data frames (their sizes), and `zstd -d` skips.
fn is_zstd_skippable(head: &[u8]) -> bool {
    matches!(head, [0x50..=0x5f, 0x2a, 0x4d, 0x18, ..])
}

/// `BZh` + block size digit, then the first block's magic (the digits of pi) or, for an empty
/// stream, the end-of-stream magic (the digits of sqrt(pi)).
fn is_bzip2(head: &[u8]) -> bool {
    const BLOCK: [u8; 6] = [0x31, 0x41, 0x59, 0x26, 0x53, 0x59];
    const END: [u8; 6] = [0x17, 0x72, 0x45, 0x38, 0x50, 0x90];
    head.starts_with(b"BZh")
        && matches!(head.get(3), Some(b'1'..=b'9'))
        && head.get(4..10).is_some_and(|m| m == BLOCK || m == END)
}

/// An etcd WAL segment starts with one frame: a little-endian u64 length field (low 56 bits: the
/// record's length; when the record is padded to 8 bytes, the top byte is `0x80 | pad`), then a
/// `walpb.Record` of type 4 (crcType) whose only other field is its crc (the previous segment's,
/// 0 in the first segment). Protobuf: `08 04` (field 1, type = 4), `10` (field 2) and a varint
/// of 1 to 5 bytes, so the record is 4 to 8 bytes long.
fn is_etcd_wal(head: &[u8]) -> bool {
    let Some(len_field) = head.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes) else {
        return false;
    };
    let len = len_field & ((1 << 56) - 1);
    let top = len_field >> 56;
    let Ok(len_usize) = usize::try_from(len) else {
        return false;
    };
    if !(4..=8).contains(&len_usize) {
        return false;
    }
    let pad = (8 - len % 8) % 8;
    let want_top = if pad == 0 { 0 } else { 0x80 | pad };
    if top != want_top {
        return false;
    }
    let Some(record) = head.get(8..8 + len_usize) else {
        return false;
    };
    if record.get(..3) != Some(&[0x08, 0x04, 0x10][..]) {
        return false;
    }
    // The crc varint must end exactly at the end of the record; padding bytes must be zero.
    let varint = record.get(3..).unwrap_or_default();
    let ends_at_last =
        varint.split_last().is_some_and(|(last, rest)| last & 0x80 == 0 && rest.iter().all(|b| b & 0x80 != 0));
    let padding = head.get(8 + len_usize..16).unwrap_or_default();
    ends_at_last && padding.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_by_magic() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Container(Container::Zip));
        assert_eq!(sniff(b"PK\x05\x06\0\0"), Sniffed::Container(Container::Zip));
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Sniffed::Container(Container::Gzip));
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Sniffed::Container(Container::Zstd));
        assert_eq!(sniff(&[0x50, 0x2a, 0x4d, 0x18, 4, 0]), Sniffed::Container(Container::Zstd), "pzstd");
        assert_eq!(sniff(&[0x5f, 0x2a, 0x4d, 0x18]), Sniffed::Container(Container::Zstd));
        assert_eq!(sniff(&[0x60, 0x2a, 0x4d, 0x18]), Sniffed::Container(Container::Plain));
        assert_eq!(sniff(b""), Sniffed::Container(Container::Plain));
        assert_eq!(sniff(b"PK"), Sniffed::Container(Container::Plain));
        assert_eq!(sniff(&[0x1f]), Sniffed::Container(Container::Plain));
    }

    #[test]
    fn bzip2_needs_its_block_magic() {
        assert_eq!(sniff(b"BZh91AY&SY"), Sniffed::NotDatabase(NotDatabase::Bzip2));
        assert_eq!(sniff(b"BZh9hello!"), Sniffed::Container(Container::Plain));
        assert_eq!(sniff(b"BZh01AY&SY"), Sniffed::Container(Container::Plain));
    }

    #[test]
    fn wal_first_and_later_segments() {
        // First segment: crc 0, record `08 04 10 00` padded by 4.
        let first = [4, 0, 0, 0, 0, 0, 0, 0x84, 8, 4, 0x10, 0, 0, 0, 0, 0];
        assert_eq!(sniff(&first), Sniffed::NotDatabase(NotDatabase::EtcdWal));
        // A later segment: crc 0x12345678 as a 5-byte varint, 8 bytes, no padding.
        let later = [8, 0, 0, 0, 0, 0, 0, 0, 8, 4, 0x10, 0xf8, 0xac, 0xd1, 0x91, 0x01];
        assert_eq!(sniff(&later), Sniffed::NotDatabase(NotDatabase::EtcdWal));
        // Wrong pad flag, wrong record type, unterminated varint, short head.
        let mut bad = first;
        bad[7] = 0x83;
        assert_eq!(sniff(&bad), Sniffed::Container(Container::Plain));
        let mut bad = first;
        bad[9] = 1;
        assert_eq!(sniff(&bad), Sniffed::Container(Container::Plain));
        let mut bad = first;
        bad[11] = 0x80;
        assert_eq!(sniff(&bad), Sniffed::Container(Container::Plain));
        assert_eq!(sniff(&first[..11]), Sniffed::Container(Container::Plain));
    }
}
