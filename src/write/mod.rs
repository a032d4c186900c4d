//! The writer: bbolt pages encoded from the same codecs the reader uses ([`crate::bbolt`]),
//! trees bulk-loaded bottom-up with bbolt's split rule, a three-thread pipeline to the output,
//! the copier that rebuilds a whole file, and [`buckets`], which writes one from sorted entries
//! that come from anywhere. It knows nothing of etcd: what a copy keeps is
//! decided by a [`copier::Filter`] from above.

pub mod buckets;
pub mod copier;
mod node;
mod output;
pub(crate) mod pipeline;
mod tree;
