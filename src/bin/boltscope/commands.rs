//! The commands, each with the help a user reads (`boltscope CMD --help`); each command's own
//! arguments live in its file, beside the code that runs it.

use crate::check::CheckArgs;
use crate::compact::CompactArgs;
use crate::completions::{CompletionsArgs, ManArgs};
use crate::diff::DiffArgs;
use crate::du::DuArgs;
use crate::dump::DumpArgs;
use crate::get::GetArgs;
use crate::hashkv::HashkvArgs;
use crate::history::HistoryArgs;
use crate::inspect::InspectArgs;
use crate::log::LogArgs;
use crate::salvage::SalvageArgs;
use crate::scan::ScanArgs;
use crate::status::StatusArgs;
use crate::trend::TrendArgs;
use clap::Subcommand;

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print what `etcdutl snapshot status` prints: HASH, REVISION, TOTAL KEYS, TOTAL SIZE.
    ///
    /// The figures are byte for byte those of etcdutl (3.4/3.5 semantics by default): HASH is the
    /// CRC-32C over every bucket name, key and value; REVISION the main revision of the last
    /// entry of the `key` bucket; TOTAL KEYS every key/value pair in every top-level bucket
    /// (3.6: live user keys only); TOTAL SIZE the high-water mark times the page size.
    /// Like etcdutl, the whole file is checked first (bbolt's `tx.Check` and more: key order,
    /// element bounds, cycles); a file whose tree is damaged gets no figures, the problems on
    /// stderr and exit 1. A record etcd cannot read (in any bucket, `meta` included), an etcd
    /// file that lost its `key` or `meta` bucket, or bytes past the high-water mark that are
    /// neither slack nor a trailer, do not change etcdutl's figures: they are printed, the
    /// problems on stderr, exit 1.
    /// Every record of the `key` bucket is held to etcd's invariants too, but not the keys'
    /// histories (a stale page that reads well: `check`'s history_inconsistent) nor, unless
    /// asked, the sha256 trailer: exit 0 is not `check`'s pass, and the index records `not
    /// verified (...)` for an etcd file rather than `ok`. A failure the index remembers for the
    /// file (`check` or `scan` found problems) is told on stderr, with exit 1, the figures printed.
    ///
    /// Works on any bbolt file (REVISION 0 without a `key` bucket), on both byte orders and any
    /// page size. Several files are read in parallel and printed in argument order; with more
    /// than one file each block is headed `==> FILE <==` (JSON: one object per line with a
    /// `"path"` field, as every command names its file).
    ///
    /// Examples:
    ///   boltscope status backup.db
    ///   boltscope status -w table /var/lib/etcd/member/snap/db
    ///   boltscope status -w json --check-hash nightly/*.db
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Everything about a file in one pass: sizes, pages, buckets, etcd, MVCC, and its size after
    /// compaction + defrag, against the quota.
    ///
    /// Reports: the file (page size, byte order, both meta pages, high-water mark, freelist kind);
    /// the sha256 trailer (verified on the other core while the tree is walked); page counts and
    /// sizes (`total` is etcd's DB SIZE, `in_use` etcd's in-use size, `free`, fragmentation); bbolt's
    /// Bucket.Stats for each bucket; for etcd files, revisions, compaction state, members,
    /// leases, alarms, auth, and the MVCC store (revisions, distinct and live keys, tombstones, and
    /// what compaction at the current revision deletes); the predicted size after compaction at
    /// the current revision plus defrag (fill 0.9 as `etcdutl defrag`, and 1.0); quota usage now
    /// and after, with a verdict.
    ///
    /// Examples:
    ///   boltscope inspect backup.db
    ///   boltscope inspect -w json --depth 3 /var/lib/etcd/member/snap/db | jq .prediction
    ///   boltscope inspect -w prometheus --quota 8GiB /backups/*.db > /var/lib/node_exporter/etcd.prom
    #[command(verbatim_doc_comment)]
    Inspect(InspectArgs),
    /// Find every kind of damage and gate CI: exit 0 only for a clean file that meets every gate.
    ///
    /// Checks both meta pages (magic, version, checksum, page size, root and freelist below the
    /// high-water mark); the whole tree (pages out of bounds or past the end, bad page types,
    /// elements outside their page, keys out of order within pages and across the tree, branch
    /// keys that differ from their child's first key, cycles, pages reached twice, malformed
    /// inline buckets); the freelist (freed twice, reachable and freed, leaked pages); the sha256
    /// trailer; and for etcd files the MVCC records (revision keys, KeyValue decoding,
    /// mod_revision = the key's revision, create_revision <= mod_revision, version >= 1, tombstones
    /// that carry only their key), the meta bucket, and live keys whose lease is gone (warning).
    /// Every problem is listed with its kind, page, byte offset and bucket, not just the first.
    ///
    /// Examples:
    ///   boltscope check --require-hash --min-revision 1000 nightly.db
    ///   boltscope check --quota 8GiB --max-quota-usage 0.8 --max-fragmentation 0.5 member/snap/db
    ///   boltscope check --meta 1 damaged.db     # would reverting to the previous transaction work?
    ///   boltscope check -w json --expect-hash feb15e67 backup.db
    ///   boltscope check --require-encryption secrets,configmaps --require-encryption-key key2 backup.db
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
    /// Write a compacted, defragmented copy that real etcd restores and real bbolt accepts.
    ///
    /// Copies every bucket (nested ones too), key, value and bucket sequence into a new bbolt file
    /// with no free pages, pages filled to --fill by bbolt's own split rules, in SRC's page size,
    /// byte order and freelist kind unless told otherwise. --revision also performs etcd's MVCC
    /// compaction there (each key keeps its newest revision at or below it; a key deleted below
    /// it disappears; a tombstone exactly at it is kept) and records it in meta
    /// (scheduledCompactRev = finishedCompactRev): a server started on the copy sees it finished.
    ///
    /// Safety: SRC is only read. DST is written to a temporary file in its folder, verified (clean;
    /// etcdutl's HASH, REVISION and TOTAL KEYS, or with --revision etcd's HashKV, equal to SRC's),
    /// fsynced and renamed into place: a failure or an interrupt (Ctrl-C, SIGTERM: exit 130)
    /// leaves neither. An existing DST needs --force; DST is never SRC. Refused: a SRC whose tree
    /// is damaged (`boltscope check` says how; that includes keys whose history etcd cannot have
    /// written, a stale page that reads well), whose sha256 trailer does not match it, or that a
    /// running etcd commits to during each of four copies. `boltscope salvage` copies what such
    /// a SRC holds and says what is lost or uncertain. Errors outside the tree it copies (the
    /// other meta page, bytes past the high-water mark) do not reach the copy, which is written;
    /// they are told, and the exit code is 1, as `check`'s for SRC.
    ///
    /// A progress bar (bytes read, rate, time left) is drawn on stderr when it is a terminal.
    /// Memory stays under about 40 MiB whatever the file size, plus up to 96 MiB for one pass over
    /// the keys (their histories are judged beside the copy) and, with --revision, one bit per
    /// revision.
    ///
    /// Examples:
    ///   boltscope compact backup.db -o backup.compact.db
    ///   boltscope compact --revision latest --fill 0.9 nightly.db -o restore-me.db
    ///   boltscope compact --page-size 4096 --byte-order little s390x-member.db -o x86.db
    #[command(verbatim_doc_comment)]
    Compact(CompactArgs),
    /// Write everything a damaged file can give back as a valid etcd backend, and say what is lost.
    ///
    /// A file whose tree reads whole is copied as `compact` copies it. Otherwise: the tree of the
    /// better meta page (or, with neither usable, of the root page found by scanning) is read
    /// skipping what cannot be read; records of etcd's `key` bucket are carved from every page that
    /// tree does not reach (leaves whose flags or parent are damaged, pages beyond a bad branch) and
    /// checked (revision key, KeyValue, mod revision = the key's revision); a carved record never
    /// replaces one the tree holds. Above the file's compaction a carved record is certain; at or
    /// below it, it may be residue of deleted data: kept only when its key has no newer record, and
    /// listed as uncertain. Small buckets that cannot be read come from an older root page.
    ///
    /// The report: revisions recovered, revision ranges lost (and possibly lost), live keys whose
    /// newest record may be lost, uncertain keys, pages skipped and why (keys are named, values
    /// never). The copy is written like compact's (SRC only read; a temporary file beside DST,
    /// read back, fsynced, renamed; `-` streams it to standard output). --trailer always makes it
    /// restorable with `etcdutl snapshot restore`; the report says whether etcd will accept it.
    ///
    /// Examples:
    ///   boltscope salvage damaged.db -o recovered.db
    ///   boltscope salvage -w json member/snap/db -o restore-me.db | jq .revision_ranges_lost
    #[command(verbatim_doc_comment)]
    Salvage(SalvageArgs),
    /// What fills the file: bytes by Kubernetes resource, namespace or key prefix, and the keys
    /// to blame.
    ///
    /// From one parallel pass over the `key` bucket, per group: live keys and bytes (what
    /// `etcdctl get` returns), records (puts and tombstones) and the bytes they take, what
    /// compaction at the current revision would free, distinct leases, live values by storage
    /// encoding (protobuf, json, cbor, encrypted:<provider>:<key>, other) and the share of the
    /// file's in-use size; then the largest live keys, the most revised keys and those with the
    /// most stored history. A generic bbolt file is grouped by `bucket/.../key` prefix. A file
    /// whose tree or records are damaged gets its problems, not figures (exit 1).
    ///
    /// Examples:
    ///   boltscope du backup.db
    ///   boltscope du --by namespace --sort live --top 20 /var/lib/etcd/member/snap/db
    ///   boltscope du --prefix /registry/secrets/ -w json backup.db | jq .total.encodings
    ///   boltscope du -w prometheus /backups/*.db > /var/lib/node_exporter/etcd-du.prom
    #[command(verbatim_doc_comment)]
    Du(DuArgs),
    /// Show what the index remembers: every analysed file's figures over time.
    ///
    /// One row per analysis (status, inspect, check, scan, trend, du), named by the command that
    /// made it: when, file size, database size, revision, in use, fragmentation, verdict. The
    /// verdict is check's, in check's words (`ok`, `ok, N warning(s)`, `N problem(s)`, `gate
    /// failed`; `not verified (...)` from a command that did not check everything check does:
    /// status reads etcdutl's figures, not the keys' histories or, without --check-hash, the
    /// sha256 trailer). A
    /// backup folder scanned every night shows its growth, fragmentation and revision trend at a
    /// glance.
    ///
    /// Examples:
    ///   boltscope history
    ///   boltscope history -w json /backups/etcd-*.db
    #[command(verbatim_doc_comment)]
    History(HistoryArgs),
    /// Analyse every bbolt/etcd file in a folder tree, in parallel, filling the index.
    ///
    /// A file is taken when its first bytes say bbolt (also inside a zip, gzip or zstd), or when
    /// its name says backup (*.db, *.snap, *.snapshot, db, etcd-snapshot-NODE-SECONDS and other
    /// k3s names, each also packed: .zip .gz .zst .tar .tgz .xz .bz2 .lz4): an empty or wiped
    /// backup is then listed as unreadable (exit 2), not passed over. Other files are skipped.
    /// One line per database file, then a summary; with -w json one object per line per file
    /// (`path`, `ok`, `verdict` and the table's figures, or `error` for one that could not be
    /// read), then `{"summary":{...}}`. Files the index already knows are answered from it (use
    /// --refresh to re-read them).
    ///
    /// Examples:
    ///   boltscope scan /backups
    ///   boltscope scan -w json /backups | jq -r 'select(.ok == false) | .path'
    #[command(verbatim_doc_comment)]
    Scan(ScanArgs),
    /// What `etcdctl get` prints, from the file: its options and output byte for byte, or the values
    /// decoded as Kubernetes objects.
    ///
    /// Every data-reading option of `etcdctl get` (3.5): --prefix, --from-key, RANGE_END, --rev,
    /// --limit, --keys-only, --count-only, --print-value-only, --hex, --sort-by, --order, and
    /// -w simple|json|fields|protobuf; the answer is what a server restored from the file prints
    /// (header revision = the file's current revision; cluster and member ids from the `members`
    /// bucket, raft term 2 as a restored server says). --rev below the compaction fails as etcd fails
    /// (`etcdserver: mvcc: required revision has been compacted`, exit 1), as does one past the
    /// current revision. etcdctl's usage errors give its message, with exit code 2. The command
    /// line is read as etcdctl reads it (`--rev 024` is 20, `--hex=false`, extra KEYs ignored).
    ///
    /// A plaintext Secret's stored bytes are withheld (`<redacted: N bytes>`, noted on stderr)
    /// unless --show-secrets. --decode (or -o json|yaml) shows values as objects.
    ///
    /// The `key` bucket is ordered by revision, so the first question about a file reads all of
    /// it (the answer is held in memory, as etcd holds it) and records a key -> revisions index
    /// in the index database; later questions about a few keys are B+tree lookups.
    ///
    /// A history etcd cannot have written (`check`'s history_inconsistent: a stale leaf in the
    /// tree, which reads well page by page) in the keys read, or revisions missing above the
    /// compaction (revisions_missing: a leaf lost from the tree): the answer still comes out, then
    /// the problem on stderr (naming the keys), exit 1. So does a file `check` fails for its
    /// meta pages or its length (a snapshot cut short or appended to); the sha256 trailer's hash
    /// is not verified (`boltscope check` does). Holes as etcd 3.4's `etcdctl migrate` leaves
    /// them (check's warning revision_holes_as_migrated) are told on stderr, exit 0.
    ///
    /// Examples:
    ///   boltscope get backup.db /registry/configmaps/default/app-config
    ///   boltscope get backup.db /registry/pods/ --prefix --keys-only
    ///   boltscope get backup.db /registry/secrets/ --prefix --count-only -w fields
    ///   boltscope get backup.db /registry/deployments/prod/web --rev 4711 -o yaml
    ///   boltscope get backup.db /registry/events/ --prefix --sort-by MODIFY --order DESCEND --limit 10
    #[command(verbatim_doc_comment)]
    Get(GetArgs),
    /// Every revision of the selected keys, oldest first: puts and deletes, exactly the events
    /// `etcdctl watch --rev R` replays from a server holding the file.
    ///
    /// Without KEY, every key; with KEY, that key; KEY RANGE_END or --prefix select more. From
    /// --rev R as watch reads it (below the compaction: refused; past the current revision, or 0:
    /// "from now on", nothing); without --rev, from the oldest revision the file holds, which
    /// includes the entries a compaction kept below its revision (no server can replay those).
    ///
    /// -w table (the default) for people: revision, type, version, value size, the size change
    /// against the key's previous revision, lease, key. -w json: one event per line,
    /// {"type":"PUT"|"DELETE","kv":{...}}, kv exactly as etcd's watch reports it (a delete carries
    /// only key and mod_revision); --prev-kv adds prev_kv as `etcdctl watch --prev-kv` does.
    /// -w simple: watch's text. --decode (or -o json|yaml) shows values as objects.
    ///
    /// Streams: memory grows only with the number of keys selected (each key's history is held to
    /// etcd's rules on the way, for up to a million keys; the table and --prev-kv also keep each
    /// key's previous entry); the first run records the file's key -> revisions index, so a later
    /// log of a key is a few lookups.
    ///
    /// A history etcd cannot have written (`check`'s history_inconsistent: a stale leaf in the
    /// tree, which reads well page by page) in the keys read, or revisions missing above the
    /// compaction (revisions_missing: a leaf lost from the tree): the answer still comes out, then
    /// the problem on stderr (naming the keys), exit 1. So does a file `check` fails for its
    /// meta pages or its length (a snapshot cut short or appended to); the sha256 trailer's hash
    /// is not verified (`boltscope check` does). Holes as etcd 3.4's `etcdctl migrate` leaves
    /// them (check's warning revision_holes_as_migrated) are told on stderr, exit 0.
    ///
    /// Examples:
    ///   boltscope log backup.db /registry/configmaps/prod/app-config
    ///   boltscope log backup.db /registry/leases/ --prefix --rev 120000 -w json
    ///   boltscope log backup.db /registry/deployments/prod/web -o yaml
    #[command(verbatim_doc_comment)]
    Log(LogArgs),
    /// etcd's HashKV of the file at a revision, as `etcdutl hashkv` (3.6) prints it: compare a
    /// backup with a live member (`etcdctl endpoint hashkv --rev R`) without restoring it.
    ///
    /// -w simple: hash, hash revision, compact revision (-1 when never compacted); -w json
    /// {"hash":...,"hashRevision":...,"compactRevision":...}; -w table; -w fields. --rev below the
    /// compaction is refused (`mvcc: required revision has been compacted`, exit 1; a revision
    /// equal to it is hashed, as etcdutl does, where a 3.5 server refuses it), as is one past the
    /// current revision; a negative one hashes no entry, as etcd. Only reads (etcdutl writes).
    ///
    /// A history etcd cannot have written (`check`'s history_inconsistent: a stale leaf in the
    /// tree, which reads well page by page) in the keys read, or revisions missing above the
    /// compaction (revisions_missing: a leaf lost from the tree): the answer still comes out, then
    /// the problem on stderr, exit 1. So does a file `check` fails for its meta pages or its length (a
    /// snapshot cut short or appended to); the sha256 trailer's hash is not verified (`boltscope
    /// check` does). Holes as etcd 3.4's `etcdctl migrate` leaves them (check's warning
    /// revision_holes_as_migrated) are told on stderr, exit 0.
    ///
    /// Examples:
    ///   boltscope hashkv backup.db
    ///   boltscope hashkv --rev 4711 -w json backup.db
    #[command(verbatim_doc_comment)]
    Hashkv(HashkvArgs),
    /// Every key of the file as JSON lines (or every revision), for jq, DuckDB or a spreadsheet.
    ///
    /// One record per key live at --rev R (default: the current revision), or with
    /// --all-revisions one per entry the file holds, deletes included: key (or key_base64 when it
    /// is not UTF-8), create_revision, mod_revision, version, lease (the ID as `etcdctl lease
    /// list` prints it, or null), tombstone, value_size, value_base64 (null, with "redacted": true,
    /// for a plaintext Secret unless --show-secrets). --decode replaces value_base64 with the
    /// decoded object; -o yaml writes YAML documents instead of JSON lines. Records come in
    /// revision order, not key order.
    ///
    /// Streams with bounded memory: one bit per entry, plus at most 96 MiB per pass to find each
    /// key's newest revision (more keys take more passes), plus a window of formatted records.
    ///
    /// A history etcd cannot have written (`check`'s history_inconsistent: a stale leaf in the
    /// tree, which reads well page by page) in the keys read, or revisions missing above the
    /// compaction (revisions_missing: a leaf lost from the tree): the answer still comes out, then
    /// the problem on stderr, exit 1. So does a file `check` fails for its meta pages or its length (a
    /// snapshot cut short or appended to); the sha256 trailer's hash is not verified (`boltscope
    /// check` does). Holes as etcd 3.4's `etcdctl migrate` leaves them (check's warning
    /// revision_holes_as_migrated) are told on stderr, exit 0.
    ///
    /// Examples:
    ///   boltscope dump backup.db | jq -r .key
    ///   boltscope dump backup.db --prefix /registry/secrets/ --decode | jq .object.metadata.name
    ///   boltscope dump backup.db --all-revisions > history.jsonl   # duckdb: read_json('history.jsonl')
    #[command(verbatim_doc_comment)]
    Dump(DumpArgs),
    /// What changed between two backups: keys added, removed and changed, per group, and how the
    /// two files relate.
    ///
    /// Compares the live state of A (old) and B (new) key by key (each key's newest record, as
    /// `etcdctl get` returns it): `added` (live in B only), `removed` (live in A only), `changed`
    /// (live in both with a different value, create revision, mod revision, version or lease),
    /// and the number unchanged; a summary per group (Kubernetes resource, namespace or key
    /// prefix): keys added, removed, changed, live bytes before and after.
    ///
    /// The relation: same cluster or not (the cluster id derived from each `members` bucket, or
    /// a member both name, as the derived id changes when a member is added); whether B descends
    /// from A (their shared history, read in lockstep over the revisions both hold, agrees, and no
    /// live key of B contradicts A's history up to its revision); two files of one cluster at the
    /// same revision that differ are named INCONSISTENT, with the keys (what `etcdctl endpoint
    /// hashkv` detects but cannot locate), and the revision where their histories diverge.
    ///
    /// Memory stays bounded: live keys are found and joined in passes by key fingerprint (about
    /// 96 MiB per pass); only the differences are kept. A file whose tree or records are damaged
    /// is not compared (`boltscope check` says why).
    ///
    /// A file whose tree reads whole but that `check` fails for its meta pages, its length or
    /// its compared keys' histories (a stale page) is compared, its problems on stderr and in
    /// its `problems` in JSON (`"ok": false`), as is one whose sha256 trailer does not match (the
    /// trailers are hashed beside the comparison; --skip-hash-check skips it).
    ///
    /// Examples:
    ///   boltscope diff last-night.db tonight.db
    ///   boltscope diff --prefix /registry/secrets/ -w json a.db b.db | jq .changed
    ///   boltscope diff --by namespace --decode member1.db member2.db
    #[command(verbatim_doc_comment)]
    Diff(DiffArgs),
    /// How fast backups grow, and when the quota runs out at that rate.
    ///
    /// Groups backups into series: the same folder and the same name once its timestamp is taken
    /// out (k3s/RKE2 `etcd-snapshot-<node>-<unix seconds>` and `on-demand-<node>-...`, names with
    /// dates such as `etcd-2026-12-03T0200.db` or `backup-20261203.db`, 10-digit Unix seconds); the
    /// time of a backup is the one in its name (UTC), else its modification time. Reads the files
    /// and folders named (recursively; compressed k3s snapshots too), else every file the index
    /// knows (files that are gone count in the growth with their last recorded size when their
    /// name dates them, marked gone; the age is that of the newest backup still on disk).
    ///
    /// For each series: the backups, first and last, database size, in-use size and live bytes
    /// over time; growth per day as the Theil-Sen estimate (the median slope over every pair of
    /// backups, robust to a one-off compaction or defrag); the days until the database size reaches
    /// --quota at that rate (none when it does not grow and is below it; 0, REACHED, when the latest
    /// backup is at or over it); the resources that grew most between the
    /// first and last backup; whether the last backup is older than --stale-after. The table draws a
    /// sparkline of the database size; --plot writes an SVG chart.
    ///
    /// Each file is read as `check` reads it, sha256 trailer included (a SHA-256 of the whole
    /// file, beside the walk): a file `check` fails is listed as damaged (exit 1) and is no point
    /// of its series. A first read costs about an `inspect` of the file; the index remembers the
    /// figures per file, so the next run only hashes the trailer again (bit rot keeps a file's
    /// identity); a file deleted after `check` failed it gives no point.
    ///
    /// Examples:
    ///   boltscope trend /var/lib/rancher/k3s/server/db/snapshots
    ///   boltscope trend --quota 8GiB --plot growth.svg /backups
    ///   boltscope trend -w prometheus /backups > /var/lib/node_exporter/etcd_backups.prom
    #[command(verbatim_doc_comment)]
    Trend(TrendArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    ///
    /// Examples:
    ///   boltscope completions bash > /etc/bash_completion.d/boltscope
    ///   boltscope completions zsh > "${fpath[1]}/_boltscope"
    ///   boltscope completions fish > ~/.config/fish/completions/boltscope.fish
    #[command(verbatim_doc_comment)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff), for `man`.
    ///
    /// Example:
    ///   boltscope man > /usr/local/share/man/man1/boltscope.1
    #[command(verbatim_doc_comment)]
    Man(ManArgs),
}
