//! Which entries of the `key` bucket survive etcd's compaction at revision R, by ordinal
//! (position in the bucket): entries above R are untouched; of those at or below R, each key keeps
//! its newest, unless that is a tombstone below R (a tombstone exactly at R is kept, as etcd >=
//! 3.4.34/3.5.16/3.6.0 do).
//!
//! The per-key map is partitioned by fingerprint over as many passes as needed to keep it near
//! [`MAP_BUDGET`] bytes, so memory stays bounded whatever the number of keys; the answer is one
//! bit per entry.

use super::{fingerprint, proto, revision, FpMap};
use crate::cursor::{self, BucketRoot};
use crate::error::Problem;
use crate::view::DbView;

/// Bytes the per-key map may take in one pass.
pub const MAP_BUDGET: u64 = 96 << 20;
/// Bytes per reserved map entry: a 40-byte slot and a control byte, in a table of up to 16/7 as
/// many buckets as entries (hashbrown's load factor and power-of-two sizes).
const ENTRY_COST: u64 = 41 * 16 / 7;

/// One bit per `key` bucket entry: whether it survives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keep {
    bits: Vec<u64>,
    /// Entries in the bucket.
    pub len: u64,
    /// Entries that survive.
    pub kept: u64,
    /// Whether a surviving entry has a main revision at or below R (etcd filters HashKV by its
    /// keep set only then).
    pub kept_at_or_below: bool,
}

impl Keep {
    /// Whether entry `i` survives.
    pub fn get(&self, i: u64) -> bool {
        self.bits.get((i / 64) as usize).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn set(&mut self, i: u64) {
        if let Some(w) = self.bits.get_mut((i / 64) as usize) {
            if *w & (1 << (i % 64)) == 0 {
                *w |= 1 << (i % 64);
                self.kept += 1;
            }
        }
    }
}

/// Computes the survivors of compaction at `rev` in the bucket rooted at `kb`.
pub fn keep(view: &DbView<'_>, kb: BucketRoot<'_>, rev: u64) -> Result<Keep, Problem> {
    // The entry count sizes the bitmap and the passes; leaf headers alone give it.
    let mut n = 0u64;
    cursor::for_each_leaf(view, kb, &mut |p| {
        n += u64::from(p.count);
        Ok(())
    })?;
    let mut k = Keep { bits: vec![0; n.div_ceil(64) as usize], len: n, kept: 0, kept_at_or_below: false };
    let passes = (n * ENTRY_COST).div_ceil(MAP_BUDGET).max(1);
    for pass in 0..passes {
        // Reserved at once: a table that grows holds its old and new arrays together for a moment.
        let mut newest: FpMap<(u64, u64, bool)> =
            FpMap::with_capacity_and_hasher((n / passes) as usize + 1024, Default::default());
        let mut i = 0u64;
        cursor::for_each(view, kb, &mut |e| {
            let ord = i;
            i += 1;
            let (Some(r), Some(kv)) = (revision::parse(e.key), proto::kv(e.value)) else {
                // Not understood: never dropped.
                if pass == 0 {
                    k.set(ord);
                    k.kept_at_or_below |= revision::main_of(e.key).is_some_and(|m| m <= rev);
                }
                return;
            };
            if r.main > rev {
                if pass == 0 {
                    k.set(ord);
                }
                return;
            }
            let fp = fingerprint(kv.key);
            if (fp % u128::from(passes)) as u64 == pass {
                newest.insert(fp, (ord, r.main, r.tombstone));
            }
        })?;
        for (ord, main, tomb) in newest.into_values() {
            if !tomb || main == rev {
                k.set(ord);
                k.kept_at_or_below = true;
            }
        }
    }
    Ok(k)
}
