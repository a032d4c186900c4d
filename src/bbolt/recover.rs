//! Finding a tree when the meta pages cannot be trusted: the byte order and page size from the
//! meta pages if either is valid, else from the page headers themselves; the root pages the meta
//! pages name (even invalid ones: a meta page torn by a bad write may still name the right root);
//! and, when none of those is a root, every page that looks like one (a leaf of bucket entries),
//! for a caller that knows the buckets to choose among them.

use super::bucket;
use super::carve::{candidates, max_elements, Geometry};
use super::meta::{self, Meta, Metas};
use super::order::{ByteOrder, PageId};
use super::page::{Page, BRANCH, FREELIST, LEAF, META};
use super::view::TRAILER_LEN;
use rayon::prelude::*;

/// Page sizes probed, the common ones first.
const PROBED: [u32; 8] = [4096, 16384, 65536, 8192, 32768, 2048, 1024, 512];

/// Pages looked at per probe.
const PROBE_PAGES: u64 = 512;

/// The file without a snapshot trailer.
pub fn body(data: &[u8]) -> &[u8] {
    if data.len() % 512 == TRAILER_LEN {
        &data[..data.len() - TRAILER_LEN]
    } else {
        data
    }
}

/// How the geometry was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    /// From a valid meta page.
    Meta,
    /// From the page headers (no meta page is valid).
    Probed,
}

/// The byte order and page size: from the meta pages when either is valid and the file holds
/// both of them at that page size, else the pair under which the most of the first pages carry a
/// header naming their own id. `None` when no page does. (A valid meta page stating a page size
/// the file cannot back, 1 GiB in an 8 KiB file, made `salvage` write gigabytes of nothing.)
pub fn geometry(data: &[u8]) -> Option<(Geometry<'_>, Found)> {
    let body = body(data);
    if let Ok(m) = Metas::read(data) {
        let backed = u64::from(m.page_size).checked_mul(2).is_some_and(|two| two <= body.len() as u64);
        if backed {
            return Some((Geometry { body, order: m.order, page_size: u64::from(m.page_size) }, Found::Meta));
        }
    }
    let mut best: Option<(u64, Geometry<'_>)> = None;
    for ps in PROBED {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let g = Geometry { body, order, page_size: u64::from(ps) };
            let n = g.pages().min(PROBE_PAGES);
            let score = (2..n)
                .filter(|&id| g.header(id).is_some_and(|h| h.id.0 == id && matches!(h.flags, BRANCH | LEAF | FREELIST)))
                .count() as u64;
            if score > 0 && best.as_ref().map_or(true, |(s, _)| score > *s) {
                best = Some((score, g));
            }
        }
    }
    best.map(|(_, g)| (g, Found::Probed))
}

/// Meta page `i` decoded whatever its validity (`None` when it is not in the file).
pub fn meta_page(g: &Geometry<'_>, i: u64) -> Option<Meta> {
    let at = usize::try_from(i.checked_mul(g.page_size)?).ok()?;
    let m = Meta::parse(g.body.get(at..)?, g.order)?;
    let ok = m.magic == meta::MAGIC || g.header(i).is_some_and(|h| h.flags == META && h.id.0 == i);
    ok.then_some(m)
}

/// Whether page `id` reads as a root bucket: a leaf (header naming itself) whose elements are all
/// bucket entries with well-formed bucket values, in key order.
pub fn is_root(g: &Geometry<'_>, id: u64) -> bool {
    let Some(h) = g.header(id) else { return false };
    if h.id.0 != id || h.flags != LEAF || id < 2 {
        return false;
    }
    let Some(page) = g.page(id, u64::from(h.overflow) + 1) else { return false };
    // A count that shrank (to 0 too) is read back from the layout, as the tree's reader does.
    root_entries(&page.count_restored(false).unwrap_or(page)).is_some()
}

/// The bucket entries of a root page, when every element is one and they are in order (read as
/// the salvage's tolerant reader reads them).
pub fn root_entries<'a>(page: &Page<'a>) -> Option<Vec<super::page::LeafElem<'a>>> {
    let n = usize::from(page.count);
    if n == 0 || n > max_elements(page.bytes.len() as u64) {
        return None;
    }
    let elems = candidates(page, n);
    let mut out: Vec<super::page::LeafElem<'a>> = Vec::with_capacity(n);
    for c in elems {
        let e = c.stated.filter(|_| c.consistent())?;
        let ordered = out.last().map_or(true, |p| e.key > p.key) && !e.key.is_empty();
        // An inline bucket listing no element though it holds some reads as the tree's reader
        // takes it (its count read back from its layout).
        if !e.is_bucket() || !ordered || bucket::decode_tolerant(page, &e).is_err() {
            return None;
        }
        out.push(e);
    }
    (out.len() == n).then_some(out)
}

/// Every page of the file that reads as a root bucket ([`is_root`]), in page order.
pub fn root_pages(g: &Geometry<'_>) -> Vec<PageId> {
    (2..g.pages()).into_par_iter().filter(|&id| is_root(g, id)).map(PageId).collect()
}
