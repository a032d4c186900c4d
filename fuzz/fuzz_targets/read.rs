//! Any bytes: the container sniffer and expander (the bytes as a zip, gzip or zstd file, with a
//! small expansion limit), Kubernetes value decoding (as a Secret and as a Pod, redacted), the
//! k3s bootstrap decryption, etcd's protobuf rules for its small records; then as a database: open (both meta pages), walk, status (3.5 and 3.6
//! semantics), inspect and check (with every gate, a k3s token among them), the sequential
//! cursor, and compact's writer (into memory, with and without an MVCC compaction, in the
//! source's layout and in another page size and byte order; a copy it finishes is read back);
//! `diff` of the file with itself (live keys in several passes, the join, the shared history),
//! `trend`'s measure, du (every grouping, within and past its budget), inspect's MVCC replay past a
//! tiny budget, the encryption gates, the key readers (the server's header, Range with sorting,
//! the watch replay with prev_kv, dump, HashKV at a revision, the key index built), carving free
//! pages (strictly), and `salvage` (in memory, also of bytes whose meta pages are both invalid: the
//! geometry and the root are then searched for; a copy it writes is read back). Nothing may panic,
//! hang or allocate without bound.
#![no_main]

use boltscope::analysis::check::{self, Gates};
use boltscope::analysis::du::{self, By};
use boltscope::analysis::{backup_point, compare, diff, inspect};
use boltscope::bbolt::cursor;
use boltscope::compact::salvage;
use boltscope::etcd::carve;
use boltscope::bbolt::page::ByteOrder;
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::etcd::header::Store;
use boltscope::etcd::range::{latest_by_scan, KeyRange, Options, Ranged, SortOrder, SortTarget};
use boltscope::etcd::{collect::Collector, ctl, dump, events, hashkv, scan};
use boltscope::index::keys;
use boltscope::{compact, write::copier, DbView};
use libfuzzer_sys::fuzz_target;

/// The bytes as an input file: sniffed and expanded (at most 1 MiB), as every command opens one.
fn containers(data: &[u8]) {
    let _ = boltscope::input::sniff(data);
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut f, data).is_ok() {
        let _ = boltscope::input::expand(f.path(), 1 << 20);
        let _ = boltscope::input::peek(f.path(), 8192);
    }
}

/// The bytes as a value etcd stores for Kubernetes, and as k3s bootstrap data.
fn values(data: &[u8]) {
    use boltscope::k8s::object::{decode, DecodeOptions};
    let opt = DecodeOptions { show_secrets: false };
    let _ = decode(b"/registry/secrets/ns/s", data, &opt);
    let _ = decode(b"/registry/pods/ns/p", data, &opt);
    let _ = boltscope::k8s::encoding::classify(data);
    // The Secret check every value printed raw goes through (envelope kind, short and long way).
    let _ = boltscope::k8s::secret::holds_plaintext(b"/custom/x", data);
    // The same for the bytes as a key (a value read as one: the JSON rule of keys).
    let _ = boltscope::k8s::secret::key_holds_secret(data);
    let _ = boltscope::k3s::bootstrap::check("K10::server:fuzz", data);
    // The rules of etcd's generated protobuf code, on the records etcd reads at start.
    for schema in [boltscope::etcd::gogo::LEASE, boltscope::etcd::gogo::ALARM_MEMBER, boltscope::etcd::gogo::USER, boltscope::etcd::gogo::ROLE] {
        let _ = boltscope::etcd::gogo::accepts(data, schema);
    }
}

fuzz_target!(|data: &[u8]| {
    containers(data);
    values(data);
    if let Ok((copy, _)) = salvage::salvage_bytes(data, 1.0) {
        if let Ok(v) = DbView::new(&copy) {
            let _ = status::status(&v, EtcdVersion::V35);
        }
    }
    let Ok(view) = DbView::new(data) else { return };
    let _ = carve::free_records(&view);
    let _ = status::status(&view, EtcdVersion::V35);
    let _ = status::status(&view, EtcdVersion::V36);
    let gates = Gates {
        expect_hash: Some(0),
        require_hash: true,
        fail_on_alarm: true,
        k3s_token: Some(check::Token("K10::server:fuzz".into())),
        require_encryption: vec!["secrets".into(), "configmaps".into()],
        require_encryption_key: Some("key1".into()),
        ..Gates::default()
    };
    let opt = inspect::Options { depth: 8, ..inspect::Options::default() };
    let r = check::check(&view, &opt, &gates);
    let _ = serde_json::to_string(&r);
    let _ = inspect::inspect_within(&view, &opt, &(), 1 + data.len() as u64 % 4096);
    for (i, by) in [None, Some(By::Namespace), Some(By::ResourceNamespace), Some(By::Prefix(2))].into_iter().enumerate()
    {
        let budget = if i % 2 == 0 { du::Options::default().budget } else { 1 };
        let d = du::du(
            &view,
            &du::Options {
                by,
                budget,
                top: 3,
                prefix: (i == 3).then(|| b"/registry/".to_vec()),
                verify_trailer: i == 0,
            },
        );
        let _ = serde_json::to_string(&d);
    }
    let _ = cursor::for_each(&view, cursor::root(&view), &mut |_| {});
    let opt = diff::Options { budget: 2048, decode: Some(Default::default()), ..diff::Options::default() };
    let _ = compare::compare(&view, &view, &opt);
    let _ = backup_point::measure(&view, 2048);
    keys_readers(&view, data.len() as u64);
    // The second copy also changes the layout: 1 KiB pages in the other byte order.
    let other = match view.order {
        ByteOrder::Little => ByteOrder::Big,
        ByteOrder::Big => ByteOrder::Little,
    };
    for (revision, relayout) in [(None, false), (Some(u64::from(data.len() as u32 % 64)), true)] {
        let opt = copier::Options {
            page_size: relayout.then_some(1024),
            order: relayout.then_some(other),
            ..copier::Options::default()
        };
        let mut out = Vec::new();
        if let Ok(l) = compact::copy_to(&view, &opt, revision, &mut out, Box::new(|_, _| {})) {
            if let Some(m) = out.get_mut(..2 * l.page_size as usize) {
                m.copy_from_slice(&copier::meta_pages(&view, &l));
            }
            if let Ok(copy) = DbView::new(&out) {
                let _ = status::status(&copy, EtcdVersion::V35);
            }
        }
    }
    for m in 0..2 {
        if let Ok(v) = DbView::with_meta(data, m) {
            let _ = status::status(&v, EtcdVersion::Auto);
        }
    }
});

/// get, log, dump, hashkv and the key index over any bytes.
fn keys_readers(view: &DbView<'_>, salt: u64) {
    let Ok(store) = Store::read(view) else { return };
    let _ = hashkv::at(view, 0);
    let _ = hashkv::at(view, (salt % 16) as i64);
    let Ok(Some(kb)) = scan::key_bucket(view) else { return };
    let rev = store.read_at(0).unwrap_or(1);
    let mut c = Collector::new(1 << 16);
    if let Ok((latest, _)) = latest_by_scan(view, kb, &KeyRange::all(), rev, Some(&mut c)) {
        let o = Options { limit: salt % 5, target: SortTarget::Version, order: SortOrder::Descend, ..Options::default() };
        let r = Ranged::from_latest(latest, &o);
        let _ = (ctl::range_json(&store.header, &r), ctl::range_fields(&store.header, &r));
        let _ = ctl::range_protobuf(&store.header, &r);
    }
    if let Some(b) = keys::build(c) {
        let _ = b.bytes;
    }
    let o = events::Options {
        from: salt % 8,
        compacted: store.compacted,
        prev_kv: true,
        track: true,
        unfinished: store.compacted != store.finished,
    };
    let _ = events::replay(view, kb, &KeyRange::prefix(b"/"), o, None, &mut |_| Ok(()));
    let _ = dump::dump(view, kb, &KeyRange::all(), dump::Select::At(rev), &|_, _| {}, &mut |_| Ok(()));
    // Every revision: the histories gathered while formatting, judged after the stream.
    let every = dump::Select::AllRevisions;
    let _ = dump::dump(view, kb, &KeyRange::prefix(b"/"), every, &|_, _| {}, &mut |_| Ok(()));
}
