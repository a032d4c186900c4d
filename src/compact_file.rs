//! `compact` as a safe file operation: the source is only mapped read-only; the copy is written to
//! a temporary file in the destination's folder, verified, fsynced and renamed into place, so a
//! failure (a full disk, a verification that fails) never leaves a partial destination.

use crate::compact_read::{changed, copy_settled, explain, Source};
use crate::db::{self, MappedFile};
use crate::error::Error;
use crate::etcd::compaction::Keep;
use crate::etcd::hashkv;
use crate::status::{self, EtcdVersion, Status};
use crate::view::DbView;
use sha2::{Digest, Sha256};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::etcd::compaction::Revision;

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
    /// Destination file.
    pub dst: PathBuf,
    /// Fill percent.
    pub fill: f64,
    /// Page size of the copy (None: the source's).
    pub page_size: Option<u64>,
    /// Byte order of the copy (None: the source's).
    pub order: Option<crate::page::ByteOrder>,
    /// MVCC compaction.
    pub revision: Revision,
    /// Trailer.
    pub trailer: Trailer,
    /// Replace an existing destination.
    pub force: bool,
    /// Re-open and verify the copy before it is put in place.
    pub verify: bool,
    /// Copy a snapshot whose sha256 trailer does not match its contents (otherwise refused).
    pub skip_hash_check: bool,
}

/// What a job did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// Source path.
    pub src: String,
    /// Destination path.
    pub dst: String,
    /// Source file size.
    pub src_size: u64,
    /// Destination file size.
    pub dst_size: u64,
    /// Key/value entries written.
    pub entries: u64,
    /// Pages written (the high-water mark).
    pub pages: u64,
    /// The copy's page size.
    pub page_size: u64,
    /// The copy's byte order.
    pub byte_order: crate::page::ByteOrder,
    /// The revision compacted at, if any.
    pub revision: Option<u64>,
    /// `key` entries the compaction dropped.
    pub compacted_away: u64,
    /// Whether a sha256 trailer was appended.
    pub trailer: bool,
    /// Whether the copy was verified.
    pub verified: bool,
    /// The source's etcdutl status figures.
    pub src_status: Status,
    /// The copy's.
    pub dst_status: Status,
    /// Wall time in seconds.
    pub seconds: f64,
    /// How many times SRC was read: more than one when a live etcd committed during a read.
    pub reads: usize,
}

/// A refusal or failure of the job, as one message.
pub(crate) fn fail(msg: String) -> Error {
    Error::NotBbolt(msg)
}

/// Refuses a destination that exists (without `force`) or is the source itself (even through a
/// link, even with `force`).
fn check_destination(src: &Path, dst: &Path, force: bool) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let Ok(d) = std::fs::metadata(dst) else { return Ok(()) };
    let s = std::fs::metadata(src)?;
    if (s.dev(), s.ino()) == (d.dev(), d.ino()) {
        return Err(fail(format!("{} is the source file itself; refusing to overwrite it", dst.display())));
    }
    if !force {
        return Err(fail(format!("{} exists; use --force to replace it", dst.display())));
    }
    if !d.is_file() {
        return Err(fail(format!("{} exists and is not a regular file", dst.display())));
    }
    Ok(())
}

/// Runs the job. `progress` is told the source bytes read so far and their total, as
/// [`compact::write`] counts them.
pub fn run(job: &Job, progress: Box<dyn FnMut(u64, u64) + Send>) -> Result<Report, Error> {
    let t0 = Instant::now();
    check_destination(&job.src, &job.dst, job.force)?;
    let dir = match job.dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".boltscope-compact-").tempfile_in(&dir)?;
    // An interrupt removes it (see crate::unfinished) until it is DST or gone.
    let _unfinished = crate::unfinished::register(tmp.path());
    // The copy gets the source's permission bits, not the temporary file's 0600.
    tmp.as_file().set_permissions(std::fs::metadata(&job.src)?.permissions())?;
    let (Source { map: src, fingerprint, reads }, c) = copy_settled(job, tmp.as_file_mut(), progress)?;
    // The source is read again only to verify a compaction. Otherwise its map, with page tables
    // for every page read (tearing them down takes tens of milliseconds on a large file), goes
    // on another thread while the copy is verified.
    let (src, unmapping) = match c.target {
        Some(_) => (Some(src), None),
        None => (None, Some(std::thread::spawn(move || drop(src)))),
    };
    let f = tmp.as_file_mut();
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&c.metas)?;
    f.flush()?;
    // Verify the copy and hash it for the trailer, in parallel, before it is put in place.
    let copy = MappedFile::open(tmp.path())?;
    let bytes = copy.bytes();
    // Flushing the copy to disk overlaps its verification (and the trailer's hash).
    let file = tmp.as_file();
    // The flush and the trailer's hash wait on the disk or use one core each: they get threads of
    // their own, so the verification keeps every worker of the pool.
    let (verdict, sha, synced) = std::thread::scope(|s| {
        let synced = s.spawn(|| file.sync_data());
        let sha = c.with_trailer.then(|| s.spawn(|| Sha256::digest(bytes)));
        let verdict = if job.verify {
            let src_view = src.as_ref().map(|m| DbView::new(m.bytes())).transpose();
            src_view.and_then(|v| verify(v.as_ref(), &c.before, bytes, c.target, c.layout.keep.as_ref()).map(Some))
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
        Some(m) if db::page_fingerprint(m.bytes()) != fingerprint => changed(&job.src, 1),
        _ => explain(&job.src, e),
    })?;
    drop(copy);
    let f = tmp.as_file_mut();
    if let Some(sha) = sha {
        f.seek(SeekFrom::End(0))?;
        f.write_all(&sha)?;
    }
    f.sync_all()?;
    let dst_size = f.metadata()?.len();
    if job.force {
        tmp.persist(&job.dst).map_err(|e| Error::Io(e.error))?;
    } else {
        tmp.persist_noclobber(&job.dst).map_err(|e| Error::Io(e.error))?;
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    let dst_status = match dst_status {
        Some(s) => s,
        None => {
            let m = MappedFile::open(&job.dst)?;
            status::status(&DbView::new(m.bytes())?, EtcdVersion::V35)?.status
        }
    };
    if let Some(h) = unmapping {
        let _ = h.join();
    }
    Ok(Report {
        src: job.src.display().to_string(),
        dst: job.dst.display().to_string(),
        src_size: c.src_size,
        dst_size,
        entries: c.layout.written.entries,
        pages: c.layout.written.pages,
        page_size: c.layout.page_size,
        byte_order: c.layout.order,
        revision: c.target.map(|(r, _)| r),
        compacted_away: c.layout.written.compacted_away,
        trailer: c.with_trailer,
        verified: job.verify,
        src_status: c.before,
        dst_status,
        seconds: t0.elapsed().as_secs_f64(),
        reads,
    })
}

/// The copy must be structurally clean and hold what the source holds: etcdutl's HASH, REVISION
/// and TOTAL KEYS equal (no compaction), or etcd's HashKV at the current revision equal to the
/// source's as if compacted at the same revision.
fn verify(
    src: Option<&DbView<'_>>,
    src_st: &Status,
    bytes: &[u8],
    target: Option<(u64, u64)>,
    keep: Option<&Keep>,
) -> Result<Status, Error> {
    let view = DbView::new(bytes)?;
    let r = status::status(&view, EtcdVersion::V35)?;
    if !r.structure.is_clean() {
        let first = r.structure.problems.first().map(|p| p.to_string()).unwrap_or_default();
        return Err(fail(format!("verification failed: the copy has problems (first: {first}); nothing was written")));
    }
    match target {
        None => {
            let (a, b) = (src_st, &r.status);
            if (a.hash, a.revision, a.total_key) != (b.hash, b.revision, b.total_key) {
                return Err(fail(format!(
                    "verification failed: the copy's status {:x}/{}/{} differs from the source's {:x}/{}/{}; nothing was written",
                    b.hash, b.revision, b.total_key, a.hash, a.revision, a.total_key
                )));
            }
        }
        Some((c, current)) => {
            let err = |p: crate::Problem| fail(format!("verification failed: {p}"));
            let Some(src) = src else { return Err(fail("verifying a compaction needs the source".into())) };
            let (a, b) = rayon::join(
                || match keep {
                    Some(k) => hashkv::hashkv_with(src, current, Some((c, k))),
                    None => hashkv::hashkv(src, current, Some(c)),
                },
                || hashkv::hashkv(&view, current, Some(c)),
            );
            let (a, b) = (a.map_err(err)?, b.map_err(err)?);
            if a != b {
                return Err(fail(format!(
                    "verification failed: HashKV at {current} of the copy is {b:x}, the source compacted at {c} gives {a:x}; nothing was written"
                )));
            }
        }
    }
    Ok(r.status)
}
