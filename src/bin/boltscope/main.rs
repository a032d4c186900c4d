//! The `boltscope` binary: parses the command line, runs one command, and turns its verdict into
//! the exit code ([`exit`] holds the one policy). Each command lives in its own file, its
//! arguments beside the code that runs it and renders its output. Standard output and error
//! are written through [`out`], which never panics.

// Every `unsafe` line of the crate is in the library's `sys.rs`.
#![forbid(unsafe_code)]

#[macro_use]
mod out;
mod check;
mod cli;
mod commands;
mod compact;
mod completions;
mod diff;
mod diff_render;
mod du;
mod du_render;
mod dump;
mod exit;
mod get;
mod get_render;
mod goflag;
mod hashkv;
mod history;
mod history_du;
mod index;
mod inspect;
mod inspect_prom;
mod inspect_render;
mod keyfail;
mod keyread;
mod log;
mod report;
mod salvage;
mod scan;
mod source;
mod status;
mod trend;
mod trend_once;
mod trend_plot;
mod trend_render;
mod values;

use clap::FromArgMatches;
use cli::Command;
use std::process::ExitCode;

fn main() -> ExitCode {
    boltscope::sys::default_sigpipe();
    boltscope::sys::exit_on_sigbus(i32::from(exit::Verdict::Unreadable.code()));
    let matches = match cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return ExitCode::from(exit::clap_error(&e)),
    };
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    boltscope::input::set_max_expanded(cli.max_expanded_size);
    exit::on_interrupt(matches.subcommand_name().unwrap_or("boltscope").to_string());
    // compact and salvage record nothing: they leave the index to other processes. compact looks
    // up a failure it remembers only when it does not check the trailer itself.
    let ix = match &cli.command {
        Command::Compact(a) if a.skip_hash_check => index::Ix::open(&cli, "compact"),
        Command::Compact(_) | Command::Salvage(_) | Command::Completions(_) | Command::Man(_) => index::Ix::none(),
        _ => index::Ix::open(&cli, matches.subcommand_name().unwrap_or_default()),
    };
    let verdict = match &cli.command {
        Command::Status(args) => status::run(args, &ix),
        Command::Inspect(args) => inspect::run(args, &ix),
        Command::Check(args) => check::run(args, &ix),
        Command::Compact(args) => compact::run(args, &ix),
        Command::Salvage(args) => salvage::run(args),
        Command::Du(args) => du::run(args, &ix),
        Command::History(args) => history::run(args, &ix),
        Command::Scan(args) => scan::run(args, &ix),
        Command::Get(args) => get::run(args, &ix),
        Command::Log(args) => log::run(args, &ix),
        Command::Hashkv(args) => hashkv::run(args, &ix),
        Command::Dump(args) => dump::run(args, &ix),
        Command::Diff(args) => diff::run(args, &ix),
        Command::Trend(args) => trend::run(args, &ix),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    };
    ExitCode::from(out::settle(verdict).code())
}
