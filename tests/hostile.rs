//! Thousands of randomly damaged copies of real files: byte flips, header scribbles, page
//! shuffles and truncations. Whatever the bytes, reading must end (a watchdog fails the test
//! after two minutes) without a panic; problems or a clean error are both fine. `status` and `du`
//! read every copy (`du` within a tiny memory budget for half of them, so its further passes run
//! too) and its free pages are carved, `inspect` a fifth with a tiny budget (its bounded replay),
//! `compact` writes a third, `salvage` a fifth (whose copies must be clean).

mod common;
use boltscope::analysis::{du, inspect};
use boltscope::compact;
use boltscope::compact::salvage;
use boltscope::etcd::carve;
use boltscope::etcd::status::{self, EtcdVersion};
use boltscope::write::copier;
use boltscope::DbView;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// xorshift64*: a deterministic generator, so a failure names a reproducible seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(base: &[u8], ps: usize, r: &mut Rng) -> Vec<u8> {
    let mut d = base.to_vec();
    for _ in 0..1 + r.below(4) {
        let pages = d.len() / ps;
        if pages < 2 {
            break;
        }
        match r.below(5) {
            0 => {
                for _ in 0..1 + r.below(16) {
                    let i = r.below(d.len());
                    d[i] ^= 1 << r.below(8);
                }
            }
            // Scribble on a page header or an element header: ids, counts, overflow, pos.
            1 => {
                let at = r.below(pages) * ps + r.below(16 + 16 * 8);
                let v = r.next().to_le_bytes();
                let n = 1 + r.below(8);
                let end = (at + n).min(d.len());
                d[at..end].copy_from_slice(&v[..end - at]);
            }
            // Copy one page over another (a misdirected write).
            2 if pages > 3 => {
                let (a, b) = (r.below(pages), 2 + r.below(pages - 2));
                d.copy_within(a * ps..(a + 1) * ps, b * ps);
            }
            3 => d.truncate(r.below(d.len() + 1)),
            // Point a branch or bucket at a random nearby page.
            _ => {
                let at = r.below(pages) * ps + 16 + 8 + 16 * r.below(8);
                if at + 8 <= d.len() {
                    d[at..at + 8].copy_from_slice(&(r.below(pages + 4) as u64).to_le_bytes());
                }
            }
        }
    }
    d
}

/// Set by any panic, also one on a helper thread whose join turns it into an error.
static PANICKED: AtomicBool = AtomicBool::new(false);

#[test]
fn random_damage_never_panics_or_hangs() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICKED.store(true, Ordering::SeqCst);
        hook(info);
    }));
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let files = [("tiny-1.snap.db", 4096), ("k8s-0.005.member.db", 4096), ("auth-1.member.db", 4096)];
        let mut done = 0;
        for (name, ps) in files {
            let base = common::bytes(name);
            for seed in 1..=2000u64 {
                let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let d = mutate(&base, ps, &mut r);
                // Salvage reads every fifth file, also those whose meta pages are both invalid;
                // a copy it writes must be clean.
                if seed % 5 == 1 {
                    if let Ok((copy, report)) = salvage::salvage_bytes(&d, 1.0) {
                        let v = DbView::new(&copy).expect("a salvaged copy opens");
                        let st = status::status(&v, EtcdVersion::V35).expect("a salvaged copy reads");
                        // (A copy its report does not call lossless may miss revisions, and says so.)
                        let s = &st.structure;
                        let told = |p: &boltscope::Problem| {
                            p.kind == boltscope::ProblemKind::RevisionsMissing && !report.lossless
                        };
                        let clean = s.problems.len() as u64 == s.problem_total && s.problems.iter().all(told);
                        assert!(clean, "seed {seed}: {:?}", s.problems);
                    }
                }
                if let Ok(v) = DbView::new(&d) {
                    let _ = status::status(&v, EtcdVersion::Auto);
                    let _ = carve::free_records(&v);
                    let by = [None, Some(du::By::Namespace), Some(du::By::Prefix(2))][(seed % 3) as usize];
                    let budget = if seed % 2 == 0 { 1 } else { du::Options::default().budget };
                    let _ = du::du(&v, &du::Options { by, budget, top: 3, ..du::Options::default() });
                    if seed % 5 == 0 {
                        let _ = inspect::inspect_within(&v, &inspect::Options::default(), &(), 2048);
                    }
                    // The writer reads the damaged tree too (every third file, with and without
                    // an MVCC compaction, in the source's layout or in 1 KiB big-endian pages),
                    // into memory.
                    if seed % 3 == 0 {
                        let revision = (seed % 2 == 0).then_some(seed * 7);
                        let relayout = seed % 9 == 0;
                        let opt = copier::Options {
                            fill: [0.5, 1.0][(seed % 4 / 2) as usize],
                            page_size: relayout.then_some(1024),
                            order: relayout.then_some(boltscope::bbolt::page::ByteOrder::Big),
                        };
                        let _ = compact::copy_to(&v, &opt, revision, Vec::new(), Box::new(|_, _| {}));
                    }
                }
                done += 1;
            }
        }
        tx.send(done).unwrap();
    });
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(n) => assert_eq!(n, 6000),
        Err(_) => panic!("damaged input made the reader hang (or a panic killed the worker)"),
    }
    worker.join().expect("no panic");
    assert!(!PANICKED.load(Ordering::SeqCst), "a thread panicked (see the message above)");
    // Bounded memory: nothing a damaged 400 kB file says makes the reader allocate much.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!(hwm_kb < 256 * 1024, "peak resident memory {hwm_kb} kB");
}
