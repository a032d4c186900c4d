//! YAML that holds a Secret, told by parsing it: what the line rules of [`super::secret_yaml`]
//! cannot see (a merge key that brings the kind itself, `kind: *alias`, a complex key `? kind`, a
//! double-quoted kind broken over lines by an escaped line end, line ends of a lone CR, a flow list of Secrets without
//! their kind, Secrets in a nested list) is read here as any YAML reader reads it.
//!
//! Each document of the stream is parsed by `serde_norway` (aliases resolved, with its limits on
//! nesting and on aliases repeated), its merge keys applied, and turned into JSON, which is then
//! judged exactly as JSON text is ([`super::secret_text::json_holds_secret`]): the same YAML and
//! JSON say the same. Only asked of text that names `Secret` or has a Secret's fields
//! ([`super::secret_text::may_hold_secret`]), so the parse costs nothing for other values.

use serde::Deserialize;
use serde_json::{Map, Value};
use serde_norway::Value as Yaml;

/// How deep a parsed document is turned into JSON (`serde_norway` refuses nesting past 128).
const MAX_DEPTH: usize = 128;

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

/// The most aliases (`*name`, a merge's `<<: *name` too) a text parsed may have: each is replaced
/// by a copy of what it names, so a list of N items aliased M times is N x M values (16,384 items
/// aliased 10,900 times in 64 KiB took gigabytes, review 40a). Secrets that name their kind or
/// data by alias need one or two.
const MAX_ALIASES: usize = 4;

/// The most rounds of merging: a merge that brings a mapping holding a merge of its own needs one
/// round more (serde_norway applies one level a round).
const MERGE_ROUNDS: usize = 4;

std::thread_local!(static NESTED: std::cell::Cell<u8> = const { std::cell::Cell::new(0) });

/// One text more being parsed on this thread, for as long as it lives.
struct Nested(u8);

impl Nested {
    fn enter() -> Nested {
        let depth = NESTED.with(|n| n.get());
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
/// [`MAX_NESTED`] texts deep.
pub(super) fn parsed_yaml_holds_secret(text: &str) -> bool {
    if NESTED.with(|n| n.get()) >= MAX_NESTED
        || text.len() > MAX_PARSED
        || !shallow(text)
        || aliases(text) > MAX_ALIASES
    {
        return false;
    }
    let _nested = Nested::enter();
    documents_hold_secret(text)
}

/// How many aliases `text` may hold, counted high: each `*` where a YAML token may start (after a
/// space, a line start, a flow indicator or a colon) followed by a name (any character but a
/// space or a flow indicator: an anchor's name may hold quotes). A `*` in quotes counts too: text
/// with more than a few is left to the line rules.
fn aliases(text: &str) -> usize {
    let b = text.as_bytes();
    (0..b.len())
        .filter(|&i| {
            b[i] == b'*'
                && (i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n' | b'\r' | b'[' | b'{' | b',' | b':' | b'-'))
                && b.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace() && !b",[]{}".contains(c))
        })
        .count()
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
        let Ok(mut y) = Yaml::deserialize(doc) else { return false };
        // A lone scalar (prose) is the text itself, which the line rules read.
        let mut top = &y;
        while let Yaml::Tagged(t) = top {
            top = &t.value;
        }
        if !matches!(top, Yaml::Mapping(_) | Yaml::Sequence(_)) {
            continue;
        }
        // A merge that cannot be applied (a tagged or scalar value merged) leaves the keys as
        // they are: the line rules take `<<` beside a Secret's kind for its data.
        for _ in 0..MERGE_ROUNDS {
            if y.apply_merge().is_err() {
                break;
            }
        }
        if super::secret_text::json_holds_secret(&to_json(&y, 0)) {
            return true;
        }
    }
    false
}

/// A parsed YAML value as JSON: a tag is dropped (`kind: !t Secret` is a kind of Secret to this
/// check), a key that is not a string is written as YAML writes it, and what lies deeper than
/// [`MAX_DEPTH`] is dropped (never met: the parser refuses it first; and the check withholds
/// whatever nests past 64).
fn to_json(y: &Yaml, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match y {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(s) => Value::Array(s.iter().map(|v| to_json(v, depth + 1)).collect()),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(key_text(k), to_json(v, depth + 1));
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => to_json(&t.value, depth + 1),
    }
}

/// A mapping's key as a JSON object's: a string as it is (a tag dropped), any other scalar or a
/// complex key as YAML writes it.
fn key_text(k: &Yaml) -> String {
    match k {
        Yaml::String(s) => s.clone(),
        Yaml::Tagged(t) if matches!(t.value, Yaml::String(_)) => key_text(&t.value),
        other => serde_norway::to_string(other).map(|s| s.trim_end().to_string()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_the_line_rules_miss_are_read_by_the_parser() {
        for yes in [
            // A merge key that brings the kind itself.
            "base: &b\n  kind: Secret\ns:\n  <<: *b\n  data:\n    pw: x\n",
            // The kind by an alias.
            "k: &k Secret\nobj:\n  kind: *k\n  stringData: {pw: x}\n",
            // A complex key.
            "? kind\n: Secret\ndata:\n  pw: x\n",
            // A double-quoted kind broken over lines by an escaped line end.
            "kind: \"Sec\\\n  ret\"\ndata:\n  pw: x\n",
            // Line ends of a lone CR.
            "kind: Secret\rdata:\r  pw: x\r",
            // A flow list of Secrets without their kind.
            "- {metadata: {name: db}, type: Opaque, data: {pw: x}}\n",
            // Secrets in a nested list.
            "- - kind: Secret\n    data: {pw: x}\n",
            // A tagged kind.
            "kind: !k8s Secret\nstringData: {pw: x}\n",
        ] {
            assert!(parsed_yaml_holds_secret(yes), "{yes:?}");
        }
        for no in [
            "kind: SecretStore\ndata: {}\n",
            "kind: Event\ninvolvedObject:\n  kind: Secret\n  name: db\n",
            "Use kind: Secret with data for passwords.",
            "{\"kind\": \"Secret\", \"data\": {\"pw\"",
            "- type: click\n  data: {x: 1}\n",
        ] {
            assert!(!parsed_yaml_holds_secret(no), "{no:?}");
        }
    }

    #[test]
    fn manifests_nested_in_strings_are_parsed_two_deep_then_left_to_the_line_rules() {
        // A Secret kept as a block scalar inside a ConfigMap-like document, two texts deep.
        let inner = "kind: Secret\n? data\n: {pw: x}\n";
        let one = format!("kind: ConfigMap\ndata:\n  m: |\n{}", indent(inner, 4));
        assert!(super::super::secret_text::text_holds_secret(one.as_bytes()), "{one}");
        // Hundreds of texts deep: judged in bounded time and stack (a thread of 256 KiB).
        let mut deep = String::from("kind: Secret data\n");
        for _ in 0..400 {
            deep = format!("data:\n  x: |\n{}", indent(&deep, 4));
        }
        let t = std::thread::Builder::new().stack_size(256 << 10);
        let judged = t.spawn(move || super::super::secret_text::text_holds_secret(deep.as_bytes())).unwrap();
        assert!(!judged.join().unwrap());
    }

    fn indent(t: &str, n: usize) -> String {
        t.lines().map(|l| format!("{}{l}\n", " ".repeat(n))).collect()
    }

    #[test]
    fn text_that_would_take_libyaml_minutes_is_left_to_the_line_rules() {
        // 60 KiB of `[` (12 s in libyaml), then the same kept shallower, which is parsed.
        let deep = format!("kind: Secret\ndata: {}", "[".repeat(60 << 10));
        assert!(!shallow(&deep) && !parsed_yaml_holds_secret(&deep));
        let ok = format!("kind: Secret\ndata: {{pw: {}x{}}}\n", "[".repeat(90), "]".repeat(90));
        assert!(shallow(&ok) && parsed_yaml_holds_secret(&ok));
        // Past the length parsed (a 1 MiB run of `{kind: ` took 196 s).
        let long = format!("kind: Secret\ndata: {{pw: x}}\nnote: {}\n", "y".repeat(MAX_PARSED));
        assert!(!parsed_yaml_holds_secret(&long));
    }

    #[test]
    fn aliases_repeated_past_the_parsers_limit_are_refused_not_expanded() {
        // A billion laughs beside a Secret: a parser that expanded it would find the Secret (after
        // 10^12 strings); this one refuses the document (the line rules read its kind and data).
        let mut t = String::from("kind: Secret\ndata: {pw: x}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            t.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(!parsed_yaml_holds_secret(&t));
        assert!(parsed_yaml_holds_secret("kind: Secret\ndata: {pw: x}\na0: &a0 [x, x]\na1: [*a0, *a0]\n"));
        // Quadratic within the parser's limits: a list of 16,384 items aliased 10,900 times, in
        // 64 KiB (gigabytes when parsed, review 40a), is left to the line rules.
        let quad = format!(
            "# Secret\na: &a [{}x]\nb: [{}*a]\nkind: Secret\ndata: {{pw: x}}\n",
            "x,".repeat(16_383),
            "*a,".repeat(10_899)
        );
        assert_eq!(aliases(&quad), 10_900);
        assert!(!parsed_yaml_holds_secret(&quad));
        // Stars that cannot start an alias are not counted (the cron schedule's last one may).
        assert_eq!(aliases("cron: \"*/5 * * * *\"\nglob: '*.example.com'\nk: a*b\n"), 1);
        assert_eq!(aliases("{\"a\":*b, c: [*d,*e]}"), 3);
    }

    #[test]
    fn merges_that_bring_merges_are_applied() {
        let chain = "base: &b\n  kind: Secret\nmid: &m\n  <<: *b\n  apiVersion: v1\ns:\n  <<: *m\n  data:\n    pw: x\n";
        assert!(parsed_yaml_holds_secret(chain));
    }
}
