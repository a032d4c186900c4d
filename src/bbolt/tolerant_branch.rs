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
    /// The key ranges of `page` (a branch, or a leaf: `branch`) whose elements its layout shows
    /// taken out ([`Page::branch_gaps`], [`Page::leaf_gaps`]), told to `lost_`; `keys` are the
    /// keys of the elements it lists (`None`: one that cannot be read: then nothing is told, the
    /// elements' own problems say more). Taking an element out moves the headers after it up and
    /// lowers the count: each leaves a header slot before the first key, and its key (and value)
    /// where it was. Bytes skipped before element `i`'s key (`i` > 0) held the elements between
    /// element `i - 1` and `i`, in order: the keys from the first of them (the skipped bytes'
    /// prefix as long as element `i`'s key, when it sorts between the two; else element `i - 1`'s
    /// key) up to element `i`'s were lost (a branch's: with the subtree no element names any
    /// more). Bytes before the first key that are not whole header slots hold elements taken out
    /// before it. When the slots there outnumber the elements those skipped bytes account for,
    /// the last ones were taken out too: from the last key listed on (told whenever it may be so:
    /// a range told lost that was not only makes what was read there uncertain). What the page
    /// does list is read all the same.
    pub(super) fn lost_in_layout(
        &self,
        (page, branch): (&Page<'a>, bool),
        keys: &[Option<&'a [u8]>],
        (lower, upper): (Option<&'a [u8]>, Option<&'a [u8]>),
        lost_: &mut dyn FnMut(LostRange<'a>),
    ) {
        if keys.iter().any(Option::is_none) {
            return;
        }
        let key = |i: usize| keys.get(i).copied().flatten();
        let gaps = if branch { page.branch_gaps() } else { page.leaf_gaps() };
        let slot = super::page::ELEMENT_SIZE;
        // (the element the range lies before, `keys.len()` after the last; its bounds)
        let mut ranges: Vec<(usize, Bounds<'a>)> = Vec::new();
        let interior = gaps.iter().filter(|&&(i, _)| i > 0).count();
        for &(i, gap) in &gaps {
            match i.checked_sub(1) {
                None => {
                    let leading = gap.len() % slot != 0;
                    if leading {
                        ranges.push((0, (lower, key(0).or(upper))));
                    }
                    if gap.len() / slot > interior + usize::from(leading) {
                        ranges.push((keys.len(), (keys.last().copied().flatten().or(lower), upper)));
                    }
                }
                Some(before) => {
                    let (prev, next) = (key(before), key(i));
                    let ghost = next
                        .and_then(|n| gap.get(..n.len()))
                        .filter(|g| prev.map_or(true, |p| *g > p) && next.map_or(true, |n| *g < n));
                    ranges.push((i, (ghost.or(prev), next.or(upper))));
                }
            }
        }
        // A leaf holding bytes after its last listed value (bbolt zeroes a page before packing it):
        // elements taken off its end, or every element (`bbolt surgery clear-page-elements` lowers
        // the count to 0; review 47c: such a leaf was read as empty, the copy called lossless).
        let after_last = ranges.iter().any(|&(i, _)| i == keys.len());
        if !branch && !after_last && page.leaf_tail().iter().any(|&b| b != 0) {
            ranges.push((keys.len(), (keys.last().copied().flatten().or(lower), upper)));
        }
        for (i, (lo, hi)) in ranges {
            let (what, lost) = if branch { ("branch", "their children") } else { ("leaf", "their records") };
            let place =
                if i < keys.len() { format!("before the key of element {i}") } else { "after its last key".into() };
            let msg = format!(
                "{what} page {}: elements taken out of the page {place} (its layout shows them: header slots or \
                 keys no element it lists uses; bbolt still reads it, and never reaches {lost})",
                page.id
            );
            lost_(LostRange::new(lo, hi, self.problem(ProblemKind::ElementMisplaced, page.id.0, msg)));
        }
    }
}

/// A key range: lower bound (inclusive), upper bound (exclusive); `None`: unbounded.
type Bounds<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Why a branch element's subtree is lost: `None` for a sound element, and for one whose key
/// alone is out of order (its child is read within the keys around it).
pub(super) fn lost_why(e: &BranchElem<'_>) -> Option<Bad> {
    match e {
        Ok(_) | Err(Bad::OutOfOrder(_)) => None,
        Err(b) => Some(*b),
    }
}
