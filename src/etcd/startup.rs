//! The records of etcd's small buckets that etcd 3.5.1 cannot read, though the tree holding them
//! reads well: a server restored from the file dies when it starts, the restore itself fails, or
//! (users and roles) the first routine request that lists them kills the server, and every restart
//! after it (the request is replayed from the raft log). Each rule was confirmed on real etcd
//! 3.5.1 (fixtures/etcd-records, with its answers):
//!
//! - `lease`: a value [`gogo`] refuses as a `leasepb.Lease`, under a key etcd's recovery ranges
//!   over (`00 x 8` <= key < `7f ff ff ff ff ff ff ff`, by bytes): the start panics.
//! - `alarm`: a key (nested buckets' names too) refused as an `AlarmMember`: the start stops.
//!   Values are never read.
//! - `auth/authRevision` shorter than 8 bytes: the start panics.
//! - `authUsers`, `authRoles`: a value refused as a `User` / `Role` under a key in `[00, ff)`:
//!   `etcdctl user list` / `role list` panics the server, for good.
//! - `members`, `members_removed`: a key that is not a hexadecimal member id below 2^64, or a
//!   nested bucket: `etcdutl snapshot restore` fails. Values are never read.
//! - `cluster/downgrade`: not JSON of `{"target-version": string, "enabled": bool}` (or `null`),
//!   or enabled towards another version than 3.5.0: the start panics.
//!
//! Nothing else in these buckets stops etcd 3.5.1 (an unknown alarm type, a lease key that is not
//! its ID, a negative TTL, `authEnabled` of any value, member values that are not JSON,
//! `clusterVersion`): none is reported.

use super::gogo::{self, Schema};
use super::{ALARM_BUCKET, AUTH_BUCKET, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET, CLUSTER_BUCKET, LEASE_BUCKET};
use super::{MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET};
use crate::bbolt::cursor;
use crate::bbolt::page::LeafElem;
use crate::bbolt::view::DbView;
use crate::problem::{Problem, ProblemKind};

/// Most problems told per bucket; the rest are counted in one more.
const TOLD: usize = 20;

/// The upper end (exclusive) of the lease keys etcd recovers: `int64ToBytes(MaxInt64)`.
const LEASE_END: [u8; 8] = [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/// Every element of a top-level bucket, a nested bucket as its one element (none when the bucket
/// is absent or cannot be read: the tree's own problems say so).
fn elements<'a>(view: &DbView<'a>, name: &[u8]) -> Vec<LeafElem<'a>> {
    let mut v = Vec::new();
    each(view, name, &mut |e| v.push(*e));
    v
}

/// [`elements`] one at a time (a `lease` bucket can hold millions).
pub(super) fn each<'a>(view: &DbView<'a>, name: &[u8], f: &mut dyn FnMut(&LeafElem<'a>)) {
    if let Ok(Some(b)) = cursor::top_bucket(view, name) {
        let _ = cursor::for_each(view, b, f);
    }
}

/// Shows a key as etcd tools do: text when printable, else hex.
fn shown(k: &[u8]) -> String {
    match std::str::from_utf8(k) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => format!("{s:?}"),
        _ => k.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Collects one bucket's problems, at most [`TOLD`] of them told.
struct Told<'v, 'a> {
    view: &'v DbView<'a>,
    bucket: &'static [u8],
    found: Vec<Problem>,
    more: usize,
}

impl<'v, 'a> Told<'v, 'a> {
    fn new(view: &'v DbView<'a>, bucket: &'static [u8]) -> Self {
        Told { view, bucket, found: Vec::new(), more: 0 }
    }

    /// One record etcd cannot read; `at` is a slice of the map (for the byte offset).
    fn add(&mut self, at: &[u8], message: String) {
        if self.found.len() >= TOLD {
            self.more += 1;
            return;
        }
        let name = String::from_utf8_lossy(self.bucket).into_owned();
        let p = Problem::new(ProblemKind::EtcdRecordUnreadable, message).bucket(vec![name]);
        self.found.push(p.placed(self.view.place(at)));
    }

    fn done(mut self, out: &mut Vec<Problem>) {
        if self.more > 0 {
            let name = String::from_utf8_lossy(self.bucket).into_owned();
            let m = format!("{} more record(s) of bucket {name} etcd 3.5.1 cannot read", self.more);
            self.found.push(Problem::new(ProblemKind::EtcdRecordUnreadable, m).bucket(vec![name]));
        }
        out.append(&mut self.found);
    }
}

/// Records of `bucket` whose values `schema` refuses, for keys in `[from, to)`.
fn values(
    view: &DbView<'_>,
    bucket: &'static [u8],
    range: (&[u8], &[u8]),
    schema: &Schema,
    what: &str,
    out: &mut Vec<Problem>,
) {
    let mut t = Told::new(view, bucket);
    each(view, bucket, &mut |e| {
        if e.is_bucket() || e.key < range.0 || e.key >= range.1 {
            return;
        }
        if let Err(r) = gogo::accepts(e.value, schema) {
            t.add(
                e.value,
                format!("{what} {} does not decode (byte {}: {}): {}", shown(e.key), r.at, r.why, consequence(bucket)),
            );
        }
    });
    t.done(out);
}

/// What etcd 3.5.1 does with a record of `bucket` it cannot read.
fn consequence(bucket: &[u8]) -> &'static str {
    match bucket {
        b"lease" | b"alarm" | b"auth" | b"cluster" => "etcd 3.5.1 stops when it starts on this file",
        b"authUsers" => "etcd 3.5.1 panics on `user list`, and on every restart after it",
        b"authRoles" => "etcd 3.5.1 panics on `role list`, and on every restart after it",
        _ => "`etcdutl snapshot restore` fails",
    }
}

/// Whether Go's `strconv.ParseUint(key, 16, 64)` accepts `key`.
fn member_id(key: &[u8]) -> bool {
    std::str::from_utf8(key).is_ok_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
        && u64::from_str_radix(std::str::from_utf8(key).unwrap_or_default(), 16).is_ok()
}

/// Whether etcd 3.5.1 starts with `cluster/downgrade` holding `v`.
fn downgrade_ok(v: &[u8]) -> Result<(), String> {
    let j: serde_json::Value = serde_json::from_slice(v).map_err(|e| format!("is not JSON ({e})"))?;
    let obj = match &j {
        serde_json::Value::Null => return Ok(()),
        serde_json::Value::Object(o) => o,
        _ => return Err("is not a JSON object".into()),
    };
    // Go matches JSON names without regard to case.
    let field = |name: &str| obj.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v).next_back();
    let target = match field("target-version") {
        None | Some(serde_json::Value::Null) => "",
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(_) => return Err("has a target-version that is not a string".into()),
    };
    let enabled = match field("enabled") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err("has an enabled that is not a boolean".into()),
    };
    let version = target.split('+').next().unwrap_or_default();
    if enabled && version != "3.5.0" {
        return Err(format!("enables a downgrade to {target:?}, which etcd 3.5.1 does not accept"));
    }
    Ok(())
}

/// What `check` fails a file for beside its `key` tree, found without reading that tree: damage in
/// the root bucket and every other bucket (walked as `check` walks them, a page they share with
/// the `key` tree included) and, in an etcd file, the small buckets' errors: records etcd 3.5.1
/// cannot read, and `meta` entries it stops on or that contradict each other (the errors of
/// [`super::schema::problems`]; its warnings need the `key` bucket read). A file with a freelist
/// page (etcd writes none) has every tree walked, the `key` tree's too, for the freelist to be
/// held against the pages they reach, as `check` holds it.
pub fn beside_key_problems(view: &DbView<'_>) -> Vec<Problem> {
    use crate::bbolt::structure;
    let mut found = match view.meta().has_freelist_page() {
        true => structure::problems_with_freelist_except(view, super::KEY_BUCKET),
        false => structure::tree_problems_except(view, super::KEY_BUCKET),
    };
    found.extend(small_bucket_errors(view));
    found
}

/// The errors of [`super::schema::problems`] in an etcd file (records of its small buckets etcd
/// 3.5.1 cannot read, `meta` entries it stops on or that contradict each other), found without
/// reading the `key` tree; none for another bbolt file.
pub fn small_bucket_errors(view: &DbView<'_>) -> Vec<Problem> {
    if !super::schema::is_etcd(view) {
        return Vec::new();
    }
    let info = super::schema::read_core(view, 0);
    super::schema::problems(view, &info).into_iter().filter(|p| !p.kind.is_warning()).collect()
}

/// What `check` fails a file for that the `status` pass does not read: [`small_bucket_errors`],
/// and an etcd file that lost its `key` or `meta` bucket ([`super::schema::bucket_missing`]),
/// which reads as no etcd file at all.
pub fn status_misses(view: &DbView<'_>) -> Vec<Problem> {
    let mut found = small_bucket_errors(view);
    found.extend(super::schema::bucket_missing(view));
    found
}

/// The records of etcd's small buckets etcd 3.5.1 cannot read (see the module docs).
pub fn problems(view: &DbView<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    values(view, LEASE_BUCKET, (&[0; 8], &LEASE_END), gogo::LEASE, "lease", &mut out);
    values(view, AUTH_USERS_BUCKET, (&[0], &[0xff]), gogo::USER, "user", &mut out);
    values(view, AUTH_ROLES_BUCKET, (&[0], &[0xff]), gogo::ROLE, "role", &mut out);
    let mut t = Told::new(view, ALARM_BUCKET);
    for e in elements(view, ALARM_BUCKET) {
        if let Err(r) = gogo::accepts(e.key, gogo::ALARM_MEMBER) {
            let m = format!(
                "alarm key {} does not decode (byte {}: {}): {}",
                shown(e.key),
                r.at,
                r.why,
                consequence(b"alarm")
            );
            t.add(e.key, m);
        }
    }
    t.done(&mut out);
    for bucket in [MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET] {
        let mut t = Told::new(view, bucket);
        for e in elements(view, bucket) {
            if e.is_bucket() {
                t.add(e.key, format!("a nested bucket {}: {}", shown(e.key), consequence(bucket)));
            } else if !member_id(e.key) {
                t.add(
                    e.key,
                    format!("key {} is no member id (hexadecimal, below 2^64): {}", shown(e.key), consequence(bucket)),
                );
            }
        }
        t.done(&mut out);
    }
    let mut t = Told::new(view, AUTH_BUCKET);
    if let Some(e) = elements(view, AUTH_BUCKET).iter().find(|e| e.key == b"authRevision") {
        if e.is_bucket() {
            t.add(e.key, format!("authRevision is a nested bucket: {}", consequence(b"auth")));
        } else if e.value.len() < 8 {
            t.add(e.value, format!("authRevision is {} bytes, not 8: {}", e.value.len(), consequence(b"auth")));
        }
    }
    t.done(&mut out);
    let mut t = Told::new(view, CLUSTER_BUCKET);
    if let Some(e) = elements(view, CLUSTER_BUCKET).iter().find(|e| e.key == b"downgrade") {
        if e.is_bucket() {
            t.add(e.key, format!("downgrade is a nested bucket: {}", consequence(b"cluster")));
        } else if let Err(why) = downgrade_ok(e.value) {
            t.add(e.value, format!("downgrade {why}: {}", consequence(b"cluster")));
        }
    }
    t.done(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downgrade_and_member_ids_as_etcd_3_5_1_took_them() {
        // Values put into real snapshots restored and started with etcd 3.5.1: served or not.
        let downgrades: [(&str, bool); 13] = [
            ("{", false),
            (r#"{"enabled":true,"target-version":"3.4.0"}"#, false),
            (r#"{"enabled":true,"target-version":"x"}"#, false),
            (r#"{"enabled":false,"target-version":"x"}"#, true),
            (r#"{"enabled":true,"target-version":"3.5.0"}"#, true),
            (r#"{"enabled":"yes"}"#, false),
            ("null", true),
            (r#"{"enabled":true,"target-version":""}"#, false),
            (r#"{"enabled":true,"target-version":"3.6.0"}"#, false),
            ("", false),
            (r#"{"enabled":true,"target-version":"3.5.0+meta"}"#, true),
            (r#"{"enabled":true,"target-version":"3.5.1"}"#, false),
            (r#"{"enabled":false,"foo":1}"#, true),
        ];
        for (v, served) in downgrades {
            assert_eq!(downgrade_ok(v.as_bytes()).is_ok(), served, "{v:?}");
        }
        assert!(downgrade_ok(br#"{"enabled":true,"target-version":"v3.5.0"}"#).is_err());
        let ids = [
            ("zz", false),
            ("10000000000000000", false),
            ("0ed2646efc84bb3df", true),
            ("ED2646EFC84BB3DF", true),
            ("0x12", false),
            ("abc", true),
        ];
        for (k, restored) in ids {
            assert_eq!(member_id(k.as_bytes()), restored, "{k}");
        }
    }
}
