//! The CRC-32C of two byte strings one after the other, from the CRC of each and the length of the
//! second, in a few hundred nanoseconds: what joining the hashes of stretches read in parallel
//! costs (`status`, `check` and `inspect` join one per subtree of the walk).
//!
//! `crc32c::crc32c_combine` gives the same answer by squaring 32x32 bit matrices once per bit of
//! the length, which took 5.6% of `status`'s CPU on a 1.5 GB file. Here the CRC of the first part
//! is multiplied, modulo the CRC-32C polynomial, by x to the power of eight times the second
//! part's length, that power being a product of the precomputed powers x^(2^k) picked by the
//! bits of the length.
//!
//! Polynomials are held reflected, as the CRC holds them: bit 31 is the coefficient of x^0, bit 0
//! that of x^31.

/// The CRC-32C polynomial (Castagnoli), reflected, without its x^32 term.
const POLY: u32 = 0x82F6_3B78;

/// The polynomial 1 (x^0), reflected.
const ONE: u32 = 1 << 31;

/// a * b modulo the polynomial.
const fn mul(a: u32, mut b: u32) -> u32 {
    let mut product = 0u32;
    let mut bit = ONE;
    // From x^0 upwards: b holds b * x^i while bit holds x^i.
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        // b * x: one place up; the x^31 coefficient becomes x^32, which is the polynomial.
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        bit >>= 1;
    }
    product
}

/// x^(2^k) modulo the polynomial, for every bit k of a byte count times eight.
const POWERS: [u32; 67] = {
    let mut t = [0u32; 67];
    // x^1.
    t[0] = ONE >> 1;
    let mut k = 1;
    while k < t.len() {
        t[k] = mul(t[k - 1], t[k - 1]);
        k += 1;
    }
    t
};

/// x^(8 * bytes) modulo the polynomial: the factor that moves a CRC past `bytes` zero bytes.
fn shift(bytes: u64) -> u32 {
    let mut p = ONE;
    let mut n = bytes;
    // Eight bits a byte: bit j of `bytes` is bit j + 3 of the bit count.
    let mut k = 3;
    while n != 0 {
        if n & 1 != 0 {
            p = mul(POWERS[k], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// The CRC-32C of A followed by B, given `a` = CRC-32C(A), `b` = CRC-32C(B) and B's length.
pub fn combine(a: u32, b: u32, len_b: u64) -> u32 {
    if len_b == 0 {
        return a;
    }
    mul(shift(len_b), a) ^ b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic bytes (xorshift), so a failure reproduces.
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn the_crc_of_a_whole_is_its_parts_combined_at_every_split() {
        for (n, seed) in [(0usize, 1u64), (1, 2), (2, 3), (17, 4), (600, 5), (4096, 6), (70_000, 7)] {
            let data = bytes(n, seed);
            let whole = crc32c::crc32c(&data);
            let splits = [0, 1, n / 3, n / 2, n.saturating_sub(1), n];
            for at in splits.into_iter().filter(|&at| at <= n) {
                let (l, r) = data.split_at(at);
                let got = combine(crc32c::crc32c(l), crc32c::crc32c(r), r.len() as u64);
                assert_eq!(got, whole, "{n} bytes split at {at}");
            }
        }
    }

    #[test]
    fn agrees_with_the_crates_combine_for_long_and_odd_lengths() {
        // Lengths whose bits reach far up the table (and the crate's slow path).
        for (i, len) in [3u64, 255, 4097, 1 << 20, (1 << 32) + 5, u64::from(u32::MAX) * 3].into_iter().enumerate() {
            let (a, b) = (0x1234_5678u32.rotate_left(i as u32), 0x9abc_def0u32 ^ i as u32);
            let Ok(len) = usize::try_from(len) else { continue };
            assert_eq!(combine(a, b, len as u64), crc32c::crc32c_combine(a, b, len), "length {len}");
        }
    }

    #[test]
    fn three_parts_join_in_either_grouping() {
        let (x, y, z) = (bytes(100, 8), bytes(333, 9), bytes(5000, 10));
        let c = |d: &[u8]| crc32c::crc32c(d);
        let left = combine(combine(c(&x), c(&y), y.len() as u64), c(&z), z.len() as u64);
        let yz = combine(c(&y), c(&z), z.len() as u64);
        let right = combine(c(&x), yz, (y.len() + z.len()) as u64);
        assert_eq!(left, right);
        assert_eq!(left, c(&[x, y, z].concat()));
    }

    #[test]
    fn multiplying_by_one_changes_nothing() {
        for v in [0u32, 1, ONE, POLY, u32::MAX, 0xdead_beef] {
            assert_eq!(mul(ONE, v), v);
            assert_eq!(mul(v, ONE), v);
        }
        assert_eq!(shift(0), ONE);
    }
}
