//! Standard output and standard error, written without ever panicking: `println!` panics when
//! standard output cannot be written (a full disk behind `> report.json`, a closed descriptor),
//! and a command that ignored the error exited 0 with its report lost.
//!
//! Every write to standard output goes through [`stdout`] (or the [`outln!`]/[`out!`] macros):
//! the first error is remembered, and [`settle`] (called once, by `main`, after the command)
//! flushes, tells it in one line and makes the exit code 2, whatever the command decided. A
//! closed pipe (`boltscope scan | head`) is not an error: SIGPIPE ends the process quietly, and
//! where it is ignored, `EPIPE` stops the output without a word. Standard error is written with
//! [`errln!`]/[`errout!`], whose errors are dropped: there is nowhere left to tell them.

use crate::exit::Verdict;
use std::io::{ErrorKind, Write};
use std::sync::Mutex;

/// The first error writing standard output met.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Remembers a failed write to standard output (the first one; a closed pipe or an interrupted
/// call is not a failure).
pub fn failed(e: &std::io::Error) {
    if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::Interrupted) {
        return;
    }
    let mut f = FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if f.is_none() {
        *f = Some(e.to_string());
    }
}

/// Standard output, locked, its write errors remembered.
pub struct Stdout(std::io::StdoutLock<'static>);

/// [`Stdout`], locked for as long as it lives.
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

impl Write for Stdout {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.write(b).inspect_err(failed)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().inspect_err(failed)
    }
}

/// Writes formatted text to standard output (the [`out!`]/[`outln!`] macros).
pub fn print(args: std::fmt::Arguments<'_>) {
    let _ = stdout().write_fmt(args);
}

/// Writes formatted text to standard error, dropping any error (the [`errln!`]/[`errout!`] macros).
pub fn eprint(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// The exit verdict once the command is done: its own, or 2 (told in one line) when any write to
/// standard output failed, the final flush included.
pub fn settle(v: Verdict) -> Verdict {
    let _ = stdout().flush();
    let failed = FAILED.lock().unwrap_or_else(|p| p.into_inner()).take();
    match failed {
        None => v,
        Some(e) => {
            eprint(format_args!("boltscope: writing to standard output failed: {e}; the output is incomplete\n"));
            v.max(Verdict::Unreadable)
        }
    }
}

/// `print!` that never panics (see the module docs).
macro_rules! out {
    ($($t:tt)*) => { $crate::out::print(format_args!($($t)*)) };
}

/// `println!` that never panics (see the module docs).
macro_rules! outln {
    () => { $crate::out::print(format_args!("\n")) };
    ($($t:tt)*) => { $crate::out::print(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprint!` that never panics.
macro_rules! errout {
    ($($t:tt)*) => { $crate::out::eprint(format_args!($($t)*)) };
}

/// `eprintln!` that never panics.
macro_rules! errln {
    () => { $crate::out::eprint(format_args!("\n")) };
    ($($t:tt)*) => { $crate::out::eprint(format_args!("{}\n", format_args!($($t)*))) };
}
