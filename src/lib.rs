//! boltscope: reads etcd snapshots and bbolt database files offline, through a read-only memory
//! map, and tells the truth about them.
//!
//! The library works on any `&[u8]`: build a [`view::DbView`] over the bytes, then walk it
//! ([`walk::walk`]) with a [`btree::Fold`], or ask for etcd's status figures
//! ([`status::status`]). [`db`] maps files (and holds the crate's only `unsafe`).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let data = std::fs::read("fixtures/tiny-1.snap.db")?;
//! let view = boltscope::DbView::new(&data)?; // meta pages, byte order, page size
//! let r = boltscope::status::status(&view, boltscope::status::EtcdVersion::Auto)?;
//! assert!(r.structure.is_clean());
//! // What etcdutl 3.5.1 printed for this file (fixtures/tiny-1.snap.db.status.simple):
//! assert_eq!(boltscope::status::render(&r.status, boltscope::status::Format::Simple), "feb15e67, 9, 14, 20 kB\n");
//! # Ok(()) }
//! ```
//!
//! Hostile input is expected: every read is bounds-checked, every walk keeps a visited set and a
//! depth bound, and problems name their page id and byte offset.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod bitmap;
pub mod btree;
mod bulk;
pub mod cache;
pub mod check;
pub mod compact;
pub mod compact_file;
mod compact_read;
pub mod cursor;
pub mod db;
pub mod error;
pub mod etcd;
pub mod fold;
pub mod freelist;
pub mod humanize;
pub mod input;
pub mod inspect;
pub mod k3s;
pub mod meta;
pub mod page;
mod pipeline;
pub mod predict;
pub mod report;
pub mod stats;
pub mod status;
pub mod trailer;
pub mod unfinished;
pub mod view;
pub mod walk;

pub use error::{Error, Problem, ProblemKind};
pub use view::DbView;
