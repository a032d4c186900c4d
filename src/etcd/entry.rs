//! One entry of the `key` bucket decoded and checked as every reader checks it (a revision key,
//! an `mvccpb.KeyValue` that keeps etcd's invariants), problems located by page and byte offset;
//! and one entry fetched by its revision key.

use super::mvcc::Rec;
use super::proto::{self, Kv};
use super::revision::{self, Revision};
use super::KEY_BUCKET;
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::order::PageId;
use crate::bbolt::view::DbView;
use crate::problem::{Problem, ProblemKind};

/// One entry of the `key` bucket, decoded.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The revision key, parsed.
    pub rev: Revision,
    /// The revision key's bytes (17, or 18 for a tombstone): what the bucket is keyed by.
    pub rev_key: &'a [u8],
    /// The stored `mvccpb.KeyValue` bytes.
    pub raw: &'a [u8],
    /// Its fields (a tombstone has only the key).
    pub kv: Kv<'a>,
    /// Its position in the bucket (counting every element, also the ones passed over), or
    /// [`FREE_PAGE`] for a record carved from a free page.
    pub ord: u64,
}

/// The `ord` of an entry carved from a free page ([`crate::etcd::carve::free_entries`]): it has
/// no position in the bucket.
pub const FREE_PAGE: u64 = u64::MAX;

impl Entry<'_> {
    /// Whether the entry was carved from a free page: a record the tree no longer holds.
    pub fn from_free_page(&self) -> bool {
        self.ord == FREE_PAGE
    }

    /// What the entry tells its key's history.
    pub fn step(&self) -> super::history::Step {
        super::history::Step::of(&self.rev, &self.kv)
    }
}

/// Whether an entry is the marker `etcdutl snapshot restore --bump-revision` writes: an empty
/// value under a put's revision key at sub revision 0 (the revision it bumps the store to). It
/// holds no record, but its revision is one the store went through: readers count it when they
/// follow the revisions' continuity, as `check` does. An empty value under a tombstone's key or at
/// another sub revision is no marker: [`decode`] calls it damage.
pub fn is_marker(rev: &Revision, value: &[u8]) -> bool {
    value.is_empty() && rev.sub == 0 && !rev.tombstone
}

/// The problem of an empty value that is no marker ([`is_marker`]).
pub fn empty_value(rev: &Revision) -> (ProblemKind, String) {
    let why = format!(
        "empty value at revision {}.{}{}: etcd writes an empty value only as the marker of `etcdutl snapshot \
         restore --bump-revision`, under a put's key at sub revision 0",
        rev.main,
        rev.sub,
        if rev.tombstone { " (a tombstone's key)" } else { "" }
    );
    (ProblemKind::InvalidKeyValue, why)
}

/// Decodes one `key` bucket element (at file offset `at` when known): `Ok(None)` for the
/// empty-valued marker ([`is_marker`]). A record that breaks etcd's invariants between its
/// revision key and its fields (a put whose mod revision is not its key's, a tombstone with data:
/// what `check` calls damage) is a problem too, so no reader answers from it.
pub fn decode<'a>(
    page: PageId,
    ord: u64,
    at: Option<u64>,
    key: &'a [u8],
    value: &'a [u8],
) -> Result<Option<Entry<'a>>, Problem> {
    let Some(rev) = revision::parse(key) else {
        let why = format!("key of {} bytes is not a revision (8-byte main, '_', 8-byte sub, optional 't')", key.len());
        return Err(located(page, at, ProblemKind::InvalidRevisionKey, why));
    };
    if is_marker(&rev, value) {
        return Ok(None);
    }
    if value.is_empty() {
        let (kind, why) = empty_value(&rev);
        return Err(located(page, at, kind, why));
    }
    let Some(kv) = proto::kv(value) else {
        let why = format!("value of revision {} is not an mvccpb.KeyValue", rev.main);
        return Err(located(page, at, ProblemKind::InvalidKeyValue, why));
    };
    if let Some((kind, why)) = Rec::invariant(&rev, &kv) {
        return Err(located(page, at, kind, why));
    }
    Ok(Some(Entry { rev, rev_key: key, raw: value, kv, ord }))
}

/// A problem of the `key` bucket's element on `page` (at file offset `at`, when known). Out of
/// line: the scan's loop stays small.
#[cold]
#[inline(never)]
fn located(page: PageId, at: Option<u64>, kind: ProblemKind, why: String) -> Problem {
    let p = Problem::new(kind, why).page(page).bucket(vec![String::from_utf8_lossy(KEY_BUCKET).into_owned()]);
    match at {
        Some(o) => p.offset(o),
        None => p,
    }
}

/// The `key` bucket's root, if the file has one.
pub fn key_bucket<'a>(view: &DbView<'a>) -> Result<Option<BucketRoot<'a>>, Problem> {
    cursor::top_bucket(view, KEY_BUCKET)
}

/// Fetches one entry by its revision key (a B+tree lookup): `Ok(None)` when absent.
pub fn fetch<'a>(view: &DbView<'a>, kb: BucketRoot<'a>, rev_key: &[u8]) -> Result<Option<Entry<'a>>, Problem> {
    match cursor::get(view, kb, rev_key)? {
        Some(e) if !e.is_bucket() => {
            // Where the element lies, for a problem: its key's offset in the mapped file.
            let place = view.place(e.key);
            decode(place.map_or(PageId(0), |(p, _)| p), 0, place.map(|(_, o)| o), e.key, e.value)
        }
        _ => Ok(None),
    }
}
