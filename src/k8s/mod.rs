//! Kubernetes keys and values as the apiserver stores them in etcd: which resource a key
//! belongs to ([`key`]), what encoding a value has ([`encoding`]), and the value decoded into
//! JSON for display ([`object`]) or YAML ([`yaml`]).
//!
//! This module depends on nothing else in the crate but etcd's protobuf varint reader
//! ([`crate::etcd::proto::varint`]), and on `serde_json`, `ciborium` and `serde_norway`.
//!
//! ```
//! use boltscope::k8s::{encoding, key, object};
//! let k = key::parse(b"/registry/services/specs/default/kubernetes").unwrap();
//! assert_eq!((k.resource.as_str(), k.namespace, k.name), ("services", Some(&b"default"[..]), &b"kubernetes"[..]));
//! let sealed = [&b"k8s:enc:aescbc:v1:key1:"[..], &[0xa5; 48]].concat(); // IV + 2 blocks
//! assert_eq!(encoding::classify(&sealed).label(), "encrypted:aescbc:key1");
//! let v = object::decode(b"/registry/configmaps/ns/cm", br#"{"kind":"ConfigMap"}"#, &Default::default());
//! assert_eq!(v["kind"], "ConfigMap");
//! ```
//!
//! # Schemas
//!
//! Protobuf values always get `apiVersion`, `kind` and `metadata` (ObjectMeta) with Kubernetes'
//! JSON names. Small kinds have complete tables ([`kinds`]); the large ones (Pod, Deployment,
//! Service, Node, ...) get their top-level names (`spec`, `status`) and the inside by field
//! number. Crates that carry the Kubernetes schemas were measured (2 cores, `CARGO_BUILD_JOBS=1`,
//! release build of a small binary using them, rustc 1.95):
//! - `k8s-pb` 0.9 (prost types): +38 s release, +20 s debug, +0.65 MB binary; no serde, Rust
//!   field names (`string_data`), no descriptor set, README says "not yet usable"; MSRV 1.88
//!   (this crate: 1.80). JSON output would need hand-written mapping of every type.
//! - `k8s-openapi` 0.29: +39 s release, +14 s debug, +2.15 MB binary; serde JSON types only, no
//!   protobuf decoding at all.
//! - `prost-reflect` would need a Kubernetes descriptor set; no crates.io crate ships one (and
//!   .proto files are not to be vendored).
//! - `k8s-rs-pb` 0.5 (rust-protobuf types with embedded descriptors, feature `v1_33` only):
//!   +407 s release build, +3.9 MB binary; 86 MB of source (2 million lines), experimental,
//!   one author; its JSON would still need Kubernetes' own mapping of Time, IntOrString,
//!   Quantity and RawExtension.
//!
//! None makes full decoding practical at a reasonable cost, so the generic by-number rendering is
//! used below the top level. What this module adds, measured the same way (against a binary that
//! already has `serde` with derive and `serde_json`, as this crate does): `ciborium` 0.2 and
//! `serde_norway` 0.9 together cost +17 s of release build and +180 kB of binary.
//!
//! # Limits
//!
//! Hostile input is expected: nesting is limited to [`render::MAX_DEPTH`] messages, protobuf
//! output to [`render::MAX_OUTPUT_BYTES`], CBOR and JSON nesting to 128, and no decoder panics.

pub mod cbor;
pub mod encoding;
pub mod generic;
pub mod json_go;
pub mod key;
pub mod kinds;
pub mod object;
mod redact;
pub mod render;
pub mod schema;
pub mod secret;
mod secret_envelope;
mod secret_gzip;
mod secret_manifest;
mod secret_parsed;
mod secret_text;
mod secret_yaml;
pub mod time;
pub mod wire;
pub mod yaml;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod object_tests;
#[cfg(test)]
mod secret_damage_tests;
#[cfg(test)]
mod testpb;

pub use encoding::{classify, Encoding};
pub use key::{parse as parse_key, prefix_group, KeyParts};
pub use object::{decode, DecodeOptions};
