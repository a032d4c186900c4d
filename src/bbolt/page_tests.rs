//! Tests of what a reader of a whole page loads ahead ([`super::page::used_len`]).

use super::order::ByteOrder;
use super::page::{used_len, write_leaf_elem, Header, PageId, BRANCH, ELEMENT_SIZE, LEAF, PAGE_HEADER_SIZE};

const PS: usize = 4096;

/// A leaf page of `PS` bytes holding `kvs` (key size, value size) packed after the element table,
/// as bbolt writes them, in byte order `o`.
fn leaf(o: ByteOrder, kvs: &[(u32, u32)]) -> Vec<u8> {
    let mut page = vec![0u8; PS];
    let count = u16::try_from(kvs.len()).expect("a few elements");
    Header { id: PageId(7), flags: LEAF, count, overflow: 0 }.write(&mut page, o);
    let mut data = PAGE_HEADER_SIZE + ELEMENT_SIZE * kvs.len();
    for (i, &(k, v)) in kvs.iter().enumerate() {
        let e = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        let pos = u32::try_from(data - e).expect("inside the page");
        write_leaf_elem(&mut page[e..e + ELEMENT_SIZE], o, 0, pos, k, v);
        data += (k + v) as usize;
    }
    page
}

#[test]
fn a_half_full_leaf_is_loaded_to_the_end_of_its_last_value_only() {
    for o in [ByteOrder::Little, ByteOrder::Big] {
        let page = leaf(o, &[(17, 600), (17, 580), (18, 700)]);
        let table = PAGE_HEADER_SIZE + 3 * ELEMENT_SIZE;
        assert_eq!(used_len(&page, o, PS), table + 17 + 600 + 17 + 580 + 18 + 700, "{o:?}");
    }
}

#[test]
fn an_empty_leaf_is_its_header() {
    let page = leaf(ByteOrder::Little, &[]);
    assert_eq!(used_len(&page, ByteOrder::Little, PS), PAGE_HEADER_SIZE);
}

#[test]
fn the_furthest_element_counts_whatever_the_order_of_the_table() {
    let o = ByteOrder::Little;
    let mut page = leaf(o, &[(10, 100), (10, 200)]);
    // The first element now points past the second one's data.
    let far = 1000u32 - PAGE_HEADER_SIZE as u32;
    write_leaf_elem(&mut page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + ELEMENT_SIZE], o, 0, far, 10, 100);
    assert_eq!(used_len(&page, o, PS), 1000 + 110);
}

#[test]
fn a_branch_or_other_page_is_loaded_whole() {
    let o = ByteOrder::Little;
    let mut page = leaf(o, &[(10, 10)]);
    Header { id: PageId(7), flags: BRANCH, count: 1, overflow: 0 }.write(&mut page, o);
    assert_eq!(used_len(&page, o, PS), PS);
    assert_eq!(used_len(&[0u8; 100], o, PS), 100, "never past the bytes given");
}

#[test]
fn hostile_elements_never_reach_past_the_page_or_the_bytes_given() {
    let o = ByteOrder::Little;
    let mut page = leaf(o, &[(10, 10), (10, 10)]);
    write_leaf_elem(&mut page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + ELEMENT_SIZE], o, 0, u32::MAX, u32::MAX, u32::MAX);
    assert_eq!(used_len(&page, o, PS), PS);
    // A header claiming more elements than the bytes hold: the table ends the count.
    Header { id: PageId(7), flags: LEAF, count: u16::MAX, overflow: 0 }.write(&mut page, o);
    assert_eq!(used_len(&page[..64], o, PS), 64);
    page.extend_from_slice(&[0xff; PS]);
    assert_eq!(used_len(&page, o, PS), PS, "an overflow run is not loaded past its first page");
}
