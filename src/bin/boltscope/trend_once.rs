//! Which backups `trend` counts once: a file linked under two names, a gone name whose file is read
//! now under another (renamed), and a copy of a backup beside it (a `.gz` of it).

use crate::trend::{Measured, Skipped};
use boltscope::analysis::backup_files;
use boltscope::analysis::backup_name;
use boltscope::analysis::trend::Point;
use boltscope::index;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `files` with a file listed twice (a path named twice, a link to one listed) kept once, and one
/// linked under two names (hard links: one inode) counted once, as the first name, the other
/// listed in `skipped` as a duplicate (review 48c F7: `trend DIR` counted it twice).
pub fn linked_once(files: Vec<PathBuf>, skipped: &mut Vec<Skipped>) -> Vec<PathBuf> {
    let (kept, linked) = backup_files::distinct_files(files);
    for (p, first) in linked {
        let shown = |p: &Path| index::path::display(&index::path::key(p));
        let message = format!("the same file as {} (a hard link to it): counted once, as it", shown(&first));
        skipped.push(Skipped { path: shown(&p), kind: "duplicate".into(), message, problems: None });
    }
    kept
}

/// The points of files that are gone, but for those read again under another name in the same
/// folder (renamed, or linked: the same file, by its identity,
/// [`boltscope::index::HistoryRow::file_identity`]), which are listed as skipped: the file read now
/// stands for them, whatever its name says. One moved to another folder (an archive) keeps its
/// point in the series it was part of (review 48c).
pub fn renamed(
    gone: Vec<(Point, Option<String>)>,
    measured: &[(&PathBuf, Measured)],
    skipped: &mut Vec<Skipped>,
) -> Vec<Point> {
    let now: BTreeMap<&str, &PathBuf> = measured.iter().filter_map(|(p, (_, id))| Some((id.as_deref()?, *p))).collect();
    let mut points = Vec::with_capacity(gone.len());
    for (p, id) in gone {
        let folder = |p: &Path| std::path::absolute(p).ok().and_then(|a| a.parent().map(Path::to_path_buf));
        let here = id.as_deref().and_then(|id| now.get(id)).filter(|at| folder(at) == folder(Path::new(&p.path)));
        match here {
            Some(at) => {
                let shown = index::path::display(&index::path::key(at));
                let message = format!("gone; the same file is read as {shown} now (renamed): counted once, as it");
                skipped.push(Skipped { path: p.path, kind: "renamed".into(), message, problems: None });
            }
            None => points.push(p),
        }
    }
    points
}

/// Keeps one point of a backup found twice in a series: the same folder, series and time, with
/// the same etcd revision and sizes (a snapshot and its `.gz` or `.zst` copy beside it, which join
/// its series: review 46c). A file still present is kept over a gone one. The others are listed
/// as skipped. Backups taken at other times are all kept, identical or not (an idle cluster's).
pub fn once(points: &mut Vec<Point>, skipped: &mut Vec<Skipped>) {
    type Same = (Option<std::path::PathBuf>, String, i64, Option<u64>, u64, Option<u64>);
    let same = |p: &Point| -> Option<Same> {
        let path = Path::new(&p.path);
        let name = path.file_name()?.to_string_lossy().into_owned();
        let series = backup_name::parse(&name).map_or(name, |s| s.series);
        let m = &p.measure;
        m.revision
            .is_some()
            .then(|| (path.parent().map(Path::to_path_buf), series, p.time, m.revision, m.size, m.in_use))
    };
    // Present files first, then by path: the one kept.
    points.sort_by(|a, b| (a.gone, &a.path).cmp(&(b.gone, &b.path)));
    let mut kept: BTreeMap<Same, String> = BTreeMap::new();
    points.retain(|p| {
        let Some(k) = same(p) else { return true };
        match kept.get(&k) {
            Some(first) => {
                let message =
                    format!("the same backup as {first} (same series, time, revision and sizes): counted once, as it");
                skipped.push(Skipped { path: p.path.clone(), kind: "duplicate".into(), message, problems: None });
                false
            }
            None => {
                kept.insert(k, p.path.clone());
                true
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_listed_once_whatever_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let [a, b, hard, soft] = ["a.db", "b.db", "hard.db", "soft.db"].map(|n| tmp.path().join(n));
        std::fs::write(&a, b"one").unwrap();
        std::fs::write(&b, b"one").unwrap();
        std::fs::hard_link(&a, &hard).unwrap();
        std::os::unix::fs::symlink(&a, &soft).unwrap();
        let gone = tmp.path().join("gone.db");
        // A hard link in another folder (a backup tree copied with `cp -al`) is that folder's.
        std::fs::create_dir(tmp.path().join("copy")).unwrap();
        let other = tmp.path().join("copy/a.db");
        std::fs::hard_link(&a, &other).unwrap();
        let listed = vec![soft, a.clone(), b.clone(), hard.clone(), a.clone(), gone.clone(), other.clone()];
        let mut skipped = Vec::new();
        // Same bytes in another file (b) is another backup; a link (soft, listed first: its name
        // is not the file's, review 49c) or the same path is the file listed, silently; a hard
        // link in the same folder is told; a file that cannot be read is kept.
        assert_eq!(linked_once(listed, &mut skipped), [a.clone(), b, gone, other]);
        assert_eq!(skipped.len(), 1);
        assert_eq!((skipped[0].path.as_str(), skipped[0].kind.as_str()), (hard.to_str().unwrap(), "duplicate"));
        assert!(skipped[0].message.contains(a.to_str().unwrap()), "{}", skipped[0].message);
    }
}
