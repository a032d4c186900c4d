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
    pub(super) pages: Vec<LeafPage>,
    /// The branch pages listed, which [`LeafPage::parent`] counts in.
    parents: Vec<PageId>,
    /// An inline bucket's page (then `pages` is empty).
    pub(super) inline: Option<Page<'a>>,
}

/// A page listed (16 bytes, as its id and count alone would take: the leaf level of a large file
/// has hundreds of thousands).
#[derive(Clone, Copy, Debug)]
pub(super) struct LeafPage {
    /// Its id.
    pub id: PageId,
    /// Its element count, which each chunk's ordinals are planned with.
    pub count: u16,
    /// Which element of its parent names it.
    elem: u16,
    /// Its parent, counted in [`Leaves::parents`] (`u32::MAX`: none, the root).
    parent: u32,
}

impl LeafPage {
    /// A placeholder (an unused slot of a fixed array).
    pub const NONE: LeafPage = LeafPage { id: PageId(0), count: 0, elem: 0, parent: u32::MAX };
}

impl<'a> Leaves<'a> {
    /// The problem of a leaf whose first key `first` (at file offset `at`) is not the key of the
    /// branch element naming it, which bbolt keeps equal to it: in `check`'s words.
    /// `parent` keeps the last parent page read: consecutive leaves mostly share one.
    pub(super) fn first_key_problem(
        &self,
        view: &DbView<'a>,
        l: &LeafPage,
        (first, at): (&[u8], u64),
        parent: &mut Option<(u32, Page<'a>)>,
    ) -> Option<Problem> {
        let page = match parent {
            Some((i, p)) if *i == l.parent => p,
            _ => &parent.insert((l.parent, parent_page(view, &self.parents, l.parent)?)).1,
        };
        let named = page.branch_elem(usize::from(l.elem)).ok()?.key;
        branch_key_problem(named, first, l.id, "leaf", at)
    }
}

/// The key of element `elem` of the branch page counted `parent` in `parents` (none for the root).
fn named<'a>(view: &DbView<'a>, parents: &[PageId], parent: u32, elem: u16) -> Option<&'a [u8]> {
    Some(parent_page(view, parents, parent)?.branch_elem(usize::from(elem)).ok()?.key)
}

/// The branch page counted `parent` in `parents` (none for the root, `u32::MAX`).
fn parent_page<'a>(view: &DbView<'a>, parents: &[PageId], parent: u32) -> Option<Page<'a>> {
    view.page(*parents.get(usize::try_from(parent).ok()?)?).ok()
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
/// order, or whose first key (a leaf's too) is not the key of the element naming it, which bbolt
/// keeps equal to it: told in `check`'s words.
pub fn leaves<'a>(view: &DbView<'a>, kb: BucketRoot<'a>) -> Result<Leaves<'a>, Problem> {
    let root = match kb {
        BucketRoot::Inline(page) => return Ok(Leaves { pages: Vec::new(), parents: Vec::new(), inline: Some(page) }),
        BucketRoot::Page(id) => id,
    };
    let mut level: Vec<LeafPage> = vec![LeafPage { id: root, ..LeafPage::NONE }];
    let mut parents: Vec<PageId> = Vec::new();
    let mut budget = view.tracked_pages().saturating_add(1);
    // Every page id the listed pages cover, overflow runs included (a bit a page of the file).
    let mut seen = Bitmap::new(view.tracked_pages());
    for depth in 0..=MAX_DEPTH {
        budget = budget.checked_sub(level.len() as u64).ok_or_else(|| too_large(view, root))?;
        // Each page's type and count (16 bytes a page, whatever a problem weighs: the leaf level
        // of a large file has hundreds of thousands of pages).
        let read: Vec<Result<(u16, u16, u32), Box<Problem>>> = level
            .par_iter()
            .map(|l| node(view, l.id).map(|p| (p.flags, p.count, p.overflow)).map_err(Box::new))
            .collect();
        if matches!(read.first(), Some(Ok((LEAF, _, _)))) {
            for (r, l) in read.into_iter().zip(level.iter_mut()) {
                match r.map_err(|p| *p)? {
                    (LEAF, 0, _) if l.parent != u32::MAX => {
                        return Err(crate::bbolt::walker::empty_leaf(&view.page(l.id)?))
                    }
                    (LEAF, count, overflow) => {
                        claim(view, &mut seen, l.id, overflow)?;
                        l.count = count;
                    }
                    _ => return Err(not_a_leaf(&view.page(l.id)?)),
                }
            }
            // Each leaf's first key is held to its branch key by the reader of its elements (the
            // line is loaded then anyway).
            return Ok(Leaves { pages: level, parents, inline: None });
        }
        let mut next = Vec::new();
        let first = u32::try_from(parents.len()).map_err(|_| too_large(view, root))?;
        for (k, (r, l)) in read.into_iter().zip(&level).enumerate() {
            let (flags, _, overflow) = r.map_err(|p| *p)?;
            claim(view, &mut seen, l.id, overflow)?;
            let p = view.page(l.id)?;
            if flags == LEAF {
                let id = l.id;
                let msg =
                    format!("page {id}: leaf where the tree's branches are (depth {depth}): the tree is not balanced");
                return Err(Problem::new(ProblemKind::InvalidPageType, msg).page(id).offset(p.offset + 8));
            }
            // More children than the file has pages: a cycle, or a page reached twice.
            if next.len() as u64 + u64::from(p.count) > budget {
                return Err(too_large(view, root));
            }
            let parent =
                u32::try_from(k).ok().and_then(|k| first.checked_add(k)).ok_or_else(|| too_large(view, root))?;
            for i in 0..p.count {
                let child = p.branch_elem(usize::from(i))?.child;
                next.push(LeafPage { id: child, count: 0, elem: i, parent });
            }
        }
        // Each branch's keys in order, the first the key naming it: on every core, the first
        // branch in key order that fails told.
        let bad = level.par_iter().find_map_first(|l| {
            let p = view.page(l.id).ok()?;
            branch_keys_problem(&p, named(view, &parents, l.parent, l.elem))
        });
        if let Some(p) = bad {
            return Err(p);
        }
        parents.extend(level.iter().map(|l| l.id));
        level = next;
    }
    Err(too_large(view, root))
}

/// The problem of branch page `p` whose keys are not in order, or whose first key is not `named`,
/// the key of the element naming it: in `check`'s words.
fn branch_keys_problem(p: &Page<'_>, named: Option<&[u8]>) -> Option<Problem> {
    let mut prev: Option<&[u8]> = None;
    for i in 0..usize::from(p.count) {
        let e = p.branch_elem(i).ok()?;
        match prev {
            None => {
                if let Some(problem) =
                    named.and_then(|n| branch_key_problem(n, e.key, p.id, "branch", p.offset_of(e.key)))
                {
                    return Some(problem);
                }
            }
            Some(before) if e.key <= before => {
                let shown = |k: &[u8]| shown_key(super::KEY_BUCKET, k);
                let msg = format!("key[{i}]={} on branch page({}) needs to be > {}", shown(e.key), p.id, shown(before));
                return Some(Problem::new(ProblemKind::KeysOutOfOrder, msg).page(p.id).offset(p.offset_of(e.key)));
            }
            Some(_) => {}
        }
        prev = Some(e.key);
    }
    None
}

/// A page of a tree, read as a branch or a leaf (a branch with no elements, or any other type, is
/// a problem).
fn node<'a>(view: &DbView<'a>, id: PageId) -> Result<Page<'a>, Problem> {
    let p = view.page(id)?;
    match p.flags {
        LEAF => p.emptied().map_or(Ok(p), Err),
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
