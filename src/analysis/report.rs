//! The `inspect` report: what one file is, what it holds, what it would become. Every type
//! here is part of the stable JSON schema (its number is [`crate::analysis::inspect::SCHEMA`])
//! and round-trips through serde, so the index can keep reports. Figures that depend on a tree that could not be read whole are
//! withheld (`None`, JSON `null`): a damaged file gets its problems, never guessed figures.

use super::residue::Residue;
use crate::bbolt::order::{ByteOrder, Txid};
use crate::bbolt::stats::BucketStats;
use crate::etcd::mvcc::Mvcc;
use crate::etcd::schema;
use crate::etcd::trailer::TrailerCheck;
use crate::problem::Problem;

/// One bucket's report.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BucketReport {
    /// Last path element, lossy UTF-8.
    pub name: String,
    /// Path from the top, lossy UTF-8.
    pub path: Vec<String>,
    /// The path's exact names in base64, when one of them is not UTF-8 (absent otherwise, and
    /// under etcd's `key` bucket, whose names stay hidden).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_base64: Option<Vec<String>>,
    /// bbolt's figures.
    pub stats: BucketStats,
}

/// File facts.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FileInfo {
    /// File size in bytes.
    pub file_size: u64,
    /// Page size.
    pub page_size: u64,
    /// Byte order.
    pub byte_order: ByteOrder,
    /// Meta page the tree was read from.
    pub active_meta: usize,
    /// Per meta page: valid, txid.
    pub metas: Vec<MetaInfo>,
    /// High-water mark (`meta.pgid`).
    pub high_water_mark: u64,
    /// `page` (a freelist page) or `not synced` (the no-freelist sentinel).
    pub freelist: String,
}

/// One meta page.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct MetaInfo {
    /// Whether it validates.
    pub valid: bool,
    /// Its txid, when it could be read.
    pub txid: Option<Txid>,
    /// Why it is invalid.
    pub error: Option<String>,
}

/// Page counts.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Pages {
    /// Meta pages (2).
    pub meta: u64,
    /// Freelist page run (0 without a freelist page).
    pub freelist: u64,
    /// Branch pages (logical).
    pub branch: u64,
    /// Leaf pages (logical).
    pub leaf: u64,
    /// Overflow pages of branch and leaf pages.
    pub overflow: u64,
    /// Free pages.
    pub free: u64,
}

/// Sizes in bytes.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Sizes {
    /// `hwm * pageSize`: etcd's DB SIZE (`etcd_mvcc_db_total_size_in_bytes`).
    pub total: u64,
    /// Total minus free pages (`etcd_mvcc_db_total_size_in_use_in_bytes`); withheld when the
    /// tree could not be read whole (free pages are found by reachability).
    pub in_use: Option<u64>,
    /// Free pages' bytes (withheld likewise).
    pub free: Option<u64>,
    /// free / total (withheld likewise).
    pub fragmentation: Option<f64>,
    /// Bytes in the file past the high-water mark (grow-ahead slack of a live file).
    pub past_hwm: u64,
}

/// The trailer.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Trailer {
    /// Whether the file ends in a trailer (`size % 512 == 32`).
    pub present: bool,
    /// Whether its SHA-256 matches (None: not present or not verified).
    pub sha256_ok: Option<bool>,
    /// Stored and computed hashes.
    pub check: Option<TrailerCheck>,
}

/// The size after compaction at the current revision (etcd files) and defrag.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    /// The revision compacted at (None for non-etcd files: defrag only).
    pub compact_revision: Option<u64>,
    /// `hwm * pageSize` after etcd's defrag (fill percent 0.9).
    pub size_fill_0_9: u64,
    /// The same at fill percent 1.0.
    pub size_fill_1_0: u64,
    /// `hwm * pageSize` of what `boltscope compact --revision latest` (etcd files; plain
    /// `compact` otherwise) writes at its default fill 1.0: the same pages less the two a fresh
    /// bbolt file leaves free, plus a freelist page if the file has one.
    pub compact_size: u64,
}

/// The quota verdict, as a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaCode {
    /// Under the quota.
    Within,
    /// At or over it (etcd raises NOSPACE), but compaction + defrag brings it under.
    OverFixable,
    /// At or over it, and still over after compaction + defrag.
    Over,
    /// At or over it; what compaction would leave is not known (figures withheld).
    OverUnknown,
}

/// Quota usage.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Quota {
    /// The quota in bytes.
    pub bytes: u64,
    /// total / quota now.
    pub usage: f64,
    /// predicted size (fill 0.9) / quota (withheld with the prediction).
    pub usage_after_compact_defrag: Option<f64>,
    /// The verdict as a code.
    pub code: QuotaCode,
    /// The verdict as a sentence.
    pub verdict: String,
}

/// The whole report.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Inspect {
    /// Schema version of this JSON.
    pub schema: u32,
    /// The file.
    pub file: FileInfo,
    /// The trailer.
    pub trailer: Trailer,
    /// Whether the tree was read whole: when false, every figure that depends on it is withheld
    /// (null), and the problems say why.
    pub complete: bool,
    /// Pages (withheld when incomplete).
    pub pages: Option<Pages>,
    /// Sizes.
    pub size: Sizes,
    /// Buckets, top-level and nested down to the requested depth (withheld when incomplete).
    pub buckets: Option<Vec<BucketReport>>,
    /// etcd's own figures (None for a generic bbolt file, or withheld).
    pub etcd: Option<schema::EtcdInfo>,
    /// The MVCC store (None for a generic bbolt file, or withheld).
    pub mvcc: Option<Mvcc>,
    /// What free pages still hold of deleted data (None for a generic bbolt file, or withheld).
    #[serde(default)]
    pub residue: Option<Residue>,
    /// The largest Kubernetes resources by stored bytes (None for a generic bbolt file, or
    /// withheld).
    #[serde(default)]
    pub resources: Option<super::resources::Largest>,
    /// Size after compaction + defrag (withheld when incomplete).
    pub prediction: Option<Prediction>,
    /// Quota.
    pub quota: Quota,
    /// Errors and warnings, errors first (at most `MAX_PROBLEMS` kept): the same `check` reports,
    /// less those of its gates.
    pub problems: Vec<Problem>,
    /// All problems, kept or not.
    pub problem_total: u64,
    /// Of them, warnings (which do not fail the file).
    pub warnings: u64,
}

impl Inspect {
    /// Errors (problems that are not warnings), kept or not.
    pub fn errors(&self) -> u64 {
        self.problem_total.saturating_sub(self.warnings)
    }
}
