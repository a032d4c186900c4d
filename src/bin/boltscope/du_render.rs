//! Rendering `du` reports: a table with a bar per group for people, JSON lines, CSV with a
//! header row, and Prometheus text exposition.

use crate::report::{prom_gauge, prom_label};
use boltscope::analysis::du_report::{Du, Figures, Group, GroupName, KeyText};
use boltscope::analysis::inspect::Inspect;
use boltscope::etcd::humanize::bytes as h;
use std::fmt::Write;
use std::io::IsTerminal;

/// Width of the share bar, in characters.
const BAR: usize = 20;
/// Widest group name shown in the table.
const NAME: usize = 40;

/// A report with its file, as serialized.
#[derive(serde::Serialize)]
struct Named<'a> {
    path: &'a str,
    ok: bool,
    /// Whether the file changed on every read (then `ok` is false), as `check` and `inspect` say.
    changed_while_read: bool,
    /// The failure the index remembers for this file, as `status` and `inspect` write it.
    #[serde(skip_serializing_if = "Option::is_none")]
    remembered_failure: Option<crate::inspect_render::Remembered<'a>>,
    #[serde(flatten)]
    report: &'a Du,
}

/// One JSON object per line: `path`, `ok` (no error found, as `check` counts them, and the file
/// did not change on every read: `torn`), `changed_while_read`, then the report.
pub fn json(path: &str, d: &Du, torn: bool, remembered: Option<&boltscope::index::Failure>) -> String {
    let ok = crate::report::errors_among(&d.problems, d.problem_total) == 0 && !torn && remembered.is_none();
    let remembered_failure =
        remembered.map(|f| crate::inspect_render::Remembered { command: &f.command, verdict: &f.verdict });
    let named = Named { path, ok, changed_while_read: torn, remembered_failure, report: d };
    serde_json::to_string(&named).unwrap_or_default() + "\n"
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(n.saturating_sub(3)).collect();
    t.push_str("...");
    t
}

fn bar(share: f64, unicode: bool) -> String {
    let filled = ((share.clamp(0.0, 1.0) * BAR as f64).round() as usize).min(BAR);
    let (on, off) = if unicode { ('█', '░') } else { ('#', '.') };
    std::iter::repeat(on).take(filled).chain(std::iter::repeat(off).take(BAR - filled)).collect()
}

fn column(by: &str) -> &'static str {
    match by {
        "resource" => "RESOURCE",
        "namespace" => "NAMESPACE",
        "resource+namespace" => "RESOURCE/NAMESPACE",
        _ => "PREFIX",
    }
}

fn row(o: &mut String, name: &str, w: usize, f: &Figures, share: Option<f64>, unicode: bool) {
    let _ = write!(
        o,
        "  {:<w$} {:>9} {:>9} {:>9} {:>8} {:>6} {:>11} {:>6}",
        cut(name, w),
        f.live_keys,
        h(f.live_bytes),
        h(f.stored_bytes),
        f.revisions,
        f.tombstones,
        h(f.compact_bytes),
        f.leases
    );
    match share {
        Some(s) => {
            let _ = writeln!(o, "  {} {:>3.0}%", bar(s, unicode), s * 100.0);
        }
        None => o.push('\n'),
    }
}

fn encodings(f: &Figures) -> String {
    f.encodings.iter().map(|(e, n)| format!("{e} {n}")).collect::<Vec<_>>().join(", ")
}

/// The table for people: groups in the order given, a bar of each one's share of the in-use
/// size, the total, live values by encoding, then the top lists.
pub fn table(reports: &[(&str, &Du)]) -> String {
    let unicode = std::io::stdout().is_terminal();
    let mut o = String::new();
    for (i, (path, d)) in reports.iter().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        let rev = d.revision.map_or(String::new(), |r| format!("revision {r}, "));
        let in_use = d.in_use.map_or(String::new(), |u| format!("{} in use, ", h(u)));
        let _ = writeln!(o, "{path}: {rev}{in_use}by {}", d.by);
        if let Some(f) = &d.meta_fallback {
            let _ = writeln!(o, "  {f}");
        }
        let (Some(groups), Some(total), Some(top)) = (&d.groups, &d.total, &d.top) else {
            let _ = writeln!(o, "  figures withheld: {} problem(s) found (run `boltscope check`)", d.problem_total);
            continue;
        };
        let names: Vec<String> = groups.iter().map(|g| g.name.display()).collect();
        let w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).clamp(5, NAME);
        let _ = writeln!(
            o,
            "  {:<w$} {:>9} {:>9} {:>9} {:>8} {:>6} {:>11} {:>6}  SHARE OF IN USE",
            column(&d.by),
            "LIVE KEYS",
            "LIVE",
            "STORED",
            "RECORDS",
            "TOMBS",
            "COMPACTABLE",
            "LEASES"
        );
        for (g, n) in groups.iter().zip(&names) {
            row(&mut o, n, w, &g.figures, Some(g.share), unicode);
        }
        let all = match d.in_use {
            Some(u) if u > 0 => total.stored_bytes as f64 / u as f64,
            _ => 0.0,
        };
        row(&mut o, "total", w, total, Some(all), unicode);
        let with: Vec<(&Group, &String)> =
            groups.iter().zip(&names).filter(|(g, _)| !g.figures.encodings.is_empty()).collect();
        if !with.is_empty() {
            let _ = writeln!(o, "  live values by encoding");
            for (g, n) in with {
                let _ = writeln!(o, "    {:<w$} {}", cut(n, w), encodings(&g.figures));
            }
        }
        let list = |o: &mut String, title: &str, items: Vec<(String, &KeyText)>| {
            if items.is_empty() {
                return;
            }
            let _ = writeln!(o, "  {title}");
            for (m, k) in items {
                let _ = writeln!(o, "    {m:>9}  {}", k.display());
            }
        };
        list(&mut o, "largest live keys", top.largest.iter().map(|e| (h(e.bytes), &e.key)).collect());
        list(
            &mut o,
            "most revised keys (records)",
            top.most_revised.iter().map(|e| (e.revisions.to_string(), &e.key)).collect(),
        );
        list(&mut o, "most stored history", top.most_stored.iter().map(|e| (h(e.stored_bytes), &e.key)).collect());
    }
    o
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV: a header, then one row per group of every file with figures, and a `(total)` row.
pub fn csv(reports: &[(&str, &Du)]) -> String {
    let mut o = String::from("path,by,group,live_keys,live_bytes,revisions,tombstones,stored_bytes,compact_revisions,compact_bytes,leases,share,encodings\n");
    for (path, d) in reports {
        let (Some(groups), Some(total)) = (&d.groups, &d.total) else { continue };
        let rows = groups.iter().map(|g| (g.name.display(), &g.figures, g.share));
        let all = match d.in_use {
            Some(u) if u > 0 => total.stored_bytes as f64 / u as f64,
            _ => 0.0,
        };
        for (name, f, share) in rows.chain(std::iter::once(("(total)".to_owned(), total, all))) {
            let enc: Vec<String> = f.encodings.iter().map(|(e, n)| format!("{e}={n}")).collect();
            let _ = writeln!(
                o,
                "{},{},{},{},{},{},{},{},{},{},{},{:.6},{}",
                csv_field(path),
                d.by,
                csv_field(&name),
                f.live_keys,
                f.live_bytes,
                f.revisions,
                f.tombstones,
                f.stored_bytes,
                f.compact_revisions,
                f.compact_bytes,
                f.leases,
                share,
                csv_field(&enc.join(";"))
            );
        }
    }
    o
}

/// The labels of a group: `resource`, `namespace`, both, or `prefix`, each its exact name (control
/// characters included, escaped as the text format asks); a name that is not UTF-8 goes in
/// `<label>_base64` instead. No two groups share their labels: a scrape refuses a file whose
/// series repeat, and names shown for people (`\xNN`, U+FFFD) can.
fn labels(by: &str, g: &Group) -> String {
    let one = |label: &str, name: &GroupName| match name {
        GroupName::Text(s) => format!("{label}=\"{}\"", prom_label(s)),
        GroupName::Base64(b) => format!("{label}_base64=\"{b}\""),
    };
    match by {
        "resource" => one("resource", &g.name),
        "namespace" => one("namespace", &g.name),
        "resource+namespace" => {
            // `resource/namespace`, the resource alone (cluster-scoped) or `(other)`; resources
            // are named as text, namespaces are bytes.
            let raw = g.name.bytes();
            match raw.iter().position(|&c| c == b'/') {
                Some(i) => format!(
                    "{},{}",
                    one("resource", &GroupName::of(&raw[..i])),
                    one("namespace", &GroupName::of(&raw[i + 1..]))
                ),
                None => format!("{},namespace=\"\"", one("resource", &g.name)),
            }
        }
        _ => one("prefix", &g.name),
    }
}

/// A file for [`prometheus`]: its path, and when it was read its report, whether it changed on
/// every read, and whether the index remembers a failure for it.
pub type PromFile<'a> = (&'a str, Option<(&'a Du, bool, bool)>);

/// Prometheus text exposition: `boltscope_keyspace_file_readable` per file (0 for one that could
/// not be read, which gets nothing else) and `boltscope_keyspace_problems` per file read (as
/// `inspect` counts them: a file that changed on every read counts one more), then per group of
/// every file with figures, labelled by `file` and the grouping. Its own names: beside `inspect
/// -w prometheus` in one node_exporter textfile folder, a series both wrote would be refused
/// (review 42c: both wrote `boltscope_problems{file}`, with different HELP).
pub fn prometheus(all: &[PromFile<'_>]) -> String {
    let mut o = String::new();
    let name = "boltscope_keyspace_file_readable";
    prom_gauge(&mut o, name, "1 when the file could be read as a bbolt database.");
    for (path, d) in all {
        let _ = writeln!(o, "{name}{{file=\"{}\"}} {}", prom_label(path), u8::from(d.is_some()));
    }
    let name = "boltscope_keyspace_problems";
    prom_gauge(&mut o, name, "Errors found in the file (a file that changed on every read counts one more).");
    for (path, (d, torn, _)) in all.iter().filter_map(|(p, d)| Some((p, (*d)?))) {
        let _ = writeln!(o, "{name}{{file=\"{}\"}} {}", prom_label(path), d.problem_total + u64::from(torn));
    }
    let name = "boltscope_keyspace_remembered_failure";
    prom_gauge(
        &mut o,
        name,
        "1 when an analysis recorded in the index failed this file (`boltscope check` tells what), though this read \
         may not have found it (--skip-hash-check).",
    );
    for (path, (_, _, remembered)) in all.iter().filter_map(|(p, d)| Some((p, (*d)?))) {
        let _ = writeln!(o, "{name}{{file=\"{}\"}} {}", prom_label(path), u8::from(remembered));
    }
    let reports: Vec<(&str, &Du)> = all.iter().filter_map(|(p, d)| Some((*p, (*d)?.0))).collect();
    o.push_str(&groups_prometheus(&reports));
    o
}

fn groups_prometheus(reports: &[(&str, &Du)]) -> String {
    type Get = fn(&Figures) -> u64;
    let families: [(&str, &str, Get); 5] = [
        ("boltscope_keyspace_live_bytes", "Key plus value bytes of live keys.", |f| f.live_bytes),
        ("boltscope_keyspace_stored_bytes", "Revision key plus KeyValue bytes of every record.", |f| f.stored_bytes),
        ("boltscope_keyspace_live_keys", "Keys whose newest record is a put.", |f| f.live_keys),
        ("boltscope_keyspace_revisions", "Records (puts and tombstones) in the key bucket.", |f| f.revisions),
        ("boltscope_keyspace_compactable_bytes", "Bytes compaction at the current revision deletes.", |f| {
            f.compact_bytes
        }),
    ];
    let mut o = String::new();
    for (name, help, get) in families {
        prom_gauge(&mut o, name, help);
        for (path, d) in reports {
            for g in d.groups.iter().flatten() {
                let _ = writeln!(o, "{name}{{file=\"{}\",{}}} {}", prom_label(path), labels(&d.by, g), get(&g.figures));
            }
        }
    }
    let name = "boltscope_keyspace_live_values";
    prom_gauge(&mut o, name, "Live values by storage encoding.");
    for (path, d) in reports {
        for g in d.groups.iter().flatten() {
            for (e, n) in &g.figures.encodings {
                let _ = writeln!(
                    o,
                    "{name}{{file=\"{}\",{},encoding=\"{}\"}} {n}",
                    prom_label(path),
                    labels(&d.by, g),
                    prom_label(e)
                );
            }
        }
    }
    o
}

/// `inspect`'s summary of the largest resources (stored bytes, share of the in-use size,
/// records): one line each, or one line saying to run `du` when they could not be tallied.
pub fn largest_resources(r: &Inspect) -> String {
    let mut o = String::new();
    match &r.resources {
        None => {}
        Some(l) if !l.complete => {
            let _ = writeln!(o, "  largest   too many resource paths to tally here: run `boltscope du`");
        }
        Some(l) => {
            for (i, x) in l.largest.iter().enumerate() {
                let label = if i == 0 { "largest" } else { "" };
                let _ = writeln!(
                    o,
                    "  {label:<9} {} {} stored ({:.0}% of in use), {} records",
                    x.resource,
                    h(x.stored_bytes),
                    x.share * 100.0,
                    x.revisions
                );
            }
        }
    }
    o
}
