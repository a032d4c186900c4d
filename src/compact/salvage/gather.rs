//! Everything a damaged file can give back, gathered before anything is written: the geometry, the
//! tree ([`root`]), every bucket read tolerantly ([`tree`]), the `key` bucket completed from
//! carved pages ([`merge`]), small buckets that cannot be read taken from an older root page, and
//! the report of what was lost.

use super::compaction;
use super::merge::{self, Merged};
use super::report::{BucketInfo, SalvageReport, KEYS_SHOWN};
use super::root::{self, Root};
use super::small;
use super::tree::{self, Top};
use crate::bbolt::carve::{self, CarvedLeaf, Geometry, Mode};
use crate::bbolt::recover::{self, Found};
use crate::bbolt::tolerant::LostRange;
use crate::bbolt::view::DbView;
use crate::compact::CompactError;
use crate::error::Error;
use crate::etcd::carve::{pick, Fix, KeyRecord, RevKey, Source};
use crate::etcd::KeyMap;
use crate::etcd::{trailer, KEY_BUCKET, META_BUCKET};
use crate::problem::{Problem, ProblemKind};

/// Plain entries of a bucket: key and value, borrowed from the file.
pub type Entries<'a> = Vec<(&'a [u8], &'a [u8])>;

/// What was gathered, ready to be written.
#[derive(Debug)]
pub struct Gathered<'a> {
    /// The pages' geometry.
    pub g: Geometry<'a>,
    /// The tree read (None: no page reads as a root; only carved records are written).
    pub root: Option<Root>,
    /// The `key` bucket, when the file is etcd's.
    pub keys: Option<Merged<'a>>,
    /// Its sequence.
    pub key_sequence: u64,
    /// The other buckets: name, sequence, entries sorted by key.
    pub plain: Vec<(&'a [u8], u64, Entries<'a>)>,
    /// What the copy records as `meta`'s finishedCompactRev and scheduledCompactRev in place of
    /// the source's value, where that cannot stand ([`compaction`]).
    pub meta_record: [Option<u64>; 2],
    /// The report so far.
    pub report: SalvageReport,
}

fn lost_all<'a>(why: &str) -> LostRange<'a> {
    LostRange::new(None, None, Problem::new(ProblemKind::PageOutOfBounds, why.to_string()))
}

/// Records of `key` found in the pages the tree did not reach.
fn carved<'a>(g: &Geometry<'a>, reached: &(dyn Fn(u64) -> bool + Sync)) -> Vec<KeyRecord<'a>> {
    let per_page = carve::carve(g, 2..g.pages(), Mode::Tolerant, reached, &|leaf| {
        let v: Vec<KeyRecord<'a>> = leaf
            .elems
            .iter()
            .filter_map(|c| pick(c, leaf.page.id, Source::Unreached))
            .map(|r| zeroed(&leaf, r))
            .collect();
        (!v.is_empty()).then_some(v)
    });
    per_page.into_iter().flatten().collect()
}

/// A carved record, marked [`Source::ZeroedRun`] when its value runs into an overflow page of
/// its leaf that is all zeros.
fn zeroed<'a>(leaf: &CarvedLeaf<'a>, r: KeyRecord<'a>) -> KeyRecord<'a> {
    if leaf.reaches_zeroed(r.raw) {
        KeyRecord { source: Source::ZeroedRun, ..r }
    } else {
        r
    }
}

/// Why no page of `data` can be read: a file cut inside its meta pages (both may be valid: what
/// was cut is every page after them), or no bbolt file at all.
fn no_geometry(data: &[u8]) -> Error {
    match crate::bbolt::meta::Metas::read(data) {
        Ok(m) => Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "holds {} bytes: its meta pages are readable, but it ends before page 2 (byte {}) where its \
                 data would begin: cut short, nothing past the meta pages to salvage",
                data.len(),
                u64::from(m.page_size).saturating_mul(2)
            ),
        )),
        Err(_) => Error::not_bbolt(),
    }
}

/// Gathers what `data` holds; `src`/`dst` name the files in the report.
pub fn gather<'a>(data: &'a [u8], src: &str, dst: &str) -> Result<Gathered<'a>, CompactError> {
    let (g, found) = recover::geometry(data).ok_or_else(|| CompactError::Unreadable(no_geometry(data)))?;
    let mut report = SalvageReport::new(src.to_string(), dst.to_string(), super::report::Method::Salvage);
    report.page_size = g.page_size;
    report.byte_order = g.order;
    report.geometry_from_meta = found == Found::Meta;
    report.src_size = data.len() as u64;
    for i in 0..2u64 {
        match recover::meta_page(&g, i) {
            Some(m) if m.is_valid() => {}
            Some(m) => report.notes.push(format!("meta page {i} is invalid: {}", m.error.unwrap_or_default())),
            None => report.notes.push(format!("meta page {i} cannot be read")),
        }
    }
    let unvouched = trailer::verify(data).filter(|t| !t.ok());
    if let Some(t) = &unvouched {
        report.notes.push(format!(
            "the sha256 trailer ({}) does not match the file ({}): bytes changed somewhere, and a value that still \
             decodes may carry the change",
            t.stored, t.computed
        ));
    }
    if let Some(p) = DbView::new(data).ok().and_then(|v| trailer::tail_problem(&v)).filter(|p| !p.kind.is_warning()) {
        report.notes.push(format!(
            "the sha256 trailer is missing or cut ({p}): nothing vouches for the bytes, and a value that still \
             decodes may carry a change"
        ));
    }
    let root = root::choose(data, &g);
    report.notes.extend(root.as_ref().and_then(|r| r.note.clone()));
    let mut reader = tree::reader(g, root.as_ref().map_or(g.pages(), |r| r.limit));
    let (listed, root_lost) = match &root {
        Some(r) => tree::read_root(&mut reader, r.page),
        None => (Vec::new(), vec![lost_all("no page reads as a root bucket")]),
    };
    for l in &root_lost {
        report.skipped(b"", l.problem.clone());
    }
    let mut tops: Vec<Top<'a>> = Vec::new();
    let mut listed = listed;
    listed.sort_by(|a, b| a.0.cmp(b.0));
    listed.dedup_by(|a, b| a.0 == b.0);
    for (name, sequence, b) in listed {
        let mut top = Top { name, sequence, ..Top::default() };
        if name == KEY_BUCKET {
            tree::read_keys(&mut reader, b, &mut top);
        } else {
            tree::read_plain(&mut reader, b, &mut top);
        }
        for l in &top.lost {
            report.skipped(name, l.problem.clone());
        }
        tops.push(top);
    }
    for p in std::mem::take(&mut reader.repaired) {
        report.notes.push(format!("damaged page read whole: {p}"));
    }
    let key_at = tops.iter().position(|t| t.name == KEY_BUCKET);
    let mut key_top = key_at.map(|i| tops.remove(i)).unwrap_or_default();
    let mut lost = std::mem::take(&mut key_top.lost);
    if key_at.is_none() {
        lost.push(lost_all("the key bucket cannot be reached"));
    }
    // A transaction newer than this tree may have written records past its last one; so may
    // one whose pages are gone when the trailer says the bytes are not those etcd saved (a last
    // leaf dropped from its branch leaves no hole to find).
    let real_losses = lost.len();
    if root.as_ref().is_some_and(|r| r.tail_uncertain) || unvouched.is_some() {
        let last = key_top
            .records
            .iter()
            .filter_map(|r| match r.rev_key {
                RevKey::File(b) => Some(b),
                RevKey::Repaired(_) => None,
            })
            .max();
        lost.push(LostRange::new(last, None, Problem::new(ProblemKind::MetaInvalid, String::new())));
    }
    let mut roots: Vec<u64> =
        root.iter().flat_map(|r| std::iter::once(r.page).chain(r.others.iter().copied())).collect();
    // With no `key` bucket in the tree, every record is carved, whatever the compaction.
    let early = key_at.is_none();
    let had_suspect = !key_top.suspect.is_empty();
    let mut found_recs = std::mem::take(&mut key_top.suspect);
    if early {
        found_recs.extend(carved(&g, &|id| reader.reached.get(id)));
    }
    let etcd = key_at.is_some() || !found_recs.is_empty();
    // Small buckets that could not be read whole come from an older root page, if one has them.
    // Every page that reads as a root, for older copies of what the tree lost (read once).
    let scanned = root::scan(data, &g);
    let from = small::From { root: root.as_ref(), root_lost: !root_lost.is_empty(), etcd, scanned: &scanned };
    let plain = small::buckets(data, &g, &tops, &mut roots, from, &mut report);
    // The compaction the copy records (its `meta` bucket), judged against the tree's records.
    let meta = plain.iter().find(|(n, _, _)| *n == META_BUCKET).map(|(_, _, e)| &e[..]);
    let meta_whole = report.buckets.iter().any(|b| b.name.as_bytes() == META_BUCKET && b.complete);
    // The records bound it where the tree lost pages, not where only the trailer or the meta
    // pages leave the newest revisions in doubt (the last range pushed above).
    let bounds = compaction::bounds(&key_top.records, &lost[..real_losses]);
    let current = root.as_ref().map(|r| r.page);
    let mut older: Vec<u64> = roots.iter().copied().filter(|&r| Some(r) != current).collect();
    let scanned: Vec<u64> = scanned.iter().copied().filter(|&r| Some(r) != current && !older.contains(&r)).collect();
    older.extend(scanned);
    let other = compaction::Elsewhere {
        any_root: root::compaction(data, &g, &roots),
        older: root::compactions(data, &g, &older),
    };
    let judged = compaction::judge(meta, meta_whole, other, bounds);
    let compacted = judged.revision;
    report.notes.extend(judged.notes.iter().cloned());
    // Revisions missing above the compaction from a tree that reads whole (a leaf lost with its
    // branch element, or replaced by a stale copy) are looked for in the pages it does not reach.
    let holes = compacted.is_some_and(|c| !merge::gaps(&key_top.records, &[], c).is_empty());
    let need_carve = !lost.is_empty() || had_suspect || holes;
    if need_carve && !early {
        // The leaves whose elements point at records out of order are carved as well.
        let recarve = &key_top.recarve;
        found_recs.extend(carved(&g, &|id| reader.reached.get(id) && !recarve.contains(&id)));
    }
    let keys = etcd.then(|| merge::merge(std::mem::take(&mut key_top.records), found_recs, &lost, compacted));
    report.root = root.clone();
    report.compact_revision = compacted;
    // The compaction keys the copy records (none without a `meta` bucket).
    let recorded = meta.map(|m| compaction::recorded(m, &judged));
    // Sub revisions missing above the compaction in what was put together (a revision key read
    // with a damaged sub revision): the copy holds a record etcd did not write as it is.
    let mut holes_left = false;
    if let Some(k) = &keys {
        describe_keys(&mut report, k, &lost, (compacted, recorded), key_top.dropped, need_carve);
        let mut seq = crate::etcd::continuity::Continuity::default();
        for r in &k.records {
            let shaped = crate::etcd::continuity::migrate_shaped(&r.rev, r.kv.version);
            // (Where each record lies in the copy is not known here: no page is named.)
            seq.push((r.rev.main, r.rev.sub), shaped, None, None);
        }
        let hole = compacted.and_then(|c| seq.problem(c)).filter(|p| !p.kind.is_warning());
        if let Some(p) = hole.filter(|_| report.revision_ranges_lost.is_empty()) {
            holes_left = true;
            report.notes.push(format!("the copy {}", p.message));
        }
    }
    // What the copy is opened at: its compaction keys, by etcd's rule at its last revision.
    if let Some((f, sch)) = recorded {
        let at = compaction::store_compaction((f, sch), report.last_revision);
        report.compact_revision = Some(at);
        if let Some(s) = sch.filter(|&s| s > at && !bounds.whole && s > report.last_revision) {
            report.notes.push(format!(
                "scheduledCompactRev {s} lies past the copy's last revision ({}; later ones were lost): a server \
                 restored from the copy does not run it, and the revisions it had compacted may read with records \
                 missing",
                report.last_revision
            ));
        }
    }
    // Nothing lost only when nothing was skipped: a page of the `key` bucket that could not be
    // read may have held records no neighbour accounts for (a transaction's further sub
    // revisions, the newest revisions), whatever carving found.
    report.lossless = report.revision_ranges_lost.is_empty()
        && report.revision_ranges_possibly_lost.is_empty()
        && report.revisions_lost_from.is_none()
        && report.revisions_possibly_lost_after.is_none()
        && report.uncertain_keys == 0
        && report.buckets.iter().all(|b| b.complete)
        && report.nested_buckets_left_out == 0
        && report.entries_unreadable == 0
        && report.revisions.unreadable == 0
        && report.notes.iter().all(|n| !n.starts_with("the sha256"))
        && report.pages_skipped_total == 0
        && !holes_left
        && !judged.repaired()
        && root.as_ref().is_some_and(|r| !r.tail_uncertain);
    Ok(Gathered { g, root, keys, key_sequence: key_top.sequence, plain, meta_record: judged.record, report })
}

/// The `key` bucket's part of the report.
/// `compaction`: the highest compaction etcd may have run, and the compaction keys the copy
/// records (none without a `meta` bucket).
#[allow(clippy::type_complexity)]
fn describe_keys(
    report: &mut SalvageReport,
    k: &Merged<'_>,
    lost: &[LostRange<'_>],
    (compacted, recorded): (Option<u64>, Option<(Option<u64>, Option<u64>)>),
    unreadable: u64,
    carved: bool,
) {
    let last = k.records.iter().map(|r| r.rev.main).max().unwrap_or(0);
    let r = &mut report.revisions;
    r.recovered = k.records.len() as u64;
    r.from_tree = k.from_tree;
    r.carved = k.found;
    r.left_out = k.left_out;
    r.unreadable = unreadable;
    r.layout_repaired = k.records.iter().filter(|x| x.fix == Fix::Layout).count() as u64;
    r.key_repaired = k.records.iter().filter(|x| x.fix == Fix::Key).count() as u64;
    report.last_revision = last;
    // A record the tree holds but could not read, found again elsewhere, is not lost.
    let recovered = |key: &[u8]| k.records.binary_search_by(|r| r.rev_key.bytes().cmp(key)).is_ok();
    let lost: Vec<LostRange<'_>> =
        lost.iter().filter(|l| merge::single_key(l).map_or(true, |key| !recovered(key))).cloned().collect();
    let lost = &lost[..];
    let unread: Vec<&[u8]> = lost.iter().filter_map(merge::single_key).collect();
    report.revision_ranges_lost = compacted.map(|c| merge::gaps(&k.records, &unread, c)).unwrap_or_default();
    report.revision_ranges_possibly_lost = merge::possibly_lost(lost, compacted, last);
    (report.revisions_lost_from, report.revisions_possibly_lost_after) = merge::open_end(lost, compacted, last);
    // A live key whose newest record is older than a lost revision may have changed there; with
    // the newest revisions lost (an open end), every live key may have.
    // So may one older than a range that may have held records (at or below the compaction, which
    // keeps each key's newest record there).
    let lost_above = match report.revisions_lost_from {
        Some(_) => u64::MAX,
        None => report
            .revision_ranges_lost
            .iter()
            .chain(&report.revision_ranges_possibly_lost)
            .map(|g| g[1])
            .max()
            .unwrap_or(0),
    };
    // A server opened on the copy starts at its last revision, or at its compaction if later.
    let start = last.max(recorded.map_or(0, |r| compaction::store_compaction(r, last)));
    if let Some(from) = report.revisions_lost_from {
        report.notes.push(format!(
            "revisions {from} and later are lost: a cluster restored from the copy starts at revision {start} and \
             gives revisions from {} on to new writes again, which clients and watchers that saw the lost ones \
             (Kubernetes' caches) take for changes already seen",
            start.saturating_add(1)
        ));
    } else if let Some(&[_, to]) = report.revision_ranges_lost.last().filter(|g| g[1] > last) {
        let again = match start.saturating_add(1) {
            from if from == to => format!("revision {to} to a new write"),
            from => format!("revisions {from} to {to} to new writes"),
        };
        report.notes.push(format!(
            "revision {to} existed and its record cannot be read: a cluster restored from the copy starts at \
             revision {start} and gives {again} again, which clients and watchers that saw it (Kubernetes' caches) \
             take for changes already seen"
        ));
    } else if let Some(after) = report.revisions_possibly_lost_after {
        report.notes.push(format!(
            "revisions after {after} may be lost: a cluster restored from the copy starts at revision {start} and \
             may give revisions that already existed to new writes again"
        ));
    }
    // The newest record of each key: (main, tombstone, uncertain).
    let mut newest: KeyMap<&[u8], (u64, bool, bool)> = KeyMap::default();
    let mut uncertain: Vec<&[u8]> = Vec::new();
    for (rec, &u) in k.records.iter().zip(&k.uncertain) {
        if rec.raw.is_empty() {
            continue;
        }
        newest.insert(rec.kv.key, (rec.rev.main, rec.rev.tombstone, u));
        if u && !uncertain.contains(&rec.kv.key) {
            uncertain.push(rec.kv.key);
        }
    }
    let mut at_risk: Vec<(u64, &[u8])> = newest
        .iter()
        .filter(|(_, (main, tomb, u))| !tomb && (*u || *main < lost_above))
        .map(|(key, (main, _, _))| (*main, *key))
        .collect();
    at_risk.sort_unstable();
    report.live_keys = Some(newest.values().filter(|(_, tomb, _)| !tomb).count() as u64);
    report.live_keys_at_risk = at_risk.len() as u64;
    // A key that is not UTF-8 is written with its other bytes escaped (`\xff`), never replaced;
    // one whose bytes hold a Secret in the clear (a value read as a key) is not shown.
    let show = |k: &[u8]| {
        let k = crate::k8s::secret::shown_key(k);
        match std::str::from_utf8(k) {
            Ok(s) => s.to_string(),
            Err(_) => k.escape_ascii().to_string(),
        }
    };
    report.live_keys_at_risk_first = at_risk.iter().take(KEYS_SHOWN).map(|(_, k)| show(k)).collect();
    report.uncertain_keys = uncertain.len() as u64;
    report.uncertain_keys_first = uncertain.iter().take(KEYS_SHOWN).map(|k| show(k)).collect();
    let source = if carved && k.found > 0 { "tree+carved" } else { "tree" };
    let complete = report.revision_ranges_lost.is_empty()
        && report.revision_ranges_possibly_lost.is_empty()
        && report.revisions_lost_from.is_none()
        && report.revisions_possibly_lost_after.is_none()
        && lost.is_empty()
        && unreadable == 0;
    report.buckets.push(BucketInfo {
        name: "key".into(),
        entries: k.records.len() as u64,
        source: source.into(),
        complete,
    });
    report.buckets.sort_by(|a, b| a.name.cmp(&b.name));
}
