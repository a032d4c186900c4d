//! Rendering a diff: JSON (one object) and a table for people.

use boltscope::analysis::compare::{Comparison, FileFacts};
use boltscope::analysis::diff::{Change, Field, Record};
use boltscope::analysis::diff_groups::GroupSummary;
use boltscope::analysis::du_report::KeyText;
use boltscope::analysis::relation::Kind;
use boltscope::etcd::humanize::bytes as h;
use serde_json::{json, Map, Value};
use std::fmt::Write;

/// How to show the comparison: the paths as given, and whether value sizes are shown.
pub struct Shown<'a> {
    /// A's path.
    pub a: &'a str,
    /// B's path.
    pub b: &'a str,
    /// Show value sizes.
    pub values: bool,
    /// Whether each file kept changing while read.
    pub torn: [bool; 2],
    /// Problems `check` reports in each file that the comparison found (its tree compared
    /// anyway): meta pages, length, keys' histories.
    pub problems: [&'a [boltscope::Problem]; 2],
    /// The failure the index remembers for each file (`check` failed it).
    pub remembered: [Option<&'a boltscope::index::Failure>; 2],
}

/// `"key"` when valid UTF-8, else `"key_base64"` ([`KeyText`], as `du` writes keys).
fn put_key(m: &mut Map<String, Value>, key: &[u8]) {
    if let Ok(Value::Object(k)) = serde_json::to_value(KeyText::of(key)) {
        m.extend(k);
    }
}

fn key_json(key: &[u8]) -> Value {
    serde_json::to_value(KeyText::of(key)).unwrap_or_default()
}

fn hex(id: Option<u64>) -> Value {
    id.map_or(Value::Null, |i| format!("{i:x}").into())
}

fn record(r: &Record, values: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("create_revision".into(), r.create_revision.into());
    m.insert("mod_revision".into(), r.mod_revision.into());
    m.insert("version".into(), r.version.into());
    let lease = (r.lease != 0).then(|| boltscope::etcd::ctl::lease_id(r.lease));
    m.insert("lease".into(), lease.map_or(Value::Null, Value::from));
    if values {
        m.insert("value_size".into(), r.value_size.into());
    }
    m
}

fn change(c: &Change, values: bool) -> Value {
    let mut m = Map::new();
    put_key(&mut m, &c.key);
    match (&c.a, &c.b) {
        (Some(a), Some(b)) => {
            m.insert("fields".into(), serde_json::to_value(&c.fields).unwrap_or_default());
            m.insert("a".into(), Value::Object(record(a, values)));
            m.insert("b".into(), Value::Object(record(b, values)));
            if let Some(d) = &c.decoded {
                m.insert("decoded".into(), serde_json::to_value(d).unwrap_or_default());
            }
        }
        (Some(r), None) | (None, Some(r)) => m.extend(record(r, values)),
        (None, None) => {}
    }
    m.insert("conflict".into(), c.conflict.into());
    Value::Object(m)
}

/// A file's facts; `ok` is false when it kept changing while read or `check` fails it for a
/// problem the comparison found (`problems`, as every command lists them). A failure the index remembers for it makes it not ok either, and is written as `status`
/// writes it (`remembered_failure`).
fn file(path: &str, f: &FileFacts, live: u64, s: &Shown<'_>, i: usize) -> Value {
    let (torn, problems, remembered) = (s.torn[i], s.problems[i], s.remembered[i]);
    let mut v = json!({
        "path": path,
        "ok": !torn && problems.is_empty() && remembered.is_none(),
        "problems": problems,
        "revision": f.revision,
        // Never compacted: null, as inspect says it.
        "compact_revision": (f.compacted > 0).then_some(f.compacted),
        "cluster_id": hex(f.cluster_id),
        "live_keys": live,
        "torn": torn,
    });
    if let Some(f) = remembered {
        v["remembered_failure"] = json!({"command": f.command, "verdict": f.verdict});
    }
    v
}

/// The keys the relation names: the conflicting differences, when the files are inconsistent or
/// diverged.
fn named_keys(c: &Comparison) -> Vec<&Change> {
    match c.relation.kind {
        Kind::Inconsistent | Kind::Diverged => c.keys.conflicts().collect(),
        _ => Vec::new(),
    }
}

/// The comparison as one JSON object and a newline.
pub fn json(c: &Comparison, s: &Shown<'_>) -> String {
    let r = &c.relation;
    let mut named: Vec<&Change> = named_keys(c);
    named.sort_by(|x, y| x.key.cmp(&y.key));
    let relation = json!({
        "kind": r.kind,
        "same_cluster": r.same_cluster,
        "shared_member": r.shared_member,
        "history": r.history,
        "conflicts": r.conflicts,
        "keys": named.iter().map(|c| key_json(&c.key)).collect::<Vec<_>>(),
    });
    let k = &c.keys;
    let v = json!({
        "a": file(s.a, &c.a, k.live_keys.0, s, 0),
        "b": file(s.b, &c.b, k.live_keys.1, s, 1),
        "relation": relation,
        "equal": k.equal(),
        "added": k.added.iter().map(|x| change(x, s.values)).collect::<Vec<_>>(),
        "removed": k.removed.iter().map(|x| change(x, s.values)).collect::<Vec<_>>(),
        "changed": k.changed.iter().map(|x| change(x, s.values)).collect::<Vec<_>>(),
        "unchanged": k.unchanged,
        "by": k.by.name(),
        "groups": k.groups,
    });
    format!("{v}\n")
}

fn field_names(f: &[Field]) -> String {
    let n: Vec<String> = f
        .iter()
        .map(|x| serde_json::to_value(x).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
        .collect();
    n.join(",")
}

fn lease(l: u64) -> String {
    if l == 0 {
        "-".into()
    } else {
        boltscope::etcd::ctl::lease_id(l)
    }
}

fn one_line(mark: char, c: &Change, values: bool) -> String {
    let key = crate::report::show_key(&c.key);
    let flag = if c.conflict { "  CONFLICT" } else { "" };
    match (&c.a, &c.b) {
        (Some(a), Some(b)) => {
            let mut s =
                format!("{mark} {key}  [{}]  rev {} -> {}", field_names(&c.fields), a.mod_revision, b.mod_revision);
            if c.fields.contains(&Field::Lease) {
                let _ = write!(s, "  lease {} -> {}", lease(a.lease), lease(b.lease));
            }
            if c.fields.contains(&Field::CreateRevision) {
                let _ = write!(s, "  created {} -> {}", a.create_revision, b.create_revision);
            }
            if values {
                let _ = write!(s, "  size {} -> {} B", a.value_size, b.value_size);
            }
            s + flag
        }
        (Some(r), None) | (None, Some(r)) => {
            let mut s = format!("{mark} {key}  rev {}", r.mod_revision);
            if r.lease != 0 {
                let _ = write!(s, "  lease {}", lease(r.lease));
            }
            if values {
                let _ = write!(s, "  size {} B", r.value_size);
            }
            s + flag
        }
        (None, None) => key,
    }
}

fn groups_table(o: &mut String, by: &str, groups: &[GroupSummary]) {
    let w = groups.iter().map(|g| g.name.display().chars().count()).max().unwrap_or(0).max(by.len() + 8).min(60);
    let head = format!("GROUP ({by})");
    let _ = writeln!(
        o,
        "{head:<w$}  {:>6} {:>7} {:>7} {:>9}  {:>12}  {:>12}",
        "ADDED", "REMOVED", "CHANGED", "UNCHANGED", "LIVE BEFORE", "LIVE AFTER"
    );
    for g in groups {
        let _ = writeln!(
            o,
            "{:<w$}  {:>6} {:>7} {:>7} {:>9}  {:>12}  {:>12}",
            g.name.display(),
            g.added,
            g.removed,
            g.changed,
            g.unchanged,
            h(g.live_bytes_a),
            h(g.live_bytes_b)
        );
    }
}

/// The comparison for people.
pub fn table(c: &Comparison, s: &Shown<'_>) -> String {
    let mut o = String::new();
    let k = &c.keys;
    let cid = |f: &FileFacts| f.cluster_id.map_or("unknown".into(), |i| format!("{i:x}"));
    for (tag, p, f, live) in [("A", s.a, &c.a, k.live_keys.0), ("B", s.b, &c.b, k.live_keys.1)] {
        let _ = writeln!(o, "{tag}  {p}  revision {}  cluster {}  {live} live keys", f.revision, cid(f));
    }
    let r = &c.relation;
    let cluster = match (r.same_cluster, r.shared_member) {
        (Some(true), _) => "same cluster id",
        (None, Some(true)) => "different cluster ids, a member in common",
        (Some(false), _) => "different cluster ids",
        (None, _) => "cluster id unknown",
    };
    let hist = &r.history;
    let history = match hist.diverged_at {
        _ if hist.from > hist.to => "no shared revisions to compare".to_string(),
        // At the first revision both hold above a compaction, they may have parted earlier, below
        // it (review 49b: "diverge at 719" for histories that parted at 678).
        Some(at) if at == hist.from && at > 1 => {
            format!("histories differ from revision {at}, the first both hold: they diverged at or before it")
        }
        Some(at) => format!("histories diverge at revision {at}"),
        None => format!("histories agree over revisions {}..{}", hist.from, hist.to),
    };
    let _ = writeln!(o, "relation: {} ({cluster}; {history})", r.kind.describe());
    let named = named_keys(c);
    if !named.is_empty() {
        let _ = writeln!(o, "  {} conflicting key(s), marked CONFLICT below", named.len());
    }
    let _ = writeln!(
        o,
        "{} added, {} removed, {} changed, {} unchanged",
        k.added.len(),
        k.removed.len(),
        k.changed.len(),
        k.unchanged
    );
    if !k.groups.is_empty() {
        o.push('\n');
        groups_table(&mut o, &k.by.name(), &k.groups);
    }
    if !k.equal() {
        o.push('\n');
    }
    for (mark, list) in [('+', &k.added), ('-', &k.removed), ('~', &k.changed)] {
        for x in list.iter() {
            let _ = writeln!(o, "{}", one_line(mark, x, s.values));
            if let Some(d) = &x.decoded {
                for f in &d.changes {
                    let show = |v: &Option<Value>| v.as_ref().map_or("(absent)".to_string(), Value::to_string);
                    let _ = writeln!(
                        o,
                        "    {}: {} -> {}",
                        if f.path.is_empty() { "/" } else { &f.path },
                        show(&f.a),
                        show(&f.b)
                    );
                }
                if d.total > d.changes.len() as u64 {
                    let _ = writeln!(o, "    ... {} more field(s)", d.total - d.changes.len() as u64);
                }
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_text_or_base64() {
        // `printf 'a\xff' | base64` prints Yf8=.
        assert_eq!(key_json(b"a\xff"), json!({"key_base64": "Yf8="}));
        assert_eq!(key_json(b"/registry/pods/a"), json!({"key": "/registry/pods/a"}));
        let mut m = Map::new();
        m.insert("conflict".into(), true.into());
        put_key(&mut m, b"k");
        assert_eq!(Value::Object(m), json!({"key": "k", "conflict": true}));
    }
}
