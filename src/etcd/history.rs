//! etcd's invariants over one key's history: what the `key` bucket can hold after etcd wrote it,
//! so a stale page put in the tree (a branch pointing at an old leaf that starts with the same
//! revision, a misdirected write) is damage even though every page and every record reads well.
//!
//! For a key, in revision order, with `F` the finished compaction and `S` the larger of the
//! finished and scheduled ones (ETCD-FORMAT.md section 6):
//! - compaction at `F` kept at most one record at or below `F`, and never a tombstone below `F`
//!   (a generation that ended below `F` is dropped whole; a tombstone exactly at `F` is kept since
//!   etcd 3.4.34/3.5.16, deleted before);
//! - a put right after a tombstone starts a generation (version 1: create revision = its own), a
//!   put right after a put continues one (create revision earlier than its own), and a tombstone
//!   follows a put, never another tombstone;
//! - the key's oldest record, when above `S`, is the put that created it (no compaction may have
//!   removed what came before it), or a record `etcdctl migrate` wrote for a v2 key (version 1 at
//!   sub revision 0, whatever its create revision: review 47b, a v2 key updated before the
//!   migration was called broken) ([`starts_generation`]);
//! - a put right after a put keeps its create revision and has the next version. Each put carries
//!   a signature of the two below a prime, 65,521 ([`generation_sig`]), linear in the version, so
//!   the step is one comparison held in 16 bits: a version or create revision rewritten in a record
//!   that still decodes (5 to 50) breaks it, and so does any one bit flipped in either (a power of
//!   two is no multiple of the prime: review 47b, with 2^16 every flip from bit 16 up passed); a
//!   rewrite that lands on the same signature, about one in 65,521, passes.
//!
//! A compaction deletes in revision order, so one interrupted before it finished (`S > F`) still
//! leaves a history these rules accept. Histories are reduced piecewise ([`History::then`]), so
//! the in-memory replay and the bounded passes (which fold a key's records a stretch at a time)
//! reach the same verdict.

/// The compactions a file records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    /// `finishedCompactRev` (0 when none): every record compaction at it deletes is gone.
    pub finished: u64,
    /// The larger of `finishedCompactRev` and `scheduledCompactRev` (0 when neither): records at
    /// or below it may be missing.
    pub upto: u64,
    /// Whether the `meta` bucket could not be read for them ([`super::schema::compactions_unreadable`]):
    /// then no judgement resting on them is made (no revision missing above them, no history).
    pub unknown: bool,
}

impl Compacted {
    /// The compactions `info` records. etcd commits the scheduled revision before it deletes and
    /// the finished one after, so a finished compaction past the scheduled one is a malformed
    /// `meta` bucket (reported as such): only what both say is taken as finished.
    pub fn of(info: &super::schema::EtcdInfo) -> Compacted {
        let scheduled = info.scheduled_compact_revision;
        let finished = info.finished_compact_revision.unwrap_or(0).min(scheduled.unwrap_or(u64::MAX));
        Compacted { finished, upto: finished.max(scheduled.unwrap_or(0)), unknown: info.compactions_unreadable }
    }

    /// The compactions `view`'s `meta` bucket records (none for a file without one).
    pub fn read(view: &crate::bbolt::view::DbView<'_>) -> Compacted {
        Compacted::of(&Compacted::info(view))
    }

    /// The `meta` bucket's facts, read as of the newest revision of the `key` bucket.
    fn info(view: &crate::bbolt::view::DbView<'_>) -> super::schema::EtcdInfo {
        let last = super::schema::newest_revision(view).ok().flatten().unwrap_or(0);
        super::schema::read_core(view, last)
    }
}

/// What a reader that held the histories of the keys it read to the rules found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    /// Keys whose history breaks a rule.
    pub broken: u64,
    /// The compactions they were judged against.
    pub compacted: Compacted,
    /// Some of those keys, in key order (at most [`NAMED`]; none from a pass that knows only
    /// their fingerprints).
    pub named: Vec<Vec<u8>>,
    /// Records read but not judged: past [`MAX_JUDGED`] keys, a [`Judge`] folds only the records
    /// of the keys it holds.
    pub unjudged: u64,
    /// Revisions missing above the compaction, from a reader that read every record
    /// ([`super::continuity`]): damage, or the warning that the holes are as a migration from
    /// etcd v2 leaves them ([`crate::problem::ProblemKind::is_warning`]).
    pub holes: Option<crate::problem::Problem>,
}

/// Most keys a [`Judged`] names.
pub const NAMED: usize = 3;

impl Judged {
    /// `check`'s problem for the broken histories, if any, naming the keys it knows (escaped as
    /// Go quotes bytes, so a key cannot forge a line).
    pub fn problem(&self) -> Option<crate::problem::Problem> {
        if self.broken == 0 || self.compacted.unknown {
            return None;
        }
        let mut p = problem(self.broken, &self.compacted);
        if !self.named.is_empty() {
            let keys: Vec<String> = self.named.iter().map(|k| named_key(k)).collect();
            let more = if self.broken > self.named.len() as u64 { ", ..." } else { "" };
            p.message = format!("{} (keys {}{more})", p.message, keys.join(", "));
        }
        Some(p)
    }

    /// The verdict on keys judged against `c` of which `bad` broke a rule: their count, and the
    /// first [`NAMED`] of them in key order.
    pub fn of(c: Compacted, mut bad: Vec<&[u8]>) -> Judged {
        bad.sort_unstable();
        let named = bad.iter().take(NAMED).map(|k| k.to_vec()).collect();
        Judged { broken: bad.len() as u64, compacted: c, named, unjudged: 0, holes: None }
    }
}

/// A key as a message names it: Go-quoted, unless its bytes begin as a stored Kubernetes object
/// (protobuf `k8s\0`, CBOR `d9 d9 f7`, or JSON `{`): that is a value read as a key (a damaged
/// record: etcd's decoder keeps the last key field) and may be a Secret's data, so only its
/// length is told.
fn named_key(k: &[u8]) -> String {
    let object = k.starts_with(b"k8s\0")
        || k.starts_with(&[0xd9, 0xd9, 0xf7])
        || k.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    match object {
        true => format!("<{} bytes read as a stored object: not shown>", k.len()),
        false => super::goquote::quote(k),
    }
}

/// The prime the signatures are taken modulo: the largest below 2^16.
const SIG_PRIME: u64 = 65_521;
/// The create revision's weight in a signature (any number the prime does not divide).
const CREATE_WEIGHT: u64 = 40_503;

/// A put's create revision and version folded below the prime 65,521, so that the put continuing its
/// generation (same create revision, version one more) has the signature after its own
/// ([`sig_after`]). Changing either by anything but a multiple of the prime changes it.
pub fn generation_sig(create_revision: u64, version: u64) -> u16 {
    let c = create_revision % SIG_PRIME * CREATE_WEIGHT % SIG_PRIME;
    ((c + version % SIG_PRIME) % SIG_PRIME) as u16
}

/// The signature of the put that continues the generation of a put signed `sig`.
pub fn sig_after(sig: u16) -> u16 {
    ((u64::from(sig) + 1) % SIG_PRIME) as u16
}

/// How far signature `b` lies after `a` (mod the prime): 0 when `b` is [`sig_after`] `a`.
pub fn sig_step(a: u16, b: u16) -> u64 {
    (u64::from(b) + SIG_PRIME - u64::from(sig_after(a)) % SIG_PRIME) % SIG_PRIME
}

/// The signature [`sig_step`] `step` after `a`; `None` for a step no signature takes.
pub fn sig_stepped(a: u16, step: u64) -> Option<u16> {
    (step < SIG_PRIME).then(|| ((u64::from(sig_after(a)) + step) % SIG_PRIME) as u16)
}

/// Whether a decoded record starts a generation of its key: a put whose create revision is its own
/// (version 1), or one `etcdctl migrate` wrote for a v2 key (version 1 at sub revision 0, its create
/// revision the v2 key's, earlier when the key was updated before the migration).
pub fn starts_generation(rev: &super::revision::Revision, kv: &super::proto::Kv<'_>) -> bool {
    !rev.tombstone && kv.version == 1 && (kv.create_revision == rev.main || rev.sub == 0)
}

/// What one record tells its key's history: its main revision, whether it is a tombstone,
/// whether it is a put that starts a generation ([`starts_generation`]), and for a put its
/// [`generation_sig`] (0 for a tombstone).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Main revision.
    pub main: u64,
    /// A tombstone.
    pub tomb: bool,
    /// A put that starts a generation ([`starts_generation`]).
    pub fresh: bool,
    /// [`generation_sig`] of a put.
    pub sig: u16,
}

impl Step {
    /// The step of a decoded record at `rev`.
    pub fn of(rev: &super::revision::Revision, kv: &super::proto::Kv<'_>) -> Step {
        let tomb = rev.tombstone;
        Step { main: rev.main, tomb, fresh: starts_generation(rev, kv), sig: put_sig(kv, tomb) }
    }
}

/// The [`generation_sig`] of a decoded record: 0 for a tombstone.
pub fn put_sig(kv: &super::proto::Kv<'_>, tomb: bool) -> u16 {
    if tomb {
        0
    } else {
        generation_sig(kv.create_revision, kv.version)
    }
}

/// The first record was a put that starts a generation ([`starts_generation`]).
const FRESH: u64 = 1 << 63;
/// The first record was a tombstone.
const TOMB: u64 = 1 << 62;
/// The first record's main revision (clamped below the flags).
const MAIN: u64 = TOMB - 1;
/// A tombstone below the finished compaction was seen.
const TOMB_BELOW: u16 = 1 << 15;

/// One key's history (or a stretch of it), reduced to what the invariants need: 16 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// The oldest record: main revision and flags.
    first: u64,
    /// Records at or below the finished compaction (saturating), with [`TOMB_BELOW`].
    low: u16,
    /// Steps between consecutive records that break a rule (saturating).
    broken: u16,
    /// The oldest record's [`generation_sig`].
    first_sig: u16,
    /// The newest record's.
    last_sig: u16,
}

impl History {
    /// The history of one record.
    pub fn record(s: Step, c: &Compacted) -> History {
        let mut low = 0;
        if s.main <= c.finished {
            low = 1;
            if s.tomb && s.main < c.finished {
                low |= TOMB_BELOW;
            }
        }
        let flags = if s.tomb {
            TOMB
        } else if s.fresh {
            FRESH
        } else {
            0
        };
        History { first: s.main.min(MAIN) | flags, low, broken: 0, first_sig: s.sig, last_sig: s.sig }
    }

    /// The history of a key's records, oldest first. `None` for no record.
    pub fn of(records: impl IntoIterator<Item = Step>, c: &Compacted) -> Option<History> {
        let mut it = records.into_iter();
        let first = it.next()?;
        let mut h = History::record(first, c);
        let mut last_tomb = first.tomb;
        for s in it {
            h.then(last_tomb, &History::record(s, c));
            last_tomb = s.tomb;
        }
        Some(h)
    }

    /// Appends `newer`, the records that follow this history's; `newest_tomb` tells whether the
    /// newest record of this history is a tombstone.
    pub fn then(&mut self, newest_tomb: bool, newer: &History) {
        let (tomb, fresh) = (newer.first & TOMB != 0, newer.first & FRESH != 0);
        let step_broken = if newest_tomb {
            // After a tombstone: a put that creates the key again, never another tombstone.
            tomb || !fresh
        } else {
            // After a put: a put of the same generation (its create revision, the next version),
            // or the tombstone that ends it.
            !tomb && (fresh || newer.first_sig != sig_after(self.last_sig))
        };
        self.broken = self.broken.saturating_add(newer.broken).saturating_add(u16::from(step_broken));
        let count = (self.low & !TOMB_BELOW).saturating_add(newer.low & !TOMB_BELOW).min(TOMB_BELOW - 1);
        self.low = count | ((self.low | newer.low) & TOMB_BELOW);
        self.last_sig = newer.last_sig;
    }

    /// Whether the whole history of a key breaks one of the rules.
    pub fn broken(&self, c: &Compacted) -> bool {
        let first_main = self.first & MAIN;
        let first_not_created = first_main > c.upto && self.first & FRESH == 0;
        let low = self.low & !TOMB_BELOW;
        self.broken > 0 || first_not_created || low > 1 || (low == 1 && self.low & TOMB_BELOW != 0)
    }
}

/// Most keys a [`Judge`] holds: about 40 bytes each (the key stays in the mapped file), so at most
/// some 80 MiB with the map's spare room. A reader of more keys (`log` of the whole keyspace of a
/// very large file) judges the first ones and says how many it did not: `check` judges every key
/// in bounded passes.
pub const MAX_JUDGED: usize = 1 << 20;

/// Keys' histories held to the rules as their records come, in revision order (any keys, mixed):
/// what a reader of a few keys judges on the way.
#[derive(Debug, Default)]
pub struct Judge<'a> {
    compacted: Compacted,
    keys: super::FpMap<(History, bool, &'a [u8])>,
    cap: usize,
    unjudged: u64,
}

impl<'a> Judge<'a> {
    /// No key yet, judged against the compactions `c`.
    pub fn new(c: Compacted) -> Judge<'a> {
        Judge::with_cap(c, MAX_JUDGED)
    }

    /// [`Judge::new`] holding at most `cap` keys.
    pub fn with_cap(c: Compacted, cap: usize) -> Judge<'a> {
        Judge { compacted: c, cap, ..Judge::default() }
    }

    /// The next record of `key` (revision order).
    pub fn feed(&mut self, key: &'a [u8], s: Step) {
        self.feed_known(super::key_fingerprint(key), key, s);
    }

    /// [`Judge::feed`] of a key whose fingerprint ([`super::key_fingerprint`]) is known.
    pub fn feed_known(&mut self, fp: u128, key: &'a [u8], s: Step) {
        let h = History::record(s, &self.compacted);
        if let Some((sofar, last_tomb, _)) = self.keys.get_mut(&fp) {
            sofar.then(*last_tomb, &h);
            *last_tomb = s.tomb;
        } else if self.keys.len() < self.cap {
            self.keys.insert(fp, (h, s.tomb, key));
        } else {
            self.unjudged = self.unjudged.saturating_add(1);
        }
    }

    /// What the records fed so far show.
    pub fn judged(&self) -> Judged {
        let bad: Vec<&[u8]> =
            self.keys.values().filter(|(h, _, _)| h.broken(&self.compacted)).map(|(_, _, k)| *k).collect();
        Judged { unjudged: self.unjudged, ..Judged::of(self.compacted, bad) }
    }
}

/// The problem for `keys` keys whose history breaks the rules.
pub fn problem(keys: u64, c: &Compacted) -> crate::problem::Problem {
    crate::problem::Problem::new(
        crate::problem::ProblemKind::HistoryInconsistent,
        format!(
            "{keys} key(s) hold a history etcd cannot have written (finished compaction {}): records compaction \
             deleted, a put that starts or continues a generation out of turn (a version that is not the next, a create \
             revision that changed), or a tombstone out of place; a page of the `key` bucket may \
             hold stale data (a misdirected write); `boltscope diff` against another backup names the revision",
            c.finished
        ),
    )
    .bucket(vec!["key".into()])
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
