//! Helpers shared by gauth's cross-crate tests.
//!
//! Suites that need the interop environment (Python google-auth and friends, node's
//! oidc-provider) are `#[ignore]`d in a plain `cargo test`; `cargo xtask test` installs the
//! environment and runs them with `--include-ignored`, passing its paths in
//! `GAUTH_PYTHON` and `GAUTH_NODE_MODULES`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The venv's python; panics with instructions when the suite runs outside `cargo xtask test`.
pub fn python() -> PathBuf {
    match std::env::var_os("GAUTH_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => panic!("GAUTH_PYTHON is not set: run this suite through `cargo xtask test`"),
    }
}

/// The node_modules folder holding oidc-provider.
pub fn node_modules() -> PathBuf {
    match std::env::var_os("GAUTH_NODE_MODULES") {
        Some(p) => PathBuf::from(p),
        None => panic!("GAUTH_NODE_MODULES is not set: run this suite through `cargo xtask test`"),
    }
}

/// The folder of the interop scripts (`tests/interop`).
pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// Runs `tests/interop/<script>` with the venv's python and the given arguments; panics
/// with its output when it fails.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let out = Command::new(python())
        .arg(interop_dir().join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start python for {script}: {e}"));
    expect_success(script, &out)
}

/// The stdout of a finished command, or a panic showing both streams.
pub fn expect_success(what: &str, out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    stdout
}

/// An authorized-user file for the counting token server's default client.
pub fn authorized_user_json(token_uri: &str, refresh_token: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "authorized_user",
        "client_id": "test-client.apps.googleusercontent.com",
        "client_secret": "test-client-secret",
        "refresh_token": refresh_token,
        "token_uri": token_uri,
    })
}
