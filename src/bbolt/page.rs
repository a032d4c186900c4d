//! Page headers and elements, read and written in one place: checked, zero-copy views over the
//! bytes of one page run for the reader, and the encoders the writer fills its pages with, both
//! from the same offset constants.
//!
//! Every read here is bounds-checked against the slice it is given; nothing can read outside the
//! map or panic, whatever the bytes say. Errors carry the page id and the absolute byte offset.

pub use super::order::{ByteOrder, PageId};
use crate::problem::{Problem, ProblemKind};

// Page header, 16 bytes at the start of every page run:
//   0..8   id        u64   must equal the page's own id
//   8..10  flags     u16   exactly one of BRANCH, LEAF, META, FREELIST
//   10..12 count     u16   elements (branch/leaf), ids (freelist; 0xFFFF = escape)
//   12..16 overflow  u32   extra contiguous pages this page occupies
/// Size of the page header.
pub const PAGE_HEADER_SIZE: usize = 16;
const HDR_ID: usize = 0;
const HDR_FLAGS: usize = 8;
const HDR_COUNT: usize = 10;
const HDR_OVERFLOW: usize = 12;

/// Page flag of a branch page.
pub const BRANCH: u16 = 0x01;
/// Page flag of a leaf page.
pub const LEAF: u16 = 0x02;
/// Page flag of a meta page.
pub const META: u16 = 0x04;
/// Page flag of a freelist page.
pub const FREELIST: u16 = 0x10;

/// Leaf element flag marking a bucket entry.
pub const BUCKET_LEAF_FLAG: u32 = 0x01;

// Branch element, 16 bytes, element i at page offset 16 + 16*i:
//   0..4   pos    u32  key offset from the start of this element
//   4..8   ksize  u32
//   8..16  pgid   u64  child page
// Leaf element, 16 bytes:
//   0..4   flags  u32  0, or BUCKET_LEAF_FLAG
//   4..8   pos    u32  key offset from the start of this element
//   8..12  ksize  u32
//   12..16 vsize  u32  the value follows the key directly
/// Size of one branch or leaf element.
pub const ELEMENT_SIZE: usize = 16;
pub(super) const B_POS: usize = 0;
pub(super) const B_KSIZE: usize = 4;
const B_PGID: usize = 8;
const L_FLAGS: usize = 0;
pub(super) const L_POS: usize = 4;
pub(super) const L_KSIZE: usize = 8;
pub(super) const L_VSIZE: usize = 12;

/// Starts loading into cache what a reader of every element of a leaf needs, not the whole page:
/// the start of each key, the start of its value (where etcd's `KeyValue` keeps the user key) and
/// the value's last byte (after which etcd's lease field lies). `page` runs from the leaf's header
/// to the end of the file; its element table should be in cache already (else this waits for
/// it). Reads nothing past `page` and stops at the first element that does not fit.
pub fn prefetch_records(page: &[u8], order: ByteOrder, count: usize) {
    for i in 0..count {
        let e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let (Some(pos), Some(ks), Some(vs)) =
            (order.u32(page, e + L_POS), order.u32(page, e + L_KSIZE), order.u32(page, e + L_VSIZE))
        else {
            return;
        };
        let key = e.saturating_add(pos as usize);
        let end = key.saturating_add(ks as usize).saturating_add(vs as usize);
        for at in [key, key.saturating_add(64), end.saturating_sub(1)] {
            match page.get(at..) {
                Some(b) if !b.is_empty() => crate::sys::prefetch(b),
                _ => return,
            }
        }
    }
}

/// Starts loading into cache the part of a page a reader of all its elements needs
/// ([`used_len`]). `page` runs from the page's header to the end of the file; its header and
/// element table should be in cache already (else this waits for them).
pub fn prefetch_used(page: &[u8], order: ByteOrder, page_size: usize) {
    let len = used_len(page, order, page_size);
    crate::sys::prefetch_lines(page.get(..len).unwrap_or(page));
}

/// How much of a page a reader of all its elements touches: for a leaf, from the header to the
/// end of the furthest element's value (the room past a leaf's data is never read, and on a leaf
/// split half full that is half the page); any other page whole. Never more than `page_size` or
/// `page` (its overflow is not counted); an element that cannot be read ends the count, and so
/// does one whose header lies past the first page (its data would too), so a hostile count costs
/// no more than a page's worth of elements.
pub fn used_len(page: &[u8], order: ByteOrder, page_size: usize) -> usize {
    let mut end = page_size;
    if let (Some(LEAF), Some(count)) = (order.u16(page, HDR_FLAGS), order.u16(page, HDR_COUNT)) {
        end = PAGE_HEADER_SIZE + ELEMENT_SIZE * usize::from(count);
        let fit = page_size.saturating_sub(PAGE_HEADER_SIZE) / ELEMENT_SIZE;
        for i in 0..usize::from(count).min(fit) {
            let e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
            let (Some(pos), Some(ks), Some(vs)) =
                (order.u32(page, e + L_POS), order.u32(page, e + L_KSIZE), order.u32(page, e + L_VSIZE))
            else {
                break;
            };
            end = end.max(e.saturating_add(pos as usize).saturating_add(ks as usize).saturating_add(vs as usize));
        }
    }
    end.min(page_size).min(page.len())
}

/// A human name for page flags, as bbolt's tools print them.
pub fn type_name(flags: u16) -> String {
    match flags {
        BRANCH => "branch".into(),
        LEAF => "leaf".into(),
        META => "meta".into(),
        FREELIST => "freelist".into(),
        f => format!("unknown<{f:02x}>"),
    }
}

/// A checked view of one page run (header page plus overflow pages), or of an inline bucket page.
#[derive(Clone, Copy, Debug)]
pub struct Page<'a> {
    /// The page id this view was read as (0 for an inline bucket page).
    pub id: PageId,
    /// Absolute byte offset of the page start in the file.
    pub offset: u64,
    /// The whole run: `(1 + overflow) * pageSize` bytes, or the inline value.
    pub bytes: &'a [u8],
    /// Header flags.
    pub flags: u16,
    /// Header count.
    pub count: u16,
    /// Header overflow.
    pub overflow: u32,
    /// The file's byte order.
    pub order: ByteOrder,
    /// Whether this is an inline bucket's page, inside its parent's value (its `id` is then the
    /// parent's).
    pub inline: bool,
}

/// One leaf element, bounds-checked.
#[derive(Clone, Copy, Debug)]
pub struct LeafElem<'a> {
    /// Element flags (`BUCKET_LEAF_FLAG` for a bucket entry).
    pub flags: u32,
    /// The key.
    pub key: &'a [u8],
    /// The value (for a bucket entry: the bucket header, maybe followed by an inline page).
    pub value: &'a [u8],
    /// Offset of the element header within the page.
    pub elem_off: usize,
}

impl LeafElem<'_> {
    /// Whether the element is a bucket entry.
    pub fn is_bucket(&self) -> bool {
        self.flags & BUCKET_LEAF_FLAG != 0
    }
}

/// One branch element, bounds-checked.
#[derive(Clone, Copy, Debug)]
pub struct BranchElem<'a> {
    /// The separator key (the first key of the child's subtree).
    pub key: &'a [u8],
    /// The child page id.
    pub child: PageId,
    /// Offset of the element header within the page.
    pub elem_off: usize,
}

/// A decoded page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The id the page claims.
    pub id: PageId,
    /// Page type flags.
    pub flags: u16,
    /// Element (or freelist id) count.
    pub count: u16,
    /// Extra contiguous pages the page occupies.
    pub overflow: u32,
}

impl Header {
    /// Reads a page header from the first 16 bytes of `bytes`.
    pub fn read(bytes: &[u8], order: ByteOrder) -> Option<Header> {
        Some(Header {
            id: PageId(order.u64(bytes, HDR_ID)?),
            flags: order.u16(bytes, HDR_FLAGS)?,
            count: order.u16(bytes, HDR_COUNT)?,
            overflow: order.u32(bytes, HDR_OVERFLOW)?,
        })
    }

    /// Writes the header into the first 16 bytes of `buf` (which the writer sized).
    pub fn write(&self, buf: &mut [u8], o: ByteOrder) {
        o.put_u64(buf, HDR_ID, self.id.0);
        o.put_u16(buf, HDR_FLAGS, self.flags);
        o.put_u16(buf, HDR_COUNT, self.count);
        o.put_u32(buf, HDR_OVERFLOW, self.overflow);
    }
}

/// Writes leaf element header `h` (16 bytes): flags, the key's offset from the element, sizes.
pub fn write_leaf_elem(h: &mut [u8], o: ByteOrder, flags: u32, pos: u32, ksize: u32, vsize: u32) {
    o.put_u32(h, L_FLAGS, flags);
    o.put_u32(h, L_POS, pos);
    o.put_u32(h, L_KSIZE, ksize);
    o.put_u32(h, L_VSIZE, vsize);
}

/// Writes branch element header `h` (16 bytes): the key's offset from the element, its size,
/// and the child page.
pub fn write_branch_elem(h: &mut [u8], o: ByteOrder, pos: u32, ksize: u32, child: PageId) {
    o.put_u32(h, B_POS, pos);
    o.put_u32(h, B_KSIZE, ksize);
    o.put_u64(h, B_PGID, child.0);
}

impl<'a> Page<'a> {
    /// Views `bytes` (already cut to the run's extent) as a page read at `id`.
    pub fn new(id: PageId, offset: u64, bytes: &'a [u8], order: ByteOrder) -> Option<Page<'a>> {
        let h = Header::read(bytes, order)?;
        Some(Page { id, offset, bytes, flags: h.flags, count: h.count, overflow: h.overflow, order, inline: false })
    }

    /// The pages the run occupies: `1 + overflow`.
    pub fn run_pages(&self) -> u64 {
        u64::from(self.overflow) + 1
    }

    /// Bytes in use as bbolt's `Bucket.Stats` counts them: the header, `count - 1` element
    /// headers, and the last element's key offset plus its key (and value) size, which assumes
    /// bbolt's packed layout.
    pub fn used_bytes(&self) -> u64 {
        let n = usize::from(self.count);
        if n == 0 {
            return PAGE_HEADER_SIZE as u64;
        }
        let e = PAGE_HEADER_SIZE + ELEMENT_SIZE * (n - 1);
        let field = |off: usize| u64::from(self.order.u32(self.bytes, e + off).unwrap_or(0));
        let tail = if self.flags == LEAF {
            field(L_POS) + field(L_KSIZE) + field(L_VSIZE)
        } else {
            field(B_POS) + field(B_KSIZE)
        };
        (e as u64).saturating_add(tail)
    }

    pub(super) fn problem(&self, kind: ProblemKind, at: usize, msg: String) -> Problem {
        Problem::new(kind, msg).page(self.id).offset(self.offset.saturating_add(at as u64))
    }

    fn elem_header(&self, i: usize) -> Result<usize, Problem> {
        let off = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        if off + ELEMENT_SIZE > self.bytes.len() {
            return Err(self.problem(
                ProblemKind::ElementOutsidePage,
                off,
                format!("page {}: element {i} header lies outside the page ({} bytes)", self.id, self.bytes.len()),
            ));
        }
        Ok(off)
    }

    fn span(&self, i: usize, start: usize, len: u32, what: &str) -> Result<&'a [u8], Problem> {
        let end = start.checked_add(len as usize);
        match end.and_then(|end| self.bytes.get(start..end)) {
            Some(s) => Ok(s),
            None => Err(self.problem(
                ProblemKind::ElementOutsidePage,
                PAGE_HEADER_SIZE + ELEMENT_SIZE * i,
                format!(
                    "page {}: element {i} {what} at {start}+{len} lies outside the page ({} bytes)",
                    self.id,
                    self.bytes.len()
                ),
            )),
        }
    }

    /// Leaf element `i`, with its key and value checked to lie inside the page.
    pub fn leaf_elem(&self, i: usize) -> Result<LeafElem<'a>, Problem> {
        let e = self.elem_header(i)?;
        let b = self.bytes;
        let o = self.order;
        let (flags, pos, ksize, vsize) = (
            o.u32(b, e + L_FLAGS).unwrap_or(0),
            o.u32(b, e + L_POS).unwrap_or(0),
            o.u32(b, e + L_KSIZE).unwrap_or(0),
            o.u32(b, e + L_VSIZE).unwrap_or(0),
        );
        let kstart = e.saturating_add(pos as usize);
        self.packed(i, kstart)?;
        let key = self.span(i, kstart, ksize, "key")?;
        let value = self.span(i, kstart.saturating_add(ksize as usize), vsize, "value")?;
        Ok(LeafElem { flags, key, value, elem_off: e })
    }

    /// The raw fields of leaf element `i` (flags, pos, ksize, vsize), when its header lies inside
    /// the page.
    pub fn leaf_fields(&self, i: usize) -> Option<[u32; 4]> {
        let e = PAGE_HEADER_SIZE.checked_add(ELEMENT_SIZE.checked_mul(i)?)?;
        let (b, o) = (self.bytes, self.order);
        Some([o.u32(b, e + L_FLAGS)?, o.u32(b, e + L_POS)?, o.u32(b, e + L_KSIZE)?, o.u32(b, e + L_VSIZE)?])
    }

    /// Leaf element `i` with its key read at page offset `key_start` instead of where its `pos`
    /// field says (carving a page whose element header is damaged): `None` when the header, key or
    /// value does not lie inside the page.
    pub fn leaf_elem_at(&self, i: usize, key_start: usize) -> Option<LeafElem<'a>> {
        let [flags, _, ksize, vsize] = self.leaf_fields(i)?;
        let kend = key_start.checked_add(ksize as usize)?;
        let key = self.bytes.get(key_start..kend)?;
        let value = self.bytes.get(kend..kend.checked_add(vsize as usize)?)?;
        Some(LeafElem { flags, key, value, elem_off: PAGE_HEADER_SIZE + ELEMENT_SIZE * i })
    }

    /// Branch element `i`, with its key checked to lie inside the page.
    pub fn branch_elem(&self, i: usize) -> Result<BranchElem<'a>, Problem> {
        self.branch_elem_at(i, true)
    }

    /// [`Page::branch_elem`] without holding the first key to bbolt's packed layout: for the
    /// tolerant reader, which follows every element a page still lists and tells what the
    /// layout shows lost itself ([`Page::branch_gaps`]).
    pub fn branch_elem_loose(&self, i: usize) -> Result<BranchElem<'a>, Problem> {
        self.branch_elem_at(i, false)
    }

    fn branch_elem_at(&self, i: usize, packed: bool) -> Result<BranchElem<'a>, Problem> {
        let e = self.elem_header(i)?;
        let b = self.bytes;
        let o = self.order;
        let pos = o.u32(b, e + B_POS).unwrap_or(0);
        let ksize = o.u32(b, e + B_KSIZE).unwrap_or(0);
        let child = PageId(o.u64(b, e + B_PGID).unwrap_or(0));
        if packed {
            self.packed(i, e.saturating_add(pos as usize))?;
        }
        let key = self.span(i, e.saturating_add(pos as usize), ksize, "key")?;
        Ok(BranchElem { key, child, elem_off: e })
    }

    /// Absolute file offset of a sub-slice of this page.
    pub fn offset_of(&self, s: &[u8]) -> u64 {
        let d = (s.as_ptr() as usize).wrapping_sub(self.bytes.as_ptr() as usize);
        self.offset.saturating_add(d as u64)
    }
}
