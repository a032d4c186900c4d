//! The time a backup's file name carries, and the name without it (which names its series).
//!
//! Recognised, in this order (the first that matches wins):
//! 1. k3s/RKE2 names with the default prefixes, `etcd-snapshot-<node>-<unix seconds>` and
//!    `on-demand-<node>-<unix seconds>` ([`crate::k3s::name`]); the series is `<prefix>-<node>-*`;
//! 2. a dashed date `YYYY-MM-DD`, optionally followed by `T`, `_`, `-` or a space and a time
//!    `HH:MM`, `HHMM`, `HH:MM:SS` or `HHMMSS`, optionally `Z` (`etcd-2026-12-03T0200.db`);
//! 3. a run of exactly 8, 12 or 14 digits that is a valid `YYYYMMDD[HHMM[SS]]`, an 8-digit date
//!    optionally followed by `T`, `_` or `-` and `HHMM[SS]` (`backup-20261203-0200.db`);
//! 4. a run of exactly 10 digits, read as Unix seconds (2001-09-09 to 2286-11-20):
//!    `snapshot-1764547200.db`, custom k3s prefixes.
//!
//! A name is read without an ending of a compressed copy (`.gz`, `.zst`, `.zstd`, `.zip`), so that
//! a copy kept compressed joins its series. Dates and times in names are taken as UTC. The series
//! name is the file name with the matched text replaced by `*`. Digit runs are maximal: digits
//! inside a longer run never match.

use crate::k3s::name::{self, SnapshotKind};

/// How the time was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// A k3s/RKE2 snapshot name.
    K3s,
    /// A calendar date (and time).
    Date,
    /// Unix seconds.
    Unix,
}

/// A time found in a file name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Seconds since 1970-01-01 UTC.
    pub unix: i64,
    /// The name with the time replaced by `*`.
    pub series: String,
    /// How it was found.
    pub form: Form,
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds for a validated date and time; `None` when a field is out of range.
fn seconds(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    let ok = (1970..=2999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=days_in_month(y, mo)).contains(&d)
        && h < 24
        && mi < 60
        && s < 60;
    ok.then(|| days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// The number written by `b` (ASCII digits only, at most 9 of them).
fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0u32, |n, c| n.checked_mul(10)?.checked_add(u32::from(c - b'0')))
}

fn digit_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_digit)
}

/// The length of the digit run starting at `i`.
fn run_len(b: &[u8], i: usize) -> usize {
    b.get(i..).map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// A time of day at `i`: `HH:MM[:SS]` or `HHMM[SS]` as a whole digit run. (h, m, s, length).
fn time_at(b: &[u8], i: usize) -> Option<(u32, u32, u32, usize)> {
    let two = |at: usize| b.get(at..at + 2).and_then(num);
    if b.get(i + 2) == Some(&b':') {
        let (h, m) = (two(i)?, two(i + 3)?);
        if run_len(b, i) != 2 || run_len(b, i + 3) != 2 {
            return None;
        }
        if b.get(i + 5) == Some(&b':') && run_len(b, i + 6) == 2 {
            return Some((h, m, two(i + 6)?, 8));
        }
        return Some((h, m, 0, 5));
    }
    match run_len(b, i) {
        4 => Some((two(i)?, two(i + 2)?, 0, 4)),
        6 => Some((two(i)?, two(i + 2)?, two(i + 4)?, 6)),
        _ => None,
    }
}

/// An optional separator and time after a date ending at `end`: (h, m, s, new end).
fn time_after(b: &[u8], end: usize, separators: &[u8]) -> (u32, u32, u32, usize) {
    if b.get(end).is_some_and(|c| separators.contains(c)) {
        if let Some((h, m, s, n)) = time_at(b, end + 1) {
            let mut e = end + 1 + n;
            if b.get(e) == Some(&b'Z') {
                e += 1;
            }
            return (h, m, s, e);
        }
    }
    (0, 0, 0, end)
}

fn stamp(name: &str, start: usize, end: usize, unix: i64, form: Form) -> Option<Stamp> {
    let series = format!("{}*{}", name.get(..start)?, name.get(end..)?);
    Some(Stamp { unix, series, form })
}

fn dashed(name: &str) -> Option<Stamp> {
    let b = name.as_bytes();
    for i in 0..b.len() {
        if (i > 0 && digit_at(b, i - 1)) || run_len(b, i) != 4 {
            continue;
        }
        if b.get(i + 4) != Some(&b'-')
            || run_len(b, i + 5) != 2
            || b.get(i + 7) != Some(&b'-')
            || run_len(b, i + 8) != 2
        {
            continue;
        }
        let (y, mo, d) = (num(&b[i..i + 4])?, num(&b[i + 5..i + 7])?, num(&b[i + 8..i + 10])?);
        let (h, mi, s, end) = time_after(b, i + 10, b"T_- ");
        let y = i64::from(y);
        // A time that is not one is left out (and stays in the series name).
        let found =
            seconds(y, mo, d, h, mi, s).map(|t| (t, end)).or_else(|| Some((seconds(y, mo, d, 0, 0, 0)?, i + 10)));
        if let Some((t, end)) = found {
            return stamp(name, i, end, t, Form::Date);
        }
    }
    None
}

fn digit_runs(name: &str) -> Option<Stamp> {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let n = run_len(b, i);
        if n == 0 {
            i += 1;
            continue;
        }
        let r = &b[i..i + n];
        let field = |a: usize, z: usize| r.get(a..z).and_then(num);
        let found = match n {
            8 => {
                let (h, mi, s, end) = time_after(b, i + 8, b"T_-");
                let (y, mo, d) = (i64::from(field(0, 4)?), field(4, 6)?, field(6, 8)?);
                let with_time = seconds(y, mo, d, h, mi, s).map(|t| (t, end));
                with_time.or_else(|| Some((seconds(y, mo, d, 0, 0, 0)?, i + 8))).map(|(t, e)| (t, e, Form::Date))
            }
            12 | 14 => {
                let s = if n == 14 { field(12, 14)? } else { 0 };
                let t = seconds(i64::from(field(0, 4)?), field(4, 6)?, field(6, 8)?, field(8, 10)?, field(10, 12)?, s);
                t.map(|t| (t, i + n, Form::Date))
            }
            10 => {
                let v: i64 = name.get(i..i + n)?.parse().ok()?;
                (v >= 1_000_000_000).then_some((v, i + n, Form::Unix))
            }
            _ => None,
        };
        if let Some((t, end, form)) = found {
            return stamp(name, i, end, t, form);
        }
        i += n;
    }
    None
}

/// Endings of a copy kept compressed, left out of the name read (so a compressed copy joins its
/// series): the containers boltscope reads.
const COMPRESSED: [&str; 4] = [".gz", ".zst", ".zstd", ".zip"];

/// The time in a backup's file name (no folder), if it has one. A name ending in `.gz`, `.zst`,
/// `.zstd` or `.zip` is read without it.
pub fn parse(file_name: &str) -> Option<Stamp> {
    let file_name = COMPRESSED.iter().find_map(|c| file_name.strip_suffix(c)).unwrap_or(file_name);
    if let Some(n) = name::parse(file_name).filter(|n| n.kind != SnapshotKind::Custom) {
        return Some(Stamp { unix: n.unix_seconds, series: format!("{}-*", n.head), form: Form::K3s });
    }
    dashed(file_name).or_else(|| digit_runs(file_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: &str) -> Option<(i64, String)> {
        parse(n).map(|s| (s.unix, s.series))
    }

    #[test]
    fn k3s_names() {
        assert_eq!(p("etcd-snapshot-server-0-1764547200"), Some((1_764_547_200, "etcd-snapshot-server-0-*".into())));
        assert_eq!(
            p("etcd-snapshot-server-0-1764547200.zip"),
            Some((1_764_547_200, "etcd-snapshot-server-0-*".into()))
        );
        assert_eq!(p("on-demand-server-0-1764849600"), Some((1_764_849_600, "on-demand-server-0-*".into())));
        // A copy kept gzipped or zstd'd joins its series (review 46b: each was a series of its own).
        for c in ["gz", "zst", "zstd"] {
            let n = format!("etcd-snapshot-server-0-1764547200.{c}");
            assert_eq!(p(&n), Some((1_764_547_200, "etcd-snapshot-server-0-*".into())), "{n}");
            assert_eq!(p(&format!("etcd-2026-12-03.db.{c}")), p("etcd-2026-12-03.db"), "{c}");
        }
        assert_eq!(parse("on-demand-n-1").unwrap().form, Form::K3s);
        // A custom prefix: the 10-digit rule.
        assert_eq!(p("nightly-node-a-1700000000"), Some((1_700_000_000, "nightly-node-a-*".into())));
        assert_eq!(parse("nightly-node-a-1700000000").unwrap().form, Form::Unix);
    }

    #[test]
    fn dates() {
        // 2026-12-03 is day 20790 since 1970-01-01 (date -u -d 2026-12-03 +%s = 1796256000).
        assert_eq!(days_from_civil(2026, 12, 3), 20_790);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(p("etcd-2026-12-03T0200.db"), Some((1_796_256_000 + 7200, "etcd-*.db".into())));
        assert_eq!(p("etcd-2026-12-03.db"), Some((1_796_256_000, "etcd-*.db".into())));
        assert_eq!(p("etcd-2026-12-03T02:00:30Z.db"), Some((1_796_256_000 + 7230, "etcd-*.db".into())));
        assert_eq!(p("etcd_2026-12-03 02:00.db"), Some((1_796_256_000 + 7200, "etcd_*.db".into())));
        assert_eq!(p("backup-20261203-0200.db"), Some((1_796_256_000 + 7200, "backup-*.db".into())));
        assert_eq!(p("backup-20261203020015.db"), Some((1_796_256_000 + 7215, "backup-*.db".into())));
        assert_eq!(p("b-202612030200.db"), Some((1_796_256_000 + 7200, "b-*.db".into())));
        // A time that is not one is left in the series name.
        assert_eq!(p("etcd-2026-12-03T9900.db"), Some((1_796_256_000, "etcd-*T9900.db".into())));
    }

    #[test]
    fn not_times() {
        for n in
            ["snapshot.db", "db-3", "backup-2026-13-01.db", "x-20260231.db", "v3.5.1.db", "12345678901.db", "999999999"]
        {
            assert_eq!(parse(n), None, "{n}");
        }
        assert_eq!(p("a-1764547200123.db"), None, "13 digits (milliseconds) are not read");
    }
}
