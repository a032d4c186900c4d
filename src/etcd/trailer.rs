//! The etcd snapshot trailer: `etcdctl snapshot save` appends the raw SHA-256 of everything
//! before it, and etcd detects it by `size % 512 == 32`.

use crate::bbolt::view::DbView;
pub use crate::bbolt::view::TRAILER_LEN;
use crate::problem::{Problem, ProblemKind};
use sha2::{Digest, Sha256};

/// Whether a file of this length carries a trailer.
pub fn present(len: usize) -> bool {
    len % 512 == TRAILER_LEN
}

/// The result of verifying a trailer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrailerCheck {
    /// The 32 bytes stored at the end, as hex.
    pub stored: String,
    /// SHA-256 of the bytes before them, as hex.
    pub computed: String,
}

impl TrailerCheck {
    /// Whether the stored hash matches.
    pub fn ok(&self) -> bool {
        self.stored == self.computed
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Computes and compares the trailer; `None` when the file has none.
pub fn verify(data: &[u8]) -> Option<TrailerCheck> {
    if !present(data.len()) {
        return None;
    }
    let (body, stored) = data.split_at(data.len() - TRAILER_LEN);
    let mut h = Sha256::new();
    // Large chunks keep the hasher on its fast path.
    for c in body.chunks(1 << 20) {
        h.update(c);
    }
    Some(TrailerCheck { stored: hex(stored), computed: hex(&h.finalize()) })
}

/// The problem of a trailer that does not match the file.
pub fn mismatch(view: &DbView<'_>, t: &TrailerCheck) -> Option<Problem> {
    let msg = format!(
        "sha256 trailer is {}, the file hashes to {}: the snapshot is corrupt or was cut short; \
         `etcdutl snapshot restore` refuses it (expected sha256 ..., got ...)",
        t.stored, t.computed
    );
    (!t.ok()).then(|| Problem::new(ProblemKind::TrailerMismatch, msg).offset(view.body_len() as u64))
}

/// Bytes past the high-water mark that are neither whole pages nor a 32-byte sha256 trailer: a
/// snapshot whose trailer was cut, or with bytes appended (`etcdutl snapshot restore` takes a file
/// without a trailer only with `--skip-hash-check`, and then ignores those bytes). Whole pages
/// that are not all zeros (the grow-ahead slack of a member file is) are the warning
/// [`ProblemKind::UncommittedPages`]: a transaction's writes before its commit.
pub fn tail_problem(view: &DbView<'_>) -> Option<Problem> {
    tail_problem_of(view, true)
}

/// [`tail_problem`] by the tail's length alone: whole pages pass unread. For a reader that reads a
/// few pages of a large file (`get` from the index): a member file's slack can be a gigabyte of
/// zeros, which [`tail_problem`] reads whole.
pub fn tail_shape_problem(view: &DbView<'_>) -> Option<Problem> {
    tail_problem_of(view, false)
}

/// The pages of `tail` (whole pages of `ps` bytes) that are not all zeros: how many, and the
/// index of the first. Only what the file system does not report as a hole is read.
fn data_pages(tail: &[u8], ps: usize) -> (u64, Option<usize>) {
    let spans = match crate::sys::data_spans(tail) {
        Some(spans) if spans.iter().all(|r| r.start <= r.end && r.end <= tail.len()) => spans,
        _ => std::iter::once(0..tail.len()).collect(),
    };
    let (mut n, mut first, mut next) = (0u64, None, 0usize);
    for r in spans.into_iter().filter(|r| r.start < r.end) {
        // Each page a span touches, once (spans come in order; a page two spans share is read
        // at the first).
        for i in (r.start / ps).max(next)..=(r.end - 1) / ps {
            let page = tail.get(i * ps..(i + 1) * ps).unwrap_or_default();
            if page.iter().any(|&x| x != 0) {
                n += 1;
                first.get_or_insert(i);
            }
            next = i + 1;
        }
    }
    (n, first)
}

fn tail_problem_of(view: &DbView<'_>, read_zeros: bool) -> Option<Problem> {
    let start = usize::try_from(view.total_size()).ok()?;
    let tail = view.data.get(start..view.body_len())?;
    let whole_pages = tail.len() as u64 % view.page_size == 0;
    if tail.is_empty() || (whole_pages && !read_zeros) {
        return None;
    }
    let n = tail.len();
    if whole_pages {
        // No snapshot has pages past its high-water mark; a member's file has them while a
        // transaction commits, and keeps them when etcd stops before the meta page is written.
        // Only the pages holding data are counted: the others are the grow-ahead slack.
        let ps = usize::try_from(view.page_size).ok()?;
        let (held, first) = data_pages(tail, ps);
        let first = first?;
        let msg = format!(
            "{held} page(s) past the high-water mark hold data: what a transaction wrote before it committed \
             (a member's file read while etcd writes it, or left by one stopped mid-commit); bbolt and etcd \
             never read them"
        );
        // The first of those pages, where they start.
        let at = (start + first * ps) as u64;
        return Some(Problem::new(ProblemKind::UncommittedPages, msg).page(at / view.page_size).offset(at));
    }
    let msg = format!(
        "{n} byte(s) past the high-water mark are neither whole zero pages (a member file's slack) nor a \
         32-byte sha256 trailer: a snapshot whose trailer was cut, or with bytes appended. \
         `etcdutl snapshot restore` refuses it (snapshot missing hash) unless --skip-hash-check, \
         which restores the database pages and ignores these bytes"
    );
    // Named by the page they would begin, as every problem with a place is.
    Some(Problem::new(ProblemKind::TrailingBytes, msg).page(start as u64 / view.page_size.max(1)).offset(start as u64))
}
