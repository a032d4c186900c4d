//! The freelist: read from the freelist page (with the 0xFFFF count escape), or, for files with
//! the no-freelist sentinel (every etcd file from Linux), derived from the reachability walk.

use super::bitmap::AtomicBitmap;
use super::order::PageId;
use super::page::{type_name, FREELIST, PAGE_HEADER_SIZE};
use super::view::DbView;
use crate::problem::{Problem, ProblemKind, Sink};

/// `count` value meaning the real count is in the first u64 after the header.
pub const COUNT_ESCAPE: u16 = 0xFFFF;

/// What the stored freelist page says.
#[derive(Debug)]
pub struct StoredFreelist {
    /// The freelist page id.
    pub page: PageId,
    /// Pages the freelist page run occupies (1 + overflow).
    pub run: u64,
    /// Ids listed, duplicates included (what bbolt's `FreePageN` counts after a reopen).
    pub listed: u64,
    /// Distinct listed ids in `[2, hwm)`, as a bitmap over the tracked pages.
    pub freed: AtomicBitmap,
    /// Bytes the freelist occupies in its page (bbolt's `FreelistInuse`).
    pub inuse: u64,
}

/// Reads the stored freelist of `view`'s meta, marking its own page run in `visited`.
/// Returns `None` for the no-freelist sentinel or an unreadable freelist page (then reported).
pub fn load(view: &DbView<'_>, visited: &AtomicBitmap, sink: &Sink) -> Option<StoredFreelist> {
    let meta = view.meta();
    if !meta.has_freelist_page() {
        return None;
    }
    let id = meta.freelist;
    let page = match view.page(id) {
        Ok(p) => p,
        Err(p) => {
            sink.push(Problem { message: format!("freelist: {}", p.message), ..p });
            return None;
        }
    };
    let run = page.run_pages();
    for i in id.0..id.0.saturating_add(run) {
        if visited.test_and_set(i) {
            sink.push(
                Problem::new(ProblemKind::MultipleReferences, format!("page {i}: multiple references (freelist)"))
                    .page(i)
                    .offset(i.saturating_mul(view.page_size)),
            );
        }
    }
    let bad = |msg: String| Problem::new(ProblemKind::FreelistInvalid, msg).page(id).offset(page.offset);
    if page.flags != FREELIST {
        sink.push(bad(format!("freelist page {id} has type {}", type_name(page.flags))));
        return None;
    }
    let (n, start) = if page.count == COUNT_ESCAPE {
        (page.order.u64(page.bytes, PAGE_HEADER_SIZE).unwrap_or(0), PAGE_HEADER_SIZE + 8)
    } else {
        (u64::from(page.count), PAGE_HEADER_SIZE)
    };
    let room = (page.bytes.len().saturating_sub(start) / 8) as u64;
    if n > room {
        sink.push(bad(format!("freelist page {id} claims {n} ids but its {run} pages hold at most {room}")));
    }
    let n = n.min(room);
    let freed = AtomicBitmap::new(view.tracked_pages());
    for k in 0..n as usize {
        let off = start + 8 * k;
        let pid = page.order.u64(page.bytes, off).unwrap_or(0);
        if pid < 2 || pid >= view.hwm {
            sink.push(
                Problem::new(
                    ProblemKind::FreelistOutOfRange,
                    format!("freelist lists page {pid}, outside [2, {})", view.hwm),
                )
                .page(id)
                .offset(page.offset + off as u64),
            );
        } else if freed.test_and_set(pid) && pid < freed.len() {
            // Reported where the freelist lists it the second time.
            let p = Problem::new(ProblemKind::PageFreedTwice, format!("page {pid}: already freed"));
            sink.push(p.page(pid).offset(page.offset + off as u64));
        }
    }
    Some(StoredFreelist { page: id, run, listed: n, freed, inuse: start as u64 + 8 * n })
}
