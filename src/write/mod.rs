//! The writer: bbolt pages encoded from the same codecs the reader uses ([`crate::bbolt`]),
//! trees bulk-loaded bottom-up with bbolt's split rule, a three-thread pipeline to the output,
//! and the copier that rebuilds a whole file. It knows nothing of etcd: what a copy keeps is
//! decided by a [`copier::Filter`] from above.

pub mod copier;
mod node;
mod output;
pub(crate) mod pipeline;
mod tree;
