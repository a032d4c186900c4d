//! `inspect -w prometheus`: Prometheus text exposition for node_exporter's textfile collector,
//! one family per metric across every file, figures withheld for a damaged tree left out.

use crate::report::{prom_gauge, prom_label};
use boltscope::analysis::inspect::Inspect;
use boltscope::Error;
use std::fmt::Write;

/// A metric family.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// One file's outcome: its path, and its report with whether it changed on every read, or why it
/// could not be read.
pub type Done<'a> = (String, Result<(&'a Inspect, bool, Option<&'a boltscope::index::Failure>), &'a Error>);

/// Prometheus text exposition for several files, one family per metric. Every file gets
/// `boltscope_file_readable` (0 for one that could not be read, which gets nothing else);
/// figures withheld for a damaged tree get no series.
pub fn prometheus(reports: &[Done<'_>]) -> String {
    let mut fams: Vec<Family> = Vec::new();
    let mut add =
        |name: &'static str, help: &'static str, labels: String, v: f64| match fams.iter_mut().find(|f| f.name == name)
        {
            Some(f) => f.samples.push((labels, v)),
            None => fams.push(Family { name, help, samples: vec![(labels, v)] }),
        };
    for (path, r) in reports {
        let file = format!("file=\"{}\"", prom_label(path));
        let readable = "1 when the file could be read as a bbolt database (0: nothing else is reported for it).";
        let Ok((r, torn, remembered)) = r else {
            add("boltscope_file_readable", readable, file, 0.0);
            continue;
        };
        add("boltscope_file_readable", readable, file.clone(), 1.0);
        let s = &r.size;
        add(
            "etcd_mvcc_db_total_size_in_bytes",
            "Total size of the database (hwm x page size), as etcd reports it.",
            file.clone(),
            s.total as f64,
        );
        if let Some(in_use) = s.in_use {
            add(
                "etcd_mvcc_db_total_size_in_use_in_bytes",
                "Size of the database in use (total minus free pages), as etcd reports it.",
                file.clone(),
                in_use as f64,
            );
        }
        add(
            "boltscope_db_file_size_bytes",
            "Size of the database file (expanded, when the input is compressed).",
            file.clone(),
            r.file.file_size as f64,
        );
        if let (Some(free), Some(frag)) = (s.free, s.fragmentation) {
            add("boltscope_db_free_bytes", "Bytes in free pages.", file.clone(), free as f64);
            add("boltscope_db_fragmentation_ratio", "Free pages over total size.", file.clone(), frag);
        }
        if let Some(pg) = &r.pages {
            for (t, n) in [
                ("meta", pg.meta),
                ("freelist", pg.freelist),
                ("branch", pg.branch),
                ("leaf", pg.leaf),
                ("overflow", pg.overflow),
                ("free", pg.free),
            ] {
                add("boltscope_db_pages", "Pages by type.", format!("{file},type=\"{t}\""), n as f64);
            }
        }
        if let Some(p) = &r.prediction {
            for (fill, v) in [("0.9", p.size_fill_0_9), ("1.0", p.size_fill_1_0)] {
                add(
                    "boltscope_predicted_size_bytes",
                    "Size after compaction at the current revision and defrag.",
                    format!("{file},fill=\"{fill}\""),
                    v as f64,
                );
            }
        }
        add(
            "etcd_server_quota_backend_bytes",
            "Backend quota the usage is measured against.",
            file.clone(),
            r.quota.bytes as f64,
        );
        add("boltscope_quota_usage_ratio", "Total size over the quota.", file.clone(), r.quota.usage);
        // A file that changed on every read counts one problem more, as its history row does.
        let errors = r.errors() + u64::from(*torn);
        add(
            "boltscope_problems",
            "Errors found in the file (warnings not counted; a file that changed on every read counts one more).",
            file.clone(),
            errors as f64,
        );
        add(
            "boltscope_remembered_failure",
            "1 when an analysis recorded in the index failed this file (`boltscope check` tells what), though this \
             read may not have found it (--skip-hash-check).",
            file.clone(),
            f64::from(u8::from(remembered.is_some())),
        );
        add("boltscope_warnings", "Warnings about the file (the file passes check with them: raised alarms, missing leases, residual Secrets, uncommitted pages, migration holes).", file.clone(), r.warnings as f64);
        // A snapshot cut by its last 32 bytes reads as a member file with no trailer:
        // `etcdutl snapshot restore` then refuses it ("snapshot missing hash"). An alert on
        // `boltscope_snapshot_trailer_present == 0` for files that should be snapshots sees it.
        add(
            "boltscope_snapshot_trailer_present",
            "1 when the file ends in a sha256 trailer (etcdctl snapshot save writes one; a member's db has none).",
            file.clone(),
            f64::from(u8::from(r.trailer.present)),
        );
        if let Some(ok) = r.trailer.sha256_ok {
            add(
                "boltscope_snapshot_trailer_ok",
                "1 when the sha256 trailer matches.",
                file.clone(),
                f64::from(u8::from(ok)),
            );
        }
        for b in r.buckets.as_deref().unwrap_or_default() {
            // A path with a name that is not UTF-8 is labelled by its exact names (base64, joined
            // by `.`, which base64 never holds), so two such buckets never share a series.
            let l = match &b.path_base64 {
                Some(names) => format!("{file},bucket_base64=\"{}\"", names.join(".")),
                None => format!("{file},bucket=\"{}\"", prom_label(&b.path.join("/"))),
            };
            add(
                "boltscope_bucket_keys",
                "Key/value pairs in the bucket (bbolt KeyN).",
                l.clone(),
                b.stats.key_n as f64,
            );
            add(
                "boltscope_bucket_alloc_bytes",
                "Bytes of pages the bucket allocates.",
                l.clone(),
                (b.stats.branch_alloc + b.stats.leaf_alloc) as f64,
            );
            add(
                "boltscope_bucket_inuse_bytes",
                "Bytes the bucket uses.",
                l,
                (b.stats.branch_inuse + b.stats.leaf_inuse + b.stats.inline_bucket_inuse) as f64,
            );
        }
        if let Some(e) = &r.etcd {
            add(
                "etcd_debugging_mvcc_current_revision",
                "The current revision of the store.",
                file.clone(),
                e.current_revision as f64,
            );
            add(
                "etcd_debugging_mvcc_compact_revision",
                "The revision of the last compaction (-1: never compacted).",
                file.clone(),
                // As etcd's store opened on the file has it (and HashKV reports it).
                e.store_compaction().map_or(-1.0, |c| c as f64),
            );
            add("boltscope_etcd_alarms", "Alarms stored in the file.", file.clone(), e.alarms.len() as f64);
        }
        if let Some(res) = &r.residue {
            add(
                "boltscope_residue_free_leaf_pages",
                "Free pages that still read as leaf pages.",
                file.clone(),
                res.free_leaf_pages as f64,
            );
            add(
                "boltscope_residue_records",
                "Records of deleted keys readable in free pages.",
                file.clone(),
                res.records as f64,
            );
            for (resource, n) in &res.by_resource {
                add(
                    "boltscope_residue_records_by_resource",
                    "Records of deleted keys readable in free pages, by Kubernetes resource.",
                    format!("{file},resource=\"{}\"", prom_label(resource)),
                    *n as f64,
                );
            }
            add(
                "boltscope_residue_secrets",
                "Values of deleted Secrets readable in free pages.",
                file.clone(),
                res.secrets as f64,
            );
        }
        if let Some(m) = &r.mvcc {
            add("etcd_debugging_mvcc_keys_total", "Live keys.", file.clone(), m.live_keys as f64);
            add("boltscope_mvcc_revisions", "Revisions stored in the key bucket.", file.clone(), m.revisions as f64);
            add("boltscope_mvcc_tombstones", "Tombstones stored in the key bucket.", file.clone(), m.tombstones as f64);
            add(
                "boltscope_mvcc_compactable_bytes",
                "Leaf bytes compaction at the current revision would delete.",
                file.clone(),
                m.compaction.delete_bytes as f64,
            );
        }
    }
    let mut o = String::new();
    for f in fams {
        prom_gauge(&mut o, f.name, f.help);
        for (l, v) in f.samples {
            let _ = writeln!(o, "{}{{{l}}} {v}", f.name);
        }
    }
    o
}
