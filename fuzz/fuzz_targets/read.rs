//! Any bytes: open (both meta pages), walk, status (3.5 and 3.6 semantics), inspect and check,
//! the sequential cursor, and compact's writer (into memory, with and without an MVCC
//! compaction, in the source's layout and in another page size and byte order; a copy it
//! finishes is read back). Nothing may panic, hang or allocate without bound.
#![no_main]

use boltscope::analysis::check::{self, Gates};
use boltscope::bbolt::page::ByteOrder;
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::analysis::inspect;
use boltscope::bbolt::cursor;
use boltscope::{compact, write::copier, DbView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(view) = DbView::new(data) else { return };
    let _ = status::status(&view, EtcdVersion::V35);
    let _ = status::status(&view, EtcdVersion::V36);
    let gates = Gates { expect_hash: Some(0), require_trailer: true, ..Gates::default() };
    let opt = inspect::Options { depth: 8, ..inspect::Options::default() };
    let r = check::check(&view, &opt, &gates);
    let _ = serde_json::to_string(&r);
    let _ = cursor::for_each(&view, cursor::root(&view), &mut |_| {});
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
