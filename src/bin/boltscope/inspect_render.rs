//! Rendering `inspect` reports: a table for people and JSON lines for pipelines (Prometheus text
//! is `inspect_prom`).

use crate::source::Source;
use boltscope::analysis::inspect::Inspect;
use boltscope::etcd::humanize::bytes as h;
use boltscope::index::Failure;
use std::fmt::Write;

/// A report with the file it is about, as serialized in JSON.
#[derive(serde::Serialize)]
pub struct Named<'a> {
    /// The path as given.
    pub path: &'a str,
    /// Whether the file has no error (warnings allowed): the verdict `check` gives without gates.
    /// False for a file that changed on every read.
    pub ok: bool,
    /// Whether the file changed on every read (a live etcd committing): its figures may be torn.
    pub changed_while_read: bool,
    /// Where the file came from (container, k3s name and metadata).
    pub source: &'a Source,
    /// The failure the index remembers for this file (the command that found it and its
    /// verdict), as `status -w json` gives it; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remembered_failure: Option<Remembered<'a>>,
    /// The report.
    #[serde(flatten)]
    pub report: &'a Inspect,
}

/// A remembered failure in JSON: `{"command", "verdict"}`, as `status` writes it.
#[derive(serde::Serialize)]
pub struct Remembered<'a> {
    /// The command whose analysis found it.
    pub command: &'a str,
    /// Its verdict.
    pub verdict: &'a str,
}

/// One JSON object per line; `torn` when the file changed on every read; `remembered`, the
/// failure the index remembers (the file is then not ok, whatever this read found).
pub fn json(path: &str, r: &Inspect, source: &Source, torn: bool, remembered: Option<&Failure>) -> String {
    let ok = r.errors() == 0 && !torn && remembered.is_none();
    let remembered_failure = remembered.map(|f| Remembered { command: &f.command, verdict: &f.verdict });
    let named = Named { path, ok, changed_while_read: torn, source, remembered_failure, report: r };
    serde_json::to_string(&named).unwrap_or_default() + "\n"
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

/// The human report, verdicts first, fitting 80 columns; `torn` when the file changed on every
/// read.
pub fn table(path: &str, r: &Inspect, source: &Source, torn: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{path}");
    let health = match (r.errors(), r.warnings) {
        _ if torn => "CHANGED ON EVERY READ (a live etcd committing?): figures may be torn".to_string(),
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
    o.push_str(&wrap("  quota     ", &format!("{}: {}", iec(r.quota.bytes), r.quota.verdict)));
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
        let attached =
            l.keys_attached.map_or("live keys attached withheld".into(), |n| format!("{n} live keys attached"));
        let _ = writeln!(o, "  leases    {}{ttl}, {attached}", l.count);
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
    } else if r.complete && r.etcd.is_some() {
        let _ = writeln!(o, "mvcc");
        let _ = writeln!(o, "  withheld: a record of the key bucket cannot be read or breaks etcd's invariants");
    }
    if let Some(res) = &r.residue {
        let groups: Vec<String> = res.by_resource.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(o, "residue");
        let headerless = match res.headerless {
            0 => String::new(),
            n => format!(" ({n} of them in pages no leaf header lists)"),
        };
        let free = format!(
            "{} free leaf page(s), {} of them of the key bucket, hold {} record(s) the tree no longer has{headerless}",
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
