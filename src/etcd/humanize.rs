//! Byte sizes humanized exactly as go-humanize's `Bytes` (SI, base 1000), which etcdutl uses for
//! TOTAL SIZE: below 10 `"N B"`; else the value scaled to its unit, rounded to one decimal with
//! `floor(x*10+0.5)/10`, printed with one decimal below 10 and none above (Go's `%.0f` rounds
//! half to even, as Rust's formatting does).

const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];

/// go-humanize `Bytes(s)`.
pub fn bytes(s: u64) -> String {
    if s < 10 {
        return format!("{s} B");
    }
    // go-humanize: e = floor(log(s)/log(1000)) in float64. Kept in floating point on purpose:
    // just below a power of 1000 the quotient rounds up (999_999_999_999_999 -> "1.0 PB").
    let e = ((s as f64).ln() / 1000f64.ln()).floor() as usize;
    let e = e.min(UNITS.len() - 1);
    let val = ((s as f64) / 1000f64.powi(e as i32) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {}", UNITS[e])
    } else {
        format!("{val:.0} {}", UNITS[e])
    }
}

#[cfg(test)]
mod tests {
    use super::bytes;

    // Expected strings are hand-calculated from go-humanize's formula (see module docs) and, for
    // 20480/24576/2097152/1505685504, quoted in ETCD-FORMAT.md from real etcdutl output.
    #[test]
    fn humanizes_like_go_humanize() {
        let cases: &[(u64, &str)] = &[
            (0, "0 B"),
            (9, "9 B"),
            (10, "10 B"),
            (999, "999 B"),
            (1000, "1.0 kB"),
            (1049, "1.0 kB"),
            (1050, "1.1 kB"), // 1.05*10+0.5 = 11.0 -> 1.1
            (9949, "9.9 kB"),
            (9950, "10 kB"), // 99.5+0.5 = 100 -> 10.0 -> "%.0f"
            (20480, "20 kB"),
            (24576, "25 kB"), // 24.576 -> 245.76+0.5 floor 246 -> 24.6 -> %.0f rounds to 25
            (20500, "20 kB"), // 20.5: %.0f rounds half to even -> 20
            (21500, "22 kB"), // 21.5 -> 22 (even)
            (999_949, "1000 kB"),
            (2_097_152, "2.1 MB"),
            (1_505_685_504, "1.5 GB"),
            (u64::MAX, "18 EB"),
            (999_999_999_999_999, "1.0 PB"), // the float quotient rounds up to 5.0
        ];
        for &(n, want) in cases {
            assert_eq!(bytes(n), want, "bytes({n})");
        }
    }
}
