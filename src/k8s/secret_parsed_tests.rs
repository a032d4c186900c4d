//! Unit tests of [`super`]: the shapes read, the bounds, the budget.

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
    // 630 KiB, past what is parsed, with no kind only a parser reads: left to the line rules.
    assert!(deep.len() > MAX_PARSED);
    let judged = t.spawn(move || super::super::secret_text::text_holds_secret(deep.as_bytes())).unwrap();
    assert!(!judged.join().unwrap());
    // Nested five texts deep, within what is parsed: judged, in bounded time, not a Secret.
    let mut five = String::from("kind: Secret data\n");
    for _ in 0..5 {
        five = format!("data:\n  x: |\n{}", indent(&five, 4));
    }
    assert!(five.len() < MAX_PARSED && !super::super::secret_text::text_holds_secret(five.as_bytes()));
}

fn indent(t: &str, n: usize) -> String {
    t.lines().map(|l| format!("{}{l}\n", " ".repeat(n))).collect()
}

#[test]
fn text_that_would_take_libyaml_minutes_is_left_to_the_line_rules() {
    // 60 KiB of `[` (12 s in libyaml), then the same kept shallower, which is parsed.
    // Not parsed: withheld unread when it names a Secret and a data field (review 43b), shown
    // when it names no data.
    let deep = format!("k: &k Secret\nkind: *k\ndata: {}", "[".repeat(60 << 10));
    assert!(!shallow(&deep) && parsed_yaml_holds_secret(&deep));
    let no_data = format!("k: &k Secret\nkind: *k\nnote: {}", "[".repeat(60 << 10));
    assert!(!parsed_yaml_holds_secret(&no_data));
    // Long YAML that names a Secret and a data field but gives no kind the line rules miss: left
    // to them (a rule file whose alert names a TLS Secret, review 43c).
    let rules = format!(
        "groups:\n- alert: A TLS Secret expires\n  expr: up{{job=~\".*\"}}\n  metadata: x\n{}",
        "#\n".repeat(MAX_PARSED)
    );
    assert!(!parsed_yaml_holds_secret(&rules));
    let ok = format!("kind: Secret\ndata: {{pw: {}x{}}}\n", "[".repeat(90), "]".repeat(90));
    assert!(shallow(&ok) && parsed_yaml_holds_secret(&ok));
    // Past the length parsed (a 1 MiB run of `{kind: ` took 196 s).
    let long = format!("k: &k Secret\nobj:\n  kind: *k\n  data: {{pw: x}}\nnote: {}\n", "y".repeat(MAX_PARSED));
    assert!(parsed_yaml_holds_secret(&long));
    let long = format!("kind: ConfigMap\ndata: {{pw: x}}\nnote: {}\n", "y".repeat(MAX_PARSED));
    assert!(!parsed_yaml_holds_secret(&long));
}

#[test]
fn aliases_repeated_past_the_parsers_limit_are_refused_not_expanded() {
    // A billion laughs beside a Secret: a parser that expanded it would find the Secret (after
    // 10^12 strings); this one refuses the document (the line rules read its kind and data).
    let mut t = String::from("kind: Secret\ndata: {pw: x}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        t.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
    }
    assert!(!parsed_yaml_holds_secret(&t));
    assert!(parsed_yaml_holds_secret("kind: Secret\ndata: {pw: x}\na0: &a0 [x, x]\na1: [*a0, *a0]\n"));
    // Quadratic within the parser's limits: a list of 8,000 items aliased 8,000 times in
    // 64 KiB (gigabytes when parsed, review 40a), aliased after `?` in flow or after a NEL
    // line end (review 40b: 13.9 GB): the budget stops the parse, and text that could not be
    // read through is withheld (review 40d).
    for (before, sep) in [("*a", ","), ("?*a", ","), ("*a", ",\u{85}")] {
        let quad = format!(
            "note: Secret\na: &a [{}x]\nb: [{before}{}]\n",
            "x,".repeat(8_000),
            format!("{sep}{before}").repeat(8_000)
        );
        assert!(quad.len() <= MAX_PARSED && parsed_yaml_holds_secret(&quad) && spent(), "{before:?} {sep:?}");
    }
    // A few aliases of a small list are built.
    let few = format!("kind: Secret\ndata: {{pw: x}}\na: &a [{}x]\nb: [{}*a]\n", "x,".repeat(99), "*a,".repeat(99));
    assert!(parsed_yaml_holds_secret(&few));
}

#[test]
fn a_manifest_of_the_largest_size_parsed_is_within_the_budget() {
    // 64 KiB of certificates' names with wildcards (cert-manager's alt-names: a `*` after a
    // comma, review 40b), in a list of Secrets without their kind.
    let names = (0..2500).map(|i| format!("*.h{i}.example.com")).collect::<Vec<_>>().join(",");
    let names = format!("example.com,{names}");
    let t = format!(
        "- kind: null\n  metadata:\n    name: tls\n    annotations:\n      cert-manager.io/alt-names: {names}\n  \
         type: kubernetes.io/tls\n  data:\n    tls.key: eA==\n"
    );
    assert!(t.len() <= MAX_PARSED && parsed_yaml_holds_secret(&t));
}

#[test]
fn review_40c_keys_in_keys_tags_and_one_budget_a_value() {
    // Keys inside keys, 30 deep: 134 bytes (2 GiB when each key was written as JSON).
    let keys = format!("# Secret\nk: {}x{}\nkind: Secret\ndata: {{pw: x}}\n", "{? ".repeat(30), "}".repeat(30));
    assert!(parsed_yaml_holds_secret(&keys));
    // Fifty tagged levels around a Secret without its kind.
    let tagged =
        format!("{}{{metadata: {{name: db}}, type: Opaque, data: {{pw: x}}}}{}", "!t [".repeat(50), "]".repeat(50));
    assert!(parsed_yaml_holds_secret(&tagged));
    // One stored value's texts share one budget: twenty alias bombs in the strings of a JSON
    // array spend it (each string its own budget before).
    let bomb = format!(
        "note: Secret data\na: &a [{}x]\nb: &b [{}*a]\nc: [{}*b]\n",
        "x,".repeat(15),
        "*a,".repeat(15),
        "*b,".repeat(60)
    );
    let json = serde_json::to_string(&vec![bomb; 20]).unwrap();
    let left = per_value(|| {
        super::super::secret_text::text_holds_secret(json.as_bytes());
        LEFT.with(Cell::get)
    });
    assert_eq!(left, 0);
}

#[test]
fn merges_that_bring_merges_are_applied() {
    let chain = "base: &b\n  kind: Secret\nmid: &m\n  <<: *b\n  apiVersion: v1\ns:\n  <<: *m\n  data:\n    pw: x\n";
    assert!(parsed_yaml_holds_secret(chain));
}

#[test]
fn review_40d_a_spent_budget_withholds_and_repeated_keys_keep_both_values() {
    // A string of aliases spends the value's budget; the Secret in the next string is withheld.
    let bomb = format!("# Secret data\na: &a [{}x]\nb: [{}*a]\n", "x,".repeat(7999), "*a,".repeat(299));
    let sec = "k: &k Secret\nobj:\n  kind: *k\n  stringData: {pw: aHVudGVyMg}\n";
    let json = serde_json::json!({"a": bomb, "b": sec}).to_string();
    assert!(super::super::secret::holds_plaintext(b"/app/x", json.as_bytes()));
    // A key given again, or spelled as a complex key's placeholder, hides no Secret.
    for t in [
        "k: &k Secret\n? [a]\n: {kind: *k, data: {pw: x}}\n\"<complex key 1>\": 1\n",
        "k: &k Secret\nx: {kind: *k, data: {pw: x}}\nx: 1\n",
    ] {
        assert!(parsed_yaml_holds_secret(t), "{t}");
    }
}

#[test]
fn a_kind_by_alias_or_complex_key_is_seen_whatever_its_spacing() {
    for yes in ["kind: *k", "kind:  *k", "kind : *k", "\"kind\": *k", "'kind':\t*k", "? kind", "?  'kind'"] {
        assert!(super::kind_by_alias_or_key(yes), "{yes}");
    }
    for no in ["kind: Secret", "kind: k*", "? name", "kindness: *k"] {
        assert!(!super::kind_by_alias_or_key(no), "{no}");
    }
}
