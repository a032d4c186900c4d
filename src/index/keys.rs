//! The key → revisions index of a file: for every user key, the revisions of its entries in the
//! `key` bucket, so a second `get` or `log` of a few keys looks them up (a B+tree search each)
//! instead of reading the whole bucket, which is ordered by revision, not by key.
//!
//! Built from one full scan (the first `get` or `log` of the file), tied to the file's identity
//! like every other entry. Keys are spread over blocks of about [`BLOCK_BYTES`] by their 128-bit
//! fingerprint ([`crate::etcd::key_fingerprint`]), so building sorts integers, not key bytes, and
//! one key is one block read: a block is keyed by identity and its first fingerprint and holds
//! its keys, each followed by its revisions (main as a delta, sub with the tombstone and fresh
//! bits, a put's generation signature as the step from the one before it),
//! compressed with zstd. A block is sealed like every value. A range of keys
//! reads all of the file's blocks (a small fraction of the file) and keeps the keys it selects.
//!
//! Bounded: a file with more than [`MAX_ENTRIES`] entries, or whose index would take more than
//! [`MAX_FILE_BYTES`], gets none (its queries keep scanning); all files' key indexes together
//! stay under [`MAX_TOTAL_BYTES`], the oldest dropped first. Building holds two slices per entry
//! (32 bytes) while they are sorted.

use crate::etcd::collect::{Collector, KeyRev};
use crate::etcd::history::{sig_step, sig_stepped, Compacted, History, Judged, Step};
use crate::etcd::proto::put_varint;
use crate::etcd::revision::Revision;
use rayon::prelude::*;

pub(super) mod table;

/// The block format (stored with each file's entry: another format reads as no index).
const FORMAT: u8 = 6;

/// Encoded bytes per block, about (a block ends after the key that reaches it).
pub const BLOCK_BYTES: usize = 16 << 10;
/// Most bytes a block may expand to (a damaged index cannot make a lookup allocate more).
const MAX_BLOCK_PLAIN: usize = 4 << 20;
/// zstd level for blocks: fast, and keys compress well.
const ZSTD_LEVEL: i32 = 1;
/// Files with more `key` bucket entries get no key index (building holds 64 bytes per entry:
/// at most 128 MiB).
pub const MAX_ENTRIES: u64 = 1 << 21;
/// Most bytes one file's key index may take.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Most bytes all key indexes together may take.
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;

/// A block ready to store: its first fingerprint (big-endian), its bytes, its key count.
type Block = (Vec<u8>, Vec<u8>, u64);

/// A key index built in memory, ready to store.
#[derive(Debug, Default)]
pub struct Built {
    blocks: Vec<(Vec<u8>, Vec<u8>)>,
    /// Encoded bytes.
    pub bytes: u64,
    /// Distinct keys.
    pub keys: u64,
    /// Whether the rest of the file read clean when it was built: every tree beside `key`, the
    /// meta pages, the file's length and its tail, as `check` reads them. Stored with the index
    /// (tied to the file's identity like it), so a warm answer need not walk them again: their
    /// walk grows with the `lease` bucket, which can hold millions of leases.
    pub clean_beside: bool,
}

/// One key and the revisions of its entries, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRevisions {
    /// The user key.
    pub key: Vec<u8>,
    /// Its entries' revisions.
    pub revisions: Vec<Revision>,
    /// For each revision, whether it is a put that created the key.
    pub fresh: Vec<bool>,
    /// For each revision, a put's [`generation_sig`](crate::etcd::history::generation_sig) (0 for
    /// a tombstone).
    pub sigs: Vec<u16>,
}

impl KeyRevisions {
    /// The key's history (every revision the index lists) held to etcd's rules.
    pub fn history(&self, c: &Compacted) -> Option<History> {
        let steps = self.revisions.iter().zip(&self.fresh).zip(&self.sigs);
        History::of(steps.map(|((r, &fresh), &sig)| Step { main: r.main, tomb: r.tombstone, fresh, sig }), c)
    }
}

/// The listed keys' histories held to etcd's rules against the compactions `c` (what a scan of
/// the same keys judges: [`crate::etcd::history::Judge`]).
pub fn judge(keys: &[KeyRevisions], c: Compacted) -> Judged {
    let bad: Vec<&[u8]> =
        keys.iter().filter(|k| k.history(&c).is_some_and(|h| h.broken(&c))).map(|k| k.key.as_slice()).collect();
    Judged::of(c, bad)
}

fn read_varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    crate::etcd::proto::varint(b, pos)
}

/// The revision key (17 bytes, 18 with the tombstone mark) of a revision.
pub fn rev_key(r: &Revision) -> Vec<u8> {
    let mut k = r.main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&r.sub.to_be_bytes());
    if r.tombstone {
        k.push(b't');
    }
    k
}

/// Builds the index from every entry's record (any order). `None` when it would exceed the
/// bounds.
///
/// Records are sorted by (fingerprint, revision): integers, so the keys' bytes, spread over the
/// mapped file, are compared within a fingerprint's run only (two keys sharing a fingerprint, which
/// a hostile file could arrange, are told apart there).
pub fn build(c: Collector<'_>) -> Option<Built> {
    let mut recs = c.list;
    if c.overflow || recs.len() as u64 > MAX_ENTRIES {
        return None;
    }
    recs.par_sort_unstable_by_key(|r| (r.fp, r.key.len(), r.rev.main, r.rev.sub));
    // Cut into blocks (a fingerprint's run is never split), then encode and compress them on
    // every core.
    let mut groups: Vec<Vec<&[KeyRev<'_>]>> = Vec::new();
    let (mut keys, mut size) = (Vec::new(), 0usize);
    let mut rest = recs.as_slice();
    while let Some(head) = rest.first() {
        let n = rest.iter().take_while(|r| r.fp == head.fp).count();
        keys.push(&rest[..n]);
        size += head.key.len() + 4 * n;
        rest = &rest[n..];
        if size >= BLOCK_BYTES || rest.is_empty() {
            groups.push(std::mem::take(&mut keys));
            size = 0;
        }
    }
    let blocks: Vec<Option<Block>> = groups
        .into_par_iter()
        .map(|keys| {
            let first = keys.first()?.first()?.fp;
            // A key whose own bytes hold a Secret in the clear (a value read as a key) is never
            // stored: the file gets no key index, and every question about it scans.
            // (A fingerprint's run can hold keys of different lengths: each is asked, once.)
            let holds = |run: &[KeyRev<'_>]| {
                run.iter().enumerate().any(|(i, r)| {
                    (i == 0 || run.get(i - 1).is_some_and(|p| p.key != r.key))
                        && crate::k8s::secret::key_holds_secret(r.key)
                })
            };
            if keys.iter().any(|run| holds(run)) {
                return None;
            }
            let n = keys.len() as u64;
            let plain = encode(keys)?;
            // A block a lookup would refuse to expand (a key of megabytes): the file gets no key
            // index, rather than one that fails every lookup and is built again each time.
            if plain.len() > MAX_BLOCK_PLAIN {
                return None;
            }
            let packed = zstd::bulk::compress(&plain, ZSTD_LEVEL).ok()?;
            Some((first.to_be_bytes().to_vec(), packed, n))
        })
        .collect();
    let mut built = Built::default();
    for b in blocks {
        let (first, block, n) = b?;
        built.keys += n;
        built.bytes += (block.len() + 52) as u64;
        built.blocks.push((first, block));
    }
    (built.bytes <= MAX_FILE_BYTES).then_some(built)
}

/// One block: for each key, its length and bytes, then its revisions (main as a delta; sub, times
/// four, with the fresh bit and the tombstone bit; then a put's generation signature's step from
/// the put's before it, 0 as a generation goes on), in fingerprint order (zstd finds the prefixes
/// keys share). `runs` are the records of one fingerprint each, in revision order, split where the key length changes (two
/// keys sharing a fingerprint are told apart when their lengths differ; see [`build`]).
fn encode(runs: Vec<&[KeyRev<'_>]>) -> Option<Vec<u8>> {
    let mut block = Vec::new();
    for run in runs {
        for same in run.chunk_by(|a, b| a.key.len() == b.key.len()) {
            let key = same.first()?.key;
            put_varint(&mut block, key.len() as u64);
            block.extend_from_slice(key);
            put_varint(&mut block, same.len() as u64);
            let (mut main, mut sig) = (0, 0u16);
            for r in same {
                put_varint(&mut block, r.rev.main.checked_sub(main)?);
                main = r.rev.main;
                let flags = u64::from(r.fresh) << 1 | u64::from(r.rev.tombstone);
                put_varint(&mut block, r.rev.sub.checked_mul(4)? | flags);
                if !r.rev.tombstone {
                    put_varint(&mut block, sig_step(sig, r.sig));
                    sig = r.sig;
                }
            }
        }
    }
    Some(block)
}

/// Decodes a block: its keys and their revisions.
pub(crate) fn decode(packed: &[u8]) -> Option<Vec<KeyRevisions>> {
    let block = zstd::bulk::decompress(packed, MAX_BLOCK_PLAIN).ok()?;
    let block = block.as_slice();
    let (mut pos, mut out) = (0usize, Vec::new());
    while pos < block.len() {
        let len = usize::try_from(read_varint(block, &mut pos)?).ok()?;
        let key = block.get(pos..pos.checked_add(len)?)?.to_vec();
        pos += len;
        let n = read_varint(block, &mut pos)?;
        let (mut revisions, mut fresh, mut sigs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut main, mut sig) = (0u64, 0u16);
        for _ in 0..n {
            main = main.checked_add(read_varint(block, &mut pos)?)?;
            let st = read_varint(block, &mut pos)?;
            let tombstone = st & 1 == 1;
            revisions.push(Revision { main, sub: st >> 2, tombstone });
            fresh.push(st & 2 == 2);
            if tombstone {
                sigs.push(0);
            } else {
                sig = sig_stepped(sig, read_varint(block, &mut pos)?)?;
                sigs.push(sig);
            }
        }
        out.push(KeyRevisions { key, revisions, fresh, sigs });
    }
    Some(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::etcd::history::generation_sig;
    use crate::etcd::key_fingerprint;

    pub(super) fn rev(main: u64, sub: u64, tombstone: bool) -> Revision {
        Revision { main, sub, tombstone }
    }

    #[test]
    fn blocks_round_trip_in_key_order() {
        let keys: Vec<Vec<u8>> = (0..2000).map(|i| format!("/registry/pods/ns/p-{i:05}").into_bytes()).collect();
        let mut c = Collector::new(MAX_ENTRIES as usize);
        for (i, k) in keys.iter().enumerate().rev() {
            let fp = key_fingerprint(k);
            let (created, deleted) = (i as u64 + 10, i % 3 == 0);
            let sig = |v| generation_sig(created, v);
            c.extend(vec![
                KeyRev { fp, rev: rev(created, 0, false), key: k, fresh: true, sig: sig(1) },
                KeyRev {
                    fp,
                    rev: rev(i as u64 + 5000, 1, deleted),
                    key: k,
                    fresh: false,
                    sig: [sig(2), 0][deleted as usize],
                },
            ]);
        }
        let b = build(c).expect("within bounds");
        assert_eq!(b.keys, 2000);
        assert!(b.blocks.len() > 2, "several blocks");
        let mut all: Vec<KeyRevisions> = b.blocks.iter().flat_map(|(_, blk)| decode(blk).expect("decodes")).collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(all.len(), 2000);
        assert_eq!(all[7].key, keys[7]);
        assert_eq!(all[3].revisions, vec![rev(13, 0, false), rev(5003, 1, true)]);
        assert_eq!(all[3].fresh, vec![true, false]);
        assert_eq!(all[4].sigs, vec![generation_sig(14, 1), generation_sig(14, 2)]);
        assert_eq!(judge(&all, Compacted::default()), Judged::default(), "each key created, then written or deleted");
        // A put whose version is not the next one (its signature stored as it was read).
        let mut skipped = all[4].clone();
        skipped.sigs[1] = generation_sig(14, 3);
        assert_eq!(judge(&[skipped], Compacted::default()).broken, 1);
        assert_eq!(rev_key(&rev(2, 1, true)), [0, 0, 0, 0, 0, 0, 0, 2, b'_', 0, 0, 0, 0, 0, 0, 0, 1, b't']);
        // Two keys of different lengths forced onto one fingerprint stay apart.
        let mut c = Collector::new(8);
        c.extend(vec![
            KeyRev { fp: 7, rev: rev(2, 0, false), key: b"bb", fresh: true, sig: 9 },
            KeyRev { fp: 7, rev: rev(3, 0, false), key: b"a", fresh: false, sig: 7 },
            KeyRev { fp: 7, rev: rev(4, 0, true), key: b"bb", fresh: false, sig: 0 },
        ]);
        let b = build(c).unwrap();
        let got = decode(&b.blocks[0].1).unwrap();
        let bb = KeyRevisions {
            key: b"bb".to_vec(),
            revisions: vec![rev(2, 0, false), rev(4, 0, true)],
            fresh: vec![true, false],
            sigs: vec![9, 0],
        };
        let a =
            KeyRevisions { key: b"a".to_vec(), revisions: vec![rev(3, 0, false)], fresh: vec![false], sigs: vec![7] };
        assert_eq!(got[0], a);
        assert_eq!(got[1], bb);
        // `a` was never created (its one put continues a generation the file does not hold).
        assert_eq!(judge(&got, Compacted::default()).broken, 1);
        // A key whose bytes hold a Secret in the clear (a value read as a key) is never stored:
        // the file gets no key index.
        let secret = b"k8s\0\n\x0c\n\x02v1\x12\x06Secret\x12\x10\n\x02\x0a\x00\x12\x08password";
        let mut c = Collector::new(8);
        c.extend(vec![
            KeyRev { fp: 1, rev: rev(2, 0, false), key: b"/registry/pods/ns/a", fresh: true, sig: 1 },
            KeyRev { fp: 2, rev: rev(3, 0, false), key: secret, fresh: true, sig: 1 },
        ]);
        assert!(build(c).is_none(), "a Secret's bytes stored in the index");
        let past = zstd::bulk::compress(&[5, b'a'], 1).unwrap();
        assert_eq!(decode(&past), None, "a key running past the block");
        assert_eq!(decode(b"not zstd"), None);
    }

    #[test]
    fn a_key_too_large_for_a_block_gives_no_key_index() {
        // A 5 MiB key (etcd takes one with --max-request-bytes raised): a block a lookup would
        // refuse to expand; before, it was stored and every lookup failed and built it again.
        let big = vec![b'k'; 5 << 20];
        let mut c = Collector::new(8);
        c.extend(vec![KeyRev { fp: key_fingerprint(&big), rev: rev(2, 0, false), key: &big, fresh: true, sig: 1 }]);
        assert!(build(c).is_none());
        let small = vec![b'k'; 3 << 20];
        let mut c = Collector::new(8);
        c.extend(vec![KeyRev { fp: key_fingerprint(&small), rev: rev(2, 0, false), key: &small, fresh: true, sig: 1 }]);
        let b = build(c).expect("a 3 MiB key fits");
        assert_eq!(decode(&b.blocks[0].1).unwrap()[0].key.len(), 3 << 20);
    }
}
