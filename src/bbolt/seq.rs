//! A pull-style, in-order reader of one bucket's elements: [`Entries`] yields them one at a time,
//! so two buckets (of two files) can be read in lockstep, which the callback-driven
//! [`cursor::for_each`](super::cursor::for_each) cannot do. Memory is one page reference per tree
//! level; depth is bounded, and a page budget stops any loop a damaged file could make, as in the
//! cursor.

use super::bucket::BucketRoot;
use super::order::PageId;
use super::page::{type_name, LeafElem, Page, BRANCH, LEAF};
use super::view::DbView;
use super::walker::MAX_DEPTH;
use crate::problem::{Problem, ProblemKind};

/// The elements of one bucket in key order. Yields `Err` once at the first problem (a page that
/// cannot be read, a branch without elements, a tree deeper or larger than the file), then ends.
pub struct Entries<'v, 'a> {
    view: &'v DbView<'a>,
    /// The path from the root: each page with the index of its next element.
    stack: Vec<(Page<'a>, usize)>,
    budget: u64,
    /// The root still to be fetched (a page id), before the first element.
    pending: Option<PageId>,
    done: bool,
}

impl<'v, 'a> Entries<'v, 'a> {
    /// Starts reading the bucket rooted at `root`.
    pub fn new(view: &'v DbView<'a>, root: BucketRoot<'a>) -> Entries<'v, 'a> {
        let budget = view.tracked_pages().saturating_add(1);
        let (stack, pending) = match root {
            BucketRoot::Inline(p) => (vec![(p, 0)], None),
            BucketRoot::Page(id) => (Vec::new(), Some(id)),
        };
        Entries { view, stack, budget, pending, done: false }
    }

    /// Fetches page `id` one level below the current path, within the depth and page budgets.
    fn push(&mut self, id: PageId) -> Result<(), Problem> {
        if self.stack.len() as u32 > MAX_DEPTH || self.budget == 0 {
            let msg = format!("page {id}: tree deeper or larger than the file");
            return Err(Problem::new(ProblemKind::TooDeep, msg).page(id.0));
        }
        self.budget -= 1;
        let p = self.view.page(id)?;
        self.stack.push((p, 0));
        Ok(())
    }

    /// The next element, or the problem that stops the read.
    fn step(&mut self) -> Result<Option<LeafElem<'a>>, Problem> {
        if let Some(root) = self.pending.take() {
            self.push(root)?;
        }
        loop {
            let Some((page, next)) = self.stack.last_mut() else { return Ok(None) };
            let (page, i) = (*page, *next);
            let n = usize::from(page.count);
            match page.flags {
                LEAF if i < n => {
                    *next += 1;
                    return page.leaf_elem(i).map(Some);
                }
                LEAF => {
                    self.stack.pop();
                }
                BRANCH if n == 0 => {
                    let msg = format!("branch page {} has no elements", page.id);
                    return Err(Problem::new(ProblemKind::EmptyBranch, msg).page(page.id.0).offset(page.offset));
                }
                BRANCH if i < n => {
                    *next += 1;
                    let child = page.branch_elem(i)?.child;
                    self.push(child)?;
                }
                BRANCH => {
                    self.stack.pop();
                }
                other => {
                    let msg = format!("page {}: invalid type: {} (expected branch or leaf)", page.id, type_name(other));
                    let p = Problem::new(ProblemKind::InvalidPageType, msg).page(page.id.0).offset(page.offset + 8);
                    return Err(p);
                }
            }
        }
    }
}

impl<'a> Iterator for Entries<'_, 'a> {
    type Item = Result<LeafElem<'a>, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(p) => {
                self.done = true;
                self.stack.clear();
                Some(Err(p))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbolt::cursor;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)).unwrap()
    }

    /// Every bucket the cursor reads, read again with the iterator: the same elements in the
    /// same order.
    #[test]
    fn agrees_with_the_cursor() {
        for name in ["tiny-1.snap.db", "k8s-0.005.snap.db", "diff/diff-a.snap.db"] {
            let data = fixture(name);
            let view = DbView::new(&data).unwrap();
            let mut tops = Vec::new();
            cursor::for_each(&view, cursor::root(&view), &mut |e| tops.push(e.key.to_vec())).unwrap();
            assert!(tops.len() > 3, "{name}: {tops:?}");
            for top in &tops {
                let root = cursor::top_bucket(&view, top).unwrap().unwrap();
                let mut want = Vec::new();
                cursor::for_each(&view, root, &mut |e| want.push((e.key, e.value))).unwrap();
                let got: Vec<_> = Entries::new(&view, root).map(|e| e.map(|e| (e.key, e.value))).collect();
                let got: Result<Vec<_>, _> = got.into_iter().collect();
                assert_eq!(got.unwrap(), want, "{name}: bucket {}", String::from_utf8_lossy(top));
            }
        }
    }

    /// A branch pointing past the high-water mark ends the read with one problem.
    #[test]
    fn a_damaged_tree_yields_one_problem_then_ends() {
        let mut data = fixture("k8s-0.005.snap.db");
        let view = DbView::new(&data).unwrap();
        let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let BucketRoot::Page(root) = kb else { panic!("the key bucket of k8s-0.005 is not inline") };
        let page = view.page(root).unwrap();
        assert_eq!(page.flags, BRANCH, "k8s-0.005's key bucket has a branch root");
        let hwm = view.hwm;
        // The first branch element's child id: 8 bytes at element offset 8 (pos u32, ksize u32,
        // then the page id).
        let at = page.offset as usize + 16 + 8;
        data[at..at + 8].copy_from_slice(&(hwm + 5).to_le_bytes());
        let view = DbView::new(&data).unwrap();
        let kb = cursor::top_bucket(&view, b"key").unwrap().unwrap();
        let out: Vec<_> = Entries::new(&view, kb).collect();
        assert_eq!(out.len(), 1, "one problem, nothing else");
        assert_eq!(out[0].as_ref().unwrap_err().kind, ProblemKind::PageOutOfBounds);
    }
}
