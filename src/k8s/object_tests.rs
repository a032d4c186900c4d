//! Tests of [`super::object::decode`]: the corpus shapes of etcdload.py's `cluster`, full
//! ObjectMeta, every encoding, and the Secret rule on every path.

use serde_json::{json, Value};

use super::object::{decode, DecodeOptions};
use super::render::base64;
use super::testpb::{bytes, entry, envelope, meta, time, varint, Rng};

const HIDE: DecodeOptions = DecodeOptions { show_secrets: false };
const SHOW: DecodeOptions = DecodeOptions { show_secrets: true };

/// etcdload.py's `proto_object`: metadata, `extra`, then field 2 = `body` random bytes.
fn proto_object(api: &str, kind: &str, name: &str, ns: &str, body: usize, extra: &[u8], rng: &mut Rng) -> Vec<u8> {
    let app = name.rsplit_once('-').map_or(name, |(a, _)| a);
    let mut raw = bytes(1, &meta(name, ns, "0a1b2c3d-0000-4000-8000-00000000abcd", 1_700_000_123, &[("app", app)]));
    raw.extend_from_slice(extra);
    if body > 0 {
        raw.extend(bytes(2, &rng.fill(body)));
    }
    envelope(api, kind, &raw)
}

fn err(v: &Value) -> &str {
    v["decodeError"].as_str().unwrap_or("")
}

#[test]
fn corpus_proto_objects_keep_metadata_and_name_the_failing_field() {
    let mut rng = Rng(42);
    let cases = [
        ("v1", "Pod", "/registry/pods/team-01/app07-0001a-3f2e1", "team-01", "field 2 (spec)"),
        ("apps/v1", "Deployment", "/registry/deployments/default/app07", "default", "field 2 (spec)"),
        ("v1", "ConfigMap", "/registry/configmaps/monitoring/cm-0001", "monitoring", "field 2 (data)"),
        ("v1", "Namespace", "/registry/namespaces/kube-system", "", "field 2 (spec)"),
        ("v1", "Node", "/registry/minions/node-001", "", "field 2 (spec)"),
        (
            "coordination.k8s.io/v1",
            "Lease",
            "/registry/leases/kube-node-lease/node-001",
            "kube-node-lease",
            "field 2 (spec)",
        ),
        ("v1", "Endpoints", "/registry/services/endpoints/default/app07", "default", "field 2 (subsets)"),
        (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "/registry/endpointslices/default/app07-0001a",
            "default",
            "field 2 (endpoints)",
        ),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "/registry/clusterroles/role-001", "", "field 2 (rules)"),
        ("v1", "Event", "/registry/events/default/app07.17a", "default", "field 2 (involvedObject)"),
        (
            "v1",
            "RangeAllocation",
            "/registry/ranges/serviceips",
            "",
            "field 2 (range): string of 1500 bytes is not UTF-8",
        ),
        ("example.com/v1", "Widget", "/registry/example.com/widgets/default/w", "default", ""),
    ];
    for (api, kind, key, ns, failing) in cases {
        let name = key.rsplit('/').next().unwrap();
        let v = proto_object(api, kind, name, ns, 1500, b"", &mut rng);
        let d = decode(key.as_bytes(), &v, &HIDE);
        assert_eq!(d["apiVersion"], api, "{key}");
        assert_eq!(d["kind"], kind, "{key}");
        assert_eq!(d["metadata"]["name"], name, "{key}");
        assert_eq!(d["metadata"]["uid"], "0a1b2c3d-0000-4000-8000-00000000abcd");
        assert_eq!(d["metadata"]["creationTimestamp"], "2023-11-14T22:15:23Z");
        assert_eq!(d["metadata"]["labels"]["app"], name.rsplit_once('-').map_or(name, |(a, _)| a));
        if ns.is_empty() {
            assert!(d["metadata"].get("namespace").is_none());
        } else {
            assert_eq!(d["metadata"]["namespace"], ns);
        }
        // Random filler: a schema'd field 2 must fail and say so; without a schema (unknown kinds
        // render by number) there is nothing to fail.
        if failing.is_empty() {
            assert!(d.get("decodeError").is_none(), "{key}: {d}");
        } else {
            assert!(err(&d).starts_with(failing), "{key}: {}", err(&d));
        }
    }
}

#[test]
fn full_object_meta_and_a_complete_lease() {
    let owner = [
        bytes(5, b"apps/v1"),
        bytes(1, b"ReplicaSet"),
        bytes(3, b"web-7d9f"),
        bytes(4, b"u-1"),
        varint(6, 1),
        varint(7, 1),
    ]
    .concat();
    let mfe = [
        bytes(1, b"kube-controller-manager"),
        bytes(2, b"Update"),
        bytes(3, b"v1"),
        bytes(4, &time(1_700_000_000)),
        bytes(6, b"FieldsV1"),
        bytes(7, &bytes(1, br#"{"f:metadata":{"f:labels":{".":{}}}}"#)),
        bytes(8, b"status"),
    ]
    .concat();
    let m = [
        bytes(1, b"web-7d9f-abcde"),
        bytes(2, b"web-7d9f-"),
        bytes(3, b"default"),
        bytes(4, b"/api/v1/x"),
        bytes(5, b"u-2"),
        bytes(6, b"12345"),
        varint(7, 3),
        bytes(8, &time(1_700_000_000)),
        bytes(9, &[varint(1, 1_700_000_100), varint(2, 250_000_000)].concat()),
        varint(10, 30),
        entry(11, b"app", b"web"),
        entry(11, b"tier", b"front"),
        entry(12, b"note", b"x"),
        bytes(13, &owner),
        bytes(14, b"a/b"),
        bytes(14, b"c"),
        bytes(17, &mfe),
        bytes(15, b"old-cluster"),
    ]
    .concat();
    let spec = [
        bytes(1, b"node-001"),
        varint(2, 40),
        bytes(3, &[varint(1, 1_700_000_000), varint(2, 123_456_789)].concat()),
        bytes(4, &time(1_700_000_010)),
        varint(5, 2),
    ]
    .concat();
    let v = envelope("coordination.k8s.io/v1", "Lease", &[bytes(1, &m), bytes(2, &spec)].concat());
    let d = decode(b"/registry/leases/default/x", &v, &HIDE);
    let want = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {
            "name": "web-7d9f-abcde", "generateName": "web-7d9f-", "namespace": "default",
            "selfLink": "/api/v1/x", "uid": "u-2", "resourceVersion": "12345", "generation": 3,
            "creationTimestamp": "2023-11-14T22:13:20Z", "deletionTimestamp": "2023-11-14T22:15:00.25Z",
            "deletionGracePeriodSeconds": 30,
            "labels": {"app": "web", "tier": "front"}, "annotations": {"note": "x"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f", "uid": "u-1",
                                 "controller": true, "blockOwnerDeletion": true}],
            "finalizers": ["a/b", "c"],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
                               "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}}, "subresource": "status"}],
            "15": "old-cluster"
        },
        "spec": {"holderIdentity": "node-001", "leaseDurationSeconds": 40,
                 "acquireTime": "2023-11-14T22:13:20.123456Z", "renewTime": "2023-11-14T22:13:30.000000Z",
                 "leaseTransitions": 2}
    });
    assert_eq!(d, want);
}

#[test]
fn json_cbor_encrypted_and_other_values() {
    let j = br#" {"apiVersion":"cert-manager.io/v1","kind":"Certificate","metadata":{"name":"c"},"spec":{"blob":"ab"}}
"#;
    let d = decode(b"/registry/cert-manager.io/certificates/ns/c", j, &HIDE);
    assert_eq!(d["spec"]["blob"], "ab");
    let d = decode(b"/registry/x.io/things/c", b"{\"a\":", &HIDE);
    assert!(err(&d).starts_with("json: EOF while parsing"), "{d}");
    assert_eq!(d["raw"], json!({"bytes": 5, "text": "{\"a\":"}));

    let mut c = vec![0xd9, 0xd9, 0xf7, 0xa1, 0x44];
    c.extend_from_slice(b"kind");
    c.push(0x44);
    c.extend_from_slice(b"Node");
    assert_eq!(decode(b"/registry/minions/n", &c, &HIDE), json!({"kind": "Node"}));
    let d = decode(b"/registry/minions/n", &[0xd9, 0xd9, 0xf7, 0xa1], &HIDE);
    assert!(err(&d).starts_with("cbor: "), "{d}");

    let d = decode(b"/registry/secrets/a/b", &[&b"k8s:enc:aescbc:v1:key1:"[..], &[0xa5; 32]].concat(), &HIDE);
    assert_eq!(d, json!({"encrypted": {"provider": "aescbc", "key": "key1", "bytes": 55}}));
    let kms =
        [b"k8s:enc:kms:v2:vault:".to_vec(), bytes(1, &[1; 60]), bytes(2, b"kid-2024-06"), bytes(3, &[2; 32])].concat();
    let d = decode(b"/registry/secrets/a/b", &kms, &HIDE);
    assert_eq!(
        d,
        json!({"encrypted": {"provider": "kms-v2", "key": "vault", "bytes": kms.len(), "keyID": "kid-2024-06",
               "encryptedDataBytes": 60, "encryptedDEKSourceBytes": 32, "encryptedDEKSourceType": "AES_GCM_KEY"}})
    );
    let d = decode(b"/registry/secrets/a/b", b"k8s:enc:kms:v1:p:\x00\x02ab0123456789abcdef0123456789abcdef", &HIDE);
    assert_eq!(d["encrypted"]["encryptedDEKBytes"], 2);

    assert_eq!(decode(b"compact_rev_key", b"1234", &HIDE), json!({"raw": {"bytes": 4, "text": "1234"}}));
    assert_eq!(decode(b"x", &[0, 255], &HIDE), json!({"raw": {"bytes": 2, "base64": "AP8="}}));
    let d = decode(b"/registry/pods/a/b", b"k8s\0\x0a\x05", &HIDE);
    assert!(err(&d).starts_with("envelope: length past the end"), "{d}");
    assert_eq!(d["raw"]["bytes"], 6);
}

/// A plaintext Secret with recognisable data, in every shape; without the flag none of its bytes
/// (as text or base64) may appear in the output.
#[test]
fn secret_plaintext_never_appears_without_the_flag() {
    let plain = b"s3cr3t-PLAINTEXT-value-0123456789";
    let b64 = base64(plain);
    let needles = [String::from_utf8_lossy(plain).into_owned(), b64.clone(), "PLAINTEXT".into()];
    let check = |what: &str, d: &Value| {
        let text = d.to_string();
        for n in &needles {
            assert!(!text.contains(n.as_str()), "{what}: {text}");
        }
    };
    let applied = format!(r#"{{"apiVersion":"v1","kind":"Secret","data":{{"pw":"{b64}"}}}}"#);
    let m = [
        meta("db", "prod", "u", 1_700_000_000, &[]),
        entry(12, crate::k8s::secret::LAST_APPLIED.as_bytes(), applied.as_bytes()),
    ]
    .concat();
    let body = [bytes(1, &m), entry(2, b"pw", plain), bytes(3, b"Opaque"), entry(4, b"token", plain)].concat();
    let full = envelope("v1", "Secret", &body);
    let key = b"/registry/secrets/prod/db";

    let d = decode(key, &full, &HIDE);
    check("full", &d);
    assert_eq!(d["data"]["pw"], "<redacted: 33 bytes>");
    assert_eq!(d["stringData"]["token"], "<redacted: 33 bytes>");
    assert_eq!(d["type"], "Opaque");
    assert!(d.get("decodeError").is_none(), "{d}");
    let shown = decode(key, &full, &SHOW);
    assert_eq!(shown["data"]["pw"], b64.as_str());
    assert_eq!(shown["stringData"]["token"], String::from_utf8_lossy(plain).as_ref());

    // Damaged: cut in the middle of the data entry, and cut inside the envelope.
    for cut in [full.len() - 20, full.len() - 50, 40, full.len() / 2] {
        check(&format!("cut at {cut}"), &decode(key, &full[..cut], &HIDE));
    }
    // Data under an unknown field number, a mis-typed field, a bad map entry, wrong kind by key,
    // and a Secret by kind under an unrelated key (generic fallback everywhere).
    let odd = [bytes(1, &m), bytes(9, plain), bytes(3, &bytes(1, plain)), bytes(2, plain), varint(5, 1)].concat();
    check("odd fields", &decode(key, &envelope("v1", "Secret", &odd), &HIDE));
    check("wrong kind", &decode(key, &envelope("v1", "ConfigMap", &body), &HIDE));
    check("no kind", &decode(key, &envelope("", "", &body), &HIDE));
    check("by kind", &decode(b"/elsewhere", &envelope("v1", "Secret", &body), &HIDE));
    check(
        "bad meta",
        &decode(key, &envelope("v1", "Secret", &[bytes(1, plain), entry(2, b"pw", plain)].concat()), &HIDE),
    );
    // JSON, CBOR-ish and raw forms.
    let j = format!(
        r#"{{"kind":"Secret","metadata":{{"annotations":{{"{}":{}}}}},"data":{{"pw":"{b64}"}},"stringData":{{"t":"{}"}}}}"#,
        crate::k8s::secret::LAST_APPLIED,
        serde_json::to_string(&applied).unwrap(),
        String::from_utf8_lossy(plain)
    );
    check("json", &decode(key, j.as_bytes(), &HIDE));
    check("json by kind", &decode(b"/x", j.as_bytes(), &HIDE));
    check("bad json", &decode(key, &j.as_bytes()[..j.len() - 3], &HIDE));
    check("raw", &decode(key, plain, &HIDE));
    assert_eq!(decode(key, plain, &HIDE), json!({"raw": {"bytes": 33, "redacted": true}}));
    let mut cb = vec![0xd9, 0xd9, 0xf7, 0xa2, 0x44];
    cb.extend_from_slice(b"kind");
    cb.push(0x46);
    cb.extend_from_slice(b"Secret");
    cb.extend_from_slice(&[0x44, b'd', b'a', b't', b'a', 0xa1, 0x42, b'p', b'w', 0x58, plain.len() as u8]);
    cb.extend_from_slice(plain);
    check("cbor", &decode(b"/x", &cb, &HIDE));
    assert_eq!(decode(b"/x", &cb, &SHOW)["data"]["pw"], String::from_utf8_lossy(plain).as_ref());
    check("bad cbor", &decode(key, &cb[..cb.len() - 1], &HIDE));
}

#[test]
fn a_value_cut_short_still_shows_its_metadata() {
    // A ConfigMap whose stored value lost its last bytes (inside `data`): the envelope's raw
    // length runs past the end. Its metadata, which comes first, was shown as nothing.
    let raw = [bytes(1, &meta("cm", "ns", "u-1", 1_700_000_000, &[("a", "b")])), entry(2, b"k", b"vvvvvvvv")].concat();
    let whole = envelope("v1", "ConfigMap", &raw);
    let cut = &whole[..whole.len() - 4 - 6];
    let v = decode(b"/registry/configmaps/ns/cm", cut, &HIDE);
    assert_eq!((v["metadata"]["name"].as_str(), v["metadata"]["namespace"].as_str()), (Some("cm"), Some("ns")), "{v}");
    assert_eq!(v["metadata"]["labels"]["a"], "b", "{v}");
    assert!(err(&v).starts_with("envelope: raw object of "), "{v}");
    assert!(err(&v).contains("cut short"), "{v}");
    // A Secret cut short: its metadata, and nothing of its data.
    let raw = [bytes(1, &meta("s", "ns", "u-2", 1_700_000_000, &[])), entry(2, b"pw", b"hunter2-hunter2")].concat();
    let whole = envelope("v1", "Secret", &raw);
    let cut = &whole[..whole.len() - 4 - 3];
    let v = decode(b"/registry/secrets/ns/s", cut, &HIDE);
    assert_eq!(v["metadata"]["name"], "s", "{v}");
    assert!(!v.to_string().contains("hunter2") && !v.to_string().contains("aHVudGVy"), "{v}");
}

#[test]
fn a_time_or_raw_json_of_the_wrong_wire_type_is_an_error_not_the_epoch() {
    // creationTimestamp {seconds as length-delimited}: showed 1970-01-01T00:00:00Z, no error.
    let m = [bytes(1, b"t"), bytes(8, &bytes(1, &[1, 2]))].concat();
    let v = decode(b"/registry/configmaps/ns/t", &envelope("v1", "ConfigMap", &bytes(1, &m)), &HIDE);
    assert_ne!(v["metadata"]["creationTimestamp"], "1970-01-01T00:00:00Z", "{v}");
    assert!(err(&v).contains("creationTimestamp): time: field 1 is length-delimited, not a varint"), "{v}");
    // An empty Time is Go's zero time, which Kubernetes' JSON shows as null (it showed the epoch);
    // `{seconds: 0}` is the epoch.
    for (time, shown) in [(vec![], Value::Null), (varint(1, 0), json!("1970-01-01T00:00:00Z"))] {
        let m = [bytes(1, b"z"), bytes(8, &time)].concat();
        let v = decode(b"/registry/configmaps/ns/z", &envelope("v1", "ConfigMap", &bytes(1, &m)), &HIDE);
        assert_eq!(v["metadata"]["creationTimestamp"], shown, "{v}");
        assert!(v.get("decodeError").is_none(), "{v}");
    }
    // managedFields[0].fieldsV1 {Raw as a varint}: showed null, no error.
    let mf = [bytes(1, b"m"), bytes(7, &varint(1, 5))].concat();
    let m = [bytes(1, b"f"), bytes(17, &mf)].concat();
    let v = decode(b"/registry/configmaps/ns/f", &envelope("v1", "ConfigMap", &bytes(1, &m)), &HIDE);
    assert!(err(&v).contains("fieldsV1): raw: field 1 is varint, not length-delimited"), "{v}");
}

#[test]
fn an_envelope_without_a_kind_is_an_error() {
    let v = decode(b"/registry/configmaps/ns/nk", &envelope("v1", "", &bytes(1, &bytes(1, b"nk"))), &HIDE);
    assert_eq!(v["metadata"]["name"], "nk", "{v}");
    assert_eq!(err(&v), "envelope typeMeta names no kind", "{v}");
    let ok = decode(b"/registry/configmaps/ns/k", &envelope("v1", "ConfigMap", &bytes(1, &bytes(1, b"k"))), &HIDE);
    assert!(ok.get("decodeError").is_none(), "{ok}");
}

#[test]
fn a_map_key_that_is_not_utf8_is_told() {
    // An annotation key `\xfe` was shown as U+FFFD with no decodeError.
    let m = [bytes(1, b"cm"), entry(12, b"\xfe", b"v")].concat();
    let v = decode(b"/registry/configmaps/ns/cm", &envelope("v1", "ConfigMap", &bytes(1, &m)), &HIDE);
    assert!(err(&v).contains("key of 1 bytes is not UTF-8"), "{v}");
}

#[test]
fn an_object_cut_inside_its_metadata_shows_what_precedes_the_cut_and_names_each_field() {
    let m = meta("bigcm", "default", "u-1", 1_700_000_000, &[("app", "x")]);
    let meta_full = [m, entry(12, b"note", &[b'a'; 3000])].concat();
    let raw = [bytes(1, &meta_full), entry(2, b"k", b"v")].concat();
    let whole = envelope("v1", "ConfigMap", &raw);
    // Cut inside the annotation: the envelope's raw object, the metadata and the annotation all
    // run past the end.
    let cut = &whole[..whole.len() - 2000];
    let d = decode(b"/registry/configmaps/default/bigcm", cut, &HIDE);
    assert_eq!(d["metadata"]["name"], "bigcm", "{d}");
    assert_eq!(d["metadata"]["namespace"], "default", "{d}");
    assert_eq!(d["metadata"]["uid"], "u-1", "{d}");
    assert_eq!(d["metadata"]["labels"]["app"], "x", "{d}");
    let e = err(&d);
    assert!(e.contains("field 1 (metadata): ") && e.contains("cut short"), "{e}");
    assert!(e.contains("field 12 (annotations): length past the end"), "{e}");
    assert!(d["metadata"].get("annotations").map_or(true, |a| a.get("note").is_none()), "no part of a cut string: {d}");

    // A pod cut inside its status: the field is named.
    let pod = envelope("v1", "Pod", &[bytes(1, &meta("p", "default", "u-2", 1, &[])), bytes(3, &[b'z'; 60])].concat());
    let d = decode(b"/registry/pods/default/p", &pod[..pod.len() - 10], &HIDE);
    assert_eq!(d["metadata"]["name"], "p", "{d}");
    assert!(err(&d).contains("field 3 (status): "), "{}", err(&d));
}

#[test]
fn a_field_of_the_wrong_wire_type_names_its_type_not_the_whole_schema() {
    let d = decode(b"/registry/configmaps/default/m", &envelope("v1", "ConfigMap", &varint(1, 5)), &HIDE);
    let e = err(&d);
    assert!(e.contains("varint on the wire, expected ObjectMeta"), "{e}");
    assert!(e.len() < 200 && !e.contains("Field {"), "{e}");
}

#[test]
fn a_raw_object_after_a_typemeta_damaged_inside_still_shows_its_metadata() {
    // The kind's length runs past the typeMeta's end; the envelope and its raw object are intact.
    // The metadata was hidden ("envelope holds no raw object", review 49b).
    let tm = [bytes(1, b"v1"), vec![0x12, 0x30], b"ConfigMap".to_vec()].concat();
    let raw = bytes(1, &meta("cm", "default", "uid-1", 1_700_000_000, &[]));
    let value = [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, &raw), bytes(3, b""), bytes(4, b"")].concat();
    let v = decode(b"/registry/configmaps/default/cm", &value, &HIDE);
    assert_eq!((&v["metadata"]["name"], &v["metadata"]["uid"]), (&json!("cm"), &json!("uid-1")), "{v}");
    assert!(err(&v).contains("typeMeta"), "{v}");
    // A Secret so damaged shows its metadata, never its data.
    let raw =
        [bytes(1, &meta("s", "default", "uid-2", 1_700_000_000, &[])), entry(2, b"pw", b"hunter2-hunter2")].concat();
    let tm = [bytes(1, b"v1"), vec![0x12, 0x30], b"Secret".to_vec()].concat();
    let value = [b"k8s\0".to_vec(), bytes(1, &tm), bytes(2, &raw), bytes(3, b""), bytes(4, b"")].concat();
    for key in [&b"/registry/secrets/default/s"[..], b"/app/s"] {
        let v = decode(key, &value, &HIDE);
        assert_eq!(v["metadata"]["name"], "s", "{v}");
        assert!(!v.to_string().contains("hunter2") && !v.to_string().contains("aHVudGVy"), "{v}");
    }
}
