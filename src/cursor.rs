//! Sequential, in-order reads of single buckets and keys (for lookups such as
//! `meta/storageVersion`, and per-key passes that must see records in order). Every page read is
//! checked; depth is bounded, and a page budget stops any loop a damaged file could make.

use crate::btree::{BUCKET_HEADER_SIZE, MAX_DEPTH};
use crate::error::{Problem, ProblemKind};
use crate::page::{LeafElem, Page, BRANCH, LEAF};
use crate::view::DbView;

/// Where a bucket's tree starts.
#[derive(Clone, Copy, Debug)]
pub enum BucketRoot<'a> {
    /// A tree rooted at a page.
    Page(u64),
    /// An inline bucket: one leaf page inside the parent's value.
    Inline(Page<'a>),
}

/// The root bucket of the view's meta.
pub fn root(view: &DbView<'_>) -> BucketRoot<'static> {
    BucketRoot::Page(view.meta().root)
}

/// Decodes a bucket entry's value into the root of its tree.
pub fn bucket_root<'a>(view: &DbView<'a>, value: &'a [u8]) -> Option<BucketRoot<'a>> {
    let root = view.order.u64(value, 0)?;
    if root != 0 {
        return Some(BucketRoot::Page(root));
    }
    let body = value.get(BUCKET_HEADER_SIZE..)?;
    Page::new(0, 0, body, view.order).filter(|p| p.flags == LEAF).map(BucketRoot::Inline)
}

fn bad(msg: String) -> Problem {
    Problem::new(ProblemKind::InvalidPageType, msg)
}

/// Calls `f` for every element of the bucket, in key order. Stops at the first problem.
pub fn for_each<'a>(view: &DbView<'a>, b: BucketRoot<'a>, f: &mut dyn FnMut(&LeafElem<'a>)) -> Result<(), Problem> {
    for_each_leaf(view, b, &mut |p| {
        for i in 0..usize::from(p.count) {
            f(&p.leaf_elem(i)?);
        }
        Ok(())
    })
}

/// Calls `f` for every leaf page of the bucket (an inline bucket's page included), in key
/// order. Stops at the first problem, including one `f` returns.
pub fn for_each_leaf<'a>(
    view: &DbView<'a>,
    b: BucketRoot<'a>,
    f: &mut dyn FnMut(&Page<'a>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    let mut budget = view.tracked_pages().saturating_add(1);
    match b {
        BucketRoot::Inline(p) => f(&p),
        BucketRoot::Page(id) => visit(view, id, 0, &mut budget, f),
    }
}

fn visit<'a>(
    view: &DbView<'a>,
    id: u64,
    depth: u32,
    budget: &mut u64,
    f: &mut dyn FnMut(&Page<'a>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    if depth > MAX_DEPTH || *budget == 0 {
        return Err(
            Problem::new(ProblemKind::TooDeep, format!("page {id}: tree deeper or larger than the file")).page(id)
        );
    }
    *budget -= 1;
    let p = view.page(id)?;
    match p.flags {
        LEAF => f(&p),
        BRANCH => {
            // The next child's header is fetched into cache while this child is read.
            let n = usize::from(p.count);
            for i in 0..n {
                if let Some(next) = (i + 1 < n).then(|| p.branch_elem(i + 1).ok()).flatten() {
                    view.prefetch_page(next.child);
                }
                visit(view, p.branch_elem(i)?.child, depth + 1, budget, f)?;
            }
            Ok(())
        }
        t => Err(bad(format!("page {id}: invalid type {t:#x}")).page(id)),
    }
}

/// About how many leaf pages the bucket's tree has, for a progress bar: read from branch pages
/// alone, and above the last branch level from at most eight children of a page, evenly spread
/// (a bbolt tree is balanced, with all leaves at one depth), so a few dozen pages are read
/// whatever the size, and never more than a fixed budget on a damaged tree. Never more than the
/// file's pages.
pub fn leaf_pages(view: &DbView<'_>, b: BucketRoot<'_>) -> u64 {
    const SAMPLE: usize = 8;
    fn count(view: &DbView<'_>, id: u64, depth: u32, budget: &mut u32) -> u64 {
        if *budget == 0 || depth > MAX_DEPTH {
            return 0;
        }
        *budget -= 1;
        let Ok(p) = view.page(id) else { return 0 };
        if p.flags != BRANCH {
            return 1;
        }
        let n = usize::from(p.count);
        let child = |i: usize| p.branch_elem(i).ok().map(|c| c.child);
        let first = child(0).and_then(|c| view.page(c).ok());
        if first.is_some_and(|c| c.flags == LEAF) {
            return n as u64;
        }
        let picks: Vec<usize> =
            if n <= SAMPLE { (0..n).collect() } else { (0..SAMPLE).map(|k| k * (n - 1) / (SAMPLE - 1)).collect() };
        let sum: u64 = picks.iter().filter_map(|&i| child(i)).map(|c| count(view, c, depth + 1, budget)).sum();
        sum.saturating_mul(n as u64) / picks.len().max(1) as u64
    }
    match b {
        BucketRoot::Inline(_) => 1,
        BucketRoot::Page(id) => count(view, id, 0, &mut 4096).min(view.tracked_pages()),
    }
}

/// Looks `key` up in the bucket: its element, if present.
pub fn get<'a>(view: &DbView<'a>, b: BucketRoot<'a>, key: &[u8]) -> Result<Option<LeafElem<'a>>, Problem> {
    let mut page = match b {
        BucketRoot::Inline(p) => p,
        BucketRoot::Page(id) => view.page(id)?,
    };
    for _ in 0..=MAX_DEPTH {
        let n = usize::from(page.count);
        match page.flags {
            LEAF => {
                for i in 0..n {
                    let e = page.leaf_elem(i)?;
                    if e.key == key {
                        return Ok(Some(e));
                    }
                }
                return Ok(None);
            }
            BRANCH => {
                // Greatest element key <= key, clamped to the first element.
                let mut child = page.branch_elem(0)?.child;
                for i in 1..n {
                    let e = page.branch_elem(i)?;
                    if e.key > key {
                        break;
                    }
                    child = e.child;
                }
                page = view.page(child)?;
            }
            t => return Err(bad(format!("page {}: invalid type {t:#x}", page.id)).page(page.id)),
        }
    }
    Err(Problem::new(ProblemKind::TooDeep, "lookup deeper than any real tree".into()))
}

/// Looks up a top-level bucket by name.
pub fn top_bucket<'a>(view: &DbView<'a>, name: &[u8]) -> Result<Option<BucketRoot<'a>>, Problem> {
    Ok(get(view, root(view), name)?.filter(LeafElem::is_bucket).and_then(|e| bucket_root(view, e.value)))
}

/// The last element of a bucket (its greatest key), following the rightmost path.
pub fn last<'a>(view: &DbView<'a>, b: BucketRoot<'a>) -> Result<Option<LeafElem<'a>>, Problem> {
    let mut page = match b {
        BucketRoot::Inline(p) => p,
        BucketRoot::Page(id) => view.page(id)?,
    };
    for _ in 0..=MAX_DEPTH {
        let n = usize::from(page.count);
        if n == 0 {
            return Ok(None);
        }
        match page.flags {
            LEAF => return page.leaf_elem(n - 1).map(Some),
            BRANCH => page = view.page(page.branch_elem(n - 1)?.child)?,
            t => return Err(bad(format!("page {}: invalid type {t:#x}", page.id)).page(page.id)),
        }
    }
    Err(Problem::new(ProblemKind::TooDeep, "lookup deeper than any real tree".into()))
}
