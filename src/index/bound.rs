//! The index's bounds, so that a `scan` from cron over rotating backups (every night's files new
//! to the index) does not grow it without end: stored results (a cache: each can be computed
//! again from its file) past [`MAX_RESULT_BYTES`] all together, and `history` and `du` rows past
//! [`MAX_ROWS`] a table, go oldest first. A failure mark ([`super::Index::failure`]) never goes:
//! it is what keeps a file `check` failed from being answered for as sound; nor a history row
//! that found problems (`trend` withholds a failed backup's figures by it, after the file is gone),
//! while the other rows can hold the table to its bound. Key indexes have a
//! bound of their own ([`super::keys::MAX_TOTAL_BYTES`]).
//!
//! Each result's time of storing and size are kept beside it (`result_ages`), and their total in
//! `meta` (`result_bytes`): the check after every write costs one lookup. An index written before
//! this bound has its results counted once, as stored at time 0 (the first to go).

use super::{e, sealed::Rows, META, RESULTS};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

/// The most bytes of stored results (sealed, keys not counted) an index keeps.
pub const MAX_RESULT_BYTES: u64 = 256 << 20;

/// The most rows an index keeps in each of its row tables (`history`, `du`): some hundred bytes
/// each, so about 100 MB a table; at 1,000 files a day, the last six months.
pub const MAX_ROWS: u64 = 200_000;

/// Which rows of a table are never evicted: given a row's path and its sealed bytes.
pub(super) type Keep<'k> = &'k dyn Fn(&str, &[u8]) -> bool;

/// Result key → (nanoseconds since the Unix epoch when stored, sealed bytes).
const AGES: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("result_ages");

/// The total of [`AGES`]' sizes, in `meta`.
const TOTAL: &str = "result_bytes";

/// Whether a result key is a failure mark (an identity's 32 bytes, then `\0failed`): never
/// counted, never evicted.
fn is_mark(key: &[u8]) -> bool {
    key.len() == 39 && key.ends_with(b"\0failed")
}

fn now() -> u64 {
    let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// The results' total, counting once (as stored at time 0) the results of an index written
/// before the bound.
fn total(tx: &WriteTransaction) -> Result<u64, String> {
    if let Some(t) = tx.open_table(META).map_err(e)?.get(TOTAL).map_err(e)? {
        return Ok(t.value());
    }
    let mut sum = 0u64;
    {
        let results = tx.open_table(RESULTS).map_err(e)?;
        let mut ages = tx.open_table(AGES).map_err(e)?;
        for r in results.iter().map_err(e)? {
            let (k, v) = r.map_err(e)?;
            if !is_mark(k.value()) {
                let len = v.value().len() as u64;
                sum = sum.saturating_add(len);
                ages.insert(k.value(), (0, len)).map_err(e)?;
            }
        }
    }
    tx.open_table(META).map_err(e)?.insert(TOTAL, sum).map_err(e)?;
    Ok(sum)
}

/// Counts the results once if the index was written before the bound: first in a transaction
/// that stores or removes results (it reads the results table, which must not be open then).
pub(super) fn prepare(tx: &WriteTransaction) -> Result<(), String> {
    total(tx).map(drop)
}

fn set_total(tx: &WriteTransaction, t: u64) -> Result<(), String> {
    tx.open_table(META).map_err(e)?.insert(TOTAL, t).map_err(e)?;
    Ok(())
}

/// Notes that `key`'s result of `len` sealed bytes was stored now (replacing any), in the
/// transaction that stored it.
pub(super) fn stored(tx: &WriteTransaction, key: &[u8], len: usize) -> Result<(), String> {
    if is_mark(key) {
        return Ok(());
    }
    let t = total(tx)?;
    let len = len as u64;
    let old = tx.open_table(AGES).map_err(e)?.insert(key, (now(), len)).map_err(e)?.map_or(0, |g| g.value().1);
    set_total(tx, t.saturating_sub(old).saturating_add(len))
}

/// Notes that the results whose keys start with `prefix` were removed.
pub(super) fn removed_prefix(tx: &WriteTransaction, prefix: &[u8]) -> Result<(), String> {
    let t = total(tx)?;
    let end = crate::etcd::range::prefix_end(prefix);
    let mut gone = 0u64;
    tx.open_table(AGES)
        .map_err(e)?
        .retain_in::<&[u8], _>(prefix..end.as_slice(), |_, (_, len)| {
            gone = gone.saturating_add(len);
            false
        })
        .map_err(e)?;
    set_total(tx, t.saturating_sub(gone))
}

/// Forgets the sizes kept, where the results are dropped (an index of an older schema).
pub(super) fn drop_all(tx: &WriteTransaction) {
    let _ = tx.delete_table(AGES);
    if let Ok(mut m) = tx.open_table(META) {
        let _ = m.remove(TOTAL);
    }
}

/// Drops the oldest results while all of them hold more than `max` bytes, down to three
/// quarters of it (so the next writes do not each evict again), and the oldest rows of `tables`
/// past `max_rows` each, down to nine tenths, but those their [`Keep`] keeps. In the transaction of a write, after it.
pub(super) fn enforce(tx: &WriteTransaction, max: u64, tables: &[(Rows, Keep)], max_rows: u64) -> Result<(), String> {
    let t = total(tx)?;
    if t > max {
        let mut by_age: Vec<(u64, Vec<u8>, u64)> = Vec::new();
        for r in tx.open_table(AGES).map_err(e)?.iter().map_err(e)? {
            let (k, v) = r.map_err(e)?;
            let (at, len) = v.value();
            by_age.push((at, k.value().to_vec(), len));
        }
        by_age.sort_unstable();
        let mut left = t;
        let mut results = tx.open_table(RESULTS).map_err(e)?;
        let mut ages = tx.open_table(AGES).map_err(e)?;
        for (_, k, len) in by_age {
            if left <= max / 4 * 3 {
                break;
            }
            results.remove(k.as_slice()).map_err(e)?;
            ages.remove(k.as_slice()).map_err(e)?;
            left = left.saturating_sub(len);
        }
        drop((results, ages));
        set_total(tx, left)?;
    }
    for &(table, keep) in tables {
        let mut rows = tx.open_table(table).map_err(e)?;
        // The rows `keep` keeps stay while the others can hold the table to its bound; past that
        // (rows that found problems by the hundred thousand), they go too, oldest first.
        for keep in [Some(keep), None] {
            let n = rows.len().map_err(e)?;
            if n <= max_rows {
                break;
            }
            evict_oldest(&mut rows, n - max_rows / 10 * 9, keep)?;
        }
    }
    Ok(())
}

/// Removes the `drop_n` oldest rows of a row table (fewer when `keep` keeps some of them). Rows
/// are keyed by path, then time: the oldest across paths are found by time.
fn evict_oldest(rows: &mut redb::Table<(&str, u64), &[u8]>, drop_n: u64, keep: Option<Keep>) -> Result<(), String> {
    let mut times: Vec<u64> = Vec::new();
    for r in rows.iter().map_err(e)? {
        times.push(r.map_err(e)?.0.value().1);
    }
    let drop_n = usize::try_from(drop_n).unwrap_or(usize::MAX).min(times.len());
    if drop_n == 0 {
        return Ok(());
    }
    let cut = *times.select_nth_unstable(drop_n - 1).1;
    let mut left = drop_n;
    rows.retain(|(path, at), v| {
        let stays = left == 0 || at > cut || keep.is_some_and(|k| k(path, v));
        if !stays {
            left -= 1;
        }
        stays
    })
    .map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{row::failure_key, Finding, HistoryRow, Identity, Index};

    fn row(path: &str, at: u64) -> HistoryRow {
        HistoryRow {
            path: path.into(),
            analysed_at: at,
            command: "status".into(),
            file_size: 1,
            total_size: Some(1),
            revision: None,
            hash: None,
            in_use: None,
            fragmentation: None,
            verdict: "ok".into(),
            file_identity: None,
        }
    }

    #[test]
    fn the_oldest_results_go_past_the_bound_and_failure_marks_stay() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap().with_bounds(10_000, 1_000);
        let mark = failure_key(&Identity([7; 32], [9; 32]));
        ix.put(Finding::Nothing, Some(&mark), b"{}", None).unwrap();
        // Stored newest first by key, so that age, not key order, decides.
        for i in (0..40u32).rev() {
            ix.put(Finding::Nothing, Some(format!("r{i:02}").as_bytes()), &[b'x'; 1000], None).unwrap();
        }
        let kept: Vec<u32> = (0..40).filter(|i| ix.get(format!("r{i:02}").as_bytes()).unwrap().is_some()).collect();
        assert!(kept.len() >= 7 && kept.len() <= 10, "{kept:?}");
        assert_eq!(kept, (0..kept.len() as u32).collect::<Vec<_>>(), "the newest stay");
        assert!(ix.get(&mark).unwrap().is_some(), "a failure mark never goes");
        // Replacing a result counts it once.
        for _ in 0..20 {
            ix.put(Finding::Nothing, Some(b"r00"), &[b'y'; 1000], None).unwrap();
        }
        assert!(ix.get(b"r01").unwrap().is_some(), "a result stored again is not counted twice");
    }

    #[test]
    fn results_removed_with_a_failure_are_no_longer_counted() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap().with_bounds(20_000, 1_000);
        // 19 results of 1,004 sealed bytes: within the bound; one more is not, unless the 9
        // removed with the failure are no longer counted.
        let id = Identity([3; 32], [4; 32]);
        for i in 0..10u32 {
            ix.put(Finding::Nothing, Some(format!("r{i}").as_bytes()), &[b'x'; 1000], None).unwrap();
        }
        for i in 0..9u8 {
            let mut k = id.0.to_vec();
            k.push(i);
            ix.put(Finding::Nothing, Some(&k), &[b'x'; 1000], None).unwrap();
        }
        ix.put(Finding::Problems(&id), None, b"", None).unwrap();
        ix.put(Finding::Nothing, Some(b"z"), &[b'x'; 1000], None).unwrap();
        assert!((0..10u32).all(|i| ix.get(format!("r{i}").as_bytes()).unwrap().is_some()), "nothing evicted");
    }

    #[test]
    fn results_stored_before_the_bound_are_counted_once_and_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ix.redb");
        let ix = Index::open(&p).unwrap();
        for i in 0..20u32 {
            ix.put(Finding::Nothing, Some(format!("old{i:02}").as_bytes()), &[b'x'; 1000], None).unwrap();
        }
        drop(ix);
        // As an index written before the bound: no sizes kept, no total.
        let mut b = redb::Database::builder();
        b.set_concurrency_mode(redb::ConcurrencyMode::MultiWriter);
        let db = b.create(&p).unwrap();
        let tx = db.begin_write().unwrap();
        super::drop_all(&tx);
        tx.commit().unwrap();
        drop(db);
        let ix = Index::open(&p).unwrap().with_bounds(10_000, 1_000);
        ix.put(Finding::Nothing, Some(b"new"), &[b'x'; 1000], None).unwrap();
        let old = (0..20u32).filter(|i| ix.get(format!("old{i:02}").as_bytes()).unwrap().is_some()).count();
        assert!((5..=7).contains(&old), "{old} of the older results kept");
        assert!(ix.get(b"new").unwrap().is_some(), "the newest stays");
    }

    #[test]
    fn rows_that_found_problems_go_too_when_nothing_else_can() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap().with_bounds(1 << 30, 50);
        for i in 0..80u64 {
            let failed = HistoryRow { verdict: "1 problem(s)".into(), ..row(&format!("/b/{i:03}"), i) };
            ix.put(Finding::Nothing, None, b"", Some(&failed)).unwrap();
        }
        let rows = ix.history(&[]).unwrap();
        assert!(rows.len() <= 50, "{}", rows.len());
        assert!(rows.iter().any(|r| r.analysed_at == 79), "the newest stays");
    }

    #[test]
    fn the_oldest_rows_go_past_the_bound_whatever_their_path() {
        let dir = tempfile::tempdir().unwrap();
        let ix = Index::open(&dir.path().join("ix.redb")).unwrap().with_bounds(1 << 30, 100);
        // The first row found problems: it stays, however old.
        let failed = HistoryRow { verdict: "2 problem(s)".into(), ..row("/b/failed", 0) };
        ix.put(Finding::Nothing, None, b"", Some(&failed)).unwrap();
        // Paths in reverse order of time: the oldest rows are the last paths.
        for i in 0..150u64 {
            ix.put(Finding::Nothing, None, b"", Some(&row(&format!("/b/{:03}", 999 - i), i))).unwrap();
        }
        let mut rows = ix.history(&[]).unwrap();
        assert!(rows.iter().any(|r| r.path == "/b/failed"), "a row that found problems never goes");
        rows.retain(|r| r.path != "/b/failed");
        assert!(rows.len() <= 100 && rows.len() >= 89, "{}", rows.len());
        let oldest = rows.iter().map(|r| r.analysed_at).min().unwrap();
        assert!(rows.iter().any(|r| r.analysed_at == 149), "the newest row stays");
        assert_eq!(oldest as usize, 150 - rows.len(), "the oldest went first");
    }
}
