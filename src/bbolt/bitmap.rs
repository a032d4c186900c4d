//! Bitmaps: a lock-free one for the parallel walk's visited set, sized by the file (never by a
//! number read from it), so memory stays bounded whatever the bytes say; and a plain one for sets
//! built on one thread (which entries of a bucket survive a compaction).

use std::sync::atomic::{AtomicU64, Ordering};

/// A fixed-size bitmap that many threads can set bits in at once.
#[derive(Debug)]
pub struct AtomicBitmap {
    words: Vec<AtomicU64>,
    len: u64,
}

impl AtomicBitmap {
    /// A bitmap of `len` clear bits.
    pub fn new(len: u64) -> AtomicBitmap {
        let n = len.div_ceil(64) as usize;
        AtomicBitmap { words: (0..n).map(|_| AtomicU64::new(0)).collect(), len }
    }

    /// Number of bits.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the bitmap has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets bit `i`; returns whether it was already set. Bits past the end read as set, so an
    /// out-of-range id is never treated as new.
    pub fn test_and_set(&self, i: u64) -> bool {
        if i >= self.len {
            return true;
        }
        let bit = 1u64 << (i % 64);
        self.words[(i / 64) as usize].fetch_or(bit, Ordering::Relaxed) & bit != 0
    }

    /// Whether bit `i` is set (false past the end).
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.words[(i / 64) as usize].load(Ordering::Relaxed) & (1u64 << (i % 64)) != 0
    }

    /// Number of set bits.
    pub fn count(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.load(Ordering::Relaxed).count_ones())).sum()
    }

    /// The set bits, in order.
    pub fn ones(&self) -> impl Iterator<Item = u64> + '_ {
        self.words.iter().enumerate().flat_map(|(i, w)| {
            let mut bits = w.load(Ordering::Relaxed);
            std::iter::from_fn(move || {
                let b = bits.trailing_zeros();
                (bits != 0).then(|| {
                    bits &= bits - 1;
                    i as u64 * 64 + u64::from(b)
                })
            })
        })
    }
}

/// A fixed-size bitmap set from one thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: u64,
}

impl Bitmap {
    /// A bitmap of `len` clear bits.
    pub fn new(len: u64) -> Bitmap {
        Bitmap { words: vec![0; len.div_ceil(64) as usize], len }
    }

    /// Number of bits.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the bitmap has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets bit `i`; returns whether it was clear before (false past the end: nothing is set).
    pub fn set(&mut self, i: u64) -> bool {
        match self.words.get_mut((i / 64) as usize).filter(|_| i < self.len) {
            Some(w) if *w & (1 << (i % 64)) == 0 => {
                *w |= 1 << (i % 64);
                true
            }
            _ => false,
        }
    }

    /// Whether bit `i` is set (false past the end).
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.words.get((i / 64) as usize).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ones_lists_every_set_bit_in_order_across_words() {
        let b = AtomicBitmap::new(200);
        for i in [0, 63, 64, 130, 199] {
            b.test_and_set(i);
        }
        assert_eq!(b.ones().collect::<Vec<_>>(), [0, 63, 64, 130, 199]);
        assert_eq!(AtomicBitmap::new(10).ones().count(), 0);
    }
}
