//! The revisions a `key` bucket holds, as a compact ordered set: what the residue count asks of
//! every revision it carves from a free page ("does the tree still hold it?") without a lookup in
//! the tree per record, in about 4 bytes per revision instead of 16.
//!
//! Revisions arrive in bucket (ascending) order. All but the first are kept as varints in one
//! byte stream: the step of the main revision, then the sub revision (its step when the main one
//! did not move). Every [`SPAN`] revisions or so a restart point notes the revision reached and
//! where the stream goes on from it. A query finds its restart point by a search that gallops from
//! where the caller's previous search ended (free pages next to each other hold revisions next to
//! each other), then decodes forward; a run of ascending queries (a page's revisions) shares one
//! search.
//!
//! Sets built apart (by the walk's parallel halves, one per leaf page at first) join by
//! appending: the later set's first revision becomes a step from the earlier set's last, its
//! stream is copied after, and its restart points are kept where they are at least [`SPAN`]
//! revisions apart. Revisions that are not ascending, within a set or across a join, mark it
//! [unordered](RevSet::ordered), and callers then look revisions up in the tree instead.

use super::proto::{put_varint, varint};

/// Revisions between restart points, at least (except across joins of small sets).
pub const SPAN: u64 = 16;

/// Bytes of a restart point: its revision, stream position and ordinal.
const RESTART_BYTES: u64 = 16 + 8 + 8;

/// `[main, sub]`, as the bucket orders them.
pub type Rev = [u64; 2];

/// An ordered set of revisions; see the module docs. Restart points are kept as three parallel
/// arrays, so the search runs over the revisions alone (16 bytes each, mostly in cache).
#[derive(Clone, Debug)]
pub struct RevSet {
    bytes: Vec<u8>,
    /// Each restart point's revision, as one number ([`key`]: one compare in the search).
    restart_rev: Vec<u128>,
    /// Where the stream goes on from it.
    restart_at: Vec<usize>,
    /// Its ordinal in the set (for joins, which keep restart points [`SPAN`] apart).
    restart_ord: Vec<u64>,
    last: Rev,
    len: u64,
    ordered: bool,
}

impl Default for RevSet {
    fn default() -> Self {
        RevSet {
            bytes: Vec::new(),
            restart_rev: Vec::new(),
            restart_at: Vec::new(),
            restart_ord: Vec::new(),
            last: [0, 0],
            len: 0,
            ordered: true,
        }
    }
}

/// `r` as a step from `prev` (which it must follow).
#[inline]
fn put_step(out: &mut Vec<u8>, prev: Rev, r: Rev) {
    let step = r[0] - prev[0];
    let sub = if step == 0 { r[1] - prev[1] } else { r[1] };
    // Nearly always two one-byte varints.
    if step < 0x80 && sub < 0x80 {
        out.extend_from_slice(&[step as u8, sub as u8]);
    } else {
        put_varint(out, step);
        put_varint(out, sub);
    }
}

impl RevSet {
    /// Adds a revision, which must follow every one already added (else the set is unordered).
    #[inline]
    pub fn push(&mut self, r: Rev) {
        if self.len == 0 {
            self.restart(r, 0, 0);
        } else if self.last < r {
            put_step(&mut self.bytes, self.last, r);
            if self.restart_ord.last().is_some_and(|&o| self.len - o >= SPAN) {
                self.restart(r, self.bytes.len(), self.len);
            }
        } else {
            self.ordered = false;
            return;
        }
        self.last = r;
        self.len += 1;
    }

    fn restart(&mut self, rev: Rev, at: usize, ord: u64) {
        self.restart_rev.push(key(rev));
        self.restart_at.push(at);
        self.restart_ord.push(ord);
    }

    /// Appends a set built from the revisions that follow this one's.
    pub fn append(&mut self, other: &mut RevSet) {
        let o = std::mem::take(other);
        if o.len == 0 {
            return;
        }
        self.ordered &= o.ordered;
        if self.len == 0 {
            *self = o;
            return;
        }
        let Some(first) = o.restart_rev.first().map(|&k| unkey(k)) else { return };
        if first <= self.last {
            self.ordered = false;
            return;
        }
        put_step(&mut self.bytes, self.last, first);
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&o.bytes);
        let mut prev = self.restart_ord.last().copied().unwrap_or(0);
        for ((&rev, &at), &ord) in o.restart_rev.iter().zip(&o.restart_at).zip(&o.restart_ord) {
            let ord = self.len + ord;
            if ord - prev >= SPAN {
                self.restart(unkey(rev), base + at, ord);
                prev = ord;
            }
        }
        self.last = o.last;
        self.len += o.len;
    }

    /// Whether every revision came in ascending order (queries are answered only then).
    pub fn ordered(&self) -> bool {
        self.ordered
    }

    /// How many revisions were added.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes a set of `n` revisions may take, for a budget charged before they are added.
    pub fn cost(n: u64) -> u64 {
        // Two varints (at most 3 + 2 bytes for etcd's revisions and sub revisions in practice)
        // and a restart point per SPAN revisions.
        n.saturating_mul(5).saturating_add(n / SPAN * RESTART_BYTES)
    }

    /// For each of `queries`, whether the set holds it (`None` when the set is
    /// [unordered](RevSet::ordered)): [`RevSet::mark_near`] with answers collected.
    #[cfg(test)]
    pub fn contains_each(&self, queries: &[Rev]) -> Option<Vec<bool>> {
        let mut out: Vec<(Rev, bool)> = queries.iter().map(|&q| (q, false)).collect();
        self.mark_near(&mut 0, &mut out, |o| o.0, |o, found| o.1 = found)
            .then(|| out.into_iter().map(|o| o.1).collect())
    }

    /// For each item, `set` is told whether the set holds the revision `rev` reads from it;
    /// `false` (and nothing told) when the set is [unordered](RevSet::ordered). Ascending
    /// revisions (a page's) share one search; any order is answered right. The search starts
    /// from `hint`, a position a search before this one left there (it is short when the
    /// revisions asked lie close to the ones asked before, as they do from one free page to the
    /// next); any `hint` gives the same answers.
    pub fn mark_near<T>(
        &self,
        hint: &mut usize,
        items: &mut [T],
        rev: impl Fn(&T) -> Rev,
        set: impl Fn(&mut T, bool),
    ) -> bool {
        if !self.ordered {
            return false;
        }
        let mut at: Option<Walk> = None;
        for item in items {
            let q = key(rev(item));
            let mut w = match at.take() {
                Some(w) if w.cur <= q => w,
                _ => match self.seek(q, hint) {
                    Some(w) => w,
                    None => {
                        set(item, false);
                        continue;
                    }
                },
            };
            while w.cur < q && self.next(&mut w) {}
            set(item, w.cur == q);
            at = Some(w);
        }
        true
    }

    /// A walk standing at the last restart point at or before `q` (`None` before the first),
    /// found by galloping from restart point `hint` (then left at the one found).
    fn seek(&self, q: u128, hint: &mut usize) -> Option<Walk> {
        let r = &self.restart_rev;
        let h = (*hint).min(r.len().checked_sub(1)?);
        // The range [lo, hi) that holds the last restart point at or before q.
        let (mut lo, mut hi) = (0, r.len());
        if r[h] <= q {
            let mut step = 1;
            lo = h;
            while let Some(&x) = r.get(lo + step) {
                if x > q {
                    hi = lo + step;
                    break;
                }
                lo += step;
                step *= 2;
            }
        } else {
            let mut step = 1;
            hi = h;
            while let Some(x) = hi.checked_sub(step).map(|i| r[i]) {
                if x <= q {
                    lo = hi - step;
                    break;
                }
                hi -= step;
                step *= 2;
            }
        }
        let i = lo + r.get(lo..hi)?.partition_point(|&x| x <= q).checked_sub(1)?;
        *hint = i;
        Some(Walk { pos: *self.restart_at.get(i)?, cur: *r.get(i)? })
    }

    /// Moves `w` to the next revision; `false` past the last one.
    #[inline]
    fn next(&self, w: &mut Walk) -> bool {
        // Nearly every step is two one-byte varints (the next sub revision, or a small step of
        // the main one to sub revision 0).
        let (step, sub) = match self.bytes.get(w.pos..w.pos.saturating_add(2)) {
            Some(&[a, b]) if (a | b) & 0x80 == 0 => {
                w.pos += 2;
                (u64::from(a), u64::from(b))
            }
            _ => {
                let mut pos = w.pos;
                let (Some(step), Some(sub)) = (varint(&self.bytes, &mut pos), varint(&self.bytes, &mut pos)) else {
                    return false;
                };
                w.pos = pos;
                (step, sub)
            }
        };
        let [main, was] = unkey(w.cur);
        w.cur = if step == 0 { key([main, was.wrapping_add(sub)]) } else { key([main.wrapping_add(step), sub]) };
        true
    }
}

/// A revision as one number that orders as the revision does.
fn key(r: Rev) -> u128 {
    u128::from(r[0]) << 64 | u128::from(r[1])
}

/// The revision [`key`] made `k` of.
fn unkey(k: u128) -> Rev {
    [(k >> 64) as u64, k as u64]
}

/// A position in a [`RevSet`]: the revision reached (as a [`key`]), and where the stream goes on.
struct Walk {
    pos: usize,
    cur: u128,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revs() -> Vec<Rev> {
        // Several blocks: transactions of varied sizes, gaps in the main revision.
        let mut v = Vec::new();
        for main in (2..400u64).step_by(3) {
            for sub in 0..(main % 7) {
                v.push([main, sub * 2]);
            }
        }
        v
    }

    #[test]
    fn holds_exactly_what_was_added_in_any_query_order() {
        let all = revs();
        let mut s = RevSet::default();
        all.iter().for_each(|&r| s.push(r));
        assert!(s.ordered() && s.len() == all.len() as u64);
        let mut queries: Vec<Rev> = (0..410).flat_map(|m| (0..14).map(move |sub| [m, sub])).collect();
        let want: Vec<bool> = queries.iter().map(|q| all.binary_search(q).is_ok()).collect();
        assert_eq!(s.contains_each(&queries).unwrap(), want);
        queries.reverse();
        let want: Vec<bool> = queries.iter().map(|q| all.binary_search(q).is_ok()).collect();
        assert_eq!(s.contains_each(&queries).unwrap(), want);
    }

    #[test]
    fn sets_built_apart_join_and_disorder_is_noticed() {
        let all = revs();
        let (a, b) = all.split_at(all.len() / 3);
        let (mut x, mut y) = (RevSet::default(), RevSet::default());
        a.iter().for_each(|&r| x.push(r));
        b.iter().for_each(|&r| y.push(r));
        x.append(&mut y);
        assert!(x.ordered() && x.len() == all.len() as u64);
        assert_eq!(x.contains_each(&all).unwrap(), vec![true; all.len()]);
        let mut z = RevSet::default();
        z.push([5, 0]);
        z.push([5, 0]);
        assert!(!z.ordered() && z.contains_each(&[[5, 0]]).is_none());
        let mut w = RevSet::default();
        w.push([9, 0]);
        let mut earlier = RevSet::default();
        earlier.push([3, 0]);
        w.append(&mut earlier);
        assert!(!w.ordered());
    }

    #[test]
    fn one_set_per_leaf_joined_stays_small_and_answers_the_same() {
        let all = revs();
        let mut joined = RevSet::default();
        for leaf in all.chunks(7) {
            let mut s = RevSet::default();
            leaf.iter().for_each(|&r| s.push(r));
            joined.append(&mut s);
        }
        assert!(joined.ordered() && joined.len() == all.len() as u64);
        assert!(joined.restart_rev.len() as u64 <= all.len() as u64 / SPAN + 1, "{}", joined.restart_rev.len());
        let queries: Vec<Rev> = (0..410).flat_map(|m| (0..14).map(move |sub| [m, sub])).collect();
        let want: Vec<bool> = queries.iter().map(|q| all.binary_search(q).is_ok()).collect();
        assert_eq!(joined.contains_each(&queries).unwrap(), want);
    }

    #[test]
    fn costs_about_four_bytes_a_revision() {
        let mut s = RevSet::default();
        for main in 1..=100_000u64 {
            for sub in 0..10 {
                s.push([main, sub]);
            }
        }
        let bytes = s.bytes.capacity() + s.restart_rev.capacity() * RESTART_BYTES as usize;
        assert!(bytes as u64 <= RevSet::cost(s.len()) && bytes < 5 * 1_000_000, "{bytes}");
    }

    #[test]
    fn any_hint_gives_the_same_answers() {
        let all = revs();
        let mut s = RevSet::default();
        all.iter().for_each(|&r| s.push(r));
        let queries: Vec<Rev> = (0..410).flat_map(|m| (0..14).map(move |sub| [m, sub])).collect();
        let want: Vec<bool> = queries.iter().map(|q| all.binary_search(q).is_ok()).collect();
        // Hints before, inside, past the restart points, and left by the searches before.
        for start in [0, 1, 5, s.restart_rev.len() / 2, s.restart_rev.len() - 1, usize::MAX] {
            let mut hint = start;
            for (chunk, want) in queries.chunks(9).zip(want.chunks(9)).rev() {
                let mut items: Vec<(Rev, bool)> = chunk.iter().map(|&q| (q, false)).collect();
                assert!(s.mark_near(&mut hint, &mut items, |i| i.0, |i, f| i.1 = f));
                assert_eq!(items.iter().map(|i| i.1).collect::<Vec<_>>(), want, "hint from {start}");
            }
        }
    }
}
