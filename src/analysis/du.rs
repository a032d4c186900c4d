//! `du`: what fills a file, by Kubernetes resource, namespace or key prefix, and the keys to
//! blame, from one parallel pass over the tree (more passes only past the memory budget).
//!
//! For etcd files, the `key` bucket's records are reduced to each key's history
//! ([`keyspace`]): a key is live when its newest record is a put; compaction at the current
//! revision deletes every record of a key but the newest, and the newest too when it is a
//! tombstone below that revision ([`crate::etcd::mvcc::survives`]). Groups come from
//! [`crate::k8s::key`]; encodings from [`crate::k8s::encoding`]. A generic bbolt file has no
//! history: each key/value pair of every bucket is one live key named `bucket/.../key`, grouped by
//! path prefix.

use super::du_report::{Du, Figures, Group, GroupName, KeyText, Largest, MostRevised, MostStored, Top, TopN};
pub use super::grouping::By;
use super::grouping::OTHER;
use crate::bbolt::fold::Pair;
use crate::bbolt::page::LeafElem;
use crate::bbolt::structure::{walk, Structure};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{Ctx, Fold};
use crate::etcd::history::{self, Compacted};
use crate::etcd::keyspace::{self, Budget, Gather, KeyFilter, KeyFold, KeyState, Plan, BUDGET};
use crate::etcd::records::RecordCheck;
use crate::etcd::{schema, trailer};
use crate::k8s::encoding::{self, Encoding};
use crate::k8s::key;
use crate::problem::MAX_PROBLEMS;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

/// What to compute.
#[derive(Clone, Debug)]
pub struct Options {
    /// The grouping; `None`: by resource when a key lies under a Kubernetes API prefix, else
    /// `prefix:1`.
    pub by: Option<By>,
    /// Only keys starting with these bytes.
    pub prefix: Option<Vec<u8>>,
    /// Length of each top list.
    pub top: usize,
    /// Bytes the per-key pass may hold ([`keyspace::BUDGET`]).
    pub budget: u64,
    /// Verify the sha256 trailer (on the other core, during the walk), as `inspect` does.
    pub verify_trailer: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { by: None, prefix: None, top: 10, budget: BUDGET, verify_trailer: true }
    }
}

/// A group's figures as they are summed.
#[derive(Default)]
struct Tally {
    f: Figures,
    leases: HashSet<u64>,
}

impl Tally {
    fn join(&mut self, o: Tally) {
        let (a, b) = (&mut self.f, o.f);
        a.live_keys += b.live_keys;
        a.live_bytes += b.live_bytes;
        a.revisions += b.revisions;
        a.tombstones += b.tombstones;
        a.stored_bytes += b.stored_bytes;
        a.compact_revisions += b.compact_revisions;
        a.compact_bytes += b.compact_bytes;
        for (e, n) in b.encodings {
            *a.encodings.entry(e).or_insert(0) += n;
        }
        self.leases.extend(o.leases);
    }

    fn finish(mut self) -> Figures {
        self.f.leases = self.leases.len() as u64;
        self.f
    }
}

/// Groups and top lists, per accumulator.
struct Acc {
    groups: HashMap<Vec<u8>, Tally>,
    total: Tally,
    largest: TopN,
    revised: TopN,
    stored: TopN,
    /// Keys whose history etcd cannot have written.
    broken: u64,
}

/// One key's figures.
struct KeyFigures<'a> {
    key: &'a [u8],
    /// The live value (none for a deleted key).
    value: Option<&'a [u8]>,
    /// Key plus value bytes of the live value.
    live: u64,
    lease: u64,
    revisions: u64,
    tombstones: u64,
    stored: u64,
    compact_revisions: u64,
    compact_bytes: u64,
}

impl Acc {
    fn new(top: usize) -> Acc {
        let t = || TopN::new(top);
        Acc { groups: HashMap::new(), total: Tally::default(), largest: t(), revised: t(), stored: t(), broken: 0 }
    }

    fn add(&mut self, by: By, k: &KeyFigures<'_>) {
        let g = by.slot(k.key);
        if !self.groups.contains_key(g.as_ref()) {
            self.groups.insert(g.to_vec(), Tally::default());
        }
        let enc = k.value.map(|v| match encoding::classify(v) {
            Encoding::Protobuf => Cow::Borrowed("protobuf"),
            Encoding::Json => Cow::Borrowed("json"),
            Encoding::Cbor => Cow::Borrowed("cbor"),
            Encoding::Other => Cow::Borrowed("other"),
            e @ Encoding::Encrypted(_) => Cow::Owned(e.label()),
        });
        for t in [self.groups.get_mut(g.as_ref()), Some(&mut self.total)].into_iter().flatten() {
            let f = &mut t.f;
            f.revisions += k.revisions;
            f.tombstones += k.tombstones;
            f.stored_bytes += k.stored;
            f.compact_revisions += k.compact_revisions;
            f.compact_bytes += k.compact_bytes;
            if let Some(e) = &enc {
                f.live_keys += 1;
                f.live_bytes += k.live;
                match f.encodings.get_mut(e.as_ref()) {
                    Some(n) => *n += 1,
                    None => {
                        f.encodings.insert(e.to_string(), 1);
                    }
                }
                if k.lease != 0 {
                    t.leases.insert(k.lease);
                }
            }
        }
        if k.value.is_some() {
            self.largest.offer(k.live, k.key);
        }
        self.revised.offer(k.revisions, k.key);
        self.stored.offer(k.stored, k.key);
    }

    fn join(mut self, o: Acc) -> Acc {
        for (g, t) in o.groups {
            self.groups.entry(g).or_default().join(t);
        }
        self.total.join(o.total);
        self.largest.join(o.largest);
        self.revised.join(o.revised);
        self.stored.join(o.stored);
        self.broken += o.broken;
        self
    }
}

/// `du` over the `key` bucket's keys.
struct EtcdKeys<'a> {
    data: &'a [u8],
    by: By,
    top: usize,
    compacted: Compacted,
}

impl KeyFold for EtcdKeys<'_> {
    type Acc = Acc;
    fn empty(&self) -> Acc {
        Acc::new(self.top)
    }
    fn key(&self, acc: &mut Acc, k: &KeyState) {
        acc.broken += u64::from(k.history_broken(&self.compacted));
        let Some(kv) = k.newest(self.data) else { return };
        let (compact_revisions, compact_bytes) = if k.survives() {
            (k.revisions - 1, k.stored_bytes.saturating_sub(k.newest_bytes()))
        } else {
            (k.revisions, k.stored_bytes)
        };
        let f = KeyFigures {
            key: kv.key,
            value: k.live().then_some(kv.value),
            live: (kv.key.len() + kv.value.len()) as u64,
            lease: kv.lease,
            revisions: k.revisions,
            tombstones: k.tombstones,
            stored: k.stored_bytes,
            compact_revisions,
            compact_bytes,
        };
        acc.add(self.by, &f);
    }
    fn join(&self, l: Acc, r: Acc) -> Acc {
        l.join(r)
    }
}

/// `du` over every key/value pair of a generic bbolt file, named by bucket path.
struct GenericKeys<'a> {
    by: By,
    top: usize,
    prefix: Option<&'a [u8]>,
}

impl Fold for GenericKeys<'_> {
    type Acc = Acc;
    fn empty(&self) -> Acc {
        Acc::new(self.top)
    }
    fn join(&self, l: Acc, r: Acc) -> Acc {
        l.join(r)
    }
    fn entry(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        if ctx.depth == 0 || e.is_bucket() {
            return;
        }
        let mut name = Vec::new();
        let mut node = ctx.path;
        while let Some(n) = node {
            name.splice(0..0, n.name.iter().copied().chain(std::iter::once(b'/')));
            node = n.parent;
        }
        name.extend_from_slice(e.key);
        if self.prefix.is_some_and(|p| !name.starts_with(p)) {
            return;
        }
        let stored = (e.key.len() + e.value.len()) as u64;
        let f = KeyFigures {
            key: &name,
            value: Some(e.value),
            live: stored,
            lease: 0,
            revisions: 1,
            tombstones: 0,
            stored,
            compact_revisions: 0,
            compact_bytes: 0,
        };
        acc.add(self.by, &f);
    }
    fn bucket(&self, acc: &mut Acc, _ctx: &Ctx<'_>, _e: &LeafElem<'_>, sub: Acc) {
        let l = std::mem::replace(acc, Acc::new(0));
        *acc = l.join(sub);
    }
}

/// `du` of one file: of the tree the view reads, and when that is the older meta page's (the newer
/// one cannot be used), the report says so.
pub fn du(view: &DbView<'_>, opt: &Options) -> Du {
    let mut du = du_of_tree(view, opt);
    du.meta_fallback = view.fallback().map(|(newer, why, _)| {
        format!("read from meta page {}, the previous transaction: meta page {newer} cannot be used ({why})", 1 - newer)
    });
    du
}

/// [`du`] of the tree the view reads.
fn du_of_tree(view: &DbView<'_>, opt: &Options) -> Du {
    let prefix = opt.prefix.as_deref();
    let in_use = |s: &Structure| view.total_size().saturating_sub(s.free_pages.saturating_mul(view.page_size));
    if !schema::is_etcd(view) {
        let by = opt.by.unwrap_or(By::Prefix(1));
        let (acc, s, more) = walk_checked(view, &GenericKeys { by, top: opt.top, prefix }, opt.verify_trailer);
        let complete = whole(&s.problems, s.problem_total);
        let (mut problems, total) = (s.problems.clone(), s.problem_total + more.len() as u64);
        problems.extend(more);
        let mut r = report(acc, by, None, in_use(&s), (problems, total), complete);
        if let Some(t) = &mut r.top {
            (t.most_revised, t.most_stored) = (Vec::new(), Vec::new());
            for g in r.groups.iter_mut().flatten() {
                g.figures.encodings.clear();
            }
            if let Some(t) = &mut r.total {
                t.encodings.clear();
            }
        }
        return r;
    }
    let last = schema::newest_revision(view).ok().flatten().unwrap_or(0);
    let info = schema::read(view, last);
    let (rev, compacted) = (info.current_revision, Compacted::of(&info));
    let budget = Budget::new(opt.budget);
    let p = prefix.unwrap_or_default();
    let starts: &KeyFilter = &|k: &[u8]| k.starts_with(p);
    let api: &KeyFilter = &|k: &[u8]| key::PREFIXES.iter().any(|p| k.starts_with(p));
    let plan = Plan::all(rev).judging(compacted);
    let gather =
        Gather::new(view.data, plan, &budget).located(view.page_size).filter(prefix.map(|_| starts)).mark(Some(api));
    // Revisions missing above the compaction (a leaf lost whole) are followed beside the gather.
    let holes = RecordCheck::holes_only(view);
    let ((g, mut hole), s, mut more) = walk_checked(view, &Pair(&gather, &holes), opt.verify_trailer);
    // Records of the small buckets etcd cannot read fail the file as `check` fails it (figures stand).
    more.extend(schema::problems(view, &info).into_iter().filter(|p| !p.kind.is_warning()));
    holes.finish(&mut hole);
    let mut problems = s.problems.clone();
    problems.extend(g.info.problems.iter().cloned());
    problems.extend(g.info.inconsistent.iter().cloned());
    problems.extend(hole.problems.iter().cloned());
    let total = s.problem_total + g.info.problem_total + g.info.inconsistent_total + hole.total + more.len() as u64;
    problems.extend(more);
    problems.truncate(MAX_PROBLEMS);
    // A record that cannot be decoded has no key to count it under: its figures are unknown. One
    // that breaks etcd's invariants is damage `check` reports: no figures from it either.
    let mut complete = whole(&s.problems, s.problem_total)
        && g.info.problem_total == 0
        && g.info.inconsistent_total == 0
        && hole.total == 0;
    let by = opt.by.unwrap_or(if g.info.marked { By::Resource } else { By::Prefix(1) });
    let mut acc = if complete {
        keyspace::fold_gathered(view, &gather, g, &EtcdKeys { data: view.data, by, top: opt.top, compacted })
    } else {
        Acc::new(0)
    };
    let (mut problems, mut total) = (problems, total);
    if acc.broken > 0 && !compacted.unknown {
        (total, complete) = (total + 1, false);
        problems.insert(0, history::problem(acc.broken, &compacted));
        problems.truncate(MAX_PROBLEMS);
        acc = Acc::new(0);
    }
    // The revision is read from the tree too: withheld with the figures.
    report(acc, by, complete.then_some(rev), in_use(&s), (problems, total), complete)
}

/// The structure walk with `fold`, the sha256 trailer verified beside it when asked; the file's
/// own problems besides the tree's (a trailer that does not match, bytes past the high-water
/// mark, an etcd file that lost its `meta` or `key` bucket), which leave the figures standing.
fn walk_checked<F: Fold>(view: &DbView<'_>, fold: &F, verify: bool) -> (F::Acc, Structure, Vec<crate::Problem>) {
    let ((acc, s), check) = rayon::join(|| walk(view, fold), || if verify { trailer::verify(view.data) } else { None });
    let mismatch = check.and_then(|t| trailer::mismatch(view, &t));
    (acc, s, mismatch.into_iter().chain(trailer::tail_problem(view)).chain(schema::bucket_missing(view)).collect())
}

/// Whether the tree was read whole: no problem that can make figures wrong (as `inspect`
/// judges it), and none uncounted.
fn whole(problems: &[crate::Problem], total: u64) -> bool {
    problems.len() as u64 == total && !problems.iter().any(|p| p.kind.affects_figures())
}

/// The report from the summed groups; figures withheld unless `complete`.
fn report(acc: Acc, by: By, revision: Option<u64>, in_use: u64, p: (Vec<crate::Problem>, u64), complete: bool) -> Du {
    let (problems, problem_total) = p;
    let mut du = Du {
        revision,
        by: by.name(),
        in_use: None,
        complete,
        groups: None,
        top: None,
        total: None,
        problems,
        problem_total,
        meta_fallback: None,
    };
    if !complete {
        return du;
    }
    du.in_use = Some(in_use);
    let share = |b: u64| if in_use == 0 { 0.0 } else { b as f64 / in_use as f64 };
    // Slots that stand for the same group (resource paths of one resource) are joined.
    let mut named: HashMap<Vec<u8>, Tally> = HashMap::new();
    for (slot, t) in acc.groups {
        named.entry(by.name_of(Cow::Owned(slot)).into_owned()).or_default().join(t);
    }
    let mut groups: Vec<Group> = named
        .into_iter()
        .map(|(name, t)| {
            let f = t.finish();
            let (resource, namespace) = match by {
                By::ResourceNamespace if name.as_slice() != OTHER.as_bytes() => {
                    let s = String::from_utf8_lossy(&name).into_owned();
                    match s.split_once('/') {
                        Some((r, n)) => (Some(r.to_owned()), Some(n.to_owned())),
                        None => (Some(s), None),
                    }
                }
                _ => (None, None),
            };
            Group { name: GroupName::of(&name), resource, namespace, share: share(f.stored_bytes), figures: f }
        })
        .collect();
    groups.sort_by(|a, b| b.figures.stored_bytes.cmp(&a.figures.stored_bytes).then_with(|| a.name.cmp(&b.name)));
    let list = |t: TopN| t.into_sorted().into_iter().map(|(m, k)| (KeyText::of(&k), m));
    du.top = Some(Top {
        largest: list(acc.largest).map(|(key, bytes)| Largest { key, bytes }).collect(),
        most_revised: list(acc.revised).map(|(key, revisions)| MostRevised { key, revisions }).collect(),
        most_stored: list(acc.stored).map(|(key, stored_bytes)| MostStored { key, stored_bytes }).collect(),
    });
    du.groups = Some(groups);
    du.total = Some(acc.total.finish());
    du
}
