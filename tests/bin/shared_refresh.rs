//! A small program for the cross-process tests: it loads an authorized-user file with
//! write-back, asks for one token with the given request timeout and lock wait, in the
//! blocking or the async flavour, and prints one JSON line saying what happened:
//! `{"token": "..."}` or `{"error": "lock_timeout" | "transport" | "other", "message": "..."}`.
//!
//! ```text
//! gauth-shared-refresh FILE TIMEOUT_MS LOCK_WAIT_MS blocking|async [SCOPE...]
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gauth::transport::{ReqwestClient, UreqClient};
use gauth::{AuthorizedUser, Credentials, Error, FileStore, RetryPolicy, blocking};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(file), Some(timeout), Some(wait), Some(flavour)) = (
        args.first(),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3),
    ) else {
        eprintln!(
            "usage: gauth-shared-refresh FILE TIMEOUT_MS LOCK_WAIT_MS blocking|async [SCOPE...]"
        );
        return ExitCode::from(2);
    };
    let timeout = Duration::from_millis(timeout);
    let user = match AuthorizedUser::from_file(file) {
        Ok(u) => u.with_requested_scopes(args[4..].iter().cloned()),
        Err(e) => return report(Err(e)),
    };
    // Refreshes are kept in the shared file, waiting a bounded time for its lock.
    let store = FileStore::new(file).with_lock_wait(Duration::from_millis(wait));
    let result = if flavour == "async" {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return report(Err(Error::InvalidRequest(e.to_string()))),
        };
        let creds = Credentials::builder(user)
            .store(store)
            .retry(RetryPolicy::none())
            .http_client(Arc::new(ReqwestClient::with_timeouts(timeout, timeout)))
            .build();
        rt.block_on(async { creds.token().await })
    } else {
        blocking::Credentials::builder(user)
            .store(store)
            .retry(RetryPolicy::none())
            .http_client(Arc::new(UreqClient::with_timeouts(timeout, timeout)))
            .build()
            .token()
    };
    report(result.map(|t| t.expose().to_owned()))
}

fn report(result: Result<String, Error>) -> ExitCode {
    let line = match &result {
        Ok(token) => serde_json::json!({ "token": token }),
        Err(e) => {
            let kind = match e {
                Error::LockTimeout { .. } => "lock_timeout",
                Error::Transport { .. } => "transport",
                _ => "other",
            };
            serde_json::json!({ "error": kind, "message": e.to_string() })
        }
    };
    println!("{line}");
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
