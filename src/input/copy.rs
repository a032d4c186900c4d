//! The bounded copy every container uses: a fixed-size buffer, a CRC-32 of what passed, and a
//! budget of bytes that stops the copy at the limit without writing past it.

use std::io::{self, Read, Write};

/// The copy buffer's size (also the read buffer size of the containers' readers).
pub(crate) const BUF_LEN: usize = 256 * 1024;

/// Why a bounded copy stopped early.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// The reader (the decoder) failed.
    Read(io::Error),
    /// The writer (the temporary file) failed.
    Write(io::Error),
    /// The reader yields more than the budget; exactly the budget was written.
    TooLarge,
}

/// Copies everything `r` yields to `w`, feeding it to `crc`, and takes the bytes copied from
/// `budget`. When `r` yields more than `budget`, writes only up to the budget and returns
/// [`CopyError::TooLarge`]; the decoder is never asked for more than one byte past the budget
/// per read. Returns the number of bytes copied.
pub(crate) fn copy_bounded(
    r: &mut dyn Read,
    w: &mut dyn Write,
    budget: &mut u64,
    crc: &mut crc32fast::Hasher,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; BUF_LEN];
    let mut copied = 0u64;
    loop {
        // Ask for at most budget + 1 bytes: one byte past the budget proves the overflow.
        let want = usize::try_from(budget.saturating_add(1)).map_or(BUF_LEN, |b| b.min(BUF_LEN));
        let Some(chunk) = buf.get_mut(..want) else {
            return Err(CopyError::TooLarge);
        };
        let n = match r.read(chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        if n == 0 {
            return Ok(copied);
        }
        let Some(data) = chunk.get(..n) else {
            return Err(CopyError::Read(io::Error::other("reader reported more bytes than its buffer")));
        };
        let n64 = u64::try_from(n).unwrap_or(u64::MAX);
        if n64 > *budget {
            let fits = usize::try_from(*budget).unwrap_or(n).min(n);
            let head = data.get(..fits).unwrap_or_default();
            crc.update(head);
            w.write_all(head).map_err(CopyError::Write)?;
            *budget = 0;
            return Err(CopyError::TooLarge);
        }
        crc.update(data);
        w.write_all(data).map_err(CopyError::Write)?;
        *budget -= n64;
        copied += n64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields `left` bytes of `b'x'` in reads of at most 1000 bytes, and counts
    /// the bytes it gave.
    struct Endless {
        left: u64,
        given: u64,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1000).min(usize::try_from(self.left).unwrap_or(usize::MAX));
            self.given += n as u64;
            buf[..n].fill(b'x');
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn within_budget_copies_all() {
        let mut r = Endless { left: 5000, given: 0 };
        let (mut out, mut budget, mut crc) = (Vec::new(), 5000u64, crc32fast::Hasher::new());
        assert_eq!(copy_bounded(&mut r, &mut out, &mut budget, &mut crc).unwrap(), 5000);
        assert_eq!((out.len(), budget), (5000, 0));
        assert_eq!(crc.finalize(), crc32fast::hash(&[b'x'; 5000]));
    }

    #[test]
    fn past_budget_stops_at_it() {
        let mut r = Endless { left: u64::MAX, given: 0 };
        let (mut out, mut budget, mut crc) = (Vec::new(), 4321u64, crc32fast::Hasher::new());
        assert!(matches!(copy_bounded(&mut r, &mut out, &mut budget, &mut crc), Err(CopyError::TooLarge)));
        assert_eq!(out.len(), 4321, "writes exactly up to the limit");
        assert_eq!(r.given, 4321 + 1, "decodes one byte past the limit, no more");
    }

    #[test]
    fn zero_budget_and_empty_input() {
        let mut r = Endless { left: 0, given: 0 };
        let (mut out, mut budget, mut crc) = (Vec::new(), 0u64, crc32fast::Hasher::new());
        assert_eq!(copy_bounded(&mut r, &mut out, &mut budget, &mut crc).unwrap(), 0);
        let mut r = Endless { left: 1, given: 0 };
        assert!(matches!(copy_bounded(&mut r, &mut out, &mut budget, &mut crc), Err(CopyError::TooLarge)));
        assert!(out.is_empty());
    }
}
