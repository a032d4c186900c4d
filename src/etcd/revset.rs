//! The revisions a `key` bucket holds, as a compact ordered set: what the residue count asks of
//! every revision it carves from a free page ("does the tree still hold it?") without a lookup in
//! the tree per record, in about 4 bytes per revision instead of 16.
//!
//! Revisions arrive in bucket (ascending) order. All but the first are kept as varints in one
//! byte stream: the step of the main revision, then the sub revision (its step when the main one
//! did not move). Every [`SPAN`] revisions or so a restart point notes the revision reached and
//! where the stream goes on from it. A query finds its restart point by binary search and decodes
//! forward; a run of ascending queries (a page's revisions) shares one search.
//!
//! Sets built apart (by the walk's parallel halves, one per leaf page at first) join by
//! appending: the later set's first revision becomes a step from the earlier set's last, its
//! stream is copied after, and its restart points are kept where they are at least [`SPAN`]
//! revisions apart. Revisions that are not ascending, within a set or across a join, mark it
//! [unordered](RevSet::ordered), and callers then look revisions up in the tree instead.

use super::proto::{put_varint, varint};

/// Revisions between restart points, at least (except across joins of small sets).
pub const SPAN: u64 = 32;

/// `[main, sub]`, as the bucket orders them.
pub type Rev = [u64; 2];

/// A restart point: the revision reached, and where the stream goes on from it.
#[derive(Clone, Copy, Debug)]
struct Restart {
    rev: Rev,
    at: usize,
    /// The ordinal of `rev` in the set.
    ord: u64,
}

/// An ordered set of revisions; see the module docs.
#[derive(Clone, Debug)]
pub struct RevSet {
    bytes: Vec<u8>,
    restarts: Vec<Restart>,
    last: Rev,
    len: u64,
    ordered: bool,
}

impl Default for RevSet {
    fn default() -> Self {
        RevSet { bytes: Vec::new(), restarts: Vec::new(), last: [0, 0], len: 0, ordered: true }
    }
}

/// `r` as a step from `prev` (which it must follow).
fn put_step(out: &mut Vec<u8>, prev: Rev, r: Rev) {
    let step = r[0] - prev[0];
    put_varint(out, step);
    put_varint(out, if step == 0 { r[1] - prev[1] } else { r[1] });
}

impl RevSet {
    /// Adds a revision, which must follow every one already added (else the set is unordered).
    pub fn push(&mut self, r: Rev) {
        if self.len == 0 {
            self.restarts.push(Restart { rev: r, at: 0, ord: 0 });
        } else if self.last < r {
            put_step(&mut self.bytes, self.last, r);
            if self.restarts.last().is_some_and(|p| self.len - p.ord >= SPAN) {
                self.restarts.push(Restart { rev: r, at: self.bytes.len(), ord: self.len });
            }
        } else {
            self.ordered = false;
            return;
        }
        self.last = r;
        self.len += 1;
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
        let Some(first) = o.restarts.first().map(|p| p.rev) else { return };
        if first <= self.last {
            self.ordered = false;
            return;
        }
        put_step(&mut self.bytes, self.last, first);
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&o.bytes);
        let mut prev = self.restarts.last().map_or(0, |p| p.ord);
        for p in &o.restarts {
            let ord = self.len + p.ord;
            if ord - prev >= SPAN {
                self.restarts.push(Restart { rev: p.rev, at: base + p.at, ord });
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
        n.saturating_mul(5).saturating_add(n / SPAN * std::mem::size_of::<Restart>() as u64)
    }

    /// For each of `queries`, whether the set holds it. Ascending queries share one search; any
    /// order is answered right. `None` when the set is [unordered](RevSet::ordered).
    pub fn contains_each(&self, queries: &[Rev]) -> Option<Vec<bool>> {
        if !self.ordered {
            return None;
        }
        let mut out = Vec::with_capacity(queries.len());
        let mut at: Option<Walk> = None;
        for &q in queries {
            let mut w = match at.take() {
                Some(w) if w.cur <= q => w,
                _ => match self.seek(q) {
                    Some(w) => w,
                    None => {
                        out.push(false);
                        continue;
                    }
                },
            };
            while w.cur < q && self.next(&mut w) {}
            out.push(w.cur == q);
            at = Some(w);
        }
        Some(out)
    }

    /// A walk standing at the last restart point at or before `q` (`None` before the first).
    fn seek(&self, q: Rev) -> Option<Walk> {
        let i = self.restarts.partition_point(|p| p.rev <= q).checked_sub(1)?;
        let p = self.restarts.get(i)?;
        Some(Walk { pos: p.at, cur: p.rev })
    }

    /// Moves `w` to the next revision; `false` past the last one.
    fn next(&self, w: &mut Walk) -> bool {
        let mut pos = w.pos;
        let (Some(step), Some(sub)) = (varint(&self.bytes, &mut pos), varint(&self.bytes, &mut pos)) else {
            return false;
        };
        w.cur = if step == 0 { [w.cur[0], w.cur[1] + sub] } else { [w.cur[0] + step, sub] };
        w.pos = pos;
        true
    }
}

/// A position in a [`RevSet`]: the revision reached, and where the stream goes on.
struct Walk {
    pos: usize,
    cur: Rev,
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
        assert!(joined.restarts.len() as u64 <= all.len() as u64 / SPAN + 1, "{}", joined.restarts.len());
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
        let bytes = s.bytes.capacity() + s.restarts.capacity() * std::mem::size_of::<Restart>();
        assert!(bytes as u64 <= RevSet::cost(s.len()) && bytes < 4 * 1_000_000, "{bytes}");
    }
}
