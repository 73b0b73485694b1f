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
#[path = "../examples/web_server.rs"]
mod web_server;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gauth::discovery::BuildOptions;
use gauth::{CredentialStore, FileStore, LocalServerOptions, Secret};
use gauth_emulator::{ClientKind, Emulator, EmulatorConfig};

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
    let message = err.to_string();
    assert!(message.contains("403"), "{message}");
    assert!(
        message.contains("insufficient authentication scopes"),
        "{message}"
    );
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

/// The web app on a loopback port, and an emulator whose web client has the app's
/// `/oauth2callback` registered (Google checks redirect URIs of web clients exactly).
struct WebApp {
    emu: Emulator,
    url: String,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn start_web_app() -> WebApp {
    let runtime = runtime();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());

    let mut config = EmulatorConfig::default().auto_approve(true);
    for client in &mut config.clients {
        if client.kind == ClientKind::Web {
            client.redirect_uris = vec![format!("{url}/oauth2callback")];
        }
    }
    let emu = Emulator::start(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("client_secret_web.json");
    write_json(&secrets, &emu.client_secrets(ClientKind::Web).unwrap());

    let config = web_server::Config::new(&secrets, &url, discovery(&emu)).unwrap();
    let app = web_server::app(config);
    runtime.spawn(async move { axum::serve(listener, app).await });
    WebApp {
        emu,
        url,
        _runtime: runtime,
        _dir: dir,
    }
}

/// A browser as far as this app needs one: follows no redirects by itself (the test
/// follows them, to see each step), keeps no cookies (the test carries the one cookie).
struct Browser {
    agent: ureq::Agent,
}

struct Page {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Browser {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        Browser { agent }
    }

    fn get(&self, url: &str, cookie: Option<&str>) -> Page {
        let mut request = self.agent.get(url);
        if let Some(c) = cookie {
            request = request.header("cookie", c);
        }
        Self::page(request.call().unwrap())
    }

    fn post(&self, url: &str, cookie: Option<&str>) -> Page {
        let mut request = self.agent.post(url);
        if let Some(c) = cookie {
            request = request.header("cookie", c);
        }
        Self::page(request.send_empty().unwrap())
    }

    fn page(mut response: ureq::http::Response<ureq::Body>) -> Page {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let location = header("location");
        // The `name=value` part is what a browser sends back.
        let set_cookie = header("set-cookie").map(|c| c.split(';').next().unwrap().to_owned());
        Page {
            status: response.status().as_u16(),
            location,
            set_cookie,
            body: response.body_mut().read_to_string().unwrap(),
        }
    }
}

#[test]
fn web_server_signs_a_user_in_through_the_whole_redirect_dance() {
    let app = start_web_app();
    let browser = Browser::new();

    let home = browser.get(&format!("{}/", app.url), None);
    assert_eq!(home.status, 200);
    assert!(home.body.contains("href=\"/login\""), "{}", home.body);

    // /login: a session cookie, and off to the authorization endpoint with the app's
    // redirect URI, a state and a PKCE challenge.
    let login = browser.get(&format!("{}/login", app.url), None);
    assert_eq!(login.status, 303);
    let cookie = login.set_cookie.expect("a session cookie");
    let authorize = login.location.unwrap();
    assert!(authorize.starts_with(&app.emu.auth_uri()), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256"));
    assert!(authorize.contains(&form_encode(&format!("{}/oauth2callback", app.url))));

    // The emulator approves at once and sends the browser back to the app.
    let consent = browser.get(&authorize, None);
    assert_eq!(consent.status, 302);
    let callback = consent.location.unwrap();
    assert!(callback.starts_with(&format!("{}/oauth2callback?", app.url)));

    // The callback exchanges the code and signs the user in under a new session id.
    let signed_in = browser.get(&callback, Some(&cookie));
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location.as_deref(), Some("/"));
    let session = signed_in.set_cookie.expect("a new session cookie");
    assert_ne!(session, cookie);

    let home = browser.get(&format!("{}/", app.url), Some(&session));
    assert!(
        home.body.contains("Signed in as <b>alice@example.com</b>"),
        "{}",
        home.body
    );
    let me = browser.get(&format!("{}/me", app.url), Some(&session));
    assert_eq!(me.status, 200);
    let me: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["verified_email"], true);

    // The pre-sign-in id is worth nothing now, and the callback cannot be replayed.
    assert_eq!(
        browser
            .get(&format!("{}/me", app.url), Some(&cookie))
            .status,
        401
    );
    assert_eq!(browser.get(&callback, Some(&session)).status, 400);
    assert_eq!(browser.get(&callback, Some(&cookie)).status, 400);

    // Signing out forgets the session.
    let out = browser.post(&format!("{}/logout", app.url), Some(&session));
    assert_eq!(out.status, 303);
    assert_eq!(
        browser
            .get(&format!("{}/me", app.url), Some(&session))
            .status,
        401
    );
}

#[test]
fn web_server_refuses_a_callback_with_another_state_and_reports_a_refusal() {
    let app = start_web_app();
    let browser = Browser::new();
    let login = browser.get(&format!("{}/login", app.url), None);
    let cookie = login.set_cookie.unwrap();
    let authorize = url::Url::parse(&login.location.unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();

    // A forged redirect (someone else's code, another state) is refused, and it uses up
    // the sign-in: the flow is kept for one callback only.
    let forged = browser.get(
        &format!("{}/oauth2callback?code=4/forged&state=forged", app.url),
        Some(&cookie),
    );
    assert_eq!(forged.status, 400);
    assert!(forged.body.contains("state"), "{}", forged.body);

    // The user clicks Cancel on Google's page: Google redirects with error=access_denied.
    let login = browser.get(&format!("{}/login", app.url), Some(&cookie));
    let cookie = login.set_cookie.unwrap();
    let authorize = url::Url::parse(&login.location.unwrap()).unwrap();
    let new_state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_ne!(new_state, state);
    let denied = browser.get(
        &format!(
            "{}/oauth2callback?error=access_denied&state={new_state}",
            app.url
        ),
        Some(&cookie),
    );
    assert_eq!(denied.status, 403);
    assert!(denied.body.contains("You declined"), "{}", denied.body);
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn write_json(path: &Path, value: &serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
}
