//! `inspect`: everything about one file from one parallel pass: file and meta facts, page
//! counts and sizes, bbolt's bucket stats, etcd's schema, the MVCC store, the size after
//! compaction + defrag, quota usage, and what free pages still hold of deleted data.

use super::predict::{self, BucketLayout};
use super::replay;
pub use super::report::*;
use super::residue;
use super::resources::ResourceTally;
use crate::bbolt::meta::MIN_FILE_LEN;
use crate::bbolt::page::{LeafElem, Page, BRANCH, LEAF};
use crate::bbolt::stats::StatsAcc;
use crate::bbolt::structure::{walk_reached, Structure};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{Ctx, Fold, Leaf, Pair};
use crate::etcd::keyspace::{Budget, BUDGET};
use crate::etcd::meta_keys::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
use crate::etcd::mvcc::{Parts, Rec, Totals};
use crate::etcd::trailer::{self, TrailerCheck};
use crate::etcd::{key_fingerprint, schema, KEY_BUCKET, META_BUCKET};
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};

/// Fill percents the prediction is made for: etcd's defrag, and `bbolt compact`. Figures per
/// fill (`[u64; 2]`) are indexed by position in this array.
pub const FILLS: [f64; 2] = [0.9, 1.0];
/// The version of the JSON schema of the report (`"schema"`): 2 added `complete`, withheld
/// figures as `null`, errors and warnings, and the quota verdict's code; 3 added `residue`.
pub const SCHEMA: u32 = 3;
/// etcd's default quota (`--quota-backend-bytes` 0): 2 GiB.
pub const DEFAULT_QUOTA: u64 = 2 * 1024 * 1024 * 1024;

/// What to inspect.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Report buckets down to this nesting depth (1 = top-level only).
    pub depth: u32,
    /// Quota in bytes.
    pub quota: u64,
    /// Verify the sha256 trailer (in parallel with the walk).
    pub verify_trailer: bool,
    /// Count what free pages still hold of deleted data (etcd files whose tree was read whole).
    pub residue: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { depth: 1, quota: DEFAULT_QUOTA, verify_trailer: true, residue: true }
    }
}

/// Bytes the tree's revisions may take for the residue count (16 per revision); past it, the
/// revisions carved from free pages are looked up in the tree one by one instead.
pub const REVISIONS_BUDGET: u64 = 64 << 20;

/// A top-level bucket as the prediction needs it.
#[derive(Default)]
struct Top {
    name: Vec<u8>,
    entries: Vec<(u32, u32)>,
    has_sub: bool,
    sub_pages: [u64; 2],
}

/// The per-subtree accumulator of [`InspectFold`].
#[derive(Default)]
pub struct Acc {
    stats: StatsAcc,
    branch: u64,
    leaf: u64,
    overflow: u64,
    entries: Vec<(u32, u32)>,
    has_sub: bool,
    sub_pages: [u64; 2],
    reports: Vec<BucketReport>,
    tops: Vec<Top>,
    totals: Totals,
    last_rev: Option<u64>,
    recs: Vec<Parts>,
    /// `[main, sub]` of every `key` bucket entry, in key order (for the residue count).
    revs: Vec<[u64; 2]>,
    resources: ResourceTally,
    problems: Vec<Problem>,
    problem_total: u64,
}

impl Acc {
    /// Takes what passes unchanged from a later stretch or a sub-bucket: page counts, MVCC
    /// records and their totals, problems.
    fn absorb(&mut self, o: &mut Acc) {
        self.branch += o.branch;
        self.leaf += o.leaf;
        self.overflow += o.overflow;
        self.totals.add(&o.totals);
        self.last_rev = o.last_rev.or(self.last_rev);
        self.recs.append(&mut o.recs);
        self.revs.append(&mut o.revs);
        self.resources.join(std::mem::take(&mut o.resources));
        self.problem_total += o.problem_total;
        self.problems.append(&mut o.problems);
        self.problems.truncate(MAX_PROBLEMS);
    }
}

/// The fold behind `inspect`.
pub struct InspectFold<'b> {
    page_size: u64,
    depth: u32,
    etcd: bool,
    /// What the MVCC records may take; past it they are dropped and replayed by passes.
    budget: &'b Budget,
    /// What the tree's revisions may take, for the residue count (`None`: not collected).
    revisions: Option<&'b Budget>,
}

impl InspectFold<'_> {
    fn in_key_bucket(&self, ctx: &Ctx<'_>) -> bool {
        self.etcd && ctx.depth == 1 && ctx.top == KEY_BUCKET
    }

    /// One plain entry; `revs`: note its revision for the residue count.
    fn plain(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>, page: Option<&Page<'_>>, revs: bool) {
        if self.in_key_bucket(ctx) {
            if revs {
                // The key was just read by the check above it in cache: no second miss.
                acc.revs.extend(crate::etcd::revision::parse(e.key).map(|r| [r.main, r.sub]));
            }
            let report = |acc: &mut Acc, (kind, msg): (ProblemKind, String)| {
                acc.problem_total += 1;
                if acc.problems.len() < MAX_PROBLEMS {
                    let mut p = Problem::new(kind, msg).bucket(vec!["key".into()]);
                    if let Some(pg) = page {
                        p = p.page(pg.id).offset(pg.offset_of(e.key));
                    }
                    acc.problems.push(p);
                }
            };
            let checked = Rec::check_kv(e.key, e.value);
            let t = &mut acc.totals;
            match checked {
                Ok(None) => {}
                Err(inv) => {
                    t.malformed += 1;
                    report(acc, inv);
                }
                Ok(Some((kv, r, issue))) => {
                    if let Some(inv) = issue {
                        report(acc, inv);
                    }
                    let fp = key_fingerprint(kv.key);
                    acc.resources.add(kv.key, u64::from(r.ksize()) + u64::from(r.vsize()));
                    let t = &mut acc.totals;
                    t.revisions += 1;
                    t.tombstones += u64::from(r.tomb());
                    t.bytes += r.bytes();
                    acc.last_rev = Some(r.main);
                    if self.budget.exceeded() {
                        acc.recs = Vec::new();
                        return;
                    }
                    let grown = match acc.recs.last_mut() {
                        Some(p) if !p.is_full() => p.push(fp, r),
                        _ => {
                            let mut p = Parts::default();
                            let grown = p.push(fp, r);
                            acc.recs.push(p);
                            grown
                        }
                    };
                    if !self.budget.charge(grown) {
                        acc.recs = Vec::new();
                    }
                }
            }
        } else {
            acc.entries.push((e.key.len() as u32, e.value.len() as u32));
        }
    }
}

impl Fold for InspectFold<'_> {
    type Acc = Acc;

    fn empty(&self) -> Acc {
        Acc::default()
    }

    fn join(&self, mut l: Acc, mut r: Acc) -> Acc {
        l.absorb(&mut r);
        if self.budget.exceeded() {
            l.recs = Vec::new();
        }
        l.stats = l.stats.join(r.stats);
        l.entries.extend(r.entries);
        l.has_sub |= r.has_sub;
        l.sub_pages = [l.sub_pages[0] + r.sub_pages[0], l.sub_pages[1] + r.sub_pages[1]];
        l.reports.extend(r.reports);
        l.tops.extend(r.tops);
        l
    }

    fn leaf(&self, acc: &mut Acc, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        if self.in_key_bucket(ctx) {
            // The lease field sits at the end of each value: start loading every value's last
            // cache line before decoding, so the misses overlap instead of queueing.
            for e in leaf.elems() {
                if let Some(tail) = e.value.len().checked_sub(1).and_then(|i| e.value.get(i..)) {
                    crate::sys::prefetch(tail);
                }
            }
        }
        let revs = self.in_key_bucket(ctx) && self.revisions.is_some_and(|b| b.charge(16 * leaf.count as u64));
        for e in leaf.elems() {
            self.plain(acc, ctx, &e, Some(&leaf.page), revs);
        }
    }

    fn entry(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        if !e.is_bucket() {
            let revs = self.in_key_bucket(ctx) && self.revisions.is_some_and(|b| b.charge(16));
            self.plain(acc, ctx, e, None, revs);
        }
    }

    fn bucket(&self, acc: &mut Acc, ctx: &Ctx<'_>, e: &LeafElem<'_>, mut sub: Acc) {
        let done = sub.stats.finish(self.page_size);
        acc.stats.sub_bucket(&done);
        acc.absorb(&mut sub);
        if self.budget.exceeded() {
            acc.recs = Vec::new();
        }
        if ctx.depth < self.depth {
            let mut path = ctx.path();
            path.push(String::from_utf8_lossy(e.key).into_owned());
            let name = path.last().cloned().unwrap_or_default();
            acc.reports.push(BucketReport { name, path, stats: done });
        }
        acc.reports.extend(sub.reports);
        if ctx.depth == 0 {
            acc.tops.push(Top {
                name: e.key.to_vec(),
                entries: sub.entries,
                has_sub: sub.has_sub,
                sub_pages: sub.sub_pages,
            });
        } else {
            let layouts =
                [0, 1].map(|i| predict::layout(&sub.entries, sub.has_sub, sub.sub_pages[i], self.page_size, FILLS[i]));
            acc.has_sub = true;
            acc.entries.push((e.key.len() as u32, layouts[0].value_size as u32));
            for (i, l) in layouts.iter().enumerate() {
                acc.sub_pages[i] += l.total_pages();
            }
        }
    }

    fn page(&self, acc: &mut Acc, _ctx: &Ctx<'_>, page: &Page<'_>, tree_level: u32, inline: bool) {
        acc.stats.page(page, tree_level, inline);
        if !inline {
            match page.flags {
                BRANCH => acc.branch += 1,
                LEAF => acc.leaf += 1,
                _ => {}
            }
            acc.overflow += u64::from(page.overflow);
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Quota usage now (`total`) and after compaction + defrag (`after`, when known), with a
/// verdict.
pub fn quota(total: u64, after: Option<u64>, quota: u64) -> Quota {
    let usage = ratio(total, quota);
    let later = after.map(|a| ratio(a, quota));
    let pct = |x: f64| format!("{:.0}%", x * 100.0);
    let (code, verdict) = match later {
        _ if total < quota => (
            QuotaCode::Within,
            match later {
                Some(l) => format!("within quota: {} used; compact + defrag brings it to {}", pct(usage), pct(l)),
                None => format!("within quota: {} used", pct(usage)),
            },
        ),
        Some(l) if l < 1.0 => (
            QuotaCode::OverFixable,
            format!("over quota ({}): NOSPACE would be raised; compact + defrag brings it to {}", pct(usage), pct(l)),
        ),
        Some(l) => (
            QuotaCode::Over,
            format!(
                "over quota ({}): NOSPACE would be raised; compact + defrag brings it to {}, still over: raise the \
                 quota or delete data",
                pct(usage),
                pct(l)
            ),
        ),
        None => (QuotaCode::OverUnknown, format!("over quota ({}): NOSPACE would be raised", pct(usage))),
    };
    Quota { bytes: quota, usage, usage_after_compact_defrag: later, code, verdict }
}

/// Inspects a file.
pub fn inspect(view: &DbView<'_>, opt: &Options) -> Inspect {
    inspect_with(view, opt, &()).0
}

/// Problems of the file as a whole that the walk does not see: the trailer, bytes past the
/// high-water mark, a database too short for bbolt, and raised alarms (warnings).
fn file_problems(view: &DbView<'_>, check: Option<&TrailerCheck>, info: Option<&schema::EtcdInfo>) -> Vec<Problem> {
    let mut out: Vec<Problem> = check.and_then(|t| trailer::mismatch(view, t)).into_iter().collect();
    out.extend(trailer::tail_problem(view));
    if (view.body_len() as u64) < MIN_FILE_LEN {
        let (n, min) = (view.body_len(), MIN_FILE_LEN);
        let msg = format!(
            "the database is {n} bytes: bbolt's Open reads the first {min} to find the page size and refuses a \
             shorter file"
        );
        out.push(Problem::new(ProblemKind::TooShortForBbolt, msg).offset(n as u64));
    }
    out.extend(info.into_iter().flat_map(|i| schema::alarm_warnings(&i.alarms)));
    out
}

/// Inspects a file, running `extra` in the same walk.
pub fn inspect_with<F: Fold>(view: &DbView<'_>, opt: &Options, extra: &F) -> (Inspect, F::Acc) {
    inspect_within(view, opt, extra, BUDGET)
}

/// [`inspect_with`] with the MVCC records held to `budget` bytes (past it, they are replayed by
/// partitioned passes over the `key` bucket: same figures, bounded memory).
pub fn inspect_within<F: Fold>(view: &DbView<'_>, opt: &Options, extra: &F, budget: u64) -> (Inspect, F::Acc) {
    let ps = view.page_size;
    let etcd = schema::is_etcd(view);
    let budget = Budget::new(budget);
    let revisions = Budget::new(REVISIONS_BUDGET);
    let want_residue = opt.residue && etcd;
    let fold = InspectFold {
        page_size: ps,
        depth: opt.depth.max(1),
        etcd,
        budget: &budget,
        revisions: want_residue.then_some(&revisions),
    };
    let (((acc, extra_acc), structure, reached), check) = rayon::join(
        || walk_reached(view, &Pair(&fold, extra)),
        || if opt.verify_trailer { trailer::verify(view.data) } else { None },
    );
    let Structure { free_pages, mut problems, mut problem_total, freelist_synced, .. } = structure;
    problem_total += acc.problem_total;
    problems.extend(acc.problems);
    // Figures come only from a tree that was read whole: any problem that can make them wrong (or
    // problems too many to keep, whose kinds are unknown) withholds them.
    let complete = problems.len() as u64 == problem_total && !problems.iter().any(|p| p.kind.affects_figures());
    let m = view.meta();
    // The stored freelist's page run (0 without one).
    let freelist = if freelist_synced { view.page(m.freelist).map_or(0, |p| p.run_pages()) } else { 0 };
    let total = view.total_size();
    let free = free_pages.saturating_mul(ps).min(total);
    let last_rev = acc.last_rev.unwrap_or(0);
    let mut info = etcd.then(|| schema::read(view, last_rev));
    // Free pages are known only from a tree read whole: otherwise pages cut off by damage would
    // pass for free ones.
    let want_residue = want_residue && complete;
    let compacted = info.as_ref().and_then(|i| i.finished_compact_revision.max(i.scheduled_compact_revision));
    let tree_revs = (!revisions.exceeded()).then_some(&acc.revs[..]);
    let ((mvcc, key_layouts), residue) = rayon::join(
        || match info.as_mut().filter(|_| complete) {
            Some(info) => {
                let (mvcc, layouts) = replay::replay(view, &acc.recs, &acc.totals, info, &budget);
                (Some(mvcc), Some(layouts))
            }
            None => (None, None),
        },
        || want_residue.then(|| residue::residue(view, &reached, tree_revs, compacted)).flatten(),
    );
    drop(reached);
    if let Some(w) = residue.as_ref().and_then(residue::warning) {
        problem_total += 1;
        problems.push(w);
    }
    let resources = (etcd && complete).then(|| acc.resources.largest(total - free));
    if let Some(i) = &info {
        let etcd_problems = schema::problems(view, i);
        problem_total += etcd_problems.len() as u64;
        problems.extend(etcd_problems);
    }
    let more = file_problems(view, check.as_ref(), info.as_ref());
    problem_total += more.len() as u64;
    problems.extend(more);
    // Errors first, then warnings, each by page and offset.
    problems.sort_by_key(|p| (p.kind.is_warning(), p.page.unwrap_or(u64::MAX), p.offset.unwrap_or(u64::MAX)));
    problems.truncate(MAX_PROBLEMS);
    let warnings = problems.iter().filter(|p| p.kind.is_warning()).count() as u64;
    let prediction = complete.then(|| {
        let mut tops = acc.tops;
        if let Some(i) = &info {
            // Compaction writes scheduledCompactRev and finishedCompactRev (17-byte revisions).
            if let Some(t) = tops.iter_mut().find(|t| t.name == META_BUCKET) {
                let rev_len = crate::etcd::revision::REV_LEN as u32;
                if i.scheduled_compact_revision.is_none() {
                    t.entries.push((SCHEDULED_COMPACT_REV.len() as u32, rev_len));
                }
                if i.finished_compact_revision.is_none() {
                    t.entries.push((FINISHED_COMPACT_REV.len() as u32, rev_len));
                }
            }
        }
        let mut p = predict_sizes(&tops, key_layouts.as_ref(), ps, info.as_ref().map(|i| i.current_revision));
        p.compact_size = (p.size_fill_1_0 / ps - 2 + u64::from(freelist_synced)) * ps;
        p
    });
    let quota = quota(total, prediction.as_ref().map(|p| p.size_fill_0_9), opt.quota);
    let metas = view
        .metas
        .pages
        .iter()
        .map(|p| MetaInfo {
            valid: p.as_ref().is_some_and(|m| m.is_valid()),
            txid: p.as_ref().map(|m| m.txid),
            error: p.as_ref().map_or(Some("past the end of the file".into()), |m| m.error.clone()),
        })
        .collect();
    let report = Inspect {
        schema: SCHEMA,
        file: FileInfo {
            file_size: view.data.len() as u64,
            page_size: ps,
            byte_order: view.order,
            active_meta: view.meta_index,
            metas,
            high_water_mark: view.hwm,
            freelist: if freelist_synced { "page".into() } else { "not synced".into() },
        },
        trailer: Trailer { present: view.has_trailer(), sha256_ok: check.as_ref().map(TrailerCheck::ok), check },
        complete,
        pages: complete.then_some(Pages {
            meta: 2,
            freelist,
            branch: acc.branch,
            leaf: acc.leaf,
            overflow: acc.overflow,
            free: free_pages,
        }),
        size: Sizes {
            total,
            in_use: complete.then_some(total - free),
            free: complete.then_some(free),
            fragmentation: complete.then(|| ratio(free, total)),
            past_hwm: view.slack(),
        },
        buckets: complete.then_some(acc.reports),
        etcd: info.filter(|_| complete),
        mvcc,
        residue,
        resources,
        prediction,
        quota,
        problems,
        problem_total,
        warnings,
    };
    (report, extra_acc)
}

/// The size after compaction + defrag: every top-level bucket as walked, except etcd's `key`
/// bucket, which holds only the compaction's survivors, and `meta`, which gains the two compact
/// revision keys if it lacks them.
fn predict_sizes(tops: &[Top], key_layouts: Option<&[BucketLayout; 2]>, ps: u64, rev: Option<u64>) -> Prediction {
    let sizes = [0, 1].map(|i| {
        let f = FILLS[i];
        let top: Vec<(u32, BucketLayout)> = tops
            .iter()
            .map(|t| {
                let l = match key_layouts {
                    Some(k) if t.name == KEY_BUCKET => k[i],
                    _ => predict::layout(&t.entries, t.has_sub, t.sub_pages[i], ps, f),
                };
                (t.name.len() as u32, l)
            })
            .collect();
        predict::file_pages(&top, ps, false) * ps
    });
    Prediction { compact_revision: rev, size_fill_0_9: sizes[0], size_fill_1_0: sizes[1], compact_size: 0 }
}
