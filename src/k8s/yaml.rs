//! YAML rendering of decoded values (for `-o yaml`), by `serde_norway`.
//!
//! Why that crate: `serde_yaml` is archived and deprecated (0.9.34+deprecated, March 2024);
//! `serde_yml` is deprecated too, carries RustSec advisories (RUSTSEC-2025-0067/0068) and now
//! forwards to another crate; `serde_yaml_ng` last released in May 2024; `serde_norway` is the
//! fork with the most recent releases (0.9.36 to 0.9.42, June to December 2024), its own
//! maintained libyaml port, packaging in Debian and Fedora, and the widest uptake among projects
//! leaving `serde_yaml`. It keeps `serde_yaml`'s API and output.

use serde_json::Value;

/// `v` as a YAML document (block style, strings quoted where YAML would read them as something
/// else, e.g. `'true'`, `'1'`, `''`). `Err` carries the emitter's message (not expected for
/// JSON values).
pub fn to_string(v: &Value) -> Result<String, String> {
    serde_norway::to_string(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_block_yaml_that_reads_back_the_same() {
        let v = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"a": "true", "b": "1", "c": "", "d": "null", "e": "yes"}},
            "data": {"multi": "line one\nline two\n", "colon": "a: b", "unicode": "\u{e9}t\u{e9}"},
            "n": [1, -2, 3.5, null, true]
        });
        let y = to_string(&v).unwrap();
        assert!(y.starts_with("apiVersion: v1\n"), "{y}");
        assert!(y.contains("  name: x\n"), "{y}");
        let back: Value = serde_norway::from_str(&y).unwrap();
        assert_eq!(back, v, "{y}");
    }
}
