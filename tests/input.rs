//! `input::expand` on archives made by real tools (fixtures/archives, made by
//! fixtures/make-archive-fixtures.sh), judged by what those tools said (answers.tsv).

use boltscope::input::{expand, Container, Expanded, InputError, NotDatabase, DEFAULT_MAX_EXPANDED};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

const DIR: &str = "fixtures/archives";

fn fixture(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

/// The answers.tsv row for `file` whose command starts with `cmd`: (exit code, output).
fn answer(file: &str, cmd: &str) -> (i32, String) {
    let tsv = std::fs::read_to_string(fixture("answers.tsv")).unwrap();
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] == file && f[1].starts_with(cmd) {
            return (f[2].parse().unwrap(), f.get(3).unwrap_or(&"").to_string());
        }
    }
    panic!("no answer for {file} / {cmd}");
}

fn contents(e: &mut Expanded) -> Vec<u8> {
    let mut v = Vec::new();
    e.file.read_to_end(&mut v).unwrap();
    v
}

fn sha256_hex(d: &[u8]) -> String {
    Sha256::digest(d).iter().map(|b| format!("{b:02x}")).collect()
}

fn err(name: &str) -> InputError {
    expand(&fixture(name), DEFAULT_MAX_EXPANDED).expect_err(name)
}

/// Each archive the real tool extracted, with the bytes it extracted.
#[test]
fn reads_what_the_real_tools_extract() {
    let cases = [
        ("on-demand-node-1-1700000000.zip", "unzip -p", Container::Zip),
        ("stored.zip", "unzip -p", Container::Zip),
        ("zip64.zip", "unzip -p", Container::Zip),
        ("tiny-1.snap.db.gz", "gzip -dc", Container::Gzip),
        ("tiny-1.snap.db.two-members.gz", "gzip -dc", Container::Gzip),
        ("tiny-1.snap.db.zero-padded.gz", "gzip -dc", Container::Gzip),
        ("tiny-1.snap.db.named.gz", "gzip -dc", Container::Gzip),
        ("tiny-1.snap.db.zst", "zstd -dc", Container::Zstd),
        ("tiny-1.snap.db.no-check.zst", "zstd -dc", Container::Zstd),
        ("two-frames.zst", "zstd -dc", Container::Zstd),
        // pzstd's output opens with a skippable frame: it was taken for a plain file.
        ("tiny-1.snap.db.pzstd.zst", "zstd -dc", Container::Zstd),
    ];
    assert_eq!(answer("tiny-1.snap.db.pzstd.zst", "od").1, " 50 2a 4d 18", "a skippable frame first");
    for (name, cmd, container) in cases {
        let (rc, sha) = answer(name, cmd);
        assert_eq!(rc, 0, "{name}: the real tool extracted it");
        let mut e = expand(&fixture(name), DEFAULT_MAX_EXPANDED).unwrap_or_else(|e| panic!("{name}: {e}"));
        let data = contents(&mut e);
        assert_eq!(sha256_hex(&data), sha, "{name}: same bytes as `{cmd}`");
        assert_eq!(e.container, container, "{name}");
        assert_eq!(e.expanded_size, data.len() as u64, "{name}");
        assert_eq!(e.compressed_size, std::fs::metadata(fixture(name)).unwrap().len(), "{name}");
        if container == Container::Zip {
            assert_eq!(e.entry_name.as_deref(), Some(answer(name, "unzip -Z1").1.as_str()), "{name}");
        } else {
            assert_eq!(e.entry_name, None);
        }
    }
}

#[test]
fn k3s_zip_entry_is_named_like_the_archive() {
    let e = expand(&fixture("on-demand-node-1-1700000000.zip"), DEFAULT_MAX_EXPANDED).unwrap();
    assert_eq!(e.entry_name.as_deref(), Some("on-demand-node-1-1700000000"));
    assert_eq!(e.expanded_size, std::fs::metadata("fixtures/tiny-1.snap.db").unwrap().len());
}

#[test]
fn plain_files_pass_through() {
    let mut e = expand(Path::new("fixtures/tiny-1.snap.db"), 1).unwrap();
    assert_eq!((e.container, e.entry_name.clone()), (Container::Plain, None));
    assert_eq!(sha256_hex(&contents(&mut e)), answer("../tiny-1.snap.db", "cat").1);
    assert_eq!(e.expanded_size, e.compressed_size);
}

#[test]
fn zip_with_other_than_one_entry() {
    let (rc, names) = answer("two-entries.zip", "unzip -Z1");
    assert_eq!(rc, 0);
    let e = err("two-entries.zip");
    match &e {
        InputError::ZipEntries { count, names: got, .. } => {
            assert_eq!(*count, 2);
            assert_eq!(got.join("|"), names, "same names, same order as unzip -Z1");
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("two-entries.zip") && msg.contains("\"tiny-1.member.db\"") && msg.contains("2 entries"),
        "{msg}"
    );

    assert_eq!(answer("empty.zip", "unzip -t").0, 1, "unzip refuses it too");
    assert!(matches!(err("empty.zip"), InputError::ZipEntries { count: 0, .. }));
}

/// Archives whose records contradict each other, judged by Go's archive/zip reading them as k3s
/// does before a restore (`k3s-unzip`) and by `unzip -t`.
#[test]
fn zips_whose_records_contradict_each_other() {
    // Two entries of one name: Go reads both (k3s writes both to one file, the last wins) and the
    // zip crate keys them by name as one; boltscope counts the directory and refuses the archive.
    let (rc, listing) = answer("dup-names.zip", "k3s-unzip");
    assert_eq!((rc, listing.split('|').next()), (0, Some("entries 2")));
    match err("dup-names.zip") {
        InputError::ZipEntries { count: 2, names, .. } => assert_eq!(names, ["tiny-1.snap.db", "tiny-1.snap.db"]),
        other => panic!("{other:?}"),
    }
    // An end record counting 1 of the directory's 2 entries, and a fake end record (counting 1) at
    // the end of a 1100-entry archive's comment: Go and unzip refuse both; the zip crate read the
    // first as one entry, and fell back from the second to the real record and parsed every entry.
    for (name, what) in [("count-short.zip", "records 1 entries"), ("fake-end.zip", "records 1 entries")] {
        assert_eq!(answer(name, "k3s-unzip").0, 1, "{name}: Go refuses it");
        assert_ne!(answer(name, "unzip -t").0, 0, "{name}: unzip refuses it");
        let e = err(name);
        assert!(
            matches!(&e, InputError::Corrupt { container: Container::Zip, what: w, .. } if w.contains(what)),
            "{name}: {e:?}"
        );
        assert!(e.to_string().contains("holds more (another entry starts at byte "), "{name}: where: {e}");
    }
    // `scan` peeks into a zip without expanding it: a directory that contradicts its end record is
    // an unreadable file there too; two entries of one name are peeked into (the first), so the
    // scan takes the archive and says why it cannot be read.
    for name in ["count-short.zip", "fake-end.zip"] {
        assert!(boltscope::input::peek(&fixture(name), 64).is_err(), "{name}");
    }
    let first = boltscope::input::peek(&fixture("dup-names.zip"), 64).unwrap().unwrap();
    assert_eq!(first, std::fs::read("fixtures/tiny-1.snap.db").unwrap()[..64]);
    // An entry declaring 20512 bytes that inflates to 1 MiB: Go stops reading it; boltscope stops
    // at the 20513th byte (it expanded up to the limit, then compared sizes).
    let (rc, msg) = answer("size-lie.zip", "k3s-unzip");
    assert_eq!(rc, 1, "{msg}");
    let e = err("size-lie.zip");
    assert!(
        matches!(&e, InputError::Corrupt { what, .. } if what.contains("declares 20512 bytes") && what.contains("20513")),
        "{e:?}"
    );
}

#[test]
fn truncated_zip() {
    let (rc, msg) = answer("truncated.zip", "unzip -t");
    assert_eq!(rc, 9, "{msg}");
    let e = err("truncated.zip");
    assert!(matches!(e, InputError::Truncated { container: Container::Zip, .. }), "{e:?}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[test]
fn zip_entries_boltscope_does_not_read() {
    assert_eq!(answer("bzip2-method.zip", "unzip -p").0, 0);
    let e = err("bzip2-method.zip");
    assert!(
        matches!(&e, InputError::ZipUnsupported { entry, what, .. } if entry == "tiny-1.snap.db" && what.contains("method 12 (bzip2)")),
        "{e}"
    );
    let e = err("encrypted.zip");
    assert!(matches!(&e, InputError::ZipUnsupported { what, .. } if what.contains("encrypted")), "{e}");
}

#[test]
fn gzip_trailer_crc() {
    let (rc, msg) = answer("tiny-1.snap.db.bad-crc.gz", "gzip -t");
    assert_eq!(rc, 1);
    assert!(msg.contains("crc error"), "{msg}");
    let e = err("tiny-1.snap.db.bad-crc.gz");
    // Named with the byte where the trailer lies (the file's last 8 bytes: one member).
    let trailer = std::fs::metadata(fixture("tiny-1.snap.db.bad-crc.gz")).unwrap().len() - 8;
    let at = format!("member 1 (from byte 0): the trailer's CRC-32 (at byte {trailer})");
    assert!(matches!(&e, InputError::Checksum { container: Container::Gzip, what, .. } if what.contains(&at)), "{e}");
}

/// A gzip member whose deflate data holds a block of the reserved type 3 at byte `bad`, after a
/// good stored part; the trailer is the data's own.
fn gzip_with_bad_block() -> (Vec<u8>, u64) {
    use flate2::{Compress, Compression, FlushCompress};
    let data = std::fs::read("fixtures/tiny-1.snap.db").unwrap();
    let mut c = Compress::new(Compression::best(), false);
    let mut body = Vec::with_capacity(data.len() + 1024);
    c.compress_vec(&data[..10_000], &mut body, FlushCompress::Full).unwrap();
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend_from_slice(&body);
    let bad = gz.len() as u64;
    // BFINAL 1, BTYPE 11: a block type deflate reserves.
    gz.push(0x07);
    gz.extend_from_slice(&[0u8; 64]);
    (gz, bad)
}

#[test]
fn compressed_errors_name_the_byte_where_they_are() {
    // They named the member only: an operator could not tell a damaged byte from a cut copy.
    let tmp = tempfile::tempdir().unwrap();
    let (gz, bad) = gzip_with_bad_block();
    let p = tmp.path().join("bad-block.gz");
    std::fs::write(&p, &gz).unwrap();
    let e = expand(&p, DEFAULT_MAX_EXPANDED).unwrap_err();
    let InputError::Corrupt { container: Container::Gzip, what, .. } = &e else { panic!("{e:?}") };
    let near: u64 = what.split("near byte ").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    assert!((bad..bad + 8).contains(&near), "the bad block is at byte {bad}: {e}");
    assert!(what.contains("its deflate data starts at byte 10"), "{e}");
    // A copy cut short in the deflate data: where its data starts and where the file ends.
    let whole = std::fs::read(fixture("tiny-1.snap.db.gz")).unwrap();
    let p = tmp.path().join("cut.gz");
    std::fs::write(&p, &whole[..500]).unwrap();
    let e = expand(&p, DEFAULT_MAX_EXPANDED).unwrap_err();
    assert!(
        matches!(&e, InputError::Truncated { what, .. } if what.contains("member 1, which starts at byte") && what.contains("the file ends at byte 500")),
        "{e}"
    );
    // Bytes after the last member: where they start.
    let e = err("tiny-1.snap.db.trailing-garbage.gz");
    assert!(e.to_string().contains(&format!("after member 1, at byte {}", whole.len())), "{e}");
    // A zstd frame cut short: where the file ends.
    let zst = std::fs::read(fixture("tiny-1.snap.db.zst")).unwrap();
    let p = tmp.path().join("cut.zst");
    std::fs::write(&p, &zst[..zst.len() / 2]).unwrap();
    let e = expand(&p, DEFAULT_MAX_EXPANDED).unwrap_err();
    let end = format!("the file ends at byte {}", zst.len() / 2);
    assert!(matches!(&e, InputError::Truncated { container: Container::Zstd, what, .. } if what.contains(&end)), "{e}");
}

#[test]
fn gzip_trailing_garbage_is_refused() {
    let (rc, msg) = answer("tiny-1.snap.db.trailing-garbage.gz", "gzip -t");
    assert_eq!(rc, 2, "gzip only warns: {msg}");
    let e = err("tiny-1.snap.db.trailing-garbage.gz");
    assert!(
        matches!(&e, InputError::Corrupt { container: Container::Gzip, what, .. } if what.contains("after member 1")),
        "{e}"
    );
}

#[test]
fn zstd_window_past_128_mib() {
    let (rc, msg) = answer("long-window.zst", "zstd -t");
    assert_eq!(rc, 1, "zstd refuses it without --long too: {msg}");
    assert!(msg.contains("134217728"), "{msg}");
    let e = err("long-window.zst");
    assert!(
        matches!(&e, InputError::Corrupt { container: Container::Zstd, what, .. } if what.contains("--long=31")),
        "{e}"
    );
}

#[test]
fn not_databases_are_named() {
    for (name, kind) in [
        ("tiny-1.snap.db.xz", NotDatabase::Xz),
        ("tiny-1.snap.db.bz2", NotDatabase::Bzip2),
        ("tiny-1.snap.db.lz4", NotDatabase::Lz4),
        ("tiny-1.snap.db.tar", NotDatabase::Tar),
    ] {
        match err(name) {
            InputError::NotDatabase { kind: k, inside: None, .. } => assert_eq!(k, kind, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    let e = err("tiny-1.snap.db.tar.gz");
    assert!(
        matches!(e, InputError::NotDatabase { kind: NotDatabase::Tar, inside: Some(Container::Gzip), .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("gzip container holds a tar archive"), "{e}");
    let e = err("nested.zip.gz");
    assert!(matches!(e, InputError::Nested { outer: Container::Gzip, inner: Container::Zip, .. }), "{e:?}");
}

#[test]
fn real_etcd_wal_is_named() {
    let e = err("../k3s/etcd-wal-head.bin");
    assert!(matches!(e, InputError::NotDatabase { kind: NotDatabase::EtcdWal, inside: None, .. }), "{e:?}");
    assert!(e.to_string().contains("member/snap/db"), "{e}");
}

/// The expansion limit: exactly the database's size passes, one byte less is a zip bomb.
#[test]
fn expansion_limit() {
    let size = std::fs::metadata("fixtures/tiny-1.snap.db").unwrap().len();
    for (name, c) in [
        ("on-demand-node-1-1700000000.zip", Container::Zip),
        ("stored.zip", Container::Zip),
        ("tiny-1.snap.db.gz", Container::Gzip),
        ("tiny-1.snap.db.zst", Container::Zstd),
    ] {
        assert_eq!(expand(&fixture(name), size).unwrap().expanded_size, size, "{name}");
        match expand(&fixture(name), size - 1) {
            Err(InputError::TooLarge { container, limit, .. }) => assert_eq!((container, limit), (c, size - 1)),
            other => panic!("{name}: {other:?}"),
        }
        assert!(matches!(expand(&fixture(name), 0), Err(InputError::TooLarge { .. })), "{name}");
    }
    // Two members: the limit counts both.
    assert!(matches!(
        expand(&fixture("tiny-1.snap.db.two-members.gz"), 2 * size - 1),
        Err(InputError::TooLarge { .. })
    ));
    assert!(expand(&fixture("tiny-1.snap.db.two-members.gz"), 2 * size).is_ok());
}

#[test]
fn an_archive_that_holds_nothing_is_not_called_an_empty_file() {
    // A 20-odd-byte gzip of nothing: the database it holds is 0 bytes; the file is not.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("empty.db.gz");
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()).finish().unwrap();
    assert!(gz.len() > 10);
    std::fs::write(&p, gz).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_boltscope"))
        .args(["--no-index", "check"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds 0 bytes, too small to be a bbolt database") && !err.contains("file is 0"), "{err}");
}

/// A gzip bomb expanded into a small `$TMPDIR` (a 64 MiB tmpfs mounted here, so root only: run by
/// `.ci/run` with the interop tests) stops before the file system is full: exit 2, a message that
/// says why, and the file system keeps its reserve (a twentieth of it). Before, it filled it.
#[test]
#[ignore = "mounts a tmpfs (root): run by .ci/run with the interop tests"]
fn expansion_stops_before_a_small_tmpdir_is_full() {
    use std::io::Write;
    let required = std::env::var_os("BOLTSCOPE_INTEROP_REQUIRED").is_some();
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(!required, "cannot mount a tmpfs (not root?)");
        eprintln!("skipped: cannot mount a tmpfs");
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mnt);
    // 256 MiB of ones in a gzip of a few hundred KB, kept outside the small file system (zeros
    // would be left a hole, taking no room: runs_of_zeros_are_expanded_as_holes).
    let bomb = tmp.path().join("bomb.db.gz");
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::fast());
    let ones = vec![1u8; 1 << 20];
    for _ in 0..256 {
        gz.write_all(&ones).unwrap();
    }
    gz.finish().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_boltscope"))
        .args(["--no-index", "status"])
        .arg(&bomb)
        .env("TMPDIR", &mnt)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("kept free for the rest of the system") && err.contains("TMPDIR"), "{err}");
    let df = std::process::Command::new("df").args(["-B1", "--output=avail"]).arg(&mnt).output().unwrap();
    let avail: u64 = String::from_utf8_lossy(&df.stdout).lines().nth(1).unwrap().trim().parse().unwrap();
    assert!(avail >= (64 << 20) / 20, "the reserve is kept: {avail} bytes free of 64 MiB");
    // Eight bombs expanded side by side by `scan` on eight threads share one budget: each stops
    // on the reserve, none on a full file system.
    let bombs = tmp.path().join("bombs");
    std::fs::create_dir(&bombs).unwrap();
    for i in 0..8 {
        std::fs::copy(&bomb, bombs.join(format!("b{i}.db.gz"))).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_boltscope"))
        .args(["--no-index", "scan"])
        .arg(&bombs)
        .env("TMPDIR", &mnt)
        .env("RAYON_NUM_THREADS", "8")
        .output()
        .unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(all.matches("kept free for the rest of the system").count(), 8, "{all}");
    assert!(!all.contains("No space left"), "{all}");
    // A file system that reports no size (ramfs) tells nothing: expansion goes on as before.
    let ramfs = tmp.path().join("ramfs");
    std::fs::create_dir(&ramfs).unwrap();
    assert!(std::process::Command::new("mount").args(["-t", "ramfs", "ramfs"]).arg(&ramfs).status().unwrap().success());
    let _unmount_ramfs = Unmount(&ramfs);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_boltscope"))
        .args(["--no-index", "status", "fixtures/archives/tiny-1.snap.db.gz"])
        .env("TMPDIR", &ramfs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A `$TMPDIR` where no file can be created is named as such, not as one without room.
#[test]
fn a_tmpdir_where_no_file_can_be_created_is_told_so() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_boltscope"))
        .args(["--no-index", "check"])
        .arg(fixture("tiny-1.snap.db.gz"))
        .env("TMPDIR", "/nonexistent/boltscope-tmp")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("set TMPDIR to a directory where files can be created") && !err.contains("room"), "{err}");
}

/// Runs of zeros are left holes in the expanded copy: a member file's slack (or a bomb of zeros)
/// takes no room in `$TMPDIR`, and the check of the slack passes over it unread. The copy reads
/// the same, to its last byte.
#[test]
fn runs_of_zeros_are_expanded_as_holes() {
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let db = std::fs::read("fixtures/tiny-1.member.db").unwrap();
    let zeros = 64usize << 20;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&db).unwrap();
    for _ in 0..zeros >> 20 {
        gz.write_all(&[0u8; 1 << 20]).unwrap();
    }
    let p = tmp.path().join("slack.db.gz");
    std::fs::write(&p, gz.finish().unwrap()).unwrap();
    let mut e = expand(&p, DEFAULT_MAX_EXPANDED).unwrap();
    assert_eq!(e.expanded_size, (db.len() + zeros) as u64);
    let m = e.file.metadata().unwrap();
    assert_eq!(m.len(), e.expanded_size, "the length counts the hole at the end");
    assert!(m.blocks() * 512 < 4 << 20, "{} bytes allocated for {} of zeros", m.blocks() * 512, zeros);
    let back = contents(&mut e);
    assert_eq!((&back[..db.len()], back[db.len()..].iter().all(|&b| b == 0)), (&db[..], true));
}

/// The end record is looked for in the last 65 KiB, as Go's archive/zip looks: an archive followed
/// by 65540 bytes (more than a comment can be) was "truncated" here and read by Go.
#[test]
fn an_end_record_is_found_behind_up_to_65_kib_of_other_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = std::fs::read(fixture("on-demand-node-1-1700000000.zip")).unwrap();
    d.extend(std::iter::repeat(0u8).take(65540));
    let p = tmp.path().join("followed.zip");
    std::fs::write(&p, &d).unwrap();
    let e = expand(&p, DEFAULT_MAX_EXPANDED).unwrap();
    assert_eq!(e.expanded_size, std::fs::metadata("fixtures/tiny-1.snap.db").unwrap().len());
}
