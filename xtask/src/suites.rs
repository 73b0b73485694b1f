//! The test run of `cargo xtask test`: every test binary is built once
//! (`cargo test --no-run`), then the binaries, the doc-tests and the lints run several at a
//! time, the slowest of the last run first, each with its output in `TARGET/xtask/logs/`.
//! Most suites spend their time waiting on sockets, timers and child processes (python,
//! node, a browser), so running them side by side shortens the run well past the core count;
//! the cargo commands (clippy, rustdoc, the doc-tests) share cargo's build lock, so they run
//! one after the other as one job, beside the test binaries.
//!
//! Each binary runs as `cargo test` would run it: from its package's folder, with
//! `--include-ignored` (the interop suites), the `CARGO_*` variables cargo sets, and the
//! interop environment's `GAUTH_*` variables. A suite that leaves something out for want of
//! a program prints a line starting with `skipped: ` (tests/support's `require_tool`); those
//! lines are repeated in the summary.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::interop::Interop;

/// Packages whose tests are not part of the run: the bench's peers are measured by
/// `cargo xtask bench`, not tested.
const EXCLUDED: [&str; 1] = ["gauth-bench"];

/// A suite still running after this long is stopped and counted as failed: a hang must
/// not hold the run forever.
const SUITE_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// How often, with no suite finishing, the run says what is still running.
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

/// The prefix of the line a test prints when it skips for want of a program.
const SKIP_PREFIX: &str = "skipped: ";

/// One thing to run: a test binary, the doc-tests, or a lint.
pub struct Suite {
    name: String,
    /// A libtest run (counts its tests) rather than a check.
    tests: bool,
    program: PathBuf,
    args: Vec<String>,
    dir: PathBuf,
    env: Vec<(String, OsString)>,
}

/// Several at a time by default: twice the cores, since suites mostly wait.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .saturating_mul(2)
        .max(2)
}

fn excluded_args() -> Vec<String> {
    EXCLUDED
        .iter()
        .flat_map(|p| ["--exclude".to_owned(), (*p).to_owned()])
        .collect()
}

/// Builds every test binary of the workspace (the bench excluded) and returns them.
pub fn build() -> Result<Vec<Suite>, String> {
    let step = "cargo test --workspace --no-run";
    eprintln!("==> {step}");
    let start = Instant::now();
    let mut child = super::cargo()
        .args(["test", "--workspace"])
        .args(excluded_args())
        .args(["--no-run", "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{step}: cannot start: {e}"))?;
    let mut suites = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(s) = suite_of(&line) {
                suites.push(s);
            }
        }
    }
    let status = child.wait().map_err(|e| format!("{step}: {e}"))?;
    eprintln!("<== {step}: {}", super::secs(start.elapsed()));
    if !status.success() {
        return Err(format!("{step} failed ({status})"));
    }
    suites.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(suites)
}

/// A cargo command run as a suite, from the workspace root.
pub fn cargo_suite(name: &str, tests: bool, args: &[&str], env: &[(&str, &str)]) -> Suite {
    Suite {
        name: name.to_owned(),
        tests,
        program: std::env::var_os("CARGO")
            .map(PathBuf::from)
            .unwrap_or_else(|| "cargo".into()),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        dir: super::root(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect(),
    }
}

/// A suite that runs this xtask again with `args` (e.g. `shape`: the feature sets, in a
/// target directory of their own).
pub fn xtask_suite(name: &str, args: &[&str]) -> Suite {
    Suite {
        name: name.to_owned(),
        tests: false,
        program: std::env::current_exe().unwrap_or_else(|_| "cargo-xtask".into()),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        dir: super::root(),
        env: Vec::new(),
    }
}

/// The doc-tests of every library (the guide, the README and `docs/` included).
pub fn doc_tests() -> Suite {
    let mut s = cargo_suite(
        "doc-tests (every library)",
        true,
        &["test", "--workspace", "--doc", "--no-fail-fast"],
        &[],
    );
    s.args.extend(excluded_args());
    s
}

/// The suite of one of cargo's JSON messages: a test-profile artifact with an executable.
fn suite_of(line: &str) -> Option<Suite> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["reason"] != "compiler-artifact" || v["profile"]["test"] != true {
        return None;
    }
    let exe = PathBuf::from(v["executable"].as_str()?);
    let target = v["target"]["name"].as_str()?;
    let kind = v["target"]["kind"][0].as_str().unwrap_or("");
    let manifest = PathBuf::from(v["manifest_path"].as_str()?);
    let dir = manifest.parent()?.to_path_buf();
    // A package id spec: `path+file:///.../crates/gauth#0.1.0` or `...#name@0.1.0`.
    let fragment = v["package_id"].as_str()?.rsplit_once('#')?.1;
    let (package, version) = match fragment.split_once('@') {
        Some((n, ver)) => (n.to_owned(), ver.to_owned()),
        None => (
            dir.file_name()?.to_string_lossy().into_owned(),
            fragment.to_owned(),
        ),
    };
    let name = match kind {
        "lib" | "bin" => format!("{package} (unit, {kind})"),
        _ => format!("{package}::{target}"),
    };
    let env = vec![
        (
            "CARGO_MANIFEST_DIR".to_owned(),
            dir.clone().into_os_string(),
        ),
        ("CARGO_PKG_NAME".to_owned(), package.into()),
        ("CARGO_PKG_VERSION".to_owned(), version.into()),
        (
            "CARGO_CRATE_NAME".to_owned(),
            target.replace('-', "_").into(),
        ),
    ];
    Some(Suite {
        name,
        tests: true,
        program: exe,
        args: vec!["--include-ignored".into()],
        dir,
        env,
    })
}

/// What one suite did.
struct Outcome {
    name: String,
    took: Duration,
    passed: bool,
    summary: String,
    log: PathBuf,
    skips: Vec<String>,
}

/// Runs every job (a sequence of suites, one after the other), `jobs` at a time, slowest
/// first; fails when any suite failed.
pub fn run(target: &Path, work: Vec<Vec<Suite>>, env: &Interop, jobs: usize) -> Result<(), String> {
    let state = target.join("xtask");
    let logs = state.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let times_file = state.join("suite-times.tsv");
    let previous = read_times(&times_file);
    let mut work = work;
    // Longest first (unknown ones first of all), so the slowest job does not start last.
    let estimate = |job: &Vec<Suite>| -> f64 {
        job.iter()
            .map(|s| previous.get(&s.name).copied().unwrap_or(f64::INFINITY))
            .sum()
    };
    work.sort_by(|a, b| estimate(b).total_cmp(&estimate(a)));
    let count: usize = work.iter().map(Vec::len).sum();
    let jobs = jobs.min(work.len()).max(1);
    eprintln!(
        "==> {count} suites, {jobs} at a time; output in {}",
        logs.display()
    );
    let queue = Arc::new(Mutex::new(VecDeque::from(work)));
    let running: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let vars = env.vars();
    let (tx, rx) = mpsc::channel::<Outcome>();
    let start = Instant::now();
    let mut outcomes = Vec::with_capacity(count);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (queue, running, tx, vars, logs) = (
                Arc::clone(&queue),
                Arc::clone(&running),
                tx.clone(),
                &vars,
                &logs,
            );
            scope.spawn(move || {
                loop {
                    let next = queue.lock().map(|mut q| q.pop_front()).ok().flatten();
                    let Some(job) = next else { break };
                    for suite in job {
                        if let Ok(mut r) = running.lock() {
                            r.insert(suite.name.clone(), Instant::now());
                        }
                        let outcome = run_one(&suite, vars, logs);
                        if let Ok(mut r) = running.lock() {
                            r.remove(&suite.name);
                        }
                        if tx.send(outcome).is_err() {
                            return;
                        }
                    }
                }
            });
        }
        drop(tx);
        loop {
            match rx.recv_timeout(PROGRESS_EVERY) {
                Ok(o) => {
                    report(&o);
                    outcomes.push(o);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let list: Vec<String> = running
                        .lock()
                        .map(|r| {
                            r.iter()
                                .map(|(n, t)| format!("{n} ({:.0}s)", (now - *t).as_secs_f64()))
                                .collect()
                        })
                        .unwrap_or_default();
                    eprintln!("    ... still running: {}", list.join(", "));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    let wall = start.elapsed();
    write_times(&times_file, &previous, &outcomes);
    summarize(&outcomes, wall);
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| o.name.as_str())
        .collect();
    if outcomes.len() != count {
        return Err(format!(
            "only {} of {count} suites reported",
            outcomes.len()
        ));
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failing: {}", failed.join(", ")))
    }
}

fn log_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        + ".log"
}

/// Runs one suite with its output to its log file.
fn run_one(suite: &Suite, vars: &[(&'static str, PathBuf)], logs: &Path) -> Outcome {
    let log = logs.join(log_name(&suite.name));
    let start = Instant::now();
    let fail = |summary: String, took| Outcome {
        name: suite.name.clone(),
        took,
        passed: false,
        summary,
        log: log.clone(),
        skips: Vec::new(),
    };
    let file = match std::fs::File::create(&log) {
        Ok(f) => f,
        Err(e) => {
            return fail(
                format!("cannot write {}: {e}", log.display()),
                start.elapsed(),
            );
        }
    };
    let err = match file.try_clone() {
        Ok(f) => f,
        Err(e) => {
            return fail(
                format!("cannot write {}: {e}", log.display()),
                start.elapsed(),
            );
        }
    };
    let mut cmd = Command::new(&suite.program);
    cmd.args(&suite.args)
        .current_dir(&suite.dir)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    for (k, v) in &suite.env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return fail(
                format!("cannot start {}: {e}", suite.program.display()),
                start.elapsed(),
            );
        }
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if start.elapsed() > SUITE_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "stopped after {} (a suite must not hang)",
                    super::secs(SUITE_TIMEOUT)
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(e.to_string()),
        }
    };
    let took = start.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let (passed_tests, failed_tests, ignored) = counts(&text);
    let skips: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(SKIP_PREFIX))
        .map(str::to_owned)
        .collect();
    let mut parts = Vec::new();
    if suite.tests {
        parts.push(format!("{passed_tests} passed"));
        if failed_tests > 0 {
            parts.push(format!("{failed_tests} failed"));
        }
        if ignored > 0 {
            parts.push(format!("{ignored} ignored"));
        }
    }
    if !skips.is_empty() {
        parts.push(format!("{} skipped for want of a program", skips.len()));
    }
    let summary = parts.join(", ");
    match status {
        Ok(s) if s.success() => Outcome {
            name: suite.name.clone(),
            took,
            passed: true,
            summary,
            log,
            skips,
        },
        Ok(s) if summary.is_empty() => fail(s.to_string(), took),
        Ok(s) => fail(format!("{summary} ({s})"), took),
        Err(e) => fail(e, took),
    }
}

/// Sums libtest's `test result:` lines: (passed, failed, ignored).
fn counts(text: &str) -> (u64, u64, u64) {
    let mut sums = (0, 0, 0);
    for line in text.lines().filter(|l| l.starts_with("test result:")) {
        for part in line.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else {
                continue;
            };
            let n: u64 = n.parse().unwrap_or(0);
            match what {
                "passed" => sums.0 += n,
                "failed" => sums.1 += n,
                "ignored" => sums.2 += n,
                _ => {}
            }
        }
    }
    sums
}

/// One line per finished suite; the failure section of its output when it failed.
fn report(o: &Outcome) {
    let mark = if o.passed { "ok    " } else { "FAILED" };
    let summary = if o.summary.is_empty() {
        String::new()
    } else {
        format!("  ({})", o.summary)
    };
    eprintln!("  {mark} {:>7}  {}{summary}", super::secs(o.took), o.name);
    if !o.passed {
        let text = std::fs::read_to_string(&o.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines
            .iter()
            .position(|l| *l == "failures:")
            .unwrap_or(lines.len().saturating_sub(60));
        let shown = &lines[from..lines.len().min(from + 200)];
        let mut err = std::io::stderr().lock();
        for l in shown {
            let _ = writeln!(err, "    | {l}");
        }
        let _ = writeln!(err, "    (whole output: {})", o.log.display());
    }
}

fn summarize(outcomes: &[Outcome], wall: Duration) {
    let sum: Duration = outcomes.iter().map(|o| o.took).sum();
    let mut slowest: Vec<&Outcome> = outcomes.iter().collect();
    slowest.sort_by_key(|o| std::cmp::Reverse(o.took));
    eprintln!(
        "<== {} suites in {} (their times add up to {}); the slowest:",
        outcomes.len(),
        super::secs(wall),
        super::secs(sum)
    );
    for o in slowest.iter().take(8) {
        eprintln!("      {:>7}  {}", super::secs(o.took), o.name);
    }
    for o in outcomes {
        for s in &o.skips {
            eprintln!("  {}: {s}", o.name);
        }
    }
}

fn read_times(path: &Path) -> HashMap<String, f64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (name, secs) = l.rsplit_once('\t')?;
            Some((name.to_owned(), secs.parse().ok()?))
        })
        .collect()
}

fn write_times(path: &Path, previous: &HashMap<String, f64>, outcomes: &[Outcome]) {
    let mut all: BTreeMap<String, f64> = previous.clone().into_iter().collect();
    for o in outcomes {
        all.insert(o.name.clone(), o.took.as_secs_f64());
    }
    let text: String = all.iter().map(|(n, t)| format!("{n}\t{t:.1}\n")).collect();
    let _ = std::fs::write(path, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_result_lines_are_summed() {
        let out = "running 3 tests\n\
                   test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   test result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s\n";
        assert_eq!(counts(out), (8, 2, 1));
        assert_eq!(counts("no tests here"), (0, 0, 0));
    }

    #[test]
    fn a_test_artifact_becomes_a_suite_run_from_its_package() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/emulator#gauth-emulator@0.1.0","manifest_path":"/w/crates/emulator/Cargo.toml","target":{"kind":["test"],"name":"emulator"},"profile":{"test":true},"executable":"/t/debug/deps/emulator-1"}"#;
        let s = suite_of(line).expect("a suite");
        assert_eq!(s.name, "gauth-emulator::emulator");
        assert_eq!(s.dir, Path::new("/w/crates/emulator"));
        assert_eq!(s.program, Path::new("/t/debug/deps/emulator-1"));
        assert!(
            s.env
                .contains(&("CARGO_PKG_NAME".into(), "gauth-emulator".into()))
        );
        assert!(
            s.env
                .contains(&("CARGO_PKG_VERSION".into(), "0.1.0".into()))
        );

        let unit = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/gauth#0.1.0","manifest_path":"/w/crates/gauth/Cargo.toml","target":{"kind":["lib"],"name":"gauth"},"profile":{"test":true},"executable":"/t/debug/deps/gauth-2"}"#;
        assert_eq!(suite_of(unit).expect("a suite").name, "gauth (unit, lib)");
    }

    #[test]
    fn artifacts_that_are_not_test_executables_are_left_out() {
        let lib = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/crates/gauth#0.1.0","manifest_path":"/w/crates/gauth/Cargo.toml","target":{"kind":["lib"],"name":"gauth"},"profile":{"test":false},"executable":null}"#;
        assert!(suite_of(lib).is_none());
        assert!(suite_of(r#"{"reason":"build-finished","success":true}"#).is_none());
        assert!(suite_of("not json").is_none());
    }

    #[test]
    fn suite_times_survive_a_round_trip_and_keep_suites_not_run() {
        let dir = std::env::temp_dir().join(format!("xtask-times-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("times.tsv");
        let previous: HashMap<String, f64> = [("old suite".to_owned(), 4.0)].into();
        let outcome = Outcome {
            name: "pkg::suite".into(),
            took: Duration::from_millis(12_300),
            passed: true,
            summary: String::new(),
            log: PathBuf::new(),
            skips: Vec::new(),
        };
        write_times(&file, &previous, &[outcome]);
        let back = read_times(&file);
        assert_eq!(back.get("pkg::suite"), Some(&12.3));
        assert_eq!(back.get("old suite"), Some(&4.0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
