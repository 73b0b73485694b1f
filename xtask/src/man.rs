//! `cargo xtask man [--out DIR]`: man pages for `gauth` and each of its commands
//! (`gauth.1`, `gauth-login.1`, ...), made by clap_mangen from the command line's own
//! definition, `crates/gauth-cli/src/args.rs`, compiled here as it is.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

#[allow(dead_code)] // xtask reads the definition, not parsed values
#[path = "../../crates/gauth-cli/src/args.rs"]
mod args;

pub fn man(target: &Path, argv: &[String]) -> Result<(), String> {
    let dir = match argv {
        [] => target.join("man"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => return Err("usage: cargo xtask man [--out DIR]".into()),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let command = args::Cli::command();
    clap_mangen::generate_to(command, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .collect();
    pages.sort();
    eprintln!(
        "xtask man: {} pages in {} (man -l {}): {}",
        pages.len(),
        dir.display(),
        dir.join("gauth.1").display(),
        pages.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_page_for_gauth_and_one_for_each_command() {
        let dir = std::env::temp_dir().join(format!("gauth-xtask-man-{}", std::process::id()));
        super::man(
            std::path::Path::new("."),
            &["--out".into(), dir.display().to_string()],
        )
        .unwrap();
        let top = std::fs::read_to_string(dir.join("gauth.1")).unwrap();
        assert!(top.contains("gauth\\-login(1)"), "{top}");
        let token = std::fs::read_to_string(dir.join("gauth-token.1")).unwrap();
        assert!(token.contains("\\-\\-credentials"), "{token}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
