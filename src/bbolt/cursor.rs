//! Sequential, in-order reads of single buckets and keys (for lookups such as
//! `meta/storageVersion`, and per-key passes that must see records in order). Every page read is
//! checked; depth is bounded, and a page budget stops any loop a damaged file could make.

pub use super::bucket::BucketRoot;
use super::bucket::{self};
use super::order::PageId;
use super::page::{type_name, LeafElem, Page, BRANCH, LEAF};
use super::view::DbView;
use super::walker::{hex, MAX_DEPTH};
use crate::problem::{Problem, ProblemKind};

/// The root bucket of the view's meta.
pub fn root(view: &DbView<'_>) -> BucketRoot<'static> {
    BucketRoot::Page(view.meta().root)
}

/// The root of the bucket whose entry has `value` (None when the value is not a well-formed
/// bucket value; see [`bucket::decode_value`]).
pub fn bucket_root<'a>(view: &DbView<'a>, value: &'a [u8]) -> Option<BucketRoot<'a>> {
    bucket::decode_value(view.order, value, PageId(0), 0).ok().map(|b| b.root)
}

/// A page reached inside a tree that is neither a branch nor a leaf.
fn bad_type(p: &Page<'_>) -> Problem {
    let msg = format!("page {}: invalid type: {} (expected branch or leaf)", p.id, type_name(p.flags));
    Problem::new(ProblemKind::InvalidPageType, msg).page(p.id).offset(p.offset + 8)
}

fn too_deep(id: PageId) -> Problem {
    Problem::new(ProblemKind::TooDeep, format!("page {id}: tree deeper or larger than the file")).page(id)
}

/// A branch page without elements, which would end a descent with nothing.
fn empty_branch(p: &Page<'_>) -> Problem {
    let msg = format!("branch page {} has no elements", p.id);
    Problem::new(ProblemKind::EmptyBranch, msg).page(p.id).offset(p.offset)
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
    id: PageId,
    depth: u32,
    budget: &mut u64,
    f: &mut dyn FnMut(&Page<'a>) -> Result<(), Problem>,
) -> Result<(), Problem> {
    if depth > MAX_DEPTH || *budget == 0 {
        return Err(too_deep(id));
    }
    *budget -= 1;
    let p = view.page(id)?;
    match p.flags {
        LEAF => p.emptied().map_or_else(|| f(&p), Err),
        BRANCH if p.count == 0 => Err(empty_branch(&p)),
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
        _ => Err(bad_type(&p)),
    }
}

/// About how many leaf pages the bucket's tree has, for a progress bar: read from branch pages
/// alone, and above the last branch level from at most eight children of a page, evenly spread
/// (a bbolt tree is balanced, with all leaves at one depth), so a few dozen pages are read
/// whatever the size, and never more than a fixed budget on a damaged tree. Never more than the
/// file's pages.
pub fn leaf_pages(view: &DbView<'_>, b: BucketRoot<'_>) -> u64 {
    const SAMPLE: usize = 8;
    fn count(view: &DbView<'_>, id: PageId, depth: u32, budget: &mut u32) -> u64 {
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
    Ok(find(view, b, key)?.map(|(_, e)| e))
}

/// Looks `key` up in the bucket: its element and the page holding it.
fn find<'a>(view: &DbView<'a>, b: BucketRoot<'a>, key: &[u8]) -> Result<Option<(Page<'a>, LeafElem<'a>)>, Problem> {
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
                        return Ok(Some((page, e)));
                    }
                }
                return Ok(None);
            }
            BRANCH if n == 0 => return Err(empty_branch(&page)),
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
            _ => return Err(bad_type(&page)),
        }
    }
    Err(Problem::new(ProblemKind::TooDeep, "lookup deeper than any real tree".into()))
}

/// Looks up a top-level bucket by name. A bucket entry whose value is malformed is a problem.
pub fn top_bucket<'a>(view: &DbView<'a>, name: &[u8]) -> Result<Option<BucketRoot<'a>>, Problem> {
    let Some((page, e)) = find(view, root(view), name)?.filter(|(_, e)| e.is_bucket()) else { return Ok(None) };
    match bucket::decode(&page, &e) {
        Ok(b) => Ok(Some(b.root)),
        Err(why) => Err(Problem::new(ProblemKind::BucketMalformed, format!("bucket {}: {why}", hex(e.key)))
            .page(page.id)
            .offset(page.offset_of(e.value))),
    }
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
            _ => return Err(bad_type(&page)),
        }
    }
    Err(Problem::new(ProblemKind::TooDeep, "lookup deeper than any real tree".into()))
}
