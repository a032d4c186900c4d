//! YAML that holds a Secret, told by parsing it: what the line rules of [`super::secret_yaml`]
//! cannot see (a merge key that brings the kind itself, `kind: *alias`, a complex key `? kind`, a
//! double-quoted kind broken over lines by an escaped line end, line ends of a lone CR, a flow
//! list of Secrets without their kind, Secrets in a nested list) is read here as any YAML reader
//! reads it.
//!
//! Each document of the stream is parsed by `serde_norway` (aliases resolved) straight into JSON,
//! within a budget of bytes built that aliases cannot get around, its merge keys applied; the JSON
//! is then judged exactly as JSON text is ([`super::secret_text::json_holds_secret`]): the same
//! YAML and JSON say the same. Only asked of text that names `Secret` or has a Secret's fields
//! ([`super::secret_text::may_hold_secret`]), so the parse costs nothing for other values.

use serde::de::{self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::Cell;

/// How many texts deep the parse goes: a string inside a parsed document may be YAML again (a
/// manifest kept in a ConfigMap), read by [`super::secret_text::holds_secret_object`] as text;
/// block scalars nest without escaping, so a value could nest thousands deep and be parsed again
/// at each (the stack and the time would run out). Past this depth, the line rules alone judge.
const MAX_NESTED: u8 = 2;

/// The longest text parsed: Secrets' manifests are a few KiB, and libyaml's scanner is not linear
/// in hostile text (below). Longer text is judged by the line rules alone.
const MAX_PARSED: usize = 64 << 10;

/// The deepest nesting of flow collections (`[`, `{`, counted without regard to quotes) a text
/// parsed may have: libyaml's scanner takes time quadratic in it before the parser refuses past
/// 128 (a 64 KiB run of `[` took 12 s, a 1 MiB run of `{kind: ` 196 s).
const MAX_FLOW_DEPTH: usize = 100;

/// What the texts one stored value holds may build when parsed, in bytes (16 a value, plus its
/// strings' bytes, plus each text's length and [`PARSE_COST`]), the texts its strings hold and
/// are parsed again included ([`per_value`]): an alias is a copy of what it names, so 64 KiB of
/// aliases can stand for gigabytes (review 40a: a list of 16,384 items aliased 10,900 times;
/// review 40b: aliases no count of `*` in the text finds). Past it the parse stops and the text,
/// not read through, is withheld. A real manifest of 64 KiB builds less than 1 MiB.
const BUDGET: u64 = 4 << 20;

/// The deepest a value is built, in collections (the parser refuses past 128 levels; a merge
/// chain nests one level a merge, so chains longer than this are left to the line rules).
const MAX_DEPTH: u32 = 100;

std::thread_local! {
    /// Texts being parsed on this thread, one inside another's string.
    static NESTED: Cell<u8> = const { Cell::new(0) };
    /// Bytes the stored value's (or else the outermost text's) documents may still build.
    static LEFT: Cell<u64> = const { Cell::new(0) };
    /// Whether one stored value is being judged ([`per_value`]): its parses share one budget.
    static SCOPED: Cell<bool> = const { Cell::new(false) };
    /// How deep the value being built is.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, the judging of one stored value, with one budget for every text it parses: the
/// strings of a JSON value are each read as text, and each could otherwise spend a budget of its
/// own (review 40c: 231 strings of a 280-byte alias bomb took 5.9 s).
pub(super) fn per_value<R>(f: impl FnOnce() -> R) -> R {
    struct Scope(bool);
    impl Drop for Scope {
        fn drop(&mut self) {
            SCOPED.with(|s| s.set(self.0));
        }
    }
    let _scope = Scope(SCOPED.with(|s| s.replace(true)));
    if !_scope.0 {
        LEFT.with(|l| l.set(BUDGET));
        super::secret_gzip::reset();
    }
    f()
}

/// One text more being parsed on this thread, for as long as it lives; the outermost one sets
/// the budget, unless a stored value's judging set it ([`per_value`]).
struct Nested(u8);

impl Nested {
    fn enter() -> Nested {
        let depth = NESTED.with(Cell::get);
        if depth == 0 && !SCOPED.with(Cell::get) {
            LEFT.with(|l| l.set(BUDGET));
        }
        NESTED.with(|n| n.set(depth.saturating_add(1)));
        Nested(depth)
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        NESTED.with(|n| n.set(self.0));
    }
}

/// Whether YAML text, parsed document by document up to the first that does not parse, holds a
/// Secret as its JSON would ([`super::secret_text::json_holds_secret`]). Text that is no YAML
/// (prose, JSON cut short) parses as a lone string or not at all, and holds none; so does text
/// [`MAX_NESTED`] texts deep. Text past the bounds the parser is given ([`MAX_PARSED`],
/// [`MAX_FLOW_DEPTH`]) is not read through: withheld when it may hold a Secret only a parser
/// reads ([`unparsed_may_hold_secret`]; review 43b: a kind by alias behind a comment of 101
/// brackets, or in 70 KiB of text, printed).
pub(super) fn parsed_yaml_holds_secret(text: &str) -> bool {
    if NESTED.with(Cell::get) >= MAX_NESTED {
        return false;
    }
    if text.len() > MAX_PARSED || !shallow(text) {
        return unparsed_may_hold_secret(text);
    }
    let _nested = Nested::enter();
    // The text itself counts against the budget (so do the strings parsed again), with what
    // starting a parse costs. Once the value's budget is spent, a text that may hold a Secret
    // cannot be read through: withheld, as text past what is read is (review 40d: one string of
    // aliases spent it, and a Secret in the next string printed).
    charge(text.len().saturating_add(PARSE_COST)).is_err() || documents_hold_secret(text) || spent()
}

/// Whether text the parser is not given may hold a Secret only a parser reads: it names one and a
/// data field (or spells them with escapes), and gives a kind in a way the line rules do not read
/// (by alias, as a complex key, through a merge key, or escaped). Such text is withheld unread;
/// long YAML that merely names a Secret (a rule file, a dashboard) is left to the line rules.
fn unparsed_may_hold_secret(text: &str) -> bool {
    let has = |w: &str| text.contains(w);
    // `Secret` and `data` as words of their own (not `existingSecret`, `metadata`), or escaped.
    let word = |w: &str| {
        text.match_indices(w).any(|(i, _)| {
            let b = text.as_bytes();
            let alnum = |j: Option<&u8>| j.is_some_and(u8::is_ascii_alphanumeric);
            !alnum(i.checked_sub(1).and_then(|j| b.get(j))) && !alnum(b.get(i + w.len()))
        })
    };
    let escaped = |w: &str| ["\\x", "\\u00", "\\U000000"].iter().any(|e| has(&format!("{e}{w}")));
    let secret = word("Secret") || escaped("53ecret");
    let data = word("data") || word("stringData") || escaped("64ata");
    let kind_elsewise = kind_by_alias_or_key(text) || has("<<") || escaped("53ecret");
    secret && data && kind_elsewise
}

/// Whether YAML text gives a `kind` by alias (`kind: *k`, any spaces or quotes around it) or as a
/// complex key (`? kind`), which only a parser reads (review 43e: one spacing only was matched).
fn kind_by_alias_or_key(text: &str) -> bool {
    let b = text.as_bytes();
    let skip = |mut i: usize, set: &[u8]| {
        while b.get(i).is_some_and(|c| set.contains(c)) {
            i += 1;
        }
        i
    };
    let alias = text.match_indices("kind").any(|(i, _)| {
        let at = skip(skip(i + 4, b"\"'"), b" \t");
        b.get(at) == Some(&b':') && b.get(skip(at + 1, b" \t")) == Some(&b'*')
    });
    alias
        || memchr::memchr_iter(b'?', b).any(|i| {
            let at = skip(skip(i + 1, b" \t"), b"\"'");
            b.get(at..at + 4) == Some(b"kind")
        })
}

/// What starting a parse costs, in bytes of the budget.
const PARSE_COST: usize = 1 << 10;

/// Whether the stored value's budget is spent.
fn spent() -> bool {
    LEFT.with(Cell::get) == 0
}

/// Whether `text`'s flow collections nest at most [`MAX_FLOW_DEPTH`] deep (brackets in quotes
/// and comments counted too: such text is then left to the line rules).
fn shallow(text: &str) -> bool {
    let mut depth = 0usize;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

fn documents_hold_secret(text: &str) -> bool {
    for doc in serde_norway::Deserializer::from_str(text) {
        let Ok(Node(mut v)) = Node::deserialize(doc) else { return false };
        // A lone scalar (prose) is the text itself, which the line rules read.
        if !(v.is_object() || v.is_array()) {
            continue;
        }
        merge(&mut v, 0);
        if super::secret_text::json_holds_secret(&v) {
            return true;
        }
    }
    false
}

/// Takes `bytes` from what the outermost text may still build; an error once it is spent.
fn charge(bytes: usize) -> Result<(), &'static str> {
    let cost = 16u64.saturating_add(bytes as u64);
    LEFT.with(|l| {
        let left = l.get();
        l.set(left.saturating_sub(cost));
        if left >= cost {
            Ok(())
        } else {
            Err("the document builds more than a manifest does")
        }
    })
}

/// Applies YAML's merge keys (`<<: mapping` or `<<: [mappings]`): the keys a mapping lacks are
/// taken from what it merges, the first merged first; merged mappings' own merges (children,
/// copied by their alias) are applied first, so chains resolve (as deep as [`MAX_DEPTH`]).
fn merge(v: &mut Value, depth: u32) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(|x| merge(x, depth + 1));
            let from = match m.remove("<<") {
                Some(Value::Object(o)) => vec![o],
                Some(Value::Array(a)) => a.into_iter().filter_map(|x| x.as_object().cloned()).collect(),
                Some(other) => {
                    // Not a merge YAML applies: kept as a key.
                    m.insert("<<".into(), other);
                    Vec::new()
                }
                None => Vec::new(),
            };
            for o in from {
                for (k, x) in o {
                    m.entry(k).or_insert(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| merge(x, depth + 1)),
        _ => {}
    }
}

/// A YAML value built as JSON straight from the parser, within the budget: a tag is dropped
/// (`kind: !t Secret` is a kind of Secret to this check), a key that is not a string is written as
/// JSON, a key given twice keeps its last value.
struct Node(Value);

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let depth = DEPTH.with(Cell::get);
        if depth >= MAX_DEPTH {
            return Err(de::Error::custom("nested past what a manifest holds"));
        }
        DEPTH.with(|x| x.set(depth + 1));
        let built = d.deserialize_any(NodeVisitor);
        DEPTH.with(|x| x.set(depth));
        built
    }
}

struct NodeVisitor;

/// A scalar built, its bytes charged.
fn scalar<E: de::Error>(v: Value, bytes: usize) -> Result<Node, E> {
    charge(bytes).map_err(E::custom)?;
    Ok(Node(v))
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Node, E> {
        scalar(Value::Bool(b), 0)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Node, E> {
        scalar(n.into(), 0)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Node, E> {
        scalar(n.into(), 0)
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        scalar(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number), 0)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Node, E> {
        scalar(Value::String(s.to_owned()), s.len())
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Node, E> {
        let n = s.len();
        scalar(Value::String(s), n)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        scalar(Value::Null, 0)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        scalar(Value::Null, 0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        charge(0).map_err(de::Error::custom)?;
        let mut out = Vec::new();
        while let Some(Node(x)) = seq.next_element()? {
            out.push(x);
        }
        Ok(Node(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        charge(0).map_err(de::Error::custom)?;
        let mut out = Map::new();
        let mut complex = 0u32;
        let mut repeated = 0u32;
        while let Some((Node(k), Node(x))) = map.next_entry()? {
            // A collection as a key is named by its place, not written out: written as JSON, a
            // key inside a key doubles its escapes at each level (review 40c: 134 bytes of text
            // asked for 2 GiB). No Secret's field is one; its value is still judged.
            let key = match k {
                Value::String(s) => s,
                Value::Array(_) | Value::Object(_) => {
                    complex += 1;
                    format!("<complex key {complex}>")
                }
                other => other.to_string(),
            };
            // A key given again keeps both values, the later under a name of its own (review
            // 40d: a later value, or a key spelled as a placeholder, hid a Secret).
            let key = if out.contains_key(&key) {
                loop {
                    repeated += 1;
                    let fresh = format!("{key}\u{0}{repeated}");
                    if !out.contains_key(&fresh) {
                        break fresh;
                    }
                }
            } else {
                key
            };
            out.insert(key, x);
        }
        Ok(Node(Value::Object(out)))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Node, A::Error> {
        // A tagged value: the tag dropped, the value kept; a tag is no level of its own (review
        // 40c: fifty tagged levels went past the depth and a Secret inside printed).
        let (_tag, contents): (String, _) = data.variant()?;
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        let node = contents.newtype_variant::<Node>();
        DEPTH.with(|d| d.set(d.get().saturating_add(1)));
        node
    }
}

#[cfg(test)]
#[path = "secret_parsed_tests.rs"]
mod tests;
