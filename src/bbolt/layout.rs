//! bbolt's packed layout of a page: its `node.write` puts the keys and values back to back, in
//! element order, right after the element headers. Readers hold a page to it (an element
//! anywhere else is damage: a count that shrank shows so), the tolerant reader restores a count
//! that shrank from it, and hashing takes a page's packed bytes in one stretch.

use super::page::{LeafElem, Page, BRANCH, B_POS, ELEMENT_SIZE, LEAF, L_POS, PAGE_HEADER_SIZE};
use crate::problem::{Problem, ProblemKind};

impl<'a> Page<'a> {
    /// What the tolerant reader notes when it reads this page as `restored`, its count read back.
    pub(super) fn restored_note(&self, restored: &Page<'_>, branch: bool) -> Problem {
        let what = match (self.inline, branch) {
            (true, _) => "inline bucket page in page",
            (false, true) => "branch page",
            (false, false) => "leaf page",
        };
        let msg = format!(
            "{what} {}: its count says {} element(s), its first key starts after {} element headers, each element \
             where bbolt puts it: read as {} (a count that shrank, or elements `bbolt surgery clear-page-elements` \
             cleared)",
            self.id, self.count, restored.count, restored.count
        );
        Problem::new(ProblemKind::ElementMisplaced, msg).page(self.id).offset(self.offset)
    }

    /// Checks that the first element's key starts at page offset `start` as bbolt lays a page
    /// out: right after the `count` element headers (its `node.write` packs the keys and values
    /// there, back to back). A first key further on says the count shrank: the last elements,
    /// every one still there, are left out by every reader (bbolt's own check passes such a page).
    /// The other elements are held to the layout by what they hold (order, bounds, records).
    pub(super) fn packed(&self, i: usize, start: usize) -> Result<(), Problem> {
        let want = PAGE_HEADER_SIZE + ELEMENT_SIZE * usize::from(self.count);
        if i > 0 || start == want {
            return Ok(());
        }
        Err(self.problem(
            ProblemKind::ElementMisplaced,
            PAGE_HEADER_SIZE,
            format!(
                "{}page {}: its first key starts at byte {start} of the page, not right after its {} element \
                 headers (byte {want}), where bbolt writes it: a count that shrank leaves elements out (damage, or \
                 `bbolt surgery clear-page-elements`, which lowers it and leaves them)",
                if self.inline { "inline bucket page in " } else { "" },
                self.id,
                self.count
            ),
        ))
    }

    /// For a leaf listing no element whose layout shows some (a count lowered to 0: every reader
    /// took the page as empty), the problem; `None` for any other page. bbolt writes an empty
    /// leaf's page as zeros past its header, so a first element header saying whole headers lie
    /// before the first key tells it too when a later element cannot be read back (review 43c: a
    /// root lowered to 0 with one element header damaged read as an empty, sound database).
    pub fn emptied(&self) -> Option<Problem> {
        if self.count != 0 || self.flags != LEAF {
            return None;
        }
        let page = if self.inline { "inline bucket page in " } else { "" };
        let msg = match self.count_restored(false) {
            Some(p) => format!(
                "{page}page {}: it lists no element, yet {} lie where bbolt writes them: a count lowered to 0 leaves \
                 them out (damage, or `bbolt surgery clear-page-elements`)",
                self.id, p.count
            ),
            None => {
                let pos = self.order.u32(self.bytes, PAGE_HEADER_SIZE + L_POS)? as usize;
                let first = PAGE_HEADER_SIZE.checked_add(pos)?;
                if pos == 0 || pos % ELEMENT_SIZE != 0 || first >= self.bytes.len() {
                    return None;
                }
                format!(
                    "{page}page {}: it lists no element, yet its first element header says {} lie before the first \
                     key (not all of them can be read back): a count lowered to 0 leaves them out",
                    self.id,
                    pos / ELEMENT_SIZE
                )
            }
        };
        Some(self.problem(ProblemKind::ElementMisplaced, PAGE_HEADER_SIZE, msg))
    }

    /// This page read with the element count its layout shows, when its count shrank (`branch`:
    /// read as a branch, else as a leaf). bbolt writes the first key right after the element
    /// headers, so a first key whole headers further on, with every element up to that many where
    /// bbolt puts it, says the count lost them, and they are all still there. `None` otherwise.
    pub fn count_restored(&self, branch: bool) -> Option<Page<'a>> {
        let pos = self.order.u32(self.bytes, PAGE_HEADER_SIZE + if branch { B_POS } else { L_POS })?;
        let start = PAGE_HEADER_SIZE.checked_add(pos as usize)?;
        let gap = start.checked_sub(PAGE_HEADER_SIZE + ELEMENT_SIZE * usize::from(self.count))?;
        if gap == 0 || gap % ELEMENT_SIZE != 0 {
            return None;
        }
        let count = u16::try_from(usize::from(self.count) + gap / ELEMENT_SIZE).ok()?;
        let p = Page { count, flags: if branch { BRANCH } else { LEAF }, ..*self };
        // Every element where bbolt puts it: each key right after the element before.
        let mut next = start;
        for i in 0..usize::from(count) {
            let (key, end) = if branch {
                p.branch_elem(i).map(|e| (e.key, e.key.as_ptr() as usize + e.key.len())).ok()?
            } else {
                p.leaf_elem(i).map(|e| (e.key, e.value.as_ptr() as usize + e.value.len())).ok()?
            };
            let at = key.as_ptr() as usize - p.bytes.as_ptr() as usize;
            if at != next {
                return None;
            }
            next = end - p.bytes.as_ptr() as usize;
        }
        Some(Page { flags: self.flags, ..p })
    }

    /// Where the keys of this branch page, as it lists them, are not back to back as bbolt's
    /// `node.write` packs them: each element `i` whose key does not start right after the key
    /// before it (for element 0: right after the element headers), with the bytes skipped. Those
    /// held elements the page no longer lists (a header taken out and the ones after it moved
    /// up, the count lowered: bbolt itself still reads such a page, and never reaches the child
    /// of the element taken out); before element 0 they are header slots. Elements that cannot be
    /// read end the list.
    pub fn branch_gaps(&self) -> Vec<(usize, &'a [u8])> {
        let base = self.bytes.as_ptr() as usize;
        self.gaps(|i| {
            let e = self.branch_elem_loose(i).ok()?;
            let at = e.key.as_ptr() as usize - base;
            Some((at, at + e.key.len()))
        })
    }

    /// [`Page::branch_gaps`] of a leaf page: each element `i` whose key does not start right after
    /// the value before it (for element 0: right after the element headers), with the bytes
    /// skipped (the keys and values of elements the page no longer lists, or header slots).
    pub fn leaf_gaps(&self) -> Vec<(usize, &'a [u8])> {
        self.gaps(|i| self.leaf_span(i))
    }

    /// Where leaf element `i`'s key starts and its value ends, in the page, as its header says.
    fn leaf_span(&self, i: usize) -> Option<(usize, usize)> {
        let [_, pos, _, _] = self.leaf_fields(i)?;
        let start = (PAGE_HEADER_SIZE + ELEMENT_SIZE * i).checked_add(pos as usize)?;
        let e = self.leaf_elem_at(i, start)?;
        Some((start, e.value.as_ptr() as usize - self.bytes.as_ptr() as usize + e.value.len()))
    }

    /// The bytes of a leaf page after its last listed element's value (after its element headers
    /// when it lists none): zeros as bbolt writes a page, or the keys and values of elements taken
    /// out at its end. Empty when the last element cannot be read.
    pub fn leaf_tail(&self) -> &'a [u8] {
        let end = match usize::from(self.count).checked_sub(1) {
            None => Some(PAGE_HEADER_SIZE),
            Some(i) => self.leaf_span(i).map(|(_, end)| end),
        };
        end.and_then(|e| self.bytes.get(e..)).unwrap_or_default()
    }

    /// The gaps of the packed layout, each element's bytes given by `span` (where its key starts,
    /// where it ends, in the page; `None` ends the list).
    fn gaps(&self, span: impl Fn(usize) -> Option<(usize, usize)>) -> Vec<(usize, &'a [u8])> {
        let mut next = PAGE_HEADER_SIZE + ELEMENT_SIZE * usize::from(self.count);
        let mut gaps = Vec::new();
        for i in 0..usize::from(self.count) {
            let Some((start, end)) = span(i) else { break };
            if start != next {
                gaps.push((i, self.bytes.get(next..start).unwrap_or_default()));
            }
            next = end;
        }
        gaps
    }

    /// The bytes holding all keys and values of a leaf when they are packed in element order
    /// (bbolt's canonical layout): the concatenation `k0 v0 k1 v1 ...`. `None` when the layout
    /// is not canonical, so the caller must go element by element.
    pub fn packed_kv(&self, first: &LeafElem<'a>, last: &LeafElem<'a>) -> Option<&'a [u8]> {
        let base = self.bytes.as_ptr() as usize;
        let start = first.key.as_ptr() as usize - base;
        let end = last.value.as_ptr() as usize - base + last.value.len();
        self.bytes.get(start..end)
    }
}

/// Stretches of one page's bytes to hash: keys and values that lie back to back (bbolt's packed
/// layout) come out as one slice, so a whole page usually takes one CRC call, not two per entry.
pub struct Run<'a> {
    bytes: &'a [u8],
    start: usize,
    end: usize,
}

impl<'a> Run<'a> {
    /// Nothing pending yet (`end` matches no slice).
    pub fn new(page: &Page<'a>) -> Run<'a> {
        Run { bytes: page.bytes, start: usize::MAX, end: usize::MAX }
    }

    /// Adds `s` (a slice of the page); returns what was pending when `s` does not follow it.
    pub fn add(&mut self, s: &[u8]) -> Option<&'a [u8]> {
        let at = (s.as_ptr() as usize).wrapping_sub(self.bytes.as_ptr() as usize);
        let done = if at != self.end { self.take() } else { None };
        if self.start == self.end {
            self.start = at;
        }
        self.end = at.wrapping_add(s.len());
        done
    }

    /// What is pending, if anything.
    pub fn take(&mut self) -> Option<&'a [u8]> {
        let pending = self.bytes.get(self.start..self.end).filter(|b| !b.is_empty());
        self.start = self.end;
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bbolt::order::{ByteOrder, PageId};
    use crate::bbolt::page::{write_branch_elem, write_leaf_elem, Header};

    /// A page of 4 KiB holding three elements packed as bbolt writes them: keys `a`, `b`, `c`,
    /// leaf values `1`, `22`, `333` (or branch children 10, 11, 12).
    fn page(o: ByteOrder, flags: u16) -> Vec<u8> {
        let mut p = vec![0u8; 4096];
        Header { id: PageId(3), flags, count: 3, overflow: 0 }.write(&mut p, o);
        let mut data = PAGE_HEADER_SIZE + 3 * ELEMENT_SIZE;
        for (i, (k, v)) in [(b"a", &b"1"[..]), (b"b", b"22"), (b"c", b"333")].into_iter().enumerate() {
            let e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
            let pos = (data - e) as u32;
            let h = &mut p[e..e + ELEMENT_SIZE];
            if flags == LEAF {
                write_leaf_elem(h, o, 0, pos, 1, v.len() as u32);
            } else {
                write_branch_elem(h, o, pos, 1, PageId(10 + i as u64));
            }
            p[data] = k[0];
            let v = if flags == LEAF { v } else { &[][..] };
            p[data + 1..data + 1 + v.len()].copy_from_slice(v);
            data += 1 + v.len();
        }
        p
    }

    fn elem(p: &Page<'_>, i: usize) -> Result<Vec<u8>, ProblemKind> {
        match p.flags {
            LEAF => p.leaf_elem(i).map(|e| [e.key, e.value].concat()),
            _ => p.branch_elem(i).map(|e| e.key.to_vec()),
        }
        .map_err(|e| e.kind)
    }

    #[test]
    fn an_element_not_where_bbolt_writes_it_is_misplaced_and_a_shrunk_count_is_restored() {
        for o in [ByteOrder::Little, ByteOrder::Big] {
            for flags in [LEAF, BRANCH] {
                let bytes = page(o, flags);
                let p = Page::new(PageId(3), 3 * 4096, &bytes, o).unwrap();
                assert!((0..3).all(|i| elem(&p, i).is_ok()), "{o:?} {flags}");
                assert!(p.count_restored(flags == BRANCH).is_none(), "a sound count stays");
                // The count shrank by one: the first key lies a header past the table.
                let shrunk = Page { count: 2, ..p };
                assert_eq!(elem(&shrunk, 0), Err(ProblemKind::ElementMisplaced), "{o:?} {flags}");
                let restored = shrunk.count_restored(flags == BRANCH).expect("restored");
                assert_eq!(restored.count, 3);
                assert_eq!(elem(&restored, 2), elem(&p, 2));
                // An element's offset moved by one byte.
                let mut moved = bytes.clone();
                let pos_at = PAGE_HEADER_SIZE + ELEMENT_SIZE + if flags == LEAF { 4 } else { 0 };
                let pos = o.u32(&moved, pos_at).unwrap();
                o.put_u32(&mut moved, pos_at, pos + 1);
                let m = Page::new(PageId(3), 0, &moved, o).unwrap();
                assert!(elem(&m, 1).is_ok(), "{o:?} {flags}: held to the layout by what it holds");
                assert!(m.count_restored(flags == BRANCH).is_none(), "no count explains it");
                let moved_shrunk = Page { count: 2, ..m };
                assert!(moved_shrunk.count_restored(flags == BRANCH).is_none(), "{o:?} {flags}: not chained");
            }
        }
    }
}
