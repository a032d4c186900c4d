//! The classes of damage the tests build on real etcd files, each from offsets computed from the
//! raw layout ([`super::layout`]), never through boltscope: one page damaged (a branch pointing at
//! itself, a child past the high-water mark, an element outside its page, bad page flags, a huge
//! overflow count, keys out of order, a header id that differs, two parents for one page, an
//! empty branch, a branch key that differs from its child, a first branch key raised past the
//! others, a branch key lowered between its neighbours, one raised naming the next one's child),
//! meta pages (the newer one, both), a
//! truncation, and random bit flips.

#![allow(dead_code)]

use super::{put_u64, u16_at, u32_at, u64_at};

const PS: usize = 4096;

/// The layout facts the damage needs, read by hand like [`super::layout`], for a `key` bucket of
/// any depth: the newer meta page, its high-water mark, the `key` bucket's root (a branch page)
/// and its leftmost leaf.
pub struct Shape {
    /// The meta page with the higher txid.
    pub active_meta: usize,
    /// Its high-water mark.
    pub hwm: u64,
    /// The `key` bucket's root page.
    pub key_root: usize,
    /// Its leftmost leaf.
    pub first_leaf: usize,
}

/// Reads the shape of a little-endian etcd file with 4096-byte pages.
pub fn shape(d: &[u8]) -> Shape {
    let txid = |p: usize| u64_at(d, p * PS + 64);
    let active_meta = if txid(1) > txid(0) { 1 } else { 0 };
    let m = active_meta * PS;
    let (root, hwm) = (u64_at(d, m + 32) as usize, u64_at(d, m + 56));
    let mut key_root = 0;
    for i in 0..u16_at(d, root * PS + 10) {
        let e = root * PS + 16 + 16 * i;
        let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
        if &d[e + pos..e + pos + ks] == b"key" {
            key_root = u64_at(d, e + pos + ks) as usize;
        }
    }
    assert_eq!(u16_at(d, key_root * PS + 8), 0x01, "the key bucket's root is a branch page");
    let mut first_leaf = key_root;
    while u16_at(d, first_leaf * PS + 8) == 0x01 {
        first_leaf = u64_at(d, first_leaf * PS + 16 + 8) as usize;
    }
    assert_eq!(u16_at(d, first_leaf * PS + 8), 0x02, "the leftmost page is a leaf");
    Shape { active_meta, hwm, key_root, first_leaf }
}

/// Offset of branch element `i` of page `page`.
fn branch_elem(page: usize, i: usize) -> usize {
    page * PS + 16 + 16 * i
}

/// Offset of leaf element `i` of page `page`.
fn leaf_elem(page: usize, i: usize) -> usize {
    page * PS + 16 + 16 * i
}

/// Damage confined to one page (or the meta pages), by name.
pub fn one_page(name: &str, d: &mut [u8]) {
    let l = shape(d);
    match name {
        "branch cycle" => put_u64(d, branch_elem(l.key_root, 3) + 8, l.key_root as u64),
        "child past the high-water mark" => put_u64(d, branch_elem(l.key_root, 0) + 8, l.hwm + 5),
        "two parents" => {
            let child0 = u64_at(d, branch_elem(l.key_root, 0) + 8);
            put_u64(d, branch_elem(l.key_root, 1) + 8, child0);
        }
        "empty branch" => d[l.key_root * PS + 10..l.key_root * PS + 12].copy_from_slice(&0u16.to_le_bytes()),
        "branch key differs from its child" => {
            let e = branch_elem(l.key_root, 1);
            let k = e + u32_at(d, e) + 7;
            d[k] = d[k].wrapping_sub(1);
        }
        // bbolt follows the children whatever their keys say: the tree reads whole for it.
        "first branch key raised past the others" => {
            let e = branch_elem(l.key_root, 0);
            let k = e + u32_at(d, e);
            d[k + 4..k + 8].copy_from_slice(&[0x5a, 0x5a, 0x5a, 0x5d]);
        }
        // Element 2's key set just above element 0's: below element 1's.
        "branch key lowered between its neighbours" => {
            let key = |d: &[u8], i: usize| {
                let e = branch_elem(l.key_root, i);
                e + u32_at(d, e)
            };
            let (k0, k2) = (key(d, 0), key(d, 2));
            d.copy_within(k0..k0 + 17, k2);
            d[k2 + 16] += 1;
        }
        // Element 1's key set just above element 2's, its child element 2's: pointer and key both.
        "branch key raised, naming the next one's child" => {
            let (e1, e2) = (branch_elem(l.key_root, 1), branch_elem(l.key_root, 2));
            let (k1, k2) = (e1 + u32_at(d, e1), e2 + u32_at(d, e2));
            d.copy_within(k2..k2 + 17, k1);
            d[k1 + 16] += 1;
            let child = u64_at(d, e2 + 8);
            put_u64(d, e1 + 8, child);
        }
        "element outside its page" => {
            let e = leaf_elem(l.first_leaf, 1);
            d[e + 4..e + 8].copy_from_slice(&0x00F0_0000u32.to_le_bytes());
        }
        "bad page flags" => d[l.first_leaf * PS + 8] = 0x20,
        "huge overflow" => d[l.first_leaf * PS + 12..l.first_leaf * PS + 16].copy_from_slice(&u32::MAX.to_le_bytes()),
        "header id differs" => put_u64(d, l.first_leaf * PS, 9999),
        "keys swapped" => {
            let key = |d: &[u8], i: usize| {
                let e = leaf_elem(l.first_leaf, i);
                e + u32_at(d, e + 4)
            };
            let (a, b) = (key(d, 0), key(d, 1));
            let ka = d[a..a + 17].to_vec();
            d.copy_within(b..b + 17, a);
            d[b..b + 17].copy_from_slice(&ka);
        }
        "key main revision zeroed" => {
            let e = leaf_elem(l.first_leaf, 1);
            let k = e + u32_at(d, e + 4);
            d[k..k + 8].copy_from_slice(&[0; 8]);
        }
        "newer meta bad" => d[l.active_meta * PS + 72] ^= 0xFF,
        "both metas bad" => {
            d[16] ^= 0xFF;
            d[PS + 16] ^= 0xFF;
        }
        other => panic!("no damage named {other}"),
    }
}

/// The `key` bucket's last leaf (the rightmost child of its root branch, a leaf with its overflow
/// pages) zeroed: the newest revisions gone with no leaf above them to say where they stopped.
/// Returns the main revision the branch names as that leaf's first key (read by hand): it and
/// every later revision are lost.
pub fn last_leaf_zeroed(d: &mut [u8]) -> u64 {
    let l = shape(d);
    let n = u16_at(d, l.key_root * PS + 10);
    let e = branch_elem(l.key_root, n - 1);
    let (pos, leaf) = (u32_at(d, e), u64_at(d, e + 8) as usize);
    let first = u64::from_be_bytes(d[e + pos..e + pos + 8].try_into().unwrap());
    assert_eq!(u16_at(d, leaf * PS + 8), 0x02, "the rightmost child is a leaf");
    let pages = 1 + u32_at(d, leaf * PS + 12);
    d[leaf * PS..(leaf + pages) * PS].fill(0);
    first
}

/// The `key` bucket's last two leaves (each a leaf, with its overflow pages) zeroed. Returns the
/// main revision the branch names as the first of them (read by hand): it and every later
/// revision are lost.
pub fn last_two_leaves_zeroed(d: &mut [u8]) -> u64 {
    let l = shape(d);
    let n = u16_at(d, l.key_root * PS + 10);
    let e = branch_elem(l.key_root, n - 2);
    let first = u64::from_be_bytes(d[e + u32_at(d, e)..e + u32_at(d, e) + 8].try_into().unwrap());
    for i in [n - 2, n - 1] {
        let leaf = u64_at(d, branch_elem(l.key_root, i) + 8) as usize;
        assert_eq!(u16_at(d, leaf * PS + 8), 0x02, "a child of the key bucket's root is a leaf");
        let pages = 1 + u32_at(d, leaf * PS + 12);
        d[leaf * PS..(leaf + pages) * PS].fill(0);
    }
    first
}

/// The `key` bucket's leaves under its root branch: each one's first main revision (as the branch
/// names it) and page. Asserts the root's children are leaves.
pub fn key_leaves(d: &[u8]) -> Vec<(u64, usize)> {
    let l = shape(d);
    (0..u16_at(d, l.key_root * PS + 10))
        .map(|i| {
            let e = branch_elem(l.key_root, i);
            let leaf = u64_at(d, e + 8) as usize;
            assert_eq!(u16_at(d, leaf * PS + 8), 0x02, "a child of the key bucket's root is a leaf");
            (u64::from_be_bytes(d[e + u32_at(d, e)..e + u32_at(d, e) + 8].try_into().unwrap()), leaf)
        })
        .collect()
}

/// Zeroes leaf `page` and its overflow pages.
pub fn zero_leaf(d: &mut [u8], page: usize) {
    let pages = 1 + u32_at(d, page * PS + 12);
    d[page * PS..(page + pages) * PS].fill(0);
}

/// A root page of an older transaction, found by hand: the highest page other than the newer
/// meta page's root that names itself, is a leaf, and holds only bucket entries, `key` among them.
pub fn older_root(d: &[u8]) -> usize {
    let l = shape(d);
    let root = u64_at(d, l.active_meta * PS + 32) as usize;
    (2..l.hwm as usize)
        .rev()
        .find(|&p| {
            let n = u16_at(d, p * PS + 10);
            let bucket = |i: usize| u32_at(d, leaf_elem(p, i)) == 1;
            let names_key = (0..n).any(|i| {
                let e = leaf_elem(p, i);
                let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
                d.get(e + pos..e + pos + ks) == Some(b"key".as_slice())
            });
            p != root
                && u64_at(d, p * PS) == p as u64
                && u16_at(d, p * PS + 8) == 0x02
                && n > 0
                && (0..n).all(bucket)
                && names_key
        })
        .expect("an older root page")
}

/// Every one-page damage class.
pub const ONE_PAGE: [&str; 16] = [
    "branch cycle",
    "child past the high-water mark",
    "two parents",
    "empty branch",
    "branch key differs from its child",
    "first branch key raised past the others",
    "branch key lowered between its neighbours",
    "branch key raised, naming the next one's child",
    "element outside its page",
    "bad page flags",
    "huge overflow",
    "header id differs",
    "keys swapped",
    "key main revision zeroed",
    "newer meta bad",
    "both metas bad",
];

/// xorshift64*: a deterministic generator, so a failure names a reproducible seed.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `n` bits flipped at random places of the database pages (not the meta pages, not a trailer).
pub fn flips(d: &mut [u8], n: usize, seed: u64) -> Vec<usize> {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let body = d.len() - if d.len() % 512 == 32 { 32 } else { 0 };
    (0..n)
        .map(|_| {
            let at = 2 * PS + (r.next() as usize) % (body - 2 * PS);
            d[at] ^= 1 << (r.next() % 8);
            at
        })
        .collect()
}

/// A leaf of the `key` bucket made to claim an overflow run reaching a sibling leaf (the nearest
/// one above it in the file), so that page is reached twice: a tree that cannot be read whole,
/// though each page reads.
pub fn overflow_over_sibling(d: &mut [u8]) {
    let l = shape(d);
    let mut parent = l.key_root;
    while u16_at(d, u64_at(d, branch_elem(parent, 0) + 8) as usize * PS + 8) == 0x01 {
        parent = u64_at(d, branch_elem(parent, 0) + 8) as usize;
    }
    let kids: Vec<usize> =
        (0..u16_at(d, parent * PS + 10)).map(|i| u64_at(d, branch_elem(parent, i) + 8) as usize).collect();
    let (a, b) = kids
        .iter()
        .flat_map(|&a| kids.iter().filter(move |&&b| b > a).map(move |&b| (a, b)))
        .min_by_key(|&(a, b)| b - a)
        .expect("two leaves under one parent");
    d[a * PS + 12..a * PS + 16].copy_from_slice(&((b - a) as u32).to_le_bytes());
}

/// The mod revision of the leftmost leaf's first record changed by one (its varint's lowest bit
/// flipped), so it no longer equals its revision key's: a record that decodes but breaks etcd's
/// invariants. Returns the file offset of the record's key (where `check` reports it).
pub fn mod_revision_changed(d: &mut [u8]) -> usize {
    let l = shape(d);
    let e = leaf_elem(l.first_leaf, 0);
    let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
    let (key_at, mut v) = (e + pos, e + pos + ks);
    assert_eq!(d[v], 0x0a, "a KeyValue starts with its key field");
    assert!(d[v + 1] < 0x80, "a short key");
    v += 2 + d[v + 1] as usize;
    assert_eq!(d[v], 0x10, "then its create revision");
    v += 1;
    while d[v] & 0x80 != 0 {
        v += 1;
    }
    v += 1;
    assert_eq!(d[v], 0x18, "then its mod revision");
    d[v + 1] ^= 0x01;
    key_at
}

/// One put's version rewritten in place, one byte (to 50, as review 46a did: 5 to 50): the record
/// decodes and keeps every invariant of its own, but it is not the next version of the put before
/// it. Taken: the first put above revision `above` (all of a key's records there are kept, so the
/// put before it is in the file) whose version is 2 to 127 and key shorter than 128 bytes.
/// Returns its user key and main revision.
pub fn version_rewritten(d: &mut [u8], above: u64) -> (Vec<u8>, u64) {
    for (_, leaf) in key_leaves(d) {
        for i in 0..u16_at(d, leaf * PS + 10) {
            let e = leaf_elem(leaf, i);
            let (pos, ks) = (u32_at(d, e + 4), u32_at(d, e + 8));
            let main = u64::from_be_bytes(d[e + pos..e + pos + 8].try_into().unwrap());
            let mut v = e + pos + ks;
            if ks != 17 || main <= above || d[v] != 0x0a || d[v + 1] >= 0x80 {
                continue;
            }
            let key = d[v + 2..v + 2 + d[v + 1] as usize].to_vec();
            v += 2 + key.len();
            for tag in [0x10, 0x18] {
                assert_eq!(d[v], tag, "create, then mod revision");
                v += 1;
                while d[v] & 0x80 != 0 {
                    v += 1;
                }
                v += 1;
            }
            assert_eq!(d[v], 0x20, "then the version");
            if (2..0x80).contains(&d[v + 1]) && d[v + 1] != 50 && d[v + 1] != 49 {
                d[v + 1] = 50;
                return (key, main);
            }
        }
    }
    panic!("no put above {above} with a one-byte version of 2 or more");
}

/// A misdirected write in `k8s-0.005.member.db`: the `key` bucket's branch element 3 points at
/// page 35, a stale free leaf of an older transaction that starts with the same revision. bbolt
/// reads the tree as sound and the live keys stay the same; the history does not: two records of
/// one key at or below the finished compaction (96), another key whose oldest record is a later
/// version. Returns the branch page.
pub fn misdirected_branch(d: &mut [u8]) -> usize {
    let s = shape(d);
    let e = branch_elem(s.key_root, 3);
    assert_eq!(u64_at(d, e + 8), 82, "the k8s-0.005.member.db this damage was worked out on");
    put_u64(d, e + 8, 35);
    s.key_root
}

/// `k8s-0.005.member.db` (compacted at 96) with the `key` root's branch element 16 removed (its
/// child, leaf 11, holding revisions 102 and 103, stays in the file, unreachable): bbolt reads the
/// tree as sound, the keys are in order, every record checks out; only etcd's rule that no
/// revision above the compaction is missing tells. Returns the lost revisions.
pub fn leaf_unlinked(d: &mut [u8]) -> [u64; 2] {
    let s = shape(d);
    let (p, i) = (s.key_root, 16);
    assert_eq!(u64_at(d, branch_elem(p, i) + 8), 11, "the k8s-0.005.member.db this damage was worked out on");
    repack(d, p, &|j| j != i);
    [102, 103]
}

/// Page `page` (a leaf or a branch of one page, little-endian) rewritten holding only the
/// elements `keep` keeps, laid out as bbolt writes a page (keys and values packed right after the
/// element headers, the rest zero): a page that lost elements the way a stale or damaged page
/// written whole by bbolt would, with no trace in its layout.
pub fn repack(d: &mut [u8], page: usize, keep: &dyn Fn(usize) -> bool) {
    let base = page * PS;
    let leaf = u16_at(d, base + 8) == 0x02;
    assert!(leaf || u16_at(d, base + 8) == 0x01, "a leaf or a branch");
    assert_eq!(u32_at(d, base + 12), 0, "one page");
    let (pos_at, ks_at) = if leaf { (4, 8) } else { (0, 4) };
    let kept: Vec<(Vec<u8>, Vec<u8>)> = (0..u16_at(d, base + 10))
        .filter(|&i| keep(i))
        .map(|i| {
            let e = base + 16 + 16 * i;
            let (pos, ks) = (u32_at(d, e + pos_at), u32_at(d, e + ks_at));
            let vs = if leaf { u32_at(d, e + 12) } else { 0 };
            (d[e..e + 16].to_vec(), d[e + pos..e + pos + ks + vs].to_vec())
        })
        .collect();
    d[base + 16..base + PS].fill(0);
    let mut data = base + 16 + 16 * kept.len();
    for (j, (header, bytes)) in kept.iter().enumerate() {
        let e = base + 16 + 16 * j;
        d[e..e + 16].copy_from_slice(header);
        d[e + pos_at..e + pos_at + 4].copy_from_slice(&((data - e) as u32).to_le_bytes());
        d[data..data + bytes.len()].copy_from_slice(bytes);
        data += bytes.len();
    }
    d[base + 10..base + 12].copy_from_slice(&(kept.len() as u16).to_le_bytes());
}

/// A stale page reached by a damaged pointer whose branch key is left as it was: in
/// `k8s-0.005.member.db`, the `key` root's element 2 (branch key revision 22, leaf 80) pointed at
/// free leaf 21, an older leaf holding revisions 24 and 25 (records compaction deleted since).
/// `check` fails it (the branch key differs from its child's first key); the records of leaf 80
/// are still in the file, unreachable.
pub fn stale_leaf_behind_other_key(d: &mut [u8]) {
    let s = shape(d);
    let e = branch_elem(s.key_root, 2);
    assert_eq!(u64_at(d, e + 8), 80, "the k8s-0.005.member.db this damage was worked out on");
    put_u64(d, e + 8, 21);
}
