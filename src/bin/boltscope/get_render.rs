//! `get`'s answer written: in etcdctl's formats byte for byte (`simple`, `json`, `fields`,
//! `protobuf`), with values as stored (Secrets withheld unless asked) or decoded as Kubernetes
//! objects, and keys read from free pages marked in JSON.

use crate::get::GetArgs;
use crate::keyread::{Failure, ObjectFormat};
use boltscope::etcd::ctl;
use boltscope::etcd::goquote::hex;
use boltscope::etcd::header::Header;
use boltscope::etcd::proto::Kv;
use boltscope::etcd::range::Ranged;
use std::sync::atomic::AtomicU64;

/// `etcdctl get -w json`, with `object` in place of a value when it gives one (decoded objects),
/// and each key read from a free page marked `"source":"free-page"` (`free`: their keys and mod
/// revisions).
fn json_with(
    h: &Header,
    r: &Ranged<'_>,
    free: &[(&[u8], u64)],
    object: &dyn Fn(&Kv<'_>) -> Option<serde_json::Value>,
) -> String {
    let mut s = String::from("{\"header\":");
    ctl::header_json(&mut s, h);
    if !r.kvs.is_empty() {
        s.push_str(",\"kvs\":[");
        for (i, kv) in r.kvs.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            ctl::kv_json(&mut s, kv, object(kv).as_ref());
            if free.contains(&(kv.key, kv.mod_revision)) {
                s.pop();
                s.push_str(",\"source\":\"free-page\"}");
            }
        }
        s.push(']');
    }
    if r.more {
        s.push_str(",\"more\":true");
    }
    if r.count != 0 {
        s.push_str(&format!(",\"count\":{}", r.count));
    }
    s.push_str("}\n");
    s
}

/// The answer in the asked format; `free`: the keys (and mod revisions) read from free pages.
pub fn render(
    a: &GetArgs,
    h: &Header,
    r: &Ranged<'_>,
    withheld: &AtomicU64,
    free: &[(&[u8], u64)],
) -> Result<Vec<u8>, Failure> {
    let fmt = a.write_out.as_str();
    if a.count_only && fmt != "fields" {
        return Err(Failure::Usage("--count-only is only for `--write-out=fields`".into()));
    }
    if a.print_value_only && fmt != "simple" {
        return Err(Failure::Usage("print-value-only is only for `--write-out=simple`".into()));
    }
    if fmt == "table" {
        return Err(Failure::Usage("table not supported as output format".into()));
    }
    if a.value.decoding() && !a.keys_only {
        let yaml = a.value.format() == ObjectFormat::Yaml;
        return match fmt {
            "simple" => {
                let mut out = Vec::new();
                for kv in &r.kvs {
                    if !a.print_value_only {
                        out.extend(if a.hex { hex(kv.key) } else { kv.key.to_vec() });
                        out.push(b'\n');
                    } else if yaml {
                        out.extend_from_slice(b"---\n");
                    }
                    out.extend(a.value.object_text(kv.key, kv.value).into_bytes());
                }
                Ok(out)
            }
            "json" if !yaml => {
                let object = |kv: &Kv<'_>| (!a.keys_only).then(|| a.value.object(kv.key, kv.value));
                Ok(json_with(h, r, free, &object).into_bytes())
            }
            "fields" if !yaml => {
                let shown: Vec<String> = r.kvs.iter().map(|kv| a.value.object(kv.key, kv.value).to_string()).collect();
                let kvs = r.kvs.iter().zip(&shown).map(|(kv, s)| Kv { value: s.as_bytes(), ..*kv }).collect();
                Ok(ctl::range_fields(h, &Ranged { kvs, count: r.count, more: r.more }).into_bytes())
            }
            _ => Err(Failure::Usage(
                "decoded objects are written with -w simple (JSON or -o yaml), json or fields".into(),
            )),
        };
    }
    let shown: Vec<_> = r.kvs.iter().map(|kv| a.value.raw(kv.key, kv.value, withheld)).collect();
    let kvs = r.kvs.iter().zip(&shown).map(|(kv, v)| Kv { value: v, value_len: v.len(), ..*kv }).collect();
    let r = Ranged { kvs, count: r.count, more: r.more };
    match fmt {
        "simple" => Ok(ctl::range_simple(&r, a.print_value_only, a.hex)),
        "json" if !free.is_empty() => Ok(json_with(h, &r, free, &|_| None).into_bytes()),
        "json" => Ok(ctl::range_json(h, &r).into_bytes()),
        "fields" => Ok(ctl::range_fields(h, &r).into_bytes()),
        "protobuf" => Ok(ctl::range_protobuf(h, &r)),
        _ => Err(Failure::Usage("unsupported output format".into())),
    }
}
