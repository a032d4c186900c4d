//! Revision keys of the `key` bucket: 8-byte big-endian main, `_`, 8-byte big-endian sub
//! (17 bytes), plus a trailing `t` for a tombstone (18 bytes).

/// Length of a revision key.
pub const REV_LEN: usize = 17;
/// Length of a tombstone revision key.
pub const TOMBSTONE_LEN: usize = 18;

/// A decoded revision key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision {
    /// Main revision (the transaction).
    pub main: u64,
    /// Sub revision (the operation within it).
    pub sub: u64,
    /// Whether the key marks a deletion.
    pub tombstone: bool,
}

/// The main revision of a key, as etcdutl reads it: the first 8 bytes, big-endian.
pub fn main_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(..8)?.try_into().ok()?))
}

/// The revision key of `main` and `sub` (not a tombstone): what etcd also writes as a compaction
/// revision in the `meta` bucket.
pub fn key_bytes(main: u64, sub: u64) -> [u8; REV_LEN] {
    let mut k = [0u8; REV_LEN];
    k[..8].copy_from_slice(&main.to_be_bytes());
    k[8] = b'_';
    k[9..].copy_from_slice(&sub.to_be_bytes());
    k
}

/// Whether a `key` bucket key marks a deletion, as etcd tests it: 18 bytes ending in `t`.
pub fn is_tombstone(key: &[u8]) -> bool {
    key.len() == TOMBSTONE_LEN && key.last() == Some(&b't')
}

/// Parses a full revision key; `None` when it is not 17 bytes, or 18 ending in `t`, with `_` at 8.
pub fn parse(key: &[u8]) -> Option<Revision> {
    let tombstone = match key.len() {
        REV_LEN => false,
        TOMBSTONE_LEN if key[17] == b't' => true,
        _ => return None,
    };
    if key[8] != b'_' {
        return None;
    }
    Some(Revision { main: main_of(key)?, sub: u64::from_be_bytes(key[9..17].try_into().ok()?), tombstone })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_revision_keys() {
        let mut k = vec![0, 0, 0, 0, 0, 0, 0, 9, b'_', 0, 0, 0, 0, 0, 0, 0, 2];
        assert_eq!(parse(&k), Some(Revision { main: 9, sub: 2, tombstone: false }));
        k.push(b't');
        assert_eq!(parse(&k), Some(Revision { main: 9, sub: 2, tombstone: true }));
        k[17] = b'x';
        assert_eq!(parse(&k), None);
        assert_eq!(parse(&k[..16]), None);
        assert_eq!(main_of(&k[..7]), None);
        assert_eq!(parse(&key_bytes(9, 2)), Some(Revision { main: 9, sub: 2, tombstone: false }));
    }
}
