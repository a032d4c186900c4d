//! What `get`, `log` and `dump` share: how a stored value is shown (decoded as a Kubernetes
//! object, or as stored with a plaintext Secret withheld), opening an etcd file, the index's key
//! → revisions table, and how a failure is told.

use crate::exit::Verdict;
use crate::index::Ix;
use crate::report::print_problems;
use boltscope::bbolt::cursor::BucketRoot;
use boltscope::etcd::collect::Collector;
use boltscope::etcd::header::Store;
use boltscope::etcd::history::Judged;
use boltscope::etcd::proto::Kv;
use boltscope::etcd::range::KeyRange;
use boltscope::etcd::scan;
use boltscope::etcd::{schema, trailer};
use boltscope::index::keys::{self, KeyRevisions};
use boltscope::index::Identity;
use boltscope::k8s::{self, secret, DecodeOptions};
use boltscope::{DbView, Problem};
use clap::{Args, ValueEnum};
use std::borrow::Cow;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// How decoded objects are written.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectFormat {
    /// JSON (pretty-printed where the output is for people).
    Json,
    /// YAML.
    Yaml,
}

/// `--check-hash`, for the commands that answer from the `key` bucket.
#[derive(Args, Debug, Clone, Copy)]
pub struct HashArgs {
    /// Also verify the sha256 trailer `etcdctl snapshot save` appends: a mismatch fails the answer
    /// (exit 1), as it fails `check`. One SHA-256 pass over the whole file (about a second per GB
    /// on one core, many times the answer's own time), so not done unless asked; a failure a
    /// recorded `check`, `status`, `inspect`, `scan` or `du` found in this file is told
    /// either way (not with --no-index or --refresh).
    #[arg(long)]
    pub check_hash: bool,
}

/// `--decode`, `-o`, `--show-secrets`.
#[derive(Args, Debug, Clone)]
pub struct ValueArgs {
    /// Show values as Kubernetes objects: protobuf, JSON and CBOR decoded, encrypted values
    /// described (provider, key name, size), Secret data redacted.
    #[arg(long)]
    pub decode: bool,
    /// How decoded objects are written: `json` or `yaml` (implies --decode).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT")]
    pub output: Option<ObjectFormat>,
    /// Print Secret data. Without it, a Secret's `data`/`stringData` values are shown as
    /// `<redacted: N bytes>` when decoded, and a plaintext Secret's stored bytes are withheld
    /// (replaced by that placeholder) when values are printed as stored.
    #[arg(long)]
    pub show_secrets: bool,
}

impl ValueArgs {
    /// Whether values are decoded.
    pub fn decoding(&self) -> bool {
        self.decode || self.output.is_some()
    }

    /// The object format (JSON unless `-o yaml`).
    pub fn format(&self) -> ObjectFormat {
        self.output.unwrap_or(ObjectFormat::Json)
    }

    /// A value decoded (Secrets redacted unless `--show-secrets`).
    pub fn object(&self, key: &[u8], value: &[u8]) -> serde_json::Value {
        k8s::decode(key, value, &DecodeOptions { show_secrets: self.show_secrets })
    }

    /// A value decoded and written for people: pretty JSON or YAML, ending with a newline.
    pub fn object_text(&self, key: &[u8], value: &[u8]) -> String {
        let v = self.object(key, value);
        match self.format() {
            ObjectFormat::Json => serde_json::to_string_pretty(&v).unwrap_or_default() + "\n",
            ObjectFormat::Yaml => k8s::yaml::to_string(&v).unwrap_or_else(|e| format!("# not shown as YAML: {e}\n")),
        }
    }

    /// A value as stored, unless it holds a Secret's data in the clear and `--show-secrets` is
    /// not given: then `<redacted: N bytes>`, counted in `withheld`.
    pub fn raw<'v>(&self, key: &[u8], value: &'v [u8], withheld: &AtomicU64) -> Cow<'v, [u8]> {
        if self.show_secrets || value.is_empty() || !secret::holds_plaintext(key, value) {
            return Cow::Borrowed(value);
        }
        withheld.fetch_add(1, Ordering::Relaxed);
        Cow::Owned(format!("<redacted: {} bytes>", value.len()).into_bytes())
    }

    /// A record as shown, its key `<redacted key>` when the key's bytes are themselves a stored
    /// Secret (a damaged record whose value tag became the key's: its value is then read as its
    /// key), unless `--show-secrets`; counted in `withheld`.
    pub fn guard<'k>(&self, kv: Kv<'k>, withheld: &AtomicU64) -> Kv<'k> {
        if self.show_secrets || !secret::key_holds_secret(kv.key) {
            return kv;
        }
        withheld.fetch_add(1, Ordering::Relaxed);
        Kv { key: secret::REDACTED_KEY.as_bytes(), ..kv }
    }
}

/// Tells on stderr how many values were withheld.
pub fn note_withheld(withheld: &AtomicU64) {
    let n = withheld.load(Ordering::Relaxed);
    if n > 0 {
        errln!("boltscope: {n} plaintext Secret value(s) withheld as <redacted: N bytes>; --show-secrets prints them");
    }
}

pub use crate::keyfail::{fail, not_etcd, view, Failure};

/// The store's facts and its `key` bucket (None when the file has none).
pub fn open_store<'a>(view: &DbView<'a>) -> Result<(Store, Option<BucketRoot<'a>>), Failure> {
    if !schema::is_etcd(view) {
        return Err(not_etcd(view));
    }
    Ok((Store::read(view)?, scan::key_bucket(view)?))
}

/// The verdict of an answer given from a `key` bucket whose histories were judged: when a key
/// read holds a history etcd cannot have written, or the bucket misses revisions above the
/// compaction (a stale or lost leaf in a tree that reads well), the problem and what it means for
/// the answer go to stderr (the answer itself is out already).
pub fn judged(path: &Path, j: &Judged) -> Verdict {
    if j.unjudged > 0 {
        errln!(
            "boltscope: {}: the histories of keys past the first {} were not judged ({} record(s); a bound on \
             memory): `boltscope check` judges every key",
            path.display(),
            boltscope::etcd::history::MAX_JUDGED,
            j.unjudged
        );
    }
    // Revisions missing above the compaction, then broken histories: what `check` reports. Holes
    // as a migration from v2 leaves them are `check`'s warning: told, and the file passes.
    let (warned, found): (Vec<Problem>, Vec<Problem>) =
        j.holes.iter().cloned().chain(j.problem()).partition(|p| p.kind.is_warning());
    for w in &warned {
        errln!("boltscope: {}: warning {w}", path.display());
    }
    if found.is_empty() {
        return Verdict::Clean;
    }
    print_problems(path, &found, found.len() as u64);
    errln!(
        "boltscope: the answer comes from records that etcd cannot have left as they are: it may hold stale \
         values or miss revisions (`boltscope check` tells more; `log --include-free` shows what free pages hold)"
    );
    Verdict::Problems
}

/// Warned once when the file changed while it was streamed.
pub fn torn(path: &Path) -> Verdict {
    errln!(
        "boltscope: {}: the file changed while it was read (a live etcd committing?); the output may be torn",
        path.display()
    );
    Verdict::Problems
}

/// Bytes of file a scan reads in about the time the index fetches one key (a B+tree lookup of a
/// few microseconds against a read of a few GB/s): a range with more keys than the file's size
/// over this is scanned instead (and never fewer than [`WARM_MIN_KEYS`] keys are fetched).
pub const SCAN_BYTES_PER_KEY: usize = 8192;
/// A range of up to this many keys is always answered from the index.
pub const WARM_MIN_KEYS: usize = 64;

/// What the index says about the keys of a file.
pub enum Cached {
    /// The keys in the range and their revisions, whether the rest of the file read clean when
    /// the index was built ([`Beside`]), and the file's identity (taken before the read).
    Hit(Vec<KeyRevisions>, Beside, Identity),
    /// Unknown: scan, and build the index on the way when the file's identity (taken before the
    /// read) is given.
    Miss(Option<Identity>),
}

/// Looks the range up in the file's key index.
pub fn lookup(ix: &Ix, path: &Path, data: &[u8], range: &KeyRange) -> Cached {
    let Some((index, id, refresh)) = ix.keyed(path, data) else { return Cached::Miss(None) };
    if refresh {
        return Cached::Miss(Some(id));
    }
    match index.key_revisions_vouched(&id, range) {
        Ok(Some((k, vouched))) if k.len() <= WARM_MIN_KEYS.max(data.len() / SCAN_BYTES_PER_KEY) => {
            let beside = if vouched { Beside::Vouched } else { Beside::Walk };
            Cached::Hit(k, beside, id)
        }
        Ok(Some(_)) => Cached::Miss(None),
        Ok(None) => Cached::Miss(Some(id)),
        Err(e) => {
            errln!("boltscope: warning: index not used: {e}");
            Cached::Miss(None)
        }
    }
}

/// A key index being built from a full scan: the records, and the file's identity before the
/// read began.
pub struct Building<'a> {
    /// The records, collected by the scan.
    pub records: Collector<'a>,
    before: Identity,
}

/// A collection of records for building the key index, when `build` gives the file's identity
/// taken before the read.
pub fn collector<'a>(build: Option<Identity>) -> Option<Building<'a>> {
    let records = Collector::new(usize::try_from(keys::MAX_ENTRIES).unwrap_or(usize::MAX));
    build.map(|before| Building { records, before })
}

/// Builds and stores the key index from a full scan's records (nothing past the bounds), with
/// whether the rest of the file read clean (`beside`: what [`file_issues`] found), when the file's
/// identity is still the one taken before the read: a live etcd that committed meanwhile (the
/// records may be older than the file now is, or torn) leaves nothing stored under the new one.
pub fn remember(ix: &Ix, path: &Path, data: &[u8], collected: Option<Building<'_>>, beside: &[Problem]) {
    let (Some(c), Some((_, id, _))) = (collected, ix.keyed(path, data)) else { return };
    if c.before != id {
        return;
    }
    if let Some(mut built) = keys::build(c.records) {
        built.clean_beside = beside.is_empty();
        ix.write(|index| index.put_key_index(&id, &built));
    }
}

/// Writes to stdout ([`crate::out::stdout`], which remembers the error); `Err` when it cannot be
/// written, to stop the stream.
pub fn emit(out: &mut impl Write, b: &[u8]) -> Result<(), Problem> {
    out.write_all(b).map_err(|e| Problem::new(boltscope::ProblemKind::OutputFailed, format!("stdout: {e}")))
}

/// The verdict of a stream stopped by `p`; `wrote`: whether records went out before it (a
/// stream that reads the bucket once, `log` and `dump --all-revisions`, meets a record it cannot
/// read only where it lies), which are then said not to be the whole answer. A failed write to
/// standard output is told, and its exit code set, once by [`crate::out::settle`] (a closed pipe
/// is a clean stop).
pub fn stopped(path: &Path, p: &Problem, wrote: bool) -> Verdict {
    if p.kind == boltscope::ProblemKind::OutputFailed {
        return Verdict::Clean;
    }
    if wrote {
        return crate::keyfail::fail_after_output(path, p);
    }
    fail(path, &Failure::Damaged(p.clone()))
}

/// The verdict of a stream once it has ended: `res` is how it stopped (with the histories read,
/// judged, and what `check` fails the file for beside them), `flushed` how its last bytes went
/// out, and `stamp` the file's commit stamp taken before it began (a file that committed meanwhile
/// may have been read torn).
pub fn streamed(
    path: &Path,
    data: &[u8],
    stamp: &[u8],
    res: Result<(Judged, Vec<Problem>), Problem>,
    (flushed, wrote): (std::io::Result<()>, bool),
    withheld: &AtomicU64,
) -> Verdict {
    note_withheld(withheld);
    let (judged_as, beside) = match res {
        Err(p) => return stopped(path, &p, wrote),
        Ok(j) => j,
    };
    // The output is incomplete: `out::settle` tells it and exits 2.
    if flushed.is_err() {
        return Verdict::Clean;
    }
    if boltscope::input::commit_stamp(data) != stamp {
        return torn(path);
    }
    judged(path, &judged_as).max(tell_file_issues(path, &beside))
}

/// What `check` fails the file for outside the `key` bucket an answer came from: every other
/// tree (the root bucket and the small buckets beside `key`: `meta`, `members`, `lease`, `auth`,
/// ..., walked as `check` walks them, without the page accounting, which needs the `key` tree
/// too), a meta page that cannot be used, a high-water mark past the end (a file cut short), bytes
/// past it that are not whole pages nor a sha256 trailer (a snapshot whose trailer was cut, or
/// with bytes appended: `etcdutl snapshot restore` refuses it). Whole pages past the high-water
/// mark pass unread (a member file's slack, which `check` reads for zeros: it can be a gigabyte),
/// and the trailer's hash is verified only with `--check-hash` (a SHA-256 of the whole file:
/// `check` does both). With `--meta N` (a transaction read deliberately) the meta pages' problems
/// are told as without it, as `check --meta N` reports them.
pub fn file_issues(data: &[u8], meta: Option<u8>, hash: HashArgs) -> Vec<Problem> {
    let view = match meta {
        None => DbView::new(data),
        Some(m) => DbView::with_meta(data, usize::from(m)),
    };
    let Ok(view) = view else { return Vec::new() };
    // With --meta N too: `check --meta N` fails a file whose other meta page is invalid, so the
    // answer tells it as well.
    let mut found = view.file_problems();
    found.extend(boltscope::etcd::startup::beside_key_problems(&view));
    found.extend(boltscope::etcd::trailer::tail_shape_problem(&view));
    found.extend(trailer_issue(&view, hash));
    found
}

/// The trailer's mismatch, when `--check-hash` asks for it and the file has a trailer.
fn trailer_issue(view: &DbView<'_>, hash: HashArgs) -> Option<Problem> {
    let t = hash.check_hash.then(|| trailer::verify(view.data)).flatten()?;
    trailer::mismatch(view, &t)
}

/// Tells a failure the index remembers for this file ([`Ix::failure`]), after the answer:
/// exit 1. A file `check` failed is never answered for as sound, though the key readers do not
/// hash its trailer unless asked.
pub fn tell_remembered(path: &Path, remembered: Option<boltscope::index::Failure>) -> Verdict {
    let Some(f) = remembered else { return Verdict::Clean };
    errln!(
        "boltscope: {}: `{}` found {} in this file (the index remembers it for this file: its size, meta pages, \
         trailer, modification time and inode); the answer is what its tree holds (`boltscope check` tells what; \
         --refresh answers without what the index remembers)",
        path.display(),
        f.command,
        f.verdict
    );
    Verdict::Problems
}

/// Tells [`file_issues`] after the answer: exit 1 when there are any.
pub fn tell_file_issues(path: &Path, found: &[Problem]) -> Verdict {
    if found.is_empty() {
        return Verdict::Clean;
    }
    print_problems(path, found, found.len() as u64);
    errln!("boltscope: {}: `check` fails this file; the answer is what its tree holds", path.display());
    Verdict::Problems
}

/// Whether an answer must walk the rest of the file for [`file_issues`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beside {
    /// It must: nothing vouches for it.
    Walk,
    /// The file's key index was built when the rest of the file read clean, and the file's
    /// identity (its meta pages, length, trailer, inode and time) is unchanged since.
    Vouched,
}

impl Beside {
    /// What `check` fails the file for beside the `key` bucket: nothing when vouched for, else
    /// [`file_issues`].
    pub fn issues(self, data: &[u8], meta: Option<u8>, hash: HashArgs) -> Vec<Problem> {
        match self {
            // The index cannot see bit rot: a hash asked for is computed.
            Beside::Vouched => DbView::new(data).ok().and_then(|v| trailer_issue(&v, hash)).into_iter().collect(),
            Beside::Walk => file_issues(data, meta, hash),
        }
    }
}
