//! Backups grouped into series, and how fast each grows: the Theil-Sen estimate of growth per day
//! and the days until the database size reaches the quota at that rate.
//!
//! A series is the backups of one folder whose names are equal once their timestamp is taken out
//! ([`super::backup_name`]); a name without a timestamp is its own series. Points are ordered by
//! time.
//!
//! Growth per day (Theil-Sen): the median, over every pair of points at different times, of
//! `(y_j − y_i) / (t_j − t_i)` with `t` in days (an even number of pair slopes: the mean of the
//! two middle ones); robust to a one-off compaction or defrag. A series of more than
//! [`MAX_POINTS`] points is estimated over that many, evenly spread (first and last included).
//! Days to quota: `(quota − size of the latest backup) / growth` when the growth is positive,
//! none otherwise; when the latest backup is already at or past the quota, `0` (or, growing, the
//! negative days since it crossed): a database that stopped growing because etcd raised NOSPACE
//! is over its quota, not "never reaching" it.
//!
//! A backup dated after now (more than [`FUTURE_SLACK`]: a clock that ran ahead, or a wrong name)
//! counts in the growth like any other, but never as the series' latest backup: it would hide
//! that no backup was taken since ([`Series::newest_existing`], [`Series::future_dated`]). Nor
//! does a gone one ([`Series::latest`]).

use super::backup_point::Measure;
use std::collections::BTreeMap;

/// Points a slope is estimated from at most (every pair is kept in memory: ~500,000 pairs).
pub const MAX_POINTS: usize = 1000;
/// Seconds in a day.
pub const DAY: f64 = 86_400.0;
/// Seconds a backup may be dated after now and still count as taken: ordinary clock skew between
/// the host that names it and the one judging it.
pub const FUTURE_SLACK: i64 = 300;

/// Where a point's time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeFrom {
    /// The file name.
    Name,
    /// The file's modification time.
    Mtime,
}

/// One backup in a series.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    /// The path.
    pub path: String,
    /// Its time, seconds since the Unix epoch.
    pub time: i64,
    /// Where the time comes from.
    pub time_from: TimeFrom,
    /// Its figures.
    #[serde(flatten)]
    pub measure: Measure,
    /// The file is gone: the figures are those the index recorded for it. It counts in the growth
    /// estimate, not as the latest backup for its age.
    #[serde(default)]
    pub gone: bool,
}

impl Point {
    /// Whether it is dated after `now` (beyond [`FUTURE_SLACK`]): no backup taken yet can be.
    pub fn dated_after(&self, now: i64) -> bool {
        self.time > now.saturating_add(FUTURE_SLACK)
    }
}

/// How much a resource grew between the first and the last backup that have resource figures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ResourceGrowth {
    /// The resource.
    pub resource: String,
    /// Live bytes in the first backup.
    pub first_bytes: u64,
    /// Live bytes in the last backup.
    pub last_bytes: u64,
    /// last − first.
    pub growth_bytes: i64,
}

/// A series and its estimates.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Series {
    /// The folder.
    pub folder: String,
    /// The name with its timestamp replaced by `*`.
    pub name: String,
    /// The backups, by time (gone ones too).
    pub points: Vec<Point>,
    /// Theil-Sen growth of the database size, bytes per day.
    pub size_bytes_per_day: Option<f64>,
    /// Theil-Sen growth of the in-use size.
    pub in_use_bytes_per_day: Option<f64>,
    /// Theil-Sen growth of the live bytes.
    pub live_bytes_per_day: Option<f64>,
    /// Days from the latest backup ([`Series::latest`]) until the database size reaches the quota
    /// at that rate (0 or less: it is already there).
    pub days_to_quota: Option<f64>,
    /// When, in seconds since the Unix epoch.
    pub quota_at: Option<i64>,
    /// The resources that grew most, largest growth first (at most [`TOP_RESOURCES`]).
    pub resources: Vec<ResourceGrowth>,
}

impl Series {
    /// The newest backup that still exists and is not dated after `now` (none when every backup
    /// of the series is gone or dated in the future).
    pub fn newest_existing(&self, now: i64) -> Option<&Point> {
        self.points.iter().rev().find(|p| !p.gone && !p.dated_after(now))
    }

    /// The backup the series' figures are "latest" of: the newest that exists and is not dated
    /// after `now`, else (every one gone or dated ahead) the newest not dated ahead, else the
    /// newest.
    pub fn latest(&self, now: i64) -> Option<&Point> {
        latest(&self.points, now)
    }

    /// The backups dated after `now` ([`Point::dated_after`]), oldest first.
    pub fn future_dated(&self, now: i64) -> Vec<&Point> {
        self.points.iter().filter(|p| p.dated_after(now)).collect()
    }
}

/// Resources listed per series.
pub const TOP_RESOURCES: usize = 5;

/// Evenly spread indices of `n` points, at most `max` of them, first and last included.
fn spread(n: usize, max: usize) -> Vec<usize> {
    if n <= max || max < 2 {
        return (0..n).collect();
    }
    (0..max).map(|k| k * (n - 1) / (max - 1)).collect()
}

/// Theil-Sen slope in units per day of `(time in seconds, value)` points; `None` without two
/// points at different times.
pub fn theil_sen(pts: &[(i64, u64)]) -> Option<f64> {
    let idx = spread(pts.len(), MAX_POINTS);
    let mut slopes = Vec::with_capacity(idx.len() * idx.len().saturating_sub(1) / 2);
    for (a, &i) in idx.iter().enumerate() {
        for &j in idx.get(a + 1..).unwrap_or_default() {
            let ((ti, yi), (tj, yj)) = (pts[i], pts[j]);
            if ti != tj {
                let dy = yj as f64 - yi as f64;
                slopes.push(dy * DAY / (tj as f64 - ti as f64));
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_unstable_by(f64::total_cmp);
    let n = slopes.len();
    Some(if n % 2 == 1 { slopes[n / 2] } else { (slopes[n / 2 - 1] + slopes[n / 2]) / 2.0 })
}

/// Days until `last` reaches `quota` growing `slope` bytes per day: None when it does not grow and
/// is below the quota; 0 (or, growing, the negative days since it crossed) when it is already at
/// or past it.
pub fn days_to_quota(quota: u64, last: u64, slope: Option<f64>) -> Option<f64> {
    match slope.filter(|s| *s > 0.0) {
        Some(s) => Some((quota as f64 - last as f64) / s),
        None if last >= quota => Some(0.0),
        None => None,
    }
}

/// [`Series::latest`] of points sorted by time.
fn latest(points: &[Point], now: i64) -> Option<&Point> {
    let ahead = |p: &&Point| p.dated_after(now);
    let mut by_time = points.iter().rev();
    by_time.clone().find(|p| !p.gone && !ahead(p)).or_else(|| by_time.clone().find(|p| !ahead(p))).or(by_time.next())
}

fn resources(points: &[Point]) -> Vec<ResourceGrowth> {
    let with: Vec<&Point> = points.iter().filter(|p| !p.measure.resources.is_empty()).collect();
    let (Some(first), Some(last)) = (with.first(), with.last()) else { return Vec::new() };
    if with.len() < 2 {
        return Vec::new();
    }
    let mut m: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in &first.measure.resources {
        m.entry(&r.resource).or_default().0 = r.live_bytes;
    }
    for r in &last.measure.resources {
        m.entry(&r.resource).or_default().1 = r.live_bytes;
    }
    let mut v: Vec<ResourceGrowth> = m
        .into_iter()
        .map(|(r, (a, b))| ResourceGrowth {
            resource: r.to_string(),
            first_bytes: a,
            last_bytes: b,
            growth_bytes: b as i64 - a as i64,
        })
        .collect();
    v.sort_by(|x, y| y.growth_bytes.cmp(&x.growth_bytes).then_with(|| x.resource.cmp(&y.resource)));
    v.truncate(TOP_RESOURCES);
    v
}

/// A series' estimates from its points (sorted here by time, then path), judged at `now`.
pub fn estimate(folder: String, name: String, mut points: Vec<Point>, quota: u64, now: i64) -> Series {
    points.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.path.cmp(&b.path)));
    let of = |f: fn(&Measure) -> Option<u64>| -> Option<f64> {
        let pts: Vec<(i64, u64)> = points.iter().filter_map(|p| Some((p.time, f(&p.measure)?))).collect();
        theil_sen(&pts)
    };
    let size = of(|m| Some(m.size));
    let last = latest(&points, now).map(|p| (p.time, p.measure.size));
    let days = last.and_then(|(_, s)| days_to_quota(quota, s, size));
    let quota_at = last.zip(days).map(|((t, _), d)| t.saturating_add((d * DAY).round() as i64));
    Series {
        folder,
        name,
        size_bytes_per_day: size,
        in_use_bytes_per_day: of(|m| m.in_use),
        live_bytes_per_day: of(|m| m.live_bytes),
        days_to_quota: days,
        quota_at,
        resources: resources(&points),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_by_hand() {
        assert_eq!(theil_sen(&[]), None);
        assert_eq!(theil_sen(&[(0, 5)]), None);
        assert_eq!(theil_sen(&[(7, 5), (7, 9)]), None, "one time only");
        // y = 100/day with one outlier: the median ignores it.
        let day = 86_400;
        let pts = [(0, 0), (day, 100), (2 * day, 200), (3 * day, 5000), (4 * day, 400)];
        assert_eq!(theil_sen(&pts), Some(100.0));
        // Two points: their slope; even pair counts average the middle two.
        assert_eq!(theil_sen(&[(0, 0), (day / 2, 10)]), Some(20.0));
        // Slopes 10, 5, 14, 0, 16, 32: the middle two are 10 and 14.
        assert_eq!(theil_sen(&[(0, 0), (day, 10), (2 * day, 10), (3 * day, 42)]), Some(12.0));
        assert_eq!(theil_sen(&[(0, 50), (day, 40)]), Some(-10.0));
    }

    #[test]
    fn a_backup_dated_in_the_future_is_never_the_newest() {
        let point = |time: i64, gone: bool| Point {
            path: time.to_string(),
            time,
            time_from: TimeFrom::Name,
            measure: Measure {
                size: 1,
                in_use: None,
                revision: None,
                live_keys: None,
                live_bytes: None,
                resources: Vec::new(),
                warnings: 0,
            },
            gone,
        };
        let now = 1_000_000;
        let pts = vec![point(now - 7200, false), point(now - 3600, true), point(now + FUTURE_SLACK, false)];
        let s = estimate(String::new(), "s".into(), [pts, vec![point(now + 86_400, false)]].concat(), 1 << 30, now);
        assert_eq!(s.newest_existing(now).map(|p| p.time), Some(now + FUTURE_SLACK), "within the slack: taken");
        assert_eq!(s.newest_existing(now - 1).map(|p| p.time), Some(now - 7200), "the gone one is skipped too");
        let future: Vec<i64> = s.future_dated(now).iter().map(|p| p.time).collect();
        assert_eq!(future, [now + 86_400]);
    }

    #[test]
    fn quota_days() {
        assert_eq!(days_to_quota(1000, 400, Some(100.0)), Some(6.0));
        assert_eq!(days_to_quota(1000, 400, Some(0.0)), None);
        assert_eq!(days_to_quota(1000, 400, Some(-3.0)), None);
        assert_eq!(days_to_quota(1000, 1200, Some(100.0)), Some(-2.0));
        assert_eq!(days_to_quota(1000, 400, None), None);
        // Already there and not growing (NOSPACE stops the writes): reached, not "never".
        assert_eq!(days_to_quota(1000, 1200, Some(0.0)), Some(0.0));
        assert_eq!(days_to_quota(1000, 1000, None), Some(0.0));
        assert_eq!(days_to_quota(1000, 1200, Some(-5.0)), Some(0.0));
    }

    #[test]
    fn many_points_are_spread() {
        assert_eq!(spread(3, 1000), [0, 1, 2]);
        let s = spread(5000, 1000);
        assert_eq!((s.len(), s[0], s[999]), (1000, 0, 4999));
        let pts: Vec<(i64, u64)> = (0..3000).map(|i| (i * 3600, 1000 + i as u64 * 10)).collect();
        assert_eq!(theil_sen(&pts), Some(240.0));
    }
}
