//! The history of keys, offline: every put and delete of the selected keys in revision order, as
//! `etcdctl watch --rev R` replays them from a server holding the file (FORMATS.md, "watch").
//!
//! A put's event carries the stored KeyValue; a delete's carries the tombstone as stored (only
//! the key) with `mod_revision` set to the tombstone's revision. With `prev_kv`, every event but a
//! creation (a put whose create_revision is its mod_revision) gets the key's value at
//! mod_revision - 1 when that read succeeds: the revision is not below the compaction floor and
//! the key existed then (its previous entry is a put). In the file that previous entry is simply
//! the key's entry before this one, so it is tracked per key while the bucket is read.
//!
//! Memory: each selected key's history is judged on the way (about 40 bytes per key, for at most
//! [`super::history::MAX_JUDGED`] keys); with `track` (prev_kv, or the size change a table
//! shows), one entry more per selected key (about 150 bytes; keys and values stay in the map).

use super::collect::{ChunkOut, Collector, KeyRev};
use super::history::{Compacted, Judge, Judged};
use super::proto::Kv;
use super::range::KeyRange;
use super::scan::{self, Entry};
use super::{key_fingerprint, KeyMap};
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::view::DbView;
use crate::problem::Problem;

/// One event of a key's history.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// The entry (for a delete, the tombstone).
    pub entry: Entry<'a>,
    /// The KeyValue as a watch reports it (a delete: the key and mod_revision only).
    pub kv: Kv<'a>,
    /// The key's value at mod_revision - 1 (when asked and readable).
    pub prev_kv: Option<Kv<'a>>,
    /// The key's previous entry in the file, when tracked (whatever its revision: also one
    /// below the start or the compaction floor).
    pub previous: Option<Entry<'a>>,
}

impl Event<'_> {
    /// Whether the event is a delete.
    pub fn is_delete(&self) -> bool {
        self.entry.rev.tombstone
    }
}

/// What to replay.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// First revision shown (0: every revision the file holds).
    pub from: u64,
    /// The compaction floor (reads below it fail: no prev_kv from there).
    pub compacted: Option<u64>,
    /// Attach prev_kv as `etcdctl watch --prev-kv` does.
    pub prev_kv: bool,
    /// Track each key's previous entry (implied by `prev_kv`).
    pub track: bool,
    /// The compaction at `compacted` was scheduled and not finished when the file was saved.
    pub unfinished: bool,
}

/// Turns entries, fed in revision order, into events; [`Replayer::finish`] after the last.
///
/// A file whose compaction at C was scheduled but not finished (a snapshot taken while etcd was
/// compacting) still holds what that compaction deletes, which a server restored from it removes
/// before it answers. A watch from C then replays what etcd 3.5.1 (the release the recorded
/// answers come from) leaves at C: of each key's records there, the last one, unless it is a
/// tombstone; so those records are held back until the first record past C. A finished
/// compaction is replayed as the file holds it: a tombstone it kept at C (etcd >= 3.5.16, and
/// boltscope's own `compact --revision`) is replayed, as a server holding the file replays it.
pub struct Replayer<'a> {
    range: KeyRange,
    o: Options,
    last: KeyMap<&'a [u8], Entry<'a>>,
    at_floor: Vec<Entry<'a>>,
}

impl<'a> Replayer<'a> {
    /// A replayer of the keys `range` selects.
    pub fn new(range: KeyRange, o: Options) -> Replayer<'a> {
        Replayer { range, o, last: KeyMap::default(), at_floor: Vec::new() }
    }

    /// The compaction floor, when it was not finished and the replay starts there (a replay from
    /// before it, of what the file holds, shows every record as it is).
    fn floor(&self) -> Option<u64> {
        self.o.compacted.filter(|&c| self.o.unfinished && self.o.from == c)
    }

    /// Replays the records held at the floor: each key's last one, unless a tombstone.
    fn flush(&mut self, emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>) -> Result<(), Problem> {
        let held = std::mem::take(&mut self.at_floor);
        // Each key's last record at the floor (a range delete can put a million there: one pass).
        let last: KeyMap<&[u8], usize> = held.iter().enumerate().map(|(i, e)| (e.kv.key, i)).collect();
        for (i, e) in held.iter().enumerate() {
            let superseded = last.get(e.kv.key) != Some(&i);
            self.process(*e, !superseded && !e.rev.tombstone, emit)?;
        }
        Ok(())
    }

    /// Ends the replay: what is still held at the floor is replayed.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>) -> Result<(), Problem> {
        self.flush(emit)
    }

    /// Whether an entry concerns the replay at all (its key is selected).
    pub fn wants(&self, e: &Entry<'_>) -> bool {
        self.range.contains(e.kv.key)
    }

    /// Feeds the next entry (revision order); `emit` gets its event when it is at or past the
    /// start revision.
    pub fn feed(
        &mut self,
        e: Entry<'a>,
        emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>,
    ) -> Result<(), Problem> {
        if !self.wants(&e) {
            return Ok(());
        }
        if self.floor() == Some(e.rev.main) {
            self.at_floor.push(e);
            return Ok(());
        }
        if !self.at_floor.is_empty() {
            self.flush(emit)?;
        }
        self.process(e, true, emit)
    }

    /// Tracks `e` and, when `shown` and at or past the start, replays it.
    fn process(
        &mut self,
        e: Entry<'a>,
        shown: bool,
        emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>,
    ) -> Result<(), Problem> {
        let track = self.o.track || self.o.prev_kv;
        let previous = if track { self.last.insert(e.kv.key, e) } else { None };
        if e.rev.main < self.o.from || !shown {
            return Ok(());
        }
        let kv = if e.rev.tombstone { Kv { key: e.kv.key, mod_revision: e.rev.main, ..Kv::default() } } else { e.kv };
        let creation = !e.rev.tombstone && e.kv.create_revision == e.kv.mod_revision;
        let readable = e.rev.main.checked_sub(1).is_some_and(|r| self.o.compacted.map_or(true, |c| r >= c));
        let prev_kv = match previous {
            Some(p) if self.o.prev_kv && !creation && readable && !p.rev.tombstone => Some(p.kv),
            _ => None,
        };
        emit(&Event { entry: e, kv, prev_kv, previous })
    }
}

/// Replays the history of the keys `range` selects by reading the whole bucket (in windows, in
/// parallel), calling `emit` for each event in revision order. With `collect`, every entry is
/// collected on the way for the key index. Stops at the first problem, or the
/// first error `emit` returns. Once every event is out, tells what holding those keys' histories
/// (every record of theirs in the tree, also below the start) to etcd's rules found.
pub fn replay<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    range: &KeyRange,
    o: Options,
    collect: Option<&mut Collector<'a>>,
    emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>,
) -> Result<Judged, Problem> {
    replay_with(view, kb, range, o, collect, &[], emit)
}

/// [`replay`] with `extra` entries (in revision order, none of a revision the bucket holds: the
/// records carved from free pages, [`crate::etcd::carve::free_entries`]) merged in by revision:
/// history below the compaction, where the bytes survive.
pub fn replay_with<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    range: &KeyRange,
    o: Options,
    mut collect: Option<&mut Collector<'a>>,
    extra: &[Entry<'a>],
    emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>,
) -> Result<Judged, Problem> {
    let mut r = Replayer::new(range.clone(), o);
    let mut judge = Judge::new(Compacted::read(view));
    // Entries below the start matter only to a tracking replay.
    let floor = if o.track || o.prev_kv { 0 } else { o.from };
    let all = collect.is_some();
    let mut extra = extra.iter().filter(|e| e.rev.main >= floor).peekable();
    let holes = scan::scan(
        view,
        kb,
        &|| (Vec::new(), Vec::new()),
        &|(v, p): &mut ChunkOut<'a>, e| {
            // Every record of a selected key is judged, also below the start.
            if range.contains(e.kv.key) {
                v.push((key_fingerprint(e.kv.key), *e));
            }
            if all {
                p.push(KeyRev::of(e));
            }
        },
        &mut |(v, p)| {
            if let Some(all) = collect.as_deref_mut() {
                all.extend(p);
            }
            for (fp, e) in v {
                judge.feed_known(fp, e.kv.key, e.step());
                if e.rev.main < floor {
                    continue;
                }
                while let Some(x) = extra.next_if(|x| x.rev < e.rev) {
                    r.feed(*x, emit)?;
                }
                r.feed(e, emit)?;
            }
            Ok(())
        },
    )?;
    for x in extra {
        r.feed(*x, emit)?;
    }
    r.finish(emit)?;
    Ok(Judged { holes, ..judge.judged() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::revision::Revision;

    fn entry(key: &'static [u8], main: u64, sub: u64, tombstone: bool) -> Entry<'static> {
        let kv = if tombstone {
            Kv { key, ..Kv::default() }
        } else {
            Kv { key, create_revision: 2, mod_revision: main, version: 1, more_than_key: true, ..Kv::default() }
        };
        Entry { rev: Revision { main, sub, tombstone }, rev_key: &[], raw: &[], kv, ord: 0 }
    }

    /// The revisions and keys replayed from `from`, the compaction at 10 not finished.
    fn replayed(from: u64, entries: &[Entry<'static>]) -> Vec<(u64, bool, &'static [u8])> {
        replayed_with(from, true, entries)
    }

    fn replayed_with(from: u64, unfinished: bool, entries: &[Entry<'static>]) -> Vec<(u64, bool, &'static [u8])> {
        let o = Options { from, compacted: Some(10), unfinished, ..Options::default() };
        let mut r = Replayer::new(KeyRange::all(), o);
        let mut out = Vec::new();
        let mut emit = |ev: &Event<'static>| {
            out.push((ev.entry.rev.main, ev.is_delete(), ev.kv.key));
            Ok(())
        };
        for e in entries {
            r.feed(*e, &mut emit).unwrap();
        }
        r.finish(&mut emit).unwrap();
        out
    }

    #[test]
    fn from_the_compaction_only_what_compaction_keeps_there_is_replayed() {
        // At the compaction (10): a put of a, a tombstone of b, two records of c (the last wins);
        // the file still holds them all (a compaction not finished). Then a put of b at 11.
        let es = [
            entry(b"a", 9, 0, false),
            entry(b"a", 10, 0, false),
            entry(b"b", 10, 1, true),
            entry(b"c", 10, 2, true),
            entry(b"c", 10, 3, false),
            entry(b"b", 11, 0, false),
        ];
        let want: Vec<(u64, bool, &[u8])> = vec![(10, false, b"a"), (10, false, b"c"), (11, false, b"b")];
        assert_eq!(replayed(10, &es), want);
        // From past it, or from the start (what the file holds), nothing is held back.
        assert_eq!(replayed(11, &es), vec![(11, false, &b"b"[..])]);
        assert_eq!(replayed(0, &es).len(), es.len());
        // Held back to the end: a replay whose last records are at the compaction still ends with them.
        assert_eq!(replayed(10, &es[..3]), vec![(10, false, &b"a"[..])]);
        // A finished compaction is replayed as the file holds it (a tombstone kept at 10 included).
        assert_eq!(replayed_with(10, false, &es[1..3]), vec![(10, false, &b"a"[..]), (10, true, &b"b"[..])]);
    }
}
