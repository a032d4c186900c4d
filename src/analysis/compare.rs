//! `diff` as one call: two files checked, their live states compared ([`super::diff`]) and their
//! relation decided ([`super::relation`]). Each file is first walked whole (structure and etcd's
//! record invariants, both files in parallel), the walk gathering its keys for the diff as it
//! goes: a file whose tree or records are damaged gets its problems, never a diff.

use super::diff::{self, KeyDiff, Options, Side};
use super::relation::{self, Facts, Relation};
use crate::bbolt::cursor;
use crate::bbolt::fold::Pair;
use crate::bbolt::structure::{walk, Structure};
use crate::bbolt::view::DbView;
use crate::etcd::history::{self, Compacted};
use crate::etcd::keyspace::Budget;
use crate::etcd::records::{Found, RecordCheck};
use crate::etcd::{cluster, schema, KEY_BUCKET};
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};
use std::fmt;

/// One file's facts, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileFacts {
    /// The current revision (what a server started on the file would report).
    pub revision: u64,
    /// The compaction the file has seen (finished or scheduled, the larger), 0 for none.
    pub compacted: u64,
    /// Whether that compaction had finished when the file was saved (false: etcd was still
    /// deleting what it drops, so records below it may remain).
    pub compaction_finished: bool,
    /// Cluster id from the `members` bucket.
    pub cluster_id: Option<u64>,
    /// Entries in the `key` bucket.
    pub entries: u64,
}

/// Two files compared.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// A's facts.
    pub a: FileFacts,
    /// B's facts.
    pub b: FileFacts,
    /// The key-level diff.
    pub keys: KeyDiff,
    /// How they relate.
    pub relation: Relation,
    /// Problems `check` reports that the comparison found in A and in B though their trees and
    /// records read well: compared keys whose history breaks etcd's rules (a stale leaf).
    pub problems: [Vec<Problem>; 2],
}

/// Which file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The first (old) file.
    A,
    /// The second (new) file.
    B,
}

/// Why two files cannot be compared.
#[derive(Clone, Debug)]
pub enum CompareError {
    /// The file's tree or records are damaged: its problems (at most [`MAX_PROBLEMS`]) and their
    /// total.
    Damaged(Which, Vec<Problem>, u64),
    /// The file has no `key` and `meta` buckets.
    NotEtcd(Which),
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompareError::Damaged(_, p, total) => {
                write!(f, "{total} problem(s) in its tree or records")?;
                if let Some(first) = p.first() {
                    write!(f, ", first: {first}")?;
                }
                Ok(())
            }
            CompareError::NotEtcd(_) => f.write_str("not an etcd file (no `key` and `meta` buckets)"),
        }
    }
}

impl CompareError {
    /// The file it is about.
    pub fn which(&self) -> Which {
        match self {
            CompareError::Damaged(w, ..) | CompareError::NotEtcd(w) => *w,
        }
    }
}

/// The problems that keep a file from being compared: anything in its tree or records, or more
/// problems than were kept. `found` and `s` are what the checking walk gave. Revisions missing
/// above the compaction (a leaf lost whole, every other page reading well) do not: the file is
/// compared as it reads, and that problem is returned to be reported beside the comparison, as a
/// stale page's broken histories are.
fn blocking(found: Found, s: Structure) -> Result<Vec<Problem>, (Vec<Problem>, u64)> {
    let mut problems = s.problems;
    problems.extend(found.problems);
    problems.truncate(MAX_PROBLEMS);
    let total = s.problem_total + found.total;
    let reported = |p: &Problem| p.kind == ProblemKind::RevisionsMissing;
    let blocks = total > problems.len() as u64 || problems.iter().any(|p| p.kind.in_tree() && !reported(p));
    if blocks {
        return Err((problems, total));
    }
    Ok(problems.into_iter().filter(reported).collect())
}

fn facts(view: &DbView<'_>, which: Which) -> Result<FileFacts, CompareError> {
    if !schema::is_etcd(view) {
        // An etcd file that lost its `key` (or `meta`) bucket is damaged, as `check` says, not a
        // file of another kind (review 48a).
        return Err(match schema::bucket_missing(view) {
            Some(p) => CompareError::Damaged(which, vec![p], 1),
            None => CompareError::NotEtcd(which),
        });
    }
    let last = schema::newest_revision(view).ok().flatten();
    let info = schema::read_core(view, last.unwrap_or(0));
    let finished = info.finished_compact_revision.unwrap_or(0);
    let compacted = finished.max(info.scheduled_compact_revision.unwrap_or(0));
    Ok(FileFacts {
        revision: info.current_revision,
        compacted,
        compaction_finished: finished == compacted,
        cluster_id: cluster::cluster_id(view),
        entries: 0,
    })
}

fn side<'v, 'a>(
    view: &'v DbView<'a>,
    which: Which,
    budget: &Budget,
    opt: &Options,
) -> Result<(FileFacts, Side<'v, 'a>, Vec<Problem>), CompareError> {
    let check = RecordCheck::for_view(view);
    let compacted = Compacted::read(view);
    let ((mut found, gathered), s) =
        opt.with_gather(view.data, compacted, (0, 1), budget, |g| walk(view, &Pair(&check, g)));
    check.finish(&mut found);
    let reported = blocking(found, s).map_err(|(p, total)| CompareError::Damaged(which, p, total))?;
    let mut f = facts(view, which)?;
    let damaged = |p: Problem| CompareError::Damaged(which, vec![p], 1);
    let kb = cursor::top_bucket(view, KEY_BUCKET).map_err(damaged)?.ok_or(CompareError::NotEtcd(which))?;
    f.entries = gathered.info.elements;
    Ok((f, Side { view, kb, revision: f.revision, compacted, gathered }, reported))
}

/// Compares `a` (old) with `b` (new). When they cannot be compared, why: for A, for B, or for
/// both (A's first).
pub fn compare(a: &DbView<'_>, b: &DbView<'_>, opt: &Options) -> Result<Comparison, Vec<CompareError>> {
    // One budget for both gatherings: the keys of both files are held together.
    let budget = Budget::new(opt.pair_budget());
    let (sa, sb) = rayon::join(|| side(a, Which::A, &budget, opt), || side(b, Which::B, &budget, opt));
    let ((fa, sa, ra), (fb, sb, rb)) = match (sa, sb) {
        (Ok(x), Ok(y)) => (x, y),
        (x, y) => return Err([x.err(), y.err()].into_iter().flatten().collect()),
    };
    let (from, skip) =
        relation::first_shared((fa.compacted, fa.compaction_finished), (fb.compacted, fb.compaction_finished));
    let to = fa.revision.min(fb.revision);
    let (ka, kb) = (sa.kb, sb.kb);
    let compacted = [sa.compacted, sb.compacted];
    let fits = !budget.exceeded();
    let (keys, history) =
        rayon::join(|| diff::diff(sa, sb, opt, fits), || relation::shared_history((a, ka), (b, kb), (from, skip), to));
    // Both trees were walked whole without a problem, so this read cannot fail; if it does, it is
    // named against A.
    let history = history.map_err(|p: Problem| vec![CompareError::Damaged(Which::A, vec![p], 1)])?;
    let shared_member = match (cluster::member_ids(a), cluster::member_ids(b)) {
        (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => Some(x.iter().any(|m| y.binary_search(m).is_ok())),
        _ => None,
    };
    let relation = relation::relate(
        Facts { revision: fa.revision, cluster_id: fa.cluster_id },
        Facts { revision: fb.revision, cluster_id: fb.cluster_id },
        shared_member,
        history,
        &keys,
    );
    let broken = [keys.histories_broken.0, keys.histories_broken.1];
    let reported = [ra, rb];
    let problems = [0, 1].map(|i| {
        let mut p: Vec<Problem> = reported[i].clone();
        p.extend((broken[i] > 0 && !compacted[i].unknown).then(|| history::problem(broken[i], &compacted[i])));
        p
    });
    Ok(Comparison { a: fa, b: fb, keys, relation, problems })
}
