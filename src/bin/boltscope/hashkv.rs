//! `hashkv`: etcd's HashKV of the file at a revision, as `etcdutl hashkv` (3.6) prints it, without
//! opening the file for writing.

use crate::exit::Verdict;
use crate::goflag;
use crate::index::Ix;
use crate::keyread::{self, Failure};
use boltscope::etcd::hashkv::{self, HashError};
use boltscope::etcd::schema;
use boltscope::etcd::status::Format;
use boltscope::input;
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// Arguments of `hashkv`.
#[derive(Parser, Debug)]
// A repeated option: the last one counts, as with etcdctl.
#[command(args_override_self = true)]
pub struct HashkvArgs {
    /// The etcd file: a snapshot, `member/snap/db`, or either compressed.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The revision to hash at (0: the current one; a negative one hashes no entry, as etcd's
    /// HashByRev). Read as etcdctl reads integers: `0x` hex, `0o`/leading-`0` octal, `0b` binary.
    #[arg(long, default_value_t = 0, value_name = "R", allow_hyphen_values = true, value_parser = goflag::parse_i64)]
    pub rev: i64,
    /// Output format, as etcdutl's `-w`.
    #[arg(short = 'w', long = "write-out", value_enum, default_value_t = HashFormat::Simple)]
    pub write_out: HashFormat,
    #[command(flatten)]
    pub hash: keyread::HashArgs,
}

/// `-w` values.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashFormat {
    /// `hash, hash revision, compact revision`.
    Simple,
    /// A boxed table.
    Table,
    /// One JSON object.
    Json,
    /// `"Field" : value` lines.
    Fields,
    /// Refused, as etcdutl refuses it.
    Protobuf,
}

/// Runs `hashkv`.
pub fn run(a: &HashkvArgs, ix: &Ix) -> Verdict {
    let format = match a.write_out {
        HashFormat::Simple => Format::Simple,
        HashFormat::Table => Format::Table,
        HashFormat::Json => Format::Json,
        HashFormat::Fields => Format::Fields,
        HashFormat::Protobuf => {
            return keyread::fail(&a.file, &Failure::Usage("protobuf not supported as output format".into()))
        }
    };
    let res = input::read_consistent(&a.file, |data| {
        let view = match keyread::view(data, None) {
            Ok(v) => v,
            Err(Failure::Unreadable(e)) => return Err(e),
            Err(f) => return Ok(Err(f)),
        };
        if !schema::is_etcd(&view) {
            return Ok(Err(keyread::not_etcd(&view)));
        }
        let hashed = hashkv::at(&view, a.rev).map_err(|e| match e {
            HashError::Rev(r) => Failure::Etcd(r.mvcc().to_string()),
            HashError::Unreadable(p) => Failure::Damaged(p),
        });
        let remembered = ix.failure(&a.file, data);
        Ok(hashed.map(|(h, judged)| (h, judged, keyread::file_issues(data, None, a.hash), remembered)))
    });
    match res {
        Err(e) => keyread::fail(&a.file, &Failure::Unreadable(e)),
        Ok((Err(f), _)) => keyread::fail(&a.file, &f),
        Ok((Ok((h, judged, file, remembered)), torn)) => {
            out!("{}", hashkv::render(&h, format));
            if torn {
                return keyread::torn(&a.file);
            }
            keyread::judged(&a.file, &judged)
                .max(keyread::tell_file_issues(&a.file, &file))
                .max(keyread::tell_remembered(&a.file, remembered))
        }
    }
}
