//! The index database: hits and misses, what the identity covers, concurrent processes, corrupt,
//! newer-schema and unwritable indexes, `scan` and `history`, global options anywhere.

mod common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

fn run(index: &Path, args: &[&str], files: &[&Path]) -> Output {
    common::boltscope().arg("--index").arg(index).args(args).args(files).output().unwrap()
}

fn copy(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    let p = tmp.path().join(name);
    std::fs::write(&p, common::bytes(name)).unwrap();
    p
}

fn mtime(p: &Path) -> SystemTime {
    std::fs::metadata(p).unwrap().modified().unwrap()
}

/// Rewrites bytes in place, then puts the modification time back.
fn edit_keeping_mtime(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let t = mtime(p);
    let mut d = std::fs::read(p).unwrap();
    f(&mut d);
    std::fs::write(p, &d).unwrap();
    std::fs::File::options().write(true).open(p).unwrap().set_modified(t).unwrap();
    assert_eq!(mtime(p), t);
}

/// Breaks the first leaf of the key bucket (page type) without touching the meta pages.
fn damage_data_page(d: &mut [u8]) {
    d[65 * 4096 + 8] = 0x20;
}

/// A new transaction: the inactive meta page gets txid + 2 (and a correct checksum), so it
/// becomes the active one, as a commit would make it.
fn new_transaction(d: &mut [u8]) {
    let txid = |d: &[u8], p: usize| u64::from_le_bytes(d[p * 4096 + 64..p * 4096 + 72].try_into().unwrap());
    let (hi, lo) = if txid(d, 1) > txid(d, 0) { (1, 0) } else { (0, 1) };
    let next = txid(d, hi) + 1;
    let m = lo * 4096;
    d[m + 64..m + 72].copy_from_slice(&next.to_le_bytes());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in &d[m + 16..m + 72] {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    d[m + 72..m + 80].copy_from_slice(&h.to_le_bytes());
}

#[test]
fn second_ask_is_answered_from_the_index_until_the_file_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let f = copy(&tmp, "k8s-0.005.member.db");
    let want = common::answer("k8s-0.005.member.db", "status.simple").unwrap();
    let first = run(&ix, &["status"], &[&f]);
    assert_eq!(String::from_utf8_lossy(&first.stdout), want);
    // Asked again, the answer comes from the index: nothing is read or recorded, the index file
    // is left as it was.
    let before = std::fs::read(&ix).unwrap();
    let hit = run(&ix, &["status"], &[&f]);
    assert_eq!((hit.status.code(), String::from_utf8_lossy(&hit.stdout).to_string()), (Some(0), want.clone()));
    assert!(std::fs::read(&ix).unwrap() == before, "served from the index");
    // Damage a data page in place, keeping size, meta pages and mtime: the inode's change time,
    // which no one can set back, makes it another file; it is read again and the damage found.
    edit_keeping_mtime(&f, |d| damage_data_page(d));
    assert_eq!(run(&ix, &["status"], &[&f]).status.code(), Some(1));
    // --refresh and check re-read the pages too.
    assert_eq!(run(&ix, &["status", "--refresh"], &[&f]).status.code(), Some(1));
    assert_eq!(run(&ix, &["check"], &[&f]).status.code(), Some(1));
    // inspect also remembers, per option set.
    let ins = run(&ix, &["inspect", "-w", "json"], &[&copy(&tmp, "tiny-1.snap.db")]);
    assert!(ins.status.success());
}

#[test]
fn a_new_transaction_with_the_same_size_and_mtime_is_a_changed_file() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let f = copy(&tmp, "k8s-0.005.member.db");
    let size = std::fs::metadata(&f).unwrap().len();
    assert!(run(&ix, &["status"], &[&f]).status.success());
    edit_keeping_mtime(&f, |d| {
        damage_data_page(d);
        new_transaction(d);
    });
    assert_eq!(std::fs::metadata(&f).unwrap().len(), size);
    let out = run(&ix, &["status"], &[&f]);
    assert_eq!(out.status.code(), Some(1), "re-read, damage found: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn global_options_before_or_after_the_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "tiny-1.snap.db");
    let ix = tmp.path().join("after.redb");
    let bin = env!("CARGO_BIN_EXE_boltscope");
    assert!(Command::new(bin).arg("status").arg(&f).arg("--index").arg(&ix).output().unwrap().status.success());
    assert!(ix.exists());
    let none = tmp.path().join("none.redb");
    let out = Command::new(bin).args(["--no-index", "status"]).arg(&f).env("BOLTSCOPE_INDEX", &none).output().unwrap();
    assert!(out.status.success());
    assert!(!none.exists(), "--no-index records nothing");
    let env = tmp.path().join("env.redb");
    assert!(Command::new(bin).arg("status").arg(&f).env("BOLTSCOPE_INDEX", &env).output().unwrap().status.success());
    assert!(env.exists(), "BOLTSCOPE_INDEX chooses the index");
    let xdg = tmp.path().join("xdg");
    let out = Command::new(bin)
        .arg("status")
        .arg(&f)
        .env_remove("BOLTSCOPE_INDEX")
        .env("XDG_CACHE_HOME", &xdg)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(xdg.join("boltscope/index.redb").exists(), "default under $XDG_CACHE_HOME");
}

#[test]
fn concurrent_processes_both_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let names = ["k8s-0.005.member.db", "churn-0.005.member.db", "tiny-1.snap.db", "auth-1.snap.db"];
    let files: Vec<PathBuf> = names.iter().map(|n| copy(&tmp, n)).collect();
    let kids: Vec<_> = files
        .iter()
        .map(|f| common::boltscope().arg("--index").arg(&ix).args(["inspect", "-w", "json"]).arg(f).output())
        .collect();
    // Spawned one after the other above; now run them truly at once.
    drop(kids);
    let handles: Vec<_> = files
        .iter()
        .map(|f| {
            common::boltscope()
                .arg("--index")
                .arg(&ix)
                .args(["status", "--refresh"])
                .arg(f)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (h, name) in handles.into_iter().zip(names) {
        let out = h.wait_with_output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), common::answer(name, "status.simple").unwrap(), "{name}");
    }
}

#[test]
fn a_broken_index_costs_one_warning_and_the_answer_still_comes() {
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "tiny-1.snap.db");
    let want = common::answer("tiny-1.snap.db", "status.simple").unwrap();
    // Corrupt file.
    let bad = tmp.path().join("bad.redb");
    std::fs::write(&bad, vec![0x5a; 20000]).unwrap();
    // Unwritable location (a folder cannot be created under /proc, even as root).
    let unwritable = PathBuf::from("/proc/boltscope-index/index.redb");
    // A newer schema.
    let newer = tmp.path().join("newer.redb");
    {
        let db = redb::Database::create(&newer).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap().insert("schema", 999).unwrap();
        tx.commit().unwrap();
    }
    for ix in [&bad, &unwritable, &newer] {
        let out = run(ix, &["status"], &[&f]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {err}", ix.display());
        assert_eq!(String::from_utf8_lossy(&out.stdout), want);
        assert_eq!(err.lines().count(), 1, "{}: one warning: {err}", ix.display());
        assert!(err.contains("warning"), "{err}");
    }
    assert!(String::from_utf8_lossy(&run(&newer, &["status"], &[&f]).stderr).contains("newer"));
}

#[test]
fn an_index_kept_in_the_folder_scanned_is_no_backup() {
    // `--index backups/index.db`: scan listed its own index as a backup it could not read (exit 2),
    // and trend as one giving no point.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("backups");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.db"), common::bytes("tiny-1.snap.db")).unwrap();
    let ix = dir.join("index.db");
    for _ in 0..2 {
        let out = run(&ix, &["scan"], &[&dir]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(!text.contains("index.db"), "{text}");
        assert!(text.contains("1 bbolt") && text.contains("0 unreadable"), "{text}");
    }
    let out = run(&ix, &["trend", "-w", "json"], &[&dir]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("index.db"), "{}", String::from_utf8_lossy(&out.stdout));
    // Another index's file in the folder is no backup of this run's either, but it is a file:
    // it is read as one (and found to be no bbolt database).
    let other = tmp.path().join("other.redb");
    let out = run(&other, &["scan"], &[&dir]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("index.db  unreadable"));
}

#[test]
fn scan_fills_the_index_and_history_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ix = tmp.path().join("ix.redb");
    let dir = tmp.path().join("backups");
    std::fs::create_dir_all(dir.join("older")).unwrap();
    for (n, at) in [("tiny-1.snap.db", "a.db"), ("k8s-0.005.snap.db", "older/b.db"), ("bolt-4k-synced.db", "c.bolt")] {
        std::fs::write(dir.join(at), common::bytes(n)).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), b"not a database").unwrap();
    std::fs::write(dir.join("older/empty.db"), b"").unwrap();
    std::fs::write(dir.join("older/zeros.db"), vec![0u8; 70000]).unwrap();
    let out = run(&ix, &["scan"], &[&dir]);
    let text = String::from_utf8_lossy(&out.stdout);
    // An empty or zeroed `.db` is a backup that cannot be restored: listed, exit 2.
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("scanned 6 files: 3 bbolt"), "{text}");
    assert!(text.contains("2 unreadable, 1 skipped"), "{text}");
    assert!(text.contains("empty.db  unreadable: holds 0 bytes"), "{text}");
    assert!(text.contains("zeros.db  unreadable: not a bbolt database"), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains(" ok")).count(), 3, "{text}");
    let hist = run(&ix, &["history", "-w", "json"], &[]);
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&hist.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // The three databases, and the two files taken that cannot be read, recorded as such.
    assert_eq!(rows.len(), 5, "{rows:?}");
    for r in &rows {
        assert_eq!(r["command"], "scan", "scan reads through inspect's code, and records as scan: {r}");
        let unreadable = r["verdict"].as_str().unwrap().starts_with("unreadable: ");
        let path = r["path"].as_str().unwrap();
        assert_eq!(unreadable, path.ends_with("empty.db") || path.ends_with("zeros.db"), "{r}");
    }
    let b = rows.iter().find(|r| r["path"].as_str().unwrap().ends_with("older/b.db")).unwrap();
    // What etcdctl reported for k8s: revision 111; real bbolt: 389120 bytes.
    assert_eq!((b["revision"].as_u64(), b["total_size"].as_u64()), (Some(111), Some(389120)));
    let one = run(&ix, &["history"], &[&dir.join("a.db")]);
    let t = String::from_utf8_lossy(&one.stdout);
    assert!(t.contains("a.db") && !t.contains("b.db"), "{t}");
}

#[test]
fn a_damaged_index_never_costs_more_than_one_warning() {
    // A real index (every fixture's status), then bit flips past its header, 60 ways.
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.redb");
    let f = copy(&tmp, "k8s-0.005.snap.db");
    let names: Vec<String> = common::databases().into_iter().filter(|n| !n.starts_with("bolt-")).collect();
    let files: Vec<PathBuf> = names.iter().map(|n| common::path(n, &tmp)).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).chain([f.as_path()]).collect();
    assert!(run(&good, &["status"], &refs).status.success());
    let base = std::fs::read(&good).unwrap();
    let want = common::answer("k8s-0.005.snap.db", "status.simple").unwrap();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for case in 0..60 {
        let mut d = base.clone();
        for _ in 0..1 + case % 30 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = 64 + (x as usize) % (d.len() - 64);
            d[i] ^= 1 << (x % 8);
        }
        let bad = tmp.path().join("bad.redb");
        std::fs::write(&bad, &d).unwrap();
        let out = run(&bad, &["status"], &[&f]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "case {case}: {err}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "case {case}");
        assert!(err.lines().count() <= 1 && !err.contains("panicked"), "case {case}: {err}");
    }
}

#[test]
fn a_damaged_table_met_looking_up_a_failure_costs_one_warning() {
    // The `results` table's stored key type damaged (`&[u8]` -> `&[u8\`): reading a failure mark
    // fails, then the write finds the index damaged and sets it aside. status and get said both
    // (CI on d4d294d: "index not read", then "was damaged; moved it"); one is said now.
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "k8s-0.005.snap.db");
    let good = tmp.path().join("good.redb");
    assert!(run(&good, &["status"], &[&f]).status.success());
    let base = std::fs::read(&good).unwrap();
    let types = b"\x01&[u8]\x01&[u8]";
    let at = base.windows(types.len()).position(|w| w == types).expect("the results table's types") + 5;
    assert_eq!(base[at], b']');
    let want = common::answer("k8s-0.005.snap.db", "status.simple").unwrap();
    for args in [&["status"][..], &["get", "--keys-only", "--prefix", "/registry/pods/"]] {
        let mut d = base.clone();
        d[at] = b'\\';
        let bad = tmp.path().join("bad.redb");
        std::fs::write(&bad, &d).unwrap();
        let mut argv = args.to_vec();
        let fs = f.to_str().unwrap();
        argv.insert(1, fs);
        let out = common::boltscope().arg("--index").arg(&bad).args(&argv).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one warning: {err}");
        if args[0] == "status" {
            assert_eq!(String::from_utf8_lossy(&out.stdout), want);
        }
        for e in std::fs::read_dir(tmp.path()).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("bad.redb") {
                std::fs::remove_file(e.path()).unwrap();
            }
        }
    }
}

#[test]
fn what_is_not_an_index_is_never_replaced_nor_waited_on() {
    // `--index` given a snapshot, a text file or a FIFO by mistake: one warning, the answer, and
    // the file as it was (a damaged index is moved aside; these are not indexes). An empty file
    // is started as an index.
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "tiny-1.snap.db");
    let want = common::answer("tiny-1.snap.db", "status.simple").unwrap();
    let before = std::fs::read(&f).unwrap();
    let out = run(&f, &["status"], &[&f]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned()), (Some(0), want.clone()));
    assert!(err.contains("not a boltscope index") && err.lines().count() == 1, "{err}");
    assert_eq!(std::fs::read(&f).unwrap(), before, "the snapshot is untouched");
    let notes = tmp.path().join("notes.txt");
    std::fs::write(&notes, "hello\n").unwrap();
    assert!(run(&notes, &["status"], &[&f]).status.success());
    assert_eq!(std::fs::read(&notes).unwrap(), b"hello\n");
    let fifo = tmp.path().join("fifo.redb");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut child = common::boltscope()
        .arg("--index")
        .arg(&fifo)
        .arg("status")
        .arg(&f)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let done = common::live::wait_timeout(&mut child, std::time::Duration::from_secs(20));
    if done.is_none() {
        let _ = child.kill();
    }
    assert!(done.is_some_and(|s| s.success()), "a FIFO as the index must not block the command: {done:?}");
    let aside = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".damaged-"));
    assert_eq!(aside.count(), 0, "nothing moved aside");
    let empty = tmp.path().join("empty.redb");
    std::fs::write(&empty, b"").unwrap();
    let out = run(&empty, &["status"], &[&f]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&empty).unwrap().len() > 0, "an empty file is started as an index");
}

#[test]
fn an_index_of_an_older_schema_is_rebuilt_silently() {
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "tiny-1.snap.db");
    let old = tmp.path().join("old.redb");
    {
        let db = redb::Database::create(&old).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap().insert("schema", 0).unwrap();
        tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("results"))
            .unwrap()
            .insert(&b"junk"[..], &b"not json"[..])
            .unwrap();
        tx.commit().unwrap();
    }
    let out = run(&old, &["status"], &[&f]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), common::answer("tiny-1.snap.db", "status.simple").unwrap());
    let db = redb::Database::create(&old).unwrap();
    let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
    let meta = tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
    assert_eq!(redb::ReadableTable::get(&meta, "schema").unwrap().unwrap().value(), boltscope::index::SCHEMA);
    let results = tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("results")).unwrap();
    assert!(redb::ReadableTable::get(&results, &b"junk"[..]).unwrap().is_none(), "old results dropped");
}

#[test]
fn a_known_file_that_becomes_unreadable_gets_a_row_saying_so() {
    // Each command that records rows: the file is ok, then cut to 100 bytes (or, for the zip, cut
    // in half): the latest row is `unreadable: <reason>`, without figures, never the old `ok`.
    let tmp = tempfile::tempdir().unwrap();
    let zip = std::fs::read(common::dir().join("archives/on-demand-node-1-1700000000.zip")).unwrap();
    for cmd in ["check", "status", "inspect", "scan", "trend", "du"] {
        for (name, whole) in [
            ("etcd-snapshot-n-1765000000", common::bytes("tiny-1.snap.db")),
            ("etcd-snapshot-n-1765000000.zip", zip.clone()),
        ] {
            let dir = tmp.path().join(format!("{cmd}-{name}"));
            std::fs::create_dir(&dir).unwrap();
            let ix = dir.join("ix.redb");
            let f = dir.join(name);
            std::fs::write(&f, &whole).unwrap();
            let target: &Path = if matches!(cmd, "scan" | "trend") { &dir } else { &f };
            assert_eq!(run(&ix, &[cmd], &[target]).status.code(), Some(0), "{cmd} {name}");
            let cut = if name.ends_with(".zip") { whole.len() / 2 } else { 100 };
            std::fs::write(&f, &whole[..cut]).unwrap();
            assert_eq!(run(&ix, &[cmd], &[target]).status.code(), Some(2), "{cmd} {name}");
            let hist = run(&ix, &["history", "-w", "json"], &[&f]);
            let rows: Vec<serde_json::Value> =
                String::from_utf8_lossy(&hist.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(rows.len(), 2, "{cmd} {name}: {rows:?}");
            let last = &rows[1];
            assert_eq!(last["command"], cmd, "{name}");
            assert!(last["verdict"].as_str().unwrap().starts_with("unreadable: "), "{cmd} {name}: {last}");
            assert!(last["total_size"].is_null() && last["revision"].is_null(), "{cmd} {name}: no figures: {last}");
            assert_eq!(last["file_size"], cut, "{cmd} {name}");
        }
    }
    // A name that is no file, never analysed, is not recorded.
    let ix = tmp.path().join("typo.redb");
    assert_eq!(run(&ix, &["check"], &[&tmp.path().join("no-such.db")]).status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run(&ix, &["history"], &[]).stdout).contains("no analysed files recorded"));
}

#[test]
fn results_of_schema_2_are_dropped_and_its_history_kept() {
    // Schema 2 knew no revisions_missing: a result it cached may call a file with a hole clean.
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "tiny-1.snap.db");
    let ix = tmp.path().join("ix.redb");
    assert!(run(&ix, &["status"], &[&f]).status.success());
    let rows = |ix: &std::path::Path| {
        let db = redb::Database::create(ix).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        let t = tx.open_table(redb::TableDefinition::<(&str, u64), &[u8]>::new("history")).unwrap();
        redb::ReadableTableMetadata::len(&t).unwrap()
    };
    let before = rows(&ix);
    assert!(before > 0);
    {
        let db = redb::Database::create(&ix).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap().insert("schema", 2).unwrap();
        tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("results"))
            .unwrap()
            .insert(&b"cached under schema 2"[..], &b"x"[..])
            .unwrap();
        tx.commit().unwrap();
    }
    let out = run(&ix, &["status"], &[&f]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = redb::Database::create(&ix).unwrap();
    let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
    let meta = tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
    assert_eq!(redb::ReadableTable::get(&meta, "schema").unwrap().unwrap().value(), boltscope::index::SCHEMA);
    let results = tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("results")).unwrap();
    assert!(redb::ReadableTable::get(&results, &b"cached under schema 2"[..]).unwrap().is_none());
    drop((meta, results, tx, db));
    assert_eq!(rows(&ix), before + 1, "the rows kept, one more for this run");
}

#[test]
fn results_and_key_indexes_of_schema_3_are_dropped() {
    // Schema 3 stored keys whose own bytes are a Secret in the clear (in du's cached reports and
    // in key indexes); schema 4 never does, and drops what an older index holds.
    let tmp = tempfile::tempdir().unwrap();
    let f = copy(&tmp, "tiny-1.snap.db");
    let ix = tmp.path().join("ix.redb");
    assert!(run(&ix, &["get"], &[&f, std::path::Path::new("key1")]).status.success());
    assert!(run(&ix, &["du"], &[&f]).status.success());
    let blocks = |ix: &std::path::Path| {
        let db = redb::Database::create(ix).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        match tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("key_revisions")) {
            Ok(t) => redb::ReadableTableMetadata::len(&t).unwrap(),
            Err(_) => 0,
        }
    };
    assert!(blocks(&ix) > 0, "the key index was built");
    {
        let db = redb::Database::create(&ix).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        let du = tx.open_table(redb::TableDefinition::<(&str, u64), &[u8]>::new("du")).unwrap();
        assert!(redb::ReadableTableMetadata::len(&du).unwrap() > 0, "a du row");
    }
    {
        let db = redb::Database::create(&ix).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap().insert("schema", 3).unwrap();
        tx.commit().unwrap();
    }
    let out = run(&ix, &["status"], &[&f]);
    assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(blocks(&ix), 0, "the key index of schema 3 is dropped");
    let db = redb::Database::create(&ix).unwrap();
    let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
    let du = tx.open_table(redb::TableDefinition::<(&str, u64), &[u8]>::new("du"));
    assert!(du.is_err(), "du rows of schema 3 dropped");
}

#[test]
fn results_of_schema_4_to_7_are_dropped_and_their_rows_kept() {
    // Schema 6: `status` fails what `check` fails beside the `key` bucket (review 45a), so a
    // result cached before may call such a file clean; it is dropped, the history rows stay.
    // Schema 7: the same for a record with an empty key (review 48c). Schema 8: for a deleted
    // Secret in free pages no leaf header lists (review 49b).
    for old in [4u64, 5, 6, 7] {
        let tmp = tempfile::tempdir().unwrap();
        let f = copy(&tmp, "tiny-1.snap.db");
        let ix = tmp.path().join("ix.redb");
        assert!(run(&ix, &["status"], &[&f]).status.success());
        let marker = &b"stored under an older schema"[..];
        {
            let db = redb::Database::create(&ix).unwrap();
            let tx = db.begin_write().unwrap();
            let mut meta = tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
            assert_eq!(redb::ReadableTable::get(&meta, "schema").unwrap().unwrap().value(), boltscope::index::SCHEMA);
            meta.insert("schema", old).unwrap();
            drop(meta);
            tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("results"))
                .unwrap()
                .insert(marker, &b"x"[..])
                .unwrap();
            tx.commit().unwrap();
        }
        let again = run(&ix, &["status"], &[&f]);
        assert!(again.status.success() && again.stderr.is_empty(), "{}", String::from_utf8_lossy(&again.stderr));
        let history = run(&ix, &["history"], &[&f]);
        let rows = String::from_utf8_lossy(&history.stdout).lines().filter(|l| l.contains("status")).count();
        assert_eq!(rows, 2, "schema {old}: its row kept beside the new one");
        let db = redb::Database::create(&ix).unwrap();
        let tx = redb::ReadableDatabase::begin_read(&db).unwrap();
        let meta = tx.open_table(redb::TableDefinition::<&str, u64>::new("meta")).unwrap();
        assert_eq!(redb::ReadableTable::get(&meta, "schema").unwrap().unwrap().value(), boltscope::index::SCHEMA);
        let results = tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("results")).unwrap();
        assert!(redb::ReadableTable::get(&results, marker).unwrap().is_none(), "schema {old}'s results dropped");
    }
}
