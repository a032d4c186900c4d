//! Input files in containers: every read command accepts a database as it is, or compressed.
//!
//! [`expand`] recognises the file by its first bytes ([`sniff`]), never by its name:
//!
//! | container | magic | what is read | checked |
//! |---|---|---|---|
//! | zip | `PK\x03\x04` (`PK\x05\x06`: empty) | exactly one entry, Deflate or Stored, not encrypted; zip64 too | entry CRC-32 and size from the central directory |
//! | gzip | `1f 8b` | every member, concatenated (as `gzip -d`); zero padding after the last is ignored | each member's trailer CRC-32 and ISIZE, header CRC-16 if present |
//! | zstd | `28 b5 2f fd` | every frame, concatenated (as `zstd -d`); window up to 128 MiB | each frame's XXH64 content checksum, when the frame has one |
//! | plain | anything else | the file itself, no copy | nothing here |
//!
//! A container is streamed through its decoder into an unlinked temporary file in `$TMPDIR`
//! (`tempfile::tempfile()`) with fixed-size buffers, so memory stays bounded whatever the size;
//! the caller maps the returned [`Expanded::file`] read-only. Expansion stops at a limit
//! ([`DEFAULT_MAX_EXPANDED`] is the CLI's default) without writing past it.
//!
//! k3s and RKE2 `--etcd-snapshot-compress` snapshots are zip archives written by Go's
//! archive/zip: one Deflate entry named like the archive without `.zip`, with a data descriptor;
//! [`expand`] reads them, and gives the entry's name.
//!
//! Files users pass by mistake are named, not decoded ([`NotDatabase`], with a hint): an etcd WAL
//! segment, tar, xz, bzip2 and lz4, also when found inside a container.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use boltscope::input::{expand, Container, DEFAULT_MAX_EXPANDED};
//! let e = expand(std::path::Path::new("fixtures/archives/tiny-1.snap.db.gz"), DEFAULT_MAX_EXPANDED)?;
//! assert_eq!((e.container, e.expanded_size), (Container::Gzip, 20512));
//! # Ok(()) }
//! ```

mod copy;
mod error;
mod expand;
mod gzip;
mod sniff;
mod zip;

pub use error::{InputError, LISTED_ENTRIES};
pub use expand::{expand, Expanded, DEFAULT_MAX_EXPANDED};
pub use sniff::{sniff, Container, NotDatabase, Sniffed, SNIFF_LEN};
