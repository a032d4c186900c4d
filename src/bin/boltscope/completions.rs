//! `completions` and `man`: shell completion scripts and the manual page, generated from the
//! same command line definition the binary parses (`clap_complete`, `clap_mangen`), so they never
//! drift from it.

use crate::exit::Verdict;
use clap::Parser;
use clap_complete::Shell;

/// Arguments of `completions`.
#[derive(Parser, Debug)]
pub struct CompletionsArgs {
    /// The shell to write the script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `man`.
#[derive(Parser, Debug)]
pub struct ManArgs {}

/// Writes the completion script for the shell to standard output.
pub fn completions(a: &CompletionsArgs) -> Verdict {
    let mut cmd = crate::cli::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "boltscope", &mut script);
    let _ = std::io::Write::write_all(&mut crate::out::stdout(), &script);
    Verdict::Clean
}

/// Writes the manual page to standard output: the top-level page, then a section per command
/// with its description and options.
pub fn man(_a: &ManArgs) -> Verdict {
    let cmd = crate::cli::command();
    let mut page = Vec::new();
    let rendered = clap_mangen::Man::new(cmd.clone()).render(&mut page).and_then(|()| {
        for sub in cmd.get_subcommands() {
            page.extend_from_slice(format!(".SH \"BOLTSCOPE {}\"\n", sub.get_name().to_uppercase()).as_bytes());
            let m = clap_mangen::Man::new(sub.clone());
            m.render_description_section(&mut page)?;
            m.render_options_section(&mut page)?;
            m.render_extra_section(&mut page)?;
        }
        Ok(())
    });
    if let Err(e) = rendered {
        errln!("boltscope: man: {e}");
        return Verdict::Unreadable;
    }
    // A failed write is told by `out::settle`.
    let _ = std::io::Write::write_all(&mut crate::out::stdout(), &page);
    Verdict::Clean
}
