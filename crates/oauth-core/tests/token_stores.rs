//! Every refresh goes through the handle's token store, in both flavours: a store of the
//! program's own receives every new and rotated token, handles that share a store refresh
//! once between them, and the async flavour never does a store's or a source's blocking
//! work on the executor.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oauth_core::fsutil::FileLock;
use oauth_core::http::{Bytes, HttpRequest, HttpResponse};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{FileStore, MemoryStore, StoreLock, StoredToken, TokenKey};
use oauth_core::transport::{AsyncHttpClient, HttpClient};
use oauth_core::types::{ClientSecret, RefreshToken};
use oauth_core::{AuthorizedUser, Error, RetryPolicy, Token, TransportError};

/// A token endpoint that rotates the refresh token on every use and records the refresh
/// tokens it was sent.
#[derive(Clone, Default)]
struct Rotating {
    issued: Arc<AtomicUsize>,
    sent: Arc<Mutex<Vec<String>>>,
}

impl Rotating {
    fn answer(&self, r: &HttpRequest) -> HttpResponse {
        let body = String::from_utf8_lossy(r.body()).into_owned();
        let rt = form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        self.sent.lock().unwrap().push(rt);
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let body = format!(
            r#"{{"access_token":"ya29.t{n}","expires_in":3600,"refresh_token":"1//r{n}"}}"#
        );
        http::Response::new(Bytes::from(body))
    }

    fn blocking(&self) -> Arc<dyn HttpClient> {
        let this = self.clone();
        Arc::new(
            move |r: HttpRequest| -> Result<HttpResponse, TransportError> { Ok(this.answer(&r)) },
        )
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl AsyncHttpClient for Rotating {
    async fn execute(&self, r: HttpRequest) -> Result<HttpResponse, TransportError> {
        Ok(self.answer(&r))
    }
}

fn user() -> AuthorizedUser {
    AuthorizedUser::new(
        "id",
        Some(ClientSecret::new("s")),
        Some(RefreshToken::new("1//r0")),
        "http://127.0.0.1:9/token".parse::<url::Url>().unwrap(),
    )
}

/// An access token saved, with the refresh token saved beside it.
type Saved = (String, Option<String>);

/// A store of the program's own: memory, plus a log of every entry saved.
#[derive(Debug, Default, Clone)]
struct Logged {
    inner: MemoryStore,
    saved: Arc<Mutex<Vec<Saved>>>,
}

impl Logged {
    fn log(&self, entry: &StoredToken) {
        self.saved.lock().unwrap().push((
            entry
                .token
                .as_ref()
                .unwrap()
                .access_token
                .expose()
                .to_owned(),
            entry.refresh_token.as_ref().map(|r| r.expose().to_owned()),
        ));
    }

    fn saved(&self) -> Vec<Saved> {
        self.saved.lock().unwrap().clone()
    }
}

impl oauth_core::blocking::TokenStore for Logged {
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        oauth_core::blocking::TokenStore::load(&self.inner, key)
    }
    fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
        oauth_core::blocking::TokenStore::lock(&self.inner, key)
    }
    fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        self.log(entry);
        oauth_core::blocking::TokenStore::save(&self.inner, key, entry)
    }
}

#[async_trait::async_trait]
impl oauth_core::TokenStore for Logged {
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        oauth_core::TokenStore::load(&self.inner, key).await
    }
    async fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
        oauth_core::TokenStore::lock(&self.inner, key).await
    }
    async fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        self.log(entry);
        oauth_core::TokenStore::save(&self.inner, key, entry).await
    }
}

fn rotations() -> Vec<Saved> {
    (1..=3)
        .map(|n| (format!("ya29.t{n}"), Some(format!("1//r{n}"))))
        .collect()
}

#[test]
fn a_custom_store_receives_every_new_and_rotated_token_blocking() {
    let endpoint = Rotating::default();
    let store = Logged::default();
    let creds = oauth_core::blocking::Credentials::builder(user())
        .store(store.clone())
        .http_client(endpoint.blocking())
        .retry(RetryPolicy::none())
        .build();
    creds.token().unwrap();
    creds.refresh().unwrap();
    creds.refresh().unwrap();
    assert_eq!(store.saved(), rotations());
    assert_eq!(
        endpoint.sent(),
        ["1//r0", "1//r1", "1//r2"],
        "no refresh token reused"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_custom_store_receives_every_new_and_rotated_token_async() {
    let endpoint = Rotating::default();
    let store = Logged::default();
    let creds = oauth_core::Credentials::builder(user())
        .store(store.clone())
        .http_client(Arc::new(endpoint.clone()))
        .retry(RetryPolicy::none())
        .build();
    creds.token().await.unwrap();
    creds.refresh().await.unwrap();
    creds.refresh().await.unwrap();
    assert_eq!(store.saved(), rotations());
    assert_eq!(endpoint.sent(), ["1//r0", "1//r1", "1//r2"]);
}

#[test]
fn handles_sharing_a_store_refresh_once_and_take_each_others_rotations() {
    let endpoint = Rotating::default();
    let shared: Arc<dyn oauth_core::blocking::TokenStore> = Arc::new(MemoryStore::new());
    let source = Arc::new(user());
    let handle = || {
        oauth_core::blocking::Credentials::builder_from_arc(source.clone())
            .shared_store(Arc::clone(&shared))
            .http_client(endpoint.blocking())
            .retry(RetryPolicy::none())
            .build()
    };
    let (a, b) = (handle(), handle());
    assert_eq!(a.token().unwrap().expose(), "ya29.t1");
    assert_eq!(
        b.token().unwrap().expose(),
        "ya29.t1",
        "b found a's token in the store"
    );
    assert_eq!(endpoint.sent().len(), 1);
    b.refresh().unwrap();
    assert_eq!(endpoint.sent(), ["1//r0", "1//r1"]);
}

/// A file-reading source (a workload-identity file, say): its refresh blocks until told.
#[derive(Debug)]
struct Stalled {
    release: Mutex<mpsc::Receiver<()>>,
    released_by_signal: Mutex<Option<bool>>,
}

impl TokenSource for Stalled {
    fn kind(&self) -> &'static str {
        "stalled"
    }
    fn begin_refresh(&self, _: &RefreshContext, _: Option<&StoredToken>) -> Result<Refresh, Error> {
        let got = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(30))
            .is_ok();
        *self.released_by_signal.lock().unwrap() = Some(got);
        Ok(Refresh::Ready(Token::bearer(
            "ya29.from-the-file",
            Some(SystemTime::now() + Duration::from_secs(3600)),
        )))
    }
    fn does_blocking_io(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// On a runtime with one thread, a timer task must run while a refresh waits on a blocking
/// source: the timer is what releases the source, so a refresh that blocked the executor
/// would only end when the source gives up waiting (and the test fails).
#[test]
fn a_stalled_source_does_not_stop_the_executor() {
    let (tx, rx) = mpsc::channel();
    let source = Arc::new(Stalled {
        release: Mutex::new(rx),
        released_by_signal: Mutex::new(None),
    });
    let creds = oauth_core::Credentials::builder_from_arc(source.clone()).build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = rt.block_on(async move {
        let timer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = tx.send(());
        });
        let token = creds.token().await;
        timer.await.unwrap();
        token
    });
    assert_eq!(token.unwrap().expose(), "ya29.from-the-file");
    assert_eq!(
        *source.released_by_signal.lock().unwrap(),
        Some(true),
        "the timer ran while the source was stalled"
    );
}

/// The same for a store: another holder keeps the file's lock until a timer task on the
/// one executor thread tells it to let go.
#[test]
fn a_stalled_file_lock_does_not_stop_the_executor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    std::fs::write(&path, user().to_json()).unwrap();
    let held = FileLock::exclusive(&path).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let signalled = rx.recv_timeout(Duration::from_secs(30)).is_ok();
        drop(held);
        signalled
    });
    let endpoint = Rotating::default();
    let creds = oauth_core::Credentials::builder(AuthorizedUser::from_file(&path).unwrap())
        .store(FileStore::new(&path))
        .http_client(Arc::new(endpoint.clone()))
        .retry(RetryPolicy::none())
        .build();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let token = rt.block_on(async move {
        let timer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = tx.send(());
        });
        let token = creds.token().await;
        timer.await.unwrap();
        token
    });
    assert!(
        holder.join().unwrap(),
        "the timer ran while the lock was held"
    );
    assert_eq!(token.unwrap().expose(), "ya29.t1");
    // The file holds the new token and the rotated refresh token.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        (v["token"].as_str(), v["refresh_token"].as_str()),
        (Some("ya29.t1"), Some("1//r1"))
    );
}
