//! Which keys of a damaged branch page to believe: the longest run of them in order, weighed by
//! whether each is its child's first key (bbolt keeps the two equal), so one damaged key costs
//! its own element alone ([`super::tolerant`] follows that element's child within the keys
//! around it).

/// The positions of the strictly increasing run (not necessarily contiguous) of `keys`, given in
/// element order, with the most elements whose key is their child's first key (`.2`), then the
/// most elements: one damaged key costs that element alone, whichever way it moved. A weighted
/// longest increasing run over the keys' ranks with a Fenwick tree of maxima, O(n log n) (a
/// branch page holds up to a few thousand elements); ties go to the earliest elements.
pub(crate) fn increasing(keys: &[(usize, &[u8], bool)]) -> Vec<usize> {
    let mut ranks: Vec<&[u8]> = keys.iter().map(|k| k.1).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let heavy = keys.len() as u64 + 1;
    // tree[i]: the best (weight, position) of a run ending at a rank in Fenwick range i.
    let mut tree: Vec<(u64, usize)> = vec![(0, usize::MAX); ranks.len() + 1];
    let mut best = vec![0u64; keys.len()];
    let mut before: Vec<Option<usize>> = vec![None; keys.len()];
    for (k, &(_, key, confirmed)) in keys.iter().enumerate() {
        let rank = ranks.partition_point(|r| *r < key);
        let (mut q, mut i) = ((0u64, usize::MAX), rank);
        while i > 0 {
            if tree[i].0 > q.0 {
                q = tree[i];
            }
            i &= i - 1;
        }
        best[k] = q.0 + if confirmed { heavy } else { 1 };
        before[k] = (q.1 != usize::MAX).then_some(q.1);
        let mut i = rank + 1;
        while i < tree.len() {
            if best[k] > tree[i].0 {
                tree[i] = (best[k], k);
            }
            i += i & i.wrapping_neg();
        }
    }
    let mut at = best.iter().enumerate().fold(None, |m: Option<(u64, usize)>, (k, &b)| match m {
        Some((mb, _)) if mb >= b => m,
        _ => Some((b, k)),
    });
    let mut out = Vec::new();
    while let Some((_, k)) = at {
        out.push(keys[k].0);
        at = before[k].map(|p| (0, p));
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::increasing;

    #[test]
    fn the_longest_run_in_order_leaves_out_the_damaged_keys() {
        let run = |keys: &[&[u8]]| increasing(&keys.iter().enumerate().map(|(i, k)| (i, *k, true)).collect::<Vec<_>>());
        // The first key raised past all the others: it alone is out.
        assert_eq!(run(&[b"z", b"b", b"c", b"d"]), [1, 2, 3]);
        // One in the middle lowered, one raised.
        assert_eq!(run(&[b"a", b"b", b"0", b"d", b"y", b"f", b"g"]), [0, 1, 3, 5, 6]);
        // Equal keys are not in order: one of them is kept.
        assert_eq!(run(&[b"a", b"a", b"b"]).len(), 2);
        assert!(run(&[]).is_empty());
        // A key lowered between its neighbours' (two runs as long): the one that is not its
        // child's first key goes, whichever comes first.
        let weighed = |keys: &[(&[u8], bool)]| {
            increasing(&keys.iter().enumerate().map(|(i, (k, c))| (i, *k, *c)).collect::<Vec<_>>())
        };
        assert_eq!(weighed(&[(b"a", true), (b"c", true), (b"b", false), (b"d", true)]), [0, 1, 3]);
        assert_eq!(weighed(&[(b"a", true), (b"c", false), (b"b", true), (b"d", true)]), [0, 2, 3]);
        // Equal keys: the one that is its child's first key stays.
        assert_eq!(weighed(&[(b"a", true), (b"a", false), (b"b", true)]), [0, 2]);
        assert_eq!(weighed(&[(b"a", false), (b"a", true), (b"b", true)]), [1, 2]);
    }
}
