//! `compact` as a safe file job: SRC is only mapped read-only; the copy is written to a temporary
//! file beside DST (or in `$TMPDIR` for standard output), verified, fsynced and renamed into
//! place, so a failure (a full disk, a verification that fails) never leaves a partial DST, and
//! a DST that is not a regular file is never replaced.

mod dest;
mod error;
mod filter;
mod read;
pub mod salvage;
pub mod unfinished;
mod verify;

pub use crate::etcd::compaction::Revision;
pub use dest::{write_file, Destination};
pub use error::{Class, CompactError};
pub use filter::MvccFilter;

use crate::bbolt::order::ByteOrder;
use crate::bbolt::view::DbView;
use crate::etcd::status::Figures;
use crate::input;
use crate::write::copier::{self, Layout, Progress};
use read::{copy_settled, Source};
use sha2::{Digest, Sha256};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Instant;

/// Whether to append the sha256 trailer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trailer {
    /// When the source has one.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A compaction job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Source file.
    pub src: PathBuf,
    /// Where the copy goes.
    pub dst: Destination,
    /// Fill percent.
    pub fill: f64,
    /// Page size of the copy (None: the source's).
    pub page_size: Option<u64>,
    /// Byte order of the copy (None: the source's).
    pub order: Option<ByteOrder>,
    /// MVCC compaction.
    pub revision: Revision,
    /// Trailer.
    pub trailer: Trailer,
    /// Replace an existing destination.
    pub force: bool,
    /// Re-open and verify the copy before it is put in place.
    pub verify: bool,
    /// Copy a snapshot whose sha256 trailer does not match its contents, or was cut short (otherwise
    /// refused).
    pub skip_hash_check: bool,
    /// Copy the tree of this meta page (None: the one bbolt reads; a fallback is refused).
    pub meta: Option<usize>,
    /// Leave the `alarm` bucket's alarms (NOSPACE, CORRUPT) out of the copy.
    pub clear_alarms: bool,
    /// Copy a tree whose keys' histories break etcd's rules ([`crate::etcd::history`]: a stale
    /// leaf, which reads well page by page) as it is, and report them, instead of refusing it
    /// (`salvage` asks). Either way SRC's histories are judged beside the copy: a copy of a file
    /// `check` fails is never written and called verified.
    pub carry_broken_histories: bool,
}

impl Job {
    /// A job with the defaults: fill 1.0, SRC's layout, no MVCC compaction, a trailer when SRC has
    /// one, verified, nothing replaced.
    pub fn new(src: PathBuf, dst: Destination) -> Job {
        Job {
            src,
            dst,
            fill: 1.0,
            page_size: None,
            order: None,
            revision: Revision::None,
            trailer: Trailer::Auto,
            force: false,
            verify: true,
            skip_hash_check: false,
            meta: None,
            clear_alarms: false,
            carry_broken_histories: false,
        }
    }
}

/// What a job did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Source path.
    pub src: String,
    /// Destination path (`-` for standard output).
    pub dst: String,
    /// The file actually replaced or created, when DST is a symbolic link (the link is kept and
    /// its target replaced); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_target: Option<String>,
    /// Source file size.
    pub src_size: u64,
    /// Destination file size.
    pub dst_size: u64,
    /// Key/value entries written.
    pub entries: u64,
    /// Of them, entries of etcd's `key` bucket (its revisions); `None` when SRC has no `key`
    /// bucket. For `salvage`'s report, which counts revisions.
    #[serde(skip)]
    pub key_entries: Option<u64>,
    /// Pages written (the high-water mark).
    pub pages: u64,
    /// The copy's page size.
    pub page_size: u64,
    /// The copy's byte order.
    pub byte_order: ByteOrder,
    /// The meta page whose tree was copied.
    pub meta: usize,
    /// The revision compacted at, if any.
    pub revision: Option<u64>,
    /// `key` entries the compaction dropped.
    pub compacted_away: u64,
    /// Alarms left out (`--clear-alarms`).
    pub alarms_cleared: u64,
    /// SRC's raised alarms the copy keeps (without `--clear-alarms`), as `check`'s warnings: a
    /// cluster restored from the copy starts with them.
    pub alarms_kept: Vec<crate::problem::Problem>,
    /// Problems SRC has outside the copied tree (freelist, the other meta page), not carried.
    pub src_problems_outside_tree: u64,
    /// The first of them, as the copy's walk found them: whether any is an error (the exit code),
    /// and the JSON's `problems` when `check` cannot read SRC again to list its own.
    #[serde(skip)]
    pub src_problems: Vec<crate::problem::Problem>,
    /// SRC's keys whose history breaks etcd's rules (more than 0 only with
    /// [`Job::carry_broken_histories`]: otherwise such a SRC is refused), and the compactions they
    /// were judged against (None: not an etcd file, or a compaction's keep pass judged them).
    #[serde(skip)]
    pub broken_histories: Option<(u64, crate::etcd::history::Compacted)>,
    /// The compaction a server opened on SRC runs at, by etcd's rule (None: never compacted, or
    /// not an etcd file).
    #[serde(skip)]
    pub src_store_compaction: Option<u64>,
    /// Whether a sha256 trailer was appended.
    pub trailer: bool,
    /// Whether the copy has etcd's `meta` bucket, which `etcdutl snapshot restore` writes to (it
    /// fails without one). For `salvage`'s report.
    #[serde(skip)]
    pub etcd_meta: bool,
    /// Whether the copy was verified.
    pub verified: bool,
    /// The source's etcdutl status figures.
    pub src_status: Figures,
    /// The copy's.
    pub dst_status: Figures,
    /// Wall time in seconds.
    pub seconds: f64,
    /// How many times SRC was read: more than one when a live etcd committed during a read.
    pub reads: usize,
}

/// The note `compact` and `salvage` give when SRC has `n` problems outside the copied tree.
pub fn outside_note(src: &str, n: u64) -> String {
    format!(
        "{src} has {n} problem(s) outside the copied tree (the other meta page, the freelist, leaked pages, bytes \
         past the high-water mark, a high-water mark past the end): the copy carries none of them; `boltscope \
         check` lists them"
    )
}

/// Copies `view` into `out` in memory or any writer, with an etcd MVCC compaction at `revision`
/// when given, through the same copier and filter as the file job (without its file safety and
/// verification; a tree whose histories break etcd's rules is refused as there): for tests,
/// fuzzing and library users.
pub fn copy_to<W: Write + Send>(
    view: &DbView<'_>,
    opt: &copier::Options,
    revision: Option<u64>,
    out: W,
    progress: Progress,
) -> Result<Layout, CompactError> {
    let kb = crate::bbolt::cursor::top_bucket(view, crate::etcd::KEY_BUCKET);
    let keep = match (revision, kb) {
        (Some(r), Ok(Some(kb))) => Some((r, read::survivors(view, kb, r)?)),
        (Some(_), _) => None,
        (None, _) => read::refuse_broken(read::judge_histories(view)?, false).map(|_| None)?,
    };
    let mut filter = MvccFilter::new(keep, false);
    copier::write(view, opt, &mut filter, out, progress).map_err(|e| match e {
        copier::WriteError::Io(e) => CompactError::Io(e),
        copier::WriteError::Source(p) => CompactError::damaged(p),
    })
}

/// Runs the job. `progress` is told the source bytes read so far and their total, as
/// [`copier::write`] counts them.
pub fn run(job: &Job, progress: Progress) -> Result<Report, CompactError> {
    let t0 = Instant::now();
    let place = dest::prepare(&job.src, &job.dst, job.force)?;
    let mut tmp = place.temporary()?;
    // An interrupt removes it (see `unfinished`) until it is DST or gone.
    let _unfinished = unfinished::register(tmp.path());
    tmp.as_file().set_permissions(place.permissions(&job.src)?)?;
    let (Source { map: src, stamp, reads }, c) = copy_settled(job, tmp.as_file_mut(), progress)?;
    // The source is read again only to verify a compaction or left-out alarms. Otherwise its
    // map, with page tables for every page read (tearing them down takes tens of milliseconds on
    // a large file), goes on another thread while the copy is verified.
    let broken_histories = c.broken_histories;
    let src_store_compaction = c.store_compaction;
    let (src, unmapping) = match (c.target, c.alarms_cleared) {
        (None, 0) => (None, Some(std::thread::spawn(move || drop(src)))),
        _ => (Some(src), None),
    };
    let f = tmp.as_file_mut();
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&c.metas)?;
    f.flush()?;
    // Verify the copy and hash it for the trailer, in parallel, before it is put in place.
    let copy = input::open(tmp.path())?;
    let bytes = copy.bytes();
    let etcd_meta = DbView::new(bytes)
        .is_ok_and(|v| matches!(crate::bbolt::cursor::top_bucket(&v, crate::etcd::META_BUCKET), Ok(Some(_))));
    // Flushing the copy to disk overlaps its verification (and the trailer's hash); they wait on
    // the disk or use one core each, so they get threads of their own.
    let file = tmp.as_file();
    let (verdict, sha, synced) = std::thread::scope(|s| {
        let synced = s.spawn(|| file.sync_data());
        let sha = c.with_trailer.then(|| s.spawn(|| Sha256::digest(bytes)));
        let verdict = if job.verify {
            let src_view = src.as_ref().map(|m| DbView::with_meta(m.bytes(), c.meta)).transpose();
            src_view.map_err(CompactError::from).and_then(|v| {
                verify::verify(v.as_ref(), &c.before, bytes, c.target, c.keep.as_ref(), c.alarms_cleared > 0).map(Some)
            })
        } else {
            Ok(None)
        };
        let panicked = || std::io::Error::other("a helper thread panicked");
        let sha = sha.map(|h| h.join().map_err(|_| panicked())).transpose();
        (verdict, sha, synced.join().unwrap_or_else(|_| Err(panicked())))
    });
    synced?;
    let sha = sha?;
    let dst_status = verdict.map_err(|e| match &src {
        // A compaction's verification reads SRC again: a commit meanwhile explains a mismatch.
        Some(m) if input::commit_stamp(m.bytes()) != stamp => CompactError::Torn { reads: 1 },
        _ => e,
    })?;
    drop(copy);
    let dst_size = verify::seal(tmp.as_file_mut(), sha)?;
    let dst_status = match dst_status {
        Some(s) => s,
        None => {
            let m = input::MappedFile::map(tmp.as_file())?;
            crate::etcd::status::status(&DbView::new(m.bytes())?, crate::etcd::status::EtcdVersion::V35)?.status
        }
    };
    place.finish(tmp, job.force)?;
    if let Some(h) = unmapping {
        let _ = h.join();
    }
    let l = &c.layout;
    Ok(Report {
        src: job.src.display().to_string(),
        dst: job.dst.to_string(),
        dst_target: place.link_target().map(|p| p.display().to_string()),
        src_size: c.src_size,
        dst_size,
        entries: l.written.entries,
        key_entries: c.key_entries,
        pages: l.written.pages,
        page_size: l.page_size,
        byte_order: l.order,
        meta: c.meta,
        revision: c.target.map(|t| t.revision),
        compacted_away: if c.target.is_some() { l.written.dropped - c.alarms_cleared } else { 0 },
        alarms_cleared: c.alarms_cleared,
        alarms_kept: c.alarms_kept,
        src_problems_outside_tree: c.outside.0,
        src_problems: c.outside.1,
        broken_histories,
        src_store_compaction,
        trailer: c.with_trailer,
        etcd_meta,
        verified: job.verify,
        src_status: Figures::from(&c.before),
        dst_status: Figures::from(&dst_status),
        seconds: t0.elapsed().as_secs_f64(),
        reads,
    })
}
