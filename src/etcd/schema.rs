//! etcd's small buckets decoded: `meta`, `cluster`, `members`, `members_removed`, `lease`,
//! `alarm`, `auth`, `authUsers`, `authRoles`. Password hashes are never read out.

use super::meta_keys::{
    CLUSTER_VERSION, CONF_STATE, CONSISTENT_INDEX, FINISHED_COMPACT_REV, SCHEDULED_COMPACT_REV, STORAGE_VERSION, TERM,
};
use super::proto::{fields, Field};
use super::{revision, ALARM_BUCKET, AUTH_BUCKET, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET, CLUSTER_BUCKET};
use super::{KEY_BUCKET, LEASE_BUCKET, MEMBERS_BUCKET, MEMBERS_REMOVED_BUCKET, META_BUCKET};
use crate::bbolt::cursor::{self, BucketRoot};
use crate::bbolt::page::LeafElem;
use crate::bbolt::view::DbView;
use crate::problem::{Problem, ProblemKind};

pub use super::meta_problems::{bucket_missing, compactions_unreadable, problems};

/// What etcd keeps besides the MVCC store.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EtcdInfo {
    /// Main revision of the last `key` bucket entry (etcdutl's REVISION).
    pub last_revision: u64,
    /// The revision a server started on this file would use: max(last revision, finished
    /// compact), and at least 1 (an empty store starts at revision 1). A scheduled compaction
    /// never raises it: etcd resumes one at or below it and refuses one past it.
    pub current_revision: u64,
    /// Whether the `meta` bucket could not be read for the compactions
    /// ([`compactions_unreadable`]): judgements resting on them are withheld.
    #[serde(skip)]
    pub compactions_unreadable: bool,
    /// `meta/scheduledCompactRev`.
    pub scheduled_compact_revision: Option<u64>,
    /// `meta/finishedCompactRev`.
    pub finished_compact_revision: Option<u64>,
    /// `meta/consistent_index`.
    pub consistent_index: Option<u64>,
    /// `meta/term` (3.5+).
    pub term: Option<u64>,
    /// `meta/storageVersion` (3.6+).
    pub storage_version: Option<String>,
    /// `meta/confState` (3.5+), the raft configuration as JSON.
    pub conf_state: Option<serde_json::Value>,
    /// `cluster/clusterVersion`.
    pub cluster_version: Option<String>,
    /// Members.
    pub members: Vec<Member>,
    /// Removed member ids.
    pub members_removed: Vec<String>,
    /// Leases.
    pub leases: Leases,
    /// Raised alarms.
    pub alarms: Vec<Alarm>,
    /// Authentication.
    pub auth: Auth,
}

/// A cluster member.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// Member id, hex.
    pub id: String,
    /// Member name.
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
    /// Whether it is a learner.
    pub is_learner: bool,
}

/// Lease figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Leases {
    /// Leases stored.
    pub count: u64,
    /// Smallest granted TTL, seconds.
    pub ttl_min: Option<i64>,
    /// Largest granted TTL, seconds.
    pub ttl_max: Option<i64>,
    /// Live keys attached to a stored lease; withheld (null) with the MVCC figures.
    pub keys_attached: Option<u64>,
    /// Live keys whose lease is not in the `lease` bucket; withheld (null) with the MVCC figures.
    pub keys_with_missing_lease: Option<u64>,
    /// The missing leases (hex id) and how many live keys name each (at most 100 listed).
    pub missing: Vec<(String, u64)>,
}

/// A raised alarm.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alarm {
    /// Member id, hex.
    pub member_id: String,
    /// NOSPACE, CORRUPT, or the number.
    pub alarm: String,
}

/// Authentication figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Auth {
    /// `auth/authEnabled`.
    pub enabled: bool,
    /// `auth/authRevision`.
    pub revision: Option<u64>,
    /// Users stored.
    pub users: u64,
    /// Roles stored.
    pub roles: u64,
}

impl EtcdInfo {
    /// The compaction revision a store opened on the file has: `finishedCompactRev`, or the
    /// scheduled one when a compaction was scheduled and not finished (opening the store resumes
    /// it), unless that is past the head (etcd refuses a future revision and stays as it was);
    /// `None` when never compacted (etcd's -1).
    pub fn store_compaction(&self) -> Option<u64> {
        let finished = self.finished_compact_revision.filter(|&f| f > 0);
        let scheduled = self.scheduled_compact_revision.filter(|&s| s > 0 && s <= self.current_revision);
        finished.max(scheduled)
    }
}

pub(super) fn be_u64(v: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(v.get(..8)?.try_into().ok()?))
}

pub(super) fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Every plain entry of a top-level bucket (none when the bucket is absent or unreadable).
fn entries<'a>(view: &DbView<'a>, name: &[u8]) -> Vec<LeafElem<'a>> {
    let mut v = Vec::new();
    super::startup::each(view, name, &mut |e| {
        if !e.is_bucket() {
            v.push(*e)
        }
    });
    v
}

pub(super) fn get<'a>(view: &DbView<'a>, b: Option<BucketRoot<'a>>, key: &[u8]) -> Option<&'a [u8]> {
    let e = cursor::get(view, b?, key).ok()??;
    (!e.is_bucket()).then_some(e.value)
}

/// Whether the file looks like etcd's: it has both the `key` and `meta` buckets.
pub fn is_etcd(view: &DbView<'_>) -> bool {
    let has = |n: &[u8]| matches!(cursor::top_bucket(view, n), Ok(Some(_)));
    has(KEY_BUCKET) && has(META_BUCKET)
}

/// The main revision of the newest record of the `key` bucket, from its last entry: the
/// `last_revision` [`read`] takes, for a caller with no walk to give it. `None` without a `key`
/// bucket, for an empty one, or when the last key is not a revision.
pub fn newest_revision(view: &DbView<'_>) -> Result<Option<u64>, Problem> {
    let Some(kb) = cursor::top_bucket(view, KEY_BUCKET)? else { return Ok(None) };
    Ok(cursor::last(view, kb)?.and_then(|e| revision::main_of(e.key)))
}

/// Reads the small buckets. `last_revision` comes from the walk; [`attach_leases`] adds which
/// live keys' leases exist, once the MVCC replay knows them.
pub fn read(view: &DbView<'_>, last_revision: u64) -> EtcdInfo {
    let mut info = read_core(view, last_revision);
    read_rest(view, &mut info);
    info
}

/// Reads the `meta`, `cluster` and `members` buckets only (a few entries each): what answers about
/// keys need (revisions, compactions, the header's ids), without reading the `lease` bucket,
/// which can hold millions of leases, or the alarms and auth counts.
pub fn read_core(view: &DbView<'_>, last_revision: u64) -> EtcdInfo {
    let meta = cursor::top_bucket(view, META_BUCKET).ok().flatten();
    let rev = |k: &[u8]| get(view, meta, k).and_then(revision::main_of);
    let mut info = EtcdInfo {
        last_revision,
        scheduled_compact_revision: rev(SCHEDULED_COMPACT_REV),
        finished_compact_revision: rev(FINISHED_COMPACT_REV),
        consistent_index: get(view, meta, CONSISTENT_INDEX).and_then(be_u64),
        term: get(view, meta, TERM).and_then(be_u64),
        storage_version: get(view, meta, STORAGE_VERSION).map(text),
        conf_state: get(view, meta, CONF_STATE).and_then(|v| serde_json::from_slice(v).ok()),
        compactions_unreadable: compactions_unreadable(view).is_some(),
        ..EtcdInfo::default()
    };
    info.current_revision = last_revision.max(1).max(info.finished_compact_revision.unwrap_or(0));
    let cluster = cursor::top_bucket(view, CLUSTER_BUCKET).ok().flatten();
    info.cluster_version = get(view, cluster, CLUSTER_VERSION).map(text);
    for e in entries(view, MEMBERS_BUCKET) {
        let j: serde_json::Value = serde_json::from_slice(e.value).unwrap_or_default();
        let urls = j["peerURLs"].as_array().map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect());
        info.members.push(Member {
            id: text(e.key),
            name: j["name"].as_str().unwrap_or_default().to_owned(),
            peer_urls: urls.unwrap_or_default(),
            is_learner: j["isLearner"].as_bool().unwrap_or(false),
        });
    }
    info.members_removed = entries(view, MEMBERS_REMOVED_BUCKET).iter().map(|e| text(e.key)).collect();
    info
}

/// Reads the other small buckets into `info`: leases, alarms, auth.
fn read_rest(view: &DbView<'_>, info: &mut EtcdInfo) {
    for e in entries(view, LEASE_BUCKET) {
        info.leases.count += 1;
        for (n, f) in fields(e.value).flatten() {
            if let (2, Field::Varint(ttl)) = (n, f) {
                let ttl = ttl as i64;
                info.leases.ttl_min = Some(info.leases.ttl_min.map_or(ttl, |m| m.min(ttl)));
                info.leases.ttl_max = Some(info.leases.ttl_max.map_or(ttl, |m| m.max(ttl)));
            }
        }
    }
    for e in entries(view, ALARM_BUCKET) {
        let (mut member, mut kind) = (0, 0);
        for (n, f) in fields(e.key).flatten() {
            match (n, f) {
                (1, Field::Varint(v)) => member = v,
                (2, Field::Varint(v)) => kind = v,
                _ => {}
            }
        }
        let alarm = match kind {
            1 => "NOSPACE".to_owned(),
            2 => "CORRUPT".to_owned(),
            k => k.to_string(),
        };
        info.alarms.push(Alarm { member_id: format!("{member:x}"), alarm });
    }
    let auth = cursor::top_bucket(view, AUTH_BUCKET).ok().flatten();
    info.auth.enabled = get(view, auth, b"authEnabled").is_some_and(|v| v.first() == Some(&1));
    info.auth.revision = get(view, auth, b"authRevision").and_then(be_u64);
    info.auth.users = entries(view, AUTH_USERS_BUCKET).len() as u64;
    info.auth.roles = entries(view, AUTH_ROLES_BUCKET).len() as u64;
}

/// Counts the live keys (their lease ids, from the MVCC replay) whose lease the `lease` bucket
/// holds, and lists the leases it lacks.
pub fn attach_leases(view: &DbView<'_>, info: &mut EtcdInfo, live_leases: &[u64]) {
    let ids = lease_ids(view);
    let mut t = LeaseTally::default();
    for l in live_leases {
        t.add(&ids, *l);
    }
    t.apply(info);
}

/// The ids the `lease` bucket holds, sorted.
pub fn lease_ids(view: &DbView<'_>) -> Vec<u64> {
    let mut ids: Vec<u64> = entries(view, LEASE_BUCKET).iter().filter_map(|e| be_u64(e.key)).collect();
    ids.sort_unstable();
    ids
}

/// Most missing leases listed.
const MISSING_LISTED: usize = 100;

/// Live keys' leases checked against the `lease` bucket one key at a time, in bounded memory:
/// of the missing leases only the smallest ids that can still be listed are kept (an id pushed
/// out has that many smaller ones, for good), so tallies of disjoint key sets join exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseTally {
    attached: u64,
    missing_keys: u64,
    missing: std::collections::BTreeMap<u64, u64>,
}

impl LeaseTally {
    /// One live key attached to `lease`; `ids` from [`lease_ids`].
    pub fn add(&mut self, ids: &[u64], lease: u64) {
        if ids.binary_search(&lease).is_ok() {
            self.attached += 1;
        } else {
            self.missing_keys += 1;
            *self.missing.entry(lease).or_insert(0) += 1;
            self.trim();
        }
    }

    /// Adds another tally (of other keys).
    pub fn join(&mut self, o: LeaseTally) {
        self.attached += o.attached;
        self.missing_keys += o.missing_keys;
        for (l, n) in o.missing {
            *self.missing.entry(l).or_insert(0) += n;
        }
        self.trim();
    }

    fn trim(&mut self) {
        while self.missing.len() > MISSING_LISTED {
            self.missing.pop_last();
        }
    }

    /// Writes the counts into `info.leases`.
    pub fn apply(self, info: &mut EtcdInfo) {
        let add = |n: &mut Option<u64>, k: u64| *n = Some(n.unwrap_or(0).saturating_add(k));
        add(&mut info.leases.keys_attached, self.attached);
        add(&mut info.leases.keys_with_missing_lease, self.missing_keys);
        info.leases.missing = self.missing.into_iter().map(|(l, n)| (super::ctl::lease_id(l), n)).collect();
    }
}

/// One warning per raised alarm, with what it means for a cluster restored from the file.
pub fn alarm_warnings(alarms: &[Alarm]) -> Vec<Problem> {
    alarms
        .iter()
        .map(|a| {
            let effect = match a.alarm.as_str() {
                "NOSPACE" => {
                    "a cluster restored from this file starts with it and refuses every put, txn with a put and \
                     lease grant until `etcdctl alarm disarm` (after freeing space); `boltscope compact \
                     --clear-alarms` writes a copy without it"
                }
                "CORRUPT" => {
                    "members disagreed on their data; a cluster restored from this file starts with it and \
                     refuses reads and writes until `etcdctl alarm disarm`; `boltscope compact --clear-alarms` \
                     writes a copy without it"
                }
                _ => "an alarm etcd 3.5 does not know; a restored cluster keeps it",
            };
            let msg = format!("{} alarm raised by member {}: {effect}", a.alarm, a.member_id);
            Problem::new(ProblemKind::AlarmRaised, msg).bucket(vec![String::from_utf8_lossy(ALARM_BUCKET).into_owned()])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The newest record's revision is the REVISION `etcdutl snapshot status` printed for each
    /// snapshot (fixtures/*.snap.db.status.json): the main revision of the last `key` entry, 0
    /// for fill-1, whose `key` bucket is empty.
    #[test]
    fn the_newest_revision_is_etcdutls() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        for name in ["tiny-1", "k8s-0.005", "churn-0.005", "auth-1", "fill-1", "v34-k8s-0.005"] {
            let data = std::fs::read(dir.join(format!("{name}.snap.db"))).unwrap();
            let status = std::fs::read_to_string(dir.join(format!("{name}.snap.db.status.json"))).unwrap();
            let want: serde_json::Value = serde_json::from_str(&status).unwrap();
            let view = DbView::new(&data).unwrap();
            assert_eq!(newest_revision(&view).unwrap().unwrap_or(0), want["revision"].as_u64().unwrap(), "{name}");
        }
    }
}
