//! Waiting for another process's refresh is bounded: processes sharing one authorized-user
//! file against a token endpoint that never answers end together, in about one request
//! timeout, instead of each waiting for the previous one's stalled request in turn (which
//! made N processes take N timeouts). Both flavours, run as real processes.
//!
//! No assertion here is about time: the proof is in the counts. Unbounded waiting makes
//! every process reach the server in turn (N requests, no process giving up); bounded
//! waiting makes the processes queued behind the stalled one give up without a request.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gauth::{AuthorizedUser, Credentials, Error, FileStore, RetryPolicy};
use gauth_tests::authorized_user_json;
use gauth_tests::hostile::{Hostile, Reply};
use oauth_core::fsutil::FileLock;
use serde_json::Value;

const PROCESSES: usize = 5;
/// Each process's request timeout.
const TIMEOUT_MS: u64 = 4_000;
/// How long a process waits for another's lock: well inside one request timeout, so the
/// processes queued behind the stalled one give up while it still holds the lock.
const LOCK_WAIT_MS: u64 = 1_000;

fn run_client(file: &Path, flavour: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gauth-shared-refresh"))
        .arg(file)
        .args([&TIMEOUT_MS.to_string(), &LOCK_WAIT_MS.to_string(), flavour])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the test client runs")
}

fn outcome(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!(
            "not one JSON line: {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn processes_queued_behind_a_stalled_refresh_give_up_instead_of_stalling_in_turn() {
    // The token endpoint takes every request and never answers (the connection stays open
    // far longer than any client waits).
    let server = Hostile::always(Reply::stall_for(Duration::from_secs(120)));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.json");
    std::fs::write(
        &file,
        authorized_user_json(&server.url("/token"), "1//test-refresh-token").to_string(),
    )
    .unwrap();

    // Both flavours share the file, as a blocking CLI and an async service might.
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| run_client(&file, if i % 2 == 0 { "blocking" } else { "async" }))
        .collect();
    let outcomes: Vec<Value> = children
        .into_iter()
        .map(|c| outcome(&c.wait_with_output().unwrap()))
        .collect();

    let gave_up = outcomes
        .iter()
        .filter(|o| o["error"] == "lock_timeout")
        .count();
    let timed_out = outcomes
        .iter()
        .filter(|o| o["error"] == "transport")
        .count();
    let requests = server.count();
    eprintln!("{requests} requests reached the stalled server; outcomes: {outcomes:?}");
    assert!(
        outcomes.iter().all(|o| o.get("token").is_none()),
        "no token can come from a server that never answers"
    );
    assert_eq!(
        timed_out, requests,
        "each request that reached the server ended in the client's own timeout"
    );
    assert_eq!(
        requests + gave_up,
        PROCESSES,
        "every process either asked the server itself or gave up waiting: {outcomes:?}"
    );
    assert!(
        gave_up >= 1 && requests < PROCESSES,
        "processes waited for each other's stalled requests in turn: {outcomes:?}"
    );
    for o in outcomes.iter().filter(|o| o["error"] == "lock_timeout") {
        let message = o["message"].as_str().unwrap();
        assert!(message.contains("shared.json"), "{message}");
        assert!(message.contains("another process"), "{message}");
        assert!(!message.contains("1//test-refresh-token"), "{message}");
    }
}

#[test]
fn a_process_that_gives_up_waiting_uses_the_token_the_holder_wrote_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.json");
    // No token yet, and a token endpoint nobody listens on: only the holder's token can
    // serve the client.
    let v = authorized_user_json("http://127.0.0.1:9/token", "1//test-refresh-token");
    std::fs::write(&file, v.to_string()).unwrap();
    let held = FileLock::exclusive(&file).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gauth-shared-refresh"))
        .arg(&file)
        .args(["2000", "1500", "blocking"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The holder writes its fresh token and keeps the lock (a slow write-back, say).
    std::thread::sleep(Duration::from_millis(300));
    let mut fresh = v.clone();
    fresh["token"] = "ya29.written-by-the-holder".into();
    fresh["expiry"] = "2999-01-01T00:00:00Z".into();
    oauth_core::fsutil::atomic_write(&file, fresh.to_string().as_bytes()).unwrap();
    // Bounded waiting ends on its own; an unbounded wait would never end while we hold
    // the lock, so give it a generous while and then let go to fail cleanly.
    let mut waited = 0;
    while child.try_wait().unwrap().is_none() && waited < 600 {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    let ended_while_held = child.try_wait().unwrap().is_some();
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(
        ended_while_held,
        "the client waited for the lock without a bound"
    );
    assert_eq!(outcome(&out)["token"], "ya29.written-by-the-holder");
}

/// The async flavour waits for the lock on the blocking pool: a single-threaded executor
/// keeps running other tasks meanwhile.
#[test]
fn the_async_lock_wait_does_not_block_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.json");
    std::fs::write(
        &file,
        authorized_user_json("http://127.0.0.1:9/token", "1//r").to_string(),
    )
    .unwrap();
    let held = FileLock::exclusive(&file).unwrap();
    let creds = Credentials::builder(AuthorizedUser::from_file(&file).unwrap())
        .store(FileStore::new(&file).with_lock_wait(Duration::from_millis(1500)))
        .retry(RetryPolicy::none())
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let (result, ran_before_the_wait_ended) = rt.block_on({
        let ran = Arc::clone(&ran);
        async move {
            let other = tokio::spawn({
                let ran = Arc::clone(&ran);
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    ran.store(true, Ordering::SeqCst);
                }
            });
            let result = creds.token().await;
            let ran_before = ran.load(Ordering::SeqCst);
            other.await.unwrap();
            (result, ran_before)
        }
    });
    drop(held);
    assert!(
        matches!(result, Err(Error::LockTimeout { .. })),
        "{result:?}"
    );
    assert!(
        ran_before_the_wait_ended,
        "another task ran while the refresh waited for the lock"
    );
}
