//! Encryption at rest, audited: the gates `check --require-encryption RESOURCE[,...]` (every
//! live value of those resources is stored under a `k8s:enc:` provider) and
//! `--require-encryption-key NAME` (and under that key or KMS plugin name: a key rotation has
//! finished). The live values come from [`keyspace`]'s per-key pass over the `key` bucket, their
//! storage encoding from [`crate::k8s::encoding`].

use super::check::{GateResult, Gates};
use super::du_report::KeyText;
use crate::bbolt::view::DbView;
use crate::etcd::keyspace::{self, Budget, Gather, KeyFilter, KeyFold, KeyState, Plan, BUDGET};
use crate::etcd::schema;
use crate::k8s::encoding::{self, Encoding};
use crate::k8s::key;
use std::collections::BTreeMap;

/// Offending keys listed.
pub const LISTED: usize = 20;

/// An offending key and how its value is stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Offender {
    /// The key.
    #[serde(flatten)]
    pub key: KeyText,
    /// Its value's storage encoding (`protobuf`, `encrypted:aescbc:key1`, ...).
    pub encoding: String,
}

/// What the audit found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Audit {
    /// The resources audited.
    pub resources: Vec<String>,
    /// The key (or KMS plugin) name required, if any.
    pub key: Option<String>,
    /// Live values of those resources.
    pub values: u64,
    /// Of those, not under a `k8s:enc:` provider.
    pub unencrypted: u64,
    /// Of those, encrypted under another key name than `key`.
    pub other_key: u64,
    /// Live values by encoding.
    pub encodings: BTreeMap<String, u64>,
    /// The first offending keys in key order (at most [`LISTED`]).
    pub offenders: Vec<Offender>,
    /// Records of the `key` bucket that could not be read.
    pub unreadable: u64,
}

struct Acc {
    values: u64,
    unencrypted: u64,
    other_key: u64,
    encodings: BTreeMap<String, u64>,
    offenders: BTreeMap<Vec<u8>, String>,
}

struct Auditor<'a> {
    data: &'a [u8],
    key: Option<&'a str>,
}

impl KeyFold for Auditor<'_> {
    type Acc = Acc;
    fn empty(&self) -> Acc {
        Acc { values: 0, unencrypted: 0, other_key: 0, encodings: BTreeMap::new(), offenders: BTreeMap::new() }
    }
    fn key(&self, acc: &mut Acc, k: &KeyState) {
        if !k.live() {
            return;
        }
        // The pass gathers only keys of the audited resources.
        let Some(kv) = k.newest(self.data) else { return };
        let enc = encoding::classify(kv.value);
        let label = enc.label();
        acc.values += 1;
        *acc.encodings.entry(label.clone()).or_insert(0) += 1;
        let bad = match &enc {
            Encoding::Encrypted(e) => {
                let other = self.key.is_some_and(|want| e.key.as_deref() != Some(want));
                acc.other_key += u64::from(other);
                other
            }
            _ => {
                acc.unencrypted += 1;
                true
            }
        };
        if bad {
            acc.offenders.insert(kv.key.to_vec(), label);
            if acc.offenders.len() > LISTED {
                acc.offenders.pop_last();
            }
        }
    }
    fn join(&self, mut l: Acc, r: Acc) -> Acc {
        (l.values, l.unencrypted, l.other_key) =
            (l.values + r.values, l.unencrypted + r.unencrypted, l.other_key + r.other_key);
        for (e, n) in r.encodings {
            *l.encodings.entry(e).or_insert(0) += n;
        }
        l.offenders.extend(r.offenders);
        while l.offenders.len() > LISTED {
            l.offenders.pop_last();
        }
        l
    }
}

/// Audits the live values of `resources` (names as `du --by resource` gives them); `key`, when
/// given, is the key or KMS plugin name every encrypted value must carry. `None` for a file
/// that is not etcd's.
pub fn audit(view: &DbView<'_>, resources: &[String], key: Option<&str>) -> Option<Audit> {
    if !schema::is_etcd(view) {
        return None;
    }
    let last = schema::newest_revision(view).ok().flatten();
    let rev = schema::read_core(view, last.unwrap_or(0)).current_revision;
    let budget = Budget::new(BUDGET);
    let ours: &KeyFilter = &|k: &[u8]| key::parse(k).is_some_and(|p| resources.contains(&p.resource));
    let gather = Gather::new(view.data, Plan::all(rev), &budget).filter(Some(ours));
    let (acc, info) = keyspace::fold_keys(view, &gather, &Auditor { data: view.data, key });
    Some(Audit {
        resources: resources.to_vec(),
        key: key.map(str::to_owned),
        values: acc.values,
        unencrypted: acc.unencrypted,
        other_key: acc.other_key,
        encodings: acc.encodings,
        offenders: acc.offenders.into_iter().map(|(k, encoding)| Offender { key: KeyText::of(&k), encoding }).collect(),
        unreadable: info.problem_total,
    })
}

/// The gates' outcomes: `--require-encryption`, and `--require-encryption-key` when `key` is
/// given; the audit when the file is etcd's.
pub fn gates(view: &DbView<'_>, resources: &[String], key: Option<&str>) -> (Vec<GateResult>, Option<Audit>) {
    let a = audit(view, resources, key);
    let limit = resources.join(",");
    let gate = |name: &str, limit: String, actual: String, ok: bool| GateResult::words(name, limit, actual, ok);
    let Some(au) = &a else {
        let not = || "none (not an etcd file)".to_string();
        let mut v = vec![gate("--require-encryption", limit, not(), false)];
        if let Some(k) = key {
            v.push(gate("--require-encryption-key", k.into(), not(), false));
        }
        return (v, None);
    };
    let unread = if au.unreadable > 0 { format!(", {} record(s) unreadable", au.unreadable) } else { String::new() };
    let actual = match (au.values, au.unencrypted) {
        (0, _) => format!("no live values of {limit}{unread}"),
        (n, 0) => format!("all {n} encrypted{unread}"),
        (n, u) => format!("{u} of {n} NOT encrypted{unread}"),
    };
    let mut v = vec![gate(
        "--require-encryption",
        format!("{limit} encrypted"),
        actual,
        au.unencrypted == 0 && au.unreadable == 0,
    )];
    if let Some(k) = key {
        let encrypted = au.values - au.unencrypted;
        let actual = match au.other_key {
            0 => format!("all {encrypted} encrypted values under {k}"),
            o => format!("{o} of {encrypted} encrypted values under another key"),
        };
        v.push(gate("--require-encryption-key", k.into(), actual, au.other_key == 0 && au.unreadable == 0));
    }
    (v, a)
}

/// Adds the encryption gates `gates` asks for to `out` (failed as withheld when the tree could not
/// be read whole: `complete` false); the audit, when one was made.
pub fn add_gates(view: &DbView<'_>, gates: &Gates, complete: bool, out: &mut Vec<GateResult>) -> Option<Audit> {
    if gates.require_encryption.is_empty() {
        return None;
    }
    let key = gates.require_encryption_key.as_deref();
    if complete {
        let (more, audit) = self::gates(view, &gates.require_encryption, key);
        out.extend(more);
        return audit;
    }
    let withheld = || "withheld (the tree could not be read whole)".to_string();
    let limit = format!("{} encrypted", gates.require_encryption.join(","));
    out.push(GateResult::words("--require-encryption", limit, withheld(), false));
    if let Some(k) = key {
        out.push(GateResult::words("--require-encryption-key", k.into(), withheld(), false));
    }
    None
}
