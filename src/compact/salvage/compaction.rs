//! The compaction revision a salvage works with: read from the `meta` bucket the copy carries, and
//! judged against the records the tree gave when that bucket holds what etcd never writes.
//!
//! The revision decides which records found outside the tree are certain (above it) and which may
//! be residue (at or below it), and it is what the copy records, so the two must agree: a copy
//! whose records and compaction contradict each other fails `check` (`history_inconsistent`,
//! `etcd_meta_malformed`).
//!
//! - A `meta` bucket that cannot be read is no evidence of "never compacted": the revision is then
//!   unknown (`None`: nothing found elsewhere is certain), unless an older root page's copy of the
//!   bucket gives it.
//! - `finishedCompactRev` past `scheduledCompactRev` is never written by etcd (it schedules, then
//!   finishes at the same revision): one of the two is damaged. The one the records allow is
//!   taken, and the copy records it as both.
//! - A compaction key shorter than a revision (etcd stops on it) is recorded by the copy as the
//!   revision taken.
//! - A `scheduledCompactRev` past the head is not run by etcd (a future revision); the finished
//!   one counts then, as for `check`.

use crate::bbolt::tolerant::LostRange;
use crate::etcd::carve::KeyRecord;
use crate::etcd::meta_keys::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
use crate::etcd::revision;
use std::collections::HashMap;

/// The compaction revision judged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// The revision (`None`: unknown).
    pub revision: Option<u64>,
    /// The revision the copy records as both compaction keys, instead of the source's values.
    pub rewrite: Option<u64>,
    /// What was judged, as a sentence for the report.
    pub note: Option<String>,
}

/// A compaction key's value as read: absent, unreadable, or a main revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Absent,
    Unreadable,
    Rev(u64),
}

fn value(meta: &[(&[u8], &[u8])], name: &[u8]) -> Value {
    match meta.iter().find(|(k, _)| *k == name) {
        None => Value::Absent,
        Some((_, v)) if v.len() < 17 => Value::Unreadable,
        Some((_, v)) => revision::main_of(v).map_or(Value::Unreadable, Value::Rev),
    }
}

/// What the tree's records allow of a compaction revision C: `upper`, the highest C under which
/// etcd would have left them as they are (a key with two records at or below C would have lost the
/// older; a tombstone below C would be gone), and `lower`, the highest revision with no record
/// where the tree read whole around it (above C every revision has one), and the last revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    upper: u64,
    lower: u64,
    head: u64,
}

/// The bounds the tree's records (`records`, each read where the tree holds it) put on C; `lost`
/// are the key ranges the tree could not read.
pub fn bounds(records: &[KeyRecord<'_>], lost: &[LostRange<'_>]) -> Bounds {
    let mut revs: Vec<(u64, bool, &[u8])> =
        records.iter().filter(|r| !r.raw.is_empty()).map(|r| (r.rev.main, r.rev.tombstone, r.kv.key)).collect();
    revs.sort_unstable();
    let mut upper = u64::MAX;
    let mut last_of: HashMap<&[u8], u64> = HashMap::new();
    for &(main, tomb, key) in &revs {
        if tomb {
            upper = upper.min(main);
        }
        if let Some(prev) = last_of.insert(key, main) {
            if prev < main {
                upper = upper.min(main - 1);
            }
        }
    }
    let mut lower = 0;
    for w in revs.windows(2) {
        let (a, b) = (w[0].0, w[1].0);
        if b > a.saturating_add(1) {
            let g = b - 1;
            let read_whole = !lost.iter().any(|l| l.contains(&revision::key_bytes(g, 0)));
            if read_whole {
                lower = lower.max(g);
            }
        }
    }
    Bounds { upper, lower, head: revs.last().map_or(0, |r| r.0) }
}

/// Judges the compaction from the `meta` bucket the copy carries (`None`: none is written),
/// whether it was read whole from the tree, and `fallback`, the highest compaction any root page's
/// `meta` bucket records.
pub fn judge(meta: Option<&[(&[u8], &[u8])]>, whole: bool, fallback: Option<u64>, b: Bounds) -> Judged {
    let Some(meta) = meta else { return Judged { revision: fallback, ..Judged::default() } };
    let (f, s) = (value(meta, FINISHED_COMPACT_REV), value(meta, SCHEDULED_COMPACT_REV));
    let head = |f: u64| b.head.max(f).max(1);
    let revision = match (f, s) {
        (Value::Rev(f), Value::Rev(s)) if f <= s => Some(if s <= head(f) { s } else { f }),
        (Value::Rev(f), Value::Rev(s)) => return past_scheduled(f, s, b),
        (Value::Rev(f), _) => Some(f),
        (_, Value::Rev(s)) if s <= head(0) => Some(s),
        (Value::Absent, Value::Absent) if whole => Some(0),
        _ => fallback,
    };
    // etcd stops on a compaction key it cannot read: the copy records the revision taken instead.
    let unreadable = [(FINISHED_COMPACT_REV, f), (SCHEDULED_COMPACT_REV, s)]
        .iter()
        .filter(|(_, v)| *v == Value::Unreadable)
        .map(|(k, _)| format!("meta/{}", String::from_utf8_lossy(k)))
        .collect::<Vec<_>>();
    if unreadable.is_empty() {
        return Judged { revision, rewrite: None, note: None };
    }
    let note = format!(
        "{} cannot be read as a revision (etcd stops on it): the compaction is taken as {}, and the copy records {}",
        unreadable.join(" and "),
        revision.map_or("unknown (nothing found outside the tree is certain)".into(), |r| r.to_string()),
        revision.unwrap_or(0)
    );
    Judged { revision, rewrite: Some(revision.unwrap_or(0)), note: Some(note) }
}

/// `finishedCompactRev` `f` past `scheduledCompactRev` `s`: the value the records allow (at most
/// the head, within the bounds; the finished one when both are), recorded by the copy as both.
fn past_scheduled(f: u64, s: u64, b: Bounds) -> Judged {
    let allowed = |v: u64| v <= b.head.max(1) && v <= b.upper && v >= b.lower;
    let chosen = [f, s].into_iter().find(|&v| allowed(v));
    let (revision, why) = match chosen {
        Some(v) => (Some(v), format!("the records allow {v}")),
        // Neither: the highest revision the records show compacted, when they agree on one.
        None if b.lower <= b.upper => {
            (Some(b.lower), format!("the records allow neither; they show revisions up to {} compacted", b.lower))
        }
        None => (None, "the records allow neither".into()),
    };
    let note = format!(
        "meta/finishedCompactRev {f} is past scheduledCompactRev {s}, which etcd never writes: one of them is \
         damaged; {why}, and the copy records {} as both",
        revision.unwrap_or(0)
    );
    Judged { revision, rewrite: Some(revision.unwrap_or(0)), note: Some(note) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(v: u64) -> Vec<u8> {
        revision::key_bytes(v, 0).to_vec()
    }

    #[test]
    fn a_meta_bucket_without_compaction_keys_is_never_compacted_only_when_read_whole() {
        let b = Bounds { upper: u64::MAX, lower: 0, head: 50 };
        assert_eq!(judge(Some(&[]), true, Some(7), b).revision, Some(0));
        assert_eq!(judge(Some(&[]), false, Some(7), b).revision, Some(7));
        assert_eq!(judge(None, true, None, b).revision, None);
    }

    #[test]
    fn an_unreadable_value_is_unknown_not_zero() {
        let b = Bounds { upper: u64::MAX, lower: 0, head: 50 };
        let m: Vec<(&[u8], &[u8])> = vec![(FINISHED_COMPACT_REV, b"\x01\x02"), (SCHEDULED_COMPACT_REV, b"junk")];
        let j = judge(Some(&m), true, None, b);
        assert_eq!((j.revision, j.rewrite), (None, Some(0)));
        assert!(j.note.is_some_and(|n| n.contains("cannot be read")));
        let j = judge(Some(&m[..1]), true, Some(5), b);
        assert_eq!((j.revision, j.rewrite), (Some(5), Some(5)));
    }

    #[test]
    fn finished_past_scheduled_takes_the_value_the_records_allow() {
        let (f, s) = (rev((1 << 48) + 96), rev(101));
        let m: Vec<(&[u8], &[u8])> = vec![(FINISHED_COMPACT_REV, &f), (SCHEDULED_COMPACT_REV, &s)];
        let b = Bounds { upper: u64::MAX, lower: 100, head: 301 };
        let j = judge(Some(&m), true, None, b);
        assert_eq!((j.revision, j.rewrite), (Some(101), Some(101)));
        // The scheduled one lowered: the records show revision 100 compacted, so 37 cannot be.
        let (f, s) = (rev(101), rev(37));
        let m: Vec<(&[u8], &[u8])> = vec![(FINISHED_COMPACT_REV, &f), (SCHEDULED_COMPACT_REV, &s)];
        assert_eq!(judge(Some(&m), true, None, b).revision, Some(101));
    }

    #[test]
    fn a_scheduled_compaction_past_the_head_is_not_taken() {
        let (f, s) = (rev(10), rev(5000));
        let m: Vec<(&[u8], &[u8])> = vec![(FINISHED_COMPACT_REV, &f), (SCHEDULED_COMPACT_REV, &s)];
        let b = Bounds { upper: u64::MAX, lower: 0, head: 301 };
        assert_eq!(judge(Some(&m), true, None, b).revision, Some(10));
    }
}
