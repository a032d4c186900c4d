//! How the index stores values: each one sealed with a checksum of its key and bytes, and the
//! rows of an analysis over time (`history`, `du`) as sealed JSON in tables keyed by the file's
//! path and the time of writing.

use super::{e, guard, Index};
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A table of rows: (path, nanoseconds since the Unix epoch at writing) → sealed JSON.
pub(super) type Rows = TableDefinition<'static, (&'static str, u64), &'static [u8]>;

/// The CRC-32C (Castagnoli, as etcd hashes) of a seal, computed by table: `crc32c` picks its
/// instructions by asking the CPU what it has, and on a VM each of those questions (CPUID) traps
/// to the hypervisor (7.5 us each on this project's machine, some ten of them), which was the
/// largest single cost of a warm answer. A seal covers a few hundred bytes, where a table is fast.
const SEAL_CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The checksum of `key` followed by `value`.
fn checksum(key: &[u8], value: &[u8]) -> u32 {
    let mut d = SEAL_CRC.digest();
    d.update(key);
    d.update(value);
    d.finalize()
}

/// A stored value: the CRC-32C of its key and bytes (4 bytes, little-endian), then the bytes. redb
/// checks its own pages only on a full integrity pass, which read-only opens skip; the seal
/// keeps a flipped bit inside a value from becoming a wrong answer.
pub(super) fn seal(key: &[u8], value: &[u8]) -> Vec<u8> {
    let crc = checksum(key, value);
    let mut v = Vec::with_capacity(4 + value.len());
    v.extend_from_slice(&crc.to_le_bytes());
    v.extend_from_slice(value);
    v
}

/// The bytes of a sealed value, when its seal matches.
pub(super) fn unseal<'v>(key: &[u8], sealed: &'v [u8]) -> Option<&'v [u8]> {
    let (crc, value) = sealed.split_first_chunk::<4>()?;
    (u32::from_le_bytes(*crc) == checksum(key, value)).then_some(value)
}

/// Adds `row` to `table` in `tx`, sealed under its path, keyed by the path and the time of
/// writing in nanoseconds: two analyses of a file in one second both stay.
pub(super) fn insert_row(tx: &WriteTransaction, table: Rows, path: &str, row: &impl Serialize) -> Result<(), String> {
    let json = serde_json::to_vec(row).map_err(e)?;
    let sealed = seal(path.as_bytes(), &json);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let at = u64::try_from(now).unwrap_or(u64::MAX);
    tx.open_table(table).map_err(e)?.insert((path, at), sealed.as_slice()).map_err(e)?;
    Ok(())
}

impl Index {
    /// The rows of `table` for these paths (all when empty), by path then time; a row whose seal
    /// does not match or that does not parse is left out, and an index without the table has
    /// none. `what` names the operation in an error.
    pub(super) fn rows<T: DeserializeOwned>(
        &self,
        what: &str,
        table: Rows,
        paths: &[String],
    ) -> Result<Vec<T>, String> {
        guard(what, || {
            let tx = self.read_tx()?;
            let t = match tx.open_table(table) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(x) => return Err(e(x)),
            };
            let mut out = Vec::new();
            for r in t.iter().map_err(e)? {
                let (k, v) = r.map_err(e)?;
                let path = k.value().0;
                if paths.is_empty() || paths.iter().any(|p| p == path) {
                    let json = unseal(path.as_bytes(), v.value()).unwrap_or_default();
                    if let Ok(row) = serde_json::from_slice::<T>(json) {
                        out.push(row);
                    }
                }
            }
            Ok(out)
        })
    }
}

impl Index {
    /// Whether `table` holds a row for `path` (one range lookup, no row read).
    pub(super) fn has_rows(&self, what: &str, table: Rows, path: &str) -> Result<bool, String> {
        guard(what, || {
            let tx = self.read_tx()?;
            let t = match tx.open_table(table) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(false),
                Err(x) => return Err(e(x)),
            };
            let mut range = t.range((path, 0)..=(path, u64::MAX)).map_err(e)?;
            Ok(range.next().is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_unchanged_and_under_its_key() {
        let s = seal(b"k", b"{\"revision\":111}");
        assert_eq!(unseal(b"k", &s), Some(&b"{\"revision\":111}"[..]));
        assert_eq!(unseal(b"j", &s), None, "another key's value");
        for i in 0..s.len() {
            let mut d = s.clone();
            d[i] ^= 0x04;
            assert_eq!(unseal(b"k", &d), None, "a flip at byte {i}");
        }
        assert_eq!(unseal(b"k", &s[..3]), None);
    }

    #[test]
    fn a_seal_is_the_crc32c_indexes_written_before_hold() {
        // Indexes written by earlier versions sealed with the `crc32c` crate: their values must
        // still open (a different checksum would silently drop every stored answer).
        for (k, v) in [(&b"k"[..], &b"{\"revision\":111}"[..]), (b"", b""), (b"/a/b", &[0u8; 5000][..])] {
            let s = seal(k, v);
            assert_eq!(s[..4], crc32c::crc32c_append(crc32c::crc32c(k), v).to_le_bytes());
        }
    }
}
