//! `scan -w json`: one object per file per line, in the shape every command's JSON has (`path`,
//! `ok`; `error {kind, message}` for a file that could not be read), then a summary line, with the
//! same verdicts and exit code as the table. Each file's `ok` is the one `check -w json` gives it.

mod common;
use serde_json::Value;
use std::path::Path;

fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out).lines().map(|l| serde_json::from_str(l).expect(l)).collect()
}

fn check_ok(f: &Path) -> bool {
    let o = common::run(["--no-index", "check", "-w", "json", f.to_str().unwrap()]);
    lines(&o.stdout)[0]["ok"].as_bool().expect("check's ok")
}

#[test]
fn every_file_is_a_json_line_with_check_s_verdict_then_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("tiny.snap.db"), common::bytes("tiny-1.snap.db")).unwrap();
    std::fs::write(d.join("k8s.snap.db"), common::bytes("k8s-0.005.snap.db")).unwrap();
    std::fs::write(d.join("sub/empty.db"), b"").unwrap();
    let mut bad = common::bytes("tiny-1.snap.db");
    let n = bad.len();
    bad[n - 40] ^= 1; // under the trailer
    std::fs::write(d.join("sub/bad.snap.db"), &bad).unwrap();
    std::fs::write(d.join("notes.txt"), b"not a backup").unwrap();

    let dir = d.to_str().unwrap();
    let json = common::run(["--no-index", "scan", "-w", "json", dir]);
    let table = common::run(["--no-index", "scan", dir]);
    assert_eq!(json.status.code(), Some(2), "an unreadable file: {}", String::from_utf8_lossy(&json.stderr));
    assert_eq!(json.status.code(), table.status.code(), "one exit code whatever the format");

    let got = lines(&json.stdout);
    let (files, summary) = got.split_at(got.len() - 1);
    assert_eq!(files.len(), 4, "{got:?}");
    for f in files {
        let path = Path::new(f["path"].as_str().unwrap());
        let name = path.file_name().unwrap().to_str().unwrap();
        if name == "empty.db" {
            assert_eq!(f["ok"], false);
            assert_eq!(f["error"]["kind"], "too_small", "{f}");
            assert!(f["error"]["message"].as_str().unwrap().contains("0 bytes"), "{f}");
            continue;
        }
        assert_eq!(f["ok"].as_bool().unwrap(), check_ok(path), "{name}: scan and check agree");
        assert_eq!(f["ok"].as_bool().unwrap(), name != "bad.snap.db", "{f}");
        assert!(f["revision"].as_u64().is_some(), "{f}");
        // The database's size (a snapshot's sha256 trailer not counted), as inspect gives it.
        let inspect = common::run(["--no-index", "inspect", "-w", "json", path.to_str().unwrap()]);
        assert_eq!(f["size"], lines(&inspect.stdout)[0]["size"]["total"], "{f}");
        // The table's line says the same verdict.
        let row = String::from_utf8_lossy(&table.stdout)
            .lines()
            .find(|l| l.starts_with(&format!("{} ", path.display())))
            .map(str::to_string)
            .unwrap();
        assert!(row.ends_with(f["verdict"].as_str().unwrap()), "{row} / {f}");
    }
    let s = &summary[0]["summary"];
    assert_eq!(s["bbolt"], 3, "{s}");
    assert_eq!(s["unreadable"], 1, "{s}");
    assert_eq!(s["with_problems"], 1, "{s}");
    assert_eq!(s["skipped"], 1, "{s}");
    assert_eq!(s["recorded"], false, "{s}");
}

#[test]
fn the_summary_never_wraps_around_a_huge_high_water_mark() {
    // Both meta pages of a copy say 2^64-1 pages (checksums made good): its size saturates, and
    // the summary's bytes summed it with a plain add, which wrapped around to the clean file's
    // 20 kB (review 45a; a build with overflow checks would have panicked).
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let clean = common::bytes("tiny-1.member.db");
    let mut huge = clean.clone();
    let ps = u32::from_le_bytes(clean[24..28].try_into().unwrap()) as usize;
    for m in [0, ps] {
        huge[m + 56..m + 64].copy_from_slice(&u64::MAX.to_le_bytes());
        let sum = boltscope::bbolt::meta::fnv1a64(&huge[m + 16..m + 72]);
        huge[m + 72..m + 80].copy_from_slice(&sum.to_le_bytes());
    }
    std::fs::write(d.join("clean.db"), &clean).unwrap();
    std::fs::write(d.join("huge.db"), &huge).unwrap();
    let out = common::run(["--no-index", "scan", "-w", "json", d.to_str().unwrap()]);
    let got = lines(&out.stdout);
    let (files, summary) = got.split_at(got.len() - 1);
    assert_eq!(files.len(), 2, "{got:?}");
    let sizes: Vec<u64> = files.iter().filter_map(|f| f["size"].as_u64()).collect();
    let bytes = summary[0]["summary"]["bytes"].as_u64().unwrap();
    assert!(sizes.iter().all(|&s| bytes >= s), "the sum is at least each file's size: {bytes} vs {sizes:?}");
}

#[test]
fn a_zip_of_several_holding_a_snapshot_is_listed_unreadable_not_passed_over() {
    // `zip bundle.zip snap.db README` in a backup folder: every reader refuses it (boltscope reads
    // a zip of one database), and scan and trend passed it over, exit 0 (review 46b). Its first
    // entry says bbolt: it is listed as unreadable, with the reason, exit 2.
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::copy(common::dir().join("archives/two-entries.zip"), d.join("bundle.zip")).unwrap();
    std::fs::write(d.join("tiny.snap.db"), common::bytes("tiny-1.snap.db")).unwrap();
    let dir = d.to_str().unwrap();
    for cmd in ["scan", "trend"] {
        let out = common::run(["--no-index", cmd, "-w", "json", dir]);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().find(|l| l.contains("bundle.zip")).unwrap_or_else(|| panic!("{cmd}: {text}"));
        assert!(line.contains("2 entries"), "{cmd}: {line}");
    }
}
