//! What a credential type provides to the shared machinery: how to obtain a token.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::exchange::BoxExchange;
use crate::store::{StoredToken, TokenKey};
use crate::types::RefreshToken;
use crate::{Clock, Error, RetryPolicy, Token, TokenResponse};

/// What a refresh may use: the clock, the refresh margin and the retry policy of the
/// credential that runs it.
#[derive(Debug, Clone)]
pub struct RefreshContext {
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// How long before expiry a token is replaced.
    pub margin: Duration,
    /// How transient failures are retried.
    pub retry: RetryPolicy,
}

/// The first half of a refresh.
pub enum Refresh {
    /// A token is at hand without a request (minted locally, a self-signed JWT say).
    Ready(Token),
    /// Run the exchange, then hand its answer to [`TokenSource::finish_refresh`].
    Exchange(BoxExchange<TokenResponse>),
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refresh::Ready(t) => f.debug_tuple("Ready").field(t).finish(),
            Refresh::Exchange(_) => f.debug_tuple("Exchange").finish_non_exhaustive(),
        }
    }
}

/// A credential type: authorized user, service account, metadata server, ...
///
/// The credential handle (`Credentials`, in both flavours) drives a source through its
/// token cache and its token store; a source never does network I/O itself, and keeps no
/// files: the handle's store does. A refresh runs as: the handle loads the store's entry
/// (another process may have refreshed), takes the store's lock, loads it again, then
/// calls [`begin_refresh`](TokenSource::begin_refresh) with it, runs the exchange, calls
/// [`finish_refresh`](TokenSource::finish_refresh), and saves the new token with
/// [`current_refresh_token`](TokenSource::current_refresh_token) before the lock is
/// released. Sources that read files or run programs while refreshing say so
/// ([`TokenSource::does_blocking_io`]) and are run off the async executor.
pub trait TokenSource: Send + Sync + fmt::Debug + 'static {
    /// The credential type, as in a credentials file's `type` field.
    fn kind(&self) -> &'static str;

    /// A token the source already holds (for example from its file), if any.
    fn initial_token(&self) -> Option<Token> {
        None
    }

    /// The project billed for API calls (`x-goog-user-project`).
    fn quota_project_id(&self) -> Option<&str> {
        None
    }

    /// Which store entry the source's tokens go to. The default names this very value,
    /// which suits a store in this process only; a source whose tokens may be shared
    /// between processes or hosts names its credential and scopes (and gives the key its
    /// secret, so entries can be sealed).
    fn store_key(&self) -> TokenKey {
        let this = format!("{self:p}");
        TokenKey::new(self.kind(), &this, [""; 0])
    }

    /// Whether a token from the store (or one the source was made with) serves this
    /// source: tokens issued for other scopes than it asks for do not.
    fn accepts(&self, token: &Token) -> bool {
        let _ = token;
        true
    }

    /// Starts a refresh. `stored` is the store's entry, read under its lock: its refresh
    /// token, when it has one, is the latest (another process may have rotated it). May do
    /// blocking file I/O when [`TokenSource::does_blocking_io`].
    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        stored: Option<&StoredToken>,
    ) -> Result<Refresh, Error>;

    /// Completes a refresh with the token endpoint's answer (keeping a rotated refresh
    /// token in [`TokenSource::current_refresh_token`]).
    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        Ok(response.to_token(ctx.clock.now()))
    }

    /// The refresh token to store with a new token, for sources that have one.
    fn current_refresh_token(&self) -> Option<RefreshToken> {
        None
    }

    /// Whether `begin_refresh` and `finish_refresh` read files or run programs.
    fn does_blocking_io(&self) -> bool {
        false
    }

    /// The source as `Any`, so a handle can give back its concrete type.
    fn as_any(&self) -> &dyn Any;
}
