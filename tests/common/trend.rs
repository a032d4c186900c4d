//! What the `trend` tests share: running the command, and finding a series in its JSON.

use serde_json::Value;
use std::path::Path;

/// `boltscope trend ARGS PATHS`: exit code, stdout, stderr.
pub fn trend(args: &[&str], paths: &[&Path]) -> (i32, String, String) {
    let mut c = super::boltscope();
    c.arg("trend").args(args).args(paths);
    let out = c.output().unwrap();
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap(), s(&out.stdout), s(&out.stderr))
}

/// The series named `name` in `trend -w json`'s output.
pub fn series<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no series {name}: {v}"))
}
