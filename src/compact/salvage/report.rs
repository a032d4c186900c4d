//! What a salvage reports: how the tree was found, what was recovered from where, which revisions
//! are lost for certain and which may be, the live keys whose newest record may be lost, the keys
//! kept on uncertain evidence, every page skipped and why. Keys are named; values never are.

use super::root::Root;
use crate::bbolt::order::ByteOrder;
use crate::etcd::status::Figures;
use crate::problem::Problem;

/// Keys listed at most in each list.
pub const KEYS_SHOWN: usize = 20;
/// Skipped pages listed at most.
pub const SKIPPED_SHOWN: usize = 100;

/// How the copy was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The tree read whole: copied as `compact` copies it.
    Copy,
    /// The tree gathered from what can be read, carved pages included.
    Salvage,
}

/// One top-level bucket of the copy.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BucketInfo {
    /// Name (lossy UTF-8).
    pub name: String,
    /// Entries written.
    pub entries: u64,
    /// Where they came from: `tree`, `tree+carved`, or `older root page N`.
    pub source: String,
    /// Whether the bucket was read without losing anything.
    pub complete: bool,
}

/// Counts of `key` bucket records.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Revisions {
    /// Records written.
    pub recovered: u64,
    /// Of them, read from the tree.
    pub from_tree: u64,
    /// Of them, found in pages the tree does not reach (or reached by a damaged pointer).
    pub carved: u64,
    /// Records read where the packed layout puts them (their element header was damaged).
    pub layout_repaired: u64,
    /// Records whose revision key was rebuilt from the value (their sub revision is a guess).
    pub key_repaired: u64,
    /// Elements of the tree that are not records that check out: lost.
    pub unreadable: u64,
    /// Records found outside the tree and left out: residue of compacted or deleted data, or
    /// superseded by a newer record of their key.
    pub left_out: u64,
}

/// The report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SalvageReport {
    /// Source path.
    pub src: String,
    /// Destination path (`-` for standard output).
    pub dst: String,
    /// How the copy was made.
    pub method: Method,
    /// Whether nothing is lost or uncertain: exit 0.
    pub lossless: bool,
    /// Page size of the source and the copy.
    pub page_size: u64,
    /// Byte order of the source and the copy.
    pub byte_order: ByteOrder,
    /// Whether the page size and byte order came from a valid meta page (else from the pages).
    pub geometry_from_meta: bool,
    /// The tree read.
    pub root: Option<Root>,
    /// etcd's compaction revision as the file records it (the highest copy found).
    pub compact_revision: Option<u64>,
    /// The last revision recovered.
    pub last_revision: u64,
    /// `key` bucket records.
    pub revisions: Revisions,
    /// Main revisions above the compaction with no record, or whose record the tree holds but
    /// cannot be read (and every one between the last record read and it): lost for certain.
    pub revision_ranges_lost: Vec<[u64; 2]>,
    /// Ranges at or below the compaction where records may be lost (key ranges the tree could
    /// not read).
    pub revision_ranges_possibly_lost: Vec<[u64; 2]>,
    /// This revision and every later one are lost, how many is unknown: the `key` bucket's last
    /// leaf cannot be read, and the branch above it names this revision as its first (an open
    /// upper end: no readable leaf above it tells where the revisions stopped).
    pub revisions_lost_from: Option<u64>,
    /// Revisions after this one may have existed and are not in the copy: the tree read may not
    /// be the newest (an invalid meta page, a root found by scanning), or the `key` bucket's last
    /// key range cannot be read and what was carved of it ends here.
    pub revisions_possibly_lost_after: Option<u64>,
    /// Live keys in the copy (newest record a put); not counted for a copy (`method` `copy`).
    pub live_keys: Option<u64>,
    /// Of them, keys whose newest record may be lost (a lost revision above it, or itself
    /// uncertain).
    pub live_keys_at_risk: u64,
    /// The first of them.
    pub live_keys_at_risk_first: Vec<String>,
    /// Keys with a record kept on uncertain evidence (possible residue, rebuilt revision key).
    pub uncertain_keys: u64,
    /// The first of them.
    pub uncertain_keys_first: Vec<String>,
    /// Buckets written.
    pub buckets: Vec<BucketInfo>,
    /// Entries of buckets other than `key` that could not be read.
    pub entries_unreadable: u64,
    /// Nested buckets left out (etcd nests none).
    pub nested_buckets_left_out: u64,
    /// Pages or key ranges skipped, with why (the first [`SKIPPED_SHOWN`]).
    pub pages_skipped: Vec<Problem>,
    /// All of them.
    pub pages_skipped_total: u64,
    /// Problems of the source outside what is copied (meta pages, trailer), as sentences.
    pub notes: Vec<String>,
    /// Whether a sha256 trailer was appended.
    pub trailer: bool,
    /// Whether `etcdutl snapshot restore` takes the copy as it is (it has a trailer and etcd's
    /// `meta` bucket).
    pub restorable: bool,
    /// Whether the copy has etcd's `meta` bucket (restore fails without one).
    #[serde(skip)]
    pub etcd_meta: bool,
    /// Records of etcd's small buckets the copy carries that etcd 3.5.1 cannot read (`check`'s
    /// `etcd_record_unreadable`; each named in `notes`): then it is not restorable.
    pub etcd_records_unreadable: u64,
    /// Errors `boltscope check` finds in the copy beyond those told above (each named in `notes`):
    /// the copy holds what was gathered, but not as etcd writes it. 0 for a sound copy.
    pub check_errors: u64,
    /// Whether the copy was read back and found to hold what was written.
    pub verified: bool,
    /// The copy's etcdutl status figures.
    pub dst_status: Option<Figures>,
    /// A copy's entries in every bucket, nested ones included, as `compact` counts them (etcdutl's
    /// TOTAL KEYS in `dst_status` counts a nested bucket as one); `None` for a salvage.
    pub entries_copied: Option<u64>,
    /// Source file size.
    pub src_size: u64,
    /// Destination file size.
    pub dst_size: u64,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl SalvageReport {
    /// An empty report for `src` -> `dst`.
    pub fn new(src: String, dst: String, method: Method) -> SalvageReport {
        SalvageReport {
            src,
            dst,
            method,
            lossless: false,
            page_size: 0,
            byte_order: ByteOrder::Little,
            geometry_from_meta: false,
            root: None,
            compact_revision: None,
            last_revision: 0,
            revisions: Revisions::default(),
            revision_ranges_lost: Vec::new(),
            revision_ranges_possibly_lost: Vec::new(),
            revisions_lost_from: None,
            revisions_possibly_lost_after: None,
            live_keys: None,
            live_keys_at_risk: 0,
            live_keys_at_risk_first: Vec::new(),
            uncertain_keys: 0,
            uncertain_keys_first: Vec::new(),
            buckets: Vec::new(),
            entries_unreadable: 0,
            entries_copied: None,
            nested_buckets_left_out: 0,
            pages_skipped: Vec::new(),
            pages_skipped_total: 0,
            notes: Vec::new(),
            trailer: false,
            restorable: false,
            etcd_meta: false,
            etcd_records_unreadable: 0,
            check_errors: 0,
            verified: false,
            dst_status: None,
            src_size: 0,
            dst_size: 0,
            seconds: 0.0,
        }
    }

    /// Records a skipped page or range.
    pub fn skipped(&mut self, bucket: &[u8], problem: Problem) {
        // The problem names the bucket path once (a tree's own problems already carry it).
        let problem = match problem.bucket.is_empty() {
            true => problem.bucket(vec![String::from_utf8_lossy(bucket).into_owned()]),
            false => problem,
        };
        // A leaf judged outside its range is lost by its range and by its records' (one problem).
        let same = |p: &Problem| {
            (p.kind, p.page, p.offset, &p.message) == (problem.kind, problem.page, problem.offset, &problem.message)
        };
        if self.pages_skipped.iter().any(same) {
            return;
        }
        self.pages_skipped_total += 1;
        if self.pages_skipped.len() < SKIPPED_SHOWN {
            self.pages_skipped.push(problem);
        }
    }

    /// Whether etcd will accept the copy, as a sentence.
    pub fn acceptance(&self) -> String {
        if self.restorable {
            "etcdutl snapshot restore accepts it (sha256 trailer appended)".into()
        } else if self.etcd_records_unreadable > 0 {
            "it carries records etcd 3.5.1 cannot read (see the notes): a server restored from it does not start, \
             or the restore fails"
                .into()
        } else if !self.etcd_meta {
            "no etcd `meta` bucket: `etcdutl snapshot restore` fails on it (it records the consistent index \
             there); bbolt opens it"
                .into()
        } else {
            "no sha256 trailer: etcd opens it as member/snap/db; `etcdutl snapshot restore` needs \
             --skip-hash-check (or salvage with --trailer always)"
                .into()
        }
    }
}
