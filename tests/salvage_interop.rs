//! `salvage` and residue judged by the real tools (run by `.ci/run`; ignored by plain `cargo
//! test`: `cargo test --release --test salvage_interop -- --ignored`):
//!
//! a. every salvaged copy of every damage class (tests/common/damage.rs) of real fixtures passes
//!    real bbolt 1.3.6's `tx.Check` (`boltoracle check`);
//! b. a salvaged copy restored with `etcdutl snapshot restore` is served by real etcd 3.5.1 with
//!    exactly the live keys the copy holds (read from real bbolt's dump of the copy, its records
//!    decoded here), and those are the original's (what real etcd served for the undamaged
//!    snapshot) but for what the report lists as at risk;
//! c. real etcd writes marked Secrets, deletes them, compacts, writes more, saves a snapshot:
//!    every marker present in the snapshot's bytes is carved from its free pages and reported by
//!    `log --include-free`, and no other;
//! d. a copy of a file whose compaction key etcd 3.5.1 stops on (`meta-fcr16`), whose
//!    `finishedCompactRev` was damaged past the scheduled one, whose `meta` bucket lost its
//!    compaction keys, or whose scheduled compaction was damaged past the head, is restored and
//!    served, and the server's HashKV compact revision is the one the report gives.

mod common;
use common::checks::inline_entry;
use common::damage;
use common::live::{have, restore, run_ok, which, Etcd};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn salvage(src: &Path, dst: &Path, extra: &[&str]) -> Value {
    let out = common::boltscope()
        .arg("salvage")
        .args(extra)
        .arg(src)
        .arg("-o")
        .arg(dst)
        .args(["-w", "json"])
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c < 2), "{}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn oracle_check(what: &str, db: &Path) {
    let out = run_ok(what, Command::new(which("boltoracle")).arg("check").arg(db));
    assert_eq!(out.stdout, b"OK\n", "{what}: real bbolt's tx.Check: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn every_salvaged_copy_passes_real_bbolts_check() {
    if !have(&["boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    for file in ["k8s-0.005.member.db", "k8s-0.005.snap.db", "churn-0.005.member.db", "cluster-0.1.snap.db"] {
        let full = common::bytes(file);
        let mut cases: Vec<(String, Vec<u8>)> = damage::ONE_PAGE
            .iter()
            .map(|c| {
                let mut d = full.clone();
                damage::one_page(c, &mut d);
                (c.to_string(), d)
            })
            .collect();
        cases.push(("cut in half".into(), full[..full.len() / 2].to_vec()));
        for seed in 1..=4 {
            let mut d = full.clone();
            damage::flips(&mut d, 8, seed);
            cases.push((format!("8 flips, seed {seed}"), d));
        }
        for (class, d) in cases {
            let src = tmp.path().join("src.db");
            std::fs::write(&src, &d).unwrap();
            let dst = tmp.path().join("copy.db");
            salvage(&src, &dst, &["--force"]);
            oracle_check(&format!("{file}, {class}"), &dst);
            n += 1;
        }
    }
    eprintln!("{n} salvaged copies pass real bbolt's check");
}

/// Reads a varint.
fn varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let x = b[*at];
        *at += 1;
        v |= u64::from(x & 0x7f) << shift;
        if x & 0x80 == 0 {
            break;
        }
    }
    v
}

/// An `mvccpb.KeyValue`: (key, mod_revision, value), decoded here from its wire format.
fn key_value(b: &[u8]) -> (Vec<u8>, u64, Vec<u8>) {
    let (mut at, mut key, mut modrev, mut value) = (0, Vec::new(), 0, Vec::new());
    while at < b.len() {
        let tag = varint(b, &mut at);
        match tag & 7 {
            0 => {
                let v = varint(b, &mut at);
                if tag >> 3 == 3 {
                    modrev = v;
                }
            }
            2 => {
                let n = varint(b, &mut at) as usize;
                let s = b[at..at + n].to_vec();
                at += n;
                match tag >> 3 {
                    1 => key = s,
                    5 => value = s,
                    _ => {}
                }
            }
            t => panic!("wire type {t} in a KeyValue"),
        }
    }
    (key, modrev, value)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Key -> (mod revision, value digest) of the live keys of a file, from real bbolt's dump of its
/// `key` bucket (revision keys in order: a put sets a key, a tombstone removes it).
fn live_by_bbolt(db: &Path) -> BTreeMap<Vec<u8>, (u64, String)> {
    let out = run_ok("boltoracle dump", Command::new(which("boltoracle")).arg("dump").arg(db));
    let mut live = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() != 4 || f[0] != "K" || f[1] != "6b6579" {
            continue;
        }
        let (rev, value) = (unhex(f[2]), unhex(f[3]));
        if value.is_empty() {
            continue;
        }
        let (key, modrev, v) = key_value(&value);
        if rev.len() == 18 && rev[17] == b't' {
            live.remove(&key);
        } else {
            live.insert(key, (modrev, format!("{:x}", Sha256::digest(&v))));
        }
    }
    live
}

/// Key -> (mod revision, value digest) that etcd serves: `etcdctl get "" --prefix -w json`.
fn live_by_etcd(e: &Etcd) -> BTreeMap<Vec<u8>, (u64, String)> {
    use base64::Engine;
    let b64 = |s: &Value| base64::engine::general_purpose::STANDARD.decode(s.as_str().unwrap_or("")).unwrap();
    let v = e.json("get everything", &["get", "", "--prefix"]);
    v["kvs"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    (
                        b64(&kv["key"]),
                        (kv["mod_revision"].as_u64().unwrap(), format!("{:x}", Sha256::digest(b64(&kv["value"])))),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn a_salvaged_copy_is_restored_and_served_by_real_etcd_with_exactly_the_keys_it_holds() {
    if !have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for (file, class) in
        [("cluster-0.1.snap.db", "child past the high-water mark"), ("k8s-0.005.snap.db", "both metas bad")]
    {
        let mut d = common::bytes(file);
        damage::one_page(class, &mut d);
        let src = tmp.path().join(format!("{file}.damaged"));
        std::fs::write(&src, &d).unwrap();
        let copy = tmp.path().join(format!("{file}.salvaged"));
        let report = salvage(&src, &copy, &["--trailer", "always"]);
        assert_eq!(report["restorable"], true);
        oracle_check(file, &copy);
        let holds = live_by_bbolt(&copy);
        let data = tmp.path().join(format!("{file}.etcd"));
        restore(&format!("{file}: etcdutl snapshot restore"), &copy, &data);
        let e = Etcd::start(&format!("{file} salvaged"), &data);
        let served = live_by_etcd(&e);
        e.stop();
        assert_eq!(served, holds, "{file}, {class}: etcd serves exactly what the copy holds");
        // And that is the original's, but for what the report lists at risk.
        let shape = file.trim_end_matches(".snap.db");
        let text = std::fs::read_to_string(common::dir().join(format!("key-answers/{shape}.live.jsonl"))).unwrap();
        let want: usize = text.lines().count() - 1;
        let same = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| {
                use base64::Engine;
                let Some(k) = v["key_b64"].as_str() else { return false };
                let k = base64::engine::general_purpose::STANDARD.decode(k).unwrap();
                served.get(&k)
                    == Some(&(v["mod_revision"].as_u64().unwrap(), v["value_sha256"].as_str().unwrap().to_string()))
            })
            .count();
        eprintln!("{file}, {class}: etcd serves {same} of the original's {want} live keys unchanged");
        assert!(same as f64 >= 0.99 * want as f64, "{file}: {same} of {want}");
    }
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn with_the_newer_meta_page_invalid_the_copy_holds_what_real_bbolt_reads() {
    if !have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = "k8s-0.005.member.db";
    let mut d = common::bytes(file);
    let newer = damage::shape(&d).active_meta;
    let older_root = damage::older_root(&d) as u64;
    common::put_u64(&mut d, newer * 4096 + 32, older_root);
    let src = tmp.path().join("damaged.db");
    std::fs::write(&src, &d).unwrap();
    let copy = tmp.path().join("salvaged.db");
    let report = salvage(&src, &copy, &["--trailer", "always"]);
    oracle_check(file, &copy);
    // Real bbolt opens the damaged file on its valid meta page: the copy holds exactly that tree,
    // every bucket (etcd's `meta` with its consistent index too).
    let dump = |db: &Path| run_ok("boltoracle dump", Command::new(which("boltoracle")).arg("dump").arg(db)).stdout;
    assert!(dump(&copy) == dump(&src), "{report}");
    let data = tmp.path().join("etcd");
    restore("etcdutl snapshot restore", &copy, &data);
    let e = Etcd::start("salvaged, newer meta page invalid", &data);
    let served = live_by_etcd(&e);
    e.stop();
    assert_eq!(served, live_by_bbolt(&src));
}

/// The main revisions of the `key` bucket of a file, from real bbolt's dump.
fn revisions_by_bbolt(db: &Path) -> BTreeSet<u64> {
    let out = run_ok("boltoracle dump", Command::new(which("boltoracle")).arg("dump").arg(db));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f.len() == 4 && f[0] == "K" && f[1] == "6b6579" && f[2].len() >= 16)
        .map(|f| u64::from_str_radix(&f[2][..16], 16).unwrap())
        .collect()
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn the_revisions_lost_with_the_last_leaf_are_the_ones_real_bbolt_and_etcd_miss() {
    if !have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = "k8s-0.005.member.db";
    let mut d = common::bytes(file);
    damage::last_leaf_zeroed(&mut d);
    let src = tmp.path().join("damaged.db");
    std::fs::write(&src, &d).unwrap();
    let copy = tmp.path().join("salvaged.db");
    let report = salvage(&src, &copy, &["--trailer", "always"]);
    oracle_check(file, &copy);
    // What real bbolt reads in the original and not in the copy: the report's open range.
    let (had, has) = (revisions_by_bbolt(&common::dir().join(file)), revisions_by_bbolt(&copy));
    let missing: Vec<u64> = had.difference(&has).copied().collect();
    let newest_kept = has.iter().max().copied().unwrap();
    assert!(missing.iter().all(|&m| m > newest_kept), "only the newest are missing: {missing:?}");
    assert_eq!(
        (report["lossless"].as_bool(), report["revisions_lost_from"].as_u64()),
        (Some(false), missing.first().copied())
    );
    // Real etcd restores the copy and serves it at the revision before the lost ones: the next
    // write would get a revision that existed.
    let data = tmp.path().join("etcd");
    restore("etcdutl snapshot restore", &copy, &data);
    let e = Etcd::start("salvaged without its last leaf", &data);
    let rev = e.json("revision", &["get", "x"])["header"]["revision"].as_u64();
    e.stop();
    assert_eq!(rev, Some(missing[0] - 1), "{report}");
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn every_marker_real_etcd_leaves_in_a_snapshot_is_carved_and_no_other() {
    if !have(&["etcd", "etcdctl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("etcd");
    let e = Etcd::start("residue", &data);
    let marker = |i: usize| format!("LIVE-RESIDUE-{i:04}-");
    let key = |i: usize| format!("/registry/secrets/ns/s-{i:04}");
    let mut written = Vec::new();
    for i in 0..24 {
        // Every third value is large enough for overflow pages.
        let size = if i % 3 == 0 { 6000 } else { 300 + 40 * i };
        let mut value = marker(i);
        while value.len() < size {
            value.push_str(&format!("filler-{i:04}-"));
        }
        run_ok("put", e.ctl().args(["put", &key(i), &value]));
        written.push(value);
    }
    run_ok("delete", e.ctl().args(["del", "/registry/secrets/", "--prefix"]));
    let rev = e.json("revision", &["get", "x"])["header"]["revision"].as_u64().unwrap();
    run_ok("compact", e.ctl().args(["compact", &rev.to_string(), "--physical"]));
    for i in 0..3 {
        run_ok("put after", e.ctl().args(["put", &format!("/registry/configmaps/ns/after-{i}"), "after"]));
    }
    let snap = tmp.path().join("residue.snap.db");
    run_ok("snapshot save", e.ctl().args(["snapshot", "save"]).arg(&snap));
    e.stop();
    let bytes = std::fs::read(&snap).unwrap();
    // A marker is expected where its bytes lie inside the value of an element of a leaf page
    // (a page whose header names itself): bbolt reuses a page for a shorter run and leaves the old
    // run's later pages as they were, so a marker can also sit in bytes that no page header
    // claims any more, which no reading of pages can give back. Those are counted apart.
    let in_bytes: BTreeSet<String> =
        (0..24).map(marker).filter(|m| bytes.windows(m.len()).any(|w| w == m.as_bytes())).collect();
    let values = leaf_values(&bytes);
    let present: BTreeSet<String> =
        (0..24).map(marker).filter(|m| values.iter().any(|v| v.windows(m.len()).any(|w| w == m.as_bytes()))).collect();
    eprintln!("{} marker(s) only in bytes no page header claims", in_bytes.len() - present.len());
    // Since stop 49 records are also read from free pages without a header (a multi-page leaf
    // whose first page was used again): a marker there must be carved when its whole record (a
    // revision key at or below the compaction, then the `mvccpb.KeyValue` with the key and the
    // value this test wrote) lies in pages that no page header names or spans, and may be carved
    // when only the record's start has that shape.
    let (must, may) =
        unclaimed_records(&bytes, rev, &(0..24).map(|i| (key(i), marker(i), written[i].clone())).collect::<Vec<_>>());
    eprintln!("beyond page headers: {} whole record(s), {} record start(s)", must.len(), may.len());
    let view = boltscope::DbView::new(&bytes).unwrap();
    let free = boltscope::etcd::carve::free_records(&view).unwrap();
    let carved: BTreeSet<String> = (0..24)
        .map(marker)
        .filter(|m| free.records.iter().any(|r| r.kv.value.windows(m.len()).any(|w| w == m.as_bytes())))
        .collect();
    // What `log --include-free` reports (values shown: --show-secrets).
    let out =
        common::run(["--no-index", "log", snap.to_str().unwrap(), "--include-free", "-w", "json", "--show-secrets"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let logged: BTreeSet<String> = {
        use base64::Engine;
        let values: Vec<Vec<u8>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["source"] == "free-page")
            .map(|e| base64::engine::general_purpose::STANDARD.decode(e["kv"]["value"].as_str().unwrap_or("")).unwrap())
            .collect();
        (0..24).map(marker).filter(|m| values.iter().any(|v| v.windows(m.len()).any(|w| w == m.as_bytes()))).collect()
    };
    eprintln!(
        "{} of 24 markers in leaf values, {} carved, {} in log --include-free",
        present.len(),
        carved.len(),
        logged.len()
    );
    assert!(carved.is_superset(&present), "{carved:?} {present:?}");
    assert!(carved.is_superset(&must), "{carved:?} {must:?}");
    let allowed: BTreeSet<String> = present.union(&may).cloned().collect();
    assert!(carved.is_subset(&allowed), "{carved:?} {allowed:?}");
    assert_eq!(logged, carved);
    let out = common::run(["--no-index", "inspect", "-w", "json", snap.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["residue"]["secrets"].as_u64(), Some(carved.len() as u64));
}

/// The markers of `records` (key, marker, whole value) that begin a record outside every span a
/// page header names (4 KiB pages): a revision key (8-byte big-endian main revision at or below
/// `compacted`, `_`, 8 bytes) followed by an `mvccpb.KeyValue` whose key field is the key and
/// whose value field starts with the marker, its mod revision the main revision. First: those
/// whose whole value is the one written and whose pages no header names or spans; second: every
/// such record start whose page no header names or spans.
fn unclaimed_records(
    d: &[u8],
    compacted: u64,
    records: &[(String, String, String)],
) -> (BTreeSet<String>, BTreeSet<String>) {
    use common::{u32_at, u64_at};
    let ps = 4096;
    let pages = d.len() / ps;
    let mut spanned = vec![false; pages];
    for id in 0..pages {
        if u64_at(d, id * ps) == id as u64 {
            let end = (id + u32_at(d, id * ps + 12) + 1).min(pages);
            spanned[id..end].iter_mut().for_each(|s| *s = true);
        }
    }
    let varint = |at: &mut usize| -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *d.get(*at)?;
            *at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    };
    let (mut must, mut may) = (BTreeSet::new(), BTreeSet::new());
    for (key, marker, whole) in records {
        let field: Vec<u8> = [&[0x0a, key.len() as u8][..], key.as_bytes()].concat();
        for q in (17..d.len().saturating_sub(field.len())).filter(|&q| d[q..].starts_with(&field)) {
            let r = q - 17;
            let main = u64::from_be_bytes(d[r..r + 8].try_into().unwrap());
            if d[r + 8] != b'_' || main == 0 || main > compacted || spanned[r / ps] {
                continue;
            }
            let mut at = q + field.len();
            let mut mod_rev = None;
            for tag in [0x10, 0x18, 0x20] {
                if d.get(at) == Some(&tag) {
                    at += 1;
                    let v = varint(&mut at);
                    if tag == 0x18 {
                        mod_rev = v;
                    }
                }
            }
            if mod_rev != Some(main) || d.get(at) != Some(&0x2a) {
                continue;
            }
            at += 1;
            let Some(len) = varint(&mut at) else { continue };
            if !d[at..].starts_with(marker.as_bytes()) {
                continue;
            }
            may.insert(marker.clone());
            let end = at + len as usize;
            if len as usize == whole.len()
                && d.get(at..end) == Some(whole.as_bytes())
                && (r / ps..=(end - 1) / ps).all(|p| !spanned[p])
            {
                must.insert(marker.clone());
            }
        }
    }
    (must, may)
}

/// The values of every element of every leaf page of a bbolt file (4 KiB pages, little-endian),
/// read from the page headers and element tables alone: a page counts when its header names it
/// and says leaf (flags 0x02); its elements may run into the `overflow` pages after it.
fn leaf_values(d: &[u8]) -> Vec<&[u8]> {
    use common::{u16_at, u32_at, u64_at};
    let ps = 4096;
    let mut out = Vec::new();
    for id in 2..d.len() / ps {
        let at = id * ps;
        if u64_at(d, at) != id as u64 || u16_at(d, at + 8) != 0x02 {
            continue;
        }
        let end = (at + (u32_at(d, at + 12) + 1) * ps).min(d.len());
        for i in 0..u16_at(d, at + 10) {
            let e = at + 16 + 16 * i;
            let (pos, ksize, vsize) = (u32_at(d, e + 4), u32_at(d, e + 8), u32_at(d, e + 12));
            let start = e + pos + ksize;
            if let Some(v) = d.get(start..(start + vsize).min(end)) {
                out.push(v);
            }
        }
    }
    out
}

#[test]
#[ignore = "needs real etcd/etcdctl/etcdutl and boltoracle: run by .ci/run after ../shared/oracle/install.sh"]
fn a_copy_with_its_compaction_judged_is_served_compacted_where_the_report_says() {
    if !have(&["etcd", "etcdctl", "etcdutl", "boltoracle"]) {
        return;
    }
    use std::io::Read;
    let tmp = tempfile::tempdir().unwrap();
    let mut fcr16 = Vec::new();
    let gz = std::fs::File::open(common::dir().join("etcd-records/meta-fcr16.snap.db.gz")).unwrap();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut fcr16).unwrap();
    // finishedCompactRev 2^48 + 101 in every copy of the `meta` bucket, the trailer made again.
    let mut flipped = common::bytes("churn-0.005.snap.db");
    let name = b"finishedCompactRev";
    let at: Vec<usize> = flipped.windows(name.len()).enumerate().filter(|(_, w)| *w == name).map(|(i, _)| i).collect();
    for i in at {
        flipped[i + name.len() + 1] ^= 0x01;
    }
    common::reseal(&mut flipped);
    // The inline `meta` page's element count cut to 2: both compaction keys gone.
    let mut no_keys = common::bytes("churn-0.005.snap.db");
    let (page, _, _) = inline_entry(&no_keys, b"meta", b"finishedCompactRev");
    no_keys[page + 10..page + 12].copy_from_slice(&2u16.to_le_bytes());
    common::reseal(&mut no_keys);
    // An interrupted compaction (scheduled 16, never finished) whose scheduled revision was
    // flipped past the head (4112): the tree reads whole, a copy is made; etcd does not run it.
    let mut future = std::fs::read(common::dir().join("compacting/compacting-1.snap.db")).unwrap();
    let (_, _, v) = inline_entry(&future, b"meta", b"scheduledCompactRev");
    future[v + 6] ^= 0x10;
    common::reseal(&mut future);
    let cases = [
        ("meta-fcr16", fcr16),
        ("finished past scheduled", flipped),
        ("no compaction keys", no_keys),
        ("scheduled past the head", future),
    ];
    for (what, d) in cases {
        let src = tmp.path().join(format!("{what}.db"));
        std::fs::write(&src, &d).unwrap();
        let copy = tmp.path().join(format!("{what}.salvaged"));
        let report = salvage(&src, &copy, &["--trailer", "always"]);
        assert_eq!(report["restorable"], true, "{what}: {report}");
        oracle_check(what, &copy);
        let data = tmp.path().join(format!("{what}.etcd"));
        restore(&format!("{what}: etcdutl snapshot restore"), &copy, &data);
        let e = Etcd::start(&format!("{what} salvaged"), &data);
        let v = e.json("hashkv", &["endpoint", "hashkv"]);
        let served = live_by_etcd(&e);
        e.stop();
        // etcd says -1 for no compaction key and leaves out a 0 one (protobuf's zero value); the
        // report says 0 for both.
        let served_at = v[0]["HashKV"]["compact_revision"].as_i64().unwrap_or(0).max(0);
        assert_eq!(Some(served_at), report["compact_revision"].as_i64(), "{what}: {v} {report}");
        assert_eq!(v[0]["HashKV"]["header"]["revision"], report["last_revision"], "{what}: {v}");
        assert_eq!(served, live_by_bbolt(&copy), "{what}: etcd serves exactly what the copy holds");
    }
}
