//! Unit tests of [`super`]: which protobuf objects of another kind hold a Secret's manifest
//! (reviews 43b, 43c, 43d), and what their decode shows.

use super::*;

fn field(num: u8, data: &[u8]) -> Vec<u8> {
    let mut f = vec![num << 3 | 2, data.len() as u8];
    f.extend_from_slice(data);
    f
}

#[test]
fn a_manifest_in_a_nested_field_is_found_and_a_mention_is_not() {
    let manifest = b"kind: Secret\nstringData:\n  pw: x\n";
    let entry = [field(1, b"secret.yaml"), field(2, manifest)].concat();
    let raw = [field(1, &field(1, b"cm")), field(2, &entry)].concat();
    assert!(message_holds_manifest(&field(2, &raw)));
    let mention = [field(1, b"note"), field(2, b"rotate the Secret db")].concat();
    assert!(!message_holds_manifest(&field(2, &[field(1, &field(1, b"cm")), field(2, &mention)].concat())));
    // Cut short after the manifest's field: still found.
    let mut cut = field(2, &raw);
    cut.extend_from_slice(&[0x12, 0x7f, b'x']);
    assert!(message_holds_manifest(&cut));
}

#[test]
fn only_the_texts_holding_a_manifest_are_redacted_as_text_or_base64() {
    use base64::Engine;
    let manifest: &[u8] = b"kind: Secret\ndata:\n  pw: eA==\n";
    let texts = [manifest];
    let b64 = base64::engine::general_purpose::STANDARD.encode(manifest);
    let mut v = serde_json::json!({
        "kind": "ConfigMap",
        "metadata": {"name": "a", "annotations": {"note": "the Secret db"}},
        "data": {"s.yaml": "kind: Secret\ndata:\n  pw: eA==\n", "plain": "x"},
        "binaryData": {"b.yaml": b64},
    });
    let mut seen = [false];
    redact_decoded(&mut v, &texts, &mut seen, 0);
    assert!(seen[0]);
    assert_eq!(v["data"]["s.yaml"], "<redacted: 30 bytes>");
    assert_eq!(v["binaryData"]["b.yaml"], "<redacted: 30 bytes>");
    assert_eq!(v["data"]["plain"], "x");
    assert_eq!(v["metadata"]["annotations"]["note"], "the Secret db");
}

#[test]
fn separate_strings_are_judged_apart_and_a_reference_is_no_manifest() {
    // Two strings that make a manifest only when read as one text (tag 0x0a is a line end).
    let a = [field(1, b"k"), field(2, b"# cache\ndata:\n  ttl: 60\n")].concat();
    let b = [field(1, b"w"), field(2, b"# watch\nkind: Secret\nselector: app\n")].concat();
    assert!(!message_holds_manifest(&[field(2, &a), field(2, &b)].concat()));
    let sa = br#"{"kind":"ServiceAccount","metadata":{"name":"b"},"secrets":[{"kind":"Secret","name":"t"}]}"#;
    assert!(!message_holds_manifest(&field(1, &[field(1, b"x"), field(2, sa)].concat())));
}

/// A protobuf ConfigMap as the API server stores it: `data` (2) and `binaryData` (3) entries,
/// and an annotation.
fn configmap(data: &[(&str, &[u8])], binary: &[(&str, &[u8])], note: &str) -> Vec<u8> {
    use crate::k8s::testpb::{bytes, entry, envelope, meta};
    let mut m = meta("cm", "default", "u-1", 1_700_000_000, &[]);
    m.extend(entry(12, b"note", note.as_bytes()));
    let mut raw = bytes(1, &m);
    for (k, v) in data {
        raw.extend(entry(2, k.as_bytes(), v));
    }
    for (k, v) in binary {
        raw.extend(entry(3, k.as_bytes(), v));
    }
    envelope("v1", "ConfigMap", &raw)
}

fn judged(v: &[u8]) -> (bool, String) {
    let key = b"/registry/configmaps/default/cm";
    let shown = crate::k8s::object::decode(key, v, &Default::default()).to_string();
    (crate::k8s::secret::holds_plaintext(key, v), shown)
}

#[test]
fn review_43c_objects_that_only_name_a_secret_are_shown() {
    // A dashboard of 70 KiB naming Secrets beside a datasource; a last-applied annotation
    // listing Secret references; two strings that read as a manifest only when joined.
    let dash =
        format!("{{\"title\":\"ConfigMaps and Secrets\",\"datasource\":\"p\",\"pad\":\"{}\"}}", "x".repeat(70 << 10));
    let sa = r#"{"kind":"ServiceAccount","metadata":{"name":"b"},"secrets":[{"kind":"Secret","name":"t"}]}"#;
    let joined: &[(&str, &[u8])] = &[("a", b"# cache\ndata:\n  ttl: 60\n"), ("b", b"# watch\nkind: Secret\n")];
    for v in [configmap(&[("d.json", dash.as_bytes())], &[], "n"), configmap(&[], &[], sa), configmap(joined, &[], "n")]
    {
        let (withheld, shown) = judged(&v);
        assert!(!withheld && !shown.contains("redacted"), "{}", &shown[..shown.len().min(300)]);
    }
}

#[test]
fn review_43c_a_manifest_in_binary_data_utf16_or_a_cut_value_is_withheld_and_redacted() {
    let manifest = "kind: Secret\nstringData:\n  pw: CANARY-43c\n";
    let utf16: Vec<u8> = [0xff, 0xfe].into_iter().chain(manifest.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let other: &[(&str, &[u8])] = &[("a.yaml", manifest.as_bytes())];
    let mut cut = configmap(other, &[], "n");
    // Cut two bytes into the manifest (the envelope's last four are empty fields).
    cut.truncate(cut.len() - 6);
    for v in [
        configmap(other, &[("b.yaml", manifest.as_bytes())], "n"),
        configmap(&[], &[("ps.yaml", &utf16)], "n"),
        configmap(other, &[("ps.yaml", &utf16)], "n"),
        cut,
    ] {
        let (withheld, shown) = judged(&v);
        assert!(withheld, "{shown}");
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        for leak in ["CANARY-4".to_string(), b64(manifest.as_bytes()), b64(&utf16)] {
            assert!(!shown.contains(&leak), "{leak}: {shown}");
        }
        assert!(shown.contains("redacted"), "{shown}");
    }
}

#[test]
fn review_43d_bytes_that_are_no_text_a_damaged_length_depth_and_base64_hide_no_manifest() {
    use crate::k8s::testpb::bytes;
    let manifest = "kind: Secret\nstringData:\n  pw: CANARY-43d\n";
    let latin1 = [b"# caf\xe9\n".as_slice(), manifest.as_bytes()].concat();
    let control = [manifest.as_bytes(), b"\x01"].concat();
    // The value's length two short: the rest of the manifest reads as fields that fail.
    let mut short = configmap(&[("a.yaml", manifest.as_bytes())], &[], "n");
    let at = short.windows(manifest.len()).position(|w| w == manifest.as_bytes()).unwrap();
    short[at - 1] -= 2;
    let mut deep = bytes(2, manifest.as_bytes());
    for _ in 0..20 {
        deep = bytes(1, &deep);
    }
    let deep = crate::k8s::testpb::envelope("example.io/v1", "Widget", &deep);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(manifest);
    for v in
        [configmap(&[], &[("latin1.yaml", &latin1)], "n"), configmap(&[("c.yaml", &control)], &[], "n"), short, deep]
    {
        let (withheld, shown) = judged(&v);
        assert!(withheld && !shown.contains("CANARY") && !shown.contains(&b64[8..40]), "{shown}");
        // The Latin-1 file as JSON shows bytes that are not UTF-8: base64 of the whole value.
        let whole = base64::engine::general_purpose::STANDARD.encode(&latin1);
        assert!(!shown.contains(&whole[..24]), "{shown}");
    }
}

#[test]
fn review_43d_long_text_with_escapes_but_no_secret_is_shown() {
    let js = format!("var s = \"\\u00a0\"; // data\n{}", "x = 1;\n".repeat(12 << 10));
    let (withheld, shown) = judged(&configmap(&[("app.js", js.as_bytes())], &[], "n"));
    assert!(!withheld && !shown.contains("redacted"));
}

#[test]
fn review_43d_a_json_object_s_keys_and_nested_secrets_are_judged() {
    let key = b"/registry/configmaps/default/cm";
    let in_key =
        br#"{"kind":"ConfigMap","metadata":{"annotations":{"kind: Secret\nstringData:\n  pw: CANARY-43d\n":"x"}}}"#;
    let nested = br#"{"kind":"ConfigMap","metadata":{"managedFields":[{"fieldsV1":{"kind":"Secret","data":{"pw":"Q0FOQVJZLTQzZA=="}}}]}}"#;
    // binaryData as JSON writes it: base64 of the manifest.
    let binary =
        br#"{"kind":"ConfigMap","binaryData":{"s.yaml":"a2luZDogU2VjcmV0CnN0cmluZ0RhdGE6CiAgcHc6IENBTkFSWS00M2QK"}}"#;
    // YAML's `\U` escape of the kind, in a string (review 43e).
    let big_u = br#"{"kind":"ConfigMap","data":{"d":"kind: \"\\U00000053ecret\"\ndata:\n  pw: CANARY-43e\n"}}"#;
    for v in [&in_key[..], &nested[..], &binary[..], &big_u[..]] {
        assert!(crate::k8s::secret::holds_plaintext(key, v));
        let shown = crate::k8s::object::decode(key, v, &Default::default()).to_string();
        assert!(!shown.contains("CANARY") && !shown.contains("Q0FOQVJZLTQzZA"), "{shown}");
    }
}

#[test]
fn the_one_pass_search_finds_what_a_search_from_every_byte_finds() {
    // `may_hold`, by its definition: from every byte, `Secret` (UTF-8 or UTF-16) or an escape the
    // text rules read; or a byte-order mark; or `metadata` and a text the rules read as a Secret
    // without its kind. The one-pass search must agree on every order of these pieces, a
    // `metadata` before a UTF-16 `Secret` above all (the rules' own test misses that one).
    let reference = |b: &[u8]| {
        let from = |i: usize| {
            let r = &b[i..];
            r.starts_with(b"Secret") || r.starts_with(SECRET_UTF16) || matches!(r, [b'\\', b'u' | b'x' | b'U', ..])
        };
        (0..b.len()).any(from)
            || matches!(b, [0xff, 0xfe, ..] | [0xfe, 0xff, ..])
            || has(b, b"metadata") && may_hold_secret(b)
    };
    let pieces: [&[u8]; 16] = [
        b"metadata",
        b"Secret",
        SECRET_UTF16,
        b"S\0e\0c\0r\0e",
        b"Secre",
        b"\\u0053",
        b"\\x53",
        b"\\U00000053",
        b"\\\\",
        b"\\n",
        b"type: Opaque\n",
        b"data:\n  pw: eA==\n",
        b"name: a\n",
        b"\xff\xfe",
        b"k8s\0\n\x02v1",
        b"metadat",
    ];
    let mut rng = crate::k8s::testpb::Rng(44);
    let (mut yes, mut no) = (0, 0);
    for n in 0..20_000 {
        let mut b = Vec::new();
        for _ in 0..rng.below(6) {
            b.extend_from_slice(pieces[rng.below(pieces.len())]);
            // Random bytes between, as a protobuf object's binary fields put there; sometimes
            // long, so the search runs its vectorised loop.
            let filler = if n % 7 == 0 { 40 + rng.below(200) } else { rng.below(4) };
            b.extend((0..filler).map(|_| rng.below(256) as u8));
        }
        let want = reference(&b);
        assert_eq!(may_hold(&b), want, "{:?}", String::from_utf8_lossy(&b));
        if want {
            yes += 1;
        } else {
            no += 1;
        }
    }
    assert!(yes > 1000 && no > 1000, "both answers tried: {yes} yes, {no} no");
}
