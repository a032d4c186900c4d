//! `inspect`: everything about one file from one parallel pass: file and meta facts, page
//! counts and sizes, bbolt's bucket stats, etcd's schema, the MVCC store, the size after
//! compaction + defrag, quota usage, and what free pages still hold of deleted data.

use super::inspect_fold::{InspectFold, Top};
use super::predict::{self, BucketLayout};
use super::replay;
pub use super::report::*;
use super::residue;
use crate::bbolt::meta::MIN_FILE_LEN;
use crate::bbolt::structure::{walk_reached, Structure};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{Fold, Pair};
use crate::etcd::history;
use crate::etcd::keyspace::{Budget, BUDGET};
use crate::etcd::meta_keys::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
use crate::etcd::trailer::{self, TrailerCheck};
use crate::etcd::{schema, KEY_BUCKET, META_BUCKET};
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};

/// Fill percents the prediction is made for: etcd's defrag, and `bbolt compact`. Figures per
/// fill (`[u64; 2]`) are indexed by position in this array.
pub const FILLS: [f64; 2] = [0.9, 1.0];
/// The version of the JSON schema of the report (`"schema"`): 2 added `complete`, withheld
/// figures as `null`, errors and warnings, and the quota verdict's code; 3 added `residue`; 4
/// withholds (`null`) `mvcc`, `resources`, `prediction` and the leases' attached keys when a
/// record of the `key` bucket cannot be read or breaks etcd's invariants; 5 adds the buckets'
/// `path_base64` (their exact names, when one is not UTF-8).
pub const SCHEMA: u32 = 5;
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

/// Bytes the tree's revisions may take for the residue count (about 4 per revision, charged at
/// [`crate::etcd::revset::RevSet::cost`], 7 a revision, in steps that may take up to twice what
/// they use: some 5 to 9.5 million revisions); past it, the revisions carved from free pages are
/// looked up in the tree one by one instead.
pub const REVISIONS_BUDGET: u64 = 64 << 20;

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

/// The problem of keys whose history breaks etcd's rules, naming them (review 45a: `check` said
/// only how many, where `get` names them): a second scan, only for a file found so damaged.
fn named_broken(view: &DbView<'_>) -> Option<Problem> {
    let kb = crate::bbolt::cursor::top_bucket(view, crate::etcd::KEY_BUCKET).ok()??;
    crate::etcd::range::judge_named(view, kb).ok()?.problem()
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
        base: view.data.as_ptr() as usize,
        depth: opt.depth.max(1),
        etcd,
        budget: &budget,
        revisions: want_residue.then_some(&revisions),
    };
    // The walk and all that follows it run beside the trailer's SHA-256 (one core), so the work
    // after the walk (MVCC replay, residue count) overlaps the hash instead of waiting for it.
    let (walked, check) = rayon::join(
        || {
            let ((mut acc, extra_acc), structure, reached) = walk_reached(view, &Pair(&fold, extra));
            let Structure { free_pages, mut problems, mut problem_total, freelist_synced, .. } = structure;
            problem_total += acc.problem_total;
            problems.append(&mut acc.problems);
            // Figures come only from a tree that was read whole: any problem that can make them
            // wrong (or problems too many to keep, whose kinds are unknown) withholds them.
            let complete = problems.len() as u64 == problem_total && !problems.iter().any(|p| p.kind.affects_figures());
            // The MVCC figures (and what rests on them: the resources, the size after compaction)
            // also need every record of the `key` bucket readable and sound, as `du`'s do.
            let records_whole = complete && !problems.iter().any(|p| p.kind.in_records());
            let m = view.meta();
            // The stored freelist's page run (0 without one).
            let freelist = if freelist_synced { view.page(m.freelist).map_or(0, |p| p.run_pages()) } else { 0 };
            let total = view.total_size();
            let free = free_pages.saturating_mul(ps).min(total);
            let last_rev = acc.last_rev.unwrap_or(0);
            let mut info = etcd.then(|| schema::read(view, last_rev));
            // An etcd file that lost its `meta` (or `key`) bucket is read as bbolt, and is damaged.
            if let Some(p) = (!etcd).then(|| schema::bucket_missing(view)).flatten() {
                problem_total += 1;
                problems.push(p);
            }
            // Free pages are known only from a tree read whole: otherwise pages cut off by damage
            // would pass for free ones.
            let want_residue = want_residue && complete;
            let compacted = info.as_ref().and_then(|i| i.finished_compact_revision.max(i.scheduled_compact_revision));
            let tree_revs = (!revisions.exceeded()).then_some(&acc.revs);
            let ((mut mvcc, mut key_layouts, broken), residue) = rayon::join(
                || match info.as_mut().filter(|_| records_whole) {
                    Some(info) => {
                        let (mvcc, layouts, broken) = replay::replay(view, &acc.recs, &acc.totals, info, &budget);
                        (Some(mvcc), Some(layouts), broken)
                    }
                    None => (None, None, 0),
                },
                || want_residue.then(|| residue::residue(view, &reached, tree_revs, compacted)).flatten(),
            );
            // Keys whose history etcd cannot have written: damage in the records, whose figures
            // are withheld as for a record that cannot be read.
            let mut records_whole = records_whole;
            // Revisions missing above the compaction (a leaf lost whole): the same.
            let hole = info
                .as_ref()
                .filter(|i| complete && !i.compactions_unreadable)
                .and_then(|i| acc.continuity.problem(history::Compacted::of(i).upto));
            // (The holes a v2 migration leaves are a warning: the figures stand.)
            // Histories are judged against the compactions: not when they could not be read.
            let broken = if info.as_ref().is_some_and(|i| i.compactions_unreadable) { 0 } else { broken };
            let broken_or_hole = broken > 0 || hole.as_ref().is_some_and(|p| !p.kind.is_warning());
            if let Some(p) = hole {
                problem_total += 1;
                problems.push(p);
            }
            if let (true, Some(i)) = (broken_or_hole, info.as_mut()) {
                if broken > 0 {
                    problem_total += 1;
                    problems.push(
                        named_broken(view).unwrap_or_else(|| history::problem(broken, &history::Compacted::of(i))),
                    );
                }
                (mvcc, key_layouts, records_whole) = (None, None, false);
                (i.leases.keys_attached, i.leases.keys_with_missing_lease) = (None, None);
                i.leases.missing.clear();
            }
            drop(reached);
            let tally = (free_pages, problems, problem_total, freelist_synced, complete, freelist, total, free);
            (acc, extra_acc, tally, info, mvcc, key_layouts, residue, records_whole)
        },
        || if opt.verify_trailer { trailer::verify(view.data) } else { None },
    );
    let (acc, extra_acc, tally, info, mvcc, key_layouts, residue, records_whole) = walked;
    let (free_pages, mut problems, mut problem_total, freelist_synced, complete, freelist, total, free) = tally;
    if let Some(w) = residue.as_ref().and_then(residue::warning) {
        problem_total += 1;
        problems.push(w);
    }
    let resources = (etcd && records_whole).then(|| acc.resources.largest(total - free));
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
    // A generic bbolt file has no records to hold it back; an etcd file needs its replay.
    let prediction = (complete && (!etcd || records_whole)).then(|| {
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
