//! The leaf pages of the `key` bucket, listed once before it is read on every core
//! ([`super::scan`]): a level of the tree at a time, every page of a level read in parallel, each
//! leaf with the element count the readers plan its entries' positions with.

use crate::bbolt::bitmap::Bitmap;
use crate::bbolt::cursor::BucketRoot;
use crate::bbolt::order::PageId;
use crate::bbolt::page::{type_name, Page, BRANCH, LEAF};
use crate::bbolt::view::DbView;
use crate::bbolt::walker::{shown_key, MAX_DEPTH};
use crate::problem::{Problem, ProblemKind};
use rayon::prelude::*;

/// The leaf pages of a `key` bucket with their element counts, listed once and shared by the
/// passes of a command that reads the bucket more than once (`dump` computes the survivors of a
/// compaction, then formats them).
pub struct Leaves<'a> {
    /// The leaf pages in key order.
    pub(super) pages: Vec<LeafPage<'a>>,
    /// An inline bucket's page (then `pages` is empty).
    pub(super) inline: Option<Page<'a>>,
}

/// A leaf page of the `key` bucket as listed.
#[derive(Clone, Copy, Debug)]
pub(super) struct LeafPage<'a> {
    /// Its id.
    pub id: PageId,
    /// Its element count, which each chunk's ordinals are planned with.
    pub count: u16,
    /// The key of the branch element naming it, which bbolt keeps equal to the leaf's first key
    /// (`None` for a root leaf): the reader of its first element holds it to that, as `check`
    /// does.
    pub named: Option<&'a [u8]>,
}

impl LeafPage<'_> {
    /// A placeholder (an unused slot of a fixed array).
    pub const NONE: LeafPage<'static> = LeafPage { id: PageId(0), count: 0, named: None };

    /// The problem of a first key `first` that is not the key naming the page, in `check`'s words
    /// (below it: out of order; above it: the branch key does not match).
    pub fn first_key_problem(&self, first: &[u8], at: u64) -> Option<Problem> {
        branch_key_problem(self.named?, first, self.id, "leaf", at)
    }
}

/// The problem of a page `id` whose first key `first` (at file offset `at`) is not `named`, the
/// key of the branch element naming it, in `check`'s words.
fn branch_key_problem(named: &[u8], first: &[u8], id: PageId, kind: &str, at: u64) -> Option<Problem> {
    let shown = |k: &[u8]| shown_key(super::KEY_BUCKET, k);
    let p = match first.cmp(named) {
        std::cmp::Ordering::Equal => return None,
        std::cmp::Ordering::Less => Problem::new(
            ProblemKind::KeysOutOfOrder,
            format!("key[0]={} on {kind} page({id}) needs to be > {}", shown(first), shown(named)),
        ),
        std::cmp::Ordering::Greater => Problem::new(
            ProblemKind::BranchKeyMismatch,
            format!("page {id} starts with key {} but its parent's branch key is {}", shown(first), shown(named)),
        ),
    };
    Some(p.page(id).offset(at).bucket(vec!["key".into()]))
}

/// Lists the leaf pages of the bucket rooted at `kb`, a level of the tree at a time: every page
/// of a level is read on every core (so the page faults of the whole bucket are taken in
/// parallel, and the passes over it only decode), then, in order, a branch gives the next level's
/// ids and a leaf its element count. The key readers need a balanced tree, as bbolt writes it: a
/// level holds only branches or only leaves (a level that mixes them is a problem). Depth and the
/// number of pages are bounded (children are counted against the pages the file holds before they
/// are listed), so a damaged tree cannot make this loop or grow, and the problem reported is the
/// same on every run: the first level by level, in key order within a level. A page reached twice
/// (listed twice, or lying inside another listed page's overflow run) is a problem: the tree could
/// not be read whole, so no key reader answers from it. So is a branch page whose keys are out of
/// order, or whose first key is not the key of the element naming it (a leaf's first key is held
/// to it by the reader of its elements, [`LeafPage::named`]).
pub fn leaves<'a>(view: &DbView<'a>, kb: BucketRoot<'a>) -> Result<Leaves<'a>, Problem> {
    let root = match kb {
        BucketRoot::Inline(page) => return Ok(Leaves { pages: Vec::new(), inline: Some(page) }),
        BucketRoot::Page(id) => id,
    };
    let mut level: Vec<(PageId, Option<&'a [u8]>)> = vec![(root, None)];
    let mut budget = view.tracked_pages().saturating_add(1);
    // Every page id the listed pages cover, overflow runs included (a bit a page of the file).
    let mut seen = Bitmap::new(view.tracked_pages());
    for depth in 0..=MAX_DEPTH {
        budget = budget.checked_sub(level.len() as u64).ok_or_else(|| too_large(view, root))?;
        // Each page's type and count (16 bytes a page, whatever a problem weighs: the leaf level
        // of a large file has hundreds of thousands of pages).
        let read: Vec<Result<(u16, u16, u32), Box<Problem>>> = level
            .par_iter()
            .map(|&(id, _)| node(view, id).map(|p| (p.flags, p.count, p.overflow)).map_err(Box::new))
            .collect();
        if matches!(read.first(), Some(Ok((LEAF, _, _)))) {
            let mut pages = Vec::with_capacity(level.len());
            for (r, &(id, named)) in read.into_iter().zip(&level) {
                match r.map_err(|p| *p)? {
                    (LEAF, count, overflow) => {
                        claim(view, &mut seen, id, overflow)?;
                        pages.push(LeafPage { id, count, named });
                    }
                    _ => return Err(not_a_leaf(&view.page(id)?)),
                }
            }
            return Ok(Leaves { pages, inline: None });
        }
        let mut next = Vec::new();
        for (r, &(id, named)) in read.into_iter().zip(&level) {
            let (flags, _, overflow) = r.map_err(|p| *p)?;
            claim(view, &mut seen, id, overflow)?;
            let p = view.page(id)?;
            if flags == LEAF {
                let msg =
                    format!("page {id}: leaf where the tree's branches are (depth {depth}): the tree is not balanced");
                return Err(Problem::new(ProblemKind::InvalidPageType, msg).page(id).offset(p.offset + 8));
            }
            // More children than the file has pages: a cycle, or a page reached twice.
            if next.len() as u64 + u64::from(p.count) > budget {
                return Err(too_large(view, root));
            }
            let mut prev: Option<&[u8]> = None;
            for i in 0..usize::from(p.count) {
                let e = p.branch_elem(i)?;
                let at = p.offset_of(e.key);
                match prev {
                    None => {
                        if let Some(problem) = named.and_then(|n| branch_key_problem(n, e.key, id, "branch", at)) {
                            return Err(problem);
                        }
                    }
                    Some(before) if e.key <= before => {
                        let shown = |k: &[u8]| shown_key(super::KEY_BUCKET, k);
                        let msg =
                            format!("key[{i}]={} on branch page({id}) needs to be > {}", shown(e.key), shown(before));
                        return Err(Problem::new(ProblemKind::KeysOutOfOrder, msg).page(id).offset(at));
                    }
                    Some(_) => {}
                }
                prev = Some(e.key);
                next.push((e.child, Some(e.key)));
            }
        }
        level = next;
    }
    Err(too_large(view, root))
}

/// A page of a tree, read as a branch or a leaf (a branch with no elements, or any other type, is
/// a problem).
fn node<'a>(view: &DbView<'a>, id: PageId) -> Result<Page<'a>, Problem> {
    let p = view.page(id)?;
    match p.flags {
        LEAF => Ok(p),
        BRANCH if p.count == 0 => {
            let msg = format!("branch page {} has no elements", p.id);
            Err(Problem::new(ProblemKind::EmptyBranch, msg).page(p.id).offset(p.offset))
        }
        BRANCH => Ok(p),
        f => {
            let msg = format!("page {}: invalid type: {} (expected branch or leaf)", p.id, type_name(f));
            Err(Problem::new(ProblemKind::InvalidPageType, msg).page(p.id).offset(p.offset + 8))
        }
    }
}

/// Marks the ids page `id` covers (itself and its `overflow` run) as reached; one reached before
/// is a problem. `view.page` checked the run lies in the file, so the loop is bounded by it.
fn claim(view: &DbView<'_>, seen: &mut Bitmap, id: PageId, overflow: u32) -> Result<(), Problem> {
    for j in id.0..=id.0.saturating_add(u64::from(overflow)) {
        if j < seen.len() && !seen.set(j) {
            let msg = format!(
                "page {j} is reached twice in the `key` bucket's tree (listed twice, or inside another listed \
                 page's overflow run): the tree could not be read whole"
            );
            return Err(Problem::new(ProblemKind::MultipleReferences, msg)
                .page(PageId(j))
                .offset(j.saturating_mul(view.page_size)));
        }
    }
    Ok(())
}

fn too_large(view: &DbView<'_>, root: PageId) -> Problem {
    let msg = format!("page {root}: tree deeper or larger than the file (a cycle, or a page reached twice)");
    Problem::new(ProblemKind::TooDeep, msg).page(root).offset(root.0.saturating_mul(view.page_size))
}

impl Leaves<'_> {
    /// Elements in the bucket (every element, also ones a decoder passes over).
    pub fn elements(&self) -> u64 {
        let inline = self.inline.as_ref().map_or(0, |p| u64::from(p.count));
        self.pages.iter().map(|l| u64::from(l.count)).sum::<u64>() + inline
    }
}

/// A page at the leaf level of a tree (whose first sibling is a leaf) that is not a leaf.
fn not_a_leaf(p: &Page<'_>) -> Problem {
    let msg = format!("page {}: {} where the tree's leaves are (expected a leaf)", p.id, type_name(p.flags));
    Problem::new(ProblemKind::InvalidPageType, msg).page(p.id).offset(p.offset + 8)
}
