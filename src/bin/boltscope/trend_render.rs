//! Rendering `trend`: a table with a sparkline per series, one JSON object, or Prometheus gauges.

use crate::history::when;
use crate::report::{error_value, prom_gauge, prom_label};
use crate::trend::Skipped;
use boltscope::analysis::trend::{Point, Series};
use boltscope::etcd::humanize::bytes as h;
use serde_json::{json, Value};
use std::fmt::Write;
use std::io::IsTerminal;

/// What the renderings are judged against.
pub struct View {
    /// The quota.
    pub quota: u64,
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// Seconds after which a series with no new backup is stale.
    pub stale_after: i64,
}

impl View {
    /// Seconds since the newest backup that still exists (a gone one is no backup to restore)
    /// and is not dated in the future (clock skew or a wrong name: no proof of a recent backup).
    /// Never negative: a backup dated within the slack is taken now.
    fn age(&self, s: &Series) -> Option<i64> {
        s.newest_existing(self.now).map(|p| (self.now - p.time).max(0))
    }

    /// Whether the series' newest existing backup is older than the limit, or none exists.
    fn stale(&self, s: &Series) -> bool {
        self.age(s).map_or(!s.points.is_empty(), |a| a > self.stale_after)
    }
}

/// Unicode block levels, lowest first.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// ASCII levels, lowest first.
const ASCII: [char; 8] = ['_', '.', ',', '-', '~', '=', '+', '#'];
/// Columns of a sparkline at most.
pub const SPARK_WIDTH: usize = 24;

/// A sparkline of `values` (at most [`SPARK_WIDTH`] columns: more values are averaged into
/// columns), scaled from the smallest to the largest; Unicode blocks or ASCII.
pub fn sparkline(values: &[u64], unicode: bool) -> String {
    let levels = if unicode { BLOCKS } else { ASCII };
    if values.is_empty() {
        return String::new();
    }
    let cols: Vec<f64> = if values.len() <= SPARK_WIDTH {
        values.iter().map(|&v| v as f64).collect()
    } else {
        (0..SPARK_WIDTH)
            .map(|c| {
                let (a, b) = (
                    c * values.len() / SPARK_WIDTH,
                    ((c + 1) * values.len() / SPARK_WIDTH).max(c * values.len() / SPARK_WIDTH + 1),
                );
                let part = &values[a..b.min(values.len())];
                part.iter().map(|&v| v as f64).sum::<f64>() / part.len().max(1) as f64
            })
            .collect()
    };
    let (lo, hi) = cols.iter().fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    cols.iter()
        .map(|&v| {
            let i = if hi > lo { ((v - lo) / (hi - lo) * 7.0).round() as usize } else { 3 };
            levels[i.min(7)]
        })
        .collect()
}

/// A rate in bytes per day for people.
fn rate(r: Option<f64>) -> String {
    match r {
        None => "-".into(),
        Some(x) if x < 0.0 => format!("-{}", h((-x).round() as u64)),
        Some(x) => h(x.round() as u64),
    }
}

/// A change in bytes for people: signed, except no change, which reads "0 B" as a rate of
/// nothing does.
fn change(b: i64) -> String {
    match b.signum() {
        1 => format!("+{}", h(b.unsigned_abs())),
        -1 => format!("-{}", h(b.unsigned_abs())),
        _ => h(0),
    }
}

fn days(d: Option<f64>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d <= 0.0 => "reached".into(),
        Some(d) if d < 10.0 => format!("{d:.1} days"),
        Some(d) => format!("{d:.0} days"),
    }
}

/// A duration for people: hours up to two days, then days.
fn span(secs: i64) -> String {
    let h = secs as f64 / 3600.0;
    if h.abs() <= 48.0 {
        format!("{h:.1} h")
    } else {
        format!("{:.1} days", h / 24.0)
    }
}

fn minute(t: i64) -> String {
    let w = when(t.max(0) as u64);
    w.rsplit_once(':').map_or(w.clone(), |(upto_minute, _)| upto_minute.to_string())
}

/// The UTC date of `t`, `YYYY-MM-DD` (a year past 9999 in full).
fn day(t: i64) -> String {
    let w = when(t.max(0) as u64);
    w.split_once(' ').map_or(w.clone(), |(date, _)| date.to_string())
}

/// The table: one block per series.
pub fn table(series: &[Series], skipped: &[Skipped], v: &View) -> String {
    let unicode = std::io::stdout().is_terminal();
    let mut o = String::new();
    for s in series {
        let (Some(first), Some(last)) = (s.points.first(), s.points.last()) else { continue };
        // The figures of the latest backup taken: never one dated ahead, nor one gone.
        let latest = s.latest(v.now).unwrap_or(last);
        let sizes: Vec<u64> = s.points.iter().map(|p| p.measure.size).collect();
        let _ = writeln!(o, "{}/{}", s.folder, s.name);
        let _ = writeln!(
            o,
            "  {} backup(s), {} .. {} UTC   size {}  {}",
            s.points.len(),
            minute(first.time),
            minute(last.time),
            h(latest.measure.size),
            sparkline(&sizes, unicode)
        );
        let in_use = latest.measure.in_use.map_or("-".into(), h);
        let live = latest.measure.live_bytes.map_or("-".into(), h);
        let _ = writeln!(
            o,
            "  latest    in use {in_use}, live {live}, revision {}",
            latest.measure.revision.map_or("-".into(), |r| r.to_string())
        );
        if s.size_bytes_per_day.is_none() {
            let _ = writeln!(o, "  growth    unknown (backups at one time only)");
        } else {
            let _ = writeln!(
                o,
                "  growth    size {}/day, in use {}/day, live {}/day (Theil-Sen)",
                rate(s.size_bytes_per_day),
                rate(s.in_use_bytes_per_day),
                rate(s.live_bytes_per_day)
            );
        }
        let at = s.quota_at.map_or(String::new(), |t| format!(" (about {})", day(t)));
        let quota = crate::trend_plot::iec(v.quota);
        match s.days_to_quota {
            None if s.size_bytes_per_day.is_none() => writeln!(o, "  quota     {quota}: no estimate"),
            None => writeln!(o, "  quota     {quota}: not reached at this rate"),
            Some(d) if d <= 0.0 => writeln!(o, "  quota     {quota}: REACHED (the latest backup is at or over it)"),
            Some(_) => writeln!(o, "  quota     {quota} reached in {}{at}", days(s.days_to_quota)),
        }
        .unwrap_or_default();
        let gone: Vec<&Point> = s.points.iter().filter(|p| p.gone).collect();
        if let Some(newest) = gone.last() {
            let _ = writeln!(
                o,
                "  gone      {} backup(s) no longer on disk, counted in the growth by their recorded size (newest {})",
                gone.len(),
                minute(newest.time)
            );
        }
        let future = s.future_dated(v.now);
        if let Some(newest) = future.last() {
            let _ = writeln!(
                o,
                "  future    {} backup(s) dated after now (newest {}): clock skew or a wrong name? not counted as the \
                 latest backup",
                future.len(),
                minute(newest.time)
            );
        }
        match v.age(s) {
            Some(age) => {
                let state = if v.stale(s) { "STALE: no new backup for" } else { "last backup" };
                let _ = writeln!(o, "  age       {state} {}", span(age));
            }
            None if s.points.iter().all(|p| p.gone) => {
                o.push_str("  age       STALE: every backup of the series is gone\n")
            }
            None => o.push_str("  age       STALE: no backup on disk is dated before now\n"),
        }
        if !s.resources.is_empty() {
            let grew: Vec<String> =
                s.resources.iter().map(|r| format!("{} {}", r.resource, change(r.growth_bytes))).collect();
            let _ = writeln!(o, "  grew most {}", grew.join(", "));
        }
    }
    if series.is_empty() {
        o.push_str("no backups found\n");
    }
    for s in skipped {
        let _ = writeln!(o, "skipped {}: {}", s.path, s.message);
    }
    o
}

/// One JSON object: `series` and `skipped`.
pub fn json(series: &[Series], skipped: &[Skipped], v: &View) -> String {
    let list: Vec<Value> = series
        .iter()
        .map(|s| {
            let mut x = serde_json::to_value(s).unwrap_or_default();
            let ends = |p: Option<&Point>| {
                p.map_or(
                    Value::Null,
                    |p| json!({"path": p.path, "time": p.time, "size": p.measure.size, "gone": p.gone}),
                )
            };
            x["backups"] = s.points.len().into();
            x["first"] = ends(s.points.first());
            x["last"] = ends(s.points.last());
            x["quota"] = v.quota.into();
            x["age_seconds"] = v.age(s).into();
            x["future_dated"] = s.future_dated(v.now).iter().map(|p| p.path.clone()).collect::<Vec<_>>().into();
            x["stale"] = v.stale(s).into();
            x
        })
        .collect();
    let skipped: Vec<Value> = skipped
        .iter()
        .map(|s| {
            let mut v = error_value(&s.path, &s.kind, &s.message);
            if let Some((problems, total)) = &s.problems {
                v["problems"] = serde_json::to_value(problems).unwrap_or_default();
                v["problem_total"] = (*total).into();
            }
            v
        })
        .collect();
    format!("{}\n", json!({"series": list, "skipped": skipped}))
}

/// Gauges per series, labelled `series="<folder>/<name>"`.
pub fn prometheus(series: &[Series], skipped: &[Skipped], v: &View) -> String {
    type Get = fn(&Series, &View) -> Option<f64>;
    let gauges: [(&str, &str, Get); 7] = [
        ("boltscope_backup_growth_bytes_per_day", "Database size growth of the series, bytes per day (Theil-Sen).", |s, _| s.size_bytes_per_day),
        ("boltscope_backup_in_use_growth_bytes_per_day", "In-use size growth of the series, bytes per day (Theil-Sen).", |s, _| s.in_use_bytes_per_day),
        ("boltscope_backup_days_to_quota", "Days from the latest backup until the database size reaches the quota at that growth (0 or less: reached; absent when below it and not growing).", |s, _| s.days_to_quota),
        ("boltscope_backup_last_timestamp_seconds", "Time of the latest backup of the series that still exists and is not dated in the future.", |s, v| s.newest_existing(v.now).map(|p| p.time as f64)),
        ("boltscope_backup_age_seconds", "Seconds since the latest backup of the series that still exists and is not dated in the future.", |s, v| v.age(s).map(|a| a as f64)),
        ("boltscope_backup_size_bytes", "Database size of the latest backup.", |s, v| s.latest(v.now).map(|p| p.measure.size as f64)),
        ("boltscope_backup_count", "Backups in the series.", |s, _| Some(s.points.len() as f64)),
    ];
    let mut o = String::new();
    for (name, help, get) in gauges {
        prom_gauge(&mut o, name, help);
        for s in series {
            if let Some(x) = get(s, v) {
                let _ = writeln!(o, "{name}{{series=\"{}\"}} {x}", prom_label(&format!("{}/{}", s.folder, s.name)));
            }
        }
    }
    prom_gauge(&mut o, "boltscope_backup_quota_bytes", "The quota the days are counted against.");
    let _ = writeln!(o, "boltscope_backup_quota_bytes {}", v.quota);
    // Files left out of every series, by why (`damaged`: `check` fails them; an error kind: they
    // could not be read; `no_time`, `gone`): an alert on damaged backups needs no other tool.
    let name = "boltscope_backups_skipped";
    prom_gauge(&mut o, name, "Files left out of the series, by why (damaged: check fails them).");
    let mut kinds: std::collections::BTreeMap<&str, u64> = [("damaged", 0)].into();
    for k in skipped {
        *kinds.entry(k.kind.as_str()).or_default() += 1;
    }
    for (kind, n) in kinds {
        let _ = writeln!(o, "{name}{{kind=\"{}\"}} {n}", prom_label(kind));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[], true), "");
        assert_eq!(sparkline(&[1, 8], true), "▁█");
        assert_eq!(sparkline(&[5, 5, 5], false), "---");
        assert_eq!(sparkline(&[0, 7, 14], false), "_~#");
        let many: Vec<u64> = (0..100).collect();
        let s = sparkline(&many, false);
        assert_eq!(s.chars().count(), SPARK_WIDTH);
        assert!(s.starts_with('_') && s.ends_with('#'), "{s}");
    }

    #[test]
    fn dates_far_ahead_keep_their_whole_year() {
        assert_eq!(minute(0), "1970-01-01 00:00");
        assert_eq!(day(86_399), "1970-01-01");
        // A quota reached in a very slow series lies past the year 9999.
        let far = 253_402_300_800 + 86_400 * 40; // 10000-02-10
        assert_eq!(day(far), "10000-02-10");
        assert_eq!(minute(far + 3_660), "10000-02-10 01:01");
    }
}
