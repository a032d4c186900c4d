//! etcd's Range, offline: which keys a request selects, the value of each at a revision, and the
//! server's count, sort, limit and keys-only rules (fixtures/key-answers/FORMATS.md, "What a
//! range returns"), from the file's `key` bucket.
//!
//! A cold answer scans the whole bucket (it is ordered by revision, not by key) and keeps, per
//! selected key, its newest entry at or below the revision: the result set is held in memory, as
//! etcd holds it, at about 80 bytes per selected key (keys and values stay in the mapped file).
//! A warm answer gets the same newest entries from the index's revision lists instead
//! ([`Ranged::from_latest`] takes either).

use super::collect::{ChunkOut, Collector, KeyRev};
use super::gosort;
use super::history::{Compacted, Judge, Judged};
use super::proto::Kv;
use super::scan::{self, Entry};
use super::{key_fingerprint, FpMap};
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use rayon::slice::ParallelSliceMut;

/// The keys a request selects: `[start, end)`, etcd's way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// The key (`start`).
    pub start: Vec<u8>,
    /// `None`: `start` alone. `Some(b"\0")`: every key from `start` on. Otherwise the exclusive
    /// end (an end at or before `start` selects nothing).
    pub end: Option<Vec<u8>>,
}

/// etcd's prefix end: the prefix with its last byte below 0xff incremented (trailing 0xff bytes
/// dropped first); `\0` (to the end of the keyspace) when there is no such byte.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            if let Some(b) = end.last_mut() {
                *b = last + 1;
            }
            return end;
        }
        end.pop();
    }
    vec![0]
}

impl KeyRange {
    /// One key.
    pub fn key(k: &[u8]) -> KeyRange {
        KeyRange { start: k.to_vec(), end: None }
    }

    /// `[start, end)` as `etcdctl get KEY END` sends it (an empty END is no end: one key).
    pub fn between(start: &[u8], end: &[u8]) -> KeyRange {
        KeyRange { start: start.to_vec(), end: (!end.is_empty()).then(|| end.to_vec()) }
    }

    /// Every key starting with `p` (`--prefix`; the empty prefix is sent as `\0` .. `\0`).
    pub fn prefix(p: &[u8]) -> KeyRange {
        if p.is_empty() {
            return KeyRange { start: vec![0], end: Some(vec![0]) };
        }
        KeyRange { start: p.to_vec(), end: Some(prefix_end(p)) }
    }

    /// Every key from `k` on (`--from-key`; the empty key is sent as `\0`).
    pub fn from_key(k: &[u8]) -> KeyRange {
        let start = if k.is_empty() { vec![0] } else { k.to_vec() };
        KeyRange { start, end: Some(vec![0]) }
    }

    /// Every key.
    pub fn all() -> KeyRange {
        KeyRange::prefix(b"")
    }

    /// Whether the range selects `k`.
    pub fn contains(&self, k: &[u8]) -> bool {
        match &self.end {
            None => k == self.start.as_slice(),
            Some(e) if e.as_slice() == [0] => k >= self.start.as_slice(),
            Some(e) => k >= self.start.as_slice() && k < e.as_slice(),
        }
    }

    /// Whether the range is one key.
    pub fn is_single(&self) -> bool {
        self.end.is_none()
    }
}

/// `--sort-by`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortTarget {
    /// Key bytes.
    #[default]
    Key,
    /// create_revision.
    Create,
    /// mod_revision.
    Modify,
    /// version.
    Version,
    /// Value bytes.
    Value,
}

/// `--order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Not given.
    #[default]
    None,
    /// Ascending.
    Ascend,
    /// Descending.
    Descend,
}

/// What a Range request asks besides the keys and the revision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `--limit` (0: none).
    pub limit: u64,
    /// `--sort-by`.
    pub target: SortTarget,
    /// `--order` as etcdctl's client sends it (KEY ascending is sent as no order).
    pub order: SortOrder,
    /// `--keys-only`: values dropped (after sorting).
    pub keys_only: bool,
    /// `--count-only`: no kvs at all.
    pub count_only: bool,
}

/// A Range answer (without its header).
#[derive(Clone, Debug, Default)]
pub struct Ranged<'a> {
    /// The key-values returned.
    pub kvs: Vec<Kv<'a>>,
    /// Keys in the range at the revision, before the limit.
    pub count: u64,
    /// Whether the limit cut the list.
    pub more: bool,
}

/// The newest entry at or below `rev` of every key `range` selects, by a scan of the bucket (in
/// no particular order; tombstones included), and what holding those keys' histories (every
/// record of theirs) to etcd's rules found. With `collect`, every entry is collected on the way
/// for the key index.
pub fn latest_by_scan<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    range: &KeyRange,
    rev: u64,
    mut collect: Option<&mut Collector<'a>>,
) -> Result<(Vec<Entry<'a>>, Judged), Problem> {
    let mut newest: FpMap<Entry<'a>> = FpMap::default();
    let mut judge = Judge::new(Compacted::read(view));
    let all = collect.is_some();
    let holes = scan::scan(
        view,
        kb,
        &|| (Vec::new(), Vec::new()),
        &|(v, p): &mut ChunkOut<'a>, e| {
            if range.contains(e.kv.key) {
                v.push((key_fingerprint(e.kv.key), *e));
            }
            if all {
                p.push(KeyRev::of(e));
            }
        },
        &mut |(v, p)| {
            // Chunks arrive in revision order: a later entry replaces an earlier one.
            for (fp, e) in v {
                judge.feed_known(fp, e.kv.key, e.step());
                if e.rev.main <= rev {
                    newest.insert(fp, e);
                }
            }
            if let Some(all) = collect.as_deref_mut() {
                all.extend(p);
            }
            Ok(())
        },
    )?;
    Ok((newest.into_values().collect(), Judged { holes, ..judge.judged() }))
}

/// Every key's history held to etcd's rules by a scan of the bucket, the keys that break them
/// named (at most [`super::history::NAMED`], in key order): what names them when a pass that knows
/// only their fingerprints found some (`check`'s history_inconsistent).
pub fn judge_named<'a>(view: &DbView<'a>, kb: BucketRoot<'a>) -> Result<Judged, Problem> {
    let mut judge = Judge::new(Compacted::read(view));
    let holes = scan::scan(
        view,
        kb,
        &Vec::new,
        &|v: &mut Vec<(u128, Entry<'a>)>, e| v.push((key_fingerprint(e.kv.key), *e)),
        &mut |v| {
            for (fp, e) in v {
                judge.feed_known(fp, e.kv.key, e.step());
            }
            Ok(())
        },
    )?;
    Ok(Judged { holes, ..judge.judged() })
}

impl<'a> Ranged<'a> {
    /// The answer from the newest entry at or below the revision of each selected key (any order,
    /// tombstones included): live keys in key order, counted, sorted as the server sorts, cut at
    /// the limit, values dropped for keys-only, kvs dropped for count-only.
    pub fn from_latest(latest: Vec<Entry<'a>>, o: &Options) -> Ranged<'a> {
        let mut kvs: Vec<Kv<'a>> = latest.into_iter().filter(|e| !e.rev.tombstone).map(|e| e.kv).collect();
        let count = kvs.len() as u64;
        if o.count_only {
            return Ranged { kvs: Vec::new(), count, more: false };
        }
        // Keys are unique, so an unstable sort gives the one order; every core sorts (a million
        // keys, each compared in the mapped file, took a fifth of a whole-keyspace `get`).
        kvs.par_sort_unstable_by(|a, b| a.key.cmp(b.key));
        // Without an order the server fetches only the first limit + 1 keys (key order; the one
        // past the limit tells `more`), even when it then sorts them by another target.
        if o.order == SortOrder::None && o.limit > 0 {
            kvs.truncate(usize::try_from(o.limit.saturating_add(1)).unwrap_or(usize::MAX));
        }
        // The server sorts ascending when only a target other than KEY is given.
        let order = match (o.order, o.target) {
            (SortOrder::None, SortTarget::Key) => SortOrder::None,
            (SortOrder::None, _) => SortOrder::Ascend,
            (x, _) => x,
        };
        let less = less_fn(o.target);
        match order {
            SortOrder::None => {}
            SortOrder::Ascend => gosort::sort(&mut kvs, &|a: &Kv<'_>, b: &Kv<'_>| less(a, b)),
            SortOrder::Descend => gosort::sort(&mut kvs, &|a: &Kv<'_>, b: &Kv<'_>| less(b, a)),
        }
        let mut more = false;
        if o.limit > 0 && kvs.len() as u64 > o.limit {
            kvs.truncate(usize::try_from(o.limit).unwrap_or(usize::MAX));
            more = true;
        }
        if o.keys_only {
            for kv in &mut kvs {
                kv.value = &[];
                kv.value_len = 0;
            }
        }
        Ranged { kvs, count, more }
    }
}

/// The server's Less for a sort target (revisions compared as `a - b < 0` in int64, as etcd's
/// sorters do).
fn less_fn(t: SortTarget) -> fn(&Kv<'_>, &Kv<'_>) -> bool {
    fn sub_neg(a: u64, b: u64) -> bool {
        (a as i64).wrapping_sub(b as i64) < 0
    }
    match t {
        SortTarget::Key => |a, b| a.key < b.key,
        SortTarget::Create => |a, b| sub_neg(a.create_revision, b.create_revision),
        SortTarget::Modify => |a, b| sub_neg(a.mod_revision, b.mod_revision),
        SortTarget::Version => |a, b| sub_neg(a.version, b.version),
        SortTarget::Value => |a, b| a.value < b.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_select_as_etcd_does() {
        assert_eq!(prefix_end(b"/a/"), b"/a0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), b"\0");
        let p = KeyRange::prefix(b"/registry/pods/");
        assert!(p.contains(b"/registry/pods/x") && !p.contains(b"/registry/pods") && !p.contains(b"/registry/pods0"));
        let all = KeyRange::prefix(b"");
        assert!(all.contains(b"\0") && all.contains(b"\xff\xff") && !all.contains(b""));
        assert!(KeyRange::from_key(b"m").contains(b"z") && !KeyRange::from_key(b"m").contains(b"a"));
        let backwards = KeyRange::between(b"b", b"a");
        assert!(!backwards.contains(b"a") && !backwards.contains(b"b"));
        assert!(KeyRange::between(b"k", b"").is_single());
    }
}
