//! Why a key command (`get`, `log`, `dump`, `hashkv`) has no answer, and how that is told: the
//! file's meta pages, its kind, damage (told as `check` finds it, every problem with its page and
//! byte offset), etcd's refusals as etcdctl prints them; one verdict each.

use crate::exit::Verdict;
use crate::report::print_problems;
use boltscope::error::Error;
use boltscope::etcd::header::RevError;
use boltscope::{DbView, Problem};
use std::path::Path;

/// Why a key command has no answer.
#[derive(Debug)]
pub enum Failure {
    /// The file cannot be read.
    Unreadable(Error),
    /// It has no `key` and `meta` buckets.
    NotEtcd,
    /// Its `key` bucket cannot be read whole.
    Damaged(Problem),
    /// etcd refuses the revision.
    Rev(RevError),
    /// etcd refuses the request (its message, printed after `Error: `; exit 1).
    Etcd(String),
    /// The command line is wrong (etcdctl's message, printed after `Error: `; exit 2).
    Usage(String),
    /// The newer meta page cannot be used: no answer from the previous transaction unless asked.
    MetaFallback(String),
}

/// A view of `data`: the tree of meta page `meta` when asked, else the newer meta page's, never
/// the older one on its own (the newer one cannot be used: what etcd would read is a question
/// for `check`; `--meta N` reads the older transaction deliberately).
pub fn view(data: &[u8], meta: Option<u8>) -> Result<DbView<'_>, Failure> {
    if let Some(m) = meta {
        return DbView::with_meta(data, usize::from(m)).map_err(Failure::Unreadable);
    }
    let view = DbView::new(data).map_err(Failure::Unreadable)?;
    match view.fallback() {
        Some((newer, why, _)) => Err(Failure::MetaFallback(format!(
            "its newer meta page {newer} cannot be used ({why}): no answer from the previous transaction on my \
             own; `get` and `log` with --meta {} read it deliberately (`boltscope check` tells more)",
            1 - newer
        ))),
        None => Ok(view),
    }
}

impl From<Problem> for Failure {
    fn from(p: Problem) -> Failure {
        Failure::Damaged(p)
    }
}

/// Prints a failure the way it is told (etcd's refusals as etcdctl prints them) and its verdict.
pub fn fail(path: &Path, f: &Failure) -> Verdict {
    match f {
        Failure::Unreadable(e) => {
            errln!("boltscope: {}: {e}", path.display());
            Verdict::of_error(e)
        }
        Failure::NotEtcd => {
            errln!("boltscope: {}: not an etcd file (it has no `key` and `meta` buckets)", path.display());
            Verdict::Unreadable
        }
        Failure::Damaged(p) => {
            let (problems, total) = whole_story(path).unwrap_or_else(|| (vec![p.clone()], 1));
            print_problems(path, &problems, total);
            errln!(
                "boltscope: no answer from a key bucket (or a tree above it) that cannot be read whole (`boltscope check` \
                 tells more)"
            );
            Verdict::Problems
        }
        Failure::Rev(r) => {
            errln!("Error: {r}");
            Verdict::Problems
        }
        Failure::Etcd(m) => {
            errln!("Error: {m}");
            Verdict::Problems
        }
        Failure::Usage(m) => {
            errln!("Error: {m}");
            Verdict::Unreadable
        }
        Failure::MetaFallback(m) => {
            errln!("boltscope: {}: {m}", path.display());
            Verdict::Problems
        }
    }
}

/// [`fail`] of a stream that stopped at `p` after records went out: they are not the whole answer.
pub fn fail_after_output(path: &Path, p: &Problem) -> Verdict {
    let (problems, total) = whole_story(path).unwrap_or_else(|| (vec![p.clone()], 1));
    print_problems(path, &problems, total);
    errln!(
        "boltscope: the output stops at a record of a key bucket (or a tree above it) that cannot be read whole: \
         what was printed before it is NOT the whole answer (`boltscope check` tells more)"
    );
    Verdict::Problems
}

/// What `check` finds in the tree and records of the file at `path` (every problem, each with
/// its page and byte offset), for a reader that stopped at the first one its own pass met (which
/// knows less: where a bad page was referenced from, the problems after it). `None` when the file
/// cannot be read again or the walk finds nothing.
fn whole_story(path: &Path) -> Option<(Vec<Problem>, u64)> {
    use boltscope::etcd::status::{self, EtcdVersion};
    let file = boltscope::input::open(path).ok()?;
    let view = DbView::new(file.bytes()).ok()?;
    let s = status::status(&view, EtcdVersion::V35).ok()?.structure;
    (s.problem_total > 0).then_some((s.problems, s.problem_total))
}

/// Why a file without `key` and `meta` buckets has no answer: a root bucket that lists none
/// because it is damaged (a meta page naming the wrong root page) is damage `check` reports, not a
/// file of another kind.
pub fn not_etcd(view: &DbView<'_>) -> Failure {
    let damaged = boltscope::bbolt::structure::tree_problems_except(view, b"");
    let lost = || boltscope::etcd::schema::bucket_missing(view);
    damaged.into_iter().next().or_else(lost).map_or(Failure::NotEtcd, Failure::Damaged)
}
