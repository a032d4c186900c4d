//! The `du` report: what fills a file, per group of keys, and the keys to blame. Every type here
//! is part of `du`'s JSON output and round-trips through serde, so the index can keep reports.

use crate::problem::Problem;
use base64::Engine as _;
use std::collections::BTreeMap;

/// A key as JSON shows it: `"key"` when it is valid UTF-8, else `"key_base64"`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum KeyText {
    /// Valid UTF-8.
    #[serde(rename = "key")]
    Text(String),
    /// Anything else, base64 (standard alphabet, padded).
    #[serde(rename = "key_base64")]
    Base64(String),
}

impl KeyText {
    /// The JSON form of key `b`; a key whose own bytes hold a Secret in the clear is
    /// [`REDACTED_KEY`](crate::k8s::secret::REDACTED_KEY) ([`crate::k8s::secret::shown_key`]).
    pub fn of(b: &[u8]) -> KeyText {
        KeyText::exact(crate::k8s::secret::shown_key(b))
    }

    /// The JSON form of `b` as it is (`--show-secrets`).
    pub fn exact(b: &[u8]) -> KeyText {
        match std::str::from_utf8(b) {
            Ok(s) => KeyText::Text(s.to_owned()),
            Err(_) => KeyText::Base64(crate::k8s::render::base64(b)),
        }
    }

    /// For people: the text, or the bytes with anything but printable ASCII as `\xNN`.
    pub fn display(&self) -> String {
        match self {
            KeyText::Text(s) => s.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect(),
            KeyText::Base64(b) => {
                let raw = base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default();
                raw.iter()
                    .map(|&c| {
                        if c.is_ascii_graphic() || c == b' ' {
                            char::from(c).to_string()
                        } else {
                            format!("\\x{c:02x}")
                        }
                    })
                    .collect()
            }
        }
    }
}

/// A group's name as JSON shows it: `"name"` when valid UTF-8, else `"name_base64"`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum GroupName {
    /// Valid UTF-8.
    #[serde(rename = "name")]
    Text(String),
    /// Anything else, base64.
    #[serde(rename = "name_base64")]
    Base64(String),
}

impl Default for GroupName {
    /// The empty name.
    fn default() -> GroupName {
        GroupName::Text(String::new())
    }
}

impl GroupName {
    /// The JSON form of `b`.
    pub fn of(b: &[u8]) -> GroupName {
        match KeyText::of(b) {
            KeyText::Text(s) => GroupName::Text(s),
            KeyText::Base64(s) => GroupName::Base64(s),
        }
    }

    /// The name's bytes (none for base64 that does not decode, which [`GroupName::of`] never
    /// makes).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            GroupName::Text(s) => s.as_bytes().to_vec(),
            GroupName::Base64(b) => base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default(),
        }
    }

    /// For people (see [`KeyText::display`]).
    pub fn display(&self) -> String {
        match self {
            GroupName::Text(s) => KeyText::Text(s.clone()).display(),
            GroupName::Base64(s) => KeyText::Base64(s.clone()).display(),
        }
    }
}

/// The figures of a group of keys (or of the whole file).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// Keys whose newest record is a put.
    pub live_keys: u64,
    /// Key length plus value length of those puts (what `etcdctl get` returns).
    pub live_bytes: u64,
    /// Records in the `key` bucket: puts and tombstones.
    pub revisions: u64,
    /// Of those, tombstones.
    pub tombstones: u64,
    /// Revision key plus stored KeyValue bytes over those records.
    pub stored_bytes: u64,
    /// Records compaction at the current revision deletes.
    pub compact_revisions: u64,
    /// Their revision key plus KeyValue bytes.
    pub compact_bytes: u64,
    /// Distinct leases attached to live keys.
    pub leases: u64,
    /// Live values by storage encoding (`protobuf`, `json`, `cbor`, `encrypted:...`, `other`).
    pub encodings: BTreeMap<String, u64>,
}

/// One group of keys.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    /// Resource, namespace, `resource/namespace`, `(other)`, `(cluster)` or key prefix.
    #[serde(flatten)]
    pub name: GroupName,
    /// With `--by resource+namespace`: the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// With `--by resource+namespace`: the namespace (none for cluster-scoped keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// `stored_bytes` over the file's in-use size.
    pub share: f64,
}

/// A largest live key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Largest {
    /// The key.
    #[serde(flatten)]
    pub key: KeyText,
    /// Key length plus value length.
    pub bytes: u64,
}

/// A most revised key.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MostRevised {
    /// The key.
    #[serde(flatten)]
    pub key: KeyText,
    /// Its records in the file.
    pub revisions: u64,
}

/// A key with the most stored history.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MostStored {
    /// The key.
    #[serde(flatten)]
    pub key: KeyText,
    /// Revision key plus KeyValue bytes over its records.
    pub stored_bytes: u64,
}

/// The keys to blame, largest first, ties by key.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Top {
    /// The largest live keys.
    pub largest: Vec<Largest>,
    /// The keys with the most records.
    pub most_revised: Vec<MostRevised>,
    /// The keys with the most stored bytes.
    pub most_stored: Vec<MostStored>,
}

/// `du` of one file. Figures are withheld (null) when the file's tree cannot be read whole.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Du {
    /// etcd's current revision (none for a generic bbolt file).
    pub revision: Option<u64>,
    /// The grouping: `resource`, `namespace`, `resource+namespace` or `prefix:N`.
    pub by: String,
    /// The file's in-use size (total minus free pages), what shares are of; withheld (null) with
    /// the figures, since a walk that stopped early finds free pages that are not.
    pub in_use: Option<u64>,
    /// Whether the figures could be computed: the tree read whole and every record decoded
    /// (else `groups`, `top` and `total` are null).
    pub complete: bool,
    /// The groups, most stored bytes first.
    pub groups: Option<Vec<Group>>,
    /// The keys to blame.
    pub top: Option<Top>,
    /// Every group together.
    pub total: Option<Figures>,
    /// What is wrong with the file (at most `MAX_PROBLEMS` kept).
    pub problems: Vec<Problem>,
    /// All problems.
    pub problem_total: u64,
    /// Set when the newer meta page cannot be used, so the figures are those of the previous
    /// transaction (what bbolt itself reads then): which page was read, and why. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_fallback: Option<String>,
}

/// The `n` best `(metric, key)` pairs seen, best first: higher metric, then smaller key. Keys are
/// copied only when they make the list, so memory is `n` keys whatever the number offered.
#[derive(Clone, Debug, Default)]
pub struct TopN {
    n: usize,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<Rank>>,
}

/// Greater is better: higher metric, then smaller key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rank(u64, Vec<u8>);

impl Ord for Rank {
    fn cmp(&self, o: &Rank) -> std::cmp::Ordering {
        self.0.cmp(&o.0).then_with(|| o.1.cmp(&self.1))
    }
}

impl PartialOrd for Rank {
    fn partial_cmp(&self, o: &Rank) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl TopN {
    /// Keeps the best `n`.
    pub fn new(n: usize) -> TopN {
        TopN { n, heap: std::collections::BinaryHeap::new() }
    }

    /// Offers a key.
    pub fn offer(&mut self, metric: u64, key: &[u8]) {
        if self.heap.len() < self.n {
            self.heap.push(std::cmp::Reverse(Rank(metric, key.to_vec())));
        } else if let Some(std::cmp::Reverse(w)) = self.heap.peek() {
            if metric > w.0 || (metric == w.0 && key < w.1.as_slice()) {
                self.heap.pop();
                self.heap.push(std::cmp::Reverse(Rank(metric, key.to_vec())));
            }
        }
    }

    /// Adds another list's keys.
    pub fn join(&mut self, o: TopN) {
        for std::cmp::Reverse(Rank(m, k)) in o.heap {
            self.offer(m, &k);
        }
    }

    /// The list, best first.
    pub fn into_sorted(self) -> Vec<(u64, Vec<u8>)> {
        self.heap.into_sorted_vec().into_iter().map(|std::cmp::Reverse(Rank(m, k))| (m, k)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_lists_keep_the_best_and_break_ties_by_key() {
        let mut a = TopN::new(3);
        for (m, k) in [(5, "e"), (9, "a"), (5, "b"), (5, "a"), (1, "z"), (5, "c")] {
            a.offer(m, k.as_bytes());
        }
        let mut b = TopN::new(3);
        b.offer(9, b"0");
        a.join(b);
        let got: Vec<(u64, String)> =
            a.into_sorted().into_iter().map(|(m, k)| (m, String::from_utf8(k).unwrap())).collect();
        assert_eq!(got, vec![(9, "0".into()), (9, "a".into()), (5, "a".into())]);
        let mut none = TopN::new(0);
        none.offer(1, b"x");
        assert!(none.into_sorted().is_empty());
    }

    #[test]
    fn keys_and_names_are_text_or_base64() {
        let j = |k: &KeyText| serde_json::to_string(&Largest { key: k.clone(), bytes: 1 }).unwrap();
        assert_eq!(j(&KeyText::of(b"/registry/a")), r#"{"key":"/registry/a","bytes":1}"#);
        assert_eq!(j(&KeyText::of(b"a\xff")), r#"{"key_base64":"Yf8=","bytes":1}"#);
        assert_eq!(KeyText::of(b"a\xff\n").display(), "a\\xff\\x0a");
        let back: Largest = serde_json::from_str(r#"{"key_base64":"Yf8=","bytes":1}"#).unwrap();
        assert_eq!(back.key, KeyText::of(b"a\xff"));
        assert_eq!(serde_json::to_value(GroupName::of(b"\xfe")).unwrap(), serde_json::json!({"name_base64": "/g=="}));
    }
}
