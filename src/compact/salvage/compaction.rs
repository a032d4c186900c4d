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
use crate::etcd::KeyMap;

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
    let mut last_of: KeyMap<&[u8], u64> = KeyMap::default();
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
    /// The highest finished and scheduled compactions the older root pages' copies record (the
    /// current root's excluded; a copy with the finished one past the scheduled one is left out:
    /// it is damaged itself).
    pub older: [Option<u64>; 2],
}

/// The judge's view of the evidence: the bounds, and the older copies.
struct Evidence {
    b: Bounds,
    older: [Option<u64>; 2],
}

impl Evidence {
    /// Whether `v`, from a copy that may be stale (an older root page's), can be the finished
    /// compaction: within the records' bounds (past the last revision it may be: the newest
    /// records may have been deletes, which compaction removes). The lower bound is a revision
    /// missing between two records, which a leaf lost with its branch element leaves too: it
    /// never overrules the current tree's own `meta` bucket.
    fn finished(&self, v: u64) -> bool {
        v >= self.b.lower && v <= self.b.upper
    }

    /// Whether `v` can be a scheduled compaction etcd runs: not past the head of a tree read whole
    /// (above the records' upper bound it may be: etcd schedules, then deletes).
    fn scheduled(&self, v: u64) -> bool {
        !self.b.whole || v <= self.b.head.max(1)
    }

    /// The finished compaction when the source's cannot stand, at most `limit`: as high as the
    /// records allow (so that no record compaction deleted comes back as certain), else an older
    /// copy's, else the highest revision the records show compacted.
    fn finished_guess(&self, limit: u64) -> Option<u64> {
        let high = self.b.upper.min(limit);
        if high != u64::MAX {
            return Some(high.max(self.b.lower.min(limit)));
        }
        let from_older = self.older[0].filter(|&o| o <= limit && self.finished(o));
        from_older.or((self.b.lower > 0 && self.b.lower <= limit).then_some(self.b.lower))
    }

    /// The most a guessed finished compaction may be: an older copy's scheduled one etcd would run
    /// (a compaction under way deletes whole revisions below it before it records itself
    /// finished, and records written after it may make the records' bound higher).
    fn scheduled_cap(&self) -> u64 {
        self.older_scheduled().unwrap_or(u64::MAX)
    }

    /// An older copy's scheduled compaction, where etcd would run it and the records do not show
    /// it stale (revisions past it compacted).
    fn older_scheduled(&self) -> Option<u64> {
        self.older[1].filter(|&o| o >= self.b.lower && self.scheduled(o))
    }

    /// The scheduled compaction to record beside the finished one `fin`: an older copy's when
    /// etcd would run it, else `fin`.
    fn scheduled_guess(&self, fin: u64) -> u64 {
        self.older_scheduled().filter(|&o| o >= fin).unwrap_or(fin)
    }
}

/// Judges the compaction from the `meta` bucket the copy carries (`None`: none is written),
/// whether it was read whole from the tree, what other root pages record, and the records' bounds.
pub fn judge(meta: Option<&[(&[u8], &[u8])]>, whole: bool, other: Elsewhere, b: Bounds) -> Judged {
    let Some(meta) = meta else { return Judged { revision: other.any_root, ..Judged::default() } };
    let (f, s) = (value(meta, FINISHED_COMPACT_REV), value(meta, SCHEDULED_COMPACT_REV));
    let ev = Evidence { b, older: other.older };
    let mut j = Judged::default();
    let names = |which: &[usize]| {
        which.iter().map(|&i| format!("meta/{}", String::from_utf8_lossy(KEYS[i]))).collect::<Vec<_>>().join(" and ")
    };
    match (f, s) {
        (Value::Rev(f), Value::Rev(s)) if f > s => return past_scheduled(f, s, &ev),
        (Value::Rev(f), s) if !whole && !ev.finished(f) => {
            // A finished compaction from a copy that is not the current tree's own (an older root
            // page's, or a damaged bucket's) that the records contradict: stale, or damaged.
            let fin = ev.finished_guess(u64::MAX);
            let sch = match s {
                Value::Rev(s) if fin.is_some_and(|x| s >= x) && ev.scheduled(s) => None,
                Value::Absent => None,
                _ => Some(fin.unwrap_or(0)),
            };
            j.record = [Some(fin.unwrap_or(0)), sch];
            j.notes.push(format!(
                "meta/finishedCompactRev {f} is not what the records allow (revisions up to {} are compacted{}): the copy \
                 records {}",
                b.lower,
                if b.upper == u64::MAX { String::new() } else { format!(", none past {}", b.upper) },
                fin.map_or("0, nothing found outside the tree taken as certain".into(), |x| x.to_string())
            ));
        }
        (Value::Rev(_), Value::Rev(_)) | (Value::Rev(_), Value::Absent) | (Value::Absent, Value::Rev(_)) => {}
        (Value::Rev(f), Value::Unreadable) => {
            let sch = ev.scheduled_guess(f);
            j.record[1] = Some(sch);
            j.notes.push(format!(
                "{} cannot be read as a revision (etcd stops on it): the copy records {sch}",
                names(&[1])
            ));
        }
        (Value::Unreadable, Value::Rev(s)) => {
            let limit = if ev.scheduled(s) { s } else { u64::MAX };
            let fin = ev.finished_guess(limit);
            j.record[0] = Some(fin.unwrap_or(0));
            j.notes.push(format!(
                "{} cannot be read as a revision (etcd stops on it): the copy records {} as finished",
                names(&[0]),
                fin.unwrap_or(0)
            ));
        }
        (Value::Absent, Value::Absent) if whole => {
            if ev.older.iter().any(|o| o.is_some_and(|o| o > 0)) {
                // Compactions only move forward: the keys an older copy has were lost since.
                let fin = ev.finished_guess(ev.scheduled_cap()).unwrap_or(0);
                j.record = [Some(fin), Some(ev.scheduled_guess(fin))];
                j.notes.push(format!(
                    "the `meta` bucket records no compaction, and an older root page's copy of it records {}: the \
                     keys were lost; the copy records {fin} as finished",
                    ev.older.iter().flatten().max().copied().unwrap_or(0)
                ));
            } else if b.lower > 0 || (!b.whole && b.head == 0) {
                j.notes.push(format!(
                    "the `meta` bucket records no compaction, but {}: nothing found outside the tree is taken as \
                     certain",
                    if b.whole {
                        format!(
                            "revisions up to {} are missing where the tree reads whole (a compaction it no longer \
                             records, or a store migrated from etcd v2)",
                            b.lower
                        )
                    } else {
                        "the tree gave no record of the `key` bucket, so nothing shows the store never compacted".into()
                    }
                ));
                return j;
            }
        }
        (Value::Absent, Value::Absent) => return Judged { revision: other.any_root, ..Judged::default() },
        // Unreadable, with the other unreadable or absent: the older copies and the records say.
        _ => {
            let fin = ev.finished_guess(ev.scheduled_cap());
            let unreadable: Vec<usize> =
                [f, s].iter().enumerate().filter(|(_, v)| **v == Value::Unreadable).map(|(i, _)| i).collect();
            for &i in &unreadable {
                j.record[i] = Some(match i {
                    0 => fin.unwrap_or(0),
                    _ => ev.scheduled_guess(fin.unwrap_or(0)),
                });
            }
            j.notes.push(format!(
                "{} cannot be read as a revision (etcd stops on it): the copy records {}",
                names(&unreadable),
                j.record.iter().flatten().map(u64::to_string).collect::<Vec<_>>().join(" and ")
            ));
            if fin.is_none() && ev.older[1].is_none() {
                return j;
            }
        }
    }
    j.revision = Some(highest_run(recorded(meta, &j), &ev));
    j
}

/// The names of the two compaction keys, in the order of [`Judged::record`].
const KEYS: [&[u8]; 2] = [FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV];

/// The highest compaction etcd may have run, given what the copy records: the scheduled one when
/// it can run, else the finished one.
fn highest_run((f, s): (Option<u64>, Option<u64>), ev: &Evidence) -> u64 {
    let f = f.unwrap_or(0);
    s.filter(|&s| s >= f && ev.scheduled(s)).unwrap_or(f).max(f)
}

/// `finishedCompactRev` `f` past `scheduledCompactRev` `s`: one of them is damaged. `f` stands if
/// the records allow it as finished (then `s` is recorded as `f`); `s` stands if etcd would run it
/// (then the finished one is recorded as the evidence allows, up to `s`). When both can, an older
/// copy's scheduled revision equal to `s` says `s` was not damaged; else the higher is taken.
fn past_scheduled(f: u64, s: u64, ev: &Evidence) -> Judged {
    let f_stands = f <= ev.b.upper && (!ev.b.whole || f <= ev.b.head.max(1));
    let s_stands = ev.scheduled(s);
    let take_s = s_stands && (!f_stands || ev.older[1] == Some(s) || ev.older[0] == Some(s));
    let (record, why) = if take_s {
        let fin = ev.finished_guess(s).unwrap_or(0);
        ([Some(fin), None], format!("scheduledCompactRev stands; the copy records {fin} as finished"))
    } else if f_stands {
        let why = match s_stands {
            true => format!("both are possible, the higher is taken; the copy records {f} as scheduled"),
            false => format!("finishedCompactRev stands; the copy records {f} as scheduled"),
        };
        ([None, Some(f)], why)
    } else {
        let fin = ev.finished_guess(u64::MAX).unwrap_or(0);
        ([Some(fin), Some(fin)], format!("the records allow neither; the copy records {fin} for both"))
    };
    let note = format!(
        "meta/finishedCompactRev {f} is past scheduledCompactRev {s}, which etcd never writes: one of them is \
         damaged; {why}"
    );
    let mut j = Judged { revision: None, record, notes: vec![note] };
    let rec = [record[0].unwrap_or(f), record[1].unwrap_or(s)];
    j.revision = Some(highest_run((Some(rec[0]), Some(rec[1])), ev));
    j
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
