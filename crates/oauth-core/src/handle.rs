//! The credential handle, written once for both flavours: [`Credentials<F>`] and its
//! [`CredentialsBuilder<F>`], named `oauth_core::Credentials` (async) and
//! `oauth_core::blocking::Credentials` by aliases.
//!
//! Everything here is flavour-free: building, options, accessors. The four methods that
//! block or await (`token`, `token_details`, `refresh`, `apply`) are written per flavour,
//! each a few lines over the cache and the flavour's runner.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::HeaderValue;
use http::header::AUTHORIZATION;

use crate::cache::DEFAULT_REFRESH_MARGIN;
use crate::cache::TokenCache;
use crate::flavour::Flavour;
use crate::http::HttpRequest;
use crate::source::{RefreshContext, TokenSource};
use crate::store::{StoredToken, TokenKey};
use crate::types::AccessToken;
use crate::{Clock, Error, RetryPolicy, Secret, SystemClock, Token};

/// The quota project header.
pub const QUOTA_PROJECT_HEADER: &str = "x-goog-user-project";

/// Options common to both flavours of credential handle.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::{CredentialsOptions, RetryPolicy};
/// let o = CredentialsOptions::default()
///     .refresh_margin(Duration::from_secs(60))
///     .retry(RetryPolicy::none());
/// # let _ = o;
/// ```
#[derive(Debug, Clone)]
pub struct CredentialsOptions {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) margin: Duration,
    pub(crate) retry: RetryPolicy,
}

impl Default for CredentialsOptions {
    fn default() -> Self {
        CredentialsOptions {
            clock: Arc::new(SystemClock),
            margin: DEFAULT_REFRESH_MARGIN,
            retry: RetryPolicy::default(),
        }
    }
}

impl CredentialsOptions {
    /// The clock that expiry is judged by.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long before expiry a token is replaced (google-auth's 3 min 45 s by default):
    /// the most a token gets; one that lives less than four times this gets a quarter of its
    /// lifetime (see [`scaled_margin`](crate::token::scaled_margin)).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// How failed token requests are retried.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A credential of any type (authorized user, service account, metadata server, ...) with
/// its token cache and a transport: cheap to clone, `Send + Sync`, one refresh at a time
/// however many threads or tasks ask.
///
/// Written once for both flavours; use it by its flavour's name:
/// `oauth_core::Credentials` (async, on reqwest) or `oauth_core::blocking::Credentials` (on
/// ureq, no runtime). The methods here work in both; `token`, `token_details`, `refresh` and
/// `apply` are `async` in one and blocking in the other.
///
/// ```
/// # #[cfg(feature = "blocking")] {
/// use oauth_core::{AuthorizedUser, blocking::Credentials, types::RefreshToken};
/// let user = AuthorizedUser::new("id", None, Some(RefreshToken::new("1//r")),
///     "http://127.0.0.1:1/token".parse::<url::Url>().unwrap());
/// let creds = Credentials::new(user);
/// assert_eq!(creds.kind(), "authorized_user");
/// assert!(creds.source::<AuthorizedUser>().is_some());
/// # }
/// ```
pub struct Credentials<F: Flavour> {
    pub(crate) core: Arc<Core<F>>,
}

/// A credential's shared state: the source, its cache, its store, what a refresh uses.
pub(crate) struct Core<F: Flavour> {
    pub(crate) source: Arc<dyn TokenSource>,
    pub(crate) cache: TokenCache,
    pub(crate) ctx: RefreshContext,
    pub(crate) http: Arc<F::Client>,
    pub(crate) store: Arc<F::Store>,
    /// The source's store key, made on the first refresh (a digest and a key derivation:
    /// nothing a handle that never refreshes should pay for).
    key: OnceLock<TokenKey>,
}

impl<F: Flavour> Core<F> {
    /// The source's key in the store.
    pub(crate) fn key(&self) -> &TokenKey {
        self.key.get_or_init(|| self.source.store_key())
    }

    /// The token a store entry holds, when it can serve instead of a refresh: fresh,
    /// accepted by the source, and not the token being replaced (a forced refresh, or the
    /// expired token this refresh is for).
    pub(crate) fn adoptable(
        &self,
        stored: Option<&StoredToken>,
        replacing: Option<&AccessToken>,
    ) -> Option<Token> {
        let t = stored?.token.as_ref()?;
        // The entry's lifetime is unknown: what it has left now stands for it, and it must
        // outlast the least margin.
        let now = self.ctx.clock.now();
        let floor = crate::token::MIN_REFRESH_MARGIN.min(self.ctx.margin);
        let usable = t.is_fresh(now, floor)
            && t.stale_at(now, self.ctx.margin).is_none_or(|at| now < at)
            && Some(&t.access_token) != replacing
            && self.source.accepts(t);
        if usable {
            tracing::debug!(
                kind = self.source.kind(),
                "another holder refreshed the credentials"
            );
        }
        usable.then(|| t.clone())
    }

    /// The store entry for a new token.
    pub(crate) fn entry(&self, token: &Token) -> StoredToken {
        StoredToken {
            token: Some(token.clone()),
            refresh_token: self.source.current_refresh_token(),
        }
    }

    /// The token the cache holds now, which a refresh replaces.
    pub(crate) fn replacing(&self) -> Option<AccessToken> {
        self.cache.peek().map(|t| t.access_token.clone())
    }
}

impl<F: Flavour> Clone for Credentials<F> {
    fn clone(&self) -> Self {
        Credentials {
            core: Arc::clone(&self.core),
        }
    }
}

impl<F: Flavour> fmt::Debug for Credentials<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(F::HANDLE)
            .field("source", &self.core.source)
            .field("store", &self.core.store)
            .finish_non_exhaustive()
    }
}

impl<F: Flavour> Credentials<F> {
    /// A handle with default options and the shared client.
    pub fn new(source: impl TokenSource) -> Self {
        Self::builder(source).build()
    }

    /// A builder, to choose the client, clock, refresh margin or retry policy.
    pub fn builder(source: impl TokenSource) -> CredentialsBuilder<F> {
        Self::builder_from_arc(Arc::new(source))
    }

    /// A builder for a source that is already shared.
    pub fn builder_from_arc(source: Arc<dyn TokenSource>) -> CredentialsBuilder<F> {
        CredentialsBuilder {
            source,
            options: CredentialsOptions::default(),
            http: None,
            store: None,
            flavour: PhantomData,
        }
    }

    /// A builder for another handle over the same source, starting from this one's
    /// client, options and store: change what differs (a shared token store, say). The new
    /// handle has a token cache of its own.
    ///
    /// ```
    /// # #[cfg(feature = "blocking")] {
    /// use oauth_core::{AuthorizedUser, blocking::Credentials, store::MemoryStore, types::RefreshToken};
    /// let user = AuthorizedUser::new("id", None, Some(RefreshToken::new("1//r")),
    ///     "http://127.0.0.1:1/token".parse::<url::Url>().unwrap());
    /// let creds = Credentials::new(user);
    /// let shared = creds.to_builder().store(MemoryStore::new()).build();
    /// assert_eq!(shared.kind(), "authorized_user");
    /// # }
    /// ```
    pub fn to_builder(&self) -> CredentialsBuilder<F> {
        let c = &self.core;
        CredentialsBuilder {
            source: Arc::clone(&c.source),
            options: CredentialsOptions {
                clock: Arc::clone(&c.ctx.clock),
                margin: c.ctx.margin,
                retry: c.ctx.retry,
            },
            http: Some(Arc::clone(&c.http)),
            store: Some(Arc::clone(&c.store)),
            flavour: PhantomData,
        }
    }

    /// The credential type (`authorized_user`, `service_account`, ...).
    pub fn kind(&self) -> &'static str {
        self.core.source.kind()
    }

    /// The quota project, when set.
    pub fn quota_project_id(&self) -> Option<&str> {
        self.core.source.quota_project_id()
    }

    /// The source as its concrete type, when it is `T`.
    pub fn source<T: TokenSource>(&self) -> Option<&T> {
        self.core.source.as_any().downcast_ref()
    }

    /// The shared source itself, to wrap it in another credential (impersonation,
    /// downscoping) that refreshes through it.
    pub fn source_arc(&self) -> &Arc<dyn TokenSource> {
        &self.core.source
    }

    /// The transport, for API calls over the same connection pool.
    pub fn http_client(&self) -> &Arc<F::Client> {
        &self.core.http
    }

    /// The token store every refresh goes through.
    pub fn store(&self) -> &Arc<F::Store> {
        &self.core.store
    }
}

/// Builds a [`Credentials`] with a chosen client, clock, margin or retry policy.
///
/// ```
/// # #[cfg(feature = "blocking")] {
/// use std::time::Duration;
/// use oauth_core::{AuthorizedUser, RetryPolicy, blocking::Credentials, types::RefreshToken};
/// let user = AuthorizedUser::new("id", None, Some(RefreshToken::new("1//r")),
///     "http://127.0.0.1:1/token".parse::<url::Url>().unwrap());
/// let creds = Credentials::builder(user)
///     .refresh_margin(Duration::from_secs(60))
///     .retry(RetryPolicy::none())
///     .build();
/// assert_eq!(creds.kind(), "authorized_user");
/// # }
/// ```
pub struct CredentialsBuilder<F: Flavour> {
    source: Arc<dyn TokenSource>,
    options: CredentialsOptions,
    http: Option<Arc<F::Client>>,
    pub(crate) store: Option<Arc<F::Store>>,
    flavour: PhantomData<F>,
}

impl<F: Flavour> fmt::Debug for CredentialsBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsBuilder")
            .field("source", &self.source)
            .field("options", &self.options)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<F: Flavour> CredentialsBuilder<F> {
    /// The transport (the process-wide shared client by default).
    pub fn http_client(mut self, client: Arc<F::Client>) -> Self {
        self.http = Some(client);
        self
    }

    /// A token store that is already shared (see `store` for one of your own): every
    /// refresh loads from it, locks it and saves to it. A new
    /// [`MemoryStore`](crate::store::MemoryStore) by default.
    pub fn shared_store(mut self, store: Arc<F::Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// All options at once.
    pub fn options(mut self, options: CredentialsOptions) -> Self {
        self.options = options;
        self
    }

    /// See [`CredentialsOptions::clock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options = self.options.clock(clock);
        self
    }

    /// See [`CredentialsOptions::refresh_margin`].
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.options = self.options.refresh_margin(margin);
        self
    }

    /// See [`CredentialsOptions::retry`].
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.options = self.options.retry(retry);
        self
    }

    /// The handle.
    pub fn build(self) -> Credentials<F> {
        let options = self.options;
        let cache = TokenCache::new(Arc::clone(&options.clock), options.margin);
        if let Some(t) = self.source.initial_token() {
            cache.seed(t);
        }
        let core = Core {
            source: self.source,
            cache,
            ctx: RefreshContext {
                clock: options.clock,
                margin: options.margin,
                retry: options.retry,
            },
            http: self.http.unwrap_or_else(F::shared_client),
            store: self.store.unwrap_or_else(F::memory_store),
            key: OnceLock::new(),
        };
        Credentials {
            core: Arc::new(core),
        }
    }
}

/// Sets `Authorization: Bearer <token>` (marked sensitive, so HTTP libraries do not log
/// it) and, when there is one, the quota project header.
///
/// ```
/// let mut req = http::Request::new(Default::default());
/// oauth_core::apply_token(&mut req, &oauth_core::Secret::new("ya29.a"), Some("billing-project")).unwrap();
/// assert_eq!(req.headers()["authorization"], "Bearer ya29.a");
/// assert!(req.headers()["authorization"].is_sensitive());
/// assert_eq!(req.headers()["x-goog-user-project"], "billing-project");
/// ```
pub fn apply_token(
    request: &mut HttpRequest,
    token: &Secret,
    quota_project: Option<&str>,
) -> Result<(), Error> {
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
        Error::InvalidRequest("the access token holds characters not allowed in a header".into())
    })?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    if let Some(q) = quota_project {
        let v = HeaderValue::try_from(q).map_err(|_| {
            Error::InvalidRequest(format!(
                "quota project `{}` is not a valid header value",
                q.escape_debug()
            ))
        })?;
        request.headers_mut().insert(QUOTA_PROJECT_HEADER, v);
    }
    Ok(())
}
