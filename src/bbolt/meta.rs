//! Meta pages 0 and 1: byte-order detection, page-size discovery, validation and the choice of
//! the active meta, the way bbolt makes it.

use super::order::{ByteOrder, PageId, Txid};
use super::page::{Header, META, PAGE_HEADER_SIZE};
use crate::error::Error;
use crate::problem::{Problem, ProblemKind};

// Meta struct, 64 bytes at page offset 16 (offsets below are page offsets):
//   16..20 magic      u32  0xED0CDAED
//   20..24 version    u32  2
//   24..28 pageSize   u32
//   28..32 flags      u32  unused
//   32..40 root.root  u64  root bucket's root page
//   40..48 root.seq   u64
//   48..56 freelist   u64  freelist page, or NO_FREELIST
//   56..64 pgid       u64  high-water mark
//   64..72 txid       u64
//   72..80 checksum   u64  FNV-1a 64 of page bytes 16..72
const M_MAGIC: usize = PAGE_HEADER_SIZE;
const M_VERSION: usize = PAGE_HEADER_SIZE + 4;
const M_PAGE_SIZE: usize = PAGE_HEADER_SIZE + 8;
const M_FLAGS: usize = PAGE_HEADER_SIZE + 12;
const M_ROOT: usize = PAGE_HEADER_SIZE + 16;
const M_SEQ: usize = PAGE_HEADER_SIZE + 24;
const M_FREELIST: usize = PAGE_HEADER_SIZE + 32;
pub(crate) const M_PGID: usize = PAGE_HEADER_SIZE + 40;
const M_TXID: usize = PAGE_HEADER_SIZE + 48;
const M_CHECKSUM: usize = PAGE_HEADER_SIZE + 56;
/// End of the meta struct within its page.
pub const META_END: usize = PAGE_HEADER_SIZE + 64;

/// bbolt's magic number.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The only format version.
pub const VERSION: u32 = 2;
/// `meta.freelist` when the freelist is not persisted (etcd on Linux).
pub const NO_FREELIST: PageId = PageId(u64::MAX);
/// The shortest file real bbolt opens: `Open` reads the first 4096 bytes to find the page size
/// and calls a shorter file an invalid database (bbolt 1.3.6, `boltoracle check`).
pub const MIN_FILE_LEN: u64 = 4096;
/// Smallest page size accepted.
pub const MIN_PAGE_SIZE: u32 = 512;
/// Largest page size accepted (1 GiB).
pub const MAX_PAGE_SIZE: u32 = 1 << 30;

/// FNV-1a 64, as Go's `hash/fnv.New64a`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The fields of a meta page that describe the tree, for writing one ([`meta_page`]).
#[derive(Clone, Copy, Debug)]
pub struct MetaFields {
    /// Root bucket's root page.
    pub root: PageId,
    /// Root bucket's sequence.
    pub seq: u64,
    /// Freelist page or [`NO_FREELIST`].
    pub freelist: PageId,
    /// High-water mark (pages in use).
    pub pgid: u64,
}

/// A meta page image (page `id` of `ps` bytes, in byte order `o`) for the tree `m` at `txid`,
/// with the FNV-1a checksum bbolt writes; flags and the rest of the page are zero.
pub fn meta_page(o: ByteOrder, ps: u64, id: u64, m: &MetaFields, txid: u64) -> Vec<u8> {
    let mut p = vec![0; usize::try_from(ps).unwrap_or(usize::MAX).max(META_END)];
    Header { id: PageId(id), flags: META, count: 0, overflow: 0 }.write(&mut p, o);
    o.put_u32(&mut p, M_MAGIC, MAGIC);
    o.put_u32(&mut p, M_VERSION, VERSION);
    o.put(&mut p, M_PAGE_SIZE, ps, 4);
    o.put_u64(&mut p, M_ROOT, m.root.0);
    o.put_u64(&mut p, M_SEQ, m.seq);
    o.put_u64(&mut p, M_FREELIST, m.freelist.0);
    o.put_u64(&mut p, M_PGID, m.pgid);
    o.put_u64(&mut p, M_TXID, txid);
    let sum = fnv1a64(&p[M_MAGIC..M_CHECKSUM]);
    o.put_u64(&mut p, M_CHECKSUM, sum);
    p
}

/// A decoded meta page (valid or not).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    /// magic field.
    pub magic: u32,
    /// version field.
    pub version: u32,
    /// page size.
    pub page_size: u32,
    /// flags field (unused by bbolt).
    pub flags: u32,
    /// root page of the root bucket.
    pub root: PageId,
    /// root bucket sequence.
    pub root_sequence: u64,
    /// freelist page id or [`NO_FREELIST`].
    pub freelist: PageId,
    /// high-water mark: the pages in use.
    pub pgid: u64,
    /// transaction id.
    pub txid: Txid,
    /// stored checksum.
    pub checksum: u64,
    /// Why the page is invalid; `None` when valid.
    pub error: Option<String>,
}

impl Meta {
    /// Decodes the meta struct from the start of a meta page. `None` if the slice is too short.
    pub fn parse(page: &[u8], order: ByteOrder) -> Option<Meta> {
        let o = order;
        let mut m = Meta {
            magic: o.u32(page, M_MAGIC)?,
            version: o.u32(page, M_VERSION)?,
            page_size: o.u32(page, M_PAGE_SIZE)?,
            flags: o.u32(page, M_FLAGS)?,
            root: PageId(o.u64(page, M_ROOT)?),
            root_sequence: o.u64(page, M_SEQ)?,
            freelist: PageId(o.u64(page, M_FREELIST)?),
            pgid: o.u64(page, M_PGID)?,
            txid: Txid(o.u64(page, M_TXID)?),
            checksum: o.u64(page, M_CHECKSUM)?,
            error: None,
        };
        let sum = fnv1a64(page.get(M_MAGIC..M_CHECKSUM)?);
        m.error = if m.magic != MAGIC {
            Some(format!("bad magic {:#010x}", m.magic))
        } else if m.version != VERSION {
            Some(format!("version {} is not {VERSION}", m.version))
        } else if m.checksum != sum {
            Some(format!("checksum {:#018x} does not match computed {sum:#018x}", m.checksum))
        } else if !page_size_ok(m.page_size) {
            Some(format!("page size {} is not a power of two in [{MIN_PAGE_SIZE}, {MAX_PAGE_SIZE}]", m.page_size))
        } else {
            None
        };
        Some(m)
    }

    /// Whether the meta validates.
    pub fn is_valid(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the freelist is persisted in a page.
    pub fn has_freelist_page(&self) -> bool {
        self.freelist != NO_FREELIST
    }
}

/// Why neither meta page of `data` is valid, when one carries bbolt's magic (a bbolt file whose
/// meta pages were both damaged, not some other file): each page's reason, with the byte offset
/// of the field at fault. Page 1 is looked for where page 0's page size puts it, else at the
/// offsets bbolt probes.
fn neither(data: &[u8]) -> Option<String> {
    let order = detect_order(data)?;
    let at = |off: usize| data.get(off..).and_then(|p| Meta::parse(p, order)).filter(|m| m.magic == MAGIC);
    let first = at(0);
    let second = match first.as_ref().filter(|m| page_size_ok(m.page_size)) {
        Some(m) => at(m.page_size as usize).map(|s| (m.page_size as usize, s)),
        None => (0..21).map(|i| 1024usize << i).find_map(|off| Some((off, at(off)?))),
    };
    if first.is_none() && second.is_none() {
        return None;
    }
    let tell = |i: usize, found: Option<(usize, Meta)>| match found {
        None => format!("meta page {i}: no bbolt meta page found"),
        Some((off, m)) => {
            let why = m.error.unwrap_or_else(|| "its page size disagrees with where it lies".into());
            let field = if m.magic != MAGIC {
                M_MAGIC
            } else if m.version != VERSION {
                M_VERSION
            } else if why.starts_with("checksum") {
                M_CHECKSUM
            } else {
                M_PAGE_SIZE
            };
            format!("meta page {i}: {why} (byte offset {})", off + field)
        }
    };
    Some(format!("{}; {}", tell(0, first.map(|m| (0, m))), tell(1, second)))
}

fn page_size_ok(ps: u32) -> bool {
    ps.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&ps)
}

/// Detects the byte order from the magic at byte 16 of the file (or of another meta page).
pub fn detect_order(page: &[u8]) -> Option<ByteOrder> {
    let m = page.get(M_MAGIC..M_MAGIC + 4)?;
    if m == MAGIC.to_le_bytes() {
        Some(ByteOrder::Little)
    } else if m == MAGIC.to_be_bytes() {
        Some(ByteOrder::Big)
    } else {
        None
    }
}

/// Both meta pages and the choice between them.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Metas {
    /// The byte order of the file.
    pub order: ByteOrder,
    /// The page size of the file.
    pub page_size: u32,
    /// Meta page 0 and 1 as decoded (`None` when the page lies past the end of the file).
    pub pages: [Option<Meta>; 2],
    /// Which page is active (0 or 1).
    pub active: usize,
}

impl Metas {
    /// Finds byte order and page size and decodes both meta pages, choosing the active one like
    /// bbolt: the valid page with the higher txid (page 0 on a tie), else the other valid one.
    /// Fails only when neither meta page is valid.
    pub fn read(data: &[u8]) -> Result<Metas, Error> {
        if data.len() < 1024 {
            return Err(Error::TooSmall(data.len() as u64));
        }
        // Page size and byte order: from meta 0, or else by probing for meta 1 at 1 KiB << i,
        // as bbolt >= 1.3.7 does; a candidate must be valid and describe its own offset.
        let mut found = None;
        if let Some(order) = detect_order(data) {
            if let Some(m) = Meta::parse(data, order).filter(Meta::is_valid) {
                found = Some((order, m.page_size));
            }
        }
        if found.is_none() {
            for i in 0..21 {
                let off = 1024usize << i;
                let Some(page) = data.get(off..) else { break };
                let Some(order) = detect_order(page) else {
                    continue;
                };
                if let Some(m) = Meta::parse(page, order).filter(Meta::is_valid) {
                    if m.page_size as usize == off {
                        found = Some((order, m.page_size));
                        break;
                    }
                }
            }
        }
        let Some((order, page_size)) = found else {
            return Err(neither(data).map_or_else(Error::not_bbolt, |why| Error::MetasInvalid { why }));
        };
        let ps = page_size as usize;
        let pages = [Meta::parse(data, order), data.get(ps..).and_then(|p| Meta::parse(p, order))];
        let valid = |i: usize| pages[i].as_ref().is_some_and(|m| m.is_valid() && m.page_size == page_size);
        let txid = |i: usize| pages[i].as_ref().map_or(0, |m| m.txid.0);
        let (first, second) = if txid(1) > txid(0) { (1, 0) } else { (0, 1) };
        let active = if valid(first) { first } else { second };
        Ok(Metas { order, page_size, pages, active })
    }

    /// The active meta.
    pub fn meta(&self) -> &Meta {
        // `read` only returns Metas whose active page parsed and validated.
        self.pages[self.active].as_ref().expect("active meta exists")
    }

    /// Whether the other (inactive) meta page is valid.
    pub fn other_valid(&self) -> bool {
        self.pages[1 - self.active].as_ref().is_some_and(|m| m.is_valid() && m.page_size == self.page_size)
    }

    /// Problems with the meta pages: an invalid page (reported even when the other one is used)
    /// and a page size the two pages disagree on.
    pub fn problems(&self) -> Vec<Problem> {
        let ps = u64::from(self.page_size);
        let mut out = Vec::new();
        for (i, m) in self.pages.iter().enumerate() {
            let at = i as u64 * ps;
            match m {
                None => out.push(
                    Problem::new(ProblemKind::MetaInvalid, format!("meta page {i} lies past the end of the file"))
                        .page(i as u64)
                        .offset(at),
                ),
                Some(m) if !m.is_valid() => out.push(
                    Problem::new(
                        ProblemKind::MetaInvalid,
                        format!("meta page {i} is invalid: {}", m.error.as_deref().unwrap_or("")),
                    )
                    .page(i as u64)
                    .offset(at),
                ),
                Some(m) if m.page_size != self.page_size => out.push(
                    Problem::new(
                        ProblemKind::MetaMismatch,
                        format!("meta page {i} says page size {}, the file uses {}", m.page_size, self.page_size),
                    )
                    .page(i as u64)
                    .offset(at + M_PAGE_SIZE as u64),
                ),
                Some(m) => {
                    let bad_root = m.root.0 < 2 || m.root.0 >= m.pgid;
                    let bad_fl = m.has_freelist_page() && (m.freelist.0 < 2 || m.freelist.0 >= m.pgid);
                    if bad_root || bad_fl {
                        let (what, id, off) =
                            if bad_root { ("root", m.root, M_ROOT) } else { ("freelist", m.freelist, M_FREELIST) };
                        out.push(
                            Problem::new(
                                ProblemKind::MetaOutOfRange,
                                format!(
                                    "meta page {i}: {what} page {id} is outside [2, {}) (its high-water mark)",
                                    m.pgid
                                ),
                            )
                            .page(i as u64)
                            .offset(at + off as u64),
                        );
                    }
                }
            }
        }
        out
    }
}

/// Bytes that change with every bbolt commit: both meta structs. Used to notice a live file
/// changing under the reader, and in a file's identity.
pub fn meta_structs(data: &[u8], page_size: u32) -> Vec<u8> {
    let ps = page_size as usize;
    let mut v = data.get(..META_END).unwrap_or_default().to_vec();
    v.extend_from_slice(data.get(ps..ps.saturating_add(META_END)).unwrap_or_default());
    v
}
