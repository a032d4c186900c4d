//! What an etcd-aware copy keeps: the [`Filter`] that plugs etcd's MVCC compaction into the
//! bbolt copier. With a compaction target, `key` entries that do not survive (by position, from
//! the keep set) are left out and the `meta` bucket records the compaction
//! (`scheduledCompactRev` = `finishedCompactRev` = R); with `clear_alarms`, the `alarm` bucket is
//! copied empty. It also notes the `key` bucket's last revision, etcdutl's REVISION.

use crate::bbolt::page::{LeafElem, Page};
use crate::etcd::compaction::Keep;
use crate::etcd::meta_keys::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
use crate::etcd::revision::{self, REV_LEN};
use crate::etcd::{ALARM_BUCKET, KEY_BUCKET, META_BUCKET};
use crate::write::copier::Filter;

/// The filter of one copy.
#[derive(Debug, Default)]
pub struct MvccFilter<'a> {
    /// The compaction: its revision and which `key` entries survive it.
    pub compaction: Option<(u64, Keep)>,
    /// Leave every alarm out.
    pub clear_alarms: bool,
    /// Alarm entries left out.
    pub alarms_cleared: u64,
    /// Entries of the `key` bucket copied (its revisions); `None` when the source has no `key`
    /// bucket.
    pub key_entries: Option<u64>,
    /// The `key` bucket's key that gives etcdutl's REVISION (see [`MvccFilter::last_revision`]).
    last_key: Option<&'a [u8]>,
}

impl<'a> MvccFilter<'a> {
    /// A filter compacting as `compaction` says (None: every revision is kept), leaving alarms
    /// out when `clear_alarms`.
    pub fn new(compaction: Option<(u64, Keep)>, clear_alarms: bool) -> MvccFilter<'a> {
        MvccFilter { compaction, clear_alarms, alarms_cleared: 0, key_entries: None, last_key: None }
    }

    /// etcdutl's REVISION of the source, as `etcd::status` computes it: the main revision of the
    /// last key of the `key` bucket's last leaf (each key, in a leaf with bucket entries) that is
    /// long enough to hold one.
    pub fn last_revision(&self) -> Option<u64> {
        self.last_key.and_then(revision::main_of)
    }
}

/// The compaction's records in `meta`, in key order: both compact revisions at R, as 17-byte
/// revisions (sub 0).
fn compaction_records(r: u64) -> Vec<(&'static [u8], Vec<u8>)> {
    let mut rev = Vec::with_capacity(REV_LEN);
    rev.extend_from_slice(&r.to_be_bytes());
    rev.push(b'_');
    rev.extend_from_slice(&0u64.to_be_bytes());
    vec![(FINISHED_COMPACT_REV, rev.clone()), (SCHEDULED_COMPACT_REV, rev)]
}

impl<'a> Filter<'a> for MvccFilter<'a> {
    fn extra(&mut self, top: &[u8]) -> Vec<(&'static [u8], Vec<u8>)> {
        // Asked once for every top-level bucket, before its entries.
        if top == KEY_BUCKET {
            self.key_entries = Some(0);
        }
        match &self.compaction {
            Some((r, _)) if top == META_BUCKET => compaction_records(*r),
            _ => Vec::new(),
        }
    }

    fn keep(&mut self, top: &[u8], ord: u64, e: &LeafElem<'a>) -> bool {
        if top == ALARM_BUCKET && self.clear_alarms {
            self.alarms_cleared += 1;
            return false;
        }
        if top != KEY_BUCKET {
            return true;
        }
        let kept = self.compaction.as_ref().map_or(true, |(_, keep)| keep.get(ord));
        if kept && !e.is_bucket() {
            *self.key_entries.get_or_insert(0) += 1;
        }
        kept
    }

    /// Only lengths are read here; the key itself is decoded once, at the end.
    fn leaf(&mut self, top: &'a [u8], page: &Page<'a>) {
        if top != KEY_BUCKET {
            return;
        }
        let mut elems = (0..usize::from(page.count)).rev().filter_map(|i| page.leaf_elem(i).ok());
        let has_bucket = elems.clone().any(|e| e.is_bucket());
        let long = |e: LeafElem<'a>| (e.key.len() >= 8).then_some(e.key);
        let key = if has_bucket { elems.find_map(long) } else { elems.next().and_then(long) };
        self.last_key = key.or(self.last_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compaction_records_are_sorted_revisions() {
        let r = compaction_records(0x0102);
        assert!(r[0].0 < r[1].0, "finishedCompactRev sorts before scheduledCompactRev");
        let parsed = revision::parse(&r[0].1).unwrap();
        assert_eq!((parsed.main, parsed.sub, parsed.tombstone), (0x0102, 0, false));
        assert_eq!(r[0].1, r[1].1);
    }
}
