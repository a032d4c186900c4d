//! The cluster id, derived offline from the `members` bucket.
//!
//! etcd does not store the cluster id in the backend (it lives in the WAL's metadata). It derives
//! it once, at bootstrap and in `snapshot restore`, from the member ids (etcd
//! `RaftCluster.genID`): SHA-1 over the ids sorted ascending, each as 8 bytes big-endian,
//! concatenated; the id is the digest's first 8 bytes read big-endian. Members added or removed
//! later do not change it, so the id computed from the `members` bucket is the cluster's only
//! while the membership is the bootstrap one. The `members` bucket's keys are the member ids in
//! lowercase hex.

use super::MEMBERS_BUCKET;
use crate::bbolt::cursor;
use crate::bbolt::view::DbView;
use sha1::{Digest, Sha1};

/// The member ids of the `members` bucket, sorted (keys that are not hex ids are skipped).
/// `None` when the bucket is absent or cannot be read.
pub fn member_ids(view: &DbView<'_>) -> Option<Vec<u64>> {
    let b = cursor::top_bucket(view, MEMBERS_BUCKET).ok()??;
    let mut ids = Vec::new();
    cursor::for_each(view, b, &mut |e| {
        let id = std::str::from_utf8(e.key).ok().and_then(|s| u64::from_str_radix(s, 16).ok());
        if let Some(id) = id.filter(|_| !e.is_bucket()) {
            ids.push(id);
        }
    })
    .ok()?;
    ids.sort_unstable();
    Some(ids)
}

/// etcd's cluster id for these member ids (see the module docs); `None` for no members.
pub fn id_of(members: &[u64]) -> Option<u64> {
    if members.is_empty() {
        return None;
    }
    let mut sorted = members.to_vec();
    sorted.sort_unstable();
    let mut h = Sha1::new();
    for m in sorted {
        h.update(m.to_be_bytes());
    }
    let d = h.finalize();
    Some(u64::from_be_bytes(d.get(..8)?.try_into().ok()?))
}

/// The cluster id computed from the file's `members` bucket; `None` without members.
pub fn cluster_id(view: &DbView<'_>) -> Option<u64> {
    id_of(&member_ids(view)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixtures() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
    }

    fn json(p: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap_or_else(|_| {
            let gz = std::fs::File::open(p.with_extension("db.gz")).unwrap();
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
            out
        })
    }

    /// The ids real etcd 3.5.1 reported (`etcdctl endpoint status`) for the servers these files
    /// were taken from or restored into with the same member (fixtures/README.md,
    /// fixtures/key-answers/FORMATS.md).
    #[test]
    fn cluster_ids_etcd_reported() {
        let f = fixtures();
        let mut cases: Vec<(std::path::PathBuf, u64, u64)> = Vec::new();
        for name in ["diff-a", "diff-b", "diff-c"] {
            let st = json(&f.join("diff").join(format!("{name}.endpoint-status.json")));
            let h = &st[0]["Status"]["header"];
            let db = f.join("diff").join(format!("{name}.snap.db"));
            cases.push((db, h["cluster_id"].as_u64().unwrap(), h["member_id"].as_u64().unwrap()));
        }
        for name in ["tiny-1", "k8s-0.005", "churn-0.005", "cluster-0.1"] {
            let s = json(&f.join("key-answers").join(format!("{name}.server.json")));
            let h = &s["endpoint_status_start"]["header"];
            let db = f.join(format!("{name}.snap.db"));
            cases.push((db, h["cluster_id"].as_u64().unwrap(), h["member_id"].as_u64().unwrap()));
        }
        for (db, cluster, member) in cases {
            let data = read(&db);
            let view = DbView::new(&data).unwrap();
            assert_eq!(member_ids(&view), Some(vec![member]), "{}", db.display());
            assert_eq!(cluster_id(&view), Some(cluster), "{}", db.display());
        }
    }

    #[test]
    fn order_does_not_matter_and_empty_has_none() {
        assert_eq!(id_of(&[]), None);
        assert_eq!(id_of(&[3, 1, 2]), id_of(&[1, 2, 3]));
        assert_ne!(id_of(&[1, 2]), id_of(&[1, 3]));
    }
}
