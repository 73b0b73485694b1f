//! The blocking flavour: the same names as the async API at the crate root, on ureq, with
//! no runtime thread.

use std::sync::Arc;

use http::HeaderMap;

use crate::cache::{Ahead, Refresher};
use crate::exchange::{Exchange, Input, Step};
use crate::flavour::Blocking;
use crate::http::{HttpRequest, HttpResponse};
use crate::origin::{check_origin, declares_origin};
use crate::source::Refresh;
use crate::store::{StoreLock, StoredToken, TokenKey};
use crate::transport::HttpClient;
use crate::types::AccessToken;
use crate::{Error, Token, TransportError, apply_token};

/// The blocking credential handle: [`handle::Credentials`](crate::handle::Credentials) in
/// the blocking flavour.
///
/// ```no_run
/// use oauth_core::{AuthorizedUser, blocking::Credentials};
/// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
/// let token = creds.token()?;            // refreshed only when needed
/// # Ok::<(), oauth_core::Error>(())
/// ```
pub type Credentials = crate::handle::Credentials<Blocking>;

/// The blocking credential builder.
pub type CredentialsBuilder = crate::handle::CredentialsBuilder<Blocking>;

/// Drives an exchange over a blocking client: sends what it asks, sleeps when it says.
///
/// ```
/// use oauth_core::exchange::Immediate;
/// let client = |_r: oauth_core::http::HttpRequest| -> Result<oauth_core::http::HttpResponse, oauth_core::TransportError> {
///     unreachable!("no request is needed")
/// };
/// assert_eq!(oauth_core::blocking::run(&client, &mut Immediate::new(Ok(1))).unwrap(), 1);
/// ```
pub fn run<E: Exchange + ?Sized>(
    client: &dyn HttpClient,
    exchange: &mut E,
) -> Result<E::Output, Error> {
    run_authorized(client, exchange, None)
}

/// [`run`], putting `credentials` on every request of the exchange: each request must
/// declare an [`ApiOrigin`](crate::origin::ApiOrigin) and be addressed to it, or it is refused
/// with [`Error::ForeignOrigin`] before it is sent. Without credentials, a request that
/// declares an origin is still checked (its URL may carry an API key); others go as they
/// are. The blocking runner of the whole workspace.
///
/// ```
/// use oauth_core::exchange::Immediate;
/// let client = |_r: oauth_core::http::HttpRequest| -> Result<oauth_core::http::HttpResponse, oauth_core::TransportError> {
///     unreachable!("no request is needed")
/// };
/// assert_eq!(oauth_core::blocking::run_authorized(&client, &mut Immediate::new(Ok(1)), None).unwrap(), 1);
/// ```
pub fn run_authorized<E: Exchange + ?Sized>(
    client: &dyn HttpClient,
    exchange: &mut E,
    credentials: Option<&Credentials>,
) -> Result<E::Output, Error> {
    let mut input = Input::Start;
    loop {
        match exchange.step(input) {
            Step::Send(mut request) => {
                if credentials.is_some() || declares_origin(&request) {
                    check_origin(&request)?;
                }
                if let Some(c) = credentials {
                    c.apply(&mut request)?;
                }
                input = Input::Response(send(client, request));
            }
            Step::Wait(d) => {
                std::thread::sleep(d);
                input = Input::Waited;
            }
            Step::Done(result) => return result,
        }
    }
}

/// Sends one request; a streamed body is read into memory first for a client that does
/// not stream.
fn send(client: &dyn HttpClient, mut request: HttpRequest) -> Result<HttpResponse, TransportError> {
    if !client.streams_bodies() {
        crate::http::materialize(&mut request)?;
    }
    client.execute(request)
}

/// Where a blocking credential handle keeps its tokens: the blocking twin of
/// [`crate::TokenStore`], with the same three operations.
///
/// ```
/// use oauth_core::{Error, blocking::TokenStore, store::{MemoryStore, StoredToken, StoreLock, TokenKey}};
/// /// A store that forwards to another and logs saves.
/// #[derive(Debug, Default)]
/// struct Logged(MemoryStore);
/// impl TokenStore for Logged {
///     fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> { self.0.load(key) }
///     fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> { self.0.lock(key) }
///     fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
///         eprintln!("saving {}", key.name());
///         self.0.save(key, entry)
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The entry for `key`, if the store holds one.
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error>;

    /// Takes the store's lock on `key`, waiting a bounded time for another holder (then
    /// failing with [`Error::LockTimeout`]). Holders of the lock refresh one at a time.
    fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error>;

    /// Stores `entry` for `key` (a `None` refresh token keeps the stored one).
    fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error>;
}

impl CredentialsBuilder {
    /// The token store every refresh goes through: a
    /// [`FileStore`](crate::store::FileStore) to keep a user's refreshes in their file, a
    /// store of your own; a new [`MemoryStore`](crate::store::MemoryStore) by default.
    pub fn store(self, store: impl TokenStore + 'static) -> Self {
        self.shared_store(Arc::new(store))
    }
}

impl Credentials {
    /// A valid access token: the cached one, or a new one when it is missing or inside
    /// the refresh margin. Concurrent callers share one refresh.
    pub fn token(&self) -> Result<AccessToken, Error> {
        if let Some(t) = self.core.cache.fresh_access_token() {
            return Ok(AccessToken::from(t));
        }
        self.token_details().map(|t| t.access_token.clone())
    }

    /// The token with its expiry, scopes and ID token. A token that is still valid but
    /// inside the refresh margin is returned at once, while one refresh runs on a helper
    /// thread for every holder of the credential.
    pub fn token_details(&self) -> Result<Arc<Token>, Error> {
        match self.core.cache.ahead() {
            Ahead::Fresh(t) | Ahead::Stale(t, None) => Ok(t),
            Ahead::Stale(t, Some(refresher)) => {
                self.refresh_in_background(refresher, t.access_token.clone());
                Ok(t)
            }
            Ahead::Unusable => {
                let replacing = self.core.replacing();
                self.core.cache.get_blocking(|| self.fetch(replacing))
            }
        }
    }

    /// Runs the refresh of a stale token on a helper thread; its result goes to the cache
    /// (a failure only holds the next attempt back). Should no thread start, the flight is
    /// abandoned and the next caller tries again.
    fn refresh_in_background(&self, refresher: Refresher, replacing: AccessToken) {
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("gauth-refresh".into())
            .spawn(move || {
                let result = this.fetch(Some(replacing));
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "background refresh failed; the token is still valid");
                }
                let _ = this.core.cache.complete(refresher, result);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a background refresh");
        }
    }

    /// Refreshes now, whatever the cache holds (still one refresh for concurrent callers).
    pub fn refresh(&self) -> Result<Arc<Token>, Error> {
        let replacing = self.core.replacing();
        self.core.cache.invalidate();
        self.core.cache.get_blocking(|| self.fetch(replacing))
    }

    /// Adds `Authorization` (and the quota project header) to a request.
    pub fn apply(&self, request: &mut HttpRequest) -> Result<(), Error> {
        let token = self.token()?;
        apply_token(request, token.secret(), self.core.source.quota_project_id())
    }

    /// The headers [`Credentials::apply`] sets, for requests built elsewhere (the parts of
    /// a batch carry them).
    pub fn headers(&self) -> Result<HeaderMap, Error> {
        let mut probe = HttpRequest::default();
        self.apply(&mut probe)?;
        Ok(std::mem::take(probe.headers_mut()))
    }

    /// One refresh through the store: load, lock, load again, refresh, save.
    fn fetch(&self, replacing: Option<AccessToken>) -> Result<Token, Error> {
        let c = &self.core;
        let (store, key) = (c.store.as_ref(), c.key());
        let load = || {
            store.load(key).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the token store; refreshing without it");
                None
            })
        };
        if let Some(t) = c.adoptable(load().as_ref(), replacing.as_ref()) {
            return Ok(t);
        }
        let _lock = match store.lock(key) {
            Ok(lock) => lock,
            Err(e @ Error::LockTimeout { .. }) => {
                tracing::warn!(error = %e, "gave up waiting for another holder's refresh");
                return c.adoptable(load().as_ref(), replacing.as_ref()).ok_or(e);
            }
            Err(e) => return Err(e),
        };
        let stored = load();
        if let Some(t) = c.adoptable(stored.as_ref(), replacing.as_ref()) {
            return Ok(t);
        }
        let token = match c.source.begin_refresh(&c.ctx, stored.as_ref())? {
            Refresh::Ready(t) => t,
            Refresh::Exchange(mut exchange) => {
                let response = run(c.http.as_ref(), &mut exchange)?;
                c.source.finish_refresh(response, &c.ctx)?
            }
        };
        store.save(key, &c.entry(&token))?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::AuthorizedUser;
    use crate::TransportError;
    use crate::http::{Bytes, HttpResponse};
    use crate::origin::ApiOrigin;
    use crate::types::RefreshToken;

    /// An exchange that sends the given requests in turn, then finishes.
    pub(crate) struct Calls(pub Vec<HttpRequest>);

    impl Exchange for Calls {
        type Output = usize;
        fn step(&mut self, _: Input) -> Step<usize> {
            match self.0.pop() {
                Some(r) => Step::Send(r),
                None => Step::Done(Ok(0)),
            }
        }
    }

    pub(crate) fn request(uri: &str, declared: Option<&str>) -> HttpRequest {
        let mut r = http::Request::builder()
            .uri(uri)
            .body(Bytes::new())
            .unwrap();
        if let Some(d) = declared {
            r.extensions_mut()
                .insert(ApiOrigin::of(&d.parse().unwrap()).unwrap());
        }
        r
    }

    pub(crate) fn user() -> AuthorizedUser {
        AuthorizedUser::new(
            "id",
            None,
            Some(RefreshToken::new("1//r")),
            "http://127.0.0.1:1/token".parse::<url::Url>().unwrap(),
        )
        .with_token(Token::bearer(
            "ya29.cached",
            Some(SystemTime::now() + Duration::from_secs(3600)),
        ))
    }

    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

    fn recording() -> (Seen, impl HttpClient) {
        let seen: Seen = Arc::default();
        let log = Arc::clone(&seen);
        let client = move |r: HttpRequest| -> Result<HttpResponse, TransportError> {
            let auth = r
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            log.lock().unwrap().push((r.uri().to_string(), auth));
            Ok(http::Response::new(Bytes::new()))
        };
        (seen, client)
    }

    #[test]
    fn credentials_go_only_to_the_origin_the_call_declared() {
        let creds = Credentials::new(user());
        let api = "https://www.googleapis.com/drive/v3/files";
        let (seen, client) = recording();
        // Requests are popped from the end: the API request first, then a stray one.
        let mut ex = Calls(vec![
            request("https://evil.example/steal", Some(api)),
            request(api, Some(api)),
        ]);
        let e = run_authorized(&client, &mut ex, Some(&creds)).unwrap_err();
        assert!(
            matches!(&e, Error::ForeignOrigin { expected, found }
                if expected == "https://www.googleapis.com:443" && found == "https://evil.example:443"),
            "{e}"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "the stray request was never sent");
        assert_eq!(seen[0].1.as_deref(), Some("Bearer ya29.cached"));
    }

    #[test]
    fn a_request_that_declares_no_origin_gets_no_credentials() {
        let creds = Credentials::new(user());
        let (seen, client) = recording();
        let mut ex = Calls(vec![request("https://www.googleapis.com/x", None)]);
        let e = run_authorized(&client, &mut ex, Some(&creds)).unwrap_err();
        assert!(matches!(e, Error::ForeignOrigin { .. }), "{e}");
        assert!(seen.lock().unwrap().is_empty());
        // Without credentials nothing is checked and nothing is added.
        let mut ex = Calls(vec![request("https://elsewhere.example/x", None)]);
        run(&client, &mut ex).unwrap();
        assert_eq!(seen.lock().unwrap()[0].1, None);
    }
}
