//! Values of boltscope's own options (etcdctl's are read by `goflag`): sizes with units, 32-bit
//! hashes in hex, fractions. Each refuses what it cannot read with a message that says what it
//! takes.

/// Parses a 32-bit hash written in hex (`feb15e67`, `0xfeb15e67`).
pub fn parse_hex32(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|_| format!("not a 32-bit hex hash: {s:?}"))
}

/// Parses `123`, `8GiB`, `2GB`, `512MiB`, `100kB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" | "t" => 1_000_000_000_000,
        "tib" => 1 << 40,
        u => return Err(format!("unknown size unit {u:?} (use B, kB, KiB, MB, MiB, GB, GiB, TB, TiB)")),
    };
    let too_large = || format!("size too large: {s:?} (at most 18446744073709551615 bytes)");
    // Whole numbers exactly (a float would round a large one).
    if !num.contains('.') && !num.is_empty() {
        let n: u64 = num.parse().map_err(|_| too_large())?;
        return match n.checked_mul(mult) {
            Some(0) => Err(format!("size must be positive: {s:?}")),
            Some(b) => Ok(b),
            None => Err(too_large()),
        };
    }
    let n: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("size must be positive: {s:?}"));
    }
    // A fraction of a byte rounds to 0, which is refused like 0 (a quota of 0 passed every gate);
    // past 2^64 the cast would saturate silently.
    match (n * mult as f64).round() {
        b if b >= 18_446_744_073_709_551_616.0 => Err(too_large()),
        b if b < 1.0 => Err(format!("size must be at least one byte: {s:?}")),
        b => Ok(b as u64),
    }
}

/// Parses a fraction from 0.0 to 1.0 (`0.5`), refusing anything outside.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("must be a fraction from 0.0 to 1.0 (0.5 for half), not {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_decimal_and_binary_units() {
        assert!(parse_size("0.4").is_err() && parse_size("0.4B").is_err(), "rounds to no byte");
        assert_eq!(parse_size("0.5"), Ok(1));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("2GB"), Ok(2_000_000_000));
        assert_eq!(parse_size(" 512 MiB "), Ok(512 << 20));
        assert_eq!(parse_size("1.5kB"), Ok(1500));
        assert!(parse_size("8XB").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("0").unwrap_err().contains("positive"));
        // Past 2^64 bytes: refused, not saturated; whole numbers stay exact.
        for big in ["99999999999999999999", "18446744073709551616", "17TiB000", "2e19", "20000000000TB"] {
            assert!(parse_size(big).is_err(), "{big}");
        }
        assert_eq!(parse_size("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_size("16777216TiB").unwrap_err().contains("too large"));
        assert!(parse_size("GiB").is_err());
    }

    #[test]
    fn hashes_and_fractions() {
        assert_eq!(parse_hex32("feb15e67"), Ok(0xfeb1_5e67));
        assert_eq!(parse_hex32("0xfeb15e67"), Ok(0xfeb1_5e67));
        assert!(parse_hex32("1ffffffff").is_err(), "past 32 bits");
        assert_eq!(parse_fraction("0.5"), Ok(0.5));
        assert_eq!(parse_fraction("1"), Ok(1.0));
        assert!(parse_fraction("1.01").is_err() && parse_fraction("-0").is_ok() && parse_fraction("x").is_err());
    }
}
