//! The blocking flavour: the same names as the async API, on ureq, with no runtime thread.

use std::sync::Arc;

use crate::credentials::{Core, CredentialsOptions, apply_token};
use crate::exchange::{Exchange, Input, Step};
use crate::http::HttpRequest;
use crate::source::{Refresh, TokenSource};
use crate::transport::{HttpClient, UreqClient};
use crate::{Error, Secret, Token};

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
    let mut input = Input::Start;
    loop {
        match exchange.step(input) {
            Step::Send(request) => input = Input::Response(client.execute(request)),
            Step::Wait(d) => {
                std::thread::sleep(d);
                input = Input::Waited;
            }
            Step::Done(result) => return result,
        }
    }
}

/// A credential of any type with its cache and a blocking transport: cheap to clone,
/// `Send + Sync`, one refresh at a time however many threads ask.
///
/// ```no_run
/// use oauth_core::{AuthorizedUser, blocking::Credentials};
/// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
/// let token = creds.token()?;            // refreshed only when needed
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Credentials {
    core: Arc<Core>,
    http: Arc<dyn HttpClient>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("blocking::Credentials")
            .field("source", &self.core.source)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Credentials`] with a chosen client, clock, margin or retry policy.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::{AuthorizedUser, Secret, RetryPolicy, blocking::Credentials};
/// let user = AuthorizedUser::new("id", None, Some(Secret::new("r")), "http://127.0.0.1:1/token".parse().unwrap());
/// let creds = Credentials::builder(user)
///     .refresh_margin(Duration::from_secs(60))
///     .retry(RetryPolicy::none())
///     .build();
/// assert_eq!(creds.kind(), "authorized_user");
/// ```
pub struct CredentialsBuilder {
    source: Arc<dyn TokenSource>,
    options: CredentialsOptions,
    http: Option<Arc<dyn HttpClient>>,
}

impl std::fmt::Debug for CredentialsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsBuilder")
            .field("source", &self.source)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CredentialsBuilder {
    /// The transport (the shared [`UreqClient`] by default).
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = Some(client);
        self
    }

    /// All options at once.
    pub fn options(mut self, options: CredentialsOptions) -> Self {
        self.options = options;
        self
    }

    /// See [`CredentialsOptions::clock`].
    pub fn clock(mut self, clock: Arc<dyn crate::Clock>) -> Self {
        self.options = self.options.clock(clock);
        self
    }

    /// See [`CredentialsOptions::refresh_margin`].
    pub fn refresh_margin(mut self, margin: std::time::Duration) -> Self {
        self.options = self.options.refresh_margin(margin);
        self
    }

    /// See [`CredentialsOptions::retry`].
    pub fn retry(mut self, retry: crate::RetryPolicy) -> Self {
        self.options = self.options.retry(retry);
        self
    }

    /// The handle.
    pub fn build(self) -> Credentials {
        Credentials {
            core: Arc::new(Core::new(self.source, self.options)),
            http: self
                .http
                .unwrap_or_else(|| UreqClient::shared() as Arc<dyn HttpClient>),
        }
    }
}

impl Credentials {
    /// A handle with default options and the shared blocking client.
    pub fn new(source: impl TokenSource) -> Self {
        Self::builder(source).build()
    }

    /// A builder.
    pub fn builder(source: impl TokenSource) -> CredentialsBuilder {
        Self::builder_from_arc(Arc::new(source))
    }

    /// A builder for a source that is already shared.
    pub fn builder_from_arc(source: Arc<dyn TokenSource>) -> CredentialsBuilder {
        CredentialsBuilder {
            source,
            options: CredentialsOptions::default(),
            http: None,
        }
    }

    /// A valid access token: the cached one, or a new one when it is missing or inside
    /// the refresh margin. Concurrent callers share one refresh.
    pub fn token(&self) -> Result<Secret, Error> {
        if let Some(t) = self.core.cache.fresh_access_token() {
            return Ok(t);
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
        apply_token(request, &token, self.core.source.quota_project_id())
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

    /// The transport, for making API calls with the same connection pool.
    pub fn http_client(&self) -> &Arc<dyn HttpClient> {
        &self.http
    }

    fn fetch(&self) -> Result<Token, Error> {
        let source = &self.core.source;
        let ctx = &self.core.ctx;
        match source.begin_refresh(ctx)? {
            Refresh::Ready(t) => Ok(t),
            Refresh::Exchange { mut exchange, lock } => {
                let response = run(self.http.as_ref(), &mut exchange)?;
                source.finish_refresh(response, lock, ctx)
            }
        }
    }
}
