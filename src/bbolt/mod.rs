//! The bbolt file format, read and written side by side: byte order and typed ids, page headers
//! and elements, meta pages, bucket values, the split rule; over them the checked view of a file,
//! the parallel walker and its folds, the structural pass with the freelist, the sequential
//! cursor, and bbolt's bucket statistics; for damaged files and free pages, carving (pages read
//! without the tree), the tolerant tree reader and the search for a tree without a valid meta
//! page. Nothing here knows etcd.

pub mod bitmap;
pub mod bucket;
pub mod carve;
pub mod cursor;
pub mod fold;
pub mod freelist;
mod increasing;
pub mod layout;
pub mod meta;
pub mod order;
pub mod page;
#[cfg(test)]
mod page_tests;
pub mod recover;
pub mod seq;
pub mod split;
pub mod stats;
pub mod structure;
pub mod tolerant;
mod tolerant_branch;
pub mod view;
pub mod walker;
