//! gauth's own automation, in Rust rather than shell scripts.
//!
//! - `cargo xtask test [--no-lint] [--jobs N]`: format check, `cargo deny`, then every
//!   workspace test (the interop suites and the doc-tests included), clippy and rustdoc with
//!   warnings denied, several at a time (see `suites.rs`); a table of what ran and how long
//!   each part took at the end. Before the tests, the facade's build shape: its crate counts
//!   within the limits of issue 13 (no crate linked twice), the declared MSRV satisfied by
//!   the toolchain and every dependency; beside the tests, every feature combination
//!   compiling (`GAUTH_SKIP_FEATURES` skips it). Needs no root and installs
//!   nothing outside the target directory: the Python venv (google-auth,
//!   google-auth-oauthlib, google-api-python-client) and node's oidc-provider go to
//!   `TARGET/interop`, cargo-deny to `TARGET/tools`, each once. Machine-wide packages
//!   (Chromium, ChromeDriver, redis-server) are the business of `.ci/run` on CI; a suite
//!   whose program is missing says so in one line and skips (and fails under `CI=true`).
//! - `cargo xtask setup`: only the interop environment.
//! - `cargo xtask bench [--quick] [--json FILE] [--only CASES]`: gauth against its peers and
//!   the raw limits (see `bench/` and `docs/performance.md`); `--only media` for case 8.
//! - `cargo xtask fuzz [--time SECS] [TARGET]...`: the cargo-fuzz targets in `fuzz/`, with
//!   executions and findings per target (see `docs/reliability.md`).
//! - `cargo xtask man [--out DIR]`: the `gauth` man pages (`target/man` by default).
//! - `cargo xtask shape [--no-check]`: the facade's build-shape steps of `test` alone (crate
//!   limits, MSRV, and unless `--no-check` every feature combination).
//!
//! `TARGET` is cargo's target directory (`CARGO_TARGET_DIR`, `build.target-dir`, or
//! `target/`), as `cargo metadata` reports it, so every step and tool agrees on it.

mod bench;
mod features;
mod fuzz;
mod interop;
mod man;
mod suites;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask <test [--no-lint] [--jobs N] | setup | bench [--quick] [--json FILE] [--only CASES] [--media-mib N] | fuzz [--time SECS] [TARGET]... | man [--out DIR] | shape [--no-check]>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("setup") => interop::setup(&target_dir()).map(|_| ()),
        Some("bench") => bench::bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&root(), &args[1..]),
        Some("man") => man::man(&target_dir(), &args[1..]),
        Some("shape") => shape(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
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

/// `cargo xtask shape`: the facade's crate limits, MSRV and feature combinations.
fn shape(args: &[String]) -> Result<(), String> {
    let check = match args {
        [] => true,
        [a] if a == "--no-check" => false,
        _ => return Err(format!("shape: unknown arguments\n{USAGE}")),
    };
    features::check_limits(&root())?;
    features::check_msrv(&root())?;
    if check {
        features::check_combinations(&root(), &target_dir().join("feature-check"))?;
    }
    Ok(())
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory as cargo itself resolves it (`CARGO_TARGET_DIR`, the
/// `build.target-dir` setting, or `ROOT/target`).
fn target_dir() -> PathBuf {
    let from_metadata = cargo()
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["target_directory"].as_str().map(PathBuf::from));
    from_metadata.unwrap_or_else(|| match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    })
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs a command in the foreground with its output shown, framed by `==>`/`<==` lines.
fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    let start = Instant::now();
    eprintln!("==> {step}");
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    eprintln!("<== {step}: {}", secs(start.elapsed()));
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The parts of a run with their times, printed as a table at the end, failed or not.
#[derive(Default)]
struct Steps {
    rows: Vec<(String, Duration, String)>,
}

impl Steps {
    /// Runs `f` as the step `name` and records its time and outcome.
    fn step<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
        let start = Instant::now();
        let result = f();
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(_) => "FAILED".to_owned(),
        };
        self.rows.push((name.to_owned(), start.elapsed(), outcome));
        result
    }

    /// Records a step that was left out, and why.
    fn skipped(&mut self, name: &str, why: &str) {
        self.rows
            .push((name.to_owned(), Duration::ZERO, format!("skipped ({why})")));
    }

    fn print(&self, total: Duration) {
        let width = self
            .rows
            .iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(0)
            .max(5);
        eprintln!();
        eprintln!("xtask test: what ran and how long it took");
        for (name, took, outcome) in &self.rows {
            eprintln!("  {name:<width$}  {:>7}  {outcome}", secs(*took));
        }
        eprintln!("  {:<width$}  {:>7}", "total", secs(total));
    }
}

fn test(args: &[String]) -> Result<(), String> {
    let mut lint = true;
    let mut jobs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--no-lint" => lint = false,
            "--jobs" | "-j" => {
                let n = it
                    .next()
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--jobs needs a positive number")?;
                jobs = Some(n);
            }
            other => return Err(format!("test: unknown argument `{other}`\n{USAGE}")),
        }
    }
    let total = Instant::now();
    let mut steps = Steps::default();
    let result = test_steps(&mut steps, lint, jobs);
    steps.print(total.elapsed());
    match &result {
        Ok(()) => eprintln!("xtask test: all steps passed"),
        Err(e) => eprintln!("xtask test: {e}"),
    }
    result.map_err(|_| "failed".into())
}

fn test_steps(steps: &mut Steps, lint: bool, jobs: Option<usize>) -> Result<(), String> {
    let target = target_dir();
    eprintln!("xtask: target directory {}", target.display());
    if lint {
        steps.step("cargo fmt --check", || {
            run(
                "cargo fmt --check",
                cargo().args(["fmt", "--all", "--check"]),
            )
        })?;
    }
    steps.step("facade: crate limits, no crate twice, MSRV", || {
        features::check_limits(&root())?;
        features::check_msrv(&root())
    })?;
    if std::env::var_os("GAUTH_SKIP_DENY").is_some() {
        steps.skipped("cargo deny check", "GAUTH_SKIP_DENY");
    } else {
        let deny = steps.step("install cargo-deny (once)", || {
            tools::ensure(&target, &tools::CARGO_DENY)
        })?;
        steps.step("cargo deny check licenses bans sources", || {
            // Errors only: duplicate versions are warnings by policy (`deny.toml`), and their
            // trees would bury the rest of the run; `cargo deny check` shows them.
            run(
                "cargo deny --log-level error check licenses bans sources",
                cargo()
                    .args(["deny", "--log-level", "error", "check"])
                    .args(["licenses", "bans", "sources"])
                    .env("PATH", tools::path_with(&deny)),
            )
        })?;
    }
    let env = steps.step("interop environment (python venv, node)", || {
        interop::setup(&target)
    })?;
    let binaries = steps.step("build the tests (cargo test --no-run)", suites::build)?;

    // The cargo commands take cargo's build lock, so they make one job, run beside the
    // test binaries (which need no lock) rather than before them.
    let mut cargo_job = Vec::new();
    if lint {
        cargo_job.push(suites::cargo_suite(
            "cargo clippy --workspace --all-targets -- -D warnings",
            false,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        ));
        cargo_job.push(suites::cargo_suite(
            "cargo doc --no-deps --workspace (-D warnings)",
            false,
            &["doc", "--no-deps", "--workspace"],
            &[("RUSTDOCFLAGS", "-D warnings")],
        ));
    } else {
        steps.skipped("fmt, clippy, doc", "--no-lint");
    }
    cargo_job.push(suites::doc_tests());
    let mut count = binaries.len() + cargo_job.len();
    let mut work = vec![cargo_job];
    // Every feature combination, checked in a target directory of its own (no shared build
    // lock), so it runs beside the tests instead of before them.
    if std::env::var_os("GAUTH_SKIP_FEATURES").is_some() {
        steps.skipped("every feature combination of gauth", "GAUTH_SKIP_FEATURES");
    } else {
        let n = features::combinations().len();
        work.push(vec![suites::xtask_suite(
            &format!("cargo check: the {n} feature sets of gauth"),
            &["shape"],
        )]);
        count += 1;
    }
    work.extend(binaries.into_iter().map(|b| vec![b]));
    let jobs = jobs.unwrap_or_else(suites::default_jobs);
    let name = format!("run {count} suites (tests, doc-tests, lints), {jobs} at a time");
    steps.step(&name, || suites::run(&target, work, &env, jobs))
}
