//! The `inspect` report: what one file is, what it holds, what it would become. Every type
//! here is part of the stable JSON schema (`"schema": 1`) and round-trips through serde, so the
//! index can keep reports.

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
    /// Total minus free pages (`etcd_mvcc_db_total_size_in_use_in_bytes`).
    pub in_use: u64,
    /// Free pages' bytes.
    pub free: u64,
    /// free / total.
    pub fragmentation: f64,
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

/// Quota usage.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Quota {
    /// The quota in bytes.
    pub bytes: u64,
    /// total / quota now.
    pub usage: f64,
    /// predicted size (fill 0.9) / quota.
    pub usage_after_compact_defrag: f64,
    /// A sentence.
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
    /// Pages.
    pub pages: Pages,
    /// Sizes.
    pub size: Sizes,
    /// Buckets (top-level, and nested down to the requested depth).
    pub buckets: Vec<BucketReport>,
    /// etcd's own figures (None for a generic bbolt file).
    pub etcd: Option<schema::EtcdInfo>,
    /// The MVCC store (None for a generic bbolt file).
    pub mvcc: Option<Mvcc>,
    /// Size after compaction + defrag.
    pub prediction: Prediction,
    /// Quota.
    pub quota: Quota,
    /// Problems met on the way (the full checker is `check`).
    pub problems: Vec<Problem>,
    /// Total problems.
    pub problem_total: u64,
}
