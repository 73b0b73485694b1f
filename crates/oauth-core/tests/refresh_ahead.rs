//! Refresh ahead: a token that is still valid but inside the refresh margin is returned at
//! once while exactly one refresh runs in the background (a helper thread for the blocking
//! flavour, a spawned task for the async one), its result reaching every holder; a failed
//! background refresh surfaces only once the token has expired. The token endpoint is held
//! on a channel, so a caller that waited for it could not return: no timing is asserted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oauth_core::http::{Bytes, HttpRequest, HttpResponse};
use oauth_core::transport::{AsyncHttpClient, HttpClient};
use oauth_core::types::{ClientSecret, RefreshToken};
use oauth_core::{AuthorizedUser, ManualClock, RetryPolicy, Token, TransportError};

/// A start time for the manual clock (any will do).
fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// An hour-long token seeded at `t0`: stale at `t0 + 3375 s`, expired at `t0 + 3600 s`.
fn user() -> AuthorizedUser {
    AuthorizedUser::new(
        "id",
        Some(ClientSecret::new("s")),
        Some(RefreshToken::new("1//r")),
        "http://127.0.0.1:9/token".parse::<url::Url>().unwrap(),
    )
    .with_token(Token::bearer(
        "ya29.old",
        Some(t0() + Duration::from_secs(3600)),
    ))
}

/// A token endpoint that counts requests, tells the test when one arrives, and answers only
/// when the test releases it (or, so that a broken cache fails instead of hanging, after a
/// minute).
#[derive(Clone)]
struct Held {
    requests: Arc<AtomicUsize>,
    arrived: Arc<Mutex<mpsc::Sender<()>>>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    fail: bool,
}

impl Held {
    fn new(fail: bool) -> (Self, mpsc::Receiver<()>, mpsc::Sender<()>) {
        let (arrived_tx, arrived_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let held = Held {
            requests: Arc::default(),
            arrived: Arc::new(Mutex::new(arrived_tx)),
            release: Arc::new(Mutex::new(release_rx)),
            fail,
        };
        (held, arrived_rx, release_tx)
    }

    fn answer(&self) -> HttpResponse {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.arrived.lock().unwrap().send(());
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60));
        if self.fail {
            return http::Response::builder()
                .status(400)
                .body(Bytes::from_static(br#"{"error":"invalid_grant"}"#))
                .unwrap();
        }
        let body = format!(r#"{{"access_token":"ya29.new{n}","expires_in":3600}}"#);
        http::Response::new(Bytes::from(body))
    }

    fn blocking(&self) -> Arc<dyn HttpClient> {
        let this = self.clone();
        Arc::new(
            move |_: HttpRequest| -> Result<HttpResponse, TransportError> { Ok(this.answer()) },
        )
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl AsyncHttpClient for Held {
    async fn execute(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        let this = self.clone();
        // The held answer blocks: keep it off the executor.
        Ok(tokio::task::spawn_blocking(move || this.answer())
            .await
            .unwrap())
    }
}

/// Calls `token` until it gives `want` (the background refresh publishes its result right
/// after the endpoint answers); at most 10,000 rounds.
fn until_token(mut token: impl FnMut() -> String, want: &str) {
    for _ in 0..10_000 {
        if token() == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the background refresh never published `{want}`");
}

#[test]
fn blocking_callers_get_the_stale_token_at_once_and_one_refresh_runs_behind() {
    let clock = Arc::new(ManualClock::new(t0()));
    let (held, arrived, release) = Held::new(false);
    let creds = oauth_core::blocking::Credentials::builder(user())
        .clock(clock.clone())
        .retry(RetryPolicy::none())
        .http_client(held.blocking())
        .build();
    clock.advance(Duration::from_secs(3500)); // inside the 225 s margin, still valid
    let got: Vec<String> = std::thread::scope(|s| {
        let callers: Vec<_> = (0..16)
            .map(|_| s.spawn(|| creds.token().unwrap().expose().to_owned()))
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    // Every caller returned while the endpoint was still held.
    assert!(got.iter().all(|t| t == "ya29.old"), "{got:?}");
    arrived.recv().unwrap();
    assert_eq!(held.requests(), 1);
    release.send(()).unwrap();
    until_token(|| creds.token().unwrap().expose().to_owned(), "ya29.new1");
    // A clone (another holder of the same credential) sees the new token too.
    assert_eq!(creds.clone().token().unwrap().expose(), "ya29.new1");
    assert_eq!(held.requests(), 1, "exactly one refresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_callers_get_the_stale_token_at_once_and_one_refresh_runs_behind() {
    let clock = Arc::new(ManualClock::new(t0()));
    let (held, arrived, release) = Held::new(false);
    let creds = oauth_core::Credentials::builder(user())
        .clock(clock.clone())
        .retry(RetryPolicy::none())
        .http_client(Arc::new(held.clone()))
        .build();
    clock.advance(Duration::from_secs(3500));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let c = creds.clone();
            tokio::spawn(async move { c.token().await.unwrap().expose().to_owned() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), "ya29.old");
    }
    tokio::task::spawn_blocking(move || arrived.recv().unwrap())
        .await
        .unwrap();
    assert_eq!(held.requests(), 1);
    release.send(()).unwrap();
    let c = creds.clone();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Handle::current();
        until_token(
            || rt.block_on(c.token()).unwrap().expose().to_owned(),
            "ya29.new1",
        )
    })
    .await
    .unwrap();
    assert_eq!(held.requests(), 1, "exactly one refresh");
}

#[test]
fn a_failed_background_refresh_surfaces_only_when_the_token_expires() {
    let clock = Arc::new(ManualClock::new(t0()));
    let (held, arrived, release) = Held::new(true);
    let creds = oauth_core::blocking::Credentials::builder(user())
        .clock(clock.clone())
        .retry(RetryPolicy::none())
        .http_client(held.blocking())
        .build();
    clock.advance(Duration::from_secs(3500));
    assert_eq!(creds.token().unwrap().expose(), "ya29.old");
    arrived.recv().unwrap();
    release.send(()).unwrap();
    // However the background attempt ended, callers keep the valid token meanwhile.
    for _ in 0..100 {
        assert_eq!(creds.token().unwrap().expose(), "ya29.old");
    }
    // Expired: the failure reaches the caller.
    clock.advance(Duration::from_secs(101));
    for _ in 0..4 {
        let _ = release.send(());
    }
    let e = creds.token().unwrap_err();
    assert_eq!(
        e.oauth().map(|o| o.error.as_str()),
        Some("invalid_grant"),
        "{e}"
    );
}
