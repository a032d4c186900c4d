//! Room left on the temporary file system while an archive is expanded: the expansion limit
//! bounds what one file may take, but a limit of many gigabytes (the default) can still fill a
//! small `$TMPDIR` (or a `tmpfs`, which is memory), and `scan` expands several files at once.
//! [`Roomy`] writes the expanded copy and stops it before the file system's free space falls
//! below a reserve. It looks at the free space again once this process has written half of the
//! room it saw (at most [`STEP`]), so it looks more often as room runs out, and files expanded
//! side by side share that budget. (Two boltscope processes expanding into one file system at once
//! each keep to their own budget.)

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// The most bytes written between two looks at the free space.
pub const STEP: u64 = 64 << 20;

/// Room under which expansion stops: it is then a few buffers from the reserve.
pub const LEAST: u64 = 1 << 20;

/// The free space an expansion leaves to the rest of the system: a twentieth of the file
/// system, at most 1 GiB.
pub fn reserve(total: u64) -> u64 {
    (total / 20).min(1 << 30)
}

/// With `free` bytes free on a file system of `total` bytes: how much may be written before the
/// next look, or `None` when expansion must stop (less than [`LEAST`] above the [`reserve`]).
pub fn next_look(free: u64, total: u64) -> Option<u64> {
    let room = free.saturating_sub(reserve(total));
    (room >= LEAST).then_some((room / 2).min(STEP))
}

/// A writer to the expanded copy that refuses to go on when the file system holding it is
/// nearly full (its error names the free space and the reserve).
pub struct Roomy<'a> {
    file: &'a mut File,
}

/// Bytes every expansion of this process wrote since the free space was last looked at, and how
/// many may be written before the next look: one budget for all, so expansions side by side
/// (`scan`) together write at most half the room seen (plus a buffer each) between two looks.
static SINCE: AtomicU64 = AtomicU64::new(0);
static NEXT: AtomicU64 = AtomicU64::new(0);

impl<'a> Roomy<'a> {
    /// A writer to `file`; the free space is looked at before the first byte.
    pub fn new(file: &'a mut File) -> Roomy<'a> {
        NEXT.store(0, Ordering::Relaxed);
        Roomy { file }
    }

    fn look(&mut self) -> io::Result<()> {
        SINCE.store(0, Ordering::Relaxed);
        let Some((free, total)) = crate::sys::free_space(self.file) else {
            NEXT.store(STEP, Ordering::Relaxed);
            return Ok(());
        };
        match next_look(free, total) {
            Some(n) => {
                NEXT.store(n, Ordering::Relaxed);
                Ok(())
            }
            None => {
                NEXT.store(0, Ordering::Relaxed);
                let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
                Err(io::Error::other(format!(
                    "stopped with {:.1} MiB free there: expanding further would leave less than the {:.1} MiB kept \
                     free for the rest of the system",
                    mib(free),
                    mib(reserve(total))
                )))
            }
        }
    }
}

/// The shortest run of zeros written as a hole (a file system block or more).
const HOLE_MIN: usize = 64 << 10;

impl Write for Roomy<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // A run of zeros (a member file's slack, or a bomb's) is skipped over, left a hole: it takes
        // no room, and the check of a file's slack passes over holes unread. The caller sets the
        // copy's length at the end (a hole there has none yet).
        if buf.len() >= HOLE_MIN && buf.iter().all(|&b| b == 0) {
            let n = i64::try_from(buf.len()).map_err(io::Error::other)?;
            self.file.seek(SeekFrom::Current(n))?;
            return Ok(buf.len());
        }
        if SINCE.load(Ordering::Relaxed) >= NEXT.load(Ordering::Relaxed) {
            self.look()?;
        }
        let n = self.file.write(buf)?;
        SINCE.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_is_a_twentieth_up_to_a_gibibyte_and_looks_come_faster_near_it() {
        assert_eq!(reserve(64 << 20), (64 << 20) / 20);
        assert_eq!(reserve(100 << 30), 1 << 30);
        // A 64 MiB tmpfs, empty: half of what is above its 3.2 MiB reserve, then less and less.
        let (total, reserve_) = (64 << 20, (64u64 << 20) / 20);
        assert_eq!(next_look(total, total), Some((total - reserve_) / 2));
        assert_eq!(next_look(reserve_ + (4 << 20), total), Some(2 << 20));
        assert_eq!(next_look(reserve_ + LEAST - 1, total), None);
        assert_eq!(next_look(0, total), None);
        // A large disk: at most STEP between looks.
        assert_eq!(next_look(50 << 30, 100 << 30), Some(STEP));
    }

    #[test]
    fn writes_through_where_there_is_room() {
        let mut f = tempfile::tempfile().unwrap();
        let free = crate::sys::free_space(&f);
        let mut w = Roomy::new(&mut f);
        let r = w.write_all(&[7u8; 4096]);
        match free {
            Some((free, total)) if next_look(free, total).is_none() => assert!(r.is_err()),
            _ => assert!(r.is_ok()),
        }
    }
}
