//! Where tokens are kept between refreshes, and how processes (or hosts) that share a
//! credential make one refresh between them.
//!
//! Every refresh of a credential handle goes through its store: the handle loads the entry
//! (another holder may have refreshed already), takes the store's lock on it (the store
//! bounds the wait), loads it again, refreshes with the stored refresh token, and saves the
//! new token before the lock is released. So a store sees every new and rotated token, and
//! holders that share it never reuse a rotated-away refresh token. When the wait for the
//! lock runs out, a fresh token another holder saved meanwhile is used; otherwise the
//! refresh fails with [`Error::LockTimeout`](crate::Error::LockTimeout).
//!
//! - [`TokenKey`]: which credential and scopes an entry belongs to; its
//!   [`name`](TokenKey::name) reveals neither, and [`seal`](TokenKey::seal) /
//!   [`open`](TokenKey::open) protect an entry with a key derived from the credential's own
//!   secret, so a shared store never holds a usable token in the clear.
//! - [`StoredToken`]: the entry.
//! - [`TokenStore`] (async) and `blocking::TokenStore`: `load`, `lock`, `save`.
//! - [`MemoryStore`]: the default, in this process only; [`FileStore`]: google-auth's
//!   authorized-user file, shared with other processes and with google-auth itself.

mod file;
mod key;
mod memory;

use std::any::Any;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::fsutil::DEFAULT_LOCK_WAIT;
pub use file::FileStore;
pub use key::TokenKey;
pub use memory::MemoryStore;

use crate::Token;
use crate::types::RefreshToken;

/// A store's entry for one credential: the token, and the refresh token to use next (a
/// server that rotates refresh tokens issues a new one with each refresh).
///
/// ```
/// use oauth_core::{Token, store::StoredToken, types::RefreshToken};
/// let entry = StoredToken::new(Token::bearer("ya29.a", None)).with_refresh_token(RefreshToken::new("1//r"));
/// let json = serde_json::to_string(&entry).unwrap();
/// assert_eq!(serde_json::from_str::<StoredToken>(&json).unwrap(), entry);
/// assert!(!format!("{entry:?}").contains("ya29"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredToken {
    /// The token, when the store holds one (a file may hold only a refresh token).
    pub token: Option<Token>,
    /// The refresh token, when the credential has one. `None` in an entry being saved
    /// leaves the stored refresh token as it is.
    pub refresh_token: Option<RefreshToken>,
}

impl StoredToken {
    /// An entry holding a token.
    pub fn new(token: Token) -> Self {
        StoredToken {
            token: Some(token),
            refresh_token: None,
        }
    }

    /// The same entry with a refresh token.
    pub fn with_refresh_token(mut self, refresh_token: RefreshToken) -> Self {
        self.refresh_token = Some(refresh_token);
        self
    }
}

/// A store's lock on one entry, held while a refresh runs: dropping it releases the lock.
///
/// A store makes one from whatever it holds (an OS file lock, a lease on a shared server);
/// releasing must not wait for anything, as a drop may run on an async executor.
///
/// ```
/// use oauth_core::store::StoreLock;
/// let lock = StoreLock::new(std::sync::Mutex::new(()));
/// drop(lock);
/// ```
#[must_use = "the lock is released when this value is dropped"]
pub struct StoreLock {
    _held: Option<Box<dyn Any + Send + Sync>>,
}

impl StoreLock {
    /// A lock held by `held` until it is dropped.
    pub fn new(held: impl Any + Send + Sync) -> Self {
        StoreLock {
            _held: Some(Box::new(held)),
        }
    }

    /// A lock that holds nothing: for stores that need no lock.
    pub fn unlocked() -> Self {
        StoreLock { _held: None }
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreLock")
            .field("held", &self._held.is_some())
            .finish()
    }
}

/// Where an async credential handle keeps its tokens (the blocking twin is
/// `oauth_core::blocking::TokenStore`).
///
/// An implementation that does blocking work (files, a synchronous client) runs it on
/// tokio's blocking pool, never on the executor; [`MemoryStore`] and [`FileStore`] do.
///
/// ```
/// use oauth_core::{Error, store::{MemoryStore, StoredToken, StoreLock, TokenKey, TokenStore}};
/// /// A store that forwards to another and counts saves.
/// #[derive(Debug, Default)]
/// struct Counting { inner: MemoryStore, saves: std::sync::atomic::AtomicUsize }
/// #[async_trait::async_trait]
/// impl TokenStore for Counting {
///     async fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
///         TokenStore::load(&self.inner, key).await
///     }
///     async fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
///         TokenStore::lock(&self.inner, key).await
///     }
///     async fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
///         self.saves.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
///         TokenStore::save(&self.inner, key, entry).await
///     }
/// }
/// ```
#[cfg(feature = "async")]
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The entry for `key`, if the store holds one.
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, crate::Error>;

    /// Takes the store's lock on `key`, waiting a bounded time for another holder (then
    /// failing with [`Error::LockTimeout`](crate::Error::LockTimeout)). Holders of the lock
    /// refresh one at a time.
    async fn lock(&self, key: &TokenKey) -> Result<StoreLock, crate::Error>;

    /// Stores `entry` for `key` (a `None` refresh token keeps the stored one).
    async fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), crate::Error>;
}
