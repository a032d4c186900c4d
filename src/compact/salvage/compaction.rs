//! The compaction revision a salvage works with: read from the `meta` bucket the copy carries, and
//! judged against the records the tree gave and the older root pages' copies of that bucket when
//! it holds what etcd never writes.
//!
//! Two revisions come out. One tells records found outside the tree that are certain (above it)
//! from possible residue (at or below it): the highest compaction etcd may have run, so that
//! nothing compaction deleted comes back as certain (a deleted key would come back to life). The
//! other is what the copy records in `finishedCompactRev` and `scheduledCompactRev`, repaired
//! where the source's cannot stand, so that the copy's records and compaction agree (`check`) and
//! etcd starts on it:
//!
//! - A compaction key shorter than a revision (etcd stops on it) is recorded as the revision the
//!   rest allows: the finished one as high as the records allow up to the scheduled one, the
//!   scheduled one as the finished one.
//! - `finishedCompactRev` past `scheduledCompactRev` is never written by etcd (it schedules, then
//!   finishes at the same revision): one of the two is damaged. Either is taken only where the
//!   records allow it ([`Bounds`]); when both are, the older root pages decide (a scheduled
//!   revision equal to theirs was not damaged), else the higher is taken.
//! - No compaction key in a `meta` bucket read whole, where an older root page's copy records a
//!   compaction: the keys were lost (compactions only move forward), and the copy records it.
//! - A `scheduledCompactRev` past the head of a tree read whole is not run by etcd (a future
//!   revision), as for `check`; past the last revision of a tree that lost records, it may be real.

use crate::bbolt::tolerant::LostRange;
use crate::etcd::carve::KeyRecord;
use crate::etcd::meta_keys::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
use crate::etcd::revision;
use std::collections::HashMap;

/// The compaction revision judged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// The highest compaction etcd may have run (`None`: unknown; nothing found outside the tree
    /// is certain then).
    pub revision: Option<u64>,
    /// What the copy records as `finishedCompactRev` and `scheduledCompactRev` in place of the
    /// source's value (`None`: the source's, or none when it has none).
    pub record: [Option<u64>; 2],
    /// What was judged, as sentences for the report.
    pub notes: Vec<String>,
}

impl Judged {
    /// Whether the copy's compaction differs from the source's.
    pub fn repaired(&self) -> bool {
        self.record.iter().any(Option::is_some)
    }
}

/// A compaction key's value as read: absent, unreadable (etcd stops on it), or a main revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Absent,
    Unreadable,
    Rev(u64),
}

fn value(meta: &[(&[u8], &[u8])], name: &[u8]) -> Value {
    match meta.iter().find(|(k, _)| *k == name) {
        None => Value::Absent,
        Some((_, v)) if v.len() < revision::REV_LEN => Value::Unreadable,
        Some((_, v)) => revision::main_of(v).map_or(Value::Unreadable, Value::Rev),
    }
}

/// What the tree's records allow of a finished compaction C. `upper`: the highest C under which
/// etcd would have left them as they are (a key with two records at or below C would have lost the
/// older; a tombstone below C would be gone). `lower`: the highest revision with no record where
/// the tree read whole around it (above C every revision has one). `head`: the last revision read,
/// and whether the tree read whole (else later revisions may be lost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    pub(crate) upper: u64,
    pub(crate) lower: u64,
    pub(crate) head: u64,
    pub(crate) whole: bool,
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
        if b > a.saturating_add(1) && !lost.iter().any(|l| l.contains(&revision::key_bytes(b - 1, 0))) {
            lower = lower.max(b - 1);
        }
    }
    Bounds { upper, lower, head: revs.last().map_or(0, |r| r.0), whole: lost.is_empty() }
}

/// Where the compaction may come from besides the `meta` bucket the copy carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Elsewhere {
    /// The highest compaction any root page's `meta` bucket records, read as far as it can be
    /// (for a copy with no `meta` bucket).
    pub any_root: Option<u64>,
    /// The highest compaction the older root pages' copies record (the current root's excluded).
    pub older: Option<u64>,
}

/// Judges the compaction from the `meta` bucket the copy carries (`None`: none is written),
/// whether it was read whole from the tree, what other root pages record, and the records' bounds.
pub fn judge(meta: Option<&[(&[u8], &[u8])]>, whole: bool, other: Elsewhere, b: Bounds) -> Judged {
    let Some(meta) = meta else { return Judged { revision: other.any_root, ..Judged::default() } };
    let (f, s) = (value(meta, FINISHED_COMPACT_REV), value(meta, SCHEDULED_COMPACT_REV));
    // A scheduled compaction past the head of a tree read whole is not run by etcd.
    let runs = |s: u64, f: u64| !b.whole || s <= b.head.max(f).max(1);
    // The finished compaction the records and the other pages allow, when nothing else says it.
    let evidence = other.older.unwrap_or(0).max(b.lower).min(b.upper);
    let unreadable = |v: &[(&[u8], Value)]| {
        let names: Vec<String> = v
            .iter()
            .filter(|(_, x)| *x == Value::Unreadable)
            .map(|(k, _)| format!("meta/{}", String::from_utf8_lossy(k)))
            .collect();
        format!("{} cannot be read as a revision (etcd stops on it)", names.join(" and "))
    };
    let keys = [(FINISHED_COMPACT_REV, f), (SCHEDULED_COMPACT_REV, s)];
    let mut j = Judged::default();
    match (f, s) {
        (Value::Rev(f), Value::Rev(s)) if f <= s => j.revision = Some(if runs(s, f) { s } else { f }),
        (Value::Rev(f), Value::Rev(s)) => return past_scheduled(f, s, other.older, b),
        (Value::Rev(f), Value::Absent) => j.revision = Some(f),
        (Value::Absent, Value::Rev(s)) => j.revision = Some(if runs(s, 0) { s } else { 0 }),
        (Value::Unreadable, Value::Rev(s)) => {
            let fin = if runs(s, 0) { s.min(b.upper) } else { evidence };
            j.revision = Some(if runs(s, fin) { s } else { fin });
            j.record[0] = Some(fin);
            j.notes.push(format!("{}: the copy records {fin} as finished", unreadable(&keys)));
        }
        (Value::Rev(f), Value::Unreadable) => {
            j.revision = Some(f);
            j.record[1] = Some(f);
            j.notes.push(format!("{}: the copy records {f}, the finished compaction", unreadable(&keys)));
        }
        (Value::Absent, Value::Absent) if whole => match other.older.filter(|&o| o > 0) {
            // Compactions only move forward: the keys an older copy has were lost since.
            Some(o) => {
                let v = o.min(b.upper);
                (j.revision, j.record) = (Some(v), [Some(v), Some(v)]);
                j.notes.push(format!(
                    "the `meta` bucket records no compaction, and an older root page's copy of it records {o}: \
                     the keys were lost; the copy records {v}"
                ));
            }
            None if b.lower > 0 => j.notes.push(format!(
                "the `meta` bucket records no compaction, but revisions up to {} are missing where the tree reads \
                 whole: a compaction it no longer records, or a store migrated from etcd v2; nothing found outside \
                 the tree is taken as certain",
                b.lower
            )),
            None => j.revision = Some(0),
        },
        (Value::Absent, Value::Absent) => j.revision = other.any_root,
        // Unreadable, with the other unreadable or absent: the older copies and the records say.
        _ => {
            let known = other.older.is_some() || b.lower > 0;
            j.revision = known.then_some(evidence);
            for (i, (_, v)) in keys.iter().enumerate() {
                if *v == Value::Unreadable {
                    j.record[i] = Some(evidence);
                }
            }
            j.notes.push(format!("{}: the copy records {evidence}", unreadable(&keys)));
        }
    }
    j
}

/// `finishedCompactRev` `f` past `scheduledCompactRev` `s`: one of them is damaged. `f` stands if
/// the records allow it as finished (then `s` is recorded as `f`); `s` stands if etcd would run it
/// (then the finished one is recorded as high as the records allow, up to `s`).
fn past_scheduled(f: u64, s: u64, older: Option<u64>, b: Bounds) -> Judged {
    let f_stands = f <= b.head.max(1) && f <= b.upper && f >= b.lower;
    let s_stands = (!b.whole || s <= b.head.max(1)) && s >= b.lower;
    // Both: a scheduled revision equal to what an older root page records was not damaged; else
    // the higher, so that no record compaction deleted comes back as certain.
    let take_s = s_stands && (!f_stands || older == Some(s));
    let evidence = older.unwrap_or(0).max(b.lower).min(b.upper);
    let (revision, record, why) = if take_s {
        let fin = s.min(b.upper);
        (Some(s), [Some(fin), None], format!("scheduledCompactRev stands; the copy records {fin} as finished"))
    } else if f_stands {
        let why = match s_stands {
            true => format!("both are possible, the higher is taken; the copy records {f} as scheduled"),
            false => format!("finishedCompactRev stands; the copy records {f} as scheduled"),
        };
        (Some(f), [None, Some(f)], why)
    } else {
        let why = format!("the records allow neither; the copy records {evidence} for both");
        (Some(evidence), [Some(evidence), Some(evidence)], why)
    };
    let note = format!(
        "meta/finishedCompactRev {f} is past scheduledCompactRev {s}, which etcd never writes: one of them is \
         damaged; {why}"
    );
    Judged { revision, record, notes: vec![note] }
}

/// The compaction keys the copy records: the repaired values, else the source's readable ones.
pub fn recorded(meta: &[(&[u8], &[u8])], j: &Judged) -> (Option<u64>, Option<u64>) {
    let read = |name: &[u8], i: usize| {
        j.record[i].or(match value(meta, name) {
            Value::Rev(r) => Some(r),
            _ => None,
        })
    };
    (read(FINISHED_COMPACT_REV, 0), read(SCHEDULED_COMPACT_REV, 1))
}

/// The compaction etcd opens the copy at (0: none), its last revision `last`: the finished one,
/// or the scheduled one when that is not past the head (etcd resumes it on opening).
pub fn store_compaction((f, s): (Option<u64>, Option<u64>), last: u64) -> u64 {
    let f = f.unwrap_or(0);
    f.max(s.filter(|&s| s <= last.max(f).max(1)).unwrap_or(0))
}

#[cfg(test)]
#[path = "compaction_tests.rs"]
mod tests;
