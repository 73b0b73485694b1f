//! gauth's own automation, in Rust rather than shell scripts.
//!
//! - `cargo xtask test`: format check, clippy with warnings denied, rustdoc with warnings
//!   denied, then every workspace test, the interop suites included (Python google-auth,
//!   google-auth-oauthlib and google-api-python-client in a venv under `target/interop`,
//!   node's oidc-provider in `target/interop/node`, both installed once).
//! - `cargo xtask setup`: only the interop environment.
//! - `cargo xtask bench [--quick] [--json FILE] [--only CASES]`: gauth against its peers and
//!   the raw limits (see `bench/` and `docs/performance.md`); `--only media` for case 8.
//! - `cargo xtask fuzz [--time SECS] [TARGET]...`: the cargo-fuzz targets in `fuzz/`, with
//!   executions and findings per target (see `docs/reliability.md`).
//! - `cargo xtask man [--out DIR]`: the `gauth` man pages (`target/man` by default).

mod bench;
mod fuzz;
mod man;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("setup") => setup().map(|_| ()),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&root(), &args[1..]),
        Some("man") => man::man(&root(), &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test [--no-lint] | setup | bench [--quick] [--json FILE] [--only CASES] [--media-mib N] | fuzz [--time SECS] [TARGET]... | man [--out DIR]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    let start = Instant::now();
    eprintln!("==> {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    eprintln!("<== {step}: {:.1}s", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

/// Paths of the interop environment, handed to the tests as environment variables.
struct Interop {
    python: PathBuf,
    node_modules: PathBuf,
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn test(args: &[String]) -> Result<(), String> {
    let lint = !args.iter().any(|a| a == "--no-lint");
    let total = Instant::now();
    if lint {
        run(
            "cargo fmt --check",
            cargo().args(["fmt", "--all", "--check"]),
        )?;
        run(
            "cargo clippy",
            cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        run(
            "cargo doc",
            cargo()
                .args(["doc", "--no-deps", "--workspace"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )?;
    }
    deny()?;
    let interop = setup()?;
    run(
        "cargo test (workspace, interop suites included)",
        cargo()
            // The bench crate's peers are measured by `cargo xtask bench`, not tested here.
            .args([
                "test",
                "--workspace",
                "--exclude",
                "gauth-bench",
                "--no-fail-fast",
                "--",
                "--include-ignored",
            ])
            .env("GAUTH_PYTHON", &interop.python)
            .env("GAUTH_NODE_MODULES", &interop.node_modules)
            .env("GAUTH_CHROMIUM", &interop.chromium)
            .env("GAUTH_CHROMEDRIVER", &interop.chromedriver),
    )?;
    eprintln!(
        "xtask test: all steps passed in {:.1}s",
        total.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Licenses, duplicate versions and sources (`deny.toml`); no advisory download. Installs
/// cargo-deny when missing (about 3.5 minutes of compiling on a fresh machine); set
/// `GAUTH_SKIP_DENY=1` to leave the step out.
fn deny() -> Result<(), String> {
    if std::env::var_os("GAUTH_SKIP_DENY").is_some() {
        eprintln!("==> cargo deny: skipped (GAUTH_SKIP_DENY)");
        return Ok(());
    }
    let have = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        run(
            "cargo install --locked cargo-deny",
            Command::new("cargo").args(["install", "--locked", "cargo-deny"]),
        )?;
    }
    run(
        "cargo deny check licenses bans sources",
        cargo().args(["deny", "check", "licenses", "bans", "sources"]),
    )
}

/// Creates the venv and node_modules once; reinstalls when the pinned lists change.
fn setup() -> Result<Interop, String> {
    let dir = root().join("target").join("interop");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let spec = root().join("tests").join("interop");

    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let requirements = spec.join("requirements.txt");
    let marker = venv.join(".gauth-requirements");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        if !python.exists() {
            run(
                "python3 -m venv target/interop/venv",
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
            )?;
        }
        run(
            "pip install -r tests/interop/requirements.txt",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements),
        )?;
        std::fs::write(&marker, &wanted).map_err(|e| e.to_string())?;
    }

    let node = dir.join("node");
    std::fs::create_dir_all(&node).map_err(|e| e.to_string())?;
    let package = std::fs::read_to_string(spec.join("package.json")).map_err(|e| e.to_string())?;
    let node_marker = node.join(".gauth-package");
    if std::fs::read_to_string(&node_marker).ok().as_deref() != Some(package.as_str()) {
        std::fs::write(node.join("package.json"), &package).map_err(|e| e.to_string())?;
        run(
            "npm install (oidc-provider)",
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&node),
        )?;
        std::fs::write(&node_marker, &package).map_err(|e| e.to_string())?;
    }
    let (chromium, chromedriver) = browser()?;
    Ok(Interop {
        python,
        node_modules: node.join("node_modules"),
        chromium,
        chromedriver,
    })
}

/// Debian's Chromium and ChromeDriver for the real-browser test, installed when missing.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let driver = PathBuf::from("/usr/bin/chromedriver");
    if !(chromium.exists() && driver.exists()) {
        run(
            "apt-get update",
            Command::new("apt-get").args(["update", "-qq"]),
        )?;
        run(
            "apt-get install chromium chromium-driver",
            Command::new("apt-get")
                .args([
                    "install",
                    "-y",
                    "-qq",
                    "--no-install-recommends",
                    "chromium",
                    "chromium-driver",
                ])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    Ok((chromium, driver))
}
