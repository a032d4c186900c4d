//! Rendering `inspect` reports: a table for people, JSON lines for pipelines, and Prometheus text
//! exposition for node_exporter's textfile collector.

use crate::report::{prom_gauge, prom_label};
use crate::source::Source;
use boltscope::analysis::inspect::Inspect;
use boltscope::etcd::humanize::bytes as h;
use boltscope::Error;
use std::fmt::Write;

/// A report with the file it is about, as serialized in JSON.
#[derive(serde::Serialize)]
pub struct Named<'a> {
    /// The path as given.
    pub path: &'a str,
    /// Whether the file has no error (warnings allowed): the verdict `check` gives without gates.
    pub ok: bool,
    /// Where the file came from (container, k3s name and metadata).
    pub source: &'a Source,
    /// The report.
    #[serde(flatten)]
    pub report: &'a Inspect,
}

/// One JSON object per line.
pub fn json(path: &str, r: &Inspect, source: &Source) -> String {
    serde_json::to_string(&Named { path, ok: r.errors() == 0, source, report: r }).unwrap_or_default() + "\n"
}

/// Binary units for quotas, which are set in them (2 GiB, 8 GiB).
fn iec(b: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if b >= 1 << shift && b % (1 << shift) == 0 {
            return format!("{} {unit}", b >> shift);
        }
    }
    format!("{b} B")
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// `text` after `lead`, wrapped at spaces to fit 80 columns, continuation lines indented as
/// far as `lead`; a word longer than the line stays whole.
fn wrap(lead: &str, text: &str) -> String {
    let indent = lead.chars().count();
    let mut out = String::from(lead);
    let mut col = indent;
    for (i, word) in text.split(' ').enumerate() {
        let w = word.chars().count();
        if i > 0 && col + 1 + w > 80 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if i > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out.push('\n');
    out
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), T::to_string)
}

/// The human report, verdicts first, fitting 80 columns.
pub fn table(path: &str, r: &Inspect, source: &Source) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{path}");
    let health = match (r.errors(), r.warnings) {
        (0, 0) => "no problems found".to_string(),
        (0, w) => format!("no problems found, {w} warning(s) (see below)"),
        (e, _) => format!("{e} PROBLEM(S) FOUND (see below; run `boltscope check` for all)"),
    };
    let trailer = match (r.trailer.present, r.trailer.sha256_ok) {
        (false, _) => "no sha256 trailer".to_string(),
        (true, Some(true)) => "sha256 trailer OK".to_string(),
        (true, Some(false)) => "SHA256 TRAILER MISMATCH".to_string(),
        (true, None) => "sha256 trailer not verified".to_string(),
    };
    let _ = writeln!(o, "  health    {health}; {trailer}");
    if let Some(line) = crate::source::line(source) {
        let _ = writeln!(o, "  source    {line}");
    }
    if !r.complete {
        let _ = writeln!(o, "  figures   WITHHELD: the tree could not be read whole, so sizes, pages, buckets and");
        let _ = writeln!(o, "            etcd's figures would be guesses (the problems below say why)");
    }
    let _ = writeln!(o, "  quota     {} of {}", r.quota.verdict, iec(r.quota.bytes));
    let s = &r.size;
    match (s.in_use, s.free, s.fragmentation) {
        (Some(in_use), Some(free), Some(frag)) => {
            let _ = writeln!(
                o,
                "  size      {} total, {} in use, {} free ({} fragmented)",
                h(s.total),
                h(in_use),
                h(free),
                pct(frag)
            );
        }
        _ => {
            let _ = writeln!(o, "  size      {} total", h(s.total));
        }
    }
    if let Some(p) = &r.prediction {
        let what = match p.compact_revision {
            Some(rev) => format!("after compact at {rev} + defrag"),
            None => "after defrag".into(),
        };
        let _ = writeln!(o, "  {what}: {} (fill 0.9, etcd), {} (fill 1.0)", h(p.size_fill_0_9), h(p.size_fill_1_0));
    }
    let f = &r.file;
    let other = 1 - f.active_meta;
    let om = &f.metas[other];
    let _ = writeln!(
        o,
        "  file      {} bytes, {} B pages, {}-endian, {} past high-water mark",
        f.file_size,
        f.page_size,
        if f.byte_order == boltscope::bbolt::order::ByteOrder::Big { "big" } else { "little" },
        h(s.past_hwm)
    );
    let _ = writeln!(
        o,
        "  meta      page {} active (txid {}); page {} {} (txid {})",
        f.active_meta,
        opt(&f.metas[f.active_meta].txid),
        other,
        if om.valid { "valid" } else { "INVALID" },
        opt(&om.txid)
    );
    if let Some(pg) = &r.pages {
        let _ = writeln!(
            o,
            "  pages     hwm {}: {} meta, {} freelist, {} branch, {} leaf, {} overflow, {} free",
            f.high_water_mark, pg.meta, pg.freelist, pg.branch, pg.leaf, pg.overflow, pg.free
        );
    }
    let _ = writeln!(o, "  freelist  {}", f.freelist);
    if let Some(e) = &r.etcd {
        let _ = writeln!(o, "etcd");
        let _ = writeln!(
            o,
            "  revision  {} (compacted: scheduled {}, finished {})",
            e.current_revision,
            opt(&e.scheduled_compact_revision),
            opt(&e.finished_compact_revision)
        );
        let _ = writeln!(o, "  raft      consistent index {}, term {}", opt(&e.consistent_index), opt(&e.term));
        let _ = writeln!(o, "  versions  cluster {}, storage {}", opt(&e.cluster_version), opt(&e.storage_version));
        for m in &e.members {
            let _ = writeln!(o, "  member    {} {} {}", m.id, m.name, m.peer_urls.join(","));
        }
        let l = &e.leases;
        let ttl = match (l.ttl_min, l.ttl_max) {
            (Some(a), Some(b)) => format!(", TTL {a}-{b} s"),
            _ => String::new(),
        };
        let _ = writeln!(o, "  leases    {}{ttl}, {} live keys attached", l.count, l.keys_attached);
        let alarms: Vec<String> = e.alarms.iter().map(|a| format!("{} (member {})", a.alarm, a.member_id)).collect();
        let _ = writeln!(o, "  alarms    {}", if alarms.is_empty() { "none".into() } else { alarms.join(", ") });
        let a = &e.auth;
        let _ = writeln!(
            o,
            "  auth      {}, {} users, {} roles",
            if a.enabled { "enabled" } else { "disabled" },
            a.users,
            a.roles
        );
    }
    if let Some(m) = &r.mvcc {
        let c = &m.compaction;
        let _ = writeln!(o, "mvcc");
        let _ = writeln!(
            o,
            "  keys      {} revisions, {} distinct keys, {} live, {} tombstones",
            m.revisions, m.distinct_keys, m.live_keys, m.tombstones
        );
        let _ = writeln!(
            o,
            "  compact   at {} deletes {} entries ({}), keeps {} ({})",
            c.revision,
            c.delete_entries,
            h(c.delete_bytes),
            c.keep_entries,
            h(c.keep_bytes)
        );
        o.push_str(&crate::du_render::largest_resources(r));
    }
    if let Some(res) = &r.residue {
        let groups: Vec<String> = res.by_resource.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(o, "residue");
        let free = format!(
            "{} free leaf page(s), {} of them of the key bucket, hold {} record(s) the tree no longer has",
            res.free_leaf_pages, res.key_pages, res.records
        );
        o.push_str(&wrap("  free      ", &free));
        if res.records > 0 {
            o.push_str(&wrap("  by        ", &groups.join(", ")));
        }
        let secrets = format!("{} value(s) of Secrets deleted or overwritten since are readable", res.secrets);
        o.push_str(&wrap("  secrets   ", &secrets));
    }
    let buckets = r.buckets.as_deref().unwrap_or_default();
    if !buckets.is_empty() {
        let _ = writeln!(o, "buckets");
        let _ = writeln!(
            o,
            "  {:<24} {:>10} {:>5} {:>9} {:>9} {:>9} {:>5}",
            "NAME", "KEYS", "DEPTH", "PAGES", "ALLOC", "IN USE", "FILL"
        );
    }
    for b in buckets {
        let st = &b.stats;
        let pages = st.branch_page_n + st.branch_overflow_n + st.leaf_page_n + st.leaf_overflow_n;
        let alloc = st.branch_alloc + st.leaf_alloc;
        let inuse = st.branch_inuse + st.leaf_inuse + st.inline_bucket_inuse;
        let fill = if alloc == 0 { "inl".to_string() } else { pct(inuse as f64 / alloc as f64) };
        let mut name = b.path.join("/");
        if name.chars().count() > 24 {
            name = name.chars().take(23).collect::<String>() + "~";
        }
        let _ = writeln!(
            o,
            "  {name:<24} {:>10} {:>5} {:>9} {:>9} {:>9} {:>5}",
            st.key_n,
            st.depth,
            pages,
            h(alloc),
            h(inuse),
            fill
        );
    }
    if r.problem_total > 0 {
        let _ = writeln!(o, "problems");
        for p in &r.problems {
            let label = if p.kind.is_warning() { "warning" } else { "error" };
            o.push_str(&wrap(&format!("  {label:<8} "), &p.to_string()));
        }
        if r.problem_total > r.problems.len() as u64 {
            let _ = writeln!(o, "  ...      {} more not shown", r.problem_total - r.problems.len() as u64);
        }
    }
    o
}

/// A metric family.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, f64)>,
}

/// Prometheus text exposition for several files, one family per metric. Every file gets
/// `boltscope_file_readable` (0 for one that could not be read, which gets nothing else);
/// figures withheld for a damaged tree get no series.
pub fn prometheus(reports: &[(String, Result<&Inspect, &Error>)]) -> String {
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
        let Ok(r) = r else {
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
        add("boltscope_db_file_size_bytes", "Size of the file on disk.", file.clone(), r.file.file_size as f64);
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
        add("boltscope_problems", "Errors found in the file (warnings not counted).", file.clone(), r.errors() as f64);
        add("boltscope_warnings", "Warnings about the file (alarms, missing leases).", file.clone(), r.warnings as f64);
        if let Some(ok) = r.trailer.sha256_ok {
            add(
                "boltscope_snapshot_trailer_ok",
                "1 when the sha256 trailer matches.",
                file.clone(),
                f64::from(u8::from(ok)),
            );
        }
        for b in r.buckets.as_deref().unwrap_or_default() {
            let l = format!("{file},bucket=\"{}\"", prom_label(&b.path.join("/")));
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
                "The revision of the last compaction.",
                file.clone(),
                e.finished_compact_revision.unwrap_or(0) as f64,
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
