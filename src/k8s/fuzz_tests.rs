//! Hostile input: random bytes and mutated real-looking values through every decoder. Nothing
//! may panic, nesting and output stay bounded, and Secret plaintext stays hidden.

use serde_json::Value;

use super::object::{decode, DecodeOptions};
use super::render::{Ctx, MAX_DEPTH, MAX_OUTPUT_BYTES};
use super::testpb::{bytes, entry, envelope, meta, varint, Rng};
use super::{cbor, encoding, generic, key, kinds, schema, yaml};

/// Recognisable Secret plaintext planted in the samples.
const PLAIN: &[u8] = b"PLAINTEXT-9f8e7d6c5b4a";

fn samples(rng: &mut Rng) -> Vec<(Vec<u8>, Vec<u8>)> {
    let m = |name: &str, ns: &str| meta(name, ns, "3f2a-uid", 1_700_000_000, &[("app", "web")]);
    let mut out = Vec::new();
    for (api, kind, key) in [
        ("v1", "Pod", "/registry/pods/ns/p"),
        ("v1", "ConfigMap", "/registry/configmaps/ns/c"),
        ("coordination.k8s.io/v1", "Lease", "/registry/leases/ns/l"),
        ("v1", "Namespace", "/registry/namespaces/ns"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", "/registry/clusterroles/r"),
        ("v1", "Event", "/registry/events/ns/e"),
        ("apps/v1", "ControllerRevision", "/registry/controllerrevisions/ns/cr"),
    ] {
        let body = [bytes(1, &m("x", "ns")), bytes(2, &rng.fill(200))].concat();
        out.push((key.as_bytes().to_vec(), envelope(api, kind, &body)));
    }
    let rule = [bytes(1, b"get"), bytes(2, b""), bytes(3, b"pods")].concat();
    let role = [bytes(1, &m("r", "")), bytes(2, &rule), bytes(2, &rule)].concat();
    out.push((b"/registry/clusterroles/r".to_vec(), envelope("rbac.authorization.k8s.io/v1", "ClusterRole", &role)));
    let cm = [bytes(1, &m("c", "ns")), entry(2, b"k", b"v"), entry(3, b"b", &[0, 1]), varint(4, 1)].concat();
    out.push((b"/registry/configmaps/ns/c".to_vec(), envelope("v1", "ConfigMap", &cm)));
    let sec = [bytes(1, &m("s", "ns")), entry(2, b"pw", PLAIN), bytes(3, b"Opaque"), entry(4, b"t", PLAIN)].concat();
    out.push((b"/registry/secrets/ns/s".to_vec(), envelope("v1", "Secret", &sec)));
    out.push((
        b"/registry/x.io/things/ns/t".to_vec(),
        br#"{"apiVersion":"x.io/v1","kind":"Thing","metadata":{"name":"t"},"spec":{"a":[1,2,{"b":null}]}}"#.to_vec(),
    ));
    out.push((
        b"/registry/secrets/ns/j".to_vec(),
        br#"{"kind":"Secret","data":{"pw":"UExBSU5URVhULTlmOGU3ZDZjNWI0YQ=="}}"#.to_vec(),
    ));
    out.push((
        b"/registry/minions/n".to_vec(),
        vec![0xd9, 0xd9, 0xf7, 0xa1, 0x44, b'k', b'i', b'n', b'd', 0x82, 0xd6, 0x41, 7, 0x9f, 0xff],
    ));
    out.push((
        b"/registry/secrets/ns/e".to_vec(),
        [b"k8s:enc:kms:v2:vault:".to_vec(), bytes(1, &rng.fill(50)), bytes(2, b"kid")].concat(),
    ));
    out.push((b"/registry/secrets/ns/a".to_vec(), [b"k8s:enc:aesgcm:v1:k2:".to_vec(), rng.fill(40)].concat()));
    out
}

fn mutate(v: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = v.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len().max(1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 => v.truncate(rng.below(len)),
            3 => {
                let i = rng.below(len).min(v.len());
                let n = 1 + rng.below(8);
                let junk = rng.fill(n);
                v.splice(i..i, junk);
            }
            4 if v.len() > 2 => {
                let a = rng.below(v.len());
                let b = (a + 1 + rng.below(16)).min(v.len());
                let i = rng.below(v.len());
                let piece = v[a..b].to_vec();
                v.splice(i..i, piece);
            }
            _ => {
                let i = rng.below(len).min(v.len());
                v.insert(i, [0x0a, 0x12, 0x08, 0xff, 0x80][rng.below(5)]);
            }
        }
    }
    v
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check(k: &[u8], v: &[u8], rng: &mut Rng) {
    let _ = key::parse(k);
    let _ = key::prefix_group(k, rng.below(6));
    let enc = encoding::classify(v);
    let _ = enc.label();
    if let encoding::Encoding::Encrypted(e) = &enc {
        let _ = encoding::kms_v2(e.payload);
        let _ = encoding::kms_v1_dek_len(e.payload);
    }
    let _ = cbor::to_json(v);
    let mut cx = Ctx::new(false, false);
    let g = generic::bytes(v, &mut cx);
    assert!(depth(&g) <= 2 * MAX_DEPTH + 2);
    for t in [&kinds::OBJECT_META, &kinds::SECRET, &kinds::UNKNOWN_KIND, kinds::lookup("v1", "Event")] {
        let mut cx = Ctx::new(false, false);
        let _ = schema::decode(v, t, &mut cx);
    }
    let d = decode(k, v, &DecodeOptions::default());
    let text = d.to_string();
    let is_proto = v.starts_with(b"k8s\0");
    let bound = if is_proto { MAX_OUTPUT_BYTES + (64 << 10) } else { 8 * v.len() + 1024 };
    assert!(text.len() <= bound, "{} bytes of output for {} bytes of input", text.len(), v.len());
    assert!(depth(&d) <= if is_proto { 2 * MAX_DEPTH + 8 } else { 140 }, "depth {}", depth(&d));
    if k.starts_with(b"/registry/secrets/") {
        assert!(!text.contains("PLAINTEXT") && !text.contains("UExBSU5URVhU"), "{text}");
    }
    let _ = yaml::to_string(&d);
}

#[test]
fn random_and_mutated_values_never_panic_and_stay_bounded() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let base = samples(&mut rng);
    for round in 0..400 {
        for (k, v) in &base {
            let m = mutate(v, &mut rng);
            check(k, &m, &mut rng);
            if round % 8 == 0 {
                let mut kk = k.clone();
                let (a, b) = (rng.below(4), rng.below(300));
                kk.extend(rng.fill(a));
                let junk = rng.fill(b);
                check(&kk, &junk, &mut rng);
            }
        }
    }
    // Prefixes glued to random tails.
    for _ in 0..300 {
        let prefix: &[u8] = [&b"k8s\0"[..], b"k8s:enc:", b"k8s:enc:kms:v2:p:", &[0xd9, 0xd9, 0xf7], b"{"][rng.below(5)];
        let n = rng.below(200);
        let v = [prefix, &rng.fill(n)].concat();
        check(b"/registry/secrets/a/b", &v, &mut rng);
    }
}

#[test]
fn deep_and_huge_inputs_are_bounded() {
    // 10,000 nested messages in an unknown field of a Pod.
    let mut m = varint(1, 1);
    for _ in 0..10_000 {
        m = [bytes(1, &m), vec![0x10, 0x00]].concat();
    }
    let v = envelope("v1", "Pod", &[bytes(1, &meta("p", "ns", "u", 0, &[])), bytes(9, &m)].concat());
    let d = decode(b"/registry/pods/ns/p", &v, &DecodeOptions::default());
    assert!(depth(&d) <= 2 * MAX_DEPTH + 8);
    assert!(d["decodeError"].as_str().unwrap().contains("nesting deeper than 32"));

    // 7 MiB of control characters: 42 MiB of JSON escapes if shown whole.
    let junk = vec![0x01u8; 7 << 20];
    let v = envelope("v1", "ConfigMap", &[bytes(1, &meta("c", "ns", "u", 0, &[])), entry(2, b"k", &junk)].concat());
    let d = decode(b"/registry/configmaps/ns/c", &v, &DecodeOptions::default());
    assert!(d.to_string().len() <= MAX_OUTPUT_BYTES + (64 << 10));
    assert!(d["decodeError"].as_str().unwrap().contains("output limit"), "{}", d["decodeError"]);
    assert_eq!(d["data"]["k"], "<truncated>");
    assert_eq!(d["metadata"]["name"], "c");
}
