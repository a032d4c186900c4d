//! The revisions the residue count has kept already, shared by the carving threads: a record is
//! counted once, from the first free page that gives it (bbolt leaves many copies of a leaf it
//! rewrote, and they hold the same records).

use super::revision::Revision;
use crate::sys::CacheLine;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

/// The revisions already kept, shared by the carving threads: sharded by runs of 64 main
/// revisions, so the records of one page (consecutive revisions) take one lock, not one each;
/// each shard on cache lines of its own.
pub(crate) struct Seen(Vec<CacheLine<Mutex<RevTable>>>);

type Shard<'s> = std::sync::MutexGuard<'s, RevTable>;

/// A set of revisions as bitmaps of 64 neighbours: the revisions of a page lie next to each
/// other (consecutive sub revisions of one transaction, or consecutive main revisions of
/// one-put transactions, as Kubernetes writes them), so a page mostly touches one entry, and the
/// table stays a fraction of one entry per revision.
struct RevTable {
    /// Sub revision 0, by `main / 64`: bit `main % 64`.
    mains: HashMap<u64, u64, RevHash>,
    /// Other sub revisions, by `(main, sub / 64)`: bit `sub % 64`.
    subs: HashMap<u128, u64, RevHash>,
}

impl RevTable {
    /// Adds `r`; whether it was not there yet.
    fn insert(&mut self, r: Revision) -> bool {
        let (word, bit) = match r.sub {
            0 => (self.mains.entry(r.main / 64).or_insert(0), r.main % 64),
            sub => (self.subs.entry(u128::from(r.main) << 64 | u128::from(sub / 64)).or_insert(0), sub % 64),
        };
        let new = *word & 1 << bit == 0;
        *word |= 1 << bit;
        new
    }

    fn contains(&self, r: Revision) -> bool {
        let (word, bit) = match r.sub {
            0 => (self.mains.get(&(r.main / 64)), r.main % 64),
            sub => (self.subs.get(&(u128::from(r.main) << 64 | u128::from(sub / 64))), sub % 64),
        };
        word.is_some_and(|w| w & 1 << bit != 0)
    }
}

impl Default for Seen {
    fn default() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(0u64);
        let table =
            || RevTable { mains: HashMap::with_hasher(RevHash(seed)), subs: HashMap::with_hasher(RevHash(seed)) };
        Seen((0..64).map(|_| CacheLine(Mutex::new(table()))).collect())
    }
}

/// Hashes a revision's neighbourhood (see [`RevTable`]) with a multiply or two and a per-process
/// seed, a fraction of a general-purpose hash of 16 bytes; the seed keeps a crafted file from
/// choosing collisions.
#[derive(Clone, Copy)]
struct RevHash(u64);

impl BuildHasher for RevHash {
    type Hasher = RevHasher;
    fn build_hasher(&self) -> RevHasher {
        RevHasher(self.0)
    }
}

/// See [`RevHash`].
struct RevHasher(u64);

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for RevHasher {
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
    fn write(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(MUL);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(MUL);
    }
    fn write_u128(&mut self, v: u128) {
        let (hi, lo) = ((v >> 64) as u64, v as u64);
        self.0 = ((self.0 ^ hi).wrapping_mul(MUL) ^ lo).wrapping_mul(MUL);
    }
}

impl Seen {
    /// Runs `f` on each item with the shard of its revision locked, a lock held while the shard
    /// stays the same (and released before the next is taken); stops when `f` says so.
    fn each<I>(
        &self,
        items: impl Iterator<Item = I>,
        rev: impl Fn(&I) -> Revision,
        mut f: impl FnMut(&mut Shard<'_>, Revision, I) -> bool,
    ) {
        let mut held: Option<(usize, Shard<'_>)> = None;
        for item in items {
            let rev = rev(&item);
            let i = (rev.main / 64) as usize % self.0.len();
            let g = match held.take() {
                Some((j, g)) if j == i => g,
                other => {
                    drop(other);
                    // A poisoned shard (a carving thread panicked) is still a set of revisions.
                    self.0[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
                }
            };
            let g = &mut held.insert((i, g)).1;
            if !f(g, rev, item) {
                break;
            }
        }
    }

    /// Whether every one of `revs` was kept already.
    pub(crate) fn has_all<'r>(&self, revs: impl Iterator<Item = &'r Revision>) -> bool {
        let mut all = true;
        self.each(
            revs,
            |r| **r,
            |s, r, _| {
                all = s.contains(r);
                all
            },
        );
        all
    }

    /// Tells `mark` of each item whether its revision is seen here for the first time (it is
    /// then kept).
    pub(crate) fn first_each<I>(
        &self,
        items: impl Iterator<Item = I>,
        rev: impl Fn(&I) -> Revision,
        mut mark: impl FnMut(I, bool),
    ) {
        self.each(items, rev, |s, r, item| {
            mark(item, s.insert(r));
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_revision_is_first_once_across_pages_and_shards() {
        let r = |main, sub| Revision { main, sub, tombstone: false };
        let seen = Seen::default();
        // Revisions across a shard boundary (64 main revisions a shard) and back.
        let page = [r(62, 0), r(63, 0), r(64, 0), r(64, 1), r(130, 0)];
        assert!(!seen.has_all(page.iter()));
        assert_eq!(firsts(&seen, &page), vec![true; 5]);
        assert!(seen.has_all(page.iter()));
        let copy = [r(63, 0), r(64, 1), r(65, 0)];
        assert!(!seen.has_all(copy.iter()), "65 is new");
        assert_eq!(firsts(&seen, &copy), vec![false, false, true]);
        assert!(seen.has_all(std::iter::empty()), "nothing to read");
    }

    fn firsts(seen: &Seen, revs: &[Revision]) -> Vec<bool> {
        let mut out = Vec::new();
        seen.first_each(revs.iter(), |r| **r, |_, f| out.push(f));
        out
    }

    #[test]
    fn the_seen_table_holds_exactly_what_was_inserted_at_word_edges() {
        let r = |main, sub| Revision { main, sub, tombstone: false };
        let seed = RevHash(7);
        let mut t = RevTable { mains: HashMap::with_hasher(seed), subs: HashMap::with_hasher(seed) };
        // Sub revision 0 by main (words of 64 mains), others by sub (words of 64 subs), and the
        // largest values.
        let put = [r(63, 0), r(64, 0), r(64, 63), r(64, 64), r(1, 1), r(u64::MAX, 0), r(u64::MAX, u64::MAX)];
        for x in put {
            assert!(!t.contains(x) && t.insert(x) && t.contains(x) && !t.insert(x), "{x:?}");
        }
        for x in [r(62, 0), r(65, 0), r(64, 1), r(64, 65), r(0, 1), r(1, 0), r(u64::MAX, 1), r(u64::MAX - 1, 0)] {
            assert!(!t.contains(x), "{x:?}");
        }
    }
}
