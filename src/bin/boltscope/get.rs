//! `get`: `etcdctl get` answered from the file, with etcdctl's options and output, byte for byte
//! (fixtures/key-answers/FORMATS.md), or the values decoded as Kubernetes objects.

use crate::exit::Verdict;
use crate::get_render::render;
use crate::goflag;
use crate::index::Ix;
use crate::keyread::{self, Beside, Cached, Failure, ValueArgs};
use boltscope::bbolt::cursor::BucketRoot;
use boltscope::etcd::carve;
use boltscope::etcd::header::RevError;
use boltscope::etcd::history::{Compacted, Judged};
use boltscope::etcd::range::{latest_by_scan, KeyRange, Options, Ranged, SortOrder, SortTarget};
use boltscope::etcd::scan::{self, Entry};
use boltscope::index::keys::{self, rev_key, KeyRevisions};
use boltscope::{input, DbView, Problem};
use clap::{ArgAction, Parser};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

/// Arguments of `get`: etcdctl's, plus the file and the decoding options.
#[derive(Parser, Debug)]
// A repeated option: the last one counts, as with etcdctl.
#[command(args_override_self = true)]
pub struct GetArgs {
    /// The etcd file: a snapshot, `member/snap/db`, or either compressed.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The key, and an optional range end (exclusive), as `etcdctl get` takes them.
    #[arg(value_name = "KEY [RANGE_END]", allow_hyphen_values = false)]
    pub keys: Vec<OsString>,
    /// Every key starting with KEY.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub prefix: bool,
    /// Every key from KEY on (byte order).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub from_key: bool,
    /// Read at this revision (0: the current one). Integers are read as etcdctl reads them: `0x`
    /// hex, `0o` or leading-`0` octal, `0b` binary, `_` between digits.
    #[arg(long, default_value_t = 0, value_name = "R", allow_hyphen_values = true, value_parser = goflag::parse_i64)]
    pub rev: i64,
    /// Return at most N keys. With --sort-by other than KEY and no --order, the server sorts only
    /// the first N+1 keys of the range (key order), as etcd 3.5 does.
    #[arg(long, default_value_t = 0, value_name = "N", allow_hyphen_values = true, value_parser = goflag::parse_i64)]
    pub limit: i64,
    /// Keys and their revisions only, no values.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub keys_only: bool,
    /// Only the count (needs `-w fields`, as in etcdctl).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub count_only: bool,
    /// Values only (`-w simple`).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub print_value_only: bool,
    /// Keys and values as `\xNN` bytes (`-w simple`).
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub hex: bool,
    /// Sort by KEY, CREATE, MODIFY, VERSION or VALUE.
    #[arg(long, default_value = "", value_name = "TARGET", hide_default_value = true)]
    pub sort_by: String,
    /// ASCEND or DESCEND.
    #[arg(long, default_value = "", value_name = "ORDER", hide_default_value = true)]
    pub order: String,
    /// etcdctl's `l` or `s`: accepted and checked, meaningless offline.
    #[arg(long, default_value = "l", value_name = "C")]
    pub consistency: String,
    /// Also the records carved from free pages: a read below the compaction point (refused
    /// otherwise) sees the newest record at or below R of each key, wherever the bytes survive.
    /// `-w json` marks such a key (`"source":"free-page"`); the others are counted on stderr. Never
    /// over a record the tree holds.
    #[arg(long)]
    pub include_free: bool,
    /// Read the tree of this meta page (0 or 1) instead of the active one, read-only (the other
    /// describes the previous transaction).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub meta: Option<u8>,
    /// simple, json, fields or protobuf (etcdctl's formats).
    #[arg(short = 'w', long = "write-out", default_value = "simple", value_name = "FORMAT")]
    pub write_out: String,
    /// Decoding and Secrets.
    #[command(flatten)]
    pub value: ValueArgs,
    #[command(flatten)]
    pub hash: keyread::HashArgs,
}

/// The request, checked as etcdctl checks it (same messages, same order).
fn request(a: &GetArgs) -> Result<(KeyRange, Options), Failure> {
    let bad = |m: &str| Failure::Usage(m.to_string());
    let Some(key) = a.keys.first().map(|k| k.as_bytes()) else {
        return Err(bad("get command needs one argument as key and an optional argument as range_end"));
    };
    if a.prefix && a.from_key {
        return Err(bad("`--prefix` and `--from-key` cannot be set at the same time, choose one"));
    }
    if a.keys_only && a.count_only {
        return Err(bad("`--keys-only` and `--count-only` cannot be set at the same time, choose one"));
    }
    if a.consistency != "l" && a.consistency != "s" {
        return Err(Failure::Usage(format!("unknown consistency flag {:?}", a.consistency)));
    }
    // Arguments past RANGE_END are ignored, as etcdctl ignores them (`run` notes it).
    if a.keys.len() > 1 && (a.prefix || a.from_key) {
        return Err(bad("too many arguments, only accept one argument when `--prefix` or `--from-key` is set"));
    }
    let order = match a.order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => return Err(Failure::Usage(format!("bad sort order {}", a.order))),
    };
    let target = match a.sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Modify,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => return Err(Failure::Usage(format!("bad sort target {}", a.sort_by))),
    };
    // etcdctl makes its printer before it sends the request: a format it has none for (they are
    // lower case) is refused before anything the server would say (review 45b).
    if !matches!(a.write_out.as_str(), "simple" | "json" | "protobuf" | "fields" | "table") {
        return Err(bad("unsupported output format"));
    }
    let range = match (a.prefix, a.from_key, a.keys.get(1)) {
        (true, _, _) => KeyRange::prefix(key),
        (_, true, _) => KeyRange::from_key(key),
        (_, _, Some(end)) => KeyRange::between(key, end.as_bytes()),
        _ => KeyRange::key(key),
    };
    if range.start.is_empty() {
        return Err(Failure::Etcd("etcdserver: key is not provided".into()));
    }
    // etcdctl's client sends no order for KEY ascending: key order is the server's own.
    let order = if target == SortTarget::Key && order == SortOrder::Ascend { SortOrder::None } else { order };
    let limit = u64::try_from(a.limit).unwrap_or(0);
    Ok((range, Options { limit, target, order, keys_only: a.keys_only, count_only: a.count_only }))
}

/// The newest entry at or below `rev` of each key the index lists, fetched one by one; `None`
/// when an entry is not where the index says (the caller scans instead).
fn latest_from_index<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    keys: &[KeyRevisions],
    rev: u64,
) -> Result<Option<Vec<Entry<'a>>>, Problem> {
    let mut out = Vec::new();
    for k in keys {
        let at = k.revisions.partition_point(|r| r.main <= rev);
        let Some(r) = at.checked_sub(1).and_then(|i| k.revisions.get(i)) else { continue };
        match scan::fetch(view, kb, &rev_key(r))? {
            Some(e) if e.kv.key == k.key.as_slice() => out.push(e),
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The whole answer from the file's bytes, what a full scan collected for the key index, and what
/// holding the selected keys' histories to etcd's rules found.
fn answer<'a>(a: &GetArgs, ix: &Ix, path: &Path, data: &'a [u8], withheld: &AtomicU64) -> Result<Answer<'a>, Failure> {
    withheld.store(0, std::sync::atomic::Ordering::Relaxed);
    let (range, opts) = request(a)?;
    let view = keyread::view(data, a.meta)?;
    let (store, kb) = keyread::open_store(&view)?;
    let rev = match store.read_at(a.rev) {
        // Below the compaction, free pages may still hold the records.
        Err(RevError::Compacted) if a.include_free => a.rev as u64,
        r => r.map_err(Failure::Rev)?,
    };
    let mut collected = None;
    let mut judged = Judged::default();
    let mut beside = Beside::Walk;
    let latest = match kb {
        None => Vec::new(),
        Some(kb) => {
            let cached = if a.include_free || a.meta.is_some() {
                Cached::Miss(None)
            } else {
                keyread::lookup(ix, path, data, &range)
            };
            let (warm, build) = match cached {
                Cached::Hit(keys, vouched, id) => {
                    // An entry not where the index says makes the index suspect: rebuild it.
                    let l = latest_from_index(&view, kb, &keys, rev)?;
                    judged = keys::judge(&keys, Compacted::read(&view));
                    let stale = l.is_none();
                    if !stale {
                        beside = vouched;
                    }
                    (l, stale.then_some(id))
                }
                Cached::Miss(build) => (None, build),
            };
            match warm {
                Some(l) => l,
                None => {
                    collected = keyread::collector(build);
                    let (l, j) = latest_by_scan(&view, kb, &range, rev, collected.as_mut().map(|b| &mut b.records))?;
                    // A bucket missing revisions gets no key index: a warm answer (from one key's
                    // revisions) could not tell it, every answer scans and tells it.
                    if j.holes.is_some() {
                        collected = None;
                    }
                    judged = j;
                    l
                }
            }
        }
    };
    let (latest, free) =
        if a.include_free && kb.is_some() { with_free(&view, &range, rev, latest)? } else { (latest, Vec::new()) };
    let mut ranged = Ranged::from_latest(latest, &opts);
    ranged.kvs.iter_mut().for_each(|kv| *kv = a.value.guard(*kv, withheld));
    let shown = ranged.kvs.iter().filter(|kv| free.contains(&(kv.key, kv.mod_revision))).count();
    if shown > 0 && a.write_out != "json" {
        errln!("boltscope: {shown} key(s) shown were read from free pages (-w json marks them)");
    }
    let out = render(a, &store.header, &ranged, withheld, &free)?;
    let guessed = store.members > 1 || store.members_removed > 0 || store.conf_differs;
    let guessed_ids = (guessed && a.write_out != "simple").then_some(store);
    Ok(Answer { out, collected, judged, beside, guessed_ids })
}

/// Says why the header's ids may not be the server's (stderr).
fn note_ids(store: &boltscope::etcd::header::Store) {
    let (n, removed) = (store.members, store.members_removed);
    if n > 1 || removed > 0 {
        errln!(
            "boltscope: note: the file holds {n} member(s) and {removed} removed: the header's member_id is the \
             lowest of them (a file does not say which member wrote it), and its cluster_id is etcd's rule over \
             them, right only if they bootstrapped the cluster together (a member added or removed since changes \
             it)"
        );
    }
    if store.conf_differs {
        errln!(
            "boltscope: note: the file's `members` bucket and raft's configuration (meta/confState) name different \
             members, as in a cluster restored under another member name or peer URL and in its later backups: one \
             of them is stale, so the header's member_id and cluster_id (from the `members` bucket) may be another \
             cluster's"
        );
    }
}

/// An answer, and what is left to do once it is out.
struct Answer<'a> {
    /// The answer's text.
    out: Vec<u8>,
    /// The records of a full scan, to build the key index from.
    collected: Option<keyread::Building<'a>>,
    /// The histories of the keys read, judged.
    judged: Judged,
    /// Whether the rest of the file must be walked for what `check` fails it for.
    beside: Beside,
    /// The file's store facts, when the header shown names a cluster and member id that the file
    /// cannot vouch for (more than one member, any removed, or raft's configuration naming others).
    guessed_ids: Option<boltscope::etcd::header::Store>,
}

/// The newest record at or below `rev` of each key, the tree's `latest` completed with the
/// records carved from free pages (never over one of the tree's: a carved record is newer than the
/// tree's entry of its key only where the tree lost it to compaction). Returns them and the keys
/// (with mod revisions) taken from free pages.
#[allow(clippy::type_complexity)]
fn with_free<'a>(
    view: &DbView<'a>,
    range: &KeyRange,
    rev: u64,
    latest: Vec<Entry<'a>>,
) -> Result<(Vec<Entry<'a>>, Vec<(&'a [u8], u64)>), Failure> {
    let free = carve::free_entries(view, range)?;
    let mut newest: std::collections::HashMap<&'a [u8], Entry<'a>> =
        latest.into_iter().map(|e| (e.kv.key, e)).collect();
    for e in free.into_iter().filter(|e| e.rev.main <= rev) {
        match newest.get(e.kv.key) {
            Some(t) if t.rev >= e.rev => {}
            _ => {
                newest.insert(e.kv.key, e);
            }
        }
    }
    let from_free = newest
        .values()
        .filter(|e| e.from_free_page() && !e.rev.tombstone)
        .map(|e| (e.kv.key, e.kv.mod_revision))
        .collect();
    Ok((newest.into_values().collect(), from_free))
}

/// Runs `get`: prints the answer (read again when a live etcd committed meanwhile, up to
/// [`input::RETRIES`] times), or etcd's refusal; then records the key index when the read was a
/// full scan of an unchanging file.
pub fn run(a: &GetArgs, ix: &Ix) -> Verdict {
    let path = a.file.as_path();
    if a.keys.len() > 2 && !a.prefix && !a.from_key {
        let extra: Vec<_> = a.keys[2..].iter().map(|k| k.to_string_lossy()).collect();
        errln!("boltscope: ignoring argument(s) after RANGE_END, as etcdctl does: {}", extra.join(" "));
    }
    let withheld = AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let file = match input::open(path) {
            Ok(f) => f,
            Err(e) => return keyread::fail(path, &Failure::Unreadable(e)),
        };
        let data = file.bytes();
        let stamp = input::commit_stamp(data);
        let Answer { out, collected, judged, beside, guessed_ids } = match answer(a, ix, path, data, &withheld) {
            Ok(x) => x,
            Err(f) => return keyread::fail(path, &f),
        };
        let stable = input::commit_stamp(data) == stamp;
        attempt += 1;
        if !stable && attempt <= input::RETRIES {
            continue;
        }
        // The answer first; the index after.
        let mut stdout = crate::out::stdout();
        let _ = keyread::emit(&mut stdout, &out);
        let _ = stdout.flush();
        drop(stdout);
        keyread::note_withheld(&withheld);
        if let Some(store) = guessed_ids {
            note_ids(&store);
        }
        if !stable {
            return keyread::torn(path);
        }
        let issues = beside.issues(data, a.meta, a.hash);
        keyread::remember(ix, path, data, collected, &issues);
        return keyread::judged(path, &judged)
            .max(keyread::tell_file_issues(path, &issues))
            .max(keyread::tell_remembered(path, ix.failure(path, data)));
    }
}
