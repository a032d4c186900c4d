//! One entry of the `key` bucket as every pass over millions of them holds it: decoded, checked
//! against etcd's invariants for a single record, and reduced to 24 bytes ([`Rec`]), its key held
//! as a fingerprint that also carries the record's generation signature ([`tagged`]), so a pass
//! can hold each key's history to etcd's rules ([`super::history`]) without growing.

use super::history::{put_sig, starts_generation, Step};
use super::{key_fingerprint, proto, revision};
use crate::bbolt::page::ELEMENT_SIZE;
use crate::problem::ProblemKind;

/// A record's key fingerprint ([`key_fingerprint`]) with its low 16 bits given over to the
/// record's [`generation_sig`](super::history::generation_sig) (0 for a tombstone): a record
/// buffered by the million keeps its 40 bytes, and keys are told apart by the other 112 bits.
/// [`untag`] parts them.
pub fn tagged(kv: &proto::Kv<'_>, tomb: bool) -> u128 {
    key_fingerprint(kv.key) & !0xFFFF | u128::from(put_sig(kv, tomb))
}

/// A [`tagged`] fingerprint parted: the key's (low 16 bits zero) and the record's signature.
#[inline]
pub fn untag(t: u128) -> (u128, u16) {
    (t & !0xFFFF, t as u16)
}

/// One entry of the `key` bucket, reduced to what the replay needs (24 bytes: millions are
/// buffered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rec {
    /// Main revision.
    pub main: u64,
    /// Lease the key was attached to (0 = none).
    pub lease: u64,
    /// Position in its stretch (set by [`Parts::push`](super::mvcc::Parts::push)), with [`FRESH`]
    /// in the top bit.
    pub(super) seq: u32,
    /// Value length in bytes, with the tombstone flag in the top bit.
    pub(super) vsize_tomb: u32,
}

/// In `vsize_tomb`: the entry is a tombstone.
pub(super) const TOMB: u32 = 1 << 31;
/// In `seq`: the record is a put that starts a generation ([`starts_generation`]).
pub(super) const FRESH: u32 = 1 << 31;

/// A broken etcd invariant: its kind and a sentence.
pub type Invariant = (ProblemKind, String);

impl Rec {
    /// Decodes one `key` bucket entry into its user key's fingerprint ([`tagged`]) and the record, and checks
    /// etcd's invariants on it. `Ok(None)` for the empty-valued marker `etcdutl snapshot restore
    /// --bump-revision` writes. An entry that cannot be decoded is an `Err`; one that decodes but
    /// breaks an invariant gives the record and the problem.
    pub fn check(key: &[u8], value: &[u8]) -> Result<Option<(u128, Rec, Option<Invariant>)>, Invariant> {
        Ok(Rec::check_kv(key, value)?.map(|(kv, r, issue)| (tagged(&kv, r.tomb()), r, issue)))
    }

    /// [`Rec::check`] with the decoded `KeyValue` instead of the fingerprint: the one rule for
    /// which entries are records, for every pass over the bucket.
    pub fn check_kv<'v>(
        key: &[u8],
        value: &'v [u8],
    ) -> Result<Option<(proto::Kv<'v>, Rec, Option<Invariant>)>, Invariant> {
        Rec::check_parsed(revision::parse(key), key, value)
    }

    /// [`Rec::check_kv`] of an entry whose key the caller parsed already (`rev`: what
    /// [`revision::parse`] gave for `key`).
    pub fn check_parsed<'v>(
        rev: Option<revision::Revision>,
        key: &[u8],
        value: &'v [u8],
    ) -> Result<Option<(proto::Kv<'v>, Rec, Option<Invariant>)>, Invariant> {
        let Some(rev) = rev else {
            let why =
                format!("key of {} bytes is not a revision (8-byte main, '_', 8-byte sub, optional 't')", key.len());
            return Err((ProblemKind::InvalidRevisionKey, why));
        };
        if super::entry::is_marker(&rev, value) {
            return Ok(None);
        }
        if value.is_empty() {
            return Err(super::entry::empty_value(&rev));
        }
        let bad =
            || (ProblemKind::InvalidKeyValue, format!("value of revision {} is not an mvccpb.KeyValue", rev.main));
        let kv = proto::kv(value).ok_or_else(bad)?;
        let vsize = u32::try_from(value.len()).ok().filter(|&v| v < TOMB).ok_or_else(bad)?;
        let issue = Rec::invariant(&rev, &kv);
        let fresh = starts_generation(&rev, &kv);
        Ok(Some((kv, Rec::new(rev.main, kv.lease, vsize, rev.tombstone).with_fresh(fresh), issue)))
    }

    /// etcd's invariants between a decoded record's revision key and its fields: a key is never
    /// empty (etcd refuses a put or delete of the empty key: an empty one is a damaged key field,
    /// review 48a, whose record no range of keys selects); a tombstone carries
    /// only its key; a put's mod revision is the key's main revision, its create revision lies in
    /// `[1, mod revision]`, its version is at least 1 and at most one more than the revisions since
    /// its create revision (a key is written at most once a revision; review 47b: a kept record's
    /// version rewritten up passed), so exactly 1 when it creates the key (create revision = mod
    /// revision; a record `etcdctl migrate` wrote has version 1 whatever its create revision). The
    /// one rule [`Rec::check`] and carving apply.
    pub fn invariant(rev: &revision::Revision, kv: &proto::Kv<'_>) -> Option<Invariant> {
        if kv.key.is_empty() {
            Some((
                ProblemKind::InconsistentKeyValue,
                format!(
                    "{} at revision {} has an empty key, which etcd refuses to write (a damaged key field?)",
                    if rev.tombstone { "tombstone" } else { "put" },
                    rev.main
                ),
            ))
        } else if rev.tombstone {
            kv.more_than_key.then(|| {
                (
                    ProblemKind::TombstoneWithData,
                    format!("tombstone at revision {} carries more than its key", rev.main),
                )
            })
        } else if kv.mod_revision != rev.main {
            Some((
                ProblemKind::InconsistentKeyValue,
                format!("mod_revision {} differs from its revision key's main revision {}", kv.mod_revision, rev.main),
            ))
        } else if kv.create_revision > kv.mod_revision || kv.create_revision == 0 {
            Some((
                ProblemKind::InconsistentKeyValue,
                format!("create_revision {} is not in [1, mod_revision {}]", kv.create_revision, kv.mod_revision),
            ))
        } else if kv.version == 0 {
            Some((ProblemKind::InconsistentKeyValue, format!("put at revision {} has version 0", rev.main)))
        } else if kv.version > kv.mod_revision - kv.create_revision + 1 {
            Some((
                ProblemKind::InconsistentKeyValue,
                format!(
                    "put at revision {} has version {}: at most {} since its create_revision {} (a key is written \
                     at most once a revision; a put that creates its key has version 1)",
                    rev.main,
                    kv.version,
                    kv.mod_revision - kv.create_revision + 1,
                    kv.create_revision
                ),
            ))
        } else {
            None
        }
    }

    /// Whether a decoded record keeps every invariant of [`Rec::invariant`], without building the
    /// sentence (for carving, where a failing record is simply not one).
    pub fn sound(rev: &revision::Revision, kv: &proto::Kv<'_>) -> bool {
        if kv.key.is_empty() {
            false
        } else if rev.tombstone {
            !kv.more_than_key
        } else {
            kv.mod_revision == rev.main
                && kv.create_revision != 0
                && kv.create_revision <= kv.mod_revision
                && kv.version != 0
                && kv.version <= kv.mod_revision - kv.create_revision + 1
        }
    }

    /// A record (its position is set when it is pushed).
    pub fn new(main: u64, lease: u64, vsize: u32, tomb: bool) -> Rec {
        Rec { main, lease, seq: 0, vsize_tomb: (vsize & !TOMB) | if tomb { TOMB } else { 0 } }
    }

    /// The record, marked as a put that created its key (or not).
    pub fn with_fresh(self, fresh: bool) -> Rec {
        Rec { seq: (self.seq & !FRESH) | if fresh { FRESH } else { 0 }, ..self }
    }

    /// Whether the record is a put that starts a generation ([`starts_generation`]).
    pub fn fresh(&self) -> bool {
        self.seq & FRESH != 0
    }

    /// What the record tells its key's history, `sig` its
    /// [`generation_sig`](super::history::generation_sig) (from [`tagged`]).
    pub fn step(&self, sig: u16) -> Step {
        Step { main: self.main, tomb: self.tomb(), fresh: self.fresh(), sig }
    }

    /// Position in its stretch.
    pub fn seq(&self) -> u32 {
        self.seq & !FRESH
    }

    /// Whether the entry is a tombstone.
    pub fn tomb(&self) -> bool {
        self.vsize_tomb & TOMB != 0
    }

    /// Value length.
    pub fn vsize(&self) -> u32 {
        self.vsize_tomb & !TOMB
    }

    /// Key (revision) length: 17, or 18 for a tombstone.
    pub fn ksize(&self) -> u32 {
        17 + u32::from(self.tomb())
    }

    /// Bytes the entry occupies in a leaf: element header, key, value.
    pub fn bytes(&self) -> u64 {
        ELEMENT_SIZE as u64 + u64::from(self.ksize()) + u64::from(self.vsize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_put_that_creates_its_key_has_version_1() {
        // create_revision = mod_revision says the put created the key: version 1, nothing else. A
        // record `etcdctl migrate` wrote has version 1 with an earlier create revision: sound.
        let rev = revision::Revision { main: 9, sub: 0, tombstone: false };
        let kv = |create, version| proto::Kv {
            key: b"k",
            create_revision: create,
            mod_revision: 9,
            version,
            value_len: 0,
            value: b"",
            lease: 0,
            more_than_key: true,
        };
        // Created at 4, written at most at 4..=9: version 6 at most.
        let cases =
            [(9, 1, true), (9, 2, false), (9, 50, false), (4, 1, true), (4, 6, true), (4, 7, false), (1, 127, false)];
        for (create, version, sound) in cases {
            assert_eq!(
                Rec::invariant(&rev, &kv(create, version)).is_none(),
                sound,
                "create {create} version {version}"
            );
            assert_eq!(Rec::sound(&rev, &kv(create, version)), sound, "create {create} version {version}");
        }
        let (kind, msg) = Rec::invariant(&rev, &kv(9, 2)).unwrap();
        assert_eq!(kind, ProblemKind::InconsistentKeyValue);
        assert!(msg.contains("version 2: at most 1 since its create_revision 9"), "{msg}");
        let (_, msg) = Rec::invariant(&rev, &kv(4, 7)).unwrap();
        assert!(msg.contains("version 7: at most 6 since its create_revision 4"), "{msg}");
    }
}
