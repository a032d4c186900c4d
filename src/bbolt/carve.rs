//! Carving: reading pages as leaf pages without reaching them through the tree, to find what
//! free pages still hold (deleted data that a backup carries along) and what a damaged tree no
//! longer reaches. Nothing here knows what the records mean; the etcd layer checks them.
//!
//! Two modes ([`Mode`]):
//! - **strict**, for residue: the page header names the page itself as a leaf with elements, its
//!   run of overflow pages lies below the high-water mark and inside the file, every element lies
//!   inside the run exactly where bbolt's packed layout puts it, and none of the overflow pages is
//!   reached by the tree or carries a page header of its own (it would then have been reused, and
//!   the value would be another page's bytes);
//! - **tolerant**, for salvage: the header's flags, id and overflow count may be damaged. The run
//!   is what the elements need, cut at the first page the tree reached or that carries its own
//!   header; an element whose stated key position is damaged is also offered where the packed
//!   layout puts it ([`Candidates`]), and the caller decides which one its records validate.
//!
//! Every read is bounds-checked against the file; a page is looked at only through its own
//! bytes, so any input ends in bounded time and memory.

use super::order::{ByteOrder, PageId};
use super::page::{Header, LeafElem, Page, BRANCH, ELEMENT_SIZE, FREELIST, LEAF, META, PAGE_HEADER_SIZE};
use super::view::DbView;
use rayon::prelude::*;

/// The pages of a file as carving sees them: the body (no snapshot trailer), its byte order and
/// page size, whether or not a meta page vouches for them.
#[derive(Clone, Copy, Debug)]
pub struct Geometry<'a> {
    /// The file without its snapshot trailer.
    pub body: &'a [u8],
    /// Byte order.
    pub order: ByteOrder,
    /// Page size in bytes.
    pub page_size: u64,
}

impl<'a> Geometry<'a> {
    /// The geometry of a view.
    pub fn of(view: &DbView<'a>) -> Geometry<'a> {
        Geometry {
            body: view.data.get(..view.body_len()).unwrap_or_default(),
            order: view.order,
            page_size: view.page_size,
        }
    }

    /// Whole pages in the body.
    pub fn pages(&self) -> u64 {
        (self.body.len() as u64).checked_div(self.page_size).unwrap_or(0)
    }

    fn offset(&self, id: u64) -> Option<usize> {
        usize::try_from(id.checked_mul(self.page_size)?).ok()
    }

    /// Starts loading page `id`'s first page into cache, a line at a time (no effect outside the
    /// body).
    pub fn prefetch(&self, id: u64) {
        if let Some(at) = self.offset(id) {
            crate::sys::prefetch_span(self.body, at, usize::try_from(self.page_size).unwrap_or(0));
        }
    }

    /// Starts loading page `id`'s header and the start of its element table (the lines holding
    /// the headers of its first elements), without reading anything.
    pub fn prefetch_head(&self, id: u64) {
        if let Some(at) = self.offset(id) {
            crate::sys::prefetch_span(self.body, at, HEAD_BYTES);
        }
    }

    /// Starts loading what carving page `id` reads of its elements, its head read (it should be in
    /// cache: see [`Geometry::prefetch_head`]): the lines each element's key, value start and
    /// value end lie on; the whole page when its element table runs past the head (elements
    /// that many are small, and fill the page's lines anyway).
    pub fn prefetch_elements(&self, id: u64) {
        let (Some(h), Some(at)) = (self.header(id), self.offset(id)) else { return };
        let count = usize::from(h.count).min(max_elements(self.page_size));
        if PAGE_HEADER_SIZE + ELEMENT_SIZE * count > HEAD_BYTES {
            self.prefetch(id);
        } else if let Some(page) = self.body.get(at..) {
            super::page::prefetch_records(page, self.order, count);
        }
    }

    /// The header of page `id`, if the page lies in the file.
    pub fn header(&self, id: u64) -> Option<Header> {
        let at = self.offset(id)?;
        Header::read(self.body.get(at..at.checked_add(PAGE_HEADER_SIZE)?)?, self.order)
    }

    /// Whether page `id` starts with a header naming itself, of a known page type: a page written
    /// as a page, not the continuation of another page's run.
    pub fn has_own_header(&self, id: u64) -> bool {
        self.header(id).is_some_and(|h| h.id.0 == id && matches!(h.flags, BRANCH | LEAF | META | FREELIST))
    }

    /// Whether page `id`, as the continuation of a run starting before it, cannot hold that run's
    /// bytes any more: the tree reached it (`reached`), or it starts with a header of its own
    /// (bbolt wrote a page there since).
    pub fn foreign_continuation(&self, id: u64, reached: &dyn Fn(u64) -> bool) -> bool {
        reached(id) || self.has_own_header(id)
    }

    /// Whether page `id` is all zeros.
    pub fn is_zeroed(&self, id: u64) -> bool {
        self.run(id, 1).is_some_and(|b| b.iter().all(|&x| x == 0))
    }

    /// Pages `[id, id + n)` as one slice, cut at the end of the file (`None` when `id` is past it).
    pub fn run(&self, id: u64, n: u64) -> Option<&'a [u8]> {
        let avail = self.pages().checked_sub(id).filter(|&a| a > 0)?;
        let start = self.offset(id)?;
        let len = usize::try_from(n.clamp(1, avail).checked_mul(self.page_size)?).ok()?;
        self.body.get(start..start.checked_add(len)?)
    }

    /// Page `id` viewed over `n` pages (cut at the end of the file), as a page read at its own id.
    pub fn page(&self, id: u64, n: u64) -> Option<Page<'a>> {
        Page::new(PageId(id), self.offset(id)? as u64, self.run(id, n)?, self.order)
    }
}

/// How much of a page must be right for it to be carved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything (see the module docs); pages must lie below `limit` (the high-water mark).
    Strict {
        /// The high-water mark.
        limit: u64,
    },
    /// Damaged headers and element positions are worked around (see the module docs).
    Tolerant,
}

/// Where element `i` of a leaf may be: where its header's `pos` says (`stated`), and where
/// bbolt's packed layout puts it when that differs (`packed`: right after the element table for
/// the first element, right after the previous element's value for the others, from the sizes
/// alone). Either is `None` when it does not lie inside the page.
#[derive(Clone, Copy, Debug)]
pub struct Candidates<'a> {
    /// As the element header says.
    pub stated: Option<LeafElem<'a>>,
    /// As the packed layout says, when different.
    pub packed: Option<LeafElem<'a>>,
}

impl<'a> Candidates<'a> {
    /// Whether the element is where both its header and the packed layout say.
    pub fn consistent(&self) -> bool {
        self.stated.is_some() && self.packed.is_none()
    }

    /// The stated element, then the packed one.
    pub fn each(&self) -> impl Iterator<Item = LeafElem<'a>> {
        self.stated.into_iter().chain(self.packed)
    }
}

/// The most elements a leaf page of `ps` bytes can have whose headers fit in its first page,
/// which is where bbolt puts them (a node larger than a page holds few, large elements).
pub fn max_elements(ps: u64) -> usize {
    usize::try_from(ps.saturating_sub(PAGE_HEADER_SIZE as u64) / ELEMENT_SIZE as u64).unwrap_or(0)
}

/// The candidates of the first `count` elements of `page`.
pub fn candidates<'a>(page: &Page<'a>, count: usize) -> Vec<Candidates<'a>> {
    let mut out = Vec::with_capacity(count.min(4096));
    let mut chain = ELEMENT_SIZE.checked_mul(count).and_then(|t| t.checked_add(PAGE_HEADER_SIZE));
    for i in 0..count {
        let Some([_, pos, ksize, vsize]) = page.leaf_fields(i) else { break };
        let e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let at = e.checked_add(pos as usize);
        let stated = at.and_then(|s| page.leaf_elem_at(i, s));
        let packed = chain.filter(|c| Some(*c) != at).and_then(|c| page.leaf_elem_at(i, c));
        chain = chain.and_then(|c| c.checked_add(ksize as usize)?.checked_add(vsize as usize));
        out.push(Candidates { stated, packed });
    }
    out
}

/// A page read as a leaf without the tree.
#[derive(Clone, Debug)]
pub struct CarvedLeaf<'a> {
    /// The page, read at its position (its header's id may differ in tolerant mode), over the
    /// pages its elements may use.
    pub page: Page<'a>,
    /// Its elements.
    pub elems: Vec<Candidates<'a>>,
    /// Whether the page passes the strict rules.
    pub intact: bool,
    /// Where the first of its overflow pages that is all zeros starts, as an offset in `page`
    /// (tolerant mode only): the storage may have lost that page since, or a value may hold a page
    /// of zeros (etcd writes such values), so what runs into it is uncertain (review 46a F2,
    /// review 48c).
    pub zeroed_at: Option<usize>,
}

impl CarvedLeaf<'_> {
    /// Whether `value` (bytes of this leaf) runs into an overflow page that is all zeros.
    pub fn reaches_zeroed(&self, value: &[u8]) -> bool {
        let end = (value.as_ptr() as usize).wrapping_sub(self.page.bytes.as_ptr() as usize) + value.len();
        self.zeroed_at.is_some_and(|z| end > z)
    }
}

/// End of an element's value, as an offset in its page.
fn end_of(page: &Page<'_>, e: &LeafElem<'_>) -> usize {
    (e.value.as_ptr() as usize - page.bytes.as_ptr() as usize) + e.value.len()
}

/// The first page after the header page, among those `elems` reach into, where the run cannot
/// continue ([`Geometry::foreign_continuation`]).
fn first_foreign(g: &Geometry<'_>, page: &Page<'_>, elems: &[Candidates<'_>], reached: &dyn Fn(u64) -> bool) -> u64 {
    let used = elems.iter().flat_map(|c| c.each()).map(|e| end_of(page, &e)).max().unwrap_or(0) as u64;
    let n = used.div_ceil(g.page_size).max(1);
    let id = page.id.0;
    (1..n).find(|k| g.foreign_continuation(id + k, reached)).unwrap_or(n)
}

/// Page `id` read as a leaf (see [`Mode`]); `reached` says which pages the tree reached. `None`
/// when the page has no element that could be read.
pub fn leaf<'a>(g: &Geometry<'a>, id: u64, mode: Mode, reached: &dyn Fn(u64) -> bool) -> Option<CarvedLeaf<'a>> {
    let h = g.header(id)?;
    let count = usize::from(h.count);
    if count == 0 || id < 2 {
        return None;
    }
    let claimed = u64::from(h.overflow) + 1;
    match mode {
        Mode::Strict { limit } => {
            let fits = id.checked_add(claimed).is_some_and(|end| end <= limit.min(g.pages()));
            if h.id.0 != id || h.flags != LEAF || !fits || count > max_elements(g.page_size) {
                return None;
            }
            let page = g.page(id, claimed)?;
            let elems = candidates(&page, count);
            if elems.len() != count || !elems.iter().all(Candidates::consistent) {
                return None;
            }
            if (1..claimed).any(|k| g.foreign_continuation(id + k, reached)) {
                return None;
            }
            Some(CarvedLeaf { page, elems, intact: true, zeroed_at: None })
        }
        Mode::Tolerant => {
            if matches!(h.flags, BRANCH | META | FREELIST) {
                return None;
            }
            let page = g.page(id, claimed)?;
            let mut elems = candidates(&page, count.min(max_elements(g.page_size)));
            let cut = first_foreign(g, &page, &elems, reached);
            let limit = usize::try_from(cut.saturating_mul(g.page_size)).unwrap_or(usize::MAX);
            let mut whole = cut >= claimed && claimed <= g.pages() - id;
            for c in &mut elems {
                for slot in [&mut c.stated, &mut c.packed] {
                    if slot.is_some_and(|e| end_of(&page, &e) > limit) {
                        *slot = None;
                        whole = false;
                    }
                }
            }
            let page = Page { bytes: page.bytes.get(..limit.min(page.bytes.len())).unwrap_or(page.bytes), ..page };
            let zeroed_at = (1..cut).find(|k| g.is_zeroed(id + k)).and_then(|k| usize::try_from(k * g.page_size).ok());
            let intact = whole
                && h.id.0 == id
                && h.flags == LEAF
                && elems.len() == count
                && elems.iter().all(Candidates::consistent);
            elems.iter().any(|c| c.stated.is_some() || c.packed.is_some()).then_some(CarvedLeaf {
                page,
                elems,
                intact,
                zeroed_at,
            })
        }
    }
}

/// Bytes of a page loaded two pages ahead of carving: its header and the headers of its first 15
/// elements.
const HEAD_BYTES: usize = 256;

/// Pages per parallel task of [`carve`].
const CARVE_BLOCK: u64 = 256;

/// Carves every page of `ids` that `reached` does not mark, in parallel; `f` turns each carved
/// leaf into results. The results come back in page order.
///
/// Each task takes a block of consecutive pages and loads what it reads of each page into cache
/// ahead of it (as the etcd layer's scan does): the header and first element headers two pages
/// ahead, then the lines the elements lie on one page ahead ([`Geometry::prefetch_elements`]).
/// Free pages were never touched by the walk, and without this every element costs a dependent
/// miss.
pub fn carve<'a, T: Send>(
    g: &Geometry<'a>,
    ids: std::ops::Range<u64>,
    mode: Mode,
    reached: &(dyn Fn(u64) -> bool + Sync),
    f: &(dyn Fn(CarvedLeaf<'a>) -> Option<T> + Sync),
) -> Vec<T> {
    let (start, end) = (ids.start.max(2), ids.end.min(g.pages()));
    let blocks = end.saturating_sub(start).div_ceil(CARVE_BLOCK);
    (0..blocks)
        .into_par_iter()
        .flat_map_iter(|b| {
            let lo = start + b * CARVE_BLOCK;
            let free: Vec<u64> = (lo..(lo + CARVE_BLOCK).min(end)).filter(|&id| !reached(id)).collect();
            for &id in free.iter().take(2) {
                g.prefetch_head(id);
            }
            if let Some(&first) = free.first() {
                g.prefetch_elements(first);
            }
            let mut out = Vec::new();
            for (i, &id) in free.iter().enumerate() {
                if let Some(&later) = free.get(i + 2) {
                    g.prefetch_head(later);
                }
                if let Some(&next) = free.get(i + 1) {
                    g.prefetch_elements(next);
                }
                out.extend(leaf(g, id, mode, reached).and_then(f));
            }
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four 4096-byte pages: page 2 a leaf with one overflow page and one element (a 17-byte key,
    /// a 5000-byte value of `fill` running on into page 3).
    fn file(fill: u8) -> Vec<u8> {
        let mut d = vec![0u8; 4 * 4096];
        let p = 2 * 4096;
        d[p..p + 8].copy_from_slice(&2u64.to_le_bytes());
        d[p + 8..p + 10].copy_from_slice(&LEAF.to_le_bytes());
        d[p + 10..p + 12].copy_from_slice(&1u16.to_le_bytes());
        d[p + 12..p + 16].copy_from_slice(&1u32.to_le_bytes());
        for (i, v) in [0u32, 16, 17, 5000].into_iter().enumerate() {
            d[p + 16 + 4 * i..p + 20 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        d[p + 32..p + 49].fill(b'k');
        d[p + 49..p + 49 + 5000].fill(fill);
        d
    }

    #[test]
    fn an_overflow_page_of_zeros_is_kept_and_marked_in_tolerant_mode() {
        for fill in [0u8, b'A'] {
            let d = file(fill);
            let g = Geometry { body: &d, order: ByteOrder::Little, page_size: 4096 };
            let none = |_| false;
            // Strict carving keeps it either way: etcd writes values holding pages of zeros.
            assert!(leaf(&g, 2, Mode::Strict { limit: 4 }, &none).is_some(), "fill {fill}");
            let t = leaf(&g, 2, Mode::Tolerant, &none).expect("carved");
            let value = t.elems[0].stated.expect("as stated").value;
            assert_eq!(value.len(), 5000);
            assert_eq!(t.zeroed_at, (fill == 0).then_some(4096), "fill {fill}");
            assert_eq!(t.reaches_zeroed(value), fill == 0);
        }
    }
}
