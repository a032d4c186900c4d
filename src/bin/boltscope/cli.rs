//! The command line: the global options, the commands ([`crate::commands`]; each command's own
//! arguments live in its file, beside the code that turns them into the library's options), and
//! the values several commands share.

pub use crate::commands::Command;
pub use crate::values::{parse_fraction, parse_hex32, parse_size};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// Reads etcd snapshots and bbolt database files offline, through a read-only memory map.
///
/// boltscope never opens its input for writing and never takes the lock a running etcd holds, so
/// it can read `member/snap/db` of a live member as well as a saved snapshot.
///
/// Exit codes, the same for every command: 0 clean (every gate met); 1 problems found, a gate
/// failed, or (diff) the files differ; 2 a file could not be read, the command line was wrong, or
/// the output could not be written; 130 interrupted.
#[derive(Parser, Debug)]
#[command(name = "boltscope", version = env!("BOLTSCOPE_VERSION"), about, long_about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The index database remembering analysed files [default: $BOLTSCOPE_INDEX, else
    /// $XDG_CACHE_HOME/boltscope/index.redb, else ~/.cache/boltscope/index.redb].
    #[arg(long, global = true, value_name = "PATH")]
    pub index: Option<PathBuf>,
    /// Use no index: neither read nor record anything.
    #[arg(long, global = true, conflicts_with = "index")]
    pub no_index: bool,
    /// Read the files again even when the index knows them (the answer is recorded anew).
    #[arg(long, global = true)]
    pub refresh: bool,
    /// Largest size a zip, gzip or zstd input may expand to (it is expanded into $TMPDIR); past
    /// it the file is refused as a zip bomb. Accepts 64GiB etc.
    #[arg(long, global = true, value_name = "BYTES", default_value = "64GiB", value_parser = parse_size)]
    pub max_expanded_size: u64,
}

/// The command line as every user of it sees it (parsing, completions, the manual page): each
/// command's `--help` ends with the exit codes, which are the same for all of them, and its
/// summary in the list of commands is its first paragraph on one line (the commands' doc comments
/// are kept verbatim for their examples, which would otherwise keep the source's line breaks in
/// the list too).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommands(|c| {
        let summary = c.get_about().map(|a| a.to_string().split_whitespace().collect::<Vec<_>>().join(" "));
        let footer = crate::exit::help_for(c.get_name());
        let c = c.after_long_help(footer);
        match summary {
            Some(s) => c.about(s),
            None => c,
        }
    })
}

/// `-w table|json`, for commands that print a report for people or JSON lines.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableJson {
    /// Aligned text.
    Table,
    /// JSON: one object per line (a file's report, or a comparison).
    Json,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_summary_is_one_line_and_every_help_ends_with_the_exit_codes() {
        let cmd = super::command();
        let mut seen = 0;
        for c in cmd.get_subcommands() {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(!about.is_empty(), "{}", c.get_name());
            assert!(!about.contains('\n'), "{}: {about:?}", c.get_name());
            let help = c.clone().render_long_help().to_string();
            assert!(
                help.split_whitespace().collect::<Vec<_>>().join(" ").ends_with("130 interrupted."),
                "{}: {help}",
                c.get_name()
            );
            // The exit codes once, each command's own where it has them.
            assert_eq!(help.matches("Exit codes:").count(), 1, "{}: {help}", c.get_name());
            // Examples that fit the width clap wraps at, so they can be copied whole.
            let about = c.get_long_about().map(|a| a.to_string()).unwrap_or_default();
            let long = about.lines().find(|l| l.starts_with("  boltscope ") && l.len() > 98);
            assert_eq!(long, None, "{}: an example clap would wrap", c.get_name());
            seen += 1;
        }
        assert!(seen >= 15, "{seen} commands");
    }
}
