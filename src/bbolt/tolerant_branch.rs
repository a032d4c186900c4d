//! Branch pages read tolerantly ([`super::tolerant`]): each element a page lists, sound or why
//! not (a damaged key costs that element alone), and the key ranges its layout shows elements
//! taken out of.

use super::carve::max_elements;
use super::increasing::increasing;
use super::page::{Page, BRANCH, LEAF};
use super::tolerant::{LostRange, Reader};
use crate::problem::{Problem, ProblemKind};

/// Why a branch element is not followed.
#[derive(Clone, Copy, Debug)]
pub(super) enum Bad {
    /// Its header or key cannot be read (the problem's kind).
    Unreadable(ProblemKind),
    /// Its key is empty.
    EmptyKey,
    /// Its key is out of order, or outside the bounds the parents give; its child is a page a tree
    /// can use, read within the keys of the sound elements around it (the key is what is damaged
    /// when the others agree).
    OutOfOrder(u64),
    /// Its key is out of order and its child is a sound element's: the pointer is damaged too.
    Shared(u64),
    /// Its child is a meta page or lies at or past the pages a tree can use.
    ChildOutOfBounds(u64),
}

/// A branch element: its key and child, or why it is not followed.
pub(super) type BranchElem<'a> = Result<(&'a [u8], u64), Bad>;

impl<'a> Reader<'a> {
    /// The branch elements of `page`: `Ok` for one that is sound (child an id below the limit,
    /// key within the bounds and in order among the sound ones), else why it is not. When keys are
    /// out of order, the sound ones are the longest run in order: one damaged key (say the first,
    /// raised past all the others) costs that element alone, not every element after it.
    pub(super) fn branch_elems(
        &self,
        page: &Page<'a>,
        lower: Option<&'a [u8]>,
        upper: Option<&'a [u8]>,
    ) -> Vec<BranchElem<'a>> {
        let n = usize::from(page.count).min(max_elements(self.g.page_size));
        let mut elems: Vec<BranchElem<'a>> = (0..n)
            .map(|i| {
                // Every element the page lists is followed, also where its layout shows some
                // taken out (the range they covered is told lost: `node`).
                let e = page.branch_elem_loose(i).map_err(|p| Bad::Unreadable(p.kind))?;
                if e.key.is_empty() {
                    return Err(Bad::EmptyKey);
                }
                if e.child.0 < 2 || e.child.0 >= self.limit {
                    return Err(Bad::ChildOutOfBounds(e.child.0));
                }
                let bounded = (i > 0 || lower.map_or(true, |l| e.key >= l))
                    && lower.map_or(true, |l| i == 0 || e.key > l)
                    && upper.map_or(true, |u| e.key < u);
                if !bounded {
                    return Err(Bad::OutOfOrder(e.child.0));
                }
                Ok((e.key, e.child.0))
            })
            .collect();
        // Each with whether its key is its child's first key, as bbolt keeps it: a key that is
        // not is the likelier damage when two runs are as long.
        let keys: Vec<(usize, &[u8], bool)> = elems
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().ok().map(|&(k, c)| (i, k, self.first_key(c) == Some(k))))
            .collect();
        let kept = increasing(&keys);
        for (i, _, _) in keys {
            if let (false, Ok((_, child))) = (kept.contains(&i), elems[i]) {
                elems[i] = Err(Bad::OutOfOrder(child));
            }
        }
        elems
    }

    /// The problem of the branch elements `from..to` of page `id` that cannot be followed, in
    /// `check`'s words: the kind is the first element's reason (a child past the pages a tree can
    /// use is `page_out_of_bounds`, a meta page `multiple_references`, as `check` calls them);
    /// `what` says where they are.
    pub(super) fn bad_elems(&self, id: u64, elems: &[BranchElem<'a>], from: usize, to: usize, what: &str) -> Problem {
        let first =
            elems.get(from..to).and_then(|s| s.iter().enumerate().find_map(|(k, e)| Some((from + k, lost_why(e)?))));
        let at = first.map_or(from, |f| f.0);
        let (kind, why) = match first.map(|f| f.1) {
            // A meta page is claimed by the file already: `check` calls a second claim on it
            // `multiple_references`.
            Some(Bad::ChildOutOfBounds(c)) if c < 2 => {
                (ProblemKind::MultipleReferences, format!("names page {c}, a meta page"))
            }
            Some(Bad::ChildOutOfBounds(c)) => (
                ProblemKind::PageOutOfBounds,
                format!("names page {c}, outside the pages a tree can use [2, {})", self.limit),
            ),
            Some(Bad::EmptyKey) => (ProblemKind::EmptyKey, "has an empty key".into()),
            Some(Bad::OutOfOrder(_)) => (ProblemKind::KeysOutOfOrder, "has a key out of order".into()),
            Some(Bad::Shared(c)) => {
                (ProblemKind::MultipleReferences, format!("has a key out of order and names page {c}, another's child"))
            }
            Some(Bad::Unreadable(k)) => (k, "cannot be read".into()),
            None => (ProblemKind::ElementOutsidePage, "cannot be read".into()),
        };
        self.problem(kind, id, format!("branch page {id}: {what}; element {at} {why}"))
    }

    /// The first key of page `id` read as a branch or a leaf, if it reads.
    fn first_key(&self, id: u64) -> Option<&'a [u8]> {
        let p = self.g.page(id, 1)?;
        match p.flags {
            BRANCH => p.branch_elem(0).ok().map(|e| e.key),
            LEAF => p.leaf_elem(0).ok().map(|e| e.key),
            _ => None,
        }
    }

    /// Whether a page of unknown type reads as a branch: every element sound, children pages of
    /// their own.
    pub(super) fn plausible_branch(&self, page: &Page<'a>, lower: Option<&'a [u8]>, upper: Option<&'a [u8]>) -> bool {
        let elems = self.branch_elems(page, lower, upper);
        !elems.is_empty()
            && elems.len() == usize::from(page.count)
            && elems.iter().all(|e| e.is_ok_and(|(_, c)| self.g.has_own_header(c)))
    }
}

impl<'a> Reader<'a> {
    /// The key ranges of branch `page` whose elements its layout shows taken out
    /// ([`Page::branch_gaps`]): bytes skipped before element `i`'s key (`i` > 0) held the keys of
    /// elements between element `i - 1` and `i`, in order, so the keys from the first of them up
    /// to element `i`'s may have lain in a subtree no element names any more. The first is read
    /// as the skipped bytes' prefix as long as element `i`'s key when it sorts between the two
    /// (else the range starts at element `i - 1`'s key). Header slots before the first key are
    /// what a lowered count leaves: only when no key was skipped do they say elements were taken
    /// out somewhere, and the page's whole range is told. The subtrees the page does name are
    /// read all the same.
    pub(super) fn lost_in_layout(
        &self,
        page: &Page<'a>,
        elems: &[BranchElem<'a>],
        (lower, upper): (Option<&'a [u8]>, Option<&'a [u8]>),
        lost_: &mut dyn FnMut(LostRange<'a>),
    ) {
        let key = |i: usize| elems.get(i).and_then(|e| e.ok()).map(|(k, _)| k);
        let gaps = page.branch_gaps();
        let skipped_keys = gaps.iter().any(|&(i, _)| i > 0);
        for (i, gap) in gaps {
            let (lo, hi) = match (i.checked_sub(1), skipped_keys) {
                (None, true) => continue,
                (None, false) => (lower, upper),
                (Some(before), _) => {
                    let (prev, next) = (key(before), key(i));
                    let ghost = next
                        .and_then(|n| gap.get(..n.len()))
                        .filter(|g| prev.map_or(true, |p| *g > p) && next.map_or(true, |n| *g < n));
                    (ghost.or(prev), next.or(upper))
                }
            };
            let msg = format!(
                "branch page {}: bytes lie before the key of element {i} that no element it lists uses: elements \
                 taken out of the page (bbolt still reads it, and never reaches their children)",
                page.id
            );
            lost_(LostRange::new(lo, hi, self.problem(ProblemKind::ElementMisplaced, page.id.0, msg)));
        }
    }
}

/// Why a branch element's subtree is lost: `None` for a sound element, and for one whose key
/// alone is out of order (its child is read within the keys around it).
pub(super) fn lost_why(e: &BranchElem<'_>) -> Option<Bad> {
    match e {
        Ok(_) | Err(Bad::OutOfOrder(_)) => None,
        Err(b) => Some(*b),
    }
}
