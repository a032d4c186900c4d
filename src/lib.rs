//! boltscope: reads etcd snapshots and bbolt database files offline, through a read-only memory
//! map, and tells the truth about them.
//!
//! The layers, lowest first (a layer never imports a higher one):
//! - [`bbolt`]: the file format, read and written side by side, and the checked walks over it;
//! - [`write`](mod@write): the writer (page encoding, bulk-loaded trees, the output pipeline, the copier);
//! - [`etcd`]: etcd's meaning on top of bbolt (revisions, records, the MVCC keep rule, status,
//!   HashKV, the snapshot trailer);
//! - [`analysis`]: `inspect`, `check`, the size prediction, `du`, `diff`, `trend`, residue and
//!   the encryption audit;
//! - [`compact`]: the compact and salvage jobs (temporary file, verification, fsync, rename);
//! - [`index`]: the redb database that remembers analysed files.
//!
//! [`k8s`] understands what Kubernetes stores in etcd (keys, storage encodings, objects) and
//! stands beside [`etcd`]: it reads bytes, and borrows only etcd's protobuf varint reader.
//! [`k3s`] reads what k3s and RKE2 add: their snapshot names and metadata, and the bootstrap data
//! a server token opens.
//!
//! Beside them: [`error`] (a file that cannot be read), [`problem`] (what is wrong in a file that
//! can), [`input`] (a path to bytes), and [`sys`], which holds every `unsafe` line.
//!
//! The library works on any `&[u8]`: build a [`DbView`] over the bytes, then walk it
//! ([`bbolt::structure::walk`]) with a [`bbolt::walker::Fold`], or ask for etcd's status figures
//! ([`etcd::status::status`]).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use boltscope::etcd::status::{self, EtcdVersion, Format};
//! let data = std::fs::read("fixtures/tiny-1.snap.db")?;
//! let view = boltscope::DbView::new(&data)?; // meta pages, byte order, page size
//! let r = status::status(&view, EtcdVersion::Auto)?;
//! assert!(r.structure.is_clean());
//! // What etcdutl 3.5.1 printed for this file (fixtures/tiny-1.snap.db.status.simple):
//! assert_eq!(status::render(&r.status, Format::Simple), "feb15e67, 9, 14, 20 kB\n");
//! # Ok(()) }
//! ```
//!
//! Hostile input is expected: every read is bounds-checked, every walk keeps a visited set and a
//! depth bound, and problems name their page id and byte offset.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod analysis;
pub mod bbolt;
pub mod compact;
pub mod error;
pub mod etcd;
pub mod index;
pub mod input;
pub mod k3s;
pub mod k8s;
pub mod problem;
pub mod sys;
pub mod write;

pub use bbolt::view::DbView;
pub use error::Error;
pub use problem::{Problem, ProblemKind};
