//! Analyses built on the format and etcd layers: `inspect` (everything about a file from one
//! pass, as a report that is the stable JSON schema), `check` (every problem, and CI gates), and
//! the size a compaction plus defrag would leave (`predict`).

pub mod check;
pub mod inspect;
pub mod predict;
pub mod report;
