//! What an etcd server holding a file would say about it, offline: the response header of every
//! answer (cluster id, member id, revision, raft term), the revision a read defaults to, and the
//! compaction floor below which etcd refuses to read.
//!
//! The rules (fixtures/key-answers/FORMATS.md, checked against real etcd 3.5.1 servers restored
//! from the fixtures with their original member name, peer URL and cluster token):
//! - head = the main revision of the last `key` bucket entry (1 when the bucket is empty), raised
//!   to `finishedCompactRev` when that is larger: the revision in every header;
//! - compaction floor C = `finishedCompactRev`, or `scheduledCompactRev` when a compaction was
//!   scheduled and not finished (a server resumes it when it starts, so it refuses those reads too);
//! - a read at R: 0 means head; R < C is refused (`required revision has been compacted`), R == C
//!   is allowed, R > head is refused (`required revision is a future revision`);
//! - member id: the `members` bucket's member (the lowest id when it holds several: offline there
//!   is no "this server"); cluster id: SHA-1 of the member ids (ascending, 8 bytes big-endian
//!   each), its first 8 bytes big-endian. etcd computes that once, at bootstrap (and on restore),
//!   so it is right only while the membership is the bootstrap one; both are 0 (left out of JSON,
//!   as etcd leaves out zero fields) when the bucket is empty or absent;
//! - raft term: 2, what a server restored from the file reports whatever its `meta/term` says
//!   (the term of the last entry applied, none in etcd 3.4's files): restore writes term 1 and the
//!   member's first election makes it 2 ([`SERVED_TERM`]).

use super::schema;
use crate::bbolt::view::DbView;
use crate::problem::Problem;
use sha1::{Digest, Sha1};
use std::fmt;

/// etcd's `ResponseHeader`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Cluster id (0 when unknown).
    pub cluster_id: u64,
    /// Member id (0 when unknown).
    pub member_id: u64,
    /// The store's current revision.
    pub revision: i64,
    /// Raft term ([`SERVED_TERM`] for a file's answers).
    pub raft_term: u64,
}

/// The raft term a server restored from the file reports: 2, whatever the file's `meta/term`
/// (review 43a). `etcdutl snapshot restore` writes a new WAL at term 1 and sets `meta/term` to 1;
/// the lone member then elects itself leader at term 2 before it answers anything (etcd 3.5.1
/// and 3.5.16 serving the fixtures' files, `fixtures/key-answers/*.server.json`). So a snapshot
/// of a cluster that saw more elections (`meta/term` 4, `fixtures/terms/`), a member `etcdutl`
/// restored and no server has served yet (term 1, `bump/bump-1.member.db`), and a file of etcd
/// 3.4, which stores no term, all read back at term 2.
pub const SERVED_TERM: u64 = 2;

/// What reads of the file are measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Store {
    /// The header every answer carries.
    pub header: Header,
    /// The current revision (the header's, unsigned).
    pub head: u64,
    /// The compaction floor C, when the file was compacted.
    pub compacted: Option<u64>,
    /// `meta/finishedCompactRev` alone (what etcdutl's HashKV reports as compact revision).
    pub finished: Option<u64>,
    /// Members in the `members` bucket: with more than one, the header's member id is a guess
    /// (the lowest), and its cluster id right only if they all bootstrapped the cluster together.
    pub members: usize,
    /// Members in the `members_removed` bucket: with any, the membership changed since the
    /// cluster was bootstrapped, and the cluster id computed from the members left may not be it.
    pub members_removed: usize,
    /// Raft's configuration (`meta/confState`, etcd 3.5+) names none of the `members` bucket's
    /// members: a cluster restored under another member name or peer URL, and its later backups,
    /// keep one of the two stale (which one differs between real files, review 48b), so the
    /// header's ids may be another cluster's.
    pub conf_differs: bool,
}

/// The member ids raft's configuration names (`meta/confState`: voters, learners and the
/// outgoing ones of a joint change); `None` without one (etcd 3.4).
pub fn conf_ids(conf_state: Option<&serde_json::Value>) -> Option<Vec<u64>> {
    let c = conf_state?.as_object()?;
    let mut ids: Vec<u64> = ["voters", "learners", "voters_outgoing", "learners_next"]
        .iter()
        .filter_map(|k| c.get(*k)?.as_array())
        .flatten()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Some(ids)
}

/// Why etcd refuses a revision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevError {
    /// Below the compaction floor.
    Compacted,
    /// Past the current revision.
    Future,
}

impl RevError {
    /// The message of etcd's mvcc package (`etcdutl` prints it after `Error: `).
    pub fn mvcc(self) -> &'static str {
        match self {
            RevError::Compacted => "mvcc: required revision has been compacted",
            RevError::Future => "mvcc: required revision is a future revision",
        }
    }
}

impl fmt::Display for RevError {
    /// The message a server returns (`etcdctl` prints it after `Error: `).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcdserver: {}", self.mvcc())
    }
}

impl Store {
    /// Reads the `meta`, `members` and `key` buckets' small facts. A `key` bucket whose last
    /// entry cannot be reached is a problem.
    pub fn read(view: &DbView<'_>) -> Result<Store, Problem> {
        let last = schema::newest_revision(view)?.unwrap_or(0);
        let info = schema::read_core(view, last);
        // The compactions decide every answer (which revisions a read may ask for, which records
        // etcd keeps): a `meta` bucket that cannot be read for them gives none, rather than one
        // guessed from no compaction.
        if let Some(p) = schema::compactions_unreadable(view).filter(|_| info.compactions_unreadable) {
            return Err(p);
        }
        let (head, compacted) = (info.current_revision, info.store_compaction());
        let mut ids: Vec<u64> = info.members.iter().filter_map(|m| u64::from_str_radix(&m.id, 16).ok()).collect();
        ids.sort_unstable();
        ids.dedup();
        let header = Header {
            cluster_id: cluster_id(&ids),
            member_id: ids.first().copied().unwrap_or(0),
            revision: i64::try_from(head).unwrap_or(i64::MAX),
            raft_term: SERVED_TERM,
        };
        let finished = info.finished_compact_revision.filter(|&f| f > 0);
        let conf = conf_ids(info.conf_state.as_ref()).filter(|c| !c.is_empty());
        let conf_differs = conf.is_some_and(|c| !ids.is_empty() && !c.iter().any(|id| ids.contains(id)));
        let (members, members_removed) = (ids.len(), info.members_removed.len());
        Ok(Store { header, head, compacted, finished, members, members_removed, conf_differs })
    }

    /// The revision a read at `rev` sees (0 = head), or etcd's refusal.
    pub fn read_at(&self, rev: i64) -> Result<u64, RevError> {
        if rev <= 0 {
            return Ok(self.head);
        }
        let r = rev as u64;
        if self.compacted.is_some_and(|c| r < c) {
            return Err(RevError::Compacted);
        }
        if r > self.head {
            return Err(RevError::Future);
        }
        Ok(r)
    }
}

/// etcd's cluster id for these member ids ([`super::cluster::id_of`]); 0 without members.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    super::cluster::id_of(member_ids).unwrap_or(0)
}

/// etcd's member id (`computeMemberId`): the first 8 bytes, big-endian, of the SHA-1 of the peer
/// URLs (sorted, concatenated) followed by the cluster token.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls = peer_urls.to_vec();
    urls.sort();
    let mut h = Sha1::new();
    for u in &urls {
        h.update(u.as_bytes());
    }
    h.update(token.as_bytes());
    first_u64(&h.finalize())
}

fn first_u64(d: &[u8]) -> u64 {
    d.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_etcds_rules() {
        // fixtures/key-answers/*.server.json: peer http://127.0.0.1:23793, token etcd-cluster,
        // as the real servers reported them.
        let m = member_id(&["http://127.0.0.1:23793".into()], "etcd-cluster");
        assert_eq!(m, 6094581469650864925);
        assert_eq!(cluster_id(&[m]), 13551787383666069607);
        assert_eq!(cluster_id(&[]), 0);
    }

    #[test]
    fn reads_below_the_floor_or_past_the_head_are_refused() {
        let s = Store {
            header: Header::default(),
            head: 100,
            compacted: Some(40),
            finished: Some(40),
            members: 1,
            members_removed: 0,
            conf_differs: false,
        };
        assert_eq!(s.read_at(0), Ok(100));
        assert_eq!(s.read_at(40), Ok(40));
        assert_eq!(s.read_at(39), Err(RevError::Compacted));
        assert_eq!(s.read_at(101), Err(RevError::Future));
        assert_eq!(RevError::Future.to_string(), "etcdserver: mvcc: required revision is a future revision");
    }
}
