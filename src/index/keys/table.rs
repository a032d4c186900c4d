//! The key index's two redb tables: blocks keyed by identity and first fingerprint, and one entry
//! per indexed file (format, when stored, size) that marks its index complete and drives the
//! eviction of the oldest files' indexes past [`MAX_TOTAL_BYTES`].

use super::super::{e, guard, seal, unseal, Identity, Index};
use super::{decode, Built, KeyRevisions, FORMAT, MAX_TOTAL_BYTES};
use crate::etcd::key_fingerprint;
use crate::etcd::range::{prefix_end, KeyRange};
use redb::{ReadableTable, TableDefinition};
use std::ops::Bound;

/// Blocks: identity ‖ the first key fingerprint of the block (16 bytes, big-endian) → sealed block.
const BLOCKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("key_revisions");
/// Files with a complete key index: identity → sealed [format, stored at (s, LE), bytes (LE),
/// 1 when the rest of the file read clean ([`Built::clean_beside`]; absent in older entries)].
const FILES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("key_revisions_files");

fn with_id(id: &Identity, key: &[u8]) -> Vec<u8> {
    let mut k = id.0.to_vec();
    k.extend_from_slice(key);
    k
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Removes a file's key index, inside the caller's write transaction (an analysis that found
/// problems leaves no answer about the file standing, [`Index::put`]).
pub(in crate::index) fn forget(tx: &redb::WriteTransaction, id: &Identity) -> Result<(), String> {
    let mut blocks = tx.open_table(BLOCKS).map_err(e)?;
    let end = prefix_end(&id.0);
    blocks.retain_in::<&[u8], _>(id.0.as_slice()..end.as_slice(), |_, _| false).map_err(e)?;
    tx.open_table(FILES).map_err(e)?.remove(id.0.as_slice()).map_err(e)?;
    Ok(())
}

/// Drops every file's key index, inside the caller's write transaction (an index of an older
/// schema, whose key indexes may hold what this one never stores).
pub(in crate::index) fn drop_all(tx: &redb::WriteTransaction) {
    let _ = tx.delete_table(BLOCKS);
    let _ = tx.delete_table(FILES);
}

impl Index {
    /// Stores a file's key index (replacing any), dropping the oldest other files' key indexes
    /// while all of them together would exceed [`MAX_TOTAL_BYTES`].
    pub fn put_key_index(&self, id: &Identity, b: &Built) -> Result<(), String> {
        self.put_key_index_within(id, b, MAX_TOTAL_BYTES)
    }

    /// [`Index::put_key_index`] with another bound on all key indexes together.
    pub fn put_key_index_within(&self, id: &Identity, b: &Built, max_total: u64) -> Result<(), String> {
        let w = self.writer()?;
        guard("write", || {
            let tx = self.write_tx(w.db()?)?;
            {
                let mut files = tx.open_table(FILES).map_err(e)?;
                let mut blocks = tx.open_table(BLOCKS).map_err(e)?;
                let mut others: Vec<(u64, u64, Vec<u8>)> = Vec::new();
                for r in files.iter().map_err(e)? {
                    let (k, v) = r.map_err(e)?;
                    let meta = unseal(k.value(), v.value()).unwrap_or_default();
                    let at = meta.get(1..9).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes);
                    let bytes = meta.get(9..17).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes);
                    others.push((at, bytes, k.value().to_vec()));
                }
                others.sort();
                let mut total: u64 = others.iter().map(|o| o.1).sum::<u64>() + b.bytes;
                for (_, bytes, k) in &others {
                    if total <= max_total && k.as_slice() != id.0.as_slice() {
                        continue;
                    }
                    let end = prefix_end(k);
                    blocks.retain_in::<&[u8], _>(k.as_slice()..end.as_slice(), |_, _| false).map_err(e)?;
                    files.remove(k.as_slice()).map_err(e)?;
                    total = total.saturating_sub(*bytes);
                }
                for (first, block) in &b.blocks {
                    let k = with_id(id, first);
                    blocks.insert(k.as_slice(), seal(&k, block).as_slice()).map_err(e)?;
                }
                let mut meta = vec![FORMAT];
                meta.extend_from_slice(&now().to_le_bytes());
                meta.extend_from_slice(&b.bytes.to_le_bytes());
                meta.push(u8::from(b.clean_beside));
                files.insert(id.0.as_slice(), seal(&id.0, &meta).as_slice()).map_err(e)?;
            }
            self.commit(tx)
        })
    }

    /// The keys `range` selects and their revisions (in key order), from the file's key index;
    /// `Ok(None)` when the index has none for this file (or a damaged block: the caller scans
    /// instead). One key reads one block; a wider range reads the file's whole key index.
    pub fn key_revisions(&self, id: &Identity, range: &KeyRange) -> Result<Option<Vec<KeyRevisions>>, String> {
        Ok(self.key_revisions_vouched(id, range)?.map(|(keys, _)| keys))
    }

    /// [`Index::key_revisions`], with whether the index was built when the rest of the file read
    /// clean ([`Built::clean_beside`]; `false` for an entry that does not say), read from the same
    /// entry in the same transaction.
    pub fn key_revisions_vouched(
        &self,
        id: &Identity,
        range: &KeyRange,
    ) -> Result<Option<(Vec<KeyRevisions>, bool)>, String> {
        guard("read", || {
            let tx = self.read_tx()?;
            let (files, blocks) = match (tx.open_table(FILES), tx.open_table(BLOCKS)) {
                (Ok(f), Ok(b)) => (f, b),
                (Err(redb::TableError::TableDoesNotExist(_)), _) | (_, Err(redb::TableError::TableDoesNotExist(_))) => {
                    return Ok(None)
                }
                (Err(x), _) | (_, Err(x)) => return Err(e(x)),
            };
            let known = files.get(id.0.as_slice()).map_err(e)?;
            let meta = known.as_ref().and_then(|g| unseal(&id.0, g.value()));
            if meta.as_ref().and_then(|m| m.first().copied()) != Some(FORMAT) {
                return Ok(None);
            }
            let clean_beside = meta.as_ref().and_then(|m| m.get(17).copied()) == Some(1);
            let id_end = prefix_end(&id.0);
            let (from, to) = if range.is_single() {
                // The block holding a key starts at or before its fingerprint.
                let at = with_id(id, &key_fingerprint(&range.start).to_be_bytes());
                let first = blocks.range::<&[u8]>(id.0.as_slice()..=at.as_slice()).map_err(e)?.next_back();
                match first {
                    Some(r) => (r.map_err(e)?.0.value().to_vec(), at),
                    None => return Ok(Some((Vec::new(), clean_beside))),
                }
            } else {
                (id.0.to_vec(), id_end.clone())
            };
            let mut out = Vec::new();
            let upper = if range.is_single() { Bound::Included(to.as_slice()) } else { Bound::Excluded(to.as_slice()) };
            for r in blocks.range::<&[u8]>((Bound::Included(from.as_slice()), upper)).map_err(e)? {
                let (k, v) = r.map_err(e)?;
                let Some(keys) = unseal(k.value(), v.value()).and_then(decode) else { return Ok(None) };
                out.extend(keys.into_iter().filter(|kr| range.contains(&kr.key)));
                if range.is_single() {
                    break;
                }
            }
            out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
            Ok(Some((out, clean_beside)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{build, tests::rev};
    use super::*;
    use crate::etcd::collect::{Collector, KeyRev};

    fn built(keys: &[&'static [u8]]) -> Built {
        let mut c = Collector::new(100);
        for (i, k) in keys.iter().enumerate() {
            c.extend(vec![KeyRev {
                fp: key_fingerprint(k),
                rev: rev(i as u64 + 2, 0, false),
                key: k,
                fresh: true,
                sig: 1,
            }]);
        }
        build(c).expect("small")
    }

    #[test]
    fn stores_looks_up_and_evicts_the_oldest_files() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap();
        let (a, b) = (Identity([1; 32], [1; 32]), Identity([2; 32], [2; 32]));
        assert_eq!(ix.key_revisions(&a, &KeyRange::key(b"k1")).unwrap(), None, "nothing stored yet");
        let mut one = built(&[b"k1", b"k2", b"other"]);
        ix.put_key_index(&a, &one).unwrap();
        let vouched = |ix: &Index| ix.key_revisions_vouched(&a, &KeyRange::key(b"k1")).unwrap().map(|(_, v)| v);
        assert_eq!(vouched(&ix), Some(false), "built without the rest of the file read clean");
        one.clean_beside = true;
        ix.put_key_index(&a, &one).unwrap();
        assert_eq!(vouched(&ix), Some(true));
        let got = ix.key_revisions(&a, &KeyRange::key(b"k2")).unwrap().unwrap();
        assert_eq!(
            got,
            vec![KeyRevisions {
                key: b"k2".to_vec(),
                revisions: vec![rev(3, 0, false)],
                fresh: vec![true],
                sigs: vec![1]
            }]
        );
        assert_eq!(ix.key_revisions(&a, &KeyRange::key(b"k3")).unwrap(), Some(vec![]));
        let k: Vec<Vec<u8>> =
            ix.key_revisions(&a, &KeyRange::prefix(b"k")).unwrap().unwrap().into_iter().map(|r| r.key).collect();
        assert_eq!(k, vec![b"k1".to_vec(), b"k2".to_vec()]);
        assert_eq!(ix.key_revisions(&b, &KeyRange::key(b"k1")).unwrap(), None, "another file");
        // Room for one file only: storing b drops a.
        ix.put_key_index_within(&b, &built(&[b"x"]), one.bytes + 1).unwrap();
        assert_eq!(ix.key_revisions(&a, &KeyRange::key(b"k1")).unwrap(), None, "evicted");
        assert_eq!(vouched(&ix), None, "evicted with its index");
        assert_eq!(ix.key_revisions(&b, &KeyRange::key(b"x")).unwrap().unwrap().len(), 1);
    }
}
