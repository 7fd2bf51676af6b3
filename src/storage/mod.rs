//! Where a run reads and writes: a local folder, or an S3 prefix.
//!
//! Every flag that takes a folder or a file (`--history`, `--baseline`, `--out-dir`,
//! `--save-inventory`, `--from-inventory`) also takes `s3://bucket/prefix/` (a prefix) or
//! `s3://bucket/key` (one object) ([`Location`]). The pipeline reads and writes local
//! folders only, with the local folder's guarantees (checked readers, exclusive temporary
//! files, a set committed whole); for an S3 location the run works in a private temporary
//! folder: what it reads is copied there first ([`S3::get`], bounded in size), and what it
//! wrote is published from there at the end, with S3's own tools for the same guarantees:
//!
//! - a report set goes under a prefix of its own (`runs/<start>-<nonce>/`), then the
//!   history record, then the pointer `current.json` that names the set, last
//!   ([`sets`]); a reader that follows the pointer never sees a mixed set;
//! - a history record is created with `If-None-Match: *`, so two jobs never overwrite each
//!   other's; pruning deletes only records of the run's own key;
//! - the output prefix is leased by a conditional write ([`lease`]) for the run.
//!
//! Messages and reports name the S3 location, never the temporary folder ([`shown`]).

pub mod lease;
mod location;
pub mod s3;
pub mod sets;
pub mod shown;

pub use location::{Location, S3Url};
pub use s3::{Moved, S3, S3Options, Write, Written};
