//! `salvage`: everything a damaged etcd (or bbolt) file can give back, written as a valid backend
//! by the same writer and under the same safety rules as `compact` (SRC only mapped read-only, a
//! temporary file beside DST, verification, fsync, rename; a DST that is not a regular file is
//! never replaced; `-` streams to standard output).
//!
//! A file whose tree reads whole is simply compacted ([`crate::compact::run`], nothing to
//! salvage). Any other is gathered ([`gather`]): the tree of the better meta page (or of the root
//! page found by scanning), every subtree that can be read, records of etcd's `key` bucket carved
//! from the pages it does not reach under etcd's rules ([`merge`]), small buckets taken from an
//! older root page when theirs cannot be read; then written ([`crate::write::buckets`]) and read
//! back: structurally clean, holding exactly what was gathered.

mod compaction;
mod gather;
pub mod merge;
pub mod report;
pub mod root;
mod small;
mod tree;

pub use gather::{gather, Gathered};
pub use report::{Method, SalvageReport};

use super::dest::{self, Destination};
use super::error::CompactError;
use super::{unfinished, Job, Trailer};

use crate::error::ErrorKind;
use crate::etcd::history;
use crate::etcd::status::Figures;
use crate::input;
use crate::write::buckets::{self, Bucket, Plan};
use crate::write::copier::{meta_pages_at, Layout, Progress};
use crate::write::pipeline::writing_back;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Instant;

/// A salvage job.
#[derive(Clone, Debug)]
pub struct SalvageJob {
    /// The damaged file (read only).
    pub src: PathBuf,
    /// Where the copy goes.
    pub dst: Destination,
    /// Fill percent of the copy's pages.
    pub fill: f64,
    /// Whether to append the sha256 trailer.
    pub trailer: Trailer,
    /// Replace an existing destination.
    pub force: bool,
}

/// Writes what was gathered to `out` (pages 2.. after two placeholder meta pages, as the copier
/// does); returns the layout and the two meta pages to write over the placeholders.
pub fn write<W: Write + Send>(g: &Gathered<'_>, fill: f64, out: W) -> Result<(Layout, Vec<u8>), CompactError> {
    let mut list: Vec<Bucket<'_>> = g
        .plain
        .iter()
        .map(|(name, sequence, from)| Bucket { name, sequence: *sequence, entries: entries(g, name, from) })
        .collect();
    if let Some(k) = &g.keys {
        let entries = k.records.iter().map(|r| (r.rev_key.bytes(), Cow::Borrowed(r.raw))).collect();
        list.push(Bucket { name: crate::etcd::KEY_BUCKET, sequence: g.key_sequence, entries });
        list.sort_by(|a, b| a.name.cmp(b.name));
    }
    let root = g.root.as_ref();
    let plan =
        Plan { order: g.g.order, page_size: g.g.page_size, fill, freelist_page: root.is_some_and(|r| r.freelist_page) };
    let l = buckets::write(&plan, list, out).map_err(|e| match e {
        crate::write::copier::WriteError::Io(e) => CompactError::Io(e),
        crate::write::copier::WriteError::Source(p) => CompactError::Internal(p.to_string()),
    })?;
    let metas = meta_pages_at(&l, root.map_or(1, |r| r.txid), root.map_or(0, |r| r.sequence));
    Ok((l, metas))
}

/// The entries the copy writes for a plain bucket: the source's, but for `meta`'s compaction keys
/// where they are recorded anew (added when the source lost them).
fn entries<'a>(g: &Gathered<'a>, bucket: &'a [u8], from: &[(&'a [u8], &'a [u8])]) -> Vec<(&'a [u8], Cow<'a, [u8]>)> {
    use crate::etcd::meta_keys::{FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV};
    let mut out: Vec<(&'a [u8], Cow<'a, [u8]>)> = from.iter().map(|(k, v)| (*k, Cow::Borrowed(*v))).collect();
    if bucket != crate::etcd::META_BUCKET {
        return out;
    }
    for (name, rev) in [FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV].into_iter().zip(g.meta_record) {
        let Some(rev) = rev else { continue };
        let v = Cow::Owned(crate::etcd::revision::key_bytes(rev, 0).to_vec());
        match out.iter_mut().find(|(k, _)| *k == name) {
            Some(e) => e.1 = v,
            None => out.push((name, v)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(b.0));
    out
}

/// Reads the finished copy back: clean, and holding exactly what was written (etcdutl's HASH and
/// TOTAL KEYS of what was gathered, and its last revision). Returns the copy's figures.
pub fn verify(bytes: &[u8], l: &Layout, last_revision: u64) -> Result<Figures, CompactError> {
    let failed = CompactError::VerifyFailed;
    let (_, r) = super::verify::read_back_with(bytes, true)?;
    let s = &r.status;
    if (s.hash, s.total_key, s.revision.max(0) as u64) != (l.src.crc, l.src.keys, last_revision) {
        return Err(failed(format!(
            "the copy holds {:x}/{}/{}, what was gathered {:x}/{}/{last_revision}",
            s.hash, s.total_key, s.revision, l.src.crc, l.src.keys
        )));
    }
    Ok(Figures::from(s))
}

/// How many of `check`'s errors in a copy are named in the notes.
const CHECK_SHOWN: usize = 5;

/// What `check` fails the copy for, beyond what the report tells already (revisions missing,
/// records etcd cannot read): errors of the whole check, the first [`CHECK_SHOWN`], and
/// how many there are. A salvage holds what it gathered to etcd's rules as it goes; this is the
/// last word, so no copy `check` fails is called sound.
fn check_fails(bytes: &[u8]) -> (Vec<crate::problem::Problem>, u64) {
    use crate::problem::ProblemKind::{EtcdRecordUnreadable, RevisionsMissing};
    let Ok(view) = crate::bbolt::view::DbView::new(bytes) else { return (Vec::new(), 0) };
    let opt = crate::analysis::inspect::Options { verify_trailer: false, residue: false, ..Default::default() };
    let r = crate::analysis::inspect::inspect(&view, &opt);
    let told =
        |p: &crate::problem::Problem| p.kind.is_warning() || matches!(p.kind, RevisionsMissing | EtcdRecordUnreadable);
    let listed: Vec<_> = r.problems.iter().filter(|p| !told(p)).cloned().collect();
    let untold =
        r.errors().saturating_sub(r.problems.iter().filter(|p| !p.kind.is_warning() && told(p)).count() as u64);
    (listed.into_iter().take(CHECK_SHOWN).collect(), untold)
}

/// Tells what `check` fails the copy for: nothing is lossless then, and each is a note.
fn told_check(report: &mut SalvageReport, (problems, total): (Vec<crate::problem::Problem>, u64)) {
    if total == 0 {
        return;
    }
    report.lossless = false;
    report.check_errors = total;
    for p in problems {
        report.notes.push(format!("`boltscope check` fails the copy: {p}"));
    }
}

/// Salvages `data` in memory (no trailer): the copy and the report. For tests, fuzzing and
/// library users; always gathers, even from a tree that reads whole.
pub fn salvage_bytes(data: &[u8], fill: f64) -> Result<(Vec<u8>, SalvageReport), CompactError> {
    let g = gather(data, "-", "-")?;
    let mut out = Vec::new();
    let (l, metas) = write(&g, fill, &mut out)?;
    out.get_mut(..metas.len())
        .ok_or_else(|| CompactError::Internal("the copy is shorter than its meta pages".into()))?
        .copy_from_slice(&metas);
    let mut report = g.report;
    report.dst_status = Some(verify(&out, &l, report.last_revision)?);
    report.verified = true;
    told_check(&mut report, check_fails(&out));
    report.dst_size = out.len() as u64;
    Ok((out, report))
}

/// Whether `compact` refused SRC for what a salvage can work around.
fn salvageable(e: &CompactError) -> bool {
    match e {
        CompactError::Damaged { .. }
        | CompactError::MetaFallback { .. }
        | CompactError::TrailerMismatch { .. }
        | CompactError::TrailerCut { .. }
        | CompactError::VerifyFailed(_) => true,
        CompactError::Unreadable(e) => matches!(e.kind(), ErrorKind::NotBbolt | ErrorKind::MetaUnusable),
        _ => false,
    }
}

/// Runs the job: a copy when SRC's tree reads whole, else a salvage. `progress` is told the
/// source bytes read (for the copy).
pub fn run(job: &SalvageJob, progress: Progress) -> Result<SalvageReport, CompactError> {
    let t0 = Instant::now();
    let copy = Job {
        fill: job.fill,
        trailer: job.trailer,
        force: job.force,
        carry_broken_histories: true,
        ..Job::new(job.src.clone(), job.dst.clone())
    };
    match super::run(&copy, progress) {
        Ok(r) => {
            let mut s = SalvageReport::new(r.src.clone(), r.dst.clone(), Method::Copy);
            s.lossless = true;
            (s.page_size, s.byte_order, s.geometry_from_meta) = (r.page_size, r.byte_order, true);
            s.last_revision = r.dst_status.revision.max(0) as u64;
            // The compaction the copy is opened at, as for a salvage: etcd's rule (0: none).
            s.compact_revision = r.src_store_compaction.or(r.etcd_meta.then_some(0));
            // Revisions, as a salvage counts them: the `key` bucket's records, all read from the tree.
            s.revisions.recovered = r.key_entries.unwrap_or(0);
            s.revisions.from_tree = s.revisions.recovered;
            (s.trailer, s.restorable, s.verified) = (r.trailer, r.trailer && r.etcd_meta, r.verified);
            s.etcd_meta = r.etcd_meta;
            (s.src_size, s.dst_size, s.dst_status) = (r.src_size, r.dst_size, Some(r.dst_status));
            s.entries_copied = Some(r.entries);
            if r.src_problems_outside_tree > 0 {
                s.notes.push(super::outside_note(&r.src, r.src_problems_outside_tree));
            }
            // A tree that reads whole may still hold a page etcd did not write there (a stale
            // leaf): the copy carries it as it is, so nothing is called lossless then.
            if let Some((n, c)) = r.broken_histories {
                if n > 0 {
                    s.lossless = false;
                    s.notes.push(format!(
                        "{}; the copy carries it as it is: `boltscope log --include-free` shows what free pages \
                         still hold of the records it displaced",
                        history::problem(n, &c).message
                    ));
                }
            }
            s.seconds = t0.elapsed().as_secs_f64();
            return Ok(s);
        }
        Err(e) if salvageable(&e) => {}
        Err(e) => return Err(e),
    }
    let place = dest::prepare(&job.src, &job.dst, job.force)?;
    let mut tmp = place.temporary()?;
    let _unfinished = unfinished::register(tmp.path());
    tmp.as_file().set_permissions(place.permissions(&job.src)?)?;
    let src = input::open(&job.src)?;
    let data = src.bytes();
    let g = gather(data, &job.src.display().to_string(), &job.dst.to_string())?;
    let (l, metas) = writing_back(tmp.as_file_mut(), |w| write(&g, job.fill, w))?;
    let mut report = g.report;
    drop(src);
    let f = tmp.as_file_mut();
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&metas)?;
    f.flush()?;
    let with_trailer = match job.trailer {
        Trailer::Auto => crate::etcd::trailer::present(report.src_size as usize),
        Trailer::Always => true,
        Trailer::Never => false,
    };
    let copy = input::open(tmp.path())?;
    let figures = verify(copy.bytes(), &l, report.last_revision)?;
    // Records carried as the source held them that etcd 3.5.1 cannot read (a lease, an alarm, a
    // member id...): the copy is no backend etcd starts from, whatever else it holds.
    let unreadable =
        crate::bbolt::view::DbView::new(copy.bytes()).map(|v| crate::etcd::startup::problems(&v)).unwrap_or_default();
    let sha = with_trailer.then(|| Sha256::digest(copy.bytes()));
    drop(copy);
    report.dst_size = super::verify::seal(tmp.as_file_mut(), sha)?;
    // Checked as it will be read, trailer and all (a snapshot's rules differ from a member file's).
    let failing = check_fails(input::open(tmp.path())?.bytes());
    place.finish(tmp, job.force)?;
    // `etcdutl snapshot restore` writes to the `meta` bucket: a copy without one fails it.
    report.etcd_meta =
        report.buckets.iter().any(|b| b.name.as_bytes() == crate::etcd::META_BUCKET && b.source != "lost");
    (report.trailer, report.restorable, report.verified) = (with_trailer, with_trailer && report.etcd_meta, true);
    if !unreadable.is_empty() {
        (report.restorable, report.lossless) = (false, false);
        report.etcd_records_unreadable = unreadable.len() as u64;
        for p in &unreadable {
            report.notes.push(format!(
                "the copy carries a record etcd 3.5.1 cannot read, as the source held it: {}",
                p.message
            ));
        }
    }
    told_check(&mut report, failing);
    report.dst_status = Some(figures);
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        use std::io::Read;
        let path = format!("{}/fixtures/etcd-records/{name}.snap.db.gz", env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn check_fails_names_what_check_fails_a_copy_for() {
        let (listed, total) = check_fails(&fixture("meta-fcr16"));
        assert_eq!(total, 1);
        assert_eq!(listed[0].kind, crate::problem::ProblemKind::EtcdMetaMalformed);
        assert_eq!(check_fails(&fixture("base")), (Vec::new(), 0));
        // A record etcd cannot read is told on its own (`etcd_records_unreadable`), not again.
        assert_eq!(check_fails(&fixture("lease-trunc")).1, 0);
    }
}
