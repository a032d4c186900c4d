//! Fixture access for the integration tests: every database in `fixtures/` (plain or gzipped),
//! its bytes, and the answers the real tools gave about it.

#![allow(dead_code)]

pub mod checks;
pub mod damage;
pub mod live;
pub mod trend;

use std::io::Read;
use std::path::{Path, PathBuf};

/// The fixtures folder.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Names (without `.gz`) of every fixture database: `*.db` and `*.db.gz`.
pub fn databases() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir())
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| if n.ends_with(".db") { Some(n) } else { n.strip_suffix(".db.gz").map(|s| format!("{s}.db")) })
        .collect();
    v.sort();
    v.dedup();
    assert!(v.len() >= 10, "expected the committed fixtures, found {v:?}");
    v
}

/// The bytes of a fixture database, decompressed when stored as `.gz`.
pub fn bytes(name: &str) -> Vec<u8> {
    let plain = dir().join(name);
    if plain.exists() {
        return std::fs::read(plain).expect("read fixture");
    }
    let gz = std::fs::File::open(dir().join(format!("{name}.gz"))).expect("fixture or .gz");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out).expect("gunzip");
    out
}

/// A path to the fixture database as a plain file (decompressed into a temp dir when needed).
pub fn path(name: &str, tmp: &tempfile::TempDir) -> PathBuf {
    let plain = dir().join(name);
    if plain.exists() {
        return plain;
    }
    let p = tmp.path().join(name);
    std::fs::write(&p, bytes(name)).expect("write temp fixture");
    p
}

/// An answer file next to a fixture (`NAME.SUFFIX`), if the tools produced one.
pub fn answer(name: &str, suffix: &str) -> Option<String> {
    std::fs::read_to_string(dir().join(format!("{name}.{suffix}"))).ok()
}

/// An answer parsed as JSON.
pub fn answer_json(name: &str, suffix: &str) -> Option<serde_json::Value> {
    answer(name, suffix).map(|s| serde_json::from_str(&s).unwrap_or_else(|e| panic!("{name}.{suffix}: {e}")))
}

/// The boltscope binary built for these tests.
pub fn boltscope() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_boltscope"))
}

/// Runs `boltscope compact ARGS SRC -o DST`.
pub fn compact(args: &[&str], src: &Path, dst: &Path) -> std::process::Output {
    boltscope().arg("compact").args(args).arg(src).arg("-o").arg(dst).output().unwrap()
}

/// Salvages the snapshot bytes `d` (`--trailer always`, no index) into `dir`: the exit code, the
/// JSON report, and the copy's path.
pub fn salvage_bytes(d: &[u8], dir: &Path) -> (Option<i32>, serde_json::Value, PathBuf) {
    let (src, dst) = (dir.join("src.db"), dir.join("copy.db"));
    std::fs::write(&src, d).unwrap();
    let out = boltscope()
        .args(["--no-index", "salvage", "-w", "json", "--trailer", "always"])
        .arg(&src)
        .arg("-o")
        .arg(&dst)
        .output()
        .unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap(), dst)
}

/// Runs the binary with `args` and the index at `index` (`--no-index` when none); its output.
pub fn run_indexed(index: Option<&std::path::Path>, args: &[&str]) -> std::process::Output {
    let mut c = boltscope();
    match index {
        Some(ix) => c.arg("--index").arg(ix),
        None => c.arg("--no-index"),
    };
    c.args(args).output().expect("run boltscope")
}

/// Runs the binary with `args`; its output.
pub fn run<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    boltscope().args(args).output().expect("run boltscope")
}

// Little-endian readers and a writer for building damaged files from the raw layout (every
// fixture is little-endian). Sizes and offsets come back as `usize`, to index with.
/// The `u16` at `o`.
pub fn u16_at(d: &[u8], o: usize) -> usize {
    usize::from(u16::from_le_bytes(d[o..o + 2].try_into().unwrap()))
}
/// The `u32` at `o`.
pub fn u32_at(d: &[u8], o: usize) -> usize {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap()) as usize
}
/// The `u64` at `o`.
pub fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}
/// Writes `v` as a `u64` at `o`.
pub fn put_u64(d: &mut [u8], o: usize, v: u64) {
    d[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// The raw layout facts the damage needs, read by hand: meta at page offset 16; root at +32,
/// pgid at +56, txid at +64; leaf elements {flags, pos, ksize, vsize}; branch elements
/// {pos, ksize, pgid}.
pub struct Layout {
    /// The meta page with the higher txid.
    pub active_meta: usize,
    /// Its high-water mark.
    pub hwm: u64,
    /// The `key` bucket's root page (a branch page).
    pub key_root: usize,
    /// Its first child (a leaf page).
    pub first_leaf: usize,
}

/// Reads the layout of a little-endian etcd file with 4096-byte pages whose `key` bucket has a
/// branch root, by hand from the raw bytes.
pub fn layout(d: &[u8]) -> Layout {
    let txid = |p: usize| u64_at(d, p * 4096 + 64);
    let active_meta = if txid(1) > txid(0) { 1 } else { 0 };
    let m = active_meta * 4096;
    let (root, hwm) = (u64_at(d, m + 32) as usize, u64_at(d, m + 56));
    let mut key_root = 0;
    for i in 0..u16_at(d, root * 4096 + 10) {
        let e = root * 4096 + 16 + 16 * i;
        let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
        if &d[e + pos..e + pos + ks] == b"key" {
            key_root = u64_at(d, e + pos + ks) as usize;
        }
    }
    assert_eq!(u16_at(d, key_root * 4096 + 8), 0x01, "the key bucket's root is a branch page");
    let first_leaf = u64_at(d, key_root * 4096 + 16 + 8) as usize;
    assert_eq!(u16_at(d, first_leaf * 4096 + 8), 0x02, "its first child is a leaf");
    Layout { active_meta, hwm, key_root, first_leaf }
}

/// A fixture's bytes with one bit flipped in the last byte of its `key` bucket's last value:
/// every structural check passes, only a snapshot's sha256 trailer (or a changed hash) knows.
pub fn with_last_value_flipped(name: &str) -> Vec<u8> {
    let mut d = bytes(name);
    let at = {
        let view = boltscope::DbView::new(&d).unwrap();
        let kb = boltscope::bbolt::cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let e = boltscope::bbolt::cursor::last(&view, kb).unwrap().unwrap();
        e.value.as_ptr() as usize - d.as_ptr() as usize + e.value.len() - 1
    };
    d[at] ^= 0x01;
    d
}

/// `compact_revision` of `etcdctl endpoint hashkv -w json` against the server restored from the
/// fixture whose stem is `stem` (fixtures/key-answers): the compaction revision etcd's store
/// opened on the file has (-1: never compacted).
pub fn server_compact_revision(stem: &str) -> i64 {
    use base64::Engine;
    let text = std::fs::read_to_string(dir().join(format!("key-answers/{stem}.hashkv.jsonl"))).unwrap();
    let plain = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|c| c["args"] == serde_json::json!(["endpoint", "hashkv", "-w", "json"]))
        .unwrap();
    let out = base64::engine::general_purpose::STANDARD.decode(plain["stdout_b64"].as_str().unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v[0]["HashKV"]["compact_revision"].as_i64().unwrap()
}

/// A fixture's bytes with one page of data written past its high-water mark (a leaf page header
/// and filler), as a transaction that grew the file leaves it before its meta page is written.
pub fn uncommitted_page(name: &str) -> Vec<u8> {
    let mut d = bytes(name);
    let ps = 4096;
    let active = if u64_at(&d, ps + 64) > u64_at(&d, 64) { ps } else { 0 };
    let hwm = u64_at(&d, active + 56) as usize;
    let mut page = vec![0xabu8; ps];
    page[..8].copy_from_slice(&(hwm as u64).to_le_bytes());
    page[8..10].copy_from_slice(&2u16.to_le_bytes());
    d.resize(d.len().max((hwm + 1) * ps), 0);
    d[hwm * ps..(hwm + 1) * ps].copy_from_slice(&page);
    d
}

/// The sha256 trailer of a snapshot made again over its bytes, so that only the damage a test
/// did is wrong with the file.
pub fn reseal(d: &mut [u8]) {
    use sha2::Digest;
    let body = d.len() - 32;
    let sha = sha2::Sha256::digest(&d[..body]);
    d[body..].copy_from_slice(&sha);
}

/// The compaction revision real etcd 3.5.1 reported serving the undamaged fixture `shape`
/// (`endpoint hashkv -w json`, the first case of `key-answers/SHAPE.hashkv.jsonl`).
pub fn served_compaction(shape: &str) -> u64 {
    use base64::Engine;
    let text = std::fs::read_to_string(dir().join(format!("key-answers/{shape}.hashkv.jsonl"))).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["args"], serde_json::json!(["endpoint", "hashkv", "-w", "json"]));
    let out = base64::engine::general_purpose::STANDARD.decode(first["stdout_b64"].as_str().unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v[0]["HashKV"]["compact_revision"].as_u64().unwrap()
}

/// Where the value field's tag (`0x2a`) of an `mvccpb.KeyValue` lies, given where its key's bytes
/// end: past the create revision, mod revision and version (tags `0x10`, `0x18`, `0x20`, each a
/// varint), as etcd writes them; `None` when the bytes are not laid out so.
pub fn value_tag(d: &[u8], key_end: usize) -> Option<usize> {
    let mut j = key_end;
    for tag in [0x10u8, 0x18, 0x20] {
        if *d.get(j)? != tag {
            return None;
        }
        j += 1;
        while *d.get(j)? & 0x80 != 0 {
            j += 1;
        }
        j += 1;
    }
    (*d.get(j)? == 0x2a).then_some(j)
}
