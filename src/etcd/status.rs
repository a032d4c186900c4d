//! `etcdutl snapshot status`: HASH, REVISION, TOTAL KEYS, TOTAL SIZE (and VERSION for 3.6),
//! computed in one parallel pass that also checks the structure, and printed byte for byte as
//! etcdutl prints them.

use super::crc;
use super::records::RecordCheck;
use super::{key_fingerprint, proto, revision, FpSet, KEY_BUCKET, META_BUCKET, STORAGE_VERSION};
use crate::bbolt::cursor;
use crate::bbolt::page::LeafElem;
use crate::bbolt::structure::{walk, Structure};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{shown_key, Ctx, Fold, Leaf, Pair};
use crate::error::Error;
use crate::problem::{Problem, ProblemKind, MAX_PROBLEMS};
use crc32c::crc32c_append;

/// Which etcd release's semantics to follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EtcdVersion {
    /// 3.6 when the file has `meta/storageVersion`, else 3.5.
    #[default]
    Auto,
    /// etcdctl 3.4: every pair in every bucket counts as a key.
    V34,
    /// etcdutl 3.5: as 3.4.
    V35,
    /// etcdutl 3.6: live user keys, plus a VERSION column.
    V36,
}

/// The figures `snapshot status` prints.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// CRC-32C over every top-level bucket's name, keys and values, in order.
    pub hash: u32,
    /// Main revision of the last key in the `key` bucket (0 without one).
    pub revision: i64,
    /// Key count under the chosen semantics.
    #[serde(rename = "totalKey")]
    pub total_key: u64,
    /// `meta.pgid * pageSize`.
    #[serde(rename = "totalSize")]
    pub total_size: u64,
    /// `meta/storageVersion` (3.6 semantics only; `Some("")` when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// The status figures as boltscope's own JSON names them (snake_case, the hash in hex as
/// etcdutl prints it in its table), for reports that are not etcdutl's output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// etcdutl's HASH, lowercase hex.
    pub hash: String,
    /// etcdutl's REVISION.
    pub revision: i64,
    /// etcdutl's TOTAL KEYS.
    pub total_keys: u64,
    /// etcdutl's TOTAL SIZE in bytes.
    pub total_size: u64,
}

impl From<&Status> for Figures {
    fn from(s: &Status) -> Figures {
        Figures {
            hash: format!("{:x}", s.hash),
            revision: s.revision,
            total_keys: s.total_key,
            total_size: s.total_size,
        }
    }
}

/// A status answer together with the structure report of the same pass.
#[derive(Clone, Debug)]
pub struct StatusReport {
    /// The figures; meaningful only when `structure.is_clean()`.
    pub status: Status,
    /// Problems and page accounting.
    pub structure: Structure,
}

/// The running hash over a stretch of entries, joinable in order.
#[derive(Clone, Copy, Debug, Default)]
pub struct HashAcc {
    crc: u32,
    len: u64,
    keys: u64,
    last_rev: Option<u64>,
}

impl HashAcc {
    /// The CRC-32C so far (etcdutl's HASH once the whole file is folded).
    pub fn crc(&self) -> u32 {
        self.crc
    }

    fn add(&mut self, b: &[u8]) {
        self.crc = crc32c_append(self.crc, b);
        self.len += b.len() as u64;
    }
}

/// The [`Fold`] computing etcdutl's hash, key count and revision.
pub struct StatusFold;

impl Fold for StatusFold {
    type Acc = HashAcc;

    fn empty(&self) -> HashAcc {
        HashAcc::default()
    }

    fn join(&self, l: HashAcc, r: HashAcc) -> HashAcc {
        HashAcc {
            crc: crc::combine(l.crc, r.crc, r.len),
            len: l.len + r.len,
            keys: l.keys + r.keys,
            last_rev: r.last_rev.or(l.last_rev),
        }
    }

    fn leaf(&self, acc: &mut HashAcc, ctx: &Ctx<'_>, leaf: &Leaf<'_>) {
        if ctx.depth != 1 {
            return;
        }
        match leaf.packed {
            Some(kv) => acc.add(kv),
            None => leaf.elems().for_each(|e| {
                acc.add(e.key);
                acc.add(e.value);
            }),
        }
        acc.keys += leaf.count as u64;
        if ctx.top == KEY_BUCKET {
            acc.last_rev = revision::main_of(leaf.last.key).or(acc.last_rev);
        }
    }

    fn entry(&self, acc: &mut HashAcc, ctx: &Ctx<'_>, e: &LeafElem<'_>) {
        match ctx.depth {
            // A top-level bucket: its name, then (in `bucket`) its contents.
            0 => acc.add(e.key),
            // bbolt's ForEach hands a nested bucket's key with a nil value.
            1 => {
                acc.add(e.key);
                if !e.is_bucket() {
                    acc.add(e.value);
                }
                acc.keys += 1;
                if ctx.top == KEY_BUCKET {
                    acc.last_rev = revision::main_of(e.key).or(acc.last_rev);
                }
            }
            _ => {}
        }
    }

    fn bucket(&self, acc: &mut HashAcc, ctx: &Ctx<'_>, _e: &LeafElem<'_>, sub: HashAcc) {
        if ctx.depth == 0 {
            *acc = self.join(*acc, sub);
        }
    }
}

/// Computes the status figures of a file in one pass, together with its structure report.
pub fn status(view: &DbView<'_>, version: EtcdVersion) -> Result<StatusReport, Error> {
    let records = RecordCheck::for_view(view);
    let ((acc, mut found), mut structure) = walk(view, &Pair(&StatusFold, &records));
    records.finish(&mut found);
    // etcd's record invariants do not change the figures, but a file that breaks them is not
    // clean: the same verdict `check` gives.
    structure.problem_total += found.total;
    structure.problems.extend(found.problems);
    // A compaction revision too short to be one: etcd stops on it, and every figure resting on the
    // compactions is withheld (`check` fails the file for it; its other `meta` and small-bucket
    // errors are the caller's: `compact` leaves out what it drops, the `status` command adds
    // them with [`super::startup::status_misses`]).
    let short = super::schema::compactions_unreadable(view).filter(|p| p.kind == ProblemKind::EtcdMetaMalformed);
    if let Some(p) = short.filter(|_| super::schema::is_etcd(view)) {
        structure.problem_total += 1;
        structure.problems.push(p);
    }
    // Bytes past the high-water mark that no tool expects: a snapshot cut or appended to.
    if let Some(p) = super::trailer::tail_problem(view).filter(|p| !p.kind.is_warning()) {
        structure.problem_total += 1;
        structure.problems.push(p);
    }
    structure.problems.truncate(MAX_PROBLEMS);
    let mut st = Status {
        hash: acc.crc,
        revision: acc.last_rev.unwrap_or(0) as i64,
        total_key: acc.keys,
        total_size: view.total_size(),
        version: None,
    };
    // 3.6's figures need the tree read whole (record problems do not change them).
    let whole = structure.problems.len() as u64 == structure.problem_total
        && !structure.problems.iter().any(|p| p.kind.affects_figures());
    if whole {
        let stored = storage_version(view).unwrap_or(None);
        let v36 = match version {
            EtcdVersion::V36 => true,
            EtcdVersion::Auto => stored.is_some(),
            EtcdVersion::V34 | EtcdVersion::V35 => false,
        };
        if v36 {
            st.version = Some(stored.unwrap_or_default());
            match live_keys(view) {
                Ok(n) => st.total_key = n,
                Err(p) => {
                    structure.problems.push(p);
                    structure.problem_total += 1;
                }
            }
        }
    }
    Ok(StatusReport { status: st, structure })
}

/// `meta/storageVersion`, when the file has it.
pub fn storage_version(view: &DbView<'_>) -> Result<Option<String>, Problem> {
    let Some(meta) = cursor::top_bucket(view, META_BUCKET)? else {
        return Ok(None);
    };
    Ok(cursor::get(view, meta, STORAGE_VERSION)?
        .filter(|e| !e.is_bucket())
        .map(|e| String::from_utf8_lossy(e.value).into_owned()))
}

/// 3.6's TOTAL KEYS: distinct user keys whose newest record is not a tombstone. Records are in
/// revision order, so a put adds its key and a tombstone removes it. Keys are held as 128-bit
/// fingerprints (16 bytes each, whatever the key length): a collision needs ~2^64 keys.
pub fn live_keys(view: &DbView<'_>) -> Result<u64, Problem> {
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET)? else {
        return Ok(0);
    };
    let mut live = FpSet::default();
    let mut bad = None;
    cursor::for_each(view, kb, &mut |e| {
        let tomb = revision::is_tombstone(e.key);
        match proto::kv_key(e.value) {
            Some(k) if tomb => {
                live.remove(&key_fingerprint(k));
            }
            Some(k) => {
                live.insert(key_fingerprint(k));
            }
            None => {
                bad.get_or_insert_with(|| {
                    format!("value of revision {} is not a KeyValue", shown_key(KEY_BUCKET, e.key))
                });
            }
        }
    })?;
    match bad {
        Some(msg) => Err(Problem::new(ProblemKind::InvalidKeyValue, msg).bucket(vec!["key".into()])),
        None => Ok(live.len() as u64),
    }
}

/// The output formats of `snapshot status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `hash, revision, keys, size`.
    Simple,
    /// A tablewriter box.
    Table,
    /// One JSON object.
    Json,
    /// `"Hash" : N` lines.
    Fields,
}

/// Renders a status exactly as etcdutl prints it (including the final newline).
pub fn render(st: &Status, format: Format) -> String {
    let size = super::humanize::bytes(st.total_size);
    let mut cells = vec![format!("{:x}", st.hash), st.revision.to_string(), st.total_key.to_string(), size];
    let mut heads = vec!["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"];
    if let Some(v) = &st.version {
        cells.push(v.clone());
        heads.push("VERSION");
    }
    match format {
        Format::Simple => format!("{}\n", cells.join(", ")),
        Format::Json => format!("{}\n", serde_json::to_string(st).unwrap_or_default()),
        Format::Fields => {
            let mut s = format!(
                "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
                st.hash, st.revision, st.total_key, st.total_size
            );
            if let Some(v) = &st.version {
                s.push_str(&format!("\"Version\" : {v}\n"));
            }
            s
        }
        Format::Table => table(&heads, &cells),
    }
}

/// A tablewriter box as etcdutl draws it: headers centred, data cells right-aligned, one space of
/// padding.
pub fn table(heads: &[&str], cells: &[String]) -> String {
    let widths: Vec<usize> = heads.iter().zip(cells).map(|(h, c)| h.len().max(c.len())).collect();
    let line: String = widths.iter().map(|w| format!("+{}", "-".repeat(w + 2))).collect::<String>() + "+\n";
    let mut head = String::new();
    for (h, w) in heads.iter().zip(&widths) {
        let pad = w - h.len();
        let (l, r) = (pad / 2, pad - pad / 2);
        head.push_str(&format!("| {}{}{} ", " ".repeat(l), h, " ".repeat(r)));
    }
    let mut row = String::new();
    for (c, w) in cells.iter().zip(&widths) {
        row.push_str(&format!("| {c:>w$} "));
    }
    format!("{line}{head}|\n{line}{row}|\n{line}")
}
