//! The `boltscope` binary: parses arguments, runs the command, maps the outcome to an exit code.

mod check_out;
mod cli;
mod compact_out;
mod inspect_out;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let code = match &cli.command {
        cli::Command::Status(args) => output::run_status(args),
        cli::Command::Inspect(args) => output::run_inspect(args),
        cli::Command::Check(args) => check_out::run(args),
        cli::Command::Compact(args) => compact_out::run(args),
    };
    ExitCode::from(code)
}
