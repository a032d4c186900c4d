//! What `check` holds etcd's own records to beside the `key` bucket: `meta` entries that are not
//! well-formed (etcd stops on them), a finished compaction past the scheduled one, records of the
//! small buckets etcd cannot read, live keys whose lease is gone (warnings).

use super::meta_keys::{CONSISTENT_INDEX, FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV, STORAGE_VERSION, TERM};
use super::schema::{get, text, EtcdInfo};
use super::{revision, ALARM_BUCKET, AUTH_BUCKET, CLUSTER_BUCKET, KEY_BUCKET, LEASE_BUCKET, MEMBERS_BUCKET};
use super::{MEMBERS_REMOVED_BUCKET, META_BUCKET};
use crate::bbolt::cursor;
use crate::bbolt::view::DbView;
use crate::problem::{Problem, ProblemKind};

/// Why the `meta` bucket cannot be read for the compaction revisions, if it cannot: then every
/// judgement resting on them (which revisions a read may ask for, a revision missing above the
/// compaction) is withheld, not made against no compaction.
pub fn compactions_unreadable(view: &DbView<'_>) -> Option<Problem> {
    let meta = match cursor::top_bucket(view, META_BUCKET) {
        Ok(Some(m)) => m,
        Ok(None) => return None,
        Err(p) => return Some(p),
    };
    [SCHEDULED_COMPACT_REV, FINISHED_COMPACT_REV].into_iter().find_map(|k| match cursor::get(view, meta, k) {
        Err(p) => Some(p),
        // A value too short for a revision: etcd stops on it (the error `problems` tells).
        Ok(Some(e)) if !e.is_bucket() && e.value.len() < revision::REV_LEN => Some(short_revision(view, k, e.value)),
        Ok(_) => None,
    })
}

/// The problem of an etcd file that has lost the buckets every etcd file has: a `key` bucket
/// without `meta` (the compactions and the consistent index gone: a server restored from it would
/// serve compacted revisions as readable), `meta` without `key` (every key gone), or both.
/// Told only on evidence no other program's file gives (review 41c: a bucket named `key` whose
/// keys read as revisions, or `meta` holding `consistent_index`, is a shape any program may
/// write): at least two more of etcd's own buckets (`cluster`, `members`, `lease`, ...), and the
/// remaining bucket's content as etcd writes it (the `key` bucket's last entry an
/// `mvccpb.KeyValue` keeping etcd's invariants; `meta`'s `consistent_index` 8 bytes). `None` for an
/// etcd file, and for any other bbolt file.
pub fn bucket_missing(view: &DbView<'_>) -> Option<Problem> {
    let key = cursor::top_bucket(view, KEY_BUCKET).ok().flatten();
    let meta = cursor::top_bucket(view, META_BUCKET).ok().flatten();
    let others = [CLUSTER_BUCKET, MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET, LEASE_BUCKET, ALARM_BUCKET, AUTH_BUCKET]
        .iter()
        .filter(|n| matches!(cursor::top_bucket(view, n), Ok(Some(_))))
        .count();
    if others < 2 {
        return None;
    }
    let (missing, why) = match (key, meta) {
        (Some(kb), None) => {
            let newest = cursor::last(view, kb).ok().flatten()?;
            let (_, _, issue) = super::mvcc::Rec::check_kv(newest.key, newest.value).ok()??;
            if issue.is_some() {
                return None;
            }
            (
                "its `meta` bucket",
                "its `key` bucket holds etcd's records, but the compactions and the consistent index are gone",
            )
        }
        (None, Some(mb)) => {
            cursor::get(view, mb, CONSISTENT_INDEX).ok().flatten().filter(|e| e.value.len() == 8)?;
            ("its `key` bucket", "its `meta` bucket holds etcd's consistent_index, but every key is gone")
        }
        // Both lost (review 48c F9): told only when the `members` bucket names an etcd member as
        // etcd writes one (its id in 16 hex digits, its JSON with peer URLs).
        (None, None) if names_a_member(view) => (
            "its `key` and `meta` buckets",
            "its `members` bucket names etcd's members, but every key, the compactions and the consistent index \
             are gone",
        ),
        _ => return None,
    };
    let msg = format!("an etcd file without {missing}: {why} (lost from the root)");
    Some(Problem::new(ProblemKind::EtcdBucketMissing, msg).page(view.meta().root))
}

/// Whether the `members` bucket holds an entry as etcd writes a member: a key of 16 hex digits
/// (the member id) and a JSON object with its peer URLs.
fn names_a_member(view: &DbView<'_>) -> bool {
    let Some(b) = cursor::top_bucket(view, MEMBERS_BUCKET).ok().flatten() else { return false };
    let mut found = false;
    let _ = cursor::for_each(view, b, &mut |e| {
        let id = e.key.len() == 16 && e.key.iter().all(u8::is_ascii_hexdigit);
        let member = || serde_json::from_slice::<serde_json::Value>(e.value).is_ok_and(|j| j["peerURLs"].is_array());
        found |= !found && !e.is_bucket() && id && member();
    });
    found
}

/// The problem of `meta/key`, whose value `v` is too short for a revision.
fn short_revision(view: &DbView<'_>, key: &[u8], v: &[u8]) -> Problem {
    let why = format!("is {} bytes, not a 17-byte revision: etcd stops when it starts on this file", v.len());
    Problem::new(ProblemKind::EtcdMetaMalformed, format!("meta/{} {why}", text(key)))
        .bucket(vec![text(META_BUCKET)])
        .placed(view.place(v))
}

/// Problems with etcd's own records: `meta` entries that are not well-formed, a finished
/// compaction past the scheduled one, and live keys whose lease is gone (warnings).
pub fn problems(view: &DbView<'_>, info: &EtcdInfo) -> Vec<Problem> {
    let mut out = Vec::new();
    let meta = cursor::top_bucket(view, META_BUCKET).ok().flatten();
    let name = |k: &[u8]| String::from_utf8_lossy(k).into_owned();
    // Named by the value's place in the file (an empty value: by the byte past its key).
    let bad = |what: &str, why: String, v: &[u8]| {
        Problem::new(ProblemKind::EtcdMetaMalformed, format!("meta/{what} {why}"))
            .bucket(vec![name(META_BUCKET)])
            .placed(view.place(v))
    };
    // What etcd 3.5.1 reads of them (confirmed on real etcd, fixtures/etcd-records): the first 8
    // bytes of consistent_index and term, which `etcdutl snapshot restore` rewrites (so only a
    // member's file started in place needs them); the first 8 and the 8 after the `_` of a
    // compaction revision. Longer values and confState (not read by 3.5) stop nothing.
    if !super::trailer::present(view.data.len()) {
        for k in [CONSISTENT_INDEX, TERM] {
            if let Some(v) = get(view, meta, k).filter(|v| v.len() < 8) {
                out.push(bad(
                    &name(k),
                    format!("is {} bytes, not 8: etcd stops when it starts on this file", v.len()),
                    v,
                ));
            }
        }
    }
    for k in [SCHEDULED_COMPACT_REV, FINISHED_COMPACT_REV] {
        if let Some(v) = get(view, meta, k).filter(|v| v.len() < revision::REV_LEN) {
            out.push(short_revision(view, k, v));
        }
    }
    if let Some(v) = get(view, meta, STORAGE_VERSION) {
        let ok =
            !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.') && v.split(|b| *b == b'.').count() >= 2;
        if !ok {
            out.push(bad("storageVersion", format!("{:?} is not a version", text(v)), v));
        }
    }
    if let (Some(s), Some(f)) = (info.scheduled_compact_revision, info.finished_compact_revision) {
        if f > s {
            let at = get(view, meta, FINISHED_COMPACT_REV).unwrap_or_default();
            out.push(bad("finishedCompactRev", format!("{f} is past scheduledCompactRev {s}"), at));
        }
    }
    out.extend(super::startup::problems(view));
    for (lease, n) in &info.leases.missing {
        out.push(
            Problem::new(
                ProblemKind::LeaseMissing,
                format!("{n} live key(s) are attached to lease {lease}, which the lease bucket does not hold"),
            )
            .bucket(vec![name(LEASE_BUCKET)]),
        );
    }
    out
}
