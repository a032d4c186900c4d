//! etcd's invariants on every record of the `key` bucket, as a [`Fold`] any pass can run beside
//! its own: revision keys of the right shape, values that decode as an `mvccpb.KeyValue` whose
//! mod revision is the key's and whose create revision and version make sense, tombstones that
//! carry only their key ([`Rec::check`] decides), and no revision missing above the compaction
//! ([`Continuity`], judged by [`RecordCheck::finish`] once the walk is done). `status` runs it so
//! it never calls a file clean that `check` fails; `compact` runs it so it never copies such a
//! file.

use super::continuity::Continuity;
use super::mvcc::Rec;
use super::{schema, KEY_BUCKET};
use crate::bbolt::page::{LeafElem, Page};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{Ctx, Fold, Leaf};
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};

/// Problems found in a stretch of records (at most [`MAX_PROBLEMS`] kept), and how many in all.
#[derive(Debug, Default)]
pub struct Found {
    /// The problems kept.
    pub problems: Vec<Problem>,
    /// All problems, kept or not.
    pub total: u64,
    /// The revisions' continuity.
    pub continuity: Continuity,
}

impl Found {
    fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

/// The fold; `enabled` is false for files that are not etcd's (their `key` bucket, if any, is
/// someone else's).
pub struct RecordCheck {
    enabled: bool,
    /// Whether each record is checked (else only the revisions' continuity is followed).
    records: bool,
    /// The larger of the finished and scheduled compactions.
    compacted: u64,
    /// Whether the `meta` bucket reads for them (else no revision is judged missing above them).
    known: bool,
    /// Where the map starts, and its page size: to locate an element the walk gives alone.
    base: usize,
    page_size: u64,
}

impl RecordCheck {
    /// Checks the records of `view` when it is an etcd file.
    pub fn for_view(view: &DbView<'_>) -> RecordCheck {
        let enabled = schema::is_etcd(view);
        let c = if enabled { super::history::Compacted::read(view) } else { Default::default() };
        let (compacted, known) = (c.upto, enabled && !c.unknown);
        RecordCheck {
            enabled,
            records: true,
            compacted,
            known,
            base: view.data.as_ptr() as usize,
            page_size: view.page_size,
        }
    }

    /// Follows only the revisions' continuity of `view`'s records, for a pass that checks the
    /// records itself.
    pub fn holes_only(view: &DbView<'_>) -> RecordCheck {
        RecordCheck { records: false, ..RecordCheck::for_view(view) }
    }

    /// Once the walk is done: the problem of a revision missing above the compaction, if any
    /// (not the warning of holes a v2 migration leaves: `check` and `inspect` report that).
    pub fn finish(&self, acc: &mut Found) {
        let p = acc.continuity.problem(self.compacted).filter(|p| self.known && !p.kind.is_warning());
        if let Some(p) = p {
            acc.push(p);
        }
    }

    fn record(&self, acc: &mut Found, e: &LeafElem<'_>, page: Option<&Page<'_>>) {
        let locate = |p: Problem| match page {
            Some(pg) => p.page(pg.id).offset(pg.offset_of(e.key)),
            None => p,
        };
        if let Some(r) = super::revision::parse(e.key) {
            // Whether the record is shaped as `etcdctl migrate` writes them matters only in a
            // store never compacted: only there is the value decoded for it.
            let shaped = self.compacted == 0
                && super::proto::kv(e.value).is_some_and(|kv| super::continuity::migrate_shaped(&r, kv.version));
            acc.continuity.push((r.main, r.sub), shaped, page.map(|p| p.id.0), page.map(|p| p.offset_of(e.key)));
        }
        if !self.records {
            return;
        }
        let bucket = || vec![String::from_utf8_lossy(KEY_BUCKET).into_owned()];
        match Rec::check(e.key, e.value) {
            Ok(Some((_, _, Some((kind, msg))))) | Err((kind, msg)) => {
                acc.push(locate(Problem::new(kind, msg).bucket(bucket())));
            }
            Ok(_) => {}
        }
    }
}

impl Fold for RecordCheck {
    type Acc = Found;

    fn empty(&self) -> Found {
        Found::default()
    }

    fn join(&self, mut l: Found, r: Found) -> Found {
        l.continuity = l.continuity.join(r.continuity);
        l.total += r.total;
        l.problems.extend(r.problems);
        l.problems.truncate(MAX_PROBLEMS);
        l
    }

    fn leaf(&self, acc: &mut Found, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        if self.enabled && ctx.depth == 1 && ctx.top == KEY_BUCKET {
            for e in leaf.elems() {
                self.record(acc, &e, Some(&leaf.page));
            }
        }
    }

    fn entry(&self, acc: &mut Found, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        if !(self.enabled && ctx.depth == 1 && ctx.top == KEY_BUCKET) {
            return;
        }
        if !e.is_bucket() {
            return self.record(acc, e, None);
        }
        // etcd nests no bucket in `key`, and reads such an element as a record with no key and
        // no value (its revision still counts): not a record etcd wrote. Real bbolt passes one
        // that holds a well-formed bucket; the key readers refuse it (`scan`).
        if self.records {
            let at = (e.key.as_ptr() as usize).wrapping_sub(self.base) as u64;
            acc.push(nested_in_key(at, self.page_size));
        }
    }

    /// A bucket's records were found in an accumulator of their own: they join the parent's.
    fn bucket(&self, acc: &mut Found, _ctx: &Ctx<'_>, _e: &LeafElem<'_>, sub: Found) {
        let before = std::mem::take(acc);
        *acc = self.join(before, sub);
    }
}

/// An element of the `key` bucket (its key at byte `at`) flagged as a nested bucket: etcd nests
/// none, and reads one as a record with neither key nor value (its revision still counts). Real
/// bbolt passes one holding a well-formed bucket. Named by the page holding byte `at` too, when
/// the page size is known (not 0): every reader names the same page.
pub fn nested_in_key(at: u64, page_size: u64) -> Problem {
    let msg = "an element of the `key` bucket is flagged as a nested bucket: etcd nests none, and reads it as a \
               record with neither key nor value"
        .to_string();
    let p = Problem::new(ProblemKind::BucketMalformed, msg)
        .offset(at)
        .bucket(vec![String::from_utf8_lossy(KEY_BUCKET).into_owned()]);
    match at.checked_div(page_size) {
        Some(page) => p.page(page),
        None => p,
    }
}
