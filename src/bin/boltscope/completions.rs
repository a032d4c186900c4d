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

/// Writes the manual page to standard output: the top-level page, its list of commands, then a
/// section per command with its description and options. One page: the list names each
/// command's section, not a `boltscope-CMD(1)` page (none is installed).
pub fn man(_a: &ManArgs) -> Verdict {
    let cmd = crate::cli::command();
    let mut page = Vec::new();
    let top = clap_mangen::Man::new(cmd.clone());
    let rendered = (|| {
        top.render_title(&mut page)?;
        top.render_name_section(&mut page)?;
        top.render_synopsis_section(&mut page)?;
        top.render_description_section(&mut page)?;
        top.render_options_section(&mut page)?;
        page.extend_from_slice(commands_section(&cmd).as_bytes());
        top.render_extra_section(&mut page)?;
        top.render_version_section(&mut page)?;
        for sub in cmd.get_subcommands() {
            page.extend_from_slice(format!(".SH \"BOLTSCOPE {}\"\n", sub.get_name().to_uppercase()).as_bytes());
            let m = clap_mangen::Man::new(sub.clone());
            m.render_description_section(&mut page)?;
            m.render_options_section(&mut page)?;
            m.render_extra_section(&mut page)?;
        }
        Ok::<(), std::io::Error>(())
    })();
    if let Err(e) = rendered {
        errln!("boltscope: man: {e}");
        return Verdict::Unreadable;
    }
    // A failed write is told by `out::settle`.
    let _ = std::io::Write::write_all(&mut crate::out::stdout(), &page);
    Verdict::Clean
}

/// The `COMMANDS` section: each command's name and summary, and the section of this page that
/// tells it (roff: a tagged paragraph each; the summary's text escaped).
fn commands_section(cmd: &clap::Command) -> String {
    let mut o = String::from(".SH COMMANDS\n");
    for sub in cmd.get_subcommands() {
        let name = sub.get_name();
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let text = about.replace('\\', "\\e").replace('-', "\\-");
        o.push_str(&format!(".TP\n\\fB{name}\\fR\n\\&{text} (section BOLTSCOPE {} below)\n", name.to_uppercase()));
    }
    o
}
