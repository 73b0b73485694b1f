//! What a credential type provides to the shared machinery: how to obtain a token.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::exchange::BoxExchange;
use crate::fsutil::FileLock;
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
    /// A token is at hand without a request: minted locally, or refreshed by another
    /// process that shares the credential's file.
    Ready(Token),
    /// Run the exchange, then hand its answer to [`TokenSource::finish_refresh`] together
    /// with the lock.
    Exchange {
        /// The sans-IO token exchange.
        exchange: BoxExchange<TokenResponse>,
        /// A lock on a shared store, held until the new token is written.
        lock: Option<FileLock>,
    },
}

impl fmt::Debug for Refresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refresh::Ready(t) => f.debug_tuple("Ready").field(t).finish(),
            Refresh::Exchange { lock, .. } => f
                .debug_struct("Exchange")
                .field("locked", &lock.is_some())
                .finish_non_exhaustive(),
        }
    }
}

/// A credential type: authorized user, service account, metadata server, ...
///
/// The shared [`crate::blocking::Credentials`] and async `Credentials` handles drive a
/// source through the token cache; a source never does network I/O itself. Sources that
/// read or write files ([`TokenSource::does_blocking_io`]) are run off the async executor.
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

    /// Starts a refresh. May do blocking file I/O when [`TokenSource::does_blocking_io`].
    fn begin_refresh(&self, ctx: &RefreshContext) -> Result<Refresh, Error>;

    /// Completes a refresh with the token endpoint's answer: keeps a rotated refresh token,
    /// writes the store, releases the lock.
    fn finish_refresh(
        &self,
        response: TokenResponse,
        lock: Option<FileLock>,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        drop(lock);
        Ok(response.to_token(ctx.clock.now()))
    }

    /// Whether `begin_refresh` and `finish_refresh` touch files.
    fn does_blocking_io(&self) -> bool {
        false
    }

    /// The source as `Any`, so a handle can give back its concrete type.
    fn as_any(&self) -> &dyn Any;
}
