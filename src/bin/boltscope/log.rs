//! `log`: every revision of the selected keys, oldest first: the events `etcdctl watch --rev R`
//! replays from a server holding the file, streamed as JSON lines, watch's simple text, or a table
//! for people.

use crate::exit::Verdict;
use crate::goflag;
use crate::index::Ix;
use crate::keyread::{self, Cached, Failure, ValueArgs};
use boltscope::bbolt::cursor::BucketRoot;
use boltscope::etcd::carve;
use boltscope::etcd::ctl::kv_json;
use boltscope::etcd::events::{self, Event, Options, Replayer};
use boltscope::etcd::header::{RevError, Store};
use boltscope::etcd::history::{Compacted, Judged};
use boltscope::etcd::proto::Kv;
use boltscope::etcd::range::KeyRange;
use boltscope::etcd::scan;
use boltscope::index::keys::{self, rev_key, KeyRevisions};
use boltscope::{input, DbView, Problem};
use clap::{ArgAction, Parser, ValueEnum};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// Arguments of `log`.
#[derive(Parser, Debug)]
// A repeated option: the last one counts, as with etcdctl.
#[command(args_override_self = true)]
pub struct LogArgs {
    /// The etcd file: a snapshot, `member/snap/db`, or either compressed.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The key (every key when absent), and an optional range end (exclusive).
    #[arg(value_name = "KEY [RANGE_END]")]
    pub keys: Vec<OsString>,
    /// Every key starting with KEY.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub prefix: bool,
    /// Start at this revision, as `etcdctl watch --rev R` (refused below the compaction; past the
    /// current revision nothing, as a watch from there replays nothing and waits; read as
    /// etcdctl reads integers: `0x` hex, `0o`/leading-`0` octal, `0b` binary). As with watch, 0
    /// means "from now on" (nothing: the file has no future) and
    /// a negative R is refused as compacted (when the file was never compacted, -1 gives nothing
    /// and -2 and lower are refused, as etcd keeps a compaction revision of -1 then). Without
    /// --rev: every revision the file holds, also those below the compaction that a server could
    /// no longer replay.
    #[arg(long, value_name = "R", allow_hyphen_values = true, value_parser = goflag::parse_i64)]
    pub rev: Option<i64>,
    /// Also the records carved from free pages, each marked (JSON `"source":"free-page"`): history
    /// below the compaction point, where the bytes survive (and `--rev` may start there). Never a
    /// revision the tree still holds.
    #[arg(long)]
    pub include_free: bool,
    /// Read the tree of this meta page (0 or 1) instead of the active one, read-only (the other
    /// describes the previous transaction).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub meta: Option<u8>,
    /// Attach each event's previous value, as `etcdctl watch --prev-kv`.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", value_parser = goflag::parse_bool, value_name = "BOOL", hide_default_value = true)]
    pub prev_kv: bool,
    /// `table` for people (the default), `json` (one event per line), or `simple` (watch's text).
    #[arg(short = 'w', long = "write-out", value_enum, value_name = "FORMAT")]
    pub write_out: Option<LogFormat>,
    /// Decoding and Secrets.
    #[command(flatten)]
    pub value: ValueArgs,
    #[command(flatten)]
    pub hash: keyread::HashArgs,
}

/// `-w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Revision, type, version, value size, size change, lease, key.
    Table,
    /// `{"type":"PUT"|"DELETE","kv":{...}}` per line.
    Json,
    /// `PUT`/`DELETE`, then key and value lines, as `etcdctl watch` prints.
    Simple,
}

/// The keys a watch of these arguments selects, as etcdctl asks and the server reads it: an
/// empty key is the key `\0`; arguments past RANGE_END are ignored (etcdctl uses a range end only
/// when given exactly two); a range end at or before the key is refused by the server.
fn range_of(a: &LogArgs) -> Result<KeyRange, Failure> {
    let Some(key) = a.keys.first().map(|k| k.as_bytes()) else { return Ok(KeyRange::all()) };
    let end = match a.keys.len() {
        2 if a.prefix => {
            return Err(Failure::Usage("`range_end` and `--prefix` are mutually exclusive".into()));
        }
        2 => a.keys.get(1).map(|e| e.as_bytes()),
        _ => None,
    };
    if a.prefix {
        return Ok(KeyRange::prefix(key));
    }
    let key = if key.is_empty() { &b"\0"[..] } else { key };
    match end {
        Some(e) if !e.is_empty() && key >= e => Err(Failure::Etcd("mvcc: watcher range is empty".into())),
        Some(e) => Ok(KeyRange::between(key, e)),
        None => Ok(KeyRange::key(key)),
    }
}

/// One event, rendered.
struct Render<'r> {
    a: &'r LogArgs,
    format: LogFormat,
    withheld: &'r AtomicU64,
}

impl Render<'_> {
    fn json_kv(&self, out: &mut String, kv: &Kv<'_>, delete: bool) {
        if self.a.value.decoding() && !delete {
            kv_json(out, kv, Some(&self.a.value.object(kv.key, kv.value)));
        } else {
            let v = self.a.value.raw(kv.key, kv.value, self.withheld);
            kv_json(out, &Kv { value: &v, ..*kv }, None);
        }
    }

    fn value_text(&self, kv: &Kv<'_>) -> Vec<u8> {
        if self.a.value.decoding() {
            let mut t = self.a.value.object_text(kv.key, kv.value).into_bytes();
            t.pop();
            t
        } else {
            self.a.value.raw(kv.key, kv.value, self.withheld).into_owned()
        }
    }

    fn event(&self, ev: &Event<'_>) -> Vec<u8> {
        let guarded = Event {
            kv: self.a.value.guard(ev.kv, self.withheld),
            prev_kv: ev.prev_kv.map(|p| self.a.value.guard(p, self.withheld)),
            ..*ev
        };
        let ev = &guarded;
        let kind = if ev.is_delete() { "DELETE" } else { "PUT" };
        let free = ev.entry.from_free_page();
        match self.format {
            LogFormat::Json => {
                let mut s = format!("{{\"type\":\"{kind}\",\"kv\":");
                self.json_kv(&mut s, &ev.kv, ev.is_delete());
                if let Some(p) = &ev.prev_kv {
                    s.push_str(",\"prev_kv\":");
                    self.json_kv(&mut s, p, false);
                }
                if free {
                    s.push_str(",\"source\":\"free-page\"");
                }
                s.push_str("}\n");
                s.into_bytes()
            }
            LogFormat::Simple => {
                let mut out = if free { format!("{kind} (free page)\n") } else { format!("{kind}\n") }.into_bytes();
                if let Some(p) = &ev.prev_kv {
                    out.extend_from_slice(p.key);
                    out.push(b'\n');
                    out.extend(self.value_text(p));
                    out.push(b'\n');
                }
                out.extend_from_slice(ev.kv.key);
                out.push(b'\n');
                if !ev.is_delete() {
                    out.extend(self.value_text(&ev.kv));
                }
                out.push(b'\n');
                out
            }
            LogFormat::Table => table_row(ev).into_bytes(),
        }
    }
}

/// The table's heading.
const HEAD: &str = "  REVISION  TYPE    VERSION       SIZE     CHANGE  LEASE             KEY\n";

/// One row: key last, so rows stream without knowing the widest key.
fn table_row(ev: &Event<'_>) -> String {
    let prev_size = ev.previous.filter(|p| !p.rev.tombstone).map(|p| p.kv.value_len as i64);
    let kv = &ev.kv;
    let (version, size, change) = if ev.is_delete() {
        ("-".to_string(), "-".to_string(), prev_size.map_or("?".into(), |p| format!("{:+}", -p)))
    } else {
        let size = kv.value_len as i64;
        let change = match prev_size {
            Some(p) => format!("{:+}", size - p),
            None if kv.create_revision == kv.mod_revision => format!("{size:+}"),
            None => "?".into(),
        };
        ((kv.version as i64).to_string(), size.to_string(), change)
    };
    let lease = if kv.lease == 0 { "-".to_string() } else { boltscope::etcd::ctl::lease_id(kv.lease) };
    let kind = if ev.is_delete() { "DELETE" } else { "PUT" };
    let key = crate::report::show_key_as_is(kv.key);
    let free = if ev.entry.from_free_page() { "  (free page)" } else { "" };
    format!("{:>10}  {kind:<6}  {version:>7}  {size:>9}  {change:>9}  {lease:<16}  {key}{free}\n", ev.entry.rev.main)
}

/// Replays from the index: every revision of the listed keys, fetched in revision order. `Ok(false)`
/// when an entry is not where the index says (nothing was emitted: the caller scans).
fn replay_indexed<'a>(
    view: &DbView<'a>,
    kb: BucketRoot<'a>,
    keys: &[KeyRevisions],
    r: &mut Replayer<'a>,
    floor: u64,
    emit: &mut dyn FnMut(&Event<'a>) -> Result<(), Problem>,
) -> Result<bool, Problem> {
    let mut revs: Vec<_> = keys.iter().flat_map(|k| k.revisions.iter().map(move |r| (*r, k))).collect();
    revs.retain(|(r, _)| r.main >= floor);
    revs.sort_by_key(|(r, _)| (r.main, r.sub));
    let mut entries = Vec::with_capacity(revs.len());
    for (rev, k) in revs {
        match scan::fetch(view, kb, &rev_key(&rev))? {
            Some(e) if e.kv.key == k.key.as_slice() => entries.push(e),
            _ => return Ok(false),
        }
    }
    for e in entries {
        r.feed(e, emit)?;
    }
    r.finish(emit)?;
    Ok(true)
}

/// Where a watch from `rev` starts: 0 is "from now on" (`None`: nothing to replay). A negative
/// revision is below any compaction; in a never-compacted store (compaction revision -1, as etcd
/// keeps it) -1 is not below it and reads nothing (the server reads from the revision's bytes as
/// unsigned, past every key), and -2 and lower are.
fn watch_start(store: &Store, rev: i64) -> Result<Option<u64>, RevError> {
    match rev {
        0 => Ok(None),
        r if r < 0 && (store.compacted.is_some() || r < -1) => Err(RevError::Compacted),
        r if r < 0 => Ok(None),
        // A watch from past the head replays nothing and waits: the file has no future.
        r if u64::try_from(r).is_ok_and(|r| r > store.head) => Ok(None),
        r => store.read_at(r).map(Some),
    }
}

/// Runs `log`.
pub fn run(a: &LogArgs, ix: &Ix) -> Verdict {
    let path = a.file.as_path();
    let range = match range_of(a) {
        Ok(r) => r,
        Err(f) => return keyread::fail(path, &f),
    };
    if a.keys.len() > 2 {
        let extra: Vec<_> = a.keys[1..].iter().map(|k| k.to_string_lossy()).collect();
        errln!(
            "boltscope: ignoring argument(s) after KEY, as etcdctl watch does with more than two: {}",
            extra.join(" ")
        );
    }
    let format = a.write_out.unwrap_or(if a.value.decoding() { LogFormat::Simple } else { LogFormat::Table });
    if format == LogFormat::Table && a.value.decoding() {
        return keyread::fail(path, &Failure::Usage("decoded objects are shown with -w simple or json".into()));
    }
    let file = match input::open(path) {
        Ok(f) => f,
        Err(e) => return keyread::fail(path, &Failure::Unreadable(e)),
    };
    let data = file.bytes();
    let stamp = input::commit_stamp(data);
    let view = match keyread::view(data, a.meta) {
        Ok(v) => v,
        Err(f) => return keyread::fail(path, &f),
    };
    let (store, kb) = match keyread::open_store(&view) {
        Ok(s) => s,
        Err(f) => return keyread::fail(path, &f),
    };
    let from = match a.rev.map(|r| watch_start(&store, r)) {
        None => 0,
        // Nothing: the watch starts after the file's last revision. The bucket is still read
        // (and so checked), with nothing written: a damaged file is no empty answer.
        Some(Ok(None)) => u64::MAX,
        Some(Ok(Some(r))) => r,
        // Below the compaction, free pages may still hold the history.
        Some(Err(RevError::Compacted)) if a.include_free && a.rev.is_some_and(|r| r > 0) => a.rev.unwrap_or(0) as u64,
        Some(Err(e)) => return keyread::fail(path, &Failure::Rev(e)),
    };
    let Some(kb) = kb else { return Verdict::Clean };
    let free = match a.include_free.then(|| carve::free_entries(&view, &range)).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(p) => return keyread::fail(path, &Failure::Damaged(p)),
    };
    let o = Options {
        from,
        compacted: store.compacted,
        prev_kv: a.prev_kv,
        track: format == LogFormat::Table,
        unfinished: store.compacted != store.finished,
    };
    let withheld = AtomicU64::new(0);
    let render = Render { a, format, withheld: &withheld };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, crate::out::stdout());
    if format == LogFormat::Table && from != u64::MAX {
        let _ = out.write_all(HEAD.as_bytes());
    }
    let mut wrote = false;
    let mut emit = |ev: &Event<'_>| {
        wrote = true;
        keyread::emit(&mut out, &render.event(ev))
    };
    let res = (|| -> Result<(Judged, Vec<Problem>), Problem> {
        let cached = if a.include_free || a.meta.is_some() {
            Cached::Miss(None)
        } else {
            keyread::lookup(ix, path, data, &range)
        };
        let build = match cached {
            Cached::Hit(keys, beside, id) => {
                let floor = if o.track || o.prev_kv { 0 } else { from };
                let mut r = Replayer::new(range.clone(), o);
                if replay_indexed(&view, kb, &keys, &mut r, floor, &mut emit)? {
                    return Ok((keys::judge(&keys, Compacted::read(&view)), beside.issues(data, a.meta, a.hash)));
                }
                Some(id)
            }
            Cached::Miss(build) => build,
        };
        let mut pairs = keyread::collector(build);
        let judged =
            events::replay_with(&view, kb, &range, o, pairs.as_mut().map(|b| &mut b.records), &free, &mut emit)?;
        let issues = keyread::file_issues(data, a.meta, a.hash);
        // A bucket missing revisions gets no key index (a warm answer could not tell it).
        let pairs = pairs.filter(|_| judged.holes.is_none());
        keyread::remember(ix, path, data, pairs, &issues);
        Ok((judged, issues))
    })();
    let flushed = out.flush();
    keyread::streamed(path, data, &stamp, res, (flushed, wrote), &withheld)
        .max(keyread::tell_remembered(path, ix.failure(path, data)))
}
