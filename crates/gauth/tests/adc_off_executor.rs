//! The async ADC search reads its files on tokio's blocking pool: on a one-thread runtime,
//! a timer must still fire while a file read is stalled.
#![cfg(all(unix, feature = "async"))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauth::adc::{AdcEnv, AdcOptions, AdcOrigin};

/// gcloud's `active_config` is a FIFO that this test holds open: reading it stalls until
/// the test lets go. Only a task on the runtime lets go, so if ADC read the file on the
/// executor's one thread, that task could never run: a plain thread then rescues the read
/// after a while (so the test fails instead of hanging), and the test sees the rescue.
#[tokio::test(flavor = "current_thread")]
async fn a_stalled_file_does_not_stall_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("application_default_credentials.json"),
        serde_json::json!({"type": "authorized_user", "client_id": "c",
                           "client_secret": "s", "refresh_token": "r"})
        .to_string(),
    )
    .unwrap();
    let fifo = dir.path().join("active_config");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // Read and write: opening does not wait for a peer, and a reader waits for data.
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    let holder = Arc::new(Mutex::new(Some(holder)));
    let (fired, rescued) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    {
        let (holder, rescued) = (Arc::clone(&holder), Arc::clone(&rescued));
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(20));
            if holder.lock().unwrap().take().is_some() {
                rescued.store(true, Ordering::SeqCst);
            }
        });
    }
    {
        let (holder, fired) = (Arc::clone(&holder), Arc::clone(&fired));
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            fired.store(true, Ordering::SeqCst);
            holder.lock().unwrap().take();
        });
    }
    let env = AdcEnv {
        cloudsdk_config: Some(dir.path().to_owned()),
        no_gce_check: true,
        ..Default::default()
    };
    let found = gauth::adc::find(&AdcOptions::new(&["openid"]).env(env))
        .await
        .unwrap();
    assert!(matches!(found.origin, AdcOrigin::GcloudFile(_)));
    assert!(
        fired.load(Ordering::SeqCst),
        "the timer fired during the read"
    );
    assert!(
        !rescued.load(Ordering::SeqCst),
        "the read held the runtime's only thread"
    );
}
