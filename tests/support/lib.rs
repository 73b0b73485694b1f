//! Helpers shared by gauth's cross-crate tests.
//!
//! Suites that need the interop environment (Python google-auth and friends, node's
//! oidc-provider) are `#[ignore]`d in a plain `cargo test`; `cargo xtask test` installs the
//! environment and runs them with `--include-ignored`, passing its paths in
//! `GAUTH_PYTHON` and `GAUTH_NODE_MODULES`. Machine-wide programs (a browser, a Redis
//! server) are found by [`require_tool`], which skips the test in one line when the
//! program is missing locally and fails it under `CI=true`.

pub mod hostile;
pub mod media;
pub mod oidc;
pub mod redis_server;
pub mod tools;

pub use tools::require_tool;

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

/// A router served on a free 127.0.0.1 port by its own runtime thread; stops when dropped.
pub struct LocalServer {
    /// The address it listens on.
    pub addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LocalServer {
    /// Serves `router`.
    pub fn start(router: axum::Router) -> LocalServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        LocalServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
