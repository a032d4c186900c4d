//! Go 1.16's `sort.Sort`, the unstable sort etcd 3.5.1 sorts Range answers with: equal elements
//! (ties, such as keys of the same version) come out in the order this exact algorithm leaves
//! them, which is neither key order nor stable, so an answer byte for byte equal to etcd's needs
//! the same sequence of comparisons and swaps.
//!
//! The algorithm (Go 1.16 `sort/sort.go`, described here in our own words): an introsort. While a
//! stretch holds more than 12 elements it is partitioned around a pivot chosen as the median of
//! three (of three medians of three, Tukey's ninther, above 40 elements), with elements equal to
//! the pivot gathered when the partition looks skewed; the smaller side is sorted first, and when
//! the depth budget (twice the bit length of n) runs out the stretch is heapsorted. A stretch of 12
//! or fewer gets one gap-6 pass and an insertion sort. Go 1.19 and later use pdqsort, which orders
//! ties differently. fixtures/key-answers/sort-rule-check.py models the same algorithm, and the
//! recorded answers of etcd 3.5.1 (ties included) are this module's test.

/// Sorts `v` as Go 1.16's `sort.Sort` would with this `less`.
pub fn sort<T>(v: &mut [T], less: &dyn Fn(&T, &T) -> bool) {
    let n = v.len();
    let depth = 2 * (usize::BITS - n.leading_zeros()) as usize;
    let mut s = Sorter { v, less };
    s.quick(0, n, depth);
}

struct Sorter<'s, T> {
    v: &'s mut [T],
    less: &'s dyn Fn(&T, &T) -> bool,
}

impl<T> Sorter<'_, T> {
    fn less(&self, i: usize, j: usize) -> bool {
        (self.less)(&self.v[i], &self.v[j])
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.v.swap(i, j);
    }

    fn insertion(&mut self, a: usize, b: usize) {
        for i in a + 1..b {
            let mut j = i;
            while j > a && self.less(j, j - 1) {
                self.swap(j, j - 1);
                j -= 1;
            }
        }
    }

    /// Restores the heap property of `[lo, hi)`, offset by `first`, from `lo` down.
    fn sift_down(&mut self, lo: usize, hi: usize, first: usize) {
        let mut root = lo;
        loop {
            let mut child = 2 * root + 1;
            if child >= hi {
                return;
            }
            if child + 1 < hi && self.less(first + child, first + child + 1) {
                child += 1;
            }
            if !self.less(first + root, first + child) {
                return;
            }
            self.swap(first + root, first + child);
            root = child;
        }
    }

    fn heap(&mut self, a: usize, b: usize) {
        let (first, hi) = (a, b - a);
        for i in (0..=(hi.saturating_sub(1)) / 2).rev() {
            self.sift_down(i, hi, first);
        }
        for i in (0..hi).rev() {
            self.swap(first, first + i);
            self.sift_down(0, i, first);
        }
    }

    /// Orders the three so that `v[m0] <= v[m1] <= v[m2]`.
    fn median3(&mut self, m1: usize, m0: usize, m2: usize) {
        if self.less(m1, m0) {
            self.swap(m1, m0);
        }
        if self.less(m2, m1) {
            self.swap(m2, m1);
            if self.less(m1, m0) {
                self.swap(m1, m0);
            }
        }
    }

    /// Partitions `[lo, hi)`: returns `(mlo, mhi)` such that `[lo, mlo)` is below the pivot,
    /// `[mlo, mhi)` equal to it, `[mhi, hi)` above.
    fn pivot(&mut self, lo: usize, hi: usize) -> (usize, usize) {
        let m = lo + (hi - lo) / 2;
        if hi - lo > 40 {
            let s = (hi - lo) / 8;
            self.median3(lo, lo + s, lo + 2 * s);
            self.median3(m, m - s, m + s);
            self.median3(hi - 1, hi - 1 - s, hi - 1 - 2 * s);
        }
        self.median3(lo, m, hi - 1);
        // The pivot is at lo now. Invariants: [lo+1, a) < p, [a, b) <= p, [b, c) unexamined,
        // [c, hi-1) > p, with v[hi-1] >= p.
        let p = lo;
        let (mut a, mut c) = (lo + 1, hi - 1);
        while a < c && self.less(a, p) {
            a += 1;
        }
        let mut b = a;
        loop {
            while b < c && !self.less(p, b) {
                b += 1;
            }
            while b < c && self.less(p, c - 1) {
                c -= 1;
            }
            if b >= c {
                break;
            }
            self.swap(b, c - 1);
            b += 1;
            c -= 1;
        }
        // Few elements above the pivot may mean many equal to it: gather those.
        let mut protect = hi - c < 5;
        if !protect && hi - c < (hi - lo) / 4 {
            let mut dups = 0;
            if !self.less(p, hi - 1) {
                self.swap(c, hi - 1);
                c += 1;
                dups += 1;
            }
            if !self.less(b - 1, p) {
                b -= 1;
                dups += 1;
            }
            if !self.less(m, p) {
                self.swap(m, b - 1);
                b -= 1;
                dups += 1;
            }
            protect = dups > 1;
        }
        if protect {
            loop {
                while a < b && !self.less(b - 1, p) {
                    b -= 1;
                }
                while a < b && self.less(a, p) {
                    a += 1;
                }
                if a >= b {
                    break;
                }
                self.swap(a, b - 1);
                a += 1;
                b -= 1;
            }
        }
        self.swap(p, b - 1);
        (b - 1, c)
    }

    fn quick(&mut self, mut a: usize, mut b: usize, mut depth: usize) {
        while b - a > 12 {
            if depth == 0 {
                self.heap(a, b);
                return;
            }
            depth -= 1;
            let (mlo, mhi) = self.pivot(a, b);
            // Recursing into the smaller side bounds the stack at log2(n).
            if mlo - a < b - mhi {
                self.quick(a, mlo, depth);
                a = mhi;
            } else {
                self.quick(mhi, b, depth);
                b = mlo;
            }
        }
        if b - a > 1 {
            for i in a + 6..b {
                if self.less(i, i - 6) {
                    self.swap(i, i - 6);
                }
            }
            self.insertion(a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_leaves_ties_as_go_does() {
        // Sorted output for any input, ties or not, also through the heapsort fallback.
        let mut x: u64 = 7;
        for n in [0usize, 1, 2, 12, 13, 41, 200, 1000] {
            let mut v: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((x >> 33) % 7, i)
                })
                .collect();
            sort(&mut v, &|a: &(u64, usize), b: &(u64, usize)| a.0 < b.0);
            assert!(v.windows(2).all(|w| w[0].0 <= w[1].0), "n = {n}");
            let mut idx: Vec<usize> = v.iter().map(|p| p.1).collect();
            idx.sort_unstable();
            assert_eq!(idx, (0..n).collect::<Vec<_>>());
        }
        // Unstable like Go's: 13 equal-ish elements with a tie pattern are not left in input order.
        let mut v: Vec<(u8, usize)> = (0..13).map(|i| ((i % 2) as u8, i)).collect();
        sort(&mut v, &|a: &(u8, usize), b: &(u8, usize)| a.0 < b.0);
        assert!(v.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
