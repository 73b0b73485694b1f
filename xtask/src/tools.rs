//! Cargo subcommands the tasks need, installed under `TARGET/tools` once and reused: no
//! global install, no root, and `cargo clean` removes them with everything else.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A crate installed with `cargo install --locked` at a pinned version.
pub struct Tool {
    /// The crate.
    pub krate: &'static str,
    /// The pinned version (a newer one may read `deny.toml` differently).
    pub version: &'static str,
    /// Its binary.
    pub bin: &'static str,
}

/// cargo-deny, for `cargo deny check licenses bans sources` (`deny.toml`).
pub const CARGO_DENY: Tool = Tool {
    krate: "cargo-deny",
    version: "0.20.2",
    bin: "cargo-deny",
};

/// cargo-fuzz, for `cargo xtask fuzz`.
pub const CARGO_FUZZ: Tool = Tool {
    krate: "cargo-fuzz",
    version: "0.13.2",
    bin: "cargo-fuzz",
};

/// `TARGET/tools`, the `--root` of the installs.
pub fn dir(target: &Path) -> PathBuf {
    target.join("tools")
}

/// The folder holding `tool`'s binary, installing it there first when it is missing or
/// of another version.
pub fn ensure(target: &Path, tool: &Tool) -> Result<PathBuf, String> {
    let root = dir(target);
    let bin_dir = root.join("bin");
    let bin = bin_dir.join(tool.bin);
    let installed = Command::new(&bin).arg("--version").output().is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains(tool.version)
    });
    if installed {
        eprintln!(
            "==> {} {}: reusing {}",
            tool.krate,
            tool.version,
            bin.display()
        );
        return Ok(bin_dir);
    }
    let mut install = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    install
        .args([
            "install",
            "--locked",
            "--force",
            "--version",
            tool.version,
            "--root",
        ])
        .arg(&root)
        .arg(tool.krate)
        // Its build goes to a temporary directory of its own, not the workspace's.
        .env_remove("CARGO_TARGET_DIR")
        .current_dir(target);
    std::fs::create_dir_all(target).map_err(|e| format!("{}: {e}", target.display()))?;
    super::run(
        &format!(
            "cargo install {} {} --root {} (once; a few minutes of compiling)",
            tool.krate,
            tool.version,
            root.display()
        ),
        &mut install,
    )?;
    Ok(bin_dir)
}

/// `PATH` with `dir` in front, so that `cargo <tool>` finds the tool there first.
pub fn path_with(dir: &Path) -> OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
}
