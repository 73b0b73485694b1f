//! The async flavour: its runner and the four methods of [`Credentials`] that await. The
//! names are re-exported at the crate root; [`crate::blocking`] has the same names.

use std::sync::Arc;

use http::HeaderMap;

use crate::cache::Ahead;
use crate::exchange::{Exchange, Input, Step};
use crate::flavour::Async;
use crate::http::HttpRequest;
use crate::origin::{check_origin, declares_origin};
use crate::source::{Refresh, RefreshContext, TokenSource};
use crate::store::TokenStore;
use crate::transport::AsyncHttpClient;
use crate::types::AccessToken;
use crate::{Error, Token, apply_token};

/// The async credential handle: [`handle::Credentials`](crate::handle::Credentials) in the
/// async flavour. The blocking twin is [`crate::blocking::Credentials`].
///
/// ```no_run
/// # async fn f() -> Result<(), oauth_core::Error> {
/// use oauth_core::{AuthorizedUser, Credentials};
/// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
/// let token = creds.token().await?;
/// # Ok(()) }
/// ```
pub type Credentials = crate::handle::Credentials<Async>;

/// The async credential builder.
pub type CredentialsBuilder = crate::handle::CredentialsBuilder<Async>;

/// Drives an exchange over an async client (tokio timers for waits): sends what it asks,
/// sleeps when it says, returns what it finishes with.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use oauth_core::{exchange::Immediate, transport::ReqwestClient};
/// let n = oauth_core::run(&ReqwestClient::new(), &mut Immediate::new(Ok(1))).await.unwrap();
/// assert_eq!(n, 1);
/// # }
/// ```
pub async fn run<E: Exchange + ?Sized>(
    client: &dyn AsyncHttpClient,
    exchange: &mut E,
) -> Result<E::Output, Error> {
    drive(client, exchange, Unauthorized).await
}

/// [`run`], putting `credentials` on every request of the exchange: each request must
/// declare an [`ApiOrigin`](crate::origin::ApiOrigin) and be addressed to it, or it is refused
/// with [`Error::ForeignOrigin`] before it is sent. Without credentials, a request that
/// declares an origin is still checked (its URL may carry an API key); others go as they
/// are. The async runner of API calls and discovery documents.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use oauth_core::{exchange::Immediate, transport::ReqwestClient};
/// let n = oauth_core::run_authorized(&ReqwestClient::new(), &mut Immediate::new(Ok(1)), None).await.unwrap();
/// assert_eq!(n, 1);
/// # }
/// ```
pub async fn run_authorized<E: Exchange + ?Sized>(
    client: &dyn AsyncHttpClient,
    exchange: &mut E,
    credentials: Option<&Credentials>,
) -> Result<E::Output, Error> {
    match credentials {
        Some(c) => drive(client, exchange, Authorized(c)).await,
        None => drive(client, exchange, Unauthorized).await,
    }
}

/// The one async loop over [`Step`]s. Generic over what is done to each request, so that
/// a token refresh (which runs its exchange unauthorized) is a different future from the
/// API call that asked for the token.
async fn drive<E: Exchange + ?Sized, A: Authorize>(
    client: &dyn AsyncHttpClient,
    exchange: &mut E,
    authorize: A,
) -> Result<E::Output, Error> {
    let mut input = Input::Start;
    loop {
        match exchange.step(input) {
            Step::Send(mut request) => {
                authorize.authorize(&mut request).await?;
                if !client.streams_bodies()
                    && let Err(e) = crate::http::materialize_async(&mut request).await
                {
                    input = Input::Response(Err(e));
                    continue;
                }
                input = Input::Response(client.execute(request).await);
            }
            Step::Wait(d) => {
                tokio::time::sleep(d).await;
                input = Input::Waited;
            }
            Step::Done(result) => return result,
        }
    }
}

/// What the runner does to a request before sending it.
trait Authorize: Sync {
    fn authorize<'a>(
        &'a self,
        request: &'a mut HttpRequest,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a;
}

/// Requests go as the exchange built them (on their declared origin, when they declare
/// one).
struct Unauthorized;

impl Authorize for Unauthorized {
    fn authorize<'a>(
        &'a self,
        request: &'a mut HttpRequest,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        let checked = if declares_origin(request) {
            check_origin(request)
        } else {
            Ok(())
        };
        std::future::ready(checked)
    }
}

/// Requests carry the credentials, on the declared origin only.
struct Authorized<'c>(&'c Credentials);

impl Authorize for Authorized<'_> {
    async fn authorize(&self, request: &mut HttpRequest) -> Result<(), Error> {
        check_origin(request)?;
        self.0.apply(request).await
    }
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
    pub async fn token(&self) -> Result<AccessToken, Error> {
        if let Some(t) = self.core.cache.fresh_access_token() {
            return Ok(AccessToken::from(t));
        }
        self.token_details().await.map(|t| t.access_token.clone())
    }

    /// The token with its expiry, scopes and ID token. A token that is still valid but
    /// inside the refresh margin is returned at once, while one refresh runs in a spawned
    /// task for every holder of the credential (inside a tokio runtime; elsewhere the
    /// caller that finds the token stale refreshes it and waits).
    pub async fn token_details(&self) -> Result<Arc<Token>, Error> {
        match self.core.cache.ahead() {
            Ahead::Fresh(t) | Ahead::Stale(t, None) => Ok(t),
            Ahead::Stale(t, Some(refresher)) => {
                let replacing = t.access_token.clone();
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    let result = self.fetch(Some(replacing), FOREGROUND).await;
                    return Ok(self.core.cache.complete(refresher, result).unwrap_or(t));
                };
                let this = self.clone();
                runtime.spawn(async move {
                    // Spawned from a worker, the task would run next on it (tokio's LIFO
                    // slot), ahead of the callers already woken there; it goes behind them
                    // instead, since they hold a valid token. Its signing, if any, runs on
                    // the blocking pool (`BACKGROUND`), not on a worker.
                    tokio::task::yield_now().await;
                    let result = this.fetch(Some(replacing), BACKGROUND).await;
                    if let Err(e) = &result {
                        tracing::warn!(error = %e, "background refresh failed; the token is still valid");
                    }
                    let _ = this.core.cache.complete(refresher, result);
                });
                Ok(t)
            }
            Ahead::Unusable => {
                let replacing = self.core.replacing();
                self.core
                    .cache
                    .get_async(|| self.fetch(replacing, FOREGROUND))
                    .await
            }
        }
    }

    /// Refreshes now, whatever the cache holds (still one refresh for concurrent callers).
    pub async fn refresh(&self) -> Result<Arc<Token>, Error> {
        let replacing = self.core.replacing();
        self.core.cache.invalidate();
        self.core
            .cache
            .get_async(|| self.fetch(replacing, FOREGROUND))
            .await
    }

    /// Adds `Authorization` (and the quota project header) to a request.
    pub async fn apply(&self, request: &mut HttpRequest) -> Result<(), Error> {
        let token = self.token().await?;
        apply_token(request, token.secret(), self.core.source.quota_project_id())
    }

    /// The headers [`Credentials::apply`] sets, for requests built elsewhere (the parts of
    /// a batch carry them).
    pub async fn headers(&self) -> Result<HeaderMap, Error> {
        let mut probe = HttpRequest::default();
        self.apply(&mut probe).await?;
        Ok(std::mem::take(probe.headers_mut()))
    }

    /// One refresh through the store: load, lock, load again, refresh, save. The store
    /// runs its file work on the blocking pool, and so does a source that reads files; a
    /// background refresh also starts its source there (a service account's RSA signature
    /// is a millisecond of CPU that the callers of a still-valid token need not queue
    /// behind).
    async fn fetch(
        &self,
        replacing: Option<AccessToken>,
        background: bool,
    ) -> Result<Token, Error> {
        let c = &self.core;
        let (store, key) = (c.store.as_ref(), c.key());
        let load = || async {
            store.load(key).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the token store; refreshing without it");
                None
            })
        };
        if let Some(t) = c.adoptable(load().await.as_ref(), replacing.as_ref()) {
            return Ok(t);
        }
        let _lock = match store.lock(key).await {
            Ok(lock) => lock,
            Err(e @ Error::LockTimeout { .. }) => {
                tracing::warn!(error = %e, "gave up waiting for another holder's refresh");
                return c
                    .adoptable(load().await.as_ref(), replacing.as_ref())
                    .ok_or(e);
            }
            Err(e) => return Err(e),
        };
        let stored = load().await;
        if let Some(t) = c.adoptable(stored.as_ref(), replacing.as_ref()) {
            return Ok(t);
        }
        let begun = self
            .source_step(background, move |source, ctx| {
                source.begin_refresh(ctx, stored.as_ref())
            })
            .await?;
        let token = match begun {
            Refresh::Ready(t) => t,
            Refresh::Exchange(mut exchange) => {
                let response = run(c.http.as_ref(), &mut exchange).await?;
                self.source_step(false, move |source, ctx| {
                    source.finish_refresh(response, ctx)
                })
                .await?
            }
        };
        store.save(key, &c.entry(&token)).await?;
        Ok(token)
    }

    /// Runs a step of the source, on tokio's blocking pool when the source reads files or
    /// runs programs, or when `off_pool` asks.
    async fn source_step<R: Send + 'static>(
        &self,
        off_pool: bool,
        f: impl FnOnce(&dyn TokenSource, &RefreshContext) -> Result<R, Error> + Send + 'static,
    ) -> Result<R, Error> {
        let core = Arc::clone(&self.core);
        if off_pool || core.source.does_blocking_io() {
            off_executor(move || f(core.source.as_ref(), &core.ctx)).await
        } else {
            f(core.source.as_ref(), &core.ctx)
        }
    }
}

/// [`Credentials::fetch`] for a caller that waits for it.
const FOREGROUND: bool = false;
/// [`Credentials::fetch`] in a spawned background refresh.
const BACKGROUND: bool = true;

/// Runs blocking work (files, locks, programs) on tokio's blocking pool, so the executor's
/// threads keep running other tasks; inline when there is no tokio runtime to ask.
pub(crate) async fn off_executor<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, Error> + Send + 'static,
) -> Result<R, Error> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| Error::InvalidRequest(format!("blocking task failed: {e}")))?,
        Err(_) => f(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::http::{Bytes, HttpResponse};
    use crate::origin::ApiOrigin;
    use crate::types::RefreshToken;
    use crate::{AuthorizedUser, TransportError};

    struct Calls(Vec<HttpRequest>);

    impl Exchange for Calls {
        type Output = usize;
        fn step(&mut self, _: Input) -> Step<usize> {
            match self.0.pop() {
                Some(r) => Step::Send(r),
                None => Step::Done(Ok(0)),
            }
        }
    }

    #[derive(Default)]
    struct Recording(Mutex<Vec<(String, Option<String>)>>);

    #[async_trait::async_trait]
    impl AsyncHttpClient for Recording {
        async fn execute(&self, r: HttpRequest) -> Result<HttpResponse, TransportError> {
            let auth = r
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            self.0.lock().unwrap().push((r.uri().to_string(), auth));
            Ok(http::Response::new(Bytes::new()))
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn credentials_go_only_to_the_origin_the_call_declared() {
        let user = AuthorizedUser::new(
            "id",
            None,
            Some(RefreshToken::new("1//r")),
            "http://127.0.0.1:1/token".parse::<url::Url>().unwrap(),
        )
        .with_token(Token::bearer(
            "ya29.cached",
            Some(SystemTime::now() + Duration::from_secs(3600)),
        ));
        let creds = Credentials::new(user);
        let api: http::Uri = "https://www.googleapis.com/drive/v3/files".parse().unwrap();
        let origin = ApiOrigin::of(&api).unwrap();
        let mut good = http::Request::builder()
            .uri(api)
            .body(Bytes::new())
            .unwrap();
        good.extensions_mut().insert(origin.clone());
        let mut stray = http::Request::builder()
            .uri("https://evil.example/steal")
            .body(Bytes::new())
            .unwrap();
        stray.extensions_mut().insert(origin);
        let client = Arc::new(Recording::default());
        let mut ex = Calls(vec![stray, good]);
        let e = run_authorized(client.as_ref(), &mut ex, Some(&creds))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ForeignOrigin { .. }), "{e}");
        let seen = client.0.lock().unwrap();
        assert_eq!(seen.len(), 1, "the stray request was never sent");
        assert_eq!(seen[0].1.as_deref(), Some("Bearer ya29.cached"));
    }
}
