//! What a walk of [`keyspace`](super::keyspace) gathers, and within what memory: the [`Plan`]
//! (which keys a pass covers, the revision compaction is judged at, the compactions the file
//! records) and the [`Budget`] (the bytes its accumulators reserve, against a cap shared by all of
//! them; past it, gathering stops and the keys are folded in passes instead).

use super::history::Compacted;
use super::keyspace::ENTRY_COST;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bytes reserved by the gatherings of one walk, against a cap. Shared by every accumulator.
#[derive(Debug)]
pub struct Budget {
    pub(super) cap: u64,
    used: AtomicU64,
    over: AtomicBool,
}

impl Budget {
    /// A budget of `cap` bytes.
    pub fn new(cap: u64) -> Budget {
        Budget { cap, used: AtomicU64::new(0), over: AtomicBool::new(false) }
    }

    /// The cap.
    pub fn cap(&self) -> u64 {
        self.cap
    }

    /// Adds `bytes`; false once the total has passed the cap (for good).
    pub fn charge(&self, bytes: u64) -> bool {
        let used = self.used.fetch_add(bytes, Ordering::Relaxed).saturating_add(bytes);
        if used > self.cap {
            self.over.store(true, Ordering::Relaxed);
        }
        !self.exceeded()
    }

    /// Whether the cap was passed.
    pub fn exceeded(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }
}

/// Which keys a walk gathers: those whose fingerprint is `pass` modulo `passes`; `rev` is the
/// revision compaction is judged at (the current one: every entry is at or below it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// This pass.
    pub pass: u64,
    /// Passes in all (at least 1).
    pub passes: u64,
    /// The compaction revision for [`KeyState::survives`](super::keyspace::KeyState::survives).
    pub rev: u64,
    /// The compactions the file records, for each key's [`History`](super::history::History)
    /// (none: nothing is judged).
    pub compacted: Option<Compacted>,
}

impl Plan {
    /// Every key in one pass.
    pub fn all(rev: u64) -> Plan {
        Plan { pass: 0, passes: 1, rev, compacted: None }
    }

    /// The same plan, judging each key's history against the file's compactions.
    pub fn judging(self, compacted: Compacted) -> Plan {
        Plan { compacted: Some(compacted), ..self }
    }

    /// Whether the pass covers the key with this fingerprint.
    pub fn covers(&self, fp: u128) -> bool {
        self.passes <= 1 || fp % u128::from(self.passes) == u128::from(self.pass)
    }
}

/// How many passes keep `entries` gathered entries within `budget` bytes each.
pub fn passes_for(entries: u64, budget: u64) -> u64 {
    entries.saturating_mul(ENTRY_COST).div_ceil(budget.max(1)).clamp(1, entries.max(1))
}

/// Runs `walk` over passes that together cover every key once, each within `cap` bytes, and
/// hands what each gathered to `keep`; returns how many passes were kept. It starts with as many
/// passes as `entries` records need ([`passes_for`]); a pass whose gathering passes its budget is
/// thrown away and split in two (the keys whose fingerprint is `p` modulo `n` are those with
/// `p` or `p + n` modulo `2n`: keys that fall together), down to passes of one record on
/// average, which are not held to the budget. `walk` gets the pass, the pass count and a fresh
/// budget.
pub fn in_passes<T>(
    entries: u64,
    cap: u64,
    mut walk: impl FnMut(u64, u64, &Budget) -> T,
    mut keep: impl FnMut(T),
) -> u64 {
    let n = entries.max(1);
    let first = passes_for(n, cap);
    let mut kept = 0;
    for start in 0..first {
        // Depth first: at most one pending half per doubling.
        let mut todo = vec![(start, first)];
        while let Some((pass, passes)) = todo.pop() {
            let budget = Budget::new(if passes >= n { u64::MAX } else { cap });
            let got = walk(pass, passes, &budget);
            if budget.exceeded() {
                drop(got);
                let twice = passes.saturating_mul(2);
                todo.push((pass.saturating_add(passes), twice));
                todo.push((pass, twice));
            } else {
                keep(got);
                kept += 1;
            }
        }
    }
    kept
}
