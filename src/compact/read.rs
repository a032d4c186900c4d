//! Reading SRC for `compact`: from a map no commit changed while it was read (a live etcd's file
//! is read again), from the meta page bbolt would read (never falling back on its own), with its
//! sha256 trailer checked beside the copy, and its tree checked by an independent walk while it
//! is copied: a tree with any problem `check` reports there is refused, and the copy is verified
//! against figures that walk computed, not against the copier's own reading.

use super::error::CompactError;
use super::filter::MvccFilter;
use super::{Job, Trailer};
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::view::DbView;
use crate::etcd::compaction::{self, Target, TargetError};
use crate::etcd::history::{self, Compacted};
use crate::etcd::status::{self, EtcdVersion, Status, StatusReport};
use crate::etcd::{schema, trailer, KEY_BUCKET};
use crate::input::{self, MappedFile};
use crate::problem::Problem;
use crate::write::copier::{self, Layout, Options, Progress};
use crate::write::pipeline::writing_back;
use std::io::{Seek, SeekFrom};

/// What the first half of a job produced: the copy's pages 2.. written to the temporary file.
pub(crate) struct Copied {
    pub(crate) layout: Layout,
    /// etcdutl's figures of the source, from the independent walk.
    pub(crate) before: Status,
    /// The two meta pages, to write over the placeholders.
    pub(crate) metas: Vec<u8>,
    /// The compaction made, if any.
    pub(crate) target: Option<Target>,
    /// Which `key` entries survived it.
    pub(crate) keep: Option<compaction::Keep>,
    /// Alarms left out (`clear_alarms`).
    pub(crate) alarms_cleared: u64,
    /// SRC's raised alarms the copy keeps (without `clear_alarms`), as `check` warns of them.
    pub(crate) alarms_kept: Vec<crate::problem::Problem>,
    /// Entries of the `key` bucket copied (None: SRC has none).
    pub(crate) key_entries: Option<u64>,
    /// Problems SRC has outside the copied tree (freelist, the other meta page): not copied. How
    /// many, and the first few, as `check` lists them.
    pub(crate) outside: (u64, Vec<Problem>),
    /// SRC's keys whose history breaks etcd's rules, judged beside a copy without a compaction
    /// ([`judge_histories`]).
    pub(crate) broken_histories: Option<(u64, Compacted)>,
    /// The compaction a server opened on SRC runs at (etcd's rule; None: never compacted, or
    /// not an etcd file).
    pub(crate) store_compaction: Option<u64>,
    pub(crate) src_size: u64,
    pub(crate) with_trailer: bool,
    /// The meta page copied.
    pub(crate) meta: usize,
}

/// SRC as the copy read it.
pub(crate) struct Source {
    pub(crate) map: MappedFile,
    /// Its meta pages then ([`input::commit_stamp`]).
    pub(crate) stamp: Vec<u8>,
    /// How many times it was read.
    pub(crate) reads: usize,
}

/// The view to copy: the meta page asked for, or the newer one. When the meta page with the
/// higher txid cannot be used, reading the older one would silently copy the previous
/// transaction: refused, saying which page bbolt itself would read, unless `--meta` asks for it.
pub(crate) fn source_view<'a>(job: &Job, data: &'a [u8]) -> Result<DbView<'a>, CompactError> {
    if let Some(m) = job.meta {
        return Ok(DbView::with_meta(data, m)?);
    }
    let view = DbView::new(data)?;
    match view.fallback() {
        Some((newer, why, bbolt_reads)) => Err(CompactError::MetaFallback { newer, why, bbolt_reads }),
        None => Ok(view),
    }
}

/// The problems of the independent walk that lie in the tree a copy carries.
fn refuse_damaged(st: &StatusReport) -> Result<(u64, Vec<Problem>), CompactError> {
    let in_tree = st.structure.problems.iter().filter(|p| p.kind.in_tree()).count() as u64;
    let uncounted = st.structure.problem_total.saturating_sub(st.structure.problems.len() as u64);
    if in_tree > 0 {
        // Every problem, as `check` lists them, those it is refused for first.
        let (mut problems, others): (Vec<_>, Vec<_>) =
            st.structure.problems.iter().cloned().partition(|p| p.kind.in_tree());
        problems.extend(others);
        let total = st.structure.problem_total;
        return Err(CompactError::Damaged { problems, total, in_tree: in_tree + uncounted });
    }
    Ok((st.structure.problem_total, st.structure.problems.clone()))
}

/// The entries of the `key` bucket rooted at `kb` that survive a compaction at `rev`. The keep
/// pass holds the histories at or below `rev` to etcd's rules: compacting a stale leaf would
/// write a copy that no longer shows its damage (`check` of it passes), so such a bucket is
/// refused, as one problem naming how many keys (as `check` reports it).
pub(crate) fn survivors(view: &DbView<'_>, kb: BucketRoot<'_>, rev: u64) -> Result<compaction::Keep, CompactError> {
    let damaged = CompactError::damaged;
    let keep = compaction::keep(view, kb, rev).map_err(damaged)?;
    match keep.judged().problem() {
        Some(p) => Err(damaged(p)),
        None => Ok(keep),
    }
}

/// SRC's keys whose history breaks etcd's rules, by one keep pass over its `key` bucket (on every
/// core, in bounded memory), and the compactions they were judged against (None: not an etcd
/// file, or one without a `key` bucket). A bucket the pass cannot read is refused, as with
/// `--revision` ([`survivors`]). The file job runs it on a thread of its own beside the copy and
/// the walk: it adds about a fifth to a plain copy's time.
pub(crate) fn judge_histories(view: &DbView<'_>) -> Result<Option<(u64, Compacted)>, CompactError> {
    let damaged = CompactError::damaged;
    if !schema::is_etcd(view) {
        // An etcd file that lost its `meta` (or `key`) bucket is damaged, as `check` says: a copy
        // of it is no backup etcd restores (salvage carries it and says so).
        return match schema::bucket_missing(view) {
            Some(p) => Err(damaged(p)),
            None => Ok(None),
        };
    }
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET).map_err(damaged)? else { return Ok(None) };
    let keep = compaction::keep(view, kb, u64::MAX).map_err(damaged)?;
    Ok(Some((keep.history_broken, keep.compacted)))
}

/// What [`judge_histories`] found in SRC, for a copy without a compaction (a compaction's
/// keep pass judges the histories itself: [`survivors`]): a stale leaf in the `key` bucket reads
/// well page by page, so neither the walk nor the copier sees it, yet `check` fails the file.
/// Such a tree is refused, as one problem (as `check` reports it), unless the job carries it as
/// it is (`salvage`, which says so).
pub(crate) fn refuse_broken(
    judged: Option<(u64, Compacted)>,
    carry: bool,
) -> Result<Option<(u64, Compacted)>, CompactError> {
    match judged {
        Some((n, c)) if n > 0 && !carry => Err(CompactError::damaged(history::problem(n, &c))),
        judged => Ok(judged),
    }
}

/// Writes the copy's pages 2.. to `file`, while the source's tree is walked and checked, and its
/// trailer verified, on the other threads.
fn copy(job: &Job, src: &MappedFile, file: &mut std::fs::File, progress: Progress) -> Result<Copied, CompactError> {
    let data = src.bytes();
    let view = source_view(job, data)?;
    // The root page must be readable before anything is written: a valid meta page stating a
    // page size the file cannot back (1 GiB pages in an 8 KiB file) had the copier write
    // gigabytes of placeholder pages before the walk refused the tree.
    if let Err(p) = view.page(view.meta().root) {
        return Err(CompactError::damaged(p));
    }
    // A `key` bucket that cannot be read is damage in SRC (exit 1, `src_damaged`), not a
    // revision asked for wrongly (review 46a: exit 2, `bad_revision`).
    let target = compaction::target(&view, job.revision).map_err(|e| match e {
        TargetError::Unreadable(p) => CompactError::damaged(p),
        e => CompactError::Revision(e),
    })?;
    let keep = match (target, cursor::top_bucket(&view, KEY_BUCKET)) {
        (Some(t), Ok(Some(kb))) => Some(survivors(&view, kb, t.revision)?),
        _ => None,
    };
    let with_trailer = match job.trailer {
        Trailer::Auto => trailer::present(data.len()),
        Trailer::Always => true,
        Trailer::Never => false,
    };
    let opt = Options { fill: job.fill, page_size: job.page_size, order: job.order };
    // SRC's own trailer is checked beside the copy: a snapshot whose bytes no longer match it
    // (bit rot inside a value passes every structural check) must not come out with a fresh,
    // valid trailer that vouches for it.
    let check_trailer = !job.skip_hash_check && trailer::present(data.len());
    // Nor may one whose trailer was cut: nothing is left to check its bytes against.
    if let Some(p) = trailer::tail_problem(&view).filter(|p| !job.skip_hash_check && !p.kind.is_warning()) {
        return Err(CompactError::TrailerCut { problem: p.to_string() });
    }
    let mut filter = MvccFilter::new(target.map(|t| t.revision).zip(keep), job.clear_alarms);
    let judge = target.is_none();
    let (copied, walked, broken, sum) = std::thread::scope(|s| {
        let sum = check_trailer.then(|| s.spawn(|| trailer::verify(data)));
        let judged = judge.then(|| s.spawn(|| judge_histories(&view)));
        let (walked, copied) = rayon::join(
            || status::status(&view, EtcdVersion::V35),
            || writing_back(file, |w| copier::write(&view, &opt, &mut filter, w, progress)),
        );
        (copied, walked, judged.map(|h| h.join()), sum.map(|h| h.join()))
    });
    match sum {
        Some(Ok(Some(t))) if !t.ok() => {
            return Err(CompactError::TrailerMismatch { stored: t.stored, computed: t.computed })
        }
        Some(Err(_)) => return Err(CompactError::Internal("the thread hashing the source panicked".into())),
        _ => {}
    }
    let mut walked = walked?;
    let mut alarms_kept = Vec::new();
    let mut store_compaction = None;
    if let Some(info) = schema::is_etcd(&view).then(|| schema::read(&view, walked.status.revision.max(0) as u64)) {
        store_compaction = info.store_compaction();
        if !job.clear_alarms {
            alarms_kept = schema::alarm_warnings(&info.alarms);
        }
        // An alarm key etcd cannot read is no refusal when the copy leaves the alarms out.
        let dropped = |p: &crate::problem::Problem| {
            job.clear_alarms
                && p.kind == crate::problem::ProblemKind::EtcdRecordUnreadable
                && p.bucket.first().map(String::as_bytes) == Some(crate::etcd::ALARM_BUCKET)
        };
        let p: Vec<_> = schema::problems(&view, &info).into_iter().filter(|p| !dropped(p)).collect();
        walked.structure.problem_total += p.len() as u64;
        walked.structure.problems.extend(p);
    }
    // The tree's problems explain a failed copy better than the copier's first stop.
    let outside = refuse_damaged(&walked)?;
    let judged = match broken {
        None => None,
        Some(Err(_)) => return Err(CompactError::Internal("the thread judging histories panicked".into())),
        Some(Ok(judged)) => judged?,
    };
    let broken_histories = refuse_broken(judged, job.carry_broken_histories)?;
    let layout = copied.map_err(|e| match e {
        copier::WriteError::Io(e) => CompactError::Io(e),
        copier::WriteError::Source(p) => CompactError::damaged(p),
    })?;
    let (sums, theirs) = ((layout.src.crc, layout.src.keys), (walked.status.hash, walked.status.total_key));
    if sums != theirs || filter.last_revision().unwrap_or(0) != walked.status.revision.max(0) as u64 {
        return Err(CompactError::VerifyFailed(format!(
            "the copier read hash {:x} and {} keys, an independent walk of the source {:x} and {}",
            sums.0, sums.1, theirs.0, theirs.1
        )));
    }
    let metas = copier::meta_pages(&view, &layout);
    Ok(Copied {
        layout,
        before: walked.status,
        metas,
        target,
        keep: filter.compaction.map(|(_, k)| k),
        alarms_cleared: filter.alarms_cleared,
        alarms_kept,
        key_entries: filter.key_entries,
        outside,
        broken_histories,
        store_compaction,
        src_size: data.len() as u64,
        with_trailer,
        meta: view.meta_index,
    })
}

/// Copies SRC into `file` from a read no commit interrupted: a live file that changed during the
/// copy (its meta pages differ after it) is mapped again and copied again, up to
/// [`input::RETRIES`] more times.
pub(crate) fn copy_settled(
    job: &Job,
    file: &mut std::fs::File,
    progress: Progress,
) -> Result<(Source, Copied), CompactError> {
    let progress = std::sync::Arc::new(std::sync::Mutex::new(progress));
    let mut reads = 0;
    loop {
        reads += 1;
        let map = input::open(&job.src)?;
        let stamp = input::commit_stamp(map.bytes());
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        let p = progress.clone();
        let tell = move |done, total| (p.lock().unwrap_or_else(|e| e.into_inner()))(done, total);
        let copied = copy(job, &map, file, Box::new(tell));
        if input::commit_stamp(map.bytes()) == stamp {
            return copied.map(|c| (Source { map, stamp, reads }, c));
        }
        if reads > input::RETRIES {
            return Err(CompactError::Torn { reads });
        }
    }
}
