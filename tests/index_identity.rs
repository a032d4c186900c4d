//! A file's identity in the index is that of the file its bytes were read from: a file put at the
//! same path while it was read (a backup rotated by `mv`, an archive replaced during its
//! expansion) must not lend its identity to the bytes read before, or the answer about those
//! bytes would be stored under it and given for the new file.

mod common;

use boltscope::index::identity;
use boltscope::input;

/// Opens `p`, then replaces what is at `p` by `replacement` (renamed over it: another inode):
/// the bytes read keep the identity of the file they came from (its inode, modification time;
/// its change time moves as it is unlinked), never that of the file now at `p`.
fn replaced_while_read(p: &std::path::Path, replacement: &[u8]) {
    let file = input::open(p).unwrap();
    let before = identity(p, file.bytes()).unwrap();
    let next = p.with_extension("next");
    std::fs::write(&next, replacement).unwrap();
    std::fs::rename(&next, p).unwrap();
    let after = identity(p, file.bytes()).unwrap();
    assert_eq!(after.1, before.1, "the bytes read are still {}'s as opened", p.display());
    let again = input::open(p).unwrap();
    let now = identity(p, again.bytes()).unwrap();
    assert_ne!(now.0, after.0, "the file now at {} lent its identity to the bytes read before", p.display());
    assert_ne!(now.1, after.1, "the file now at {} lent its mark to the bytes read before", p.display());
}

#[test]
fn a_plain_file_replaced_while_read_keeps_the_identity_of_the_file_read() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.snap.db");
    let bytes = common::bytes("tiny-1.snap.db");
    std::fs::write(&p, &bytes).unwrap();
    // The same bytes: only the file system tells the two files apart.
    replaced_while_read(&p, &bytes);
}

#[test]
fn an_archive_replaced_while_expanded_keeps_the_identity_of_the_archive_read() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.snap.db.gz");
    let gz = std::fs::read(common::dir().join("archives/tiny-1.snap.db.gz")).unwrap();
    std::fs::write(&p, &gz).unwrap();
    replaced_while_read(&p, &gz);
}

#[test]
fn an_index_replaced_under_a_run_is_not_written_where_no_run_reads() {
    // Another run moved the index aside (it found it damaged) and started a new one: this run's
    // writes went on into the file moved aside, or into a new file it made itself, unstamped,
    // whose rows the next run's schema check deleted; no warning said so (review 38b).
    use boltscope::index::{Finding, Index};
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("ix.redb");
    let ix = Index::open(&p).unwrap();
    ix.put(Finding::Nothing, Some(b"k1"), b"v1", None).unwrap();
    std::fs::rename(&p, tmp.path().join("ix.redb.damaged-1")).unwrap();
    let other = Index::open(&p).unwrap();
    let err = ix.put(Finding::Nothing, Some(b"k2"), b"v2", None).unwrap_err();
    assert!(err.contains("replaced"), "{err}");
    assert!(ix.damaged(), "the caller is told to open the new one");
    drop(ix);
    other.put(Finding::Nothing, Some(b"k3"), b"v3", None).unwrap();
    assert_eq!(other.get(b"k3").unwrap().as_deref(), Some(&b"v3"[..]));
}
