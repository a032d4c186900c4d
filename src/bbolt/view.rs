//! A checked view of a bbolt file held in any byte slice: the chosen meta page and page fetching
//! that validates bounds, header id and run length before handing a page out.

use super::meta::{Meta, Metas};
use super::order::{ByteOrder, PageId};
use super::page::{Header, Page, ELEMENT_SIZE, PAGE_HEADER_SIZE};
use crate::error::Error;
use crate::problem::{Problem, ProblemKind};

/// Length of the etcd snapshot trailer (a raw SHA-256) that `etcdctl snapshot save` appends after
/// the last page. The reader must know it only to keep those bytes out of the page area; what
/// the trailer means is etcd's business (`etcd::trailer`).
pub const TRAILER_LEN: usize = 32;

/// A bbolt file, read-only, with the meta page to read the tree from.
#[derive(Debug)]
pub struct DbView<'a> {
    /// The whole file (including any snapshot trailer).
    pub data: &'a [u8],
    /// Both meta pages.
    pub metas: Metas,
    /// Which meta page the tree is read from (normally `metas.active`).
    pub meta_index: usize,
    /// Byte order.
    pub order: ByteOrder,
    /// Page size in bytes.
    pub page_size: u64,
    /// High-water mark of the meta in use.
    pub hwm: u64,
}

impl<'a> DbView<'a> {
    /// Reads the meta pages and uses the active one.
    pub fn new(data: &'a [u8]) -> Result<DbView<'a>, Error> {
        let metas = Metas::read(data)?;
        let idx = metas.active;
        Ok(Self::build(data, metas, idx))
    }

    /// Reads the tree described by meta page `index` (0 or 1), even when it is not the active
    /// one; fails when that page is not valid.
    pub fn with_meta(data: &'a [u8], index: usize) -> Result<DbView<'a>, Error> {
        let metas = Metas::read(data)?;
        match metas.pages.get(index) {
            Some(Some(m)) if m.is_valid() && m.page_size == metas.page_size => Ok(Self::build(data, metas, index)),
            _ => Err(Error::MetaUnusable { index, why: m_why(&metas, index) }),
        }
    }

    /// When the newer meta page (by txid) cannot be used and the view reads the other one: the
    /// newer page's index, why it cannot be used, and the page real bbolt reads (bbolt checks
    /// magic, version and checksum, not the page size). `None` when the newer one is read.
    pub fn fallback(&self) -> Option<(usize, String, usize)> {
        let txid = |i: usize| self.metas.pages[i].as_ref().map(|m| m.txid);
        let newer = if txid(1) > txid(0) { 1 } else { 0 };
        if self.meta_index == newer {
            return None;
        }
        let m = self.metas.pages[newer].as_ref()?;
        let bbolt_reads = if m.error.is_none() { newer } else { 1 - newer };
        let why = m
            .error
            .clone()
            .unwrap_or_else(|| format!("it says page size {}, the file uses {}", m.page_size, self.metas.page_size));
        Some((newer, why, bbolt_reads))
    }

    /// A view of a file whose meta pages cannot be trusted, for recovery: the tree rooted at page
    /// `root`, in the given byte order and page size, with every whole page of the file below the
    /// high-water mark. Its meta is made up (page 0, txid 0, no freelist page; page 1 absent), so
    /// it must never be reported as the file's.
    pub fn recovered(data: &'a [u8], order: ByteOrder, page_size: u32, root: PageId) -> DbView<'a> {
        let body = if data.len() % 512 == TRAILER_LEN { data.len() - TRAILER_LEN } else { data.len() };
        let pgid = body as u64 / u64::from(page_size.max(1));
        let meta = Meta {
            magic: super::meta::MAGIC,
            version: super::meta::VERSION,
            page_size,
            flags: 0,
            root,
            root_sequence: 0,
            freelist: super::meta::NO_FREELIST,
            pgid,
            txid: super::order::Txid(0),
            checksum: 0,
            error: None,
        };
        let metas = Metas { order, page_size, pages: [Some(meta), None], active: 0 };
        Self::build(data, metas, 0)
    }

    fn build(data: &'a [u8], metas: Metas, meta_index: usize) -> DbView<'a> {
        let (order, page_size) = (metas.order, u64::from(metas.page_size));
        let hwm = metas.pages[meta_index].as_ref().map_or(0, |m| m.pgid);
        DbView { data, metas, meta_index, order, page_size, hwm }
    }

    /// The meta page in use.
    pub fn meta(&self) -> &Meta {
        // `new`/`with_meta` only build views on a valid, present meta.
        self.metas.pages[self.meta_index].as_ref().expect("meta in use exists")
    }

    /// Whether the file ends in what looks like an etcd snapshot trailer (`size % 512 == 32`).
    pub fn has_trailer(&self) -> bool {
        self.data.len() % 512 == TRAILER_LEN
    }

    /// The file's length without the trailer.
    pub fn body_len(&self) -> usize {
        if self.has_trailer() {
            self.data.len() - TRAILER_LEN
        } else {
            self.data.len()
        }
    }

    /// Where bytes of this view's map lie: the page holding their first byte and its offset in
    /// the file (`None` for bytes outside the map), for a problem to name them.
    pub fn place(&self, s: &[u8]) -> Option<(PageId, u64)> {
        let off = (s.as_ptr() as usize).checked_sub(self.data.as_ptr() as usize)?;
        (off < self.data.len()).then(|| (PageId(off as u64 / self.page_size.max(1)), off as u64))
    }

    /// Number of whole pages in the file body.
    pub fn file_pages(&self) -> u64 {
        self.body_len() as u64 / self.page_size
    }

    /// `hwm * pageSize`: what etcd reports as the database size.
    pub fn total_size(&self) -> u64 {
        self.hwm.saturating_mul(self.page_size)
    }

    /// Bytes in the file body past the high-water mark (grow-ahead slack of live files).
    pub fn slack(&self) -> u64 {
        (self.body_len() as u64).saturating_sub(self.total_size())
    }

    /// Number of page ids the walk can track: the high-water mark, capped by the file.
    pub fn tracked_pages(&self) -> u64 {
        self.hwm.min(self.file_pages())
    }

    /// Fetches page `id` as a tree or freelist page: the id must be below the high-water mark,
    /// its whole run must lie inside the file, and its header must carry its own id.
    pub fn page(&self, id: PageId) -> Result<Page<'a>, Problem> {
        let ps = self.page_size;
        let at = id.offset(ps);
        let id = id.0;
        let oob = |what: String| Problem::new(ProblemKind::PageOutOfBounds, what).page(id);
        if id >= self.hwm {
            return Err(oob(format!("page {id} is referenced but lies at or past the high-water mark {}", self.hwm)));
        }
        let body = &self.data[..self.body_len()];
        let hdr = usize::try_from(at)
            .ok()
            .and_then(|s| body.get(s..s.checked_add(PAGE_HEADER_SIZE)?))
            .and_then(|h| Header::read(h, self.order));
        let Some(Header { id: PageId(hid), overflow, .. }) = hdr else {
            return Err(Problem::new(
                ProblemKind::PagePastEof,
                format!("page {id} lies past the end of the file ({} bytes)", body.len()),
            )
            .page(id)
            .offset(at));
        };
        if hid != id {
            return Err(Problem::new(
                ProblemKind::PageIdMismatch,
                format!("page {id} identifies itself as page {hid}"),
            )
            .page(id)
            .offset(at));
        }
        let last = id.saturating_add(u64::from(overflow));
        if last >= self.hwm {
            return Err(oob(format!(
                "page {id} with {overflow} overflow pages runs to page {last}, at or past the high-water mark {}",
                self.hwm
            ))
            .offset(at));
        }
        let end = (last + 1).checked_mul(ps).and_then(|e| usize::try_from(e).ok());
        let bytes = end.and_then(|e| body.get(usize::try_from(at).ok()?..e)).ok_or_else(|| {
            Problem::new(
                ProblemKind::PagePastEof,
                format!(
                    "page {id} with {overflow} overflow pages runs past the end of the file ({} bytes)",
                    body.len()
                ),
            )
            .page(id)
            .offset(at)
        })?;
        Page::new(PageId(id), at, bytes, self.order).ok_or_else(|| oob(format!("page {id} header unreadable")))
    }

    /// Starts loading page `id`'s header and first elements (two cache lines) into cache (no
    /// effect for an id outside the file).
    pub fn prefetch_page(&self, id: PageId) {
        let at = usize::try_from(id.offset(self.page_size)).unwrap_or(usize::MAX);
        for line in [at, at.saturating_add(64)] {
            if let Some(b) = self.data.get(line..line.saturating_add(64)) {
                crate::sys::prefetch(b);
            }
        }
    }

    /// Starts loading the part of page `id` a reader of all its elements needs: a leaf up to the
    /// end of its data, any other page whole ([`super::page::prefetch_used`]). Its header and
    /// element table should be in cache already ([`DbView::prefetch_table`],
    /// [`DbView::prefetch_page`]), else this waits for them. No effect for an id outside the file.
    pub fn prefetch_used(&self, id: PageId) {
        let Some(at) = usize::try_from(id.offset(self.page_size)).ok() else { return };
        if let Some(page) = self.data.get(at..) {
            super::page::prefetch_used(page, self.order, usize::try_from(self.page_size).unwrap_or(0));
        }
    }

    /// Starts loading page `id`'s element table, its count read from its header (which should be
    /// in cache already: see [`DbView::prefetch_page`]).
    pub fn prefetch_own_table(&self, id: PageId) {
        let Some(at) = usize::try_from(id.offset(self.page_size)).ok() else { return };
        if let Some(h) = self.data.get(at..).and_then(|b| Header::read(b, self.order)) {
            self.prefetch_table(id, h.count);
        }
    }

    /// Starts loading page `id`'s header and the element table of its `count` elements, at most
    /// one page of it (a hostile count costs no more than a page).
    pub fn prefetch_table(&self, id: PageId, count: u16) {
        if let Ok(at) = usize::try_from(id.offset(self.page_size)) {
            let table = PAGE_HEADER_SIZE + ELEMENT_SIZE * usize::from(count);
            crate::sys::prefetch_span(self.data, at, table.min(usize::try_from(self.page_size).unwrap_or(0)));
        }
    }

    /// Starts loading the lines a reader of each of leaf `id`'s `count` elements needs
    /// ([`super::page::prefetch_records`]), its element table read (it should be in cache: see
    /// [`DbView::prefetch_table`]).
    pub fn prefetch_records(&self, id: PageId, count: u16) {
        let Some(at) = usize::try_from(id.offset(self.page_size)).ok() else { return };
        if let Some(page) = self.data.get(at..) {
            super::page::prefetch_records(page, self.order, usize::from(count));
        }
    }

    /// Problems with the file as a whole: invalid meta pages and a high-water mark past the end.
    pub fn file_problems(&self) -> Vec<Problem> {
        let mut out = self.metas.problems();
        let body = self.body_len() as u64;
        // The mark of the meta page read, then the other's when it is valid (the tree bbolt falls
        // back to: a mark past the end there is a file cut short for it too).
        let other = 1 - self.meta_index.min(1);
        let other_hwm = match self.metas.pages.get(other) {
            Some(Some(m)) if m.is_valid() && m.page_size == self.metas.page_size => Some(m.pgid),
            _ => None,
        };
        let marks = [(self.meta_index, Some(self.hwm)), (other, other_hwm)];
        for (i, hwm) in marks.into_iter().filter_map(|(i, h)| Some((i, h?))) {
            let size = match hwm.checked_mul(self.page_size) {
                Some(s) if s <= body => continue,
                Some(s) => format!("{s} bytes"),
                None => "more bytes than 64 bits count".into(),
            };
            let whose = if i == self.meta_index { String::new() } else { format!("meta page {i} (the other one): ") };
            out.push(
                Problem::new(
                    ProblemKind::HwmPastEof,
                    format!(
                        "{whose}high-water mark {hwm} x page size {} = {size} is past the end of the file ({body} \
                         bytes)",
                        self.page_size
                    ),
                )
                .page(i as u64)
                // Where that meta page states the high-water mark.
                .offset((i as u64).saturating_mul(self.page_size).saturating_add(super::meta::M_PGID as u64)),
            );
        }
        out
    }
}

/// Why meta page `index` cannot be used.
fn m_why(metas: &Metas, index: usize) -> String {
    match metas.pages.get(index) {
        Some(Some(m)) if !m.is_valid() => m.error.clone().unwrap_or_default(),
        Some(Some(m)) => format!("it says page size {}, the file uses {}", m.page_size, metas.page_size),
        Some(None) => "it lies past the end of the file".into(),
        None => "there are only meta pages 0 and 1".into(),
    }
}
