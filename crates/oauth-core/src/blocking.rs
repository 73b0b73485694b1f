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

crate::credentials::credentials_handle! {
    /// A credential of any type with its cache and a blocking transport: cheap to clone,
    /// `Send + Sync`, one refresh at a time however many threads ask.
    ///
    /// ```no_run
    /// use oauth_core::{AuthorizedUser, blocking::Credentials};
    /// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
    /// let token = creds.token()?;            // refreshed only when needed
    /// # Ok::<(), oauth_core::Error>(())
    /// ```
    pub struct Credentials;
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
    pub struct CredentialsBuilder;
    client: HttpClient,
    default_client: UreqClient,
    name: "blocking::Credentials",
}

impl Credentials {
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
