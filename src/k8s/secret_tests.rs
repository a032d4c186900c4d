//! Unit tests of [`super`]: the Secret rule's pieces (which values are Secrets, redaction of
//! parsed objects, key names; the envelope readers' are in `secret_envelope.rs`).

use super::*;
use serde_json::json;

#[test]
fn redacts_data_string_data_unknown_fields_and_last_applied() {
    let applied = json!({"apiVersion": "v1", "kind": "Secret", "data": {"pw": "aHVudGVyMg=="}}).to_string();
    let mut v = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "s", "annotations": {LAST_APPLIED: applied, "other": "kept"}},
        "data": {"pw": "aHVudGVyMg==", "n": 5},
        "stringData": {"token": "hunter2"},
        "futureField": {"x": "hunter2"}
    });
    redact_json(&mut v);
    let text = v.to_string();
    assert!(!text.contains("hunter2") && !text.contains("aHVudGVyMg"), "{text}");
    assert_eq!(v["data"]["pw"], "<redacted: 7 bytes>");
    assert_eq!(v["data"]["n"], "<redacted: 1 bytes>");
    assert_eq!(v["stringData"]["token"], "<redacted: 7 bytes>");
    assert_eq!(v["futureField"], "<redacted: 15 bytes>");
    assert_eq!(v["type"], "Opaque");
    assert_eq!(v["metadata"]["annotations"]["other"], "kept");
    let copy: Value = serde_json::from_str(v["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap()).unwrap();
    assert_eq!(copy["data"]["pw"], "<redacted: 7 bytes>");

    let mut bad = json!({"metadata": {"annotations": {LAST_APPLIED: "{not json hunter2"}}, "data": "hunter2"});
    redact_json(&mut bad);
    assert!(!bad.to_string().contains("hunter2"));
    let mut not_obj = json!(["hunter2"]);
    redact_json(&mut not_obj);
    assert_eq!(not_obj, json!("<redacted: 11 bytes>"));
}

#[test]
fn plaintext_secrets_by_key_or_kind_but_not_encrypted() {
    assert!(holds_plaintext(b"/registry/secrets/ns/s", b"k8s\0anything"));
    let sealed = [&b"k8s:enc:aescbc:v1:key1:"[..], &[1; 32]].concat();
    assert!(!holds_plaintext(b"/registry/secrets/ns/s", &sealed));
    // A prefix in front of bytes no provider writes encrypts nothing (review 49b).
    let fake = br#"k8s:enc:aescbc:v1:key1:{"kind":"Secret","data":{"pw":"aHVudGVyMg=="}}"#;
    assert!(holds_plaintext(b"/registry/secrets/ns/s", fake) && holds_plaintext(b"/app/x", fake));
    assert!(holds_plaintext(b"/custom/x", br#"{"kind":"Secret","data":{"a":"aHVudGVyMg=="}}"#));
    assert!(!holds_plaintext(b"/custom/x", br#"{"kind":"ConfigMap","data":{"a":"Secret"}}"#));
    assert!(!holds_plaintext(b"/registry/configmaps/ns/c", b"plain"));
    // A protobuf Secret under another key, by its envelope's kind (typeMeta {v1, Secret}).
    let pb = b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x00";
    assert!(holds_plaintext(b"/custom/y", pb));
    assert!(!holds_plaintext(b"/custom/y", b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap"));
    assert!(has(b"xxSecreSecret", b"Secret") && !has(b"Secre", b"Secret"));
}

#[test]
fn the_substring_test_agrees_with_a_plain_search_short_and_long() {
    // Short haystacks take the first byte's places, long ones the vectorised search.
    let naive = |h: &[u8], n: &[u8]| n.is_empty() || h.windows(n.len()).any(|w| w == n);
    for len in [0usize, 5, 6, 7, 200, 255, 256, 257, 600] {
        for at in [None, Some(0), Some(len / 2), Some(len.saturating_sub(6)), Some(len.saturating_sub(3))] {
            let mut h: Vec<u8> = (0..len).map(|i| b"SecreSx"[i % 7]).collect();
            if let Some(a) = at.filter(|&a| a + 6 <= len) {
                h[a..a + 6].copy_from_slice(b"Secret");
            }
            for n in [&b"Secret"[..], b"S", b"", b"xSecretx"] {
                assert_eq!(has(&h, n), naive(&h, n), "{len} {at:?} {n:?}");
            }
        }
    }
}

#[test]
fn what_cannot_be_read_as_another_kind_but_names_secret_is_one() {
    // Keys: a `secrets` segment under a prefix the key parser does not know, or damaged.
    assert!(holds_plaintext(b"/custom/secrets/ns/x", b"plain"));
    assert!(holds_plaintext(b"/r\x01gistry/secrets/ns/x", b"plain"));
    assert!(!holds_plaintext(b"/registry/configmaps/secrets/x", b"plain"), "a namespace called secrets");
    // JSON that does not parse, or spells its kind with escapes.
    assert!(holds_plaintext(b"/custom/x", br#"{"kind":"Secret","data":{"a":"aHVudGVyMg=="}"#));
    assert!(holds_plaintext(b"/custom/x", br#"{"kind":"\u0053ecret","data":{"a":"aHVudGVyMg=="}}"#));
    assert!(!holds_plaintext(b"/custom/x", br#"{"kind":"\u0043onfigMap","data":{"a":"x"}}"#));
    // Protobuf: any typeMeta naming Secret (the decoder merges repeated ones), or an envelope
    // that cannot be read but names it.
    let tm =
        |kind: &[u8]| [&[0x0a, kind.len() as u8 + 6, 0x0a, 0x02][..], b"v1", &[0x12, kind.len() as u8], kind].concat();
    let dup = [b"k8s\0".to_vec(), tm(b"ConfigMap"), tm(b"Secret"), b"\x12\x00".to_vec()].concat();
    assert!(holds_plaintext(b"/custom/y", &dup));
    let dup = [b"k8s\0".to_vec(), tm(b"Secret"), tm(b"ConfigMap"), b"\x12\x00".to_vec()].concat();
    assert!(holds_plaintext(b"/custom/y", &dup));
    assert!(holds_plaintext(b"/custom/y", b"k8s\0\x0a\x7f\x0a\x02v1\x12\x06Secret"));
    assert!(!holds_plaintext(b"/custom/y", b"k8s\0\x0a\x7f\x0a\x02v1\x12\x06Config"));
}

#[test]
fn secret_by_kind_or_key() {
    assert!(is_secret(Some("Secret"), None));
    assert!(is_secret(None, Some("secrets")));
    assert!(is_secret(Some("ConfigMap"), Some("secrets")));
    assert!(!is_secret(Some("ConfigMap"), Some("configmaps")));
    assert!(!is_secret(None, None));
}

#[test]
fn a_secret_under_a_nested_etcd_prefix_is_one_by_its_key() {
    // `kube-apiserver --etcd-prefix=/registry/cluster1` writes here; the key parses as the
    // resource `cluster1`, and a value whose kind cannot be read showed its data.
    assert!(key_says_secret(b"/registry/cluster1/secrets/ns/g"));
    assert!(key_says_secret(b"/registry/a/b/secrets/ns/g"));
    assert!(holds_plaintext(b"/registry/cluster1/secrets/ns/v", br#"{"data":{"pw":"aHVudGVyMg=="}}"#));
    // A namespace or a ConfigMap called `secrets` is not a Secret.
    assert!(!key_says_secret(b"/registry/configmaps/secrets/x"));
    assert!(!key_says_secret(b"/registry/configmaps/ns/secrets"));
    assert!(!key_says_secret(b"/registry/cluster1/configmaps/secrets/x"));
}

#[test]
fn a_cbor_secret_whose_kind_is_a_chunked_byte_string_is_one() {
    // {"apiVersion": "v1", "kind": h'Sec' h'ret' (indefinite byte string), "data": {...}}, as
    // Kubernetes' CBOR writes strings as byte strings; under a key that says nothing.
    let v = [
        &b"\xd9\xd9\xf7\xa3\x4aapiVersion\x42v1\x44kind\x5f\x43Sec\x43ret\xff"[..],
        b"\x44data\xa1\x48password\x47hunter2",
    ]
    .concat();
    assert!(holds_plaintext(b"/other/place/cb", &v));
}

#[test]
fn a_key_that_is_a_json_secret_cut_or_escaped_holds_one() {
    // Review 35d: shown in full by get, du and diff.
    assert!(key_holds_secret(br#"{"kind":"\u0053ecret","data":{"password":"TEVBS2VzYw==","x":"#));
    assert!(key_holds_secret(br#"{"apiVersion":"v1","data":{"password":"TEVBS3RydW5j"},"ki"#));
    assert!(key_holds_secret(br#" {"stringData":{"a":"b"#));
    assert!(!key_holds_secret(b"/registry/secrets/ns/data"));
    assert!(!key_holds_secret(br#"/{"data":1}"#), "an ordinary key that holds braces");
    // A whole JSON Secret is one; a key that names Secret but is no object is not (review 35d:
    // `get` printed `<redacted key>` for it, and the file got no key index).
    assert!(key_holds_secret(br#"{"kind":"Secret","apiVersion":"v1","data":{"a":"Yg=="}}"#));
    assert!(!key_holds_secret(b"{tenant-a}/SecretStore/db-password"));
    assert!(!key_holds_secret(br#"{"kind":"ConfigMap","data":{"a":"b"}}"#), "a whole ConfigMap");
}

#[test]
fn review_40_shapes_at_an_application_key() {
    let app = b"/app/x";
    // Withheld: PyYAML's flow style of a Secret without its kind (it begins as JSON does), the
    // Python client's to_dict() items (a null kind), a Go struct's `Secrets []corev1.Secret`.
    for yes in [
        &b"{data: {pw: aHVudGVy}, metadata: {name: db}, type: Opaque}"[..],
        br#"[{"kind":null,"metadata":{"name":"db"},"type":"Opaque","data":{"pw":"eA=="}}]"#,
        b"- kind: null\n  metadata: {name: db}\n  type: Opaque\n  data: {pw: eA==}\n",
        br#"{"secrets":[{"metadata":{"name":"db"},"type":"Opaque","data":{"pw":"eA=="}}]}"#,
        // Review 40b: the Python client's to_dict() of a Secret built with string_data (its data
        // null), alone and as kindless items; data under Go's or .NET's field name.
        br#"{"api_version": "v1", "data": null, "kind": "Secret", "metadata": {"name": "db"}, "string_data": {"pw": "x"}, "type": "Opaque"}"#,
        b"- kind: null\n  metadata: {name: db}\n  type: Opaque\n  string_data: {pw: x}\n",
        br#"{"kind":"Secret","metadata":{"name":"db"},"Data":{"pw":"eA=="}}"#,
    ] {
        assert!(holds_plaintext(app, yes), "{}", String::from_utf8_lossy(yes));
    }
    // Shown: a Secret's manifest without data (a ServiceAccount token's, alone and in a bundle),
    // in YAML and JSON; where Kubernetes keeps objects, its kind alone withholds it.
    let token = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: build-robot-secret\n  annotations:\n    \
                 kubernetes.io/service-account.name: build-robot\ntype: kubernetes.io/service-account-token\n";
    let bundle = format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: build-robot\n---\n{token}");
    let json =
        br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"t"},"type":"kubernetes.io/service-account-token"}"#;
    // Review 40c: objects without a kind whose data is spelled otherwise (a CloudEvent's `Data`, a
    // job's `binaryData`) are no Secrets.
    let event = br#"[{"specversion":"1.0","type":"com.example.created","metadata":{"name":"o-1"},"Data":{"id":"1"}}]"#;
    let job = br#"{"metadata":{"name":"job-1"},"type":"batch","binaryData":{"blob":"AAAA"}}"#;
    for no in [token.as_bytes(), bundle.as_bytes(), json, event, job] {
        assert!(!holds_plaintext(app, no), "{}", String::from_utf8_lossy(no));
    }
    assert!(holds_plaintext(b"/registry/example.com/widgets/ns/w", json));
}

#[test]
fn a_key_with_no_byte_a_rule_starts_from_holds_no_secret_by_every_rule() {
    // The fast path of key_holds_secret: keys with no `S`, no backslash, no `metadata`, and not
    // starting as CBOR or UTF-16 do, and so hold no Secret by the full rule either. Pieces of
    // every shape the rules read, without those bytes, joined at random.
    let pieces: [&[u8]; 14] = [
        b"/registry/pods/ns/a",
        b"kind: ecret\n",
        b"data:\n  pw: eA==\n",
        b"k8s\0",
        b"\n\x0c\n\x02v1\x12\x06ecret",
        b"{\"kind\":\"ecret\",\"data\":{\"a\":\"b\"}}",
        b"\xd9\xd9\xf7\xa2dkindfecret",
        b"type: Opaque\n",
        b"stringData:\n",
        b"k8s:enc:aescbc:v1:key1:",
        b"---\n",
        b"? kind\n: ecret\n",
        b"\xff\xfek\0i\0n\0d\0",
        b"\x00\x7f_",
    ];
    let mut rng = crate::k8s::testpb::Rng(43);
    for _ in 0..4000 {
        let mut key = Vec::new();
        for _ in 0..1 + rng.below(5) {
            key.extend_from_slice(pieces[rng.below(pieces.len())]);
        }
        let plain = !matches!(key.first(), Some(0xd9 | 0xfe | 0xff))
            && !key.contains(&b'S')
            && !key.contains(&b'\\')
            && !has(&key, b"metadata");
        if plain && key.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            assert!(!holds_plaintext(b"", &key), "{:?}", String::from_utf8_lossy(&key));
        }
    }
}

#[test]
fn a_manifest_in_utf16_without_its_byte_order_mark_is_withheld() {
    // Review 44: with its mark it was withheld, without it printed (PowerShell's Out-File
    // -Encoding Unicode writes the mark; other writers do not), at an application's key and at a
    // Kubernetes one.
    let utf16 = |text: &str, big: bool| -> Vec<u8> {
        text.encode_utf16().flat_map(|u| if big { u.to_be_bytes() } else { u.to_le_bytes() }).collect()
    };
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  pw: Q0FOQVJZ\n";
    let json = r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"pw":"Q0FOQVJZ"}}"#;
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\ndata:\n  note: rotate the Secret\n";
    for key in [&b"/app/u16"[..], b"/registry/configmaps/default/u16"] {
        for big in [false, true] {
            assert!(holds_plaintext(key, &utf16(manifest, big)), "{key:?} big-endian {big}");
            assert!(holds_plaintext(key, &utf16(json, big)), "{key:?} JSON big-endian {big}");
        }
    }
    assert!(!holds_plaintext(b"/app/u16", &utf16(other, false)), "a ConfigMap naming a Secret shows");
}

#[test]
fn a_kindless_secret_in_utf16_without_its_mark_is_withheld() {
    // Review 44b: a list of Secrets without their kind names no `Secret`; in UTF-8 and behind a
    // byte-order mark it was withheld, without the mark printed.
    let list = "- metadata:\n    name: db\n  type: Opaque\n  data:\n    pw: Q0FOQVJZ\n";
    let utf16: Vec<u8> = list.encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert!(holds_plaintext(b"app/list.yaml", list.as_bytes()));
    assert!(holds_plaintext(b"app/list.yaml", &utf16));
    let plain = "- metadata:\n    name: cfg\n  note: nothing here\n";
    assert!(!holds_plaintext(b"app/list.yaml", &plain.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>()));
}

#[test]
fn json_go_reads_with_a_replacement_character_is_judged_by_what_it_says() {
    // Review 47a: a custom resource holding a lone surrogate escape or invalid UTF-8 (Node's
    // JSON.stringify writes the first) failed serde_json, and was withheld as a plaintext Secret.
    let key = b"/registry/example.com/things/t/lone";
    let thing =
        |s: &[u8]| [&br#"{"apiVersion":"example.com/v1","kind":"Thing","spec":{"s":""#[..], s, b"\"}}"].concat();
    for s in [&b"\\ud800"[..], b"\\u0026 \\udc00", b"\\u0026 \xff"] {
        assert!(!holds_plaintext(key, &thing(s)), "{:?}", String::from_utf8_lossy(s));
    }
    // Written so, a Secret is still one; and text Go refuses too is still withheld.
    let secret = br#"{"apiVersion":"v1","kind":"Secret","data":{"a":"\udfff"}}"#;
    assert!(holds_plaintext(b"/app/x", secret));
    assert!(holds_plaintext(key, br#"{"kind":"Thing","spec":{"s":"\u0026","n":1e400}}"#));
}

#[test]
fn review_49b_shapes_at_an_application_key() {
    use super::super::testpb::{bytes, entry, envelope, meta};
    use base64::Engine;
    let b64 = |t: &[u8]| base64::engine::general_purpose::STANDARD.encode(t).into_bytes();
    // A value that is base64 text of a manifest, YAML or JSON, on one line or wrapped: withheld,
    // as the same base64 inside a JSON string is; base64 of another kind, or of a Secret's
    // manifest without data, prints.
    let yaml = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: TOPSECRETpw1\n";
    let json = br#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"pw":"aHVudGVyMg=="}}"#;
    for text in [&yaml[..], &json[..]] {
        let one = b64(text);
        assert!(holds_plaintext(b"/app/manifest", &one), "{}", String::from_utf8_lossy(&one));
        let wrapped: Vec<u8> = one.chunks(76).flat_map(|c| [c, b"\n"].concat()).collect();
        assert!(holds_plaintext(b"/app/manifest", &wrapped));
        // URL-safe, unpadded, and base64 of that again (review 49c).
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text).into_bytes();
        assert!(holds_plaintext(b"/app/manifest", &url), "{}", String::from_utf8_lossy(&url));
        assert!(holds_plaintext(b"/app/manifest", &b64(&one)));
    }
    assert!(!holds_plaintext(b"/app/manifest", &b64(b"apiVersion: v1\nkind: ConfigMap\ndata:\n  a: b\n")));
    assert!(!holds_plaintext(b"/app/manifest", &b64(b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n")));
    // A protobuf Secret whose magic lost a byte: judged by its envelope's kind, at any key; a
    // ConfigMap so damaged prints.
    let raw = [meta("db", "default", "u-1", 100, &[]), entry(4, b"password", b"TOPSECRETpw2")].concat();
    let secret = envelope("v1", "Secret", &raw);
    let config = envelope("v1", "ConfigMap", &bytes(1, b"x"));
    for (i, bad) in [(3, b'\x10'), (3, b'@'), (2, b'r'), (0, b'{'), (3, b' ')] {
        let (mut s, mut c) = (secret.clone(), config.clone());
        (s[i], c[i]) = (bad, bad);
        assert!(holds_plaintext(b"/app/pb", &s), "{i} {bad:#x}");
        assert!(!holds_plaintext(b"/app/pb", &c), "{i} {bad:#x}");
    }
    // JSON that does not parse, damaged where its kind is written, still a Secret's object with
    // its data; an application's config naming a secrets manager prints.
    let damaged = b"{\"apiVersion\":\"v1\",\"kind\": \x7fSecret\",\"metadata\":{\"name\":\"db\"},\"stringData\":{\"password\":\"TOPSECRETpw3\"}}";
    assert!(holds_plaintext(b"/app/json", damaged));
    assert!(!holds_plaintext(b"/app/json", b"{\"backend\": \"SecretsManager\", \"data\": [1, 2,"));
    // Application values these rules must not take for Secrets (review 49c): text after a
    // near-magic, JSON lines naming a secrets manager, a cut ConfigMap naming a Secret it uses.
    for plain in [
        &b"k8s:\n  namespace: apps\n  tokenSecretRef: vault-token\n"[..],
        b"k8s_\n  Secret: rotate weekly\n",
        b"k8s \n Secret rotation runbook",
        b"{\"apiVersion\":\"v1\",\"metadata\":{},\"data\":{\"backend\":\"AWS SecretsManager\"}}\n{\"a\":1}\n",
        b"{\"apiVersion\":\"v1\",\"metadata\":{},\"data\":{\"backend\":\"AWS SecretsManager\",},}",
        b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"},\"data\":{\"ref\":\"Secret\",\"n\":\"uses Secret db",
    ] {
        assert!(!holds_plaintext(b"/app/cfg", plain), "{}", String::from_utf8_lossy(plain));
    }
    // Decoded, none of them shows its data either.
    let mut pb = secret.clone();
    pb[0] = b'{';
    let opt = super::super::object::DecodeOptions { show_secrets: false };
    for v in [b64(yaml), b64(json), pb, damaged.to_vec()] {
        let shown = super::super::object::decode(b"/app/x", &v, &opt).to_string();
        for needle in ["TOPSECRET", "aHVudGVyMg", "VE9QU0VDUkVU"] {
            assert!(!shown.contains(needle), "{shown}");
        }
        // Nor the stored text itself (base64 of the data at some alignment).
        let stored = String::from_utf8_lossy(&v[v.len() / 2..v.len() / 2 + 16]).into_owned();
        assert!(!shown.contains(&stored), "{shown}");
    }
}
