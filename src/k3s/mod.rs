//! k3s and RKE2: their etcd snapshot file names and sidecar metadata, and whether a token opens
//! a snapshot's bootstrap data.
//!
//! - [`name`]: `etcd-snapshot-<node>-<unix seconds>` (scheduled) and
//!   `on-demand-<node>-<unix seconds>` (`k3s etcd-snapshot save`), optionally `.zip`;
//! - [`metadata`]: the JSON k3s writes beside a snapshot, in `<snapshot dir>/../.metadata/`;
//! - [`token`] and [`bootstrap`]: the `/bootstrap/<hash>` key and its encrypted value.
//!
//! Compressed (`.zip`) snapshots themselves are read by [`crate::input::expand`].

pub mod bootstrap;
pub mod metadata;
pub mod name;
pub mod token;
