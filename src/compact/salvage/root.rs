//! Which tree a salvage reads, chosen as bbolt chooses: the root named by the valid meta page
//! with the highest txid, else by the other valid one, as long as the page it names reads as a
//! root bucket. Only when no valid meta page names such a root is an invalid meta page's root
//! read (the highest txid first: its checksum failed, so nothing it says is sure), and then the
//! report says so and never calls the copy lossless. With no meta page naming a readable root,
//! the root page is found by scanning: the one whose `meta` bucket holds the highest raft index
//! (etcd writes `consistent_index` with every transaction, so the newest root has the highest),
//! then the highest `key` revision, then the highest page id; nothing proves that is the newest
//! tree either. Every other root page found is kept: its small buckets are older copies a lost
//! bucket can be taken from.

use crate::bbolt::carve::Geometry;
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::meta::Meta;
use crate::bbolt::order::PageId;
use crate::bbolt::recover;
use crate::bbolt::view::DbView;
use crate::etcd::meta_keys::{CONSISTENT_INDEX, FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
use crate::etcd::{revision, schema, META_BUCKET};

/// Where the root came from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootFrom {
    /// A valid meta page, the newer one (what bbolt reads).
    Meta,
    /// A valid meta page that is not the newer one: the newer one names no readable root.
    OlderMeta,
    /// A meta page that fails validation but names a readable root.
    InvalidMeta,
    /// No meta page names a readable root: found by scanning every page.
    Scan,
}

/// The root chosen.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Root {
    /// The root bucket's page.
    pub page: u64,
    /// Where it came from.
    pub from: RootFrom,
    /// The meta page (0 or 1), unless found by scanning.
    pub meta: Option<usize>,
    /// Why that meta page is invalid, when it is.
    pub meta_error: Option<String>,
    /// Pages a tree may use: the meta page's high-water mark when it is valid, else the file's.
    #[serde(skip)]
    pub limit: u64,
    /// The transaction id for the copy's meta pages.
    #[serde(skip)]
    pub txid: u64,
    /// The root bucket's sequence.
    #[serde(skip)]
    pub sequence: u64,
    /// Whether the file kept a freelist page.
    #[serde(skip)]
    pub freelist_page: bool,
    /// Whether a transaction newer than this tree may have written pages (the root is not what a
    /// valid newest meta page names).
    #[serde(skip)]
    pub tail_uncertain: bool,
    /// Every root page found by scanning, best first (the chosen one included), when the root
    /// was found that way.
    #[serde(skip)]
    pub others: Vec<u64>,
    /// Why this tree may not be the newest, as a sentence for the report (None: a valid meta
    /// page, the newest, names it).
    #[serde(skip)]
    pub note: Option<String>,
}

/// What a root page's tree says about itself, for ranking.
fn rank(data: &[u8], g: &Geometry<'_>, root: u64) -> (u64, u64, u64) {
    let view = DbView::recovered(data, g.order, g.page_size as u32, PageId(root));
    let meta = cursor::top_bucket(&view, META_BUCKET).ok().flatten();
    let index = meta
        .and_then(|m| cursor::get(&view, m, CONSISTENT_INDEX).ok().flatten())
        .and_then(|e| Some(u64::from_be_bytes(e.value.get(..8)?.try_into().ok()?)))
        .unwrap_or(0);
    let last = schema::newest_revision(&view).ok().flatten().unwrap_or(0);
    (index, last, root)
}

/// The highest compaction (scheduled or finished) recorded in the `meta` bucket of any of the
/// root pages: compactions only move forward, so the highest copy is the closest to the truth.
/// `Some(0)` when a `meta` bucket records none; `None` when no root has a readable one.
pub fn compaction(data: &[u8], g: &Geometry<'_>, roots: &[u64]) -> Option<u64> {
    roots
        .iter()
        .filter_map(|&r| {
            let view = DbView::recovered(data, g.order, g.page_size as u32, PageId(r));
            let meta = cursor::top_bucket(&view, META_BUCKET).ok().flatten()?;
            // A key that cannot be read makes this root's answer unknown, not "never compacted".
            let rev = |k: &[u8]| cursor::get(&view, meta, k).map(|e| e.and_then(|e| revision::main_of(e.value)));
            let (f, s) = (rev(FINISHED_COMPACT_REV).ok()?, rev(SCHEDULED_COMPACT_REV).ok()?);
            Some(f.max(s).unwrap_or(0))
        })
        .max()
}

/// The highest finished and scheduled compactions the `meta` buckets of the root pages `roots`
/// record, each key on its own (a value shorter than a revision, or a copy whose finished one is
/// past its scheduled one, which etcd never writes, is left out).
pub fn compactions(data: &[u8], g: &Geometry<'_>, roots: &[u64]) -> [Option<u64>; 2] {
    let mut out = [None, None];
    for &r in roots {
        let view = DbView::recovered(data, g.order, g.page_size as u32, PageId(r));
        let Some(meta) = cursor::top_bucket(&view, META_BUCKET).ok().flatten() else { continue };
        let rev = |k: &[u8]| {
            cursor::get(&view, meta, k)
                .ok()
                .flatten()
                .filter(|e| e.value.len() >= revision::REV_LEN)
                .and_then(|e| revision::main_of(e.value))
        };
        let (f, s) = (rev(FINISHED_COMPACT_REV), rev(SCHEDULED_COMPACT_REV));
        if f.zip(s).is_some_and(|(f, s)| f > s) {
            continue;
        }
        for (o, v) in out.iter_mut().zip([f, s]) {
            *o = (*o).max(v);
        }
    }
    out
}

/// The root of the bucket named `name` in the tree rooted at `root`, read with bbolt's checked
/// cursor (for older copies of small buckets).
pub fn bucket_in<'a>(data: &'a [u8], g: &Geometry<'_>, root: u64, name: &[u8]) -> Option<BucketRoot<'a>> {
    let view = DbView::recovered(data, g.order, g.page_size as u32, PageId(root));
    cursor::top_bucket(&view, name).ok().flatten()
}

/// Chooses the root (see the module docs); `None` when no page of the file reads as a root.
pub fn choose(data: &[u8], g: &Geometry<'_>) -> Option<Root> {
    let pages = g.pages();
    let metas: Vec<(usize, Meta)> = (0..2).filter_map(|i| Some((i, recover::meta_page(g, i as u64)?))).collect();
    let valid = |m: &Meta| m.is_valid() && u64::from(m.page_size) == g.page_size;
    let newest = metas.iter().filter(|(_, m)| valid(m)).map(|(_, m)| m.txid).max();
    let mut order = metas.clone();
    // bbolt's order: valid meta pages first, the newest first; invalid ones last.
    order.sort_by_key(|(i, m)| (!valid(m), std::cmp::Reverse(m.txid), *i));
    for (i, m) in &order {
        if !recover::is_root(g, m.root.0) {
            continue;
        }
        let ok = valid(m);
        let from = match (ok, Some(m.txid) == newest) {
            (true, true) => RootFrom::Meta,
            (true, false) => RootFrom::OlderMeta,
            (false, _) => RootFrom::InvalidMeta,
        };
        // An invalid meta page that claims a newer transaction: what it wrote may be missing.
        let newer_invalid = order.iter().find(|(_, o)| o.txid > m.txid && !valid(o));
        let error = m.error.clone().or_else(|| (!ok).then(|| "page size differs".into()));
        let note = match (&from, newer_invalid) {
            (RootFrom::Meta, None) => None,
            (RootFrom::Meta, Some((j, o))) => Some(format!(
                "meta page {j}, which claims a newer transaction ({}), is invalid: the tree of meta page {i} \
                 (transaction {}) is read, as bbolt reads it; what the newer transaction wrote may be lost (its \
                 records still in the file are carved)",
                o.txid, m.txid
            )),
            (RootFrom::OlderMeta, _) => Some(format!(
                "the newest valid meta page names no readable root: the older tree of meta page {i} (transaction \
                 {}) is read; what later transactions wrote may be lost",
                m.txid
            )),
            _ => Some(format!(
                "NO VALID META PAGE NAMES A READABLE ROOT: the tree read is the one invalid meta page {i} names \
                 ({}); nothing proves it is the newest tree, so the copy is never called lossless",
                error.as_deref().unwrap_or("invalid")
            )),
        };
        return Some(Root {
            page: m.root.0,
            meta: Some(*i),
            meta_error: error,
            limit: if ok { m.pgid.min(pages) } else { pages },
            txid: newest.map_or(m.txid.0, |t| t.0.max(m.txid.0)),
            sequence: m.root_sequence,
            freelist_page: ok && m.has_freelist_page(),
            tail_uncertain: note.is_some(),
            from,
            others: Vec::new(),
            note,
        });
    }
    let others = scan(data, g);
    let page = *others.first()?;
    Some(Root {
        page,
        from: RootFrom::Scan,
        meta: None,
        meta_error: None,
        limit: pages,
        txid: newest.map_or(1, |t| t.0),
        sequence: 0,
        freelist_page: false,
        tail_uncertain: true,
        others,
        note: Some(format!(
            "NO META PAGE NAMES A READABLE ROOT: root page {page} was found by scanning (the highest consistent \
             index, then the highest revision); nothing proves it is the newest tree, so the copy is never called \
             lossless"
        )),
    })
}

/// Every page that reads as a root bucket, best first (see the module docs).
pub fn scan(data: &[u8], g: &Geometry<'_>) -> Vec<u64> {
    let mut found: Vec<(u64, u64, u64)> = recover::root_pages(g).into_iter().map(|p| rank(data, g, p.0)).collect();
    found.sort_by(|a, b| b.cmp(a));
    found.into_iter().map(|f| f.2).collect()
}
