//! The shared token file under stress: 16 processes make 100 refresh cycles each on one
//! authorized-user file, against a token server that rotates the refresh token on every use
//! and revokes the whole grant when a rotated-away token comes back. Nobody may see
//! `invalid_grant`, the file must parse at every moment, and the user stays signed in.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use std::process::Stdio;

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::authorized_user_json;
use serde_json::Value;

const PROCESSES: usize = 16;
const CYCLES: usize = 100;

#[test]
fn sixteen_processes_refreshing_one_file_never_reuse_a_rotated_token() {
    // expires_in = 0: every token is inside the refresh margin at once, so every run refreshes.
    let server = TokenServer::start(
        TokenServerConfig::default()
            .rotate_refresh_tokens(true)
            .expires_in(0),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    std::fs::write(
        &path,
        authorized_user_json(&server.token_uri(), &server.current_refresh_token()).to_string(),
    )
    .unwrap();

    // A watcher reads the file as fast as it can: it must always be whole JSON.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let path = path.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                let bytes = std::fs::read(&path).expect("the file never disappears");
                let v: Value = serde_json::from_slice(&bytes).expect("the file is never partial");
                assert!(v["refresh_token"].is_string());
                reads += 1;
            }
            reads
        })
    };

    let start = Instant::now();
    let workers: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                for _ in 0..CYCLES {
                    let out = Command::new(env!("CARGO_BIN_EXE_gauth"))
                        .args(["token", "--credentials"])
                        .arg(&path)
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "a refresh failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let wall = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let reads = watcher.join().unwrap();

    let requests = server.requests();
    eprintln!(
        "{PROCESSES} processes x {CYCLES} cycles: {requests} token requests, {reads} concurrent reads, {wall:?}"
    );
    assert!(
        !server.grant_revoked(),
        "a rotated-away refresh token was reused"
    );
    assert_eq!(requests, PROCESSES * CYCLES, "each cycle refreshed once");
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        v["refresh_token"],
        server.current_refresh_token(),
        "the file holds the live grant"
    );
}

#[test]
fn a_process_killed_mid_refresh_leaves_the_old_file_or_the_new_one() {
    let server = TokenServer::start(
        TokenServerConfig::default()
            .rotate_refresh_tokens(true)
            .expires_in(0)
            .delay(Duration::from_millis(3)),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    std::fs::write(
        &path,
        authorized_user_json(&server.token_uri(), &server.current_refresh_token()).to_string(),
    )
    .unwrap();
    let gauth = || {
        Command::new(env!("CARGO_BIN_EXE_gauth"))
            .args(["token", "--credentials"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // How long one whole run takes on this machine now (a loaded CI machine is many times
    // slower than a quiet one), so that the kills below fall inside runs, not after them.
    let started = Instant::now();
    assert!(
        gauth().wait().unwrap().success(),
        "a run that is not killed succeeds"
    );
    let whole_run = started.elapsed().as_micros().max(1_000) as u64;
    let mut killed = 0;
    for i in 0..60u64 {
        let before = server.requests();
        let mut child = gauth();
        if i % 2 == 0 {
            // Spread over start-up, the request and the write, in proportion to a whole run.
            std::thread::sleep(Duration::from_micros((i * 7919) % (whole_run * 3 / 2)));
        } else {
            // Once the request has reached the server: during its delay, or the write after.
            let deadline = Instant::now() + Duration::from_secs(60);
            while server.requests() == before && Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros((i * 389) % 4_000));
        }
        if matches!(child.try_wait(), Ok(None)) && child.kill().is_ok() {
            killed += 1;
        }
        let _ = child.wait();
        let bytes = std::fs::read(&path).expect("the file is never removed");
        let v: Value = serde_json::from_slice(&bytes).expect("never a partial file");
        assert_eq!(v["client_id"], "test-client.apps.googleusercontent.com");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        // A killed writer may leave its temporary file behind, never a broken target.
        assert!(leftovers <= i as usize + 1);
    }
    eprintln!(
        "{killed} of 60 processes killed with SIGKILL while running ({} token requests reached the server); the file stayed whole",
        server.requests()
    );
    assert!(killed > 0);
    assert!(server.requests() > 0);
}
