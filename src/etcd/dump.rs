//! Every key of a file, or every revision, streamed: the entries are formatted in parallel, a
//! window of chunks at a time, and handed over in bucket (revision) order, so memory stays
//! bounded whatever the file size.
//!
//! At a revision R, a key's record is its newest entry at or below R, when that is not a
//! tombstone: exactly the survivors of a compaction at R that lie at or below R (etcd's keep
//! rule, [`super::compaction::keep`], which holds one bit per entry and at most
//! [`super::compaction::MAP_BUDGET`] bytes per pass over the keys). Records then come in the order
//! of their revisions, not of their keys. With every revision, each entry is a record, tombstones
//! included.

use super::compaction::{self, HistoryChunk};
use super::history::Judged;
use super::range::KeyRange;
use super::scan::{self, Entry};
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use std::sync::Mutex;

/// Appends one record for an entry to its chunk's buffer (runs on several threads).
pub type Format<'a, 'f> = dyn Fn(&mut Vec<u8>, &Entry<'a>) + Sync + 'f;
/// Gets the chunks' buffers in bucket order.
pub type Sink<'s> = dyn FnMut(&[u8]) -> Result<(), Problem> + 's;

/// Which records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    /// The live keys at this revision (already checked against the compaction floor and head).
    At(u64),
    /// Every entry the file holds.
    AllRevisions,
}

/// Streams the records of the keys `range` selects: `format` appends one record for an entry to
/// its chunk's buffer (it runs on several threads), and `sink` gets the buffers in bucket order.
/// Stops at the first problem, or the first error `sink` returns. Once every record is out, tells
/// what holding the selected keys' histories (every record, whatever the revision) to etcd's rules
/// found: a stale leaf in the tree reads well, so the records streamed may not be etcd's.
pub fn dump<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    range: &KeyRange,
    select: Select,
    format: &(dyn Fn(&mut Vec<u8>, &Entry<'a>) + Sync),
    sink: &mut dyn FnMut(&[u8]) -> Result<(), Problem>,
) -> Result<Judged, Problem> {
    dump_within(view, kb, range, select, (format, sink), compaction::MAP_BUDGET)
}

/// [`dump`] with the keys' records held to `budget` bytes a pass: every revision's histories are
/// gathered while formatting only when they fit one pass, else judged by passes of their own.
pub fn dump_within<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    range: &KeyRange,
    select: Select,
    (format, sink): (&Format<'a, '_>, &mut Sink<'_>),
    budget: u64,
) -> Result<Judged, Problem> {
    // The leaves are listed once, for the compaction pass and the formatting pass.
    let leaves = scan::leaves(view, kb)?;
    let narrowed = *range != KeyRange::all();
    let selected = narrowed.then_some(range);
    // Every revision: the keys' histories are gathered while their records are formatted and
    // judged after the stream, unless they would not fit one pass's budget.
    let gather = select == Select::AllRevisions && compaction::fits_one_pass(leaves.elements(), budget);
    let (keep, judged) = match select {
        // Only the selected keys' entries survive, so no other is read again.
        Select::At(rev) => {
            let k = compaction::keep_in(view, &leaves, rev, selected)?;
            let judged = k.judged();
            (Some((rev, k)), Some(judged))
        }
        Select::AllRevisions if gather => (None, None),
        Select::AllRevisions => (None, Some(compaction::judge(view, &leaves, selected)?)),
    };
    let mut gathered: Vec<HistoryChunk> = Vec::new();
    let chunk_bytes = usize::try_from(view.page_size).unwrap_or(4096).saturating_mul(scan::CHUNK_LEAVES * 3 / 2);
    let wanted = |e: &Entry<'_>| {
        range.contains(e.kv.key)
            && match &keep {
                Some((rev, _)) => e.rev.main <= *rev && !e.rev.tombstone,
                None => true,
            }
    };
    // An entry the survivors' pass could not read stops the stream when it is met: found first,
    // by a pass that formats nothing, so that no record is written before the problem (review
    // 49b: 763 of 902 records out, then exit 1). Only a damaged bucket pays for it.
    if let Some((_, k)) = keep.as_ref().filter(|(_, k)| k.unread) {
        scan::scan_leaves(view, &leaves, scan::Touch::Records, &|ord| k.get(ord), &|| (), &|_, _| {}, &mut |_| Ok(()))?;
    }
    let pool = Buffers::default();
    let seq = scan::scan_leaves(
        view,
        &leaves,
        // Every value is formatted whole (with --decode, decoded whole).
        scan::Touch::Whole,
        // An entry compaction drops is not decoded again: the survivors' pass checked it.
        &|ord| keep.as_ref().map_or(true, |(_, k)| k.get(ord)),
        &|| (pool.take(), gather.then(HistoryChunk::new)),
        &|(buf, chunk): &mut (Vec<u8>, Option<HistoryChunk>), e| {
            if wanted(e) {
                // Room for a chunk of full leaves formatted (base64 takes a third more than the
                // bytes), taken at the first record, so the buffer is not copied as it grows.
                if buf.capacity() == 0 {
                    buf.reserve(chunk_bytes);
                }
                format(buf, e);
                if let Some(c) = chunk {
                    c.add(e);
                }
            }
        },
        &mut |(buf, chunk): (Vec<u8>, Option<HistoryChunk>)| {
            sink(&buf)?;
            pool.give(buf);
            gathered.extend(chunk);
            Ok(())
        },
    )?;
    Ok(match judged {
        Some(j) => j,
        None => compaction::judge_gathered(view, gathered, seq),
    })
}

/// The chunks' buffers, used again once written: a fresh one would cost a page fault every 4 KiB
/// of output (hundreds of MiB on a large file: `dump --all-revisions` of `many:2` took a sixth
/// longer). It holds at most the buffers of the two windows in flight.
#[derive(Default)]
struct Buffers(Mutex<Vec<Vec<u8>>>);

impl Buffers {
    /// An empty buffer: a written one if there is one.
    fn take(&self) -> Vec<u8> {
        self.0.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default()
    }

    /// Takes back a written buffer (emptied; one that never grew is not kept).
    fn give(&self, mut buf: Vec<u8>) {
        if buf.capacity() > 0 {
            buf.clear();
            if let Ok(mut p) = self.0.lock() {
                p.push(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_buffer_comes_back_empty_with_its_room() {
        let pool = Buffers::default();
        let mut b = pool.take();
        assert_eq!(b.capacity(), 0);
        b.extend_from_slice(b"{\"key\":\"/a\"}\n");
        let room = b.capacity();
        pool.give(b);
        let again = pool.take();
        assert!(again.is_empty(), "a chunk's records must not be written twice");
        assert_eq!(again.capacity(), room);
        assert_eq!(pool.take().capacity(), 0, "one buffer given, one taken");
    }
}
