//! Every `unsafe` line of the crate: the read-only memory map (and where a mapped input's holes
//! lie), a prefetch hint, a hint to start writing an output file back to disk, the lock on a
//! temporary output file, the free space of a file system, and the binary's signal actions
//! (SIGPIPE's default; a SIGBUS, an input cut short while mapped, as an exit with a word).
//!
//! A file is opened read-only (never for writing, never taking bbolt's flock, so it works beside
//! a running etcd) and mapped shared, so changes a live etcd makes through `pwrite` are seen and
//! a torn read can be noticed and retried ([`crate::input::read_consistent`]).

#![allow(unsafe_code)]

use memmap2::{Mmap, MmapOptions};
use std::fs::File;
use std::sync::Mutex;

/// A file mapped read-only.
#[derive(Debug)]
pub struct MappedFile {
    map: Option<Mmap>,
}

impl MappedFile {
    /// Maps an open regular file read-only (an empty file maps to no bytes).
    pub fn map(file: &File) -> std::io::Result<MappedFile> {
        let len = file.metadata()?.len();
        if len == 0 {
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only and shared. The bytes may change underneath (a live etcd
        // writes with pwrite), which Rust cannot see as a data race on `&[u8]` in practice; every
        // read is bounds-checked and its result validated, and callers detect concurrent commits
        // by comparing the meta pages before and after (see `input::read_consistent`). A file
        // truncated by another process while mapped raises SIGBUS, which the binary turns into
        // exit 2 with a word ([`exit_on_sigbus`]); etcd and bbolt only ever grow the file (defrag
        // replaces it by rename, leaving this inode intact). Expanded archives
        // are unlinked temporary files no other process can reach.
        let map = unsafe { MmapOptions::new().map(file) }?;
        Ok(MappedFile { map: Some(map) })
    }

    /// [`MappedFile::map`] of an input file, kept open while it is mapped so that
    /// [`data_spans`] can ask the file system where its holes lie (this file's offset is moved
    /// by that: nothing else may read it).
    pub fn map_input(file: File) -> std::io::Result<MappedFile> {
        let source = file.try_clone()?;
        MappedFile::map_input_of(file, source)
    }

    /// [`MappedFile::map_input`] of bytes that came out of `source` (an archive expanded into
    /// `file`; for a plain input, the same file opened again): [`source_metadata`] of the bytes
    /// describes `source`.
    pub fn map_input_of(file: File, source: File) -> std::io::Result<MappedFile> {
        let m = MappedFile::map(&file)?;
        let b = m.bytes();
        if !b.is_empty() {
            if let Ok(mut maps) = INPUTS.lock() {
                maps.push(Input { start: b.as_ptr() as usize, len: b.len(), file, source });
            }
        }
        Ok(m)
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl Drop for MappedFile {
    fn drop(&mut self) {
        let start = self.bytes().as_ptr() as usize;
        if let Ok(mut maps) = INPUTS.lock() {
            maps.retain(|m| m.start != start);
        }
    }
}

/// An input mapped by [`MappedFile::map_input_of`].
struct Input {
    /// Where its map starts.
    start: usize,
    /// The map's length.
    len: usize,
    /// The file mapped.
    file: File,
    /// The file the user named, as opened (an archive, for an expanded one).
    source: File,
}

/// The inputs mapped, until their maps are dropped.
static INPUTS: Mutex<Vec<Input>> = Mutex::new(Vec::new());

/// The metadata now (`fstat`) of the file `bytes`, an input's whole map, came from: the file
/// opened, or the archive expanded, not whatever is at its path by now (a file replaced while it
/// was read). `None` for bytes that are no input's map.
pub fn source_metadata(bytes: &[u8]) -> Option<std::fs::Metadata> {
    let maps = INPUTS.lock().ok()?;
    let m = maps.iter().find(|m| m.start == bytes.as_ptr() as usize && m.len == bytes.len())?;
    m.source.metadata().ok()
}

/// Most extents [`data_spans`] lists before it gives up (the caller then reads it all).
const MAX_SPANS: usize = 1 << 16;

/// The parts of `bytes`, a slice of an input's map, that may hold data, as ranges of `bytes`:
/// what the file system reports as a hole (a sparse file's unwritten room, such as the
/// grow-ahead slack of an etcd member file) reads as zeros and is left out, so it need not be
/// read (reading a hole through the map would fill the page cache with zero pages). `None` when
/// that cannot be known (not an input's map, a file system without `SEEK_DATA`, too many
/// extents): the caller reads it all.
pub fn data_spans(bytes: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    let at = bytes.as_ptr() as usize;
    let maps = INPUTS.lock().ok()?;
    let m = maps.iter().find(|m| m.start <= at && at.saturating_add(bytes.len()) <= m.start + m.len)?;
    let (start, file) = (m.start, &m.file);
    let from = i64::try_from(at - start).ok()?;
    let to = from.checked_add(i64::try_from(bytes.len()).ok()?)?;
    spans_of(file, from, to).map(|v| v.into_iter().map(|(a, b)| (a - from) as usize..(b - from) as usize).collect())
}

/// The data extents of `file` within `from..to` (`lseek` with `SEEK_DATA` and `SEEK_HOLE`).
#[cfg(target_os = "linux")]
fn spans_of(file: &File, from: i64, to: i64) -> Option<Vec<(i64, i64)>> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let mut spans = Vec::new();
    let mut at = from;
    while at < to && spans.len() < MAX_SPANS {
        // SAFETY: `lseek` on a descriptor this process owns (kept open in `INPUTS`) only moves
        // that descriptor's offset, which nothing else uses; it touches no memory.
        let data = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if data < 0 {
            // ENXIO: no data past `at` (the rest is a hole); anything else: unknown.
            return (std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO)).then_some(spans);
        }
        if data >= to {
            return Some(spans);
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
        if hole <= data {
            return None;
        }
        spans.push((data, hole.min(to)));
        at = hole;
    }
    (at >= to).then_some(spans)
}

/// Without `SEEK_DATA`: unknown.
#[cfg(not(target_os = "linux"))]
fn spans_of(_: &File, _: i64, _: i64) -> Option<Vec<(i64, i64)>> {
    None
}

/// Hints the CPU to start loading the first cache line of `bytes` (a page about to be walked), so
/// the walk does not stall on it. Never faults and never reads architecturally; a no-op off
/// x86-64.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` is a hint: it dereferences nothing and cannot fault, and SSE is part
    // of the x86-64 baseline. The pointer comes from a live slice of the map.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(bytes.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// [`prefetch`] of every cache line of `bytes` (a page about to be read whole): the CPU's own
/// prefetcher stops at page boundaries, and a reader that finds each element through a table
/// otherwise waits on one dependent miss after another.
pub fn prefetch_lines(bytes: &[u8]) {
    for at in (0..bytes.len()).step_by(64) {
        prefetch(&bytes[at..]);
    }
}

/// [`prefetch_lines`] of `len` bytes of `data` from `at`, cut at the end of `data` (nothing when
/// `at` lies past it).
pub fn prefetch_span(data: &[u8], at: usize, len: usize) {
    if let Some(b) = data.get(at..at.saturating_add(len).min(data.len())) {
        prefetch_lines(b);
    }
}

/// Asks the kernel to start writing `len` bytes at `offset` of `file` to disk now, without
/// waiting for them (Linux `sync_file_range` with `SYNC_FILE_RANGE_WRITE`), so the disk works
/// while the rest is still being produced and a later fsync has little left to do. A hint only:
/// it makes nothing durable, and an error is left for that fsync to report. A no-op elsewhere.
pub fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(len)) else { return };
        // SAFETY: sync_file_range takes a descriptor and three integers and touches no memory of
        // this process; the descriptor is borrowed from `file`, so it is open for the call.
        let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), off, n, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// The bytes an unprivileged writer may still use on the file system holding `file`, and that
/// file system's size (`fstatvfs`); `None` where it cannot be told (a file system that reports no
/// size, or off Unix).
pub fn free_space(file: &File) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: statvfs is a plain C struct of integers, for which all zeroes is a valid value.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: fstatvfs writes one statvfs into `st`, which is ours and of that type; the
        // descriptor is borrowed from `file`, so it is open for the call.
        if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut st) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)]
        let (frsize, avail, blocks) = (st.f_frsize as u64, st.f_bavail as u64, st.f_blocks as u64);
        // A file system that reports no size (ramfs, a tmpfs of size 0) tells nothing.
        (blocks > 0).then(|| (avail.saturating_mul(frsize), blocks.saturating_mul(frsize)))
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

/// Takes an exclusive advisory lock (`flock`) on `file` without waiting: true when taken, false
/// when another open file of it holds one (or it cannot be told: off Unix, or an error). The
/// lock lasts as long as the open file (every descriptor of it), and ends with the process,
/// however it ends: what tells a temporary copy being written from one left by a killed job,
/// across PID namespaces and whatever the binary is called. Never used on an input: the lock a
/// running etcd holds on its backend is bbolt's `flock` too.
pub fn try_lock_exclusive(file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock takes a descriptor and two flags and touches no memory of this process;
        // the descriptor is borrowed from `file`, so it is open for the call.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        false
    }
}

/// The exit status [`exit_on_sigbus`] ends the process with.
static SIGBUS_EXIT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(2);

/// Makes a SIGBUS end the process with one line on stderr and exit status `code`, instead of a
/// crash with no word. A SIGBUS here means a mapped page of the input could not be read: the file
/// was cut short by another process while it was read (a read past its new end: `cp` or a
/// truncating write over a backup being checked), or the storage under it failed (a disk or
/// network file system error): nothing about the file was decided. The fault cannot be returned from, so the process ends at
/// once; a temporary copy `compact` was writing stays behind, and the next job writing into that
/// folder removes it (its name carries this process's id). For the binary's `main`; Linux only.
pub fn exit_on_sigbus(code: i32) {
    SIGBUS_EXIT.store(code, std::sync::atomic::Ordering::Relaxed);
    #[cfg(target_os = "linux")]
    // SAFETY: the handler installed only calls async-signal-safe functions (write, _exit) on a
    // static message and an atomic read; `sigaction` copies the struct, which is ours, zeroed (a
    // valid value for it) and then filled; no other thread installs a SIGBUS handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

#[cfg(target_os = "linux")]
extern "C" fn on_sigbus(_: libc::c_int) {
    const MSG: &[u8] = b"boltscope: a page of the input could not be read through its map (SIGBUS: the file was \
cut short by another process while it was read, or the storage under it failed); nothing about it was decided: \
read a copy that no process writes, from sound storage\n";
    // SAFETY: write and _exit are async-signal-safe; MSG is a static buffer of MSG.len() bytes.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(SIGBUS_EXIT.load(std::sync::atomic::Ordering::Relaxed));
    }
}

/// Restores the default action of SIGPIPE (Rust's runtime ignores it, so a write to a closed
/// pipe fails, and `println!` panics on it): `boltscope scan /backups | head` then ends quietly,
/// as a Unix tool does, instead of printing a panic. For the binary's `main`; a no-op off Linux.
pub fn default_sigpipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler of ours and touches
    // no memory; it is called once, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Ignores SIGPIPE again, so that a write to a closed pipe fails with `EPIPE` instead of ending
/// the process: for `compact -o -` and `salvage -o -`, whose temporary copy (a whole database,
/// Secrets and all) must be removed when the reader goes away. A no-op off Linux.
pub fn ignore_sigpipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler of ours and touches
    // no memory.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// A value alone on its cache lines (128 bytes: the line pair x86 prefetches together), so that
/// values that different threads write (a lock and what it guards, one per thread or shard) do
/// not share a line: each write would otherwise take the line away from the other core.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct CacheLine<T>(pub T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
