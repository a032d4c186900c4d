//! etcd's HashKV (`etcdctl endpoint hashkv`), offline: CRC-32C starting with the bucket name
//! `key`, then every entry's key and value in order, skipping entries above `rev`, entries at or
//! below the compact revision C that are not in a keep set, and a tombstone exactly at C
//! (ETCD-FORMAT.md section 6).
//!
//! etcd's `HashByRev` takes the keep set at `rev` ([`at`]: per key, the newest entry at or
//! below `rev` unless its generation ended in a tombstone by then), so an entry a compaction kept
//! at C is left out once the key was written again before `rev`; checked against real etcd 3.5.1
//! on every fixture (fixtures/key-answers/*.hashkv.jsonl). [`kept_at_compaction`] takes the keep set at C
//! instead: the same number when `rev` is C or no kept key was written again, and the check
//! `compact` runs between a source and its compacted copy (both sides hashed the same way).

use super::compaction::{self, Keep};
use super::continuity::Continuity;
use super::header::{RevError, Store};
use super::history::Judged;
use super::status::{table, Format};
use super::{revision, scan, KEY_BUCKET};
use crate::bbolt::cursor;
use crate::bbolt::layout::Run;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use crc32c::crc32c_append;

/// HashKV at `rev` with the keep set of the compaction at `compact_rev`, not etcd's keep set at
/// `rev` (see the module docs): equal to [`at`]'s hash when `rev` is the compaction revision; what
/// `compact` compares between a source and its compacted copy.
pub fn kept_at_compaction(view: &DbView<'_>, rev: u64, compact_rev: Option<u64>) -> Result<u32, Problem> {
    let keep = match (compact_rev, cursor::top_bucket(view, KEY_BUCKET)?) {
        (Some(c), Some(kb)) => Some((c, compaction::keep(view, kb, c)?)),
        _ => None,
    };
    hashkv_with(view, rev, keep.as_ref().map(|(c, k)| (*c, k)))
}

/// [`kept_at_compaction`] with the compaction's keep set already computed (for the same view and revision).
pub fn hashkv_with(view: &DbView<'_>, rev: u64, compact: Option<(u64, &Keep)>) -> Result<u32, Problem> {
    hash_entries(view, rev, compact.map(|(c, k)| (c, k, Filter::Always)), false).map(|(crc, _)| crc)
}

/// When the keep set filters the entries at or below the compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    /// As etcd's `HashByRev`: only when etcd's keep set has an entry ([`Keep::kept_at_or_below`]).
    AsEtcd,
    /// Always: what `compact` compares between a source and its copy, which holds exactly the
    /// survivors (a copy compacted where no key is live holds none of what the filter drops).
    Always,
}

/// The hash; with `checked`, every entry is also checked as the key readers check it (its key a
/// revision, its value an `mvccpb.KeyValue` that keeps etcd's invariants, revisions strictly
/// increasing), and the first failure is the answer: a hash of a damaged bucket is no answer;
/// the revisions' continuity is followed too (checked only), for the caller to judge.
fn hash_entries(
    view: &DbView<'_>,
    rev: u64,
    compact: Option<(u64, &Keep, Filter)>,
    checked: bool,
) -> Result<(u32, Continuity), Problem> {
    let mut crc = crc32c_append(0, KEY_BUCKET);
    let mut seq = Continuity::default();
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET)? else { return Ok((crc, seq)) };
    let mut ord = 0u64;
    let mut last: Option<(u64, u64)> = None;
    cursor::for_each_leaf(view, kb, &mut |page| {
        // Entries hashed back to back that lie back to back in the page take one CRC call.
        let mut run = Run::new(page);
        for i in 0..usize::from(page.count) {
            let e = page.leaf_elem(i)?;
            ord += 1;
            if checked {
                let at = Some(page.offset_of(e.key));
                let entry = scan::decode(page.id, ord - 1, at, e.key, e.value)?;
                // The --bump-revision marker's revision counts too (as `check` counts it).
                if let Some(r) = entry.map(|x| x.rev).or_else(|| revision::parse(e.key)) {
                    let now = (r.main, r.sub);
                    if let Some(prev) = last.filter(|&p| p >= now) {
                        return Err(scan::out_of_order(page.id, prev, now).offset(page.offset_of(e.key)));
                    }
                    last = Some(now);
                    let shaped = entry.is_some_and(|x| super::continuity::migrate_shaped(&r, x.kv.version));
                    seq.push(now, shaped, Some(page.id.0), at);
                }
            }
            let Some(r) = revision::parse(e.key) else { continue };
            if r.main > rev {
                continue;
            }
            if let Some((c, k, filter)) = compact {
                // etcd filters by its keep set only when that set has an entry (it holds no
                // tombstone, not even one at `rev`: [`Keep::kept_at_or_below`]).
                let filters = filter == Filter::Always || k.kept_at_or_below;
                if r.main <= c && filters && !k.get(ord - 1) {
                    continue;
                }
                if r.tombstone && r.main == c {
                    continue;
                }
            }
            for part in [e.key, e.value] {
                if let Some(b) = run.add(part) {
                    crc = crc32c_append(crc, b);
                }
            }
        }
        if let Some(b) = run.take() {
            crc = crc32c_append(crc, b);
        }
        Ok(())
    })?;
    Ok((crc, seq))
}

/// The problem of revisions missing above the compaction, from a checked pass's continuity (or
/// the warning that they are as a migration from v2 leaves them).
fn holes(view: &DbView<'_>, seq: &Continuity) -> Option<Problem> {
    let compacted = super::history::Compacted::read(view);
    seq.problem(compacted.upto).filter(|_| !compacted.unknown)
}

/// What `etcdutl hashkv` (3.6) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HashKv {
    /// The hash.
    pub hash: u32,
    /// The revision hashed.
    #[serde(rename = "hashRevision")]
    pub hash_revision: i64,
    /// The compaction revision a store opened on the file has: `finishedCompactRev`, or the
    /// scheduled one when a compaction was scheduled and not finished (opening the store resumes
    /// it, and a restored server's `endpoint hashkv` reports it); -1 when never compacted.
    #[serde(rename = "compactRevision")]
    pub compact_revision: i64,
}

/// Why no hash: the revision is refused, or the `key` bucket cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashError {
    /// etcd refuses the revision.
    Rev(RevError),
    /// The bucket cannot be read.
    Unreadable(Problem),
}

/// HashKV at `rev` (0: the current revision) as `etcdutl hashkv` computes it: a revision below the
/// compaction floor is refused, one equal to it is hashed (the 3.5.1 server refuses that one too:
/// `etcdctl endpoint hashkv --rev C` fails where this answers), one past the head is refused.
///
/// Only 0 means the current revision: a negative `rev` passes both checks and hashes no entry
/// (every revision is above it), so the hash is that of the bucket name alone (the 3.5.1 server
/// gives the same hash), reported with the revision as asked, as etcdutl 3.6 reports it (the
/// server's answer carries only its current revision, in its header).
///
/// Beside the hash, what holding the keys' histories (every record, whatever the revision hashed,
/// as `check` holds them) to etcd's rules found: a stale leaf in the tree reads well and hashes,
/// but no etcd wrote that bucket.
pub fn at(view: &DbView<'_>, rev: i64) -> Result<(HashKv, Judged), HashError> {
    let store = Store::read(view).map_err(HashError::Unreadable)?;
    let compact_revision = store.compacted.map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
    // The tree is listed first, as the key readers list it (a page reached twice is a problem),
    // and every entry is checked as it is hashed: a damaged bucket gets no hash, whatever the
    // revision (no etcd holds such a file).
    let kb = cursor::top_bucket(view, KEY_BUCKET).map_err(HashError::Unreadable)?;
    let leaves = kb.map(|kb| scan::leaves(view, kb)).transpose().map_err(HashError::Unreadable)?;
    if rev < 0 {
        let (_, seq) = hash_entries(view, 0, None, true).map_err(HashError::Unreadable)?;
        let judged = match &leaves {
            Some(l) => compaction::judge(view, l, None).map_err(HashError::Unreadable)?,
            None => Judged::default(),
        };
        let judged = Judged { holes: holes(view, &seq), ..judged };
        return Ok((HashKv { hash: crc32c_append(0, KEY_BUCKET), hash_revision: rev, compact_revision }, judged));
    }
    let r = store.read_at(rev).map_err(HashError::Rev)?;
    // The keep set from the leaves listed above (the tree is not listed twice), also when it
    // filters nothing (no compaction): the pass judges the histories.
    let keep = match &leaves {
        Some(l) => Some(compaction::keep_in(view, l, r, None).map_err(HashError::Unreadable)?),
        None => None,
    };
    let judged = keep.as_ref().map(Keep::judged).unwrap_or_default();
    // A compaction at C scheduled and not finished: the file still holds records at or below C
    // that it deletes, which no server has once it resumes it. Where etcd's keep set at `rev`
    // filters (it has an entry), it leaves them out already; where it does not, the hash is of
    // what the finished compaction leaves: its own keep set at C (review 45b: a file saved while
    // etcd compacted, with no key live at `rev`, hashed every old record).
    let pending = store.compacted.filter(|&c| store.finished != Some(c));
    let finishing = match (pending, &leaves, &keep) {
        (Some(c), Some(l), Some(k)) if !k.kept_at_or_below => {
            Some((c, compaction::keep_in(view, l, c, None).map_err(HashError::Unreadable)?))
        }
        _ => None,
    };
    let compact = match &finishing {
        Some((c, k)) => Some((*c, k, Filter::Always)),
        None => store.compacted.zip(keep.as_ref()).map(|(c, k)| (c, k, Filter::AsEtcd)),
    };
    let (hash, seq) = hash_entries(view, r, compact, true).map_err(HashError::Unreadable)?;
    let judged = Judged { holes: holes(view, &seq), ..judged };
    Ok((HashKv { hash, hash_revision: i64::try_from(r).unwrap_or(i64::MAX), compact_revision }, judged))
}

/// Renders a result exactly as `etcdutl hashkv -w FORMAT` prints it.
pub fn render(h: &HashKv, format: Format) -> String {
    let cells = [h.hash.to_string(), h.hash_revision.to_string(), h.compact_revision.to_string()];
    match format {
        Format::Simple => format!("{}\n", cells.join(", ")),
        Format::Json => format!("{}\n", serde_json::to_string(h).unwrap_or_default()),
        Format::Fields => format!(
            "\"Hash\" : {}\n\"Hash revision\" : {}\n\"Compact revision\" : {}\n",
            h.hash, h.hash_revision, h.compact_revision
        ),
        Format::Table => table(&["HASH", "HASH REVISION", "COMPACT REVISION"], &cells),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_etcdutl() {
        // FORMATS.md, etcdutl hashkv: an empty new store.
        let h = HashKv { hash: 1084519789, hash_revision: 1, compact_revision: -1 };
        assert_eq!(render(&h, Format::Simple), "1084519789, 1, -1\n");
        assert_eq!(render(&h, Format::Json), "{\"hash\":1084519789,\"hashRevision\":1,\"compactRevision\":-1}\n");
        assert!(render(&h, Format::Table).contains("| 1084519789 |             1 |               -1 |"));
    }

    #[test]
    fn the_bucket_name_alone_hashes_to_the_empty_keyspace_hash() {
        // FORMATS.md: tiny-1 `--rev 1` (nothing written yet) hashed 1084519789 on the server.
        assert_eq!(crc32c_append(0, KEY_BUCKET), 1084519789);
    }
}
