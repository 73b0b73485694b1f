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

crate::credentials::credentials_handle! {
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
    pub struct Credentials;
    /// Builds a [`Credentials`] with a chosen client, clock, margin or retry policy.
    ///
    /// ```
    /// use oauth_core::{AuthorizedUser, Credentials, RetryPolicy, Secret};
    /// let user = AuthorizedUser::new("id", None, Some(Secret::new("r")), "http://127.0.0.1:1/token".parse().unwrap());
    /// let creds = Credentials::builder(user).retry(RetryPolicy::none()).build();
    /// assert_eq!(creds.kind(), "authorized_user");
    /// ```
    pub struct CredentialsBuilder;
    client: AsyncHttpClient,
    default_client: ReqwestClient,
    name: "Credentials",
}

impl Credentials {
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
