//! The programs in `examples/`, run against an in-process emulator: each example's logic
//! (its `run`), called as its `main` would call it, with the emulator's files and URLs
//! where a user would have Google's. The browser is played by an HTTP client; with
//! `auto_approve` the emulator's authorization endpoint redirects at once, as Google does
//! for a user who has already granted access.

#[path = "../examples/discovery_call.rs"]
mod discovery_call;
#[path = "../examples/installed_app.rs"]
mod installed_app;
#[path = "../examples/service_account.rs"]
mod service_account;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gauth::discovery::BuildOptions;
use gauth::{FileStore, LocalServerOptions, Secret, TokenStore};
use gauth_emulator::{Emulator, EmulatorConfig};

/// An emulator that approves every sign-in as its first user, alice@example.com.
fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig::default().auto_approve(true)).expect("emulator starts")
}

/// Discovery documents from the emulator, kept in memory only.
fn discovery(emu: &Emulator) -> BuildOptions {
    BuildOptions::default()
        .discovery_url(emu.discovery_url("{api}", "{apiVersion}"))
        .no_disk_cache()
}

/// The user's browser: opens the authorization URL and follows the redirects, which lead
/// to the program's loopback server. It runs on its own thread, as a browser would.
fn browser() -> LocalServerOptions {
    LocalServerOptions::default()
        .open_browser(false)
        // A bound on a broken test, not a timing assertion.
        .timeout(Duration::from_secs(120))
        .on_url(|url| {
            let url = url.to_string();
            std::thread::spawn(move || {
                // ureq follows the emulator's redirect to the loopback server.
                let page = ureq::get(&url)
                    .call()
                    .expect("the browser's requests succeed");
                assert_eq!(page.status(), 200);
            });
        })
}

/// A browser that must not be needed: records that the program asked for one.
fn no_browser(asked: Arc<AtomicBool>) -> LocalServerOptions {
    LocalServerOptions::default()
        .open_browser(false)
        .timeout(Duration::from_secs(1))
        .on_url(move |_| asked.store(true, Ordering::SeqCst))
}

#[test]
fn installed_app_signs_in_once_then_reuses_the_stored_credentials() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let secrets = emu.write_client_secrets(dir.path()).unwrap();
    let store = FileStore::new(dir.path().join("authorized_user.json"));

    let first = installed_app::run(&secrets, &store, &discovery(&emu), browser()).unwrap();
    assert_eq!(first.email, "alice@example.com");
    assert!(first.signed_in);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
    assert_eq!(saved["client_id"], gauth_emulator::INSTALLED_CLIENT_ID);
    assert!(saved["refresh_token"].is_string());

    // The second run finds the file: no browser, same user.
    let asked = Arc::new(AtomicBool::new(false));
    let second = installed_app::run(
        &secrets,
        &store,
        &discovery(&emu),
        no_browser(asked.clone()),
    )
    .unwrap();
    assert_eq!(second.email, "alice@example.com");
    assert!(!second.signed_in);
    assert!(!asked.load(Ordering::SeqCst));
}

#[test]
fn installed_app_signs_in_again_when_the_stored_grant_was_revoked() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let secrets = emu.write_client_secrets(dir.path()).unwrap();
    let store = FileStore::new(dir.path().join("authorized_user.json"));
    installed_app::run(&secrets, &store, &discovery(&emu), browser()).unwrap();

    // The user revokes access, and the stored access token has expired: the next run's
    // refresh gets invalid_grant and the program asks the user to sign in again.
    let mut saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.path()).unwrap()).unwrap();
    let refresh_token = saved["refresh_token"].as_str().unwrap().to_owned();
    let revoke = gauth::flow::RevokeCall::new(
        emu.revoke_uri().parse().unwrap(),
        Secret::new(refresh_token),
    );
    gauth::blocking::revoke(&revoke).unwrap();
    saved["expiry"] = "2000-01-01T00:00:00Z".into();
    write_json(store.path(), &saved);

    let again = installed_app::run(&secrets, &store, &discovery(&emu), browser()).unwrap();
    assert!(again.signed_in);
    assert_eq!(again.email, "alice@example.com");
}

#[test]
fn service_account_gets_an_access_token_and_a_verified_id_token() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    // The committed test key, with the emulator's token_uri: the file a user downloads.
    let key_file = dir.path().join("key.json");
    write_json(&key_file, &emu.service_account_key());
    let audience = "https://tasks-api.example.com";

    let out = service_account::run(&key_file, audience, Some(&emu.pem_certs_uri())).unwrap();

    let email = emu.config().service_accounts[0].email.clone();
    assert_eq!(out.email, email);
    assert!(out.access_token_len > 0);
    let claims = &out.id_token_claims;
    assert_eq!(claims["aud"], audience);
    assert_eq!(claims["iss"], emu.issuer());
    assert_eq!(claims["email"], email.as_str());
    assert!(claims["exp"].as_u64() > claims["iat"].as_u64());
}

#[test]
fn discovery_call_creates_tasks_and_lists_them_page_by_page() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let user_file = sign_in_to_file(&emu, dir.path(), &["https://www.googleapis.com/auth/tasks"]);
    let titles = ["one", "two", "three", "four", "five"];

    let runtime = runtime();
    let out = runtime
        .block_on(discovery_call::run(
            &user_file,
            &discovery(&emu),
            &titles,
            2,
        ))
        .unwrap();

    // Five tasks, two per page: three pages, in the order they were added.
    let pages: Vec<Vec<&str>> = out
        .pages
        .iter()
        .map(|p| p.iter().map(|t| t.title.as_str()).collect())
        .collect();
    assert_eq!(
        pages,
        [vec!["one", "two"], vec!["three", "four"], vec!["five"]]
    );
    assert!(
        out.pages
            .iter()
            .flatten()
            .all(|t| t.status == "needsAction")
    );

    // The list was deleted at the end.
    let tasks = runtime
        .block_on(gauth::discovery::build_with(
            "tasks",
            "v1",
            Some(gauth::Credentials::new(
                FileStore::new(&user_file)
                    .load(&Default::default())
                    .unwrap()
                    .unwrap(),
            )),
            &discovery(&emu),
        ))
        .unwrap();
    let lists = runtime
        .block_on(tasks.method("tasklists.list").unwrap().collect_items())
        .unwrap();
    assert!(lists.iter().all(|l| l["id"] != out.list_id.as_str()));
}

#[test]
fn discovery_call_without_the_tasks_scope_fails_with_google_s_error() {
    let emu = emulator();
    let dir = tempfile::tempdir().unwrap();
    let user_file = sign_in_to_file(&emu, dir.path(), &installed_app::SCOPES);
    let err = runtime()
        .block_on(discovery_call::run(&user_file, &discovery(&emu), &["x"], 2))
        .unwrap_err();
    eprintln!("{err}");
    assert!(err.to_string().contains("403"), "{err}");
}

/// Signs in with the installed-app flow for `scopes` and saves the credentials, as
/// `gauth login --out` does.
fn sign_in_to_file(emu: &Emulator, dir: &Path, scopes: &[&str]) -> std::path::PathBuf {
    let secrets = emu.write_client_secrets(dir).unwrap();
    let mut flow =
        gauth::blocking::InstalledAppFlow::from_client_secrets_file(&secrets, scopes.to_vec())
            .unwrap();
    let user = flow.run_local_server(browser()).unwrap();
    let path = dir.join("user.json");
    FileStore::new(&path).save(&user).unwrap();
    path
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}
