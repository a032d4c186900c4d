//! Analyses built on the format and etcd layers: `inspect` (everything about a file from one
//! pass, as a report that is the stable JSON schema), `check` (every problem, and CI gates), the
//! size a compaction plus defrag would leave (`predict`), what free pages still hold of deleted
//! data (`residue`), two files compared (`compare`: `diff`, `diff_groups`, `json_diff`,
//! `relation`), and backups over time (`trend`: `backup_files`, `backup_name`, `backup_point`).

pub mod backup_files;
pub mod backup_name;
pub mod backup_point;
pub mod check;
pub mod compare;
pub mod diff;
pub mod diff_groups;
pub mod du;
pub mod du_report;
pub mod encryption;
pub mod grouping;
pub mod inspect;
mod inspect_fold;
pub mod json_diff;
pub mod predict;
pub mod relation;
pub mod replay;
pub mod report;
pub mod residue;
pub mod resources;
pub mod trend;
