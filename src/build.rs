//! Build script: names the git commit in `--version` when built from a checkout
//! (`0.1.0 (git 1a2b3c4)`, with `-dirty` for uncommitted changes); a build from a source archive
//! says the version alone.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    if let Some(commit) = git(&["rev-parse", "--short=10", "HEAD"]) {
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        let suffix = if dirty { "-dirty" } else { "" };
        println!("cargo:rustc-env=BOLTSCOPE_VERSION={version} (git {commit}{suffix})");
        if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            println!("cargo:rerun-if-changed={dir}/index");
        }
    } else {
        println!("cargo:rustc-env=BOLTSCOPE_VERSION={version}");
    }
    println!("cargo:rerun-if-changed=src/build.rs");
}
