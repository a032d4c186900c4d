//! The writing pipeline of `compact`, three threads deep: the walker (the caller's thread) reads
//! the source, cuts nodes and gives them page ids; an encoder thread copies their keys and
//! values into staging buffers (and hashes the source bytes it is asked to); a writer
//! thread hands full buffers to the output. The walker touches only page and element headers, so
//! the byte copying, the hashing and the kernel's copy into the page cache run beside it.
//!
//! Memory is bounded: at most [`DEPTH`] batches of [`BATCH`] jobs (each a list of borrowed
//! slices) and [`BUFFERS`] buffers of [`STAGING`] bytes are in flight.

use super::node::{encode, Elem};
use crate::bbolt::order::{ByteOrder, PageId};
use crc32c::crc32c_append;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes staged before a write to the output. Small enough that a buffer is still in cache when
/// the writer hands it to the kernel (8 MiB buffers measured 1.6x slower on the benchmark: with
/// all of them in flight they fill the last-level cache, and every byte went to memory twice).
pub(crate) const STAGING: usize = 1 << 20;

/// Jobs sent to the encoder at once.
const BATCH: usize = 512;

/// Batches in flight between the walker and the encoder.
const DEPTH: usize = 4;

/// Staging buffers in all (being filled, queued, being written).
const BUFFERS: usize = 8;

/// What the encoder does, in the order the walker asked for it.
pub(crate) enum Job<'a> {
    /// Encode a node as page `id` (and its overflow pages).
    Node { id: PageId, elems: Vec<Elem<'a>>, size: u64 },
    /// Append whole pages already encoded.
    Raw(Vec<u8>),
    /// Fold these bytes into the running CRC-32C.
    Hash(&'a [u8]),
}

/// The walker's end of the pipeline: allocates page ids in write order and queues jobs. Dropping
/// it sends what is queued and closes the pipeline.
pub(crate) struct Pages<'a> {
    /// Byte order of the output.
    pub(crate) order: ByteOrder,
    /// Page size of the output.
    pub(crate) ps: u64,
    /// The next free page id (the high-water mark so far).
    pub(crate) next: u64,
    batch: Vec<Job<'a>>,
    tx: SyncSender<Vec<Job<'a>>>,
    /// Batches the encoder is done with, for reuse.
    back: Receiver<Vec<Job<'a>>>,
}

impl<'a> Pages<'a> {
    /// Queues a node of `size` bytes as the next page(s); returns its page id.
    pub(crate) fn node(&mut self, elems: Vec<Elem<'a>>, size: u64) -> io::Result<PageId> {
        let id = PageId(self.next);
        self.next += size.div_ceil(self.ps).max(1);
        self.push(Job::Node { id, elems, size })?;
        Ok(id)
    }

    /// Queues whole pages already encoded (`page.len()` a multiple of the page size).
    pub(crate) fn raw(&mut self, pages: Vec<u8>) -> io::Result<()> {
        self.next += pages.len() as u64 / self.ps;
        self.push(Job::Raw(pages))
    }

    /// Queues `bytes` for the running CRC-32C.
    pub(crate) fn hash(&mut self, bytes: &'a [u8]) -> io::Result<()> {
        self.push(Job::Hash(bytes))
    }

    fn push(&mut self, job: Job<'a>) -> io::Result<()> {
        self.batch.push(job);
        if self.batch.len() >= BATCH {
            return self.send();
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = self.back.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let b = std::mem::replace(&mut self.batch, next);
        self.tx.send(b).map_err(|_| io::Error::other("the encoder thread stopped"))
    }
}

impl Drop for Pages<'_> {
    fn drop(&mut self) {
        // A failed send means the encoder stopped; its own error is what the caller sees.
        let _ = self.send();
    }
}

/// Runs `walk` on this thread with a [`Pages`] whose first id is `first`, the encoder and the
/// writer on two scoped threads. `head` (the bytes before page `first`) is written first.
/// Returns `walk`'s result and the CRC-32C of the hashed bytes; an output error (a full disk)
/// wins over the walker's result.
pub(crate) fn run<'a, W: Write + Send, T>(
    order: ByteOrder,
    ps: u64,
    first: u64,
    head: Vec<u8>,
    out: W,
    walk: impl FnOnce(Pages<'a>) -> T,
) -> io::Result<(T, u32)> {
    let (jobs_tx, jobs_rx) = sync_channel::<Vec<Job<'a>>>(DEPTH);
    let (back_tx, back_rx) = sync_channel::<Vec<Job<'a>>>(DEPTH + 2);
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    std::thread::scope(|s| {
        let writer = s.spawn(move || write_all(out, full_rx, empty_tx));
        let encoder = s.spawn(move || encode_all((jobs_rx, back_tx), order, ps, head, full_tx, empty_rx));
        let pages = Pages { order, ps, next: first, batch: Vec::with_capacity(BATCH), tx: jobs_tx, back: back_rx };
        let t = walk(pages);
        let panicked = |what: &str| io::Error::other(format!("the {what} thread panicked"));
        let crc = encoder.join().unwrap_or_else(|_| Err(panicked("encoder")));
        writer.join().unwrap_or_else(|_| Err(panicked("writer")))?;
        Ok((t, crc?))
    })
}

fn write_all<W: Write>(mut out: W, full: Receiver<Vec<u8>>, empty: SyncSender<Vec<u8>>) -> io::Result<()> {
    for mut buf in full {
        out.write_all(&buf)?;
        buf.clear();
        // The encoder may have stopped waiting (it failed); the buffer is then dropped.
        let _ = empty.send(buf);
    }
    out.flush()
}

fn encode_all<'a>(
    (jobs, back): (Receiver<Vec<Job<'a>>>, SyncSender<Vec<Job<'a>>>),
    order: ByteOrder,
    ps: u64,
    mut buf: Vec<u8>,
    full: SyncSender<Vec<u8>>,
    empty: Receiver<Vec<u8>>,
) -> io::Result<u32> {
    let stopped = || io::Error::other("the writer thread stopped");
    let mut crc = 0u32;
    let mut spare = BUFFERS - 1;
    buf.reserve(STAGING);
    // Hands a full buffer to the writer. A fixed set of buffers goes round: no allocation (or
    // page fault) after the first lap, and never more than one node past STAGING in a buffer.
    let mut hand_off = |buf: &mut Vec<u8>| -> io::Result<()> {
        let next = if spare > 0 {
            spare -= 1;
            Vec::with_capacity(STAGING + (1 << 20))
        } else {
            empty.recv().map_err(|_| stopped())?
        };
        full.send(std::mem::replace(buf, next)).map_err(|_| stopped())
    };
    for mut batch in jobs {
        // Nodes first, then the batch's hashing: the bytes to hash were just copied and are
        // still in cache. Hashes stay in order among themselves, which is all the CRC needs.
        for job in &batch {
            match job {
                Job::Node { id, elems, size } => encode(&mut buf, order, *id, elems, *size, ps),
                Job::Raw(pages) => buf.extend_from_slice(pages),
                Job::Hash(_) => continue,
            }
            if buf.len() >= STAGING {
                hand_off(&mut buf)?;
            }
        }
        for job in &batch {
            if let Job::Hash(bytes) = job {
                crc = crc32c_append(crc, bytes);
            }
        }
        batch.clear();
        let _ = back.try_send(batch);
    }
    if !buf.is_empty() {
        full.send(buf).map_err(|_| stopped())?;
    }
    Ok(crc)
}

/// Runs `f` with a writer to `file` that has the kernel start writing each few megabytes to disk
/// as soon as they are written ([`crate::sys::start_writeback`]), from a thread of its own (the
/// request can wait for the disk), so the disk works during the copy, not all at the final fsync.
pub(crate) fn writing_back<T>(file: &mut std::fs::File, f: impl FnOnce(WritingBack<'_>) -> T) -> T {
    let flusher = file.try_clone().ok();
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(u64, u64)>();
        if let Some(c) = flusher {
            s.spawn(move || rx.into_iter().for_each(|(at, len)| crate::sys::start_writeback(&c, at, len)));
        }
        f(WritingBack { file, written: 0, started: 0, tx })
    })
}

/// See [`writing_back`].
pub(crate) struct WritingBack<'f> {
    file: &'f mut std::fs::File,
    written: u64,
    started: u64,
    tx: std::sync::mpsc::Sender<(u64, u64)>,
}

/// Bytes written between two writeback requests.
const WRITEBACK_STEP: u64 = 16 << 20;

impl Write for WritingBack<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_STEP {
            // A stopped flusher only means no early writeback; the final fsync still runs.
            let _ = self.tx.send((self.started, self.written - self.started));
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts `left` bytes, then fails as a full disk does.
    struct Small {
        left: usize,
        got: Vec<u8>,
    }

    impl Write for Small {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = b.len().min(self.left);
            self.left -= n;
            self.got.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    const PS: u64 = 4096;

    /// Queues `pages` raw pages numbered from 2, each filled with its id's low byte, and hashes
    /// each; returns how many were queued before the pipeline refused more.
    fn walk(mut p: Pages<'_>, pages: u64) -> u64 {
        for id in 2..2 + pages {
            if p.raw(vec![id as u8; PS as usize]).is_err() {
                return id - 2;
            }
            if p.hash(b"0123456789").is_err() {
                return id - 1;
            }
        }
        pages
    }

    #[test]
    fn pages_arrive_in_order_after_the_head_and_the_hash_covers_every_piece() {
        let mut out = Vec::new();
        let n = 3 * (STAGING as u64 / PS) + 7; // several staging buffers and a partial one
        let head = vec![0xAB; 2 * PS as usize];
        let (queued, crc) = run(ByteOrder::Little, PS, 2, head, &mut out, |p| walk(p, n)).unwrap();
        assert_eq!(queued, n);
        assert_eq!(out.len() as u64, (n + 2) * PS);
        assert!(out[..2 * PS as usize].iter().all(|&b| b == 0xAB));
        for id in 2..2 + n {
            let at = (id * PS) as usize;
            assert!(out[at..at + PS as usize].iter().all(|&b| b == id as u8), "page {id}");
        }
        let whole: Vec<u8> = (0..n).flat_map(|_| b"0123456789".iter().copied()).collect();
        assert_eq!(crc, crc32c::crc32c(&whole));
    }

    #[test]
    fn an_output_error_stops_the_walk_and_is_the_error_returned() {
        let small = Small { left: 10 << 20, got: Vec::new() };
        let n = 20 * (STAGING as u64 / PS); // 160 MiB asked for, 10 MiB accepted
        let r = run(ByteOrder::Little, PS, 2, vec![0; 2 * PS as usize], small, |p| walk(p, n));
        let e = r.expect_err("the write fails");
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
        // The walk cannot see the outcome through `run`'s error; check it stopped early instead.
        let small = Small { left: 10 << 20, got: Vec::new() };
        let mut queued = 0;
        let _ = run(ByteOrder::Little, PS, 2, vec![0; 2 * PS as usize], small, |p| {
            queued = walk(p, n);
        });
        let bound = (10 << 20) / PS + (BUFFERS + DEPTH) as u64 * (STAGING as u64 / PS + BATCH as u64);
        assert!(queued < bound, "the walk went on to page {queued} of {n} after the output failed");
    }

    /// Records the largest single write.
    struct Largest(usize);

    impl Write for Largest {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 = self.0.max(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_buffer_never_holds_more_than_one_node_past_its_size() {
        // Whole batches of 64 KiB pages: 32 MiB per batch, yet every write stays near STAGING.
        let big = 16 * PS as usize;
        let mut largest = Largest(0);
        let r = run(ByteOrder::Little, PS, 2, Vec::new(), &mut largest, |mut p| {
            for _ in 0..4 * BATCH {
                p.raw(vec![7; big]).unwrap();
            }
        });
        r.unwrap();
        assert!(largest.0 < STAGING + big, "a write of {} bytes", largest.0);
    }
}
