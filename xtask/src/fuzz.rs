//! `cargo xtask fuzz [--time SECS] [TARGET]...`: runs the cargo-fuzz targets in `fuzz/`
//! (every parser of outside input), each for SECS seconds (60 by default), and reports the
//! executions and findings per target.
//!
//! libFuzzer needs nightly's sanitizer flags: the `nightly` toolchain is used when rustup
//! has it, else stable with `RUSTC_BOOTSTRAP=1`. cargo-fuzz is installed under
//! `TARGET/tools` once (see `tools.rs`). The committed corpus (`fuzz/corpus/TARGET`) is
//! read, never written: new inputs go to `TARGET/fuzz/corpus/TARGET`, crashes to
//! `fuzz/artifacts/TARGET`. The normal test suite replays the committed corpus
//! (`tests/fuzz_corpus.rs`).

use std::path::Path;
use std::process::{Command, Stdio};

const TARGETS: &[&str] = &[
    "client_secrets",
    "authorized_user",
    "service_account",
    "token_response",
    "redirect_request",
    "discovery",
    "jwt",
    "certs",
    "batch_response",
    "media_download",
    "endpoint_policy",
    "discovery_url",
    "uri_template",
];

pub fn fuzz(root: &Path, args: &[String]) -> Result<(), String> {
    let mut secs: u64 = 60;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                secs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--time needs a number of seconds")?;
            }
            t if TARGETS.contains(&t) => only.push(t),
            other => {
                return Err(format!(
                    "fuzz: unknown argument `{other}`; targets: {TARGETS:?}"
                ));
            }
        }
    }
    let targets: Vec<&str> = if only.is_empty() {
        TARGETS.to_vec()
    } else {
        only
    };
    let target = super::target_dir();
    let tools = super::tools::ensure(&target, &super::tools::CARGO_FUZZ)?;
    let nightly = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("nightly"))
        .unwrap_or(false);
    let dir = root.join("fuzz");
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    // `cargo fuzz` on nightly, or on stable told to allow nightly features.
    let cargo_fuzz = || {
        let mut cmd = Command::new("cargo");
        if nightly {
            cmd.arg("+nightly");
        } else {
            cmd.env("RUSTC_BOOTSTRAP", "1");
        }
        cmd.current_dir(&dir)
            .env("PATH", super::tools::path_with(&tools))
            .arg("fuzz");
        cmd
    };
    for t in &targets {
        let out_corpus = target.join("fuzz").join("corpus").join(t);
        std::fs::create_dir_all(&out_corpus).map_err(|e| e.to_string())?;
        // Built first, on its own: a target that does not build is reported as such, not
        // as a crash of the code under test (`run` then reuses the build).
        eprintln!("==> build fuzz target {t}");
        let built = cargo_fuzz()
            .args(["build", t])
            .status()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        if !built.success() {
            failed.push(*t);
            rows.push(format!(
                "{t:18} not built: see the compiler's message above"
            ));
            continue;
        }
        let mut cmd = cargo_fuzz();
        cmd.args(["run", t])
            .arg(&out_corpus)
            .arg(dir.join("corpus").join(t))
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=65536")
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped());
        eprintln!("==> fuzz {t} for {secs}s");
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run cargo fuzz: {e}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        let execs = executions(&log);
        let corpus = std::fs::read_dir(&out_corpus)
            .map(|d| d.count())
            .unwrap_or(0);
        let finding = if out.status.success() {
            "none".to_owned()
        } else {
            failed.push(*t);
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            format!("CRASH (see fuzz/artifacts/{t})")
        };
        rows.push(format!(
            "{t:18} {execs:>12} execs  {corpus:>6} new inputs  findings: {finding}"
        ));
    }
    eprintln!("fuzz summary ({secs}s per target):");
    for r in &rows {
        eprintln!("  {r}");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzz: findings (or no build) in {failed:?}"))
    }
}

/// The last execution count libFuzzer printed (`#1234 ...` or `Done 1234 runs`).
fn executions(log: &str) -> u64 {
    let mut n = 0;
    for line in log.lines() {
        let rest = line
            .strip_prefix('#')
            .or_else(|| line.strip_prefix("Done "));
        if let Some(v) = rest
            .and_then(|r| r.split_whitespace().next())
            .and_then(|s| s.parse().ok())
        {
            n = v;
        }
    }
    n
}
