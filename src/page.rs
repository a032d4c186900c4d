//! Page headers and elements: checked, zero-copy views over the bytes of one page run.
//!
//! Every read here is bounds-checked against the slice it is given; nothing can read outside the
//! map or panic, whatever the bytes say. Errors carry the page id and the absolute byte offset.

use crate::error::{Problem, ProblemKind};

/// The byte order of a bbolt file. bbolt overlays Go structs on the map, so integers are in the
/// writing host's native order: little-endian almost everywhere, big-endian from s390x.
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
}

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
    pub id: u64,
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
    pub child: u64,
    /// Offset of the element header within the page.
    pub elem_off: usize,
}

/// Reads a page header from the first 16 bytes of `bytes`.
pub fn read_header(bytes: &[u8], order: ByteOrder) -> Option<(u64, u16, u16, u32)> {
    Some((
        order.u64(bytes, HDR_ID)?,
        order.u16(bytes, HDR_FLAGS)?,
        order.u16(bytes, HDR_COUNT)?,
        order.u32(bytes, HDR_OVERFLOW)?,
    ))
}

impl<'a> Page<'a> {
    /// Views `bytes` (already cut to the run's extent) as a page read at `id`.
    pub fn new(id: u64, offset: u64, bytes: &'a [u8], order: ByteOrder) -> Option<Page<'a>> {
        let (_, flags, count, overflow) = read_header(bytes, order)?;
        Some(Page { id, offset, bytes, flags, count, overflow, order })
    }

    /// The id the header claims.
    pub fn header_id(&self) -> u64 {
        self.order.u64(self.bytes, HDR_ID).unwrap_or(u64::MAX)
    }

    fn problem(&self, kind: ProblemKind, at: usize, msg: String) -> Problem {
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
            o.u32(b, e).unwrap_or(0),
            o.u32(b, e + 4).unwrap_or(0),
            o.u32(b, e + 8).unwrap_or(0),
            o.u32(b, e + 12).unwrap_or(0),
        );
        let kstart = e + pos as usize;
        let key = self.span(i, kstart, ksize, "key")?;
        let value = self.span(i, kstart + ksize as usize, vsize, "value")?;
        Ok(LeafElem { flags, key, value, elem_off: e })
    }

    /// Branch element `i`, with its key checked to lie inside the page.
    pub fn branch_elem(&self, i: usize) -> Result<BranchElem<'a>, Problem> {
        let e = self.elem_header(i)?;
        let b = self.bytes;
        let o = self.order;
        let pos = o.u32(b, e).unwrap_or(0);
        let ksize = o.u32(b, e + 4).unwrap_or(0);
        let child = o.u64(b, e + 8).unwrap_or(0);
        let key = self.span(i, e + pos as usize, ksize, "key")?;
        Ok(BranchElem { key, child, elem_off: e })
    }

    /// The bytes holding all keys and values of a leaf when they are packed in element order
    /// (bbolt's canonical layout): the concatenation `k0 v0 k1 v1 ...`. `None` when the layout
    /// is not canonical, so the caller must go element by element.
    pub fn packed_kv(&self, first: &LeafElem<'a>, last: &LeafElem<'a>) -> Option<&'a [u8]> {
        let base = self.bytes.as_ptr() as usize;
        let start = first.key.as_ptr() as usize - base;
        let end = last.value.as_ptr() as usize - base + last.value.len();
        self.bytes.get(start..end)
    }

    /// Absolute file offset of a sub-slice of this page.
    pub fn offset_of(&self, s: &[u8]) -> u64 {
        let d = (s.as_ptr() as usize).wrapping_sub(self.bytes.as_ptr() as usize);
        self.offset.saturating_add(d as u64)
    }
}

/// Stretches of one page's bytes to hash: keys and values that lie back to back (bbolt's packed
/// layout) come out as one slice, so a whole page usually takes one CRC call, not two per entry.
pub(crate) struct Run<'a> {
    bytes: &'a [u8],
    start: usize,
    end: usize,
}

impl<'a> Run<'a> {
    /// Nothing pending yet (`end` matches no slice).
    pub(crate) fn new(page: &Page<'a>) -> Run<'a> {
        Run { bytes: page.bytes, start: usize::MAX, end: usize::MAX }
    }

    /// Adds `s` (a slice of the page); returns what was pending when `s` does not follow it.
    pub(crate) fn add(&mut self, s: &[u8]) -> Option<&'a [u8]> {
        let at = (s.as_ptr() as usize).wrapping_sub(self.bytes.as_ptr() as usize);
        let done = if at != self.end { self.take() } else { None };
        if self.start == self.end {
            self.start = at;
        }
        self.end = at.wrapping_add(s.len());
        done
    }

    /// What is pending, if anything.
    pub(crate) fn take(&mut self) -> Option<&'a [u8]> {
        let pending = self.bytes.get(self.start..self.end).filter(|b| !b.is_empty());
        self.start = self.end;
        pending
    }
}
