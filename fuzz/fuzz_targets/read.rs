//! Any bytes: open (both meta pages), walk, status (3.5 and 3.6 semantics), inspect and check,
//! the sequential cursor, and compact's writer (into memory, with and without an MVCC
//! compaction; a copy it finishes is read back). Nothing may panic, hang or allocate without
//! bound.
#![no_main]

use boltscope::check::{self, Gates};
use boltscope::status::{self, EtcdVersion};
use boltscope::{compact, cursor, inspect, DbView};
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
    for revision in [None, Some(u64::from(data.len() as u32 % 64))] {
        let opt = compact::Options { fill: 1.0, revision };
        let mut out = Vec::new();
        if let Ok(l) = compact::write(&view, &opt, &mut out, Box::new(|_, _| {})) {
            if let Some(m) = out.get_mut(..2 * view.page_size) {
                m.copy_from_slice(&compact::meta_pages(&view, &l));
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
