//! Unit tests of [`super`]: Secrets' manifests inside gzip streams, as Helm's ConfigMap driver
//! keeps releases, and the bounds on inflating.

use super::*;
use crate::k8s::secret::holds_plaintext;
use base64::Engine;
use std::io::Write;

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn field(num: u32, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    for mut n in [u64::from(num << 3 | 2), data.len() as u64] {
        while n >= 0x80 {
            f.push(n as u8 | 0x80);
            n >>= 7;
        }
        f.push(n as u8);
    }
    f.extend_from_slice(data);
    f
}

/// A v1.ConfigMap as the API server stores it, with one `data` entry, or one `binaryData` entry.
fn configmap(name: &str, key: &str, value: &[u8], binary: bool) -> Vec<u8> {
    let meta = [field(1, name.as_bytes()), field(3, b"default")].concat();
    let entry = [field(1, key.as_bytes()), field(2, value)].concat();
    let raw = [field(1, &meta), field(if binary { 3 } else { 2 }, &entry)].concat();
    let tm = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
    [&b"k8s\0"[..], &field(1, &tm), &field(2, &raw), &field(3, b""), &field(4, b"")].concat()
}

const SECRET: &str =
    "---\n# Source: db/templates/secret.yaml\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: \
                      Opaque\ndata:\n  password: \"Q0FOQVJZ\"\n";
const PLAIN: &str =
    "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  \
                     note: rotate the Secret db\n";

/// A Helm 3 release as its ConfigMap driver stores it: base64 of gzip of the release's JSON.
fn helm3(manifest: &str) -> Vec<u8> {
    let release = serde_json::json!({"name": "db", "namespace": "default", "version": 1, "manifest": manifest,
        "info": {"status": "deployed"}, "config": {"replicas": 1}});
    b64(&gzip(release.to_string().as_bytes())).into_bytes()
}

#[test]
fn a_helm_release_kept_by_the_configmap_driver_is_withheld_when_its_manifest_holds_a_secret() {
    let key = b"/registry/configmaps/default/sh.helm.release.v1.db.v1";
    assert!(holds_plaintext(key, &configmap("sh.helm.release.v1.db.v1", "release", &helm3(SECRET), false)));
    assert!(!holds_plaintext(key, &configmap("sh.helm.release.v1.web.v1", "release", &helm3(PLAIN), false)));
    // Helm 2's Tiller: base64 of gzip of a protobuf release (manifest: field 5).
    let tiller = [field(1, b"db"), field(5, SECRET.as_bytes())].concat();
    let value = b64(&gzip(&tiller)).into_bytes();
    assert!(holds_plaintext(key, &configmap("db.v1", "release", &value, false)));
    // A manifest gzipped into binaryData, and the same bytes at an application's key, raw or as
    // base64 text; what only names a Secret shows.
    assert!(holds_plaintext(key, &configmap("files", "secret.yaml.gz", &gzip(SECRET.as_bytes()), true)));
    assert!(!holds_plaintext(key, &configmap("files", "cm.yaml.gz", &gzip(PLAIN.as_bytes()), true)));
    assert!(holds_plaintext(b"app/secret.yaml.gz", &gzip(SECRET.as_bytes())));
    assert!(holds_plaintext(b"app/secret.b64", format!("  {}\n", b64(&gzip(SECRET.as_bytes()))).as_bytes()));
    assert!(!holds_plaintext(b"app/cm.yaml.gz", &gzip(PLAIN.as_bytes())));
    // A chart's Secret template (base64 in the release's chart) is withheld even where the
    // values left it unrendered: the rule cannot tell a template from data (README).
    let template = b64(b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\ndata:\n  pw: {{ .Values.pw | b64enc }}\n");
    let release = serde_json::json!({"name": "web", "manifest": PLAIN,
        "chart": {"templates": [{"name": "templates/secret.yaml", "data": template}]}});
    let value = b64(&gzip(release.to_string().as_bytes())).into_bytes();
    assert!(holds_plaintext(key, &configmap("sh.helm.release.v1.web.v2", "release", &value, false)));
    // A JSON object (a custom resource) with the release in one of its strings.
    let cr = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Release", "metadata": {"name": "db"},
        "spec": {"blob": String::from_utf8(helm3(SECRET)).unwrap()}});
    assert!(holds_plaintext(b"/registry/example.com/releases/default/db", cr.to_string().as_bytes()));
}

#[test]
fn inflating_is_bounded_and_what_is_past_the_bounds_is_withheld() {
    // 64 MiB of zeros gzip to 64 KiB: past the budget, withheld unread.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    assert!(holds_plaintext(b"app/bomb.gz", &bomb));
    // Each value has its own budget: the next one is read.
    assert!(!holds_plaintext(b"app/cm.yaml.gz", &gzip(PLAIN.as_bytes())));
    // Streams inside streams: read to MAX_NESTED deep, withheld past it.
    let mut nested = gzip(PLAIN.as_bytes());
    for depth in 1..=usize::from(MAX_NESTED) + 1 {
        let shown = !holds_plaintext(b"app/nested.gz", &nested);
        assert_eq!(shown, depth <= usize::from(MAX_NESTED), "{depth} streams deep");
        nested = gzip(&nested);
    }
    // A stream cut short is judged by what it inflates to before the cut.
    let big = format!("{}{SECRET}{}", "# filler\n".repeat(20_000), "# more\n".repeat(20_000));
    let gz = gzip(big.as_bytes());
    assert!(holds_plaintext(b"app/cut.gz", &gz[..gz.len() * 3 / 4]));
    // Not gzip after all: base64 that does not decode, text that only starts alike.
    assert!(stream(b"H4sIzz!!").is_none());
    assert!(!holds(b"H4sI is how gzip starts in base64", &|d| !d.is_empty()));
    // The magic alone inflates to nothing, and that is what is judged.
    assert!(holds(b"\x1f\x8b\x08", &|d| d.is_empty()));
}

#[test]
fn a_decoded_release_keeps_its_name_and_its_release_is_redacted() {
    let value = configmap("sh.helm.release.v1.db.v1", "release", &helm3(SECRET), false);
    let key = b"/registry/configmaps/default/sh.helm.release.v1.db.v1";
    let opts = crate::k8s::object::DecodeOptions { show_secrets: false };
    let shown = crate::k8s::object::decode(key, &value, &opts).to_string();
    assert!(shown.contains("sh.helm.release.v1.db.v1"), "{shown}");
    assert!(!shown.contains("H4sI"), "the release is redacted: {shown}");
}

#[test]
fn review_44b_shapes_are_read_and_bounded() {
    let key = b"/registry/configmaps/default/x";
    // Inflated past what is parsed (4 MiB of tiny JSON objects: parsed whole, 32 MiB of them ran
    // out of memory): withheld when it names a Secret, shown otherwise.
    let objects = |word: &str| format!("{{\"note\":\"{word}\",\"a\":[{}{{}}]}}", "{\"\":1},".repeat(700_000));
    assert!(holds_plaintext(b"app/objs.gz", &gzip(objects("Secret").as_bytes())));
    assert!(!holds_plaintext(b"app/objs.gz", &gzip(objects("plain").as_bytes())));
    // Ten thousand empty members cost a decoder each: past 256 a value, withheld.
    let empty = gzip(b"");
    assert!(holds_plaintext(b"app/members.gz", &empty.repeat(10_000)));
    assert!(!holds_plaintext(b"app/members.gz", &empty.repeat(10)));
    // Base64 of gzip inside JSON text: in an array, in a string of a protobuf field (a
    // last-applied annotation copying binaryData), and base64 of that base64 (a JSON
    // ConfigMap's binaryData of a file holding it).
    let secret_gz = b64(&gzip(SECRET.as_bytes()));
    assert!(holds_plaintext(b"app/list.json", format!("[\"{secret_gz}\"]").as_bytes()));
    let applied = format!("{{\"binaryData\":{{\"secret.yaml.gz\":\"{secret_gz}\"}}}}");
    assert!(holds_plaintext(key, &configmap("a", "applied.json", applied.as_bytes(), false)));
    let twice = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
        "binaryData": {"f": b64(secret_gz.as_bytes())}});
    assert!(holds_plaintext(key, twice.to_string().as_bytes()));
    // Base64 without padding, URL-safe, in lines; a byte-order mark or a vertical tab before.
    let raw = gzip(SECRET.as_bytes());
    let nopad = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&raw);
    let url = base64::engine::general_purpose::URL_SAFE.encode(&raw);
    for v in [nopad, url, format!("\u{feff}{secret_gz}"), format!("\x0b{secret_gz}")] {
        assert!(holds_plaintext(b"app/v", v.as_bytes()), "{v:.20}");
    }
    // A CBOR object (a custom resource) with the release in a string.
    let mut cbor = vec![0xd9, 0xd9, 0xf7];
    let cr = serde_json::json!({"apiVersion": "example.com/v1", "kind": "Release", "metadata": {"name": "db"},
        "spec": {"blob": secret_gz}});
    ciborium::into_writer(&cr, &mut cbor).unwrap();
    assert!(holds_plaintext(b"/registry/example.com/releases/default/db", &cbor));
}

#[test]
fn a_decode_judges_its_strings_with_a_budget_of_its_own() {
    // Two harmless entries inflating to 14 MiB each, and a Secret's: the search for manifests
    // spends most of the value's 32 MiB, and the redaction read them again with what was left
    // (review 44b: harmless entries came out redacted).
    let zeros = b64(&gzip(&vec![0u8; 14 << 20]));
    let meta = [field(1, b"mixed"), field(3, b"default")].concat();
    let entry = |k: &str, v: &[u8]| field(2, &[field(1, k.as_bytes()), field(2, v)].concat());
    let raw = [field(1, &meta), entry("a", zeros.as_bytes()), entry("b", zeros.as_bytes()), entry("s", &helm3(SECRET))]
        .concat();
    let tm = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
    let value = [&b"k8s\0"[..], &field(1, &tm), &field(2, &raw)].concat();
    let opts = crate::k8s::object::DecodeOptions { show_secrets: false };
    let shown = crate::k8s::object::decode(b"/registry/configmaps/default/mixed", &value, &opts).to_string();
    assert_eq!(shown.matches(&zeros[..40]).count(), 2, "both harmless entries shown");
    assert!(!shown.contains(&String::from_utf8(helm3(SECRET)).unwrap()[..40]), "the release redacted");
}
