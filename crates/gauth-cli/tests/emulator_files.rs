//! `gauth emulator` run as a process: the files it hands out live in a fresh private
//! directory that SIGTERM, SIGINT (Ctrl-C) and SIGHUP remove, and nothing planted at the fixed path
//! older versions used is followed.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `gauth emulator`, killed on drop if a test failed before stopping it.
struct Running {
    child: Child,
    secrets: PathBuf,
    stderr: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `gauth emulator --port PORT` with its temporary directory in `tmp`, and reads the
/// client-secrets path from what it prints.
fn start(tmp: &Path, port: u16) -> Running {
    let stderr = tmp.join(format!("stderr-{port}.txt"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(["emulator", "--port", &port.to_string()])
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("gauth runs");
    let stdout = child.stdout.take().unwrap();
    let mut secrets = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(p) = line
            .split_whitespace()
            .find(|w| w.ends_with("client_secrets.json"))
        {
            secrets = Some(PathBuf::from(p));
            break;
        }
    }
    let secrets = secrets.unwrap_or_else(|| {
        let _ = child.kill();
        panic!(
            "no client-secrets path printed; stderr:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        )
    });
    Running {
        child,
        secrets,
        stderr,
    }
}

impl Running {
    fn dir(&self) -> PathBuf {
        self.secrets.parent().unwrap().to_path_buf()
    }

    /// Sends `signal` and waits for the process to end (a stuck process fails the test
    /// after a generous bound instead of hanging it).
    fn stop_with(&mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "gauth emulator did not stop on SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn check_private_files(run: &Running, tmp: &Path) {
    let dir = run.dir();
    assert_eq!(dir.parent(), Some(tmp), "in the temporary directory");
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("gauth-emulator-")
    );
    assert!(!dir.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&run.secrets), 0o600);
    let key = dir.join("service_account.json");
    assert_eq!(mode(&key), 0o600);
    let cs: Value = serde_json::from_slice(&std::fs::read(&run.secrets).unwrap()).unwrap();
    assert!(cs["installed"]["token_uri"].is_string());
    let key: Value = serde_json::from_slice(&std::fs::read(&key).unwrap()).unwrap();
    assert_eq!(key["token_uri"], cs["installed"]["token_uri"]);
}

#[test]
fn sigterm_removes_the_private_directory_of_the_emulators_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = start(tmp.path(), 0);
    check_private_files(&run, tmp.path());
    let dir = run.dir();
    let status = run.stop_with("TERM");
    assert!(status.success(), "{status}: {}", run.stderr());
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn ctrl_c_removes_the_private_directory_of_the_emulators_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = start(tmp.path(), 0);
    check_private_files(&run, tmp.path());
    let dir = run.dir();
    let status = run.stop_with("INT");
    assert!(status.success(), "{status}: {}", run.stderr());
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn a_closed_terminal_removes_the_private_directory_too() {
    let tmp = tempfile::tempdir().unwrap();
    let mut run = start(tmp.path(), 0);
    let dir = run.dir();
    let status = run.stop_with("HUP");
    assert!(status.success(), "{status}: {}", run.stderr());
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn a_symlink_planted_at_the_old_fixed_path_is_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let attacker = tempfile::tempdir().unwrap();
    let port = free_port();
    // Older versions wrote to $TMPDIR/gauth-emulator-PORT, following whatever was there.
    let planted = tmp.path().join(format!("gauth-emulator-{port}"));
    std::os::unix::fs::symlink(attacker.path(), &planted).unwrap();
    let mut run = start(tmp.path(), port);
    check_private_files(&run, tmp.path());
    assert_ne!(run.dir(), planted);
    let status = run.stop_with("TERM");
    assert!(status.success(), "{status}: {}", run.stderr());
    assert_eq!(
        std::fs::read_dir(attacker.path()).unwrap().count(),
        0,
        "nothing was written through the planted link"
    );
    assert!(
        planted.symlink_metadata().unwrap().file_type().is_symlink(),
        "and the link itself is left alone"
    );
}
