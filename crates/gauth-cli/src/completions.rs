//! `gauth completions bash|zsh|fish|elvish|powershell`: shell completions, by clap_complete.

use clap_complete::Shell as Target;

use crate::args::Shell;
use crate::out::{self, Failure};

pub fn completions(shell: Shell, mut command: clap::Command) -> Result<(), Failure> {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
        Shell::Elvish => Target::Elvish,
        Shell::Powershell => Target::PowerShell,
    };
    // Into memory first: clap_complete panics when its writer fails, and a closed stdout
    // must end the command quietly.
    let mut script = Vec::new();
    clap_complete::generate(target, &mut command, "gauth", &mut script);
    let text = String::from_utf8(script)
        .map_err(|_| Failure::Error("the completion script is not UTF-8".into()))?;
    out::line(text.trim_end())
}
