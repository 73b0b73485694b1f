//! The blocking flavour: the same names as the async API at the crate root, on ureq, with
//! no runtime thread.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use crate::exchange::{Exchange, Input, Step};
use crate::flavour::Blocking;
use crate::http::{HttpRequest, check_origin};
use crate::source::Refresh;
use crate::store::{StoreLock, StoredToken, TokenKey};
use crate::transport::HttpClient;
use crate::types::AccessToken;
use crate::{Error, Token, apply_token};

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
/// declare an [`ApiOrigin`](crate::http::ApiOrigin) and be addressed to it, or it is refused
/// with [`Error::ForeignOrigin`] before it is sent. Without credentials, requests go as they
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
                if let Some(c) = credentials {
                    check_origin(&request)?;
                    c.apply(&mut request)?;
                }
                input = Input::Response(client.execute(request));
            }
            Step::Wait(d) => {
                std::thread::sleep(d);
                input = Input::Waited;
            }
            Step::Done(result) => return result,
        }
    }
}

/// Where a blocking credential handle keeps its tokens: the blocking twin of
/// [`crate::TokenStore`], with the same three operations.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::{Error, blocking::TokenStore, store::{MemoryStore, StoredToken, StoreLock, TokenKey}};
/// /// A store that forwards to another and logs saves.
/// #[derive(Debug, Default)]
/// struct Logged(MemoryStore);
/// impl TokenStore for Logged {
///     fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> { self.0.load(key) }
///     fn lock(&self, key: &TokenKey, wait: Duration) -> Result<StoreLock, Error> { self.0.lock(key, wait) }
///     fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
///         eprintln!("saving {}", key.name());
///         self.0.save(key, entry)
///     }
/// }
/// ```
pub trait TokenStore: Send + Sync + std::fmt::Debug {
    /// The entry for `key`, if the store holds one.
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error>;

    /// Takes the store's lock on `key`, waiting at most `wait` for another holder (then
    /// failing with a transient error). Holders of the lock refresh one at a time.
    fn lock(&self, key: &TokenKey, wait: Duration) -> Result<StoreLock, Error>;

    /// Stores `entry` for `key` (a `None` refresh token keeps the stored one).
    fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error>;
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

    /// The token with its expiry, scopes and ID token.
    pub fn token_details(&self) -> Result<Arc<Token>, Error> {
        self.core.cache.get_blocking(|| self.fetch())
    }

    /// Refreshes now, whatever the cache holds (still one refresh for concurrent callers).
    pub fn refresh(&self) -> Result<Arc<Token>, Error> {
        self.core.cache.invalidate();
        self.token_details()
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

    fn fetch(&self) -> Result<Token, Error> {
        let c = &self.core;
        match c.source.begin_refresh(&c.ctx)? {
            Refresh::Ready(t) => Ok(t),
            Refresh::Exchange { mut exchange, lock } => {
                let response = run(c.http.as_ref(), &mut exchange)?;
                c.source.finish_refresh(response, lock, &c.ctx)
            }
        }
    }
}
