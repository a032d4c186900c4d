//! Records of etcd's `key` bucket found without the tree: in free pages (what a file still holds
//! of deleted keys, [`free_records`]) and in pages a damaged tree no longer reaches (salvage).
//!
//! A record counts only when etcd's invariants hold ([`Rec::check`] without a complaint: a
//! revision key of the right shape, a value that decodes as an `mvccpb.KeyValue` whose mod
//! revision is the key's main revision, sane create revision and version, a tombstone that
//! carries only its key). Every record of the `key` bucket is self-describing, so one that passes
//! is the record etcd wrote at that revision, wherever it was found.
//!
//! For free pages the carving is strict ([`Mode::Strict`]): a page counts only when its header,
//! its element table and every record on it check out; and nothing carved ever stands for a
//! revision the tree still holds. For salvage, a damaged element may be read where bbolt's packed
//! layout puts it, and a record whose value checks out but whose revision key was damaged gets
//! the key its value implies ([`repair`]).

use super::mvcc::Rec;
use super::proto::{self, Kv};
use super::range::KeyRange;
use super::revision::{self, Revision, REV_LEN};
use super::revset::RevSet;
use super::scan::{self, Entry};
use super::seen::Seen;
use super::KEY_BUCKET;
use crate::bbolt::bitmap::AtomicBitmap;
use crate::bbolt::carve::{self, Candidates, CarvedLeaf, Geometry, Mode};
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::order::PageId;
use crate::bbolt::page::LeafElem;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use rayon::prelude::*;

/// Where a record was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// From the tree.
    Tree,
    /// From a free page (`"free-page"`): a record the tree no longer holds.
    FreePage,
    /// From a page the damaged tree does not reach.
    Unreached,
    /// From bytes of a leaf the tree reaches that no element lists (`"unlisted"`: an element taken
    /// out of the page, [`super::unlisted`]).
    Unlisted,
    /// From a page the damaged tree does not reach, its value running into an overflow page that
    /// is all zeros ([`crate::bbolt::carve::CarvedLeaf::zeroed_at`]).
    ZeroedRun,
}

/// A revision key: as found in the file, or rebuilt by [`repair`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevKey<'a> {
    /// The bytes in the file.
    File(&'a [u8]),
    /// Rebuilt from the record's value.
    Repaired([u8; REV_LEN]),
}

impl RevKey<'_> {
    /// The key's bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            RevKey::File(b) => b,
            RevKey::Repaired(b) => b,
        }
    }
}

/// How a record had to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fix {
    /// As its element header says.
    None,
    /// Where the packed layout puts it (its element header's position was damaged).
    Layout,
    /// With its revision key rebuilt from its value ([`repair`]): the sub revision is a guess.
    Key,
    /// Without its leaf's header, in a free page no header lists ([`super::orphan`]): its
    /// revision key and value lie where a leaf packs them.
    Headerless,
}

/// A record of the `key` bucket that checks out.
#[derive(Clone, Copy, Debug)]
pub struct KeyRecord<'a> {
    /// The revision.
    pub rev: Revision,
    /// The revision key.
    pub rev_key: RevKey<'a>,
    /// The stored `mvccpb.KeyValue` bytes.
    pub raw: &'a [u8],
    /// Its fields.
    pub kv: Kv<'a>,
    /// The page it was read from.
    pub page: PageId,
    /// How it was read.
    pub fix: Fix,
    /// Where it was read.
    pub source: Source,
}

impl<'a> KeyRecord<'a> {
    /// A record read as stated from a strictly carved free page.
    fn free_page(rev: Revision, e: &LeafElem<'a>, kv: Kv<'a>, page: PageId) -> KeyRecord<'a> {
        let (rev_key, raw, fix, source) = (RevKey::File(e.key), e.value, Fix::None, Source::FreePage);
        KeyRecord { rev, rev_key, raw, kv, page, fix, source }
    }
}

/// `(revision, fields)` of a `key` bucket entry when every etcd invariant holds; `None` for the
/// empty-valued marker of `etcdutl snapshot restore --bump-revision` and anything that fails.
pub fn record<'a>(key: &[u8], value: &'a [u8]) -> Option<(Revision, Kv<'a>)> {
    let rev = revision::parse(key)?;
    Some((rev, fields(&rev, value)?))
}

/// The fields of the record at revision `rev` (its key parsed already), when they check out.
fn fields<'a>(rev: &Revision, value: &'a [u8]) -> Option<Kv<'a>> {
    let kv = proto::kv(value).filter(|_| !value.is_empty() && value.len() < 1 << 31)?;
    Rec::sound(rev, &kv).then_some(kv)
}

/// The revision key a put's value implies when its own key was damaged: the value's mod revision
/// as main revision, `_`, and the damaged key's sub revision (a guess when that was damaged too).
/// `None` when the value is not a put that checks out, or the key needs no repair. A tombstone's
/// value holds only the key, so a tombstone cannot be repaired.
pub fn repair(key: &[u8], value: &[u8]) -> Option<[u8; REV_LEN]> {
    let kv = proto::kv(value)?;
    if !kv.more_than_key || !(key.len() == REV_LEN || key.len() == REV_LEN + 1) {
        return None;
    }
    let mut k = [0u8; REV_LEN];
    k[..8].copy_from_slice(&kv.mod_revision.to_be_bytes());
    k[8] = b'_';
    k[9..].copy_from_slice(key.get(9..REV_LEN)?);
    (key != k && record(&k, value).is_some()).then_some(k)
}

/// The record element `c` holds, if any: as stated, else where the packed layout puts it, else
/// with its key repaired. It is marked as read from `source`.
pub fn pick<'a>(c: &Candidates<'a>, page: PageId, source: Source) -> Option<KeyRecord<'a>> {
    let mk = |rev, rev_key, raw, kv, fix| KeyRecord { rev, rev_key, raw, kv, page, fix, source };
    for (e, fix) in c.stated.iter().map(|e| (e, Fix::None)).chain(c.packed.iter().map(|e| (e, Fix::Layout))) {
        if let Some((rev, kv)) = record(e.key, e.value) {
            return Some(mk(rev, RevKey::File(e.key), e.value, kv, fix));
        }
    }
    c.each().find_map(|e| {
        let k = repair(e.key, e.value)?;
        let (rev, kv) = (revision::parse(&k)?, proto::kv(e.value)?);
        Some(mk(rev, RevKey::Repaired(k), e.value, kv, Fix::Key))
    })
}

/// The records of a strictly carved page, when it is a page of the `key` bucket: every element
/// a record that checks out as stated (or the `--bump-revision` marker). `None` otherwise.
pub fn strict_records<'a>(leaf: &CarvedLeaf<'a>) -> Option<Vec<KeyRecord<'a>>> {
    let mut out = Vec::with_capacity(leaf.elems.len());
    for c in &leaf.elems {
        let e = c.stated.filter(|_| c.consistent())?;
        if e.is_bucket() {
            return None;
        }
        if revision::parse(e.key).is_some_and(|r| super::entry::is_marker(&r, e.value)) {
            continue;
        }
        let (rev, kv) = record(e.key, e.value)?;
        out.push(KeyRecord::free_page(rev, &e, kv, leaf.page.id));
    }
    (!out.is_empty()).then_some(out)
}

/// What free pages hold of the `key` bucket.
#[derive(Clone, Debug, Default)]
pub struct FreeRecords<'a> {
    /// Free pages that read strictly as leaf pages with elements (of any bucket).
    pub leaf_pages: u64,
    /// Of them, pages of the `key` bucket (every key a revision key).
    pub key_pages: u64,
    /// Records the tree does not hold, each revision once, in revision order, from pages where
    /// every record checks out.
    pub records: Vec<KeyRecord<'a>>,
}

/// One element of a free page of the `key` bucket, as the residue count reads it: its revision,
/// the element, whether the tree holds that revision, its record's fields (read last, and only
/// when the page needs them), and whether this page is the first to give the record.
struct Slot<'a> {
    rev: Revision,
    e: LeafElem<'a>,
    held: bool,
    kv: Option<Kv<'a>>,
    first: bool,
}

/// The revision keys of a strictly carved page, when it is a page of the `key` bucket (every
/// element a plain entry whose key is a revision key). Nothing of the values is read yet.
fn key_page<'a>(leaf: &CarvedLeaf<'a>) -> Option<Vec<Slot<'a>>> {
    let mut out: Vec<Slot<'a>> = Vec::with_capacity(leaf.elems.len());
    for c in &leaf.elems {
        let e = c.stated.filter(|_| c.consistent() && !c.stated.is_some_and(|e| e.is_bucket()))?;
        let rev = revision::parse(e.key)?;
        if out.last().is_some_and(|p| p.rev >= rev) {
            return None;
        }
        out.push(Slot { rev, e, held: false, kv: None, first: false });
    }
    Some(out)
}

/// Marks which of a page's revisions (ascending, as bbolt keeps a page) the tree holds: asked of
/// `tree` (the walk's revisions) when it has them in order, else each looked up in the `key`
/// bucket.
fn held(view: &DbView<'_>, tree: Option<&RevSet>, kb: Option<BucketRoot<'_>>, slots: &mut [Slot<'_>]) {
    thread_local! {
        // Where this thread's last search ended: free pages next to each other mostly hold
        // revisions next to each other.
        static HINT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    if let Some(t) = tree {
        let mut hint = HINT.get();
        let done = t.mark_near(&mut hint, slots, |s| [s.rev.main, s.rev.sub], |s, h| s.held = h);
        HINT.set(hint);
        if done {
            return;
        }
    }
    if let Some(kb) = kb {
        for s in slots {
            s.held = cursor::get(view, kb, s.e.key).is_ok_and(|e| e.is_some());
        }
    }
}

/// The records free pages hold that the tree of `view` does not: free pages are the pages in
/// `[2, high-water mark)` that `reached` (from [`crate::bbolt::structure::walk_reached`]) does
/// not mark. `tree`, when the caller's walk collected them, are the revisions the tree holds
/// (`[main, sub]` of every `key` bucket entry, in key order); else each one is looked up.
/// `compacted` is the file's compaction revision (scheduled or finished, the higher): etcd deletes
/// records only by compaction, so a page whose revisions all lie above it holds nothing the tree
/// lacks. Meaningful only when the walk read the tree whole: otherwise pages cut off by damage
/// look free.
///
/// Pages are read in steps: the element table and the first revision key; every revision key
/// when the page reaches down to the compaction; every record in full only on pages holding a
/// revision the tree lacks, and such a page counts only when all of its records check out.
pub fn free_records_with<'a>(
    view: &DbView<'a>,
    reached: &AtomicBitmap,
    tree: Option<&RevSet>,
    compacted: Option<u64>,
) -> Result<FreeRecords<'a>, Problem> {
    let keep = |rs: &mut dyn Iterator<Item = KeyRecord<'a>>, out: &mut Vec<KeyRecord<'a>>| out.extend(rs);
    let (leaf_pages, key_pages, records) = free_pages(view, reached, tree, compacted, &keep, &|r| r.rev)?;
    Ok(FreeRecords { leaf_pages, key_pages, records })
}

/// What [`free_pages`] keeps of a page's new records: it appends to the vector what it keeps.
pub type Keep<'k, 'a, T> = dyn Fn(&mut dyn Iterator<Item = KeyRecord<'a>>, &mut Vec<T>) + Sync + 'k;

/// [`free_records_with`] keeping of each record (each revision once) only what `keep` makes of
/// it, if anything (in memory for all of them at once: a count needs far less than the record);
/// `keep` gets the new records of a page at once (in revision order) and appends what it keeps;
/// `rev` gives it back its revision.
/// Returns the free leaf pages, the pages of the `key` bucket among them, and the records.
pub fn free_pages<'a, T: Send>(
    view: &DbView<'a>,
    reached: &AtomicBitmap,
    tree: Option<&RevSet>,
    compacted: Option<u64>,
    keep: &Keep<'_, 'a, T>,
    rev: &(dyn Fn(&T) -> Revision + Sync),
) -> Result<(u64, u64, Vec<T>), Problem> {
    let g = Geometry::of(view);
    let mode = Mode::Strict { limit: view.tracked_pages() };
    let tree = tree.filter(|t| t.ordered());
    let kb = if tree.is_none() { cursor::top_bucket(view, KEY_BUCKET)? } else { None };
    let seen = Seen::default();
    // The pages of every leaf read (its first page and those its elements run on into).
    let covered = AtomicBitmap::new(view.tracked_pages());
    let pages = carve::carve(&g, 2..view.tracked_pages(), mode, &|id| reached.get(id), &|leaf| {
        let id = leaf.page.id.0;
        (id..=id.saturating_add(u64::from(leaf.page.overflow))).for_each(|p| {
            covered.test_and_set(p);
        });
        let first = leaf.elems.first().and_then(|c| c.stated).and_then(|e| revision::parse(e.key));
        if first.is_some_and(|f| compacted.is_some_and(|c| f.main > c)) {
            return Some(key_page(&leaf).map(|_| Vec::new()));
        }
        let Some(mut slots) = key_page(&leaf) else { return Some(None) };
        held(view, tree, kb, &mut slots);
        // Only a page with a revision the tree lacks, and that no page read before has given, is
        // read in full (bbolt leaves many copies of a leaf it rewrote).
        if seen.has_all(slots.iter().filter(|s| !s.held && !s.e.value.is_empty()).map(|s| &s.rev)) {
            return Some(Some(Vec::new()));
        }
        // Every record of the page must check out before any is kept.
        for s in &mut slots {
            if !s.e.value.is_empty() {
                s.kv = Some(fields(&s.rev, s.e.value)?);
            }
        }
        let page = leaf.page.id;
        // A record is kept once, from the first page that gives it (copies of a leaf that bbolt
        // rewrote hold the same records): the count then holds each revision once.
        let unheld = slots.iter_mut().filter(|s| !s.held && s.kv.is_some());
        seen.first_each(unheld, |s| s.rev, |s, first| s.first = first);
        let mut new =
            slots.iter().filter(|s| s.first).filter_map(|s| Some(KeyRecord::free_page(s.rev, &s.e, s.kv?, page)));
        // A fresh vector of its own size: most pages keep nothing, and none keeps its scratch.
        let mut recs: Vec<T> = Vec::new();
        keep(&mut new, &mut recs);
        recs.shrink_to_fit();
        Some(Some(recs))
    });
    let leaf_pages = pages.len() as u64;
    let mut key_pages = 0;
    let total = pages.iter().flatten().map(Vec::len).sum();
    let mut records: Vec<T> = Vec::with_capacity(total);
    for r in pages.into_iter().flatten() {
        key_pages += 1;
        records.extend(r);
    }
    records.extend(super::orphan::headerless(view, (reached, &covered), (tree, kb), (&seen, compacted), keep));
    // Each revision is kept once already (`seen`): only their order is left to make.
    records.par_sort_unstable_by_key(|r| rev(r));
    Ok((leaf_pages, key_pages, records))
}

/// The records free pages hold for the keys `range` selects, as entries of the `key` bucket
/// marked [`scan::FREE_PAGE`], in revision order: what `log --include-free` and
/// `get --include-free` merge with the tree's (a revision the tree holds is never among them).
/// Refused like [`free_records`] for a tree that cannot be read whole.
pub fn free_entries<'a>(view: &DbView<'a>, range: &KeyRange) -> Result<Vec<Entry<'a>>, Problem> {
    let free = free_records(view)?;
    Ok(free
        .records
        .into_iter()
        .filter(|r| range.contains(r.kv.key))
        .filter_map(|r| match r.rev_key {
            RevKey::File(k) => Some(Entry { rev: r.rev, rev_key: k, raw: r.raw, kv: r.kv, ord: scan::FREE_PAGE }),
            RevKey::Repaired(_) => None,
        })
        .collect())
}

/// [`free_records_with`] after a walk of its own; refused (the walk's first problem) when the
/// tree cannot be read whole, since pages cut off by damage would pass for free ones.
pub fn free_records<'a>(view: &DbView<'a>) -> Result<FreeRecords<'a>, Problem> {
    let ((), s, reached) = crate::bbolt::structure::walk_reached(view, &());
    if let Some(p) = s.problems.iter().find(|p| p.kind.in_tree()) {
        return Err(p.clone());
    }
    let info = super::schema::read_core(view, 0);
    let compacted = info.finished_compact_revision.max(info.scheduled_compact_revision);
    free_records_with(view, &reached, None, compacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &[u8], main: u64, value: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut k = main.to_be_bytes().to_vec();
        k.push(b'_');
        k.extend_from_slice(&0u64.to_be_bytes());
        // KeyValue{key, create_revision, mod_revision, version, value}
        let mut v = vec![0x0a, key.len() as u8];
        v.extend_from_slice(key);
        v.extend_from_slice(&[0x10, main as u8, 0x18, main as u8, 0x20, 1, 0x2a, value.len() as u8]);
        v.extend_from_slice(value);
        (k, v)
    }

    #[test]
    fn a_damaged_revision_key_is_rebuilt_from_the_value_and_a_sound_one_is_left_alone() {
        let (k, v) = put(b"/a", 9, b"x");
        assert!(record(&k, &v).is_some());
        assert_eq!(repair(&k, &v), None, "nothing to repair");
        let mut bad = k.clone();
        bad[..8].copy_from_slice(&[0; 8]);
        assert!(record(&bad, &v).is_none());
        assert_eq!(repair(&bad, &v).as_ref().map(|r| &r[..]), Some(&k[..]));
        bad[8] = b'x';
        assert_eq!(repair(&bad, &v).as_ref().map(|r| &r[..]), Some(&k[..]));
        // A value that does not decode, or a tombstone (only the key), is not repaired.
        assert_eq!(repair(&bad, &v[..5]), None);
        assert_eq!(repair(&bad, &[0x0a, 2, b'/', b'a']), None);
    }
}
