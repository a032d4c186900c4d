//! Reading SRC for `compact`: from a map no commit changed while it was read (a live etcd's file
//! is read again), with its sha256 trailer checked beside the copy, its tree copied into the
//! temporary file, and a failure explained by what is wrong with SRC.

use crate::compact::{self, Options};
use crate::compact_file::{fail, Job, Trailer};
use crate::db::{self, MappedFile};
use crate::error::Error;
use crate::etcd::compaction;
use crate::pipeline::writing_back;
use crate::status::{self, EtcdVersion, Status};
use crate::trailer;
use crate::view::DbView;
use std::io::{Seek, SeekFrom};
use std::path::Path;

/// What the first half of a job produced: the copy's pages 2.. written to the temporary file.
pub(crate) struct Copied {
    pub(crate) layout: compact::Layout,
    /// etcdutl's figures of the source.
    pub(crate) before: Status,
    /// The two meta pages, to write over the placeholders.
    pub(crate) metas: Vec<u8>,
    /// The revision compacted at and the current one.
    pub(crate) target: Option<(u64, u64)>,
    pub(crate) src_size: u64,
    pub(crate) with_trailer: bool,
}

/// SRC as the copy read it.
pub(crate) struct Source {
    pub(crate) map: MappedFile,
    /// Its meta pages then ([`db::page_fingerprint`]).
    pub(crate) fingerprint: Vec<u8>,
    /// How many times it was read.
    pub(crate) reads: usize,
}

fn damaged(src: &Path, st: &crate::status::StatusReport) -> Error {
    // The first problem in the tree, which is what stops the copy (a bad meta page or freelist
    // alone would not); else the first of any kind.
    let problems = &st.structure.problems;
    let first = problems.iter().find(|p| p.kind.affects_figures()).or(problems.first());
    let first = first.map(|p| p.to_string()).unwrap_or_default();
    fail(format!(
        "{} has {} problem(s) (first: {first}); `boltscope check` lists them. Refusing to copy a damaged file",
        src.display(),
        st.structure.problem_total
    ))
}

/// A copy that failed: when the source is damaged, that is the error to show (the source's full
/// check runs only now, on a fresh map of it).
pub(crate) fn explain(src: &Path, e: Error) -> Error {
    let Ok(m) = MappedFile::open(src) else { return e };
    match DbView::new(m.bytes()).and_then(|v| status::status(&v, EtcdVersion::V35)) {
        Ok(st) if !st.structure.is_clean() => damaged(src, &st),
        _ => e,
    }
}

/// Writes the copy's pages 2.. to `file`. With verification, etcdutl's figures of the source are
/// summed while it is read and the copy is checked in full afterwards; without, the source is
/// checked while the copy is written.
fn copy(
    job: &Job,
    src: &MappedFile,
    file: &mut std::fs::File,
    progress: Box<dyn FnMut(u64, u64) + Send>,
) -> Result<Copied, Error> {
    let data = src.bytes();
    let view = DbView::new(data)?;
    let target = compaction::target(&view, job.revision)?;
    let with_trailer = match job.trailer {
        Trailer::Auto => trailer::present(data.len()),
        Trailer::Always => true,
        Trailer::Never => false,
    };
    let opt = Options { fill: job.fill, revision: target.map(|(r, _)| r), page_size: job.page_size, order: job.order };
    // SRC's own trailer is checked beside the copy: a snapshot whose bytes no longer match it
    // (bit rot inside a value passes every structural check) must not come out with a fresh,
    // valid trailer that vouches for it.
    let check_trailer = !job.skip_hash_check && trailer::present(data.len());
    let (copied, sum) = std::thread::scope(|s| {
        let sum = check_trailer.then(|| s.spawn(|| trailer::verify(data)));
        let copied = copy_tree(job, &view, &opt, file, progress);
        (copied, sum.map(|h| h.join()))
    });
    match sum {
        Some(Ok(Some(t))) if !t.ok() => return Err(fail(format!(
            "{}: its sha256 trailer is {}, but its contents hash to {}: the snapshot is corrupt or was cut short. \
             Refusing to copy it (--skip-hash-check copies it anyway, as etcdutl snapshot restore --skip-hash-check would restore it)",
            job.src.display(),
            t.stored,
            t.computed
        ))),
        Some(Err(_)) => return Err(fail("the thread hashing the source panicked".into())),
        _ => {}
    }
    let (layout, before) = copied?;
    let metas = compact::meta_pages(&view, &layout);
    Ok(Copied { layout, before, metas, target, src_size: data.len() as u64, with_trailer })
}

/// Writes the copy of `view`'s tree to `file`, with etcdutl's figures of the source.
fn copy_tree(
    job: &Job,
    view: &DbView<'_>,
    opt: &Options,
    file: &mut std::fs::File,
    progress: Box<dyn FnMut(u64, u64) + Send>,
) -> Result<(compact::Layout, Status), Error> {
    Ok(if job.verify {
        let layout =
            writing_back(file, |w| compact::write(view, opt, w, progress)).map_err(|e| explain(&job.src, e))?;
        let s = layout.src;
        let st = Status {
            hash: s.crc,
            revision: s.last_rev.unwrap_or(0) as i64,
            total_key: s.keys,
            total_size: view.total_size(),
            version: None,
        };
        (layout, st)
    } else {
        let (before, layout) = rayon::join(
            || status::status(view, EtcdVersion::V35),
            || writing_back(file, |w| compact::write(view, opt, w, progress)),
        );
        let before = before?;
        if !before.structure.is_clean() {
            return Err(damaged(&job.src, &before));
        }
        (layout?, before.status)
    })
}

/// SRC changed on every one of `reads` reads.
pub(crate) fn changed(src: &Path, reads: usize) -> Error {
    let times = if reads == 1 { "while it was read".to_string() } else { format!("on every one of {reads} reads") };
    fail(format!(
        "{} changed {times} (a running etcd committing?): the copy could be torn, so nothing was written. \
         Compact a snapshot of it (`etcdctl snapshot save`), or stop the member first",
        src.display()
    ))
}

/// Copies SRC into `file` from a read no commit interrupted: a live file that changed during the
/// copy (its meta pages differ after it) is mapped again and copied again, up to
/// [`db::RETRIES`] more times.
pub(crate) fn copy_settled(
    job: &Job,
    file: &mut std::fs::File,
    progress: Box<dyn FnMut(u64, u64) + Send>,
) -> Result<(Source, Copied), Error> {
    let progress = std::sync::Arc::new(std::sync::Mutex::new(progress));
    let mut reads = 0;
    loop {
        reads += 1;
        let map = MappedFile::open(&job.src)?;
        let fingerprint = db::page_fingerprint(map.bytes());
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        let p = progress.clone();
        let tell = move |done, total| (p.lock().unwrap_or_else(|e| e.into_inner()))(done, total);
        let copied = copy(job, &map, file, Box::new(tell));
        if db::page_fingerprint(map.bytes()) == fingerprint {
            return copied.map(|c| (Source { map, fingerprint, reads }, c));
        }
        if reads > db::RETRIES {
            return Err(changed(&job.src, reads));
        }
    }
}
