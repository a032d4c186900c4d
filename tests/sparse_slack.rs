//! A member file's grow-ahead slack (the room past the high-water mark bbolt adds with
//! `ftruncate`) is sparse on most file systems. `status`, `check` and `inspect` must know it holds
//! only zeros (else a transaction wrote there before it committed: the warning
//! `uncommitted_pages`); they read only what the file
//! system reports as data, not the holes (a gigabyte of slack read through the map took `status`
//! 3.5 s and filled the page cache with zero pages).

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

/// The k8s member fixture followed by `slack` bytes of sparse room.
fn with_slack(dir: &Path, name: &str, slack: u64) -> (std::path::PathBuf, u64) {
    let p = dir.join(name);
    std::fs::write(&p, common::bytes("k8s-0.005.member.db")).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len + slack).unwrap();
    (p, len)
}

fn verdicts(p: &Path) -> Vec<(Option<i32>, bool)> {
    ["status", "check", "inspect"]
        .iter()
        .map(|cmd| {
            let out = common::boltscope().args(["--no-index", cmd]).arg(p).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            (out.status.code(), text.contains("uncommitted_pages"))
        })
        .collect()
}

#[test]
fn sparse_slack_is_zeros_and_data_in_it_is_still_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (sparse, _) = with_slack(tmp.path(), "sparse.db", 64 << 20);
    assert_eq!(verdicts(&sparse), vec![(Some(0), false); 3]);
    // The holes were not read: the page cache holds the file's pages, not 64 MiB of zero pages
    // (util-linux's fincore counts them).
    let res =
        std::process::Command::new("fincore").args(["--bytes", "--noheadings", "-o", "RES"]).arg(&sparse).output();
    let res = res.expect("fincore (util-linux) runs");
    let resident: u64 = String::from_utf8_lossy(&res.stdout).trim().parse().expect("a byte count");
    assert!(resident < 8 << 20, "{resident} bytes of the file in the page cache: the holes were read");
    // One byte written deep in the slack makes a data extent among the holes.
    let (dirty, len) = with_slack(tmp.path(), "dirty.db", 64 << 20);
    let mut f = std::fs::OpenOptions::new().write(true).open(&dirty).unwrap();
    f.seek(SeekFrom::Start(len + (40 << 20) + 123)).unwrap();
    f.write_all(&[0x5a]).unwrap();
    drop(f);
    // (`status` prints no warning; `check` and `inspect` name it. Bytes that are not whole pages
    // are `trailing_bytes`, an error: tests/keys_file_issues.rs.)
    assert_eq!(verdicts(&dirty), vec![(Some(0), false), (Some(0), true), (Some(0), true)]);
    // Zeros written out (no holes) are slack too.
    let (written, len) = with_slack(tmp.path(), "written.db", 0);
    let mut f = std::fs::OpenOptions::new().append(true).open(&written).unwrap();
    f.write_all(&vec![0u8; 8 << 20]).unwrap();
    assert_eq!(std::fs::metadata(&written).unwrap().len(), len + (8 << 20));
    assert_eq!(verdicts(&written), vec![(Some(0), false); 3]);
}

#[test]
fn the_holes_of_a_mapped_input_are_known_and_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (p, len) = with_slack(tmp.path(), "sparse.db", 64 << 20);
    let mut f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.seek(SeekFrom::Start(len + (8 << 20))).unwrap();
    f.write_all(&[1; 4096]).unwrap();
    drop(f);
    let map = boltscope::input::open(&p).unwrap();
    let tail = &map.bytes()[len as usize..];
    // Linux's file systems report holes (SEEK_DATA; tmpfs too).
    let spans = boltscope::sys::data_spans(tail).expect("the file system tells where the holes are");
    // Only the written block (as the file system rounds it) is data.
    let data: usize = spans.iter().map(|r| r.len()).sum();
    assert!((4096..=1 << 20).contains(&data), "{spans:?}");
    assert!(spans.iter().any(|r| r.contains(&(8 << 20))), "{spans:?}");
    // A slice that is not an input's map is unknown: the caller reads it all.
    let copy = tail[..4096].to_vec();
    assert_eq!(boltscope::sys::data_spans(&copy), None);
}
