//! `metav1.Time` and `metav1.MicroTime` as Kubernetes' JSON shows them.
//!
//! Both are stored in protobuf as `{seconds = 1 (int64, Unix time), nanos = 2 (int32)}`
//! (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto). In JSON:
//! - `Time` is RFC 3339 in UTC with whole seconds (`2006-01-02T15:04:05Z`); the apiserver writes
//!   no nanos and ignores them on read (time_proto.go). Nanos found on disk anyway are shown as a
//!   fraction rather than dropped, since this is a tool for looking at the bytes.
//! - `MicroTime` is RFC 3339 in UTC with six fraction digits (`2006-01-02T15:04:05.000000Z`); the
//!   apiserver truncates to microseconds (micro_time_proto.go), and so does this.
//! - Go's zero time (`0001-01-01T00:00:00Z`, Unix −62135596800) marshals as JSON `null`.
//!
//! Years outside 0000–9999 have no RFC 3339 form; they come back as `None` and the caller shows
//! the raw numbers.

/// Unix seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z).
pub const GO_ZERO_UNIX: i64 = -62_135_596_800;

/// Which of the two time types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `metav1.Time`: whole seconds (fraction only when nanos are on disk).
    Seconds,
    /// `metav1.MicroTime`: always six fraction digits.
    Micros,
}

/// Formats Unix `seconds` + `nanos` as Kubernetes JSON would. `Some(None)` stands for JSON
/// `null` (Go's zero time); `None` means not representable (year out of range or nanos out of
/// 0..1e9).
pub fn format(seconds: i64, nanos: i64, precision: Precision) -> Option<Option<String>> {
    if !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    if seconds == GO_ZERO_UNIX && (nanos == 0 || precision == Precision::Micros && nanos < 1000) {
        return Some(None);
    }
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
    match precision {
        Precision::Micros => s.push_str(&format!(".{:06}", nanos / 1000)),
        Precision::Seconds if nanos != 0 => {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        Precision::Seconds => {}
    }
    s.push('Z');
    Some(Some(s))
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01, by the usual
/// era-of-400-years arithmetic. Valid for any `i64` input that keeps the year in `i64`; callers
/// range-check the year.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let y = era.saturating_mul(400).saturating_add(yoe) + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: i64, n: i64, p: Precision) -> Option<Option<String>> {
        format(s, n, p)
    }

    #[test]
    fn formats_like_kubernetes_json() {
        // Reference points checked against `date -u -d @N` (GNU coreutils).
        assert_eq!(f(0, 0, Precision::Seconds), Some(Some("1970-01-01T00:00:00Z".into())));
        assert_eq!(f(1_700_000_000, 0, Precision::Seconds), Some(Some("2023-11-14T22:13:20Z".into())));
        assert_eq!(f(951_782_400, 0, Precision::Seconds), Some(Some("2000-02-29T00:00:00Z".into())));
        assert_eq!(f(253_402_300_799, 0, Precision::Seconds), Some(Some("9999-12-31T23:59:59Z".into())));
        assert_eq!(f(-1, 0, Precision::Seconds), Some(Some("1969-12-31T23:59:59Z".into())));
        assert_eq!(f(1_700_000_000, 500_000_000, Precision::Seconds), Some(Some("2023-11-14T22:13:20.5Z".into())));
        assert_eq!(f(1_700_000_000, 123_456_789, Precision::Micros), Some(Some("2023-11-14T22:13:20.123456Z".into())));
        assert_eq!(f(1_700_000_000, 0, Precision::Micros), Some(Some("2023-11-14T22:13:20.000000Z".into())));
    }

    #[test]
    fn go_zero_is_null_and_out_of_range_is_none() {
        assert_eq!(f(GO_ZERO_UNIX, 0, Precision::Seconds), Some(None));
        assert_eq!(f(GO_ZERO_UNIX, 0, Precision::Micros), Some(None));
        assert_eq!(f(GO_ZERO_UNIX + 1, 0, Precision::Seconds), Some(Some("0001-01-01T00:00:01Z".into())));
        assert_eq!(f(253_402_300_800, 0, Precision::Seconds), None); // year 10000
        assert_eq!(f(i64::MAX, 0, Precision::Seconds), None);
        assert_eq!(f(i64::MIN, 0, Precision::Seconds), None);
        assert_eq!(f(0, -1, Precision::Seconds), None);
        assert_eq!(f(0, 1_000_000_000, Precision::Micros), None);
    }
}
