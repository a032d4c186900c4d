//! The one exit-code policy, for every command: 0 clean, 1 problems found or a gate failed (or,
//! for `diff`, the files differ), 2 a file could not be read, the command line was wrong or the
//! output could not be written ([`crate::out::settle`]), 130 interrupted. Commands report a [`Verdict`] per file; the worst one is the exit code. Library
//! errors map here and nowhere else.

use boltscope::compact::salvage::SalvageReport;
use boltscope::compact::{Class, CompactError};
use boltscope::Error;

/// What a command found, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Everything read and clean, every gate met.
    Clean,
    /// Problems found, a gate failed, or (for `diff`) a difference.
    Problems,
    /// A file could not be read, or the command line was wrong.
    Unreadable,
}

/// Exit code of a run stopped by Ctrl-C, SIGTERM or a closed terminal (128 + SIGINT, as shells
/// report it).
pub const INTERRUPTED: u8 = 130;

/// For every command: on Ctrl-C, SIGTERM or a closed terminal, removes the unfinished copy of a
/// `compact` or `salvage` (it would otherwise stay behind as a hidden file as large as the
/// result; DST appears only by the final rename, complete), says so, and exits [`INTERRUPTED`]
/// (a read-only command was killed by SIGTERM and SIGHUP: 143 and 129).
pub fn on_interrupt(command: String) {
    let handled = ctrlc::set_handler(move || {
        let n = boltscope::compact::unfinished::remove_all();
        let what = if n > 0 { "; the unfinished copy was removed" } else { "" };
        errln!("boltscope: {command} interrupted{what}");
        std::process::exit(i32::from(INTERRUPTED));
    });
    if let Err(e) = handled {
        errln!(
            "boltscope: warning: cannot handle interrupts ({e}); an interrupted compact may leave a .boltscope-* file"
        );
    }
}

/// The exit code of a command line clap answered itself: `--help` and `--version` printed, 0, or
/// 2 when that output could not be written (review 42c: `help >/dev/full` exited 0); a usage error
/// printed with its usage, 2.
pub fn clap_error(e: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    use std::io::Write;
    let printed = e.print().and_then(|()| std::io::stdout().flush());
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => match printed {
            Ok(()) => 0,
            Err(err) => {
                errln!("boltscope: writing to standard output failed: {err}; the output is incomplete");
                Verdict::Unreadable.code()
            }
        },
        _ => u8::try_from(e.exit_code()).unwrap_or(Verdict::Unreadable.code()),
    }
}

/// The help text every command shows about exit codes.
pub const HELP: &str = "Exit codes: 0 clean (every gate met); 1 problems found or a gate failed; \
2 a file could not be read, the command line was wrong, or the output could not be written; 130 \
interrupted.";

/// The exit codes a command's `--help` ends with: [`HELP`], or the command's own meaning of them.
pub fn help_for(command: &str) -> &'static str {
    match command {
        "compact" => {
            "Exit codes: 0 DST written (and verified), SRC sound or with warnings only; 1 SRC refused for its \
             contents (damage, a trailer that does not match, a newer meta page that is invalid, a record etcd \
             cannot read, a file that kept changing), or DST written (and verified) but SRC has errors outside \
             the tree it copies; 2 SRC unreadable, DST not writable, or a bad option; 130 interrupted."
        }
        "salvage" => {
            "Exit codes: 0 written, nothing lost or uncertain; 1 written, something lost or uncertain; 2 nothing \
             could be written (SRC unreadable as a database, DST not writable, a bad option); 130 interrupted."
        }
        "diff" => {
            "Exit codes: 0 the live states are equal; 1 they differ, or the files are at the same revision but \
             their histories differ (INCONSISTENT: one of them went wrong), or either file has a problem (a \
             damaged one is not compared: its problems are listed, in JSON too); 2 a file could not be read, or \
             is not etcd's, the command line was wrong, or the output could not be written; 130 interrupted."
        }
        "completions" | "man" => {
            "Exit codes: 0 printed; 2 the command line was wrong or the output could not be written; 130 \
             interrupted."
        }
        _ => HELP,
    }
}

impl Verdict {
    /// The exit code.
    pub fn code(self) -> u8 {
        match self {
            Verdict::Clean => 0,
            Verdict::Problems => 1,
            Verdict::Unreadable => 2,
        }
    }

    /// Problems when `bad`, else clean.
    pub fn problems_if(bad: bool) -> Verdict {
        if bad {
            Verdict::Problems
        } else {
            Verdict::Clean
        }
    }

    /// The verdict for a file that could not be read at all.
    pub fn of_error(_e: &Error) -> Verdict {
        Verdict::Unreadable
    }

    /// The verdict for a refused or failed compaction: SRC's contents (damage, a bad trailer, a
    /// file that kept changing) are problems; a DST that may not be written, a bad option, an
    /// unreadable SRC or a failed write are not.
    pub fn of_compact(e: &CompactError) -> Verdict {
        match e.class() {
            Class::Contents => Verdict::Problems,
            Class::Usage | Class::Unreadable => Verdict::Unreadable,
        }
    }

    /// The verdict for a salvage: clean when the copy was written and nothing is lost or
    /// uncertain, problems when it was written but something is, unreadable when nothing could
    /// be written (whatever the reason).
    pub fn of_salvage(r: &Result<SalvageReport, CompactError>) -> Verdict {
        match r {
            Ok(r) => Verdict::problems_if(!r.lossless),
            Err(_) => Verdict::Unreadable,
        }
    }

    /// The worst of several verdicts (clean when there are none).
    pub fn worst(it: impl IntoIterator<Item = Verdict>) -> Verdict {
        it.into_iter().max().unwrap_or(Verdict::Clean)
    }
}
