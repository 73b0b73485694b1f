//! Machine-wide programs a suite needs (a browser, its driver, a Redis server), found
//! wherever they are installed, with one rule for when they are not:
//!
//! - found: the suite runs with it;
//! - missing on a developer's machine: the test says so in one line on stderr (starting
//!   with `skipped: `, which `cargo xtask test` repeats in its summary) and returns,
//!   skipping only itself;
//! - missing with `CI=true`: the test fails, since CI installs these programs (`.ci/run`)
//!   and must run every test.
//!
//! ```no_run
//! use gauth_tests::tools::{CHROMIUM, require_tool};
//! let Some(chromium) = require_tool(&CHROMIUM) else { return };
//! # let _ = chromium;
//! ```

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A program and the places to look for it.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    /// What it is, for messages ("Chromium").
    pub what: &'static str,
    /// Variables that may name it (a path, or a command looked up on `PATH`), in order.
    pub env: &'static [&'static str],
    /// Commands to look for on `PATH`, in order.
    pub commands: &'static [&'static str],
    /// How to get it.
    pub install: &'static str,
}

/// Chromium or Chrome, for the real-browser test.
pub const CHROMIUM: Tool = Tool {
    what: "Chromium",
    env: &["CHROMIUM", "CHROME"],
    commands: &[
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ],
    install: "install it (Debian: apt-get install chromium) or set CHROMIUM=/path/to/chrome",
};

/// ChromeDriver, the WebDriver server for Chromium (of the same major version).
pub const CHROMEDRIVER: Tool = Tool {
    what: "ChromeDriver",
    env: &["CHROMEDRIVER"],
    commands: &["chromedriver"],
    install: "install it (Debian: apt-get install chromium-driver) or set CHROMEDRIVER=/path/to/chromedriver",
};

/// redis-server, for the suites of the Redis token store.
pub const REDIS_SERVER: Tool = Tool {
    what: "redis-server",
    env: &["REDIS_SERVER"],
    commands: &["redis-server"],
    install: "install it (Debian: apt-get install redis-server) or set REDIS_SERVER=/path/to/redis-server",
};

/// The environment as the lookups see it (the process's, or a test's own).
type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

impl Tool {
    /// Where the program is, or what was tried.
    pub fn locate(&self) -> Result<PathBuf, String> {
        self.locate_in(&|k| std::env::var_os(k))
    }

    fn locate_in(&self, env: Env<'_>) -> Result<PathBuf, String> {
        let path = env("PATH").unwrap_or_default();
        for var in self.env {
            let Some(value) = env(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let named = Path::new(&value);
            let found = if named.components().count() > 1 {
                is_executable(named).then(|| named.to_path_buf())
            } else {
                on_path(&path, &value)
            };
            // A variable that names nothing is a mistake to report, not to look past.
            return found.ok_or_else(|| {
                format!(
                    "not found ({var}={} is not an executable program)",
                    named.display()
                )
            });
        }
        for command in self.commands {
            if let Some(p) = on_path(&path, command.as_ref()) {
                return Ok(p);
            }
        }
        Err(format!(
            "not found ({} unset; no {} on PATH)",
            self.env.join(", "),
            self.commands.join(", ")
        ))
    }
}

fn on_path(path: &std::ffi::OsStr, command: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(command))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// Whether this run is CI's (`CI` set to anything but empty, `0` or `false`).
fn on_ci(env: Env<'_>) -> bool {
    env("CI").is_some_and(|v| !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false")))
}

/// The program, or `None` after one line on stderr saying the calling test skips for want
/// of it; under `CI=true` a missing program is a panic (a failure), never a skip.
pub fn require_tool(tool: &Tool) -> Option<PathBuf> {
    // Straight to the stream, past libtest's capture, so the line shows in a passing run.
    require_tool_in(tool, &|k| std::env::var_os(k), &mut std::io::stderr())
}

fn require_tool_in(tool: &Tool, env: Env<'_>, out: &mut dyn Write) -> Option<PathBuf> {
    let why = match tool.locate_in(env) {
        Ok(p) => return Some(p),
        Err(why) => why,
    };
    if on_ci(env) {
        panic!(
            "{} is required with CI=true and is {why}: {}",
            tool.what, tool.install
        );
    }
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("a test");
    // The leading newline keeps it at the start of a line whatever libtest printed.
    let _ = writeln!(
        out,
        "\nskipped: {test}: {} {why}; {}",
        tool.what, tool.install
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const FAKE: Tool = Tool {
        what: "Fake",
        env: &["FAKE_TOOL"],
        commands: &["fake-tool-a", "fake-tool-b"],
        install: "get it",
    };

    fn executable(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        p
    }

    fn env(vars: &[(&str, &OsString)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_first_command_found_on_path_wins_in_the_listed_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let second = executable(a.path(), "fake-tool-b");
        let path = std::env::join_paths([a.path(), b.path()]).unwrap();
        assert_eq!(FAKE.locate_in(&env(&[("PATH", &path)])).unwrap(), second);
        let first = executable(b.path(), "fake-tool-a");
        assert_eq!(FAKE.locate_in(&env(&[("PATH", &path)])).unwrap(), first);
    }

    #[test]
    fn a_variable_naming_the_program_beats_path_and_a_wrong_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        executable(dir.path(), "fake-tool-a");
        let custom = executable(dir.path(), "my-build");
        let path = dir.path().as_os_str().to_owned();
        let named = custom.clone().into_os_string();
        assert_eq!(
            FAKE.locate_in(&env(&[("PATH", &path), ("FAKE_TOOL", &named)]))
                .unwrap(),
            custom
        );
        let wrong = OsString::from("/no/such/program");
        let e = FAKE
            .locate_in(&env(&[("PATH", &path), ("FAKE_TOOL", &wrong)]))
            .unwrap_err();
        assert_eq!(
            e,
            "not found (FAKE_TOOL=/no/such/program is not an executable program)"
        );
    }

    #[test]
    fn a_file_without_the_execute_bit_is_not_a_program() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fake-tool-a"), "").unwrap();
        let path = dir.path().as_os_str().to_owned();
        let e = FAKE.locate_in(&env(&[("PATH", &path)])).unwrap_err();
        assert_eq!(
            e,
            "not found (FAKE_TOOL unset; no fake-tool-a, fake-tool-b on PATH)"
        );
    }

    #[test]
    fn missing_locally_is_a_skip_said_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().as_os_str().to_owned();
        let off = OsString::from("false");
        for vars in [vec![("PATH", &path)], vec![("PATH", &path), ("CI", &off)]] {
            let mut out = Vec::new();
            // libtest names a test's thread after the test; the line names it too.
            let found = std::thread::scope(|s| {
                std::thread::Builder::new()
                    .name("suite::a_test".into())
                    .spawn_scoped(s, || require_tool_in(&FAKE, &env(&vars), &mut out))
                    .unwrap()
                    .join()
                    .unwrap()
            });
            assert_eq!(found, None);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "\nskipped: suite::a_test: Fake not found (FAKE_TOOL unset; no fake-tool-a, \
                 fake-tool-b on PATH); get it\n"
            );
        }
    }

    #[test]
    #[should_panic(expected = "Fake is required with CI=true and is not found")]
    fn missing_under_ci_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().as_os_str().to_owned();
        let ci = OsString::from("true");
        require_tool_in(
            &FAKE,
            &env(&[("PATH", &path), ("CI", &ci)]),
            &mut Vec::new(),
        );
    }
}
