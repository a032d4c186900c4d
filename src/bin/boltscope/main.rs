//! The `boltscope` binary: parses arguments, runs the command, maps the outcome to an exit code.

mod check_out;
mod cli;
mod compact_out;
mod history_out;
mod index;
mod inspect_out;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // compact neither reads nor records anything: it leaves the index to other processes.
    let ix = if matches!(cli.command, cli::Command::Compact(_)) { index::Ix::none() } else { index::Ix::open(&cli) };
    let code = match &cli.command {
        cli::Command::Status(args) => output::run_status(args, &ix),
        cli::Command::Inspect(args) => output::run_inspect(args, &ix),
        cli::Command::Check(args) => check_out::run(args, &ix),
        cli::Command::Compact(args) => compact_out::run(args),
        cli::Command::History(args) => history_out::history(args, &ix),
        cli::Command::Scan(args) => history_out::scan(args, &ix),
    };
    ExitCode::from(code)
}
