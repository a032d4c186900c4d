//! The Secret rule under damage: data that a damaged or crafted value puts where names, text or
//! type words belong (a map key, a string field of ObjectMeta, an annotation under a changed
//! name, the envelope's kind, a decode error) never reaches the output unless asked for.

use serde_json::{json, Value};

use super::object::{decode, DecodeOptions};
use super::render::base64;
use super::testpb::{bytes, entry, envelope, meta, varint};
use super::yaml;

const HIDE: DecodeOptions = DecodeOptions { show_secrets: false };
const SHOW: DecodeOptions = DecodeOptions { show_secrets: true };
const KEY: &[u8] = b"/registry/secrets/prod/db";
const CANARY: &str = "CANARY7f3e9d1c2b4a6e8f0d2c4b6a8e0f";

/// Every form in which the canary could be shown: as it is (also its JSON and YAML forms: it
/// holds nothing to escape), a piece of it, and base64 of it at each of the three alignments.
fn needles() -> Vec<String> {
    let mut n = vec![CANARY.to_owned(), CANARY[6..20].to_owned()];
    for skip in 0..3 {
        let b = base64(&CANARY.as_bytes()[skip..]);
        n.push(b[..16].to_owned());
    }
    n
}

/// Asserts the canary appears in no rendering of `d` (JSON, pretty JSON, YAML).
fn assert_hidden(what: &str, d: &Value) {
    let texts = [d.to_string(), serde_json::to_string_pretty(d).unwrap(), yaml::to_string(d).unwrap()];
    for text in &texts {
        for n in needles() {
            assert!(!text.contains(&n), "{what}: {n} in {text}");
        }
    }
}

fn err(d: &Value) -> &str {
    d["decodeError"].as_str().unwrap_or("")
}

fn secret(meta_bytes: &[u8], rest: &[u8]) -> Vec<u8> {
    envelope("v1", "Secret", &[bytes(1, meta_bytes), rest.to_vec()].concat())
}

fn plain_meta() -> Vec<u8> {
    meta("db", "prod", "u-1", 1_700_000_000, &[("app", "db")])
}

#[test]
fn data_keys_that_are_not_key_names_are_redacted_and_named_as_damage() {
    let c = CANARY.as_bytes();
    // A whole entry where the key belongs (what residue-1 shows), and two keys of equal length.
    let nested = [bytes(1, b"password"), bytes(2, c)].concat();
    let spaced = [b"x ", c].concat();
    let dotted = [b"x\n", c].concat();
    let rest = [
        entry(2, &nested, b"12345678"),
        entry(2, b"tls.crt", b"pem"),
        entry(2, &spaced, b"v"),
        entry(2, &dotted, b"v"),
        entry(4, &[b"a/", c].concat(), b"token"),
        bytes(3, b"Opaque"),
    ]
    .concat();
    let v = secret(&plain_meta(), &rest);
    let d = decode(KEY, &v, &HIDE);
    assert_hidden("data keys", &d);
    // Entries that are not as the API server writes them: everything after the metadata is
    // withheld whole (no rule for names can tell data from damage there), the metadata shown.
    assert_eq!(d["data"], Value::Null);
    assert_eq!(d["withheld"], json!(format!("<redacted: {} bytes>", rest.len())));
    assert_eq!(d["metadata"]["name"], "db");
    assert!(err(&d).contains("do not lie as the API server writes them"), "{}", err(&d));
    // Asked for, the keys are shown as they are.
    assert!(decode(KEY, &v, &SHOW)["stringData"].get(format!("a/{CANARY}")).is_some());

    // The same rule for a Secret stored as JSON.
    let j = format!(r#"{{"kind":"Secret","data":{{"{CANARY} x":"aGk=","ok-key":"aGk="}},"stringData":{{"a/b":"x"}}}}"#);
    let d = decode(KEY, j.as_bytes(), &HIDE);
    assert_hidden("json keys", &d);
    let n = CANARY.len() + 2;
    assert_eq!(
        d["data"],
        json!({format!("<redacted key: {n} bytes>"): "<redacted: 2 bytes>", "ok-key": "<redacted: 2 bytes>"})
    );
    assert_eq!(d["stringData"], json!({"<redacted key: 3 bytes>": "<redacted: 1 bytes>"}));
}

#[test]
fn data_entries_swallowed_by_a_damaged_metadata_length_are_redacted() {
    let c = CANARY.as_bytes();
    let data = [entry(2, b"binkey", &[&[0u8, 0xff][..], c].concat()), entry(4, b"token", c)].concat();
    // The metadata's length covers the data entries: they parse as generateName (2) and
    // selfLink (4); a name that is not UTF-8, an annotation holding tag bytes.
    let swallowed =
        [plain_meta(), entry(12, b"note", &[b"a\x12", c].concat()), entry(12, b"multi", b"a\nb"), data].concat();
    let v = secret(&swallowed, &bytes(3, b"Opaque"));
    let d = decode(KEY, &v, &HIDE);
    assert_hidden("swallowed", &d);
    let m = &d["metadata"];
    assert_eq!(m["generateName"], format!("<redacted: {} bytes>", 2 + 6 + 2 + 2 + c.len()));
    assert_eq!(m["selfLink"], format!("<redacted: {} bytes>", 2 + 5 + 2 + c.len()));
    assert_eq!(m["annotations"]["note"], format!("<redacted: {} bytes>", 2 + c.len()));
    assert_eq!(m["annotations"]["multi"], "a\nb", "lines are text");
    assert_eq!((m["name"].as_str(), m["labels"]["app"].as_str()), (Some("db"), Some("db")));
    let e = err(&d);
    for place in ["field 2 (generateName): string of", "field 4 (selfLink): string of", "field 12 (annotations)"] {
        assert!(e.contains(place), "{place}: {e}");
    }
    let bad_name = secret(&[bytes(1, &[c, &[0xff][..]].concat()), bytes(3, b"prod")].concat(), b"");
    let d = decode(KEY, &bad_name, &HIDE);
    assert_hidden("name", &d);
    assert_eq!(d["metadata"]["name"], format!("<redacted: {} bytes>", c.len() + 1));
    // Shown when asked; and an object that is no Secret is decoded as before.
    assert!(decode(KEY, &v, &SHOW)["metadata"]["selfLink"].as_str().unwrap().contains(CANARY));
    let cm = envelope("v1", "ConfigMap", &bytes(1, &swallowed));
    let d = decode(b"/registry/configmaps/prod/db", &cm, &HIDE);
    assert!(d["metadata"]["selfLink"].as_str().unwrap().contains(CANARY));
    assert_eq!(err(&d), "field 1 (metadata): field 2 (generateName): string of 46 bytes is not UTF-8");
}

#[test]
fn annotations_that_may_copy_the_data_are_redacted_whatever_their_name() {
    let b64 = base64(CANARY.as_bytes());
    let copy = format!(r#"{{"apiVersion":"v1","kind":"Secret","data":{{"pw":"{b64}"}}}}"#);
    let string_copy = format!(r#"{{"kind":"Secret","stringData":{{"t":"{CANARY}"}}}}"#);
    let anns: [(&str, String); 6] = [
        ("kubectl.kubernetes.io/last-applieX-configuration", copy.clone()),
        ("kubectl.kubernetes.io/lasX-applied-configuration", copy.clone()),
        ("backup", string_copy.clone()),
        ("escaped", serde_json::to_string(&string_copy).unwrap()),
        ("x-last-applied", format!("not json {CANARY}")),
        ("note", "kept".into()),
    ];
    let mut m = plain_meta();
    for (k, v) in &anns {
        m.extend(entry(12, k.as_bytes(), v.as_bytes()));
    }
    let d = decode(KEY, &secret(&m, &bytes(3, b"Opaque")), &HIDE);
    assert_hidden("annotations", &d);
    let a = &d["metadata"]["annotations"];
    let parsed: Value = serde_json::from_str(a[anns[0].0].as_str().unwrap()).unwrap();
    assert_eq!(parsed["data"]["pw"], format!("<redacted: {} bytes>", CANARY.len()));
    assert_eq!(parsed["kind"], "Secret");
    assert_eq!(a["x-last-applied"], format!("<redacted: {} bytes>", anns[4].1.len()));
    assert_eq!(a["note"], "kept");
    assert!(decode(KEY, &secret(&m, b""), &SHOW).to_string().contains(CANARY));

    // A Secret stored as JSON.
    let j = json!({"kind": "Secret", "metadata": {"annotations": {
        anns[1].0: copy, "backup": string_copy, "obj": {"data": {"pw": CANARY}}, "note": "kept"}}});
    let d = decode(KEY, j.to_string().as_bytes(), &HIDE);
    assert_hidden("json annotations", &d);
    assert_eq!(d["metadata"]["annotations"]["note"], "kept");
}

#[test]
fn an_implausible_kind_or_api_version_under_a_secrets_key_is_redacted() {
    let body = [bytes(1, &plain_meta()), bytes(3, b"Opaque")].concat();
    let (bad, spaced) = (format!("{CANARY}!"), format!("Sec\x12ret{CANARY}"));
    for (api, kind) in [("v1", &bad[..]), (&bad[..], "Secret"), ("v1", &spaced[..])] {
        let weird = format!("{api} {kind}");
        let v = envelope(api, kind, &body);
        let d = decode(KEY, &v, &HIDE);
        assert_hidden(&weird, &d);
        let which = if api == "v1" { "kind" } else { "apiVersion" };
        assert!(err(&d).contains(&format!("envelope {which} of")), "{}", err(&d));
    }
    let d = decode(KEY, &envelope("v1", "ConfigMap", &body), &HIDE);
    assert_eq!((d["kind"].as_str(), d["apiVersion"].as_str()), (Some("ConfigMap"), Some("v1")));
    assert_eq!(decode(KEY, &envelope("v1", "Sec ret", &body), &HIDE)["kind"], "<redacted: 7 bytes>");
    assert_eq!(decode(KEY, &envelope("v1", "Sec ret", &body), &SHOW)["kind"], "Sec ret");
    // Not a Secret: shown as before.
    let d = decode(b"/registry/configmaps/a/b", &envelope("v1", "Sec ret", &body), &HIDE);
    assert_eq!(d["kind"], "Sec ret");
    // JSON too.
    let j = format!(r#"{{"kind":"Secret","apiVersion":"{CANARY}!"}}"#);
    assert_hidden("json kind", &decode(KEY, j.as_bytes(), &HIDE));
}

#[test]
fn decode_errors_in_secret_data_name_the_entry_without_data_bytes() {
    // Entries whose bytes are data: a field number and a length read from them, a bad wire type.
    let tag = 1640u32;
    let rest = [
        entry(2, b"ok", b"v"),
        bytes(2, &[varint(tag, 0x4341_4e41), bytes(2, CANARY.as_bytes())].concat()),
        varint(2, 0x4341_4e41_5259),
        bytes(4, &[0x0a, 0x7f, 0x43]),
        bytes(3, b"Opaque"),
    ]
    .concat();
    let v = secret(&plain_meta(), &rest);
    let d = decode(KEY, &v, &HIDE);
    assert_hidden("errors", &d);
    assert_eq!(d["data"], Value::Null, "withheld whole");
    assert_eq!(d["withheld"], json!(format!("<redacted: {} bytes>", rest.len())));
    assert!(err(&d).ends_with("withheld"), "{}", err(&d));
    // Shown when asked (the data is then shown anyway), with the bytes whole: what did not
    // decode is shown too.
    let shown = decode(KEY, &v, &SHOW);
    let e = shown["decodeError"].as_str().unwrap().to_owned();
    assert!(e.contains("field 1640 is varint"), "{e}");
    assert_eq!(shown["raw"]["bytes"], v.len(), "{shown}");
    assert!(shown["raw"].get("redacted").is_none(), "{shown}");
    // Elsewhere errors keep their detail.
    let cm = envelope("v1", "ConfigMap", &[bytes(1, &plain_meta()), bytes(2, &varint(tag, 1))].concat());
    let d = decode(b"/registry/configmaps/prod/db", &cm, &HIDE);
    assert!(err(&d).contains("field 1640 is varint"), "{}", err(&d));
}

#[test]
fn envelope_fields_that_may_hold_data_are_named_by_length_in_errors() {
    // A damaged `raw` length moves the Secret's later fields into the envelope's contentEncoding
    // (field 3) and contentType (field 4), which an error names.
    let tm = [bytes(1, b"v1"), bytes(2, b"Secret")].concat();
    let body = [bytes(1, &plain_meta()), bytes(3, b"Opaque")].concat();
    for (enc, ct) in [(CANARY.as_bytes(), &b""[..]), (&b""[..], CANARY.as_bytes())] {
        let v = [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, &body), bytes(3, enc), bytes(4, ct)].concat();
        let d = decode(KEY, &v, &HIDE);
        assert_hidden("envelope", &d);
        assert!(err(&d).contains(&format!("of {} bytes is not supported", CANARY.len())), "{}", err(&d));
        assert!(decode(KEY, &v, &SHOW)["decodeError"].as_str().unwrap().contains(CANARY));
    }
    // A ConfigMap's are quoted as they are.
    let v =
        [b"k8s\0".to_vec(), bytes(1, &[bytes(1, b"v1"), bytes(2, b"ConfigMap")].concat()), bytes(2, &body)].concat();
    let v = [v, bytes(4, b"text/x y")].concat();
    assert!(err(&decode(b"/registry/configmaps/a/b", &v, &HIDE)).contains("\"text/x y\""));
}

#[test]
fn an_entry_cut_short_by_damage_moves_no_data_into_other_fields() {
    // One damaged length byte: the entry ends early, and the rest of its value is read as the
    // Secret's own fields (its data as a type, as metadata, as numbers of unknown fields).
    let c = CANARY.as_bytes();
    let swallowed = [bytes(3, c), bytes(1, &bytes(1, c)), varint(9, u64::from_le_bytes(c[..8].try_into().unwrap()))];
    for (i, tail) in swallowed.iter().enumerate() {
        let inner = [bytes(1, b"password"), bytes(2, b"x")].concat();
        // The entry claims only its key and a one-byte value; `tail` (data bytes) follows it.
        let rest = [bytes(2, &inner), tail.clone(), bytes(3, b"Opaque")].concat();
        let d = decode(KEY, &secret(&plain_meta(), &rest), &HIDE);
        assert_hidden(&format!("case {i}"), &d);
        assert!(d["withheld"].is_string(), "case {i}: {d}");
        assert!(!d.to_string().contains(&u64::from_le_bytes(c[..8].try_into().unwrap()).to_string()), "{d}");
    }
    // As the API server writes it, every field is shown (names, type), the data redacted.
    let rest = [entry(2, b"a.key", b"1"), entry(2, b"b.key", b"22"), bytes(3, b"kubernetes.io/tls")].concat();
    let d = decode(KEY, &secret(&plain_meta(), &rest), &HIDE);
    assert_eq!(d["data"], json!({"a.key": "<redacted: 1 bytes>", "b.key": "<redacted: 2 bytes>"}), "{d}");
    assert_eq!(d["type"], "kubernetes.io/tls");
    assert!(d.get("withheld").is_none() && d.get("decodeError").is_none(), "{d}");
}

#[test]
fn a_json_secret_shows_type_and_immutable_only_in_their_own_shapes() {
    let j =
        format!(r#"{{"kind":"Secret","type":{{"password":"{CANARY}"}},"immutable":"{CANARY}","metadata":"{CANARY}"}}"#);
    let d = decode(KEY, j.as_bytes(), &HIDE);
    assert_hidden("json shapes", &d);
    let ok = r#"{"kind":"Secret","type":"Opaque","immutable":true,"metadata":{"name":"db"}}"#;
    let d = decode(KEY, ok.as_bytes(), &HIDE);
    assert_eq!(
        (d["type"].as_str(), d["immutable"].as_bool(), d["metadata"]["name"].as_str()),
        (Some("Opaque"), Some(true), Some("db"))
    );
}

#[test]
fn a_custom_type_keeps_the_data_keys_readable_and_metadata_never_shows_a_copy() {
    // The API server takes any type; one that is not a type name is redacted alone.
    let rest = [entry(2, b"password", b"x"), bytes(3, b"example.com/my type")].concat();
    let d = decode(KEY, &secret(&plain_meta(), &rest), &HIDE);
    assert_eq!(d["data"], json!({"password": "<redacted: 1 bytes>"}), "{d}");
    assert_eq!(d["type"], "<redacted: 19 bytes>");
    assert!(d.get("withheld").is_none(), "{d}");
    // Damage inside the metadata read an annotation's copy of the data as another field
    // (generateName = 2): redacted wherever it lands.
    let copy = format!(r#"{{"apiVersion":"v1","kind":"Secret","data":{{"tls.key":"{CANARY}"}}}}"#);
    let meta = [plain_meta(), bytes(2, copy.as_bytes())].concat();
    let d = decode(KEY, &secret(&meta, &entry(2, b"a", b"b")), &HIDE);
    assert_hidden("metadata copy", &d);
}

#[test]
fn a_secret_behind_an_envelope_of_another_kind_is_withheld_as_stored_and_redacted_decoded() {
    use super::secret::holds_plaintext;
    let key = b"/registry/configmaps/default/cm";
    let b64 = base64(CANARY.as_bytes());
    let tm = [bytes(1, b"v1"), bytes(2, b"ConfigMap")].concat();
    // The envelope says ConfigMap, its raw object is JSON naming kind Secret.
    let inner = format!(
        r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"x"}},"data":{{"p":"{b64}"}},"stringData":{{"s":"{CANARY}"}}}}"#
    );
    let json_inside =
        [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, inner.as_bytes()), bytes(3, b""), bytes(4, b"application/json")]
            .concat();
    // Two typeMeta fields, ConfigMap then Secret after the raw object: the decoder keeps the last.
    let raw = [bytes(1, &plain_meta()), entry(2, b"password", CANARY.as_bytes())].concat();
    let tm2 = [bytes(1, b"v1"), bytes(2, b"Secret")].concat();
    let twice =
        [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, &raw), bytes(1, &tm2), bytes(3, b""), bytes(4, b"")].concat();
    // The same with the inner kind spelled in an escape.
    let escaped = inner.replace("\"Secret\"", "\"\\u0053ecret\"");
    let escaped_inside =
        [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, escaped.as_bytes()), bytes(3, b""), bytes(4, b"application/json")]
            .concat();
    for (what, v) in [("JSON inside", &json_inside), ("escaped inside", &escaped_inside), ("kind twice", &twice)] {
        assert!(holds_plaintext(key, v), "{what}: withheld when printed as stored");
        let d = decode(key, v, &HIDE);
        assert_hidden(what, &d);
        assert_eq!(d["kind"], "Secret", "{what}: {d}");
        let shown = decode(key, v, &SHOW).to_string();
        assert!(shown.contains(CANARY) || shown.contains(&b64), "{what}: --show-secrets shows it: {shown}");
    }
    // As the API server writes a ConfigMap: readable.
    let cm = envelope("v1", "ConfigMap", &[bytes(1, &plain_meta()), entry(2, b"k", b"v")].concat());
    assert!(!holds_plaintext(key, &cm));
}

#[test]
fn a_secret_with_its_first_bytes_or_kind_damaged_or_annotations_not_a_map_is_not_shown() {
    use super::secret::holds_plaintext;
    let key = b"/registry/example.com/widgets/ns/w";
    let json =
        format!(r#"{{"kind":"Secret","apiVersion":"v1","metadata":{{"name":"x"}},"stringData":{{"s":"{CANARY}"}}}}"#);
    // Its opening brace damaged: bytes in no encoding, under a Kubernetes key.
    let mut flipped = json.clone().into_bytes();
    flipped[0] ^= 0x01;
    // Its kind spelled with an escape, and cut short: it does not parse.
    let escaped = json.replace("\"Secret\"", "\"\\u0053ecret\"");
    let cut = &escaped.as_bytes()[..escaped.len() - 4];
    for (what, v) in [("first byte", &flipped[..]), ("escaped and cut", cut)] {
        assert!(holds_plaintext(key, v), "{what}");
        assert_hidden(what, &decode(key, v, &HIDE));
    }
    // Outside a Kubernetes key, readable unless their text names kind Secret (this one's does).
    assert!(holds_plaintext(b"app/config", &flipped));
    let other = [&b"z"[..], &json.replace("\"Secret\"", "\"SecretStore\"").as_bytes()[1..]].concat();
    assert!(!holds_plaintext(b"app/config", &other));
    // A JSON Secret whose annotations are a string holding a copy of its data.
    let ann = format!(
        r#"{{"kind":"Secret","apiVersion":"v1","metadata":{{"name":"x","annotations":"{{\"data\":{{\"p\":\"{CANARY}\"}}}}"}}}}"#
    );
    let d = decode(b"/registry/secrets/ns/x", ann.as_bytes(), &HIDE);
    assert_hidden("annotations a string", &d);
    assert_eq!(d["metadata"]["name"], "x", "{d}");
}

#[test]
fn an_envelope_that_says_secret_is_one_whatever_its_object_says_and_other_bytes_stay_readable() {
    use super::secret::holds_plaintext;
    let key = b"/registry/configmaps/default/cm";
    let tm = [bytes(1, b"v1"), bytes(2, b"Secret")].concat();
    for inner in
        [format!(r#"{{"kind":"ConfigMap","data":{{"p":"{CANARY}"}}}}"#), format!(r#"{{"data":{{"p":"{CANARY}"}}}}"#)]
    {
        let v = [
            b"k8s\0".to_vec(),
            bytes(1, &tm),
            bytes(2, inner.as_bytes()),
            bytes(3, b""),
            bytes(4, b"application/json"),
        ]
        .concat();
        assert!(holds_plaintext(key, &v), "{inner}");
        assert_hidden(&inner, &decode(key, &v, &HIDE));
    }
    // Not Kubernetes' bytes, outside its keys: JSON lines with escapes or naming a Secret that do
    // not parse as one object, a configuration naming a secrets manager, prose.
    for (key, v) in [
        (&b"app/events.jsonl"[..], &b"{\"a\":\"caf\\u00e9\"}\n{\"b\":1}\n"[..]),
        (b"app/events.jsonl", b"{\"msg\":\"rotated the Secret\"}\n{\"b\":1}\n"),
        (b"app/config.json", b"{\"provider\":\"AWS SecretsManager\",\"region\":\"x\"}"),
        (b"app/notes", b"rotate the SecretStore key monthly"),
        (b"app/jsonl2", b"{\"msg\":\"rotated the Secret\"}\n{\"kind\":\"note\"}"),
        (b"app/events.jsonl", b"{\"kind\":\"a\",\"q\":\"x\\u0026y\"}\n{\"kind\":\"b\"}\n"),
    ] {
        assert!(!holds_plaintext(key, v), "{}", String::from_utf8_lossy(v));
    }
    // Damaged Kubernetes values under its keys or a custom prefix: a CBOR Secret whose magic is
    // damaged, a protobuf one whose magic and kind length are, a JSON one cut short with its kind
    // escaped under `--etcd-prefix=/k8s-prod`.
    let mut pb =
        envelope("v1", "Secret", &[bytes(1, &plain_meta()), entry(2, b"password", CANARY.as_bytes())].concat());
    pb[0] ^= 0x01;
    let at = pb.windows(7).position(|w| w == b"\x06Secret").unwrap();
    pb[at] = 0x07;
    let cbor = [&[0xd9u8, 0xd9, 0xf6][..], &[0xa2, 0x64], b"kind", &[0x66], b"Secret", &[0x64], b"data", &[0x41, 0x78]]
        .concat();
    let json = format!(r#"{{"apiVersion":"v1","kind":"Secr\u0065t","data":{{"p":"{CANARY}""#);
    for (key, v) in [
        (&b"/registry/secretz/default/c"[..], &cbor[..]),
        (b"/registry/configmaps/default/p", &pb[..]),
        (b"/k8s-prod/configmaps/default/j", json.as_bytes()),
    ] {
        assert!(holds_plaintext(key, v), "{}", String::from_utf8_lossy(key));
    }
}
