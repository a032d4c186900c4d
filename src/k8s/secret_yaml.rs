//! YAML that holds a Secret (a manifest, a `kubectl get -o yaml`, `yq .items` of a SecretList),
//! told from YAML that only names one, in one pass over the text: used by
//! [`super::secret_text::text_holds_secret`] for values in no encoding a decoder reads.

/// `text` with YAML's and JSON's numeric escapes (`\xNN`, `\uNNNN`, `\UNNNNNNNN`) read as the
/// characters they stand for, wherever they are (inside quotes or not: an escape read where YAML
/// would not read one can only make more text look like a Secret, never less).
fn decode_escapes(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\\') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let esc = &rest[at + 1..];
        let digits = match esc.as_bytes().first() {
            Some(b'x') => 2,
            Some(b'u') => 4,
            Some(b'U') => 8,
            _ => 0,
        };
        let c = (digits > 0)
            .then(|| esc.get(1..=digits))
            .flatten()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        match c {
            Some(c) => {
                out.push(c);
                rest = &esc[1 + digits..];
            }
            None => {
                out.push('\\');
                rest = esc;
            }
        }
    }
    out.push_str(rest);
    out.into()
}

/// Whether YAML text holds a Secret: a block mapping with `kind: Secret` (maybe quoted, tagged,
/// anchored or escaped, or its value on the next line) and a `data`, `stringData` or merge (`<<`)
/// key at the same indentation in the same document, a mapping with a Secret's fields and no kind, any `kind: SecretList`, or a flow mapping (`{kind: Secret,
/// ...}`, over several lines too) with data in the text. A mapping that only names a Secret (an
/// Event's `involvedObject`, a reference in a HelmRelease's `valuesFrom`, a line of prose) is not
/// one. Linear in the text's length.
pub(super) fn yaml_holds_secret(value: &[u8]) -> bool {
    let text = String::from_utf8_lossy(value);
    let text = decode_escapes(&text);
    let text = text.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.lines().collect();
    // Documents: runs of lines between `---` markers (a line that is `---`, or `---` then a space).
    let marker = |l: &str| l == "---" || l.starts_with("--- ") || l.starts_with("---\t") || l == "---\r";
    let mut docs: Vec<&[&str]> = Vec::new();
    let mut from = 0;
    for (i, l) in lines.iter().enumerate() {
        if marker(l) {
            docs.push(&lines[from..i]);
            from = i + 1;
        }
    }
    docs.push(&lines[from..]);
    docs.into_iter().any(block_holds_secret) || flow_holds_secret(text)
}

/// One YAML document's block mappings: a kind of Secret or SecretList, and for a Secret a `data`
/// or `stringData` key at its column.
fn block_holds_secret(doc: &[&str]) -> bool {
    let keys: Vec<(usize, &str)> = doc.iter().map(|l| block_key(l)).collect();
    let cols = |names: &[&str]| -> std::collections::HashSet<usize> {
        keys.iter().filter(|(_, rest)| names.iter().any(|k| is_key(rest, k))).map(|&(c, _)| c).collect()
    };
    // A merge key (`<<: *defaults`) may bring the data in.
    let data = cols(&["data", "stringData", "<<"]);
    if kindless_mapping(doc) {
        return true;
    }
    keys.iter().enumerate().any(|(i, &(col, rest))| {
        let Some(after) = rest.strip_prefix("kind") else { return false };
        // The value on the next line (`kind:` then `  Secret`), or a folded one (`kind: >-`).
        let next = || doc.get(i + 1).map_or("", |l| l.trim());
        let kind = kind_value(after).or_else(|| {
            let v = after.trim_start_matches(['"', '\'']).trim_start().strip_prefix(':')?.trim();
            matches!(v, "" | ">" | ">-" | "|" | "|-").then(|| kind_value(&format!(": {}", next()))).flatten()
        });
        match kind {
            Some("SecretList") => true,
            Some(_) => data.contains(&col),
            None => false,
        }
    })
}

/// Whether a YAML document has a block mapping that is a Secret without its kind (`yq .items` of
/// a SecretList): `metadata` naming the object (a `name` inside it), `type` with a value on its
/// line, and `data` or `stringData`; no `kind`. The keys must be one mapping's: a line at a lesser
/// indentation, or a list item's dash at the same one, ends a mapping (keys of unrelated mappings
/// at one indentation, as in a large CRD schema, are not one; nor an event's `type`, `data` and
/// `metadata` without a name, nor a schema's `type:` over a nested mapping).
fn kindless_mapping(doc: &[&str]) -> bool {
    /// One open mapping: its column; metadata named, type with a value, data, kind; and whether
    /// its last key was `metadata` over a nested mapping (whose `name` then names it).
    struct Open {
        col: usize,
        has: [bool; 4],
        meta_open: bool,
    }
    let done = |m: &Open| m.has[0] && m.has[1] && m.has[2] && !m.has[3];
    let mut open: Vec<Open> = Vec::new();
    for line in doc {
        let t = line.trim_start_matches(' ');
        if t.trim().is_empty() || t.starts_with('#') {
            continue;
        }
        let (col, rest) = block_key(line);
        let dashed = t.starts_with("- ");
        while let Some(top) = open.last() {
            if top.col > col || top.col == col && dashed {
                if done(top) {
                    return true;
                }
                open.pop();
            } else {
                break;
            }
        }
        let Some((key, value)) =
            rest.split_once(':').filter(|(k, v)| !k.contains(' ') && (v.is_empty() || v.starts_with(' ')))
        else {
            continue;
        };
        let key = key.trim_end_matches(['"', '\'']);
        let value = value.trim();
        if key == "name" {
            if let Some(parent) = open.iter_mut().rev().find(|m| m.col < col) {
                if parent.meta_open {
                    parent.has[0] = true;
                }
            }
        }
        if open.last().map(|m| m.col) != Some(col) {
            open.push(Open { col, has: [false; 4], meta_open: false });
        }
        let Some(top) = open.last_mut() else { continue };
        top.meta_open = false;
        match key {
            "metadata" if value.is_empty() => top.meta_open = true,
            "metadata" => top.has[0] |= value.contains("name"),
            "type" => top.has[1] |= !value.is_empty() && !value.starts_with('#'),
            "data" | "stringData" => top.has[2] = true,
            "kind" => top.has[3] = true,
            _ => {}
        }
    }
    open.iter().any(done)
}

/// A line's key column and what follows it: list dashes count as indentation (`- kind: x` is
/// `kind` at the dash's column plus two); a quote before the key is taken off.
fn block_key(line: &str) -> (usize, &str) {
    let line = line.trim_end_matches('\r');
    let mut col = line.len() - line.trim_start_matches(' ').len();
    let mut rest = &line[col..];
    while let Some(r) = rest.strip_prefix("- ") {
        let more = r.len() - r.trim_start_matches(' ').len();
        col += 2 + more;
        rest = &r[more..];
    }
    (col, rest.strip_prefix('"').or_else(|| rest.strip_prefix('\'')).unwrap_or(rest))
}

/// Whether `rest` (a key, maybe closing its quote) is the key `k` followed by its colon.
fn is_key(rest: &str, k: &str) -> bool {
    rest.strip_prefix(k).is_some_and(|r| {
        let r = r.strip_prefix('"').or_else(|| r.strip_prefix('\'')).unwrap_or(r);
        r.trim_start().starts_with(':')
    })
}

/// After `kind`: the kind named, when it is `Secret` or `SecretList` (a tag or an anchor before it
/// skipped, quotes and a comment after it taken off).
fn kind_value(after: &str) -> Option<&'static str> {
    let after = after.strip_prefix('"').or_else(|| after.strip_prefix('\'')).unwrap_or(after);
    let mut v = after.trim_start().strip_prefix(':')?.trim_start();
    while v.starts_with('!') || v.starts_with('&') {
        v = v.split_once(' ').map_or("", |(_, r)| r).trim_start();
    }
    let v = v.split(" #").next().unwrap_or("").trim().trim_matches(|c| c == '"' || c == '\'');
    ["Secret", "SecretList"].into_iter().find(|k| *k == v)
}

/// Whether text holds a flow mapping (`{kind: Secret, stringData: {pw: x}}`, over several lines
/// too) naming kind Secret, and data anywhere in the text; or naming SecretList. One pass: `kind`
/// counts only inside braces.
fn flow_holds_secret(text: &str) -> bool {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut named = None;
    let mut i = 0;
    while i < b.len() && named != Some("SecretList") {
        match b[i] {
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'k' if depth > 0 && b[i..].starts_with(b"kind") => {
                // What follows, up to 64 bytes (a kind is short; a longer look made this quadratic).
                let near = &b[i + 4..b.len().min(i + 4 + 64)];
                let near = std::str::from_utf8(near)
                    .unwrap_or_else(|e| std::str::from_utf8(&near[..e.valid_up_to()]).unwrap_or_default());
                named = kind_value(near.split([',', '}', '\n']).next().unwrap_or("")).or(named);
                i += 4;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    named == Some("SecretList") || named.is_some() && (text.contains("data") || text.contains("Data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_secrets_are_told_from_yaml_that_names_one() {
        assert_eq!(decode_escapes(r"\x53\u0065\U00000063ret \q \x4"), r"Secret \q \x4");

        for yes in [
            "apiVersion: v1\nkind: Secret\ndata:\n  pw: aHVudGVyMg==\n",
            "items:\n- kind: \"Secret\"\n  data: {}\n",
            "{kind: Secret, stringData: {pw: x}}",
            "\u{feff}kind: 'Secret' # a comment\r\nstringData:\r\n  a: b\r\n",
            "kind: !!str Secret\ndata:\n  a: b\n",
            "kind: &k Secret\n\"stringData\": {a: b}\n",
            "---\nkind: ConfigMap\n---\ndata:\n  a: b\nkind: Secret\n",
            "kind: SecretList\nitems: []\n",
            "- - kind: Secret\n    data: {a: b}\n",
            "{kind: Secret,\n data: {pw: aHVudGVyMg==}}",
            "- {kind: Secret,\n  stringData: {pw: x}}",
            "kind:\n  Secret\ndata:\n  a: b\n",
            "kind: >-\n  Secret\ndata:\n  a: b\n",
            "kind: Secret\nnote: \"a\n---b\"\ndata:\n  a: b\n",
            "kind: Secret\n<<: {stringData: {pw: x}}\n",
            "defaults: &d\n  data: {pw: x}\ns:\n  kind: Secret\n  <<: *d\n",
            "kind: \"\\x53ecret\"\ndata:\n  pw: x\n",
            "kind: \"\\U00000053ecret\"\nstringData: {pw: x}\n",
            "- metadata:\n    name: db\n  type: Opaque\n  data:\n    pw: x\n",
            "items:\n- kind: ConfigMap\n  metadata: {}\n  data: {}\n- metadata:\n    name: db\n  type: Opaque\n  data:\n    pw: x\n",
            "- metadata: {name: db, namespace: x}\n  type: Opaque\n  stringData:\n    pw: x\n",
        ] {
            assert!(yaml_holds_secret(yes.as_bytes()), "{yes}");
        }
        for no in [
            "kind: SecretStore\ndata: {}\n",
            "kind: Event\ninvolvedObject:\n  kind: Secret\n  name: db\nmessage: rotated\n",
            "spec:\n  valuesFrom:\n  - kind: Secret\n    name: db\n    valuesKey: values.yaml\n",
            "# Docs\nUse `kind: Secret` with data: for passwords.\n",
            "kind: ConfigMap\ndata:\n  note: kind: Secret\n",
            "---\nkind: Secret\n---\ndata:\n  a: b\n",
            "{kind: Secret, name: db}",
            "metadata:\n  name: cfg\ndata:\n  a: b\n",
            "kind: ConfigMap\nmetadata: {}\ntype: x\ndata: {}\n",
            "path: C:\\xampp\\users\n",
            "a:\n  data: {}\nb:\n  metadata: {}\nc:\n  type: x\n",
            "- type: click\n  data: {x: 1}\n- metadata: {}\n  data: {}\n",
            "service:\n  type: ClusterIP\npod:\n  metadata: {}\nconfig:\n  data: {}\n",
            "- type: OrderPlaced\n  data:\n    orderId: x\n  metadata:\n    correlationId: c1\n",
            "properties:\n  type:\n    type: string\n  metadata:\n    name: x\n  data:\n    type: object\n",
        ] {
            assert!(!yaml_holds_secret(no.as_bytes()), "{no}");
        }
    }
}
