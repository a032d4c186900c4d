//! Byte order and the typed ids of the format. bbolt overlays Go structs on the map, so every
//! integer is in the writing host's native order; one [`ByteOrder`] reads (`u16`/`u32`/`u64`,
//! bounds-checked) and writes (`put_*`) them, for the reader and the writer alike. [`PageId`] and
//! [`Txid`] keep page numbers and transaction ids apart from sizes and counts where they cross
//! module boundaries.

use std::fmt;

/// The byte order of a bbolt file: little-endian almost everywhere, big-endian from s390x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    /// Written on x86-64, arm64, ppc64le, riscv64, ...
    Little,
    /// Written on s390x, ppc64 (BE), mips (BE).
    Big,
}

impl ByteOrder {
    /// Reads a `u16` at `off`, or `None` when it does not fit in `b`.
    #[inline]
    pub fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        })
    }

    /// Reads a `u32` at `off`, or `None` when it does not fit in `b`.
    #[inline]
    pub fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        })
    }

    /// Reads a `u64` at `off`, or `None` when it does not fit in `b`.
    #[inline]
    pub fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        })
    }

    /// Writes the low `n` bytes (1, 2, 4 or 8) of `v` at `at`. The writer only calls this on
    /// buffers it sized itself; a write that does not fit is a bug and panics.
    #[inline]
    pub fn put(self, buf: &mut [u8], at: usize, v: u64, n: usize) {
        match self {
            ByteOrder::Little => buf[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]),
            ByteOrder::Big => buf[at..at + n].copy_from_slice(&v.to_be_bytes()[8 - n..]),
        }
    }

    /// Writes a `u16` at `at`.
    #[inline]
    pub fn put_u16(self, buf: &mut [u8], at: usize, v: u16) {
        self.put(buf, at, u64::from(v), 2);
    }

    /// Writes a `u32` at `at`.
    #[inline]
    pub fn put_u32(self, buf: &mut [u8], at: usize, v: u32) {
        self.put(buf, at, u64::from(v), 4);
    }

    /// Writes a `u64` at `at`.
    #[inline]
    pub fn put_u64(self, buf: &mut [u8], at: usize, v: u64) {
        self.put(buf, at, v, 8);
    }
}

/// A page id: the page's offset in the file divided by the page size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct PageId(pub u64);

impl PageId {
    /// The id as a plain number.
    #[inline]
    pub fn get(self) -> u64 {
        self.0
    }

    /// The byte offset of the page in a file with pages of `page_size` bytes (saturating: a
    /// hostile id cannot wrap around to a small offset).
    #[inline]
    pub fn offset(self, page_size: u64) -> u64 {
        self.0.saturating_mul(page_size)
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u64> for PageId {
    fn from(v: u64) -> PageId {
        PageId(v)
    }
}

impl From<PageId> for u64 {
    fn from(v: PageId) -> u64 {
        v.0
    }
}

/// A transaction id, as meta pages record it (each commit writes the next one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Txid(pub u64);

impl fmt::Display for Txid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_get_round_trips_in_both_orders() {
        for o in [ByteOrder::Little, ByteOrder::Big] {
            let mut b = [0u8; 16];
            o.put_u16(&mut b, 0, 0xBEEF);
            o.put_u32(&mut b, 2, 0xDEAD_BEEF);
            o.put_u64(&mut b, 6, 0x0102_0304_0506_0708);
            assert_eq!(o.u16(&b, 0), Some(0xBEEF));
            assert_eq!(o.u32(&b, 2), Some(0xDEAD_BEEF));
            assert_eq!(o.u64(&b, 6), Some(0x0102_0304_0506_0708));
            assert_eq!(o.u64(&b, 9), None, "a read past the end is refused");
        }
        let mut b = [0u8; 4];
        ByteOrder::Big.put_u32(&mut b, 0, 1);
        assert_eq!(b, [0, 0, 0, 1]);
        ByteOrder::Little.put_u32(&mut b, 0, 1);
        assert_eq!(b, [1, 0, 0, 0]);
        assert_eq!(PageId(3).offset(4096), 12288);
        assert_eq!(PageId(u64::MAX).offset(4096), u64::MAX);
    }
}
