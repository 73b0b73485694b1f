//! The README's quick start, run as written: every line of its fenced block, in order, by
//! `sh` with the built `gauth` first on PATH and a private HOME, against the emulator that
//! its `gauth emulator` line starts. The only edits are the ones the README itself asks
//! for: `CLIENT_SECRETS`, `KEY_FILE` and `DISCOVERY_URL` become the values the emulator
//! printed. The browser's part in `gauth login` is played over HTTP (clicking Allow).

mod common;

use std::path::Path;
use std::process::Command;

use common::{EmulatorProcess, Home, ok, run_as_user};

/// The README's text.
fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the first ```sh block under `heading`, without blank lines.
fn block_under(text: &str, heading: &str) -> Vec<String> {
    let after = text
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no `{heading}` section"))
        .1;
    let body = after
        .split_once("```sh\n")
        .expect("a ```sh block")
        .1
        .split_once("```")
        .expect("the block ends")
        .0;
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The command part of a line, without its trailing comment.
fn command(line: &str) -> &str {
    line.split("  #").next().unwrap_or(line).trim()
}

#[test]
fn every_line_of_the_readmes_quick_start_runs_as_written_against_the_emulator() {
    let text = readme();
    let lines = block_under(&text, "## Quick start");
    assert!(
        lines.iter().any(|l| command(l) == "gauth emulator"),
        "the quick start starts the emulator: {lines:?}"
    );
    for placeholder in ["CLIENT_SECRETS", "KEY_FILE", "DISCOVERY_URL"] {
        assert!(
            text.contains(&format!("`{placeholder}`")),
            "the README says what {placeholder} stands for"
        );
    }

    let home = Home::new();
    let gauth_dir = Path::new(env!("CARGO_BIN_EXE_gauth")).parent().unwrap();
    let path = format!(
        "{}:{}",
        gauth_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut emulator: Option<EmulatorProcess> = None;
    let mut ran = 0;
    for line in &lines {
        if command(line) == "gauth emulator" {
            let emu = EmulatorProcess::start(&home);
            // The README's session is the banner's, with placeholders for its values.
            let banner = emu.banner_text();
            let session = banner
                .lines()
                .skip_while(|l| !l.starts_with("Try it"))
                .skip(1)
                .map(|l| {
                    l.trim()
                        .replace(&format!("'{}'", emu.discovery_url), "DISCOVERY_URL")
                        .replace(emu.client_secrets.to_str().unwrap(), "CLIENT_SECRETS")
                        .replace(emu.key.to_str().unwrap(), "KEY_FILE")
                });
            for s in session {
                assert!(
                    lines.iter().any(|l| command(l) == s),
                    "the banner's `{s}` is not in the README's quick start"
                );
            }
            emulator = Some(emu);
            continue;
        }
        let cmd = match &emulator {
            Some(emu) => line
                .replace("CLIENT_SECRETS", emu.client_secrets.to_str().unwrap())
                .replace("KEY_FILE", emu.key.to_str().unwrap())
                .replace("DISCOVERY_URL", &emu.discovery_url),
            None => line.clone(),
        };
        let mut sh = Command::new("sh");
        sh.args(["-c", &cmd]);
        home.apply(&mut sh);
        sh.env("PATH", &path);
        // The user's browser has a part in `gauth login` only (the demo plays its own).
        let out = if command(line).starts_with("gauth login") {
            run_as_user(sh)
        } else {
            sh.output().unwrap()
        };
        ok(line, &out);
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} lines ran");
}
