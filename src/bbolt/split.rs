//! bbolt's node split rule, shared by the writer and the size predictor: a node is split at
//! commit unless it has at most 4 elements or is smaller than a page; it is cut before element
//! `i >= 2` once adding it would pass `int(pageSize * fill)`, always leaving two elements for
//! the remainder. A node takes `ceil(size / pageSize)` pages.

use super::page::{ELEMENT_SIZE, PAGE_HEADER_SIZE};

const HDR: u64 = PAGE_HEADER_SIZE as u64;
const ELEM: u64 = ELEMENT_SIZE as u64;

/// bbolt's node split rules applied to a stream of elements: elements are pushed in key order
/// and whole nodes come out as soon as they are certain, so a writer never holds more than about
/// a page of elements per tree level. The cuts are exactly those of splitting the whole sequence
/// at once: a cut is final once the buffered prefix alone is at least a page and more than four
/// elements (so the remainder is too), with two elements after the cut.
#[derive(Debug)]
pub struct Splitter<T> {
    buf: Vec<(T, u64)>,
    size: u64,
    scan: usize,
    scan_sz: u64,
    page_size: u64,
    thresh: u64,
}

impl<T> Splitter<T> {
    /// A splitter for pages of `page_size` bytes filled to `fill`.
    pub fn new(page_size: u64, fill: f64) -> Splitter<T> {
        Splitter { buf: Vec::new(), size: HDR, scan: 0, scan_sz: HDR, page_size, thresh: threshold(page_size, fill) }
    }

    /// Adds an element whose key and value (or key alone, in a branch) take `payload` bytes; calls
    /// `emit(elements, node_size)` for every node that is now complete.
    pub fn push(&mut self, e: T, payload: u64, emit: &mut dyn FnMut(Vec<T>, u64)) {
        self.size += ELEM + payload;
        self.buf.push((e, ELEM + payload));
        while self.buf.len() > 4 && self.size >= self.page_size {
            // Continue the greedy scan for the cut: the first i >= 2 that would pass the threshold.
            let mut cut = None;
            while self.scan + 2 < self.buf.len() {
                let el = self.buf[self.scan].1;
                if self.scan >= 2 && self.scan_sz + el > self.thresh {
                    cut = Some(self.scan);
                    break;
                }
                self.scan_sz += el;
                self.scan += 1;
            }
            let Some(k) = cut else { return };
            let node_size = self.scan_sz;
            // The buffer keeps its allocation; only the two or so elements after the cut move.
            let node = self.buf.drain(..k).map(|(e, _)| e).collect();
            self.size -= node_size - HDR;
            (self.scan, self.scan_sz) = (0, HDR);
            emit(node, node_size);
        }
    }

    /// Flushes what is left, split as bbolt splits a node at commit (an empty stream gives one
    /// empty node).
    pub fn finish(self, emit: &mut dyn FnMut(Vec<T>, u64)) {
        let sizes: Vec<u64> = self.buf.iter().map(|(_, el)| el - ELEM).collect();
        let nodes = split_level(sizes.len(), |i| sizes[i], self.page_size, self.thresh);
        let mut items = self.buf.into_iter().map(|(e, _)| e);
        for (i, n) in nodes.iter().enumerate() {
            let end = nodes.get(i + 1).map_or(sizes.len(), |next| next.first);
            emit(items.by_ref().take(end - n.first).collect(), n.size);
        }
    }
}

/// The split threshold bbolt uses: `int(float64(pageSize) * fill)`, fill clamped to [0.1, 1.0].
pub fn threshold(page_size: u64, fill: f64) -> u64 {
    (page_size as f64 * fill.clamp(0.1, 1.0)) as u64
}

/// One node of a split level: its byte size and the index of its first element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// Header, element headers, keys and values.
    pub size: u64,
    /// Index of its first element in the level.
    pub first: usize,
}

/// Splits a level of `n` elements (element `i` takes `16 + payload(i)` bytes) into nodes.
pub fn split_level(n: usize, payload: impl Fn(usize) -> u64, page_size: u64, thresh: u64) -> Vec<Node> {
    let el = |i: usize| ELEM + payload(i);
    let mut rem_size = HDR + (0..n).map(el).sum::<u64>();
    let mut nodes = Vec::new();
    let mut pos = 0;
    loop {
        let rem_n = n - pos;
        if rem_n <= 4 || rem_size < page_size {
            nodes.push(Node { size: rem_size, first: pos });
            return nodes;
        }
        // bbolt splitIndex over the remainder.
        let mut sz = HDR;
        let mut index = 0;
        for i in 0..rem_n - 2 {
            index = i;
            let e = el(pos + i);
            if i >= 2 && sz + e > thresh {
                break;
            }
            sz += e;
        }
        let node: u64 = HDR + (pos..pos + index).map(el).sum::<u64>();
        nodes.push(Node { size: node, first: pos });
        pos += index;
        rem_size -= node - HDR;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_splitter_cuts_exactly_where_the_batch_split_does() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..400 {
            let n = rnd(300) as usize;
            let big = case % 5 == 0;
            let sizes: Vec<u64> =
                (0..n).map(|_| if big && rnd(4) == 0 { 1000 + rnd(20_000) } else { 5 + rnd(700) }).collect();
            let (ps, fill) = ([512, 4096, 16384][case % 3], [0.5, 0.9, 1.0][case % 3]);
            let batch: Vec<Node> = split_level(n, |i| sizes[i], ps, threshold(ps, fill));
            let mut streamed = Vec::new();
            let mut sp = Splitter::new(ps, fill);
            let mut first = 0;
            let mut emit = |node: Vec<usize>, size: u64| {
                assert_eq!(node.first().copied().unwrap_or(first), first);
                streamed.push(Node { size, first });
                first += node.len();
            };
            for (i, &sz) in sizes.iter().enumerate() {
                sp.push(i, sz, &mut emit);
            }
            sp.finish(&mut emit);
            assert_eq!(streamed, batch, "case {case}: n {n} ps {ps} fill {fill}");
        }
    }
}
