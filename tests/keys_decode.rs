//! `--decode` against an independent reading of the same bytes, and the Secret rule in every
//! output: fixtures/key-answers/cluster-0.1.decode.jsonl.gz is what `decode-answers.py` (standard
//! library Python, reading real bbolt's dump of the file and decoding ObjectMeta by field number
//! with fixtures/k8s-meta-oracle.py; JSON values with `json.loads`) says about every value of the
//! `cluster` fixture, and where the plaintext Secrets' data bytes lie.

mod common;
mod keys_common;

use serde_json::Value;
use std::io::Read;

fn answers() -> Vec<Value> {
    let gz = std::fs::File::open(common::dir().join("key-answers/cluster-0.1.decode.jsonl.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz).read_to_string(&mut text).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_value_decodes_as_the_independent_reader_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let file = common::path("cluster-0.1.snap.db", &tmp);
    // Every protobuf value of the file (also older revisions and the compaction's survivors).
    assert_eq!(keys_common::check_decoded(&answers(), &file), (922, 29));
}

#[test]
fn plaintext_secret_data_appears_in_no_output_unless_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let file = common::path("cluster-0.1.snap.db", &tmp);
    let n = keys_common::check_secrets_withheld(&answers(), &file);
    assert_eq!(n, 7, "seven plaintext Secrets (five small, two Helm releases)");
}
