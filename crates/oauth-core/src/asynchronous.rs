//! The async flavour, on reqwest; the same names as [`crate::blocking`].

use std::sync::Arc;

use crate::credentials::{Core, CredentialsOptions, apply_token};
use crate::exchange::{Exchange, Input, Step};
use crate::http::HttpRequest;
use crate::source::{Refresh, TokenSource};
use crate::transport::{AsyncHttpClient, ReqwestClient};
use crate::{Error, Secret, Token};

/// Drives an exchange over an async client (tokio timers for waits).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use oauth_core::{exchange::Immediate, transport::ReqwestClient};
/// let n = oauth_core::run_async(&ReqwestClient::new(), &mut Immediate::new(Ok(1))).await.unwrap();
/// assert_eq!(n, 1);
/// # }
/// ```
pub async fn run_async<E: Exchange + ?Sized>(
    client: &dyn AsyncHttpClient,
    exchange: &mut E,
) -> Result<E::Output, Error> {
    let mut input = Input::Start;
    loop {
        match exchange.step(input) {
            Step::Send(request) => input = Input::Response(client.execute(request).await),
            Step::Wait(d) => {
                tokio::time::sleep(d).await;
                input = Input::Waited;
            }
            Step::Done(result) => return result,
        }
    }
}

/// A credential of any type with its cache and an async transport: cheap to clone,
/// `Send + Sync`, one refresh at a time however many tasks ask. The blocking twin is
/// [`crate::blocking::Credentials`].
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_core::Error> {
/// use oauth_core::{AuthorizedUser, Credentials};
/// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
/// let token = creds.token().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Credentials {
    core: Arc<Core>,
    http: Arc<dyn AsyncHttpClient>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("source", &self.core.source)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Credentials`] with a chosen client, clock, margin or retry policy.
///
/// ```
/// use oauth_core::{AuthorizedUser, Credentials, RetryPolicy, Secret};
/// let user = AuthorizedUser::new("id", None, Some(Secret::new("r")), "http://127.0.0.1:1/token".parse().unwrap());
/// let creds = Credentials::builder(user).retry(RetryPolicy::none()).build();
/// assert_eq!(creds.kind(), "authorized_user");
/// ```
pub struct CredentialsBuilder {
    source: Arc<dyn TokenSource>,
    options: CredentialsOptions,
    http: Option<Arc<dyn AsyncHttpClient>>,
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
    /// The transport (the shared [`ReqwestClient`] by default).
    pub fn http_client(mut self, client: Arc<dyn AsyncHttpClient>) -> Self {
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
                .unwrap_or_else(|| ReqwestClient::shared() as Arc<dyn AsyncHttpClient>),
        }
    }
}

impl Credentials {
    /// A handle with default options and the shared async client.
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
    pub async fn token(&self) -> Result<Secret, Error> {
        if let Some(t) = self.core.cache.fresh_access_token() {
            return Ok(t);
        }
        self.token_details().await.map(|t| t.access_token.clone())
    }

    /// The token with its expiry, scopes and ID token.
    pub async fn token_details(&self) -> Result<Arc<Token>, Error> {
        self.core.cache.get_async(|| self.fetch()).await
    }

    /// Refreshes now, whatever the cache holds.
    pub async fn refresh(&self) -> Result<Arc<Token>, Error> {
        self.core.cache.invalidate();
        self.token_details().await
    }

    /// Adds `Authorization` (and the quota project header) to a request.
    pub async fn apply(&self, request: &mut HttpRequest) -> Result<(), Error> {
        let token = self.token().await?;
        apply_token(request, &token, self.core.source.quota_project_id())
    }

    /// The credential type.
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

    /// The transport, for API calls over the same connection pool.
    pub fn http_client(&self) -> &Arc<dyn AsyncHttpClient> {
        &self.http
    }

    async fn fetch(&self) -> Result<Token, Error> {
        let begun = self
            .off_executor(|source, ctx| source.begin_refresh(ctx))
            .await?;
        match begun {
            Refresh::Ready(t) => Ok(t),
            Refresh::Exchange { mut exchange, lock } => {
                let response = run_async(self.http.as_ref(), &mut exchange).await?;
                self.off_executor(move |source, ctx| source.finish_refresh(response, lock, ctx))
                    .await
            }
        }
    }

    /// Runs a source step that may block on files on tokio's blocking pool, so a refresh
    /// waiting on another process's lock does not stall the executor.
    async fn off_executor<R: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn TokenSource, &crate::source::RefreshContext) -> Result<R, Error>
        + Send
        + 'static,
    ) -> Result<R, Error> {
        let core = Arc::clone(&self.core);
        if core.source.does_blocking_io()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            return handle
                .spawn_blocking(move || f(core.source.as_ref(), &core.ctx))
                .await
                .map_err(|e| Error::InvalidRequest(format!("refresh task failed: {e}")))?;
        }
        f(core.source.as_ref(), &core.ctx)
    }
}
