//! The default store: this process's memory.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
#[cfg(feature = "blocking")]
use std::time::Instant;

use event_listener::Event;

use super::{StoreLock, StoredToken, TokenKey};
use crate::Error;
use crate::fsutil::DEFAULT_LOCK_WAIT;

/// A store in this process's memory: what a handle uses when given no other store. Clones
/// share the entries, so handles built with clones of one `MemoryStore` share their tokens
/// and refresh one at a time; nothing outlives the process. Waiting for another holder's
/// lock is bounded ([`MemoryStore::with_lock_wait`]).
///
/// ```
/// # #[cfg(feature = "blocking")] {
/// use oauth_core::{Token, blocking::TokenStore, store::{MemoryStore, StoredToken, TokenKey}};
/// let store = MemoryStore::new();
/// let key = TokenKey::new("service_account", "sa@p.iam.gserviceaccount.com", ["s"]);
/// assert!(store.load(&key)?.is_none());
/// let lock = store.lock(&key)?;
/// store.save(&key, &StoredToken::new(Token::bearer("ya29.a", None)))?;
/// drop(lock);
/// assert_eq!(store.load(&key)?.unwrap().token.unwrap().access_token.expose(), "ya29.a");
/// # }
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
    lock_wait: Duration,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            shared: Arc::default(),
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    entries: Mutex<HashMap<String, StoredToken>>,
    locked: Mutex<HashSet<String>>,
    released: Event,
}

/// Releases a memory lock when dropped.
struct Held {
    shared: Arc<Shared>,
    name: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        lock(&self.shared.locked).remove(&self.name);
        self.shared.released.notify(usize::MAX);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// How long a refresh waits for another holder of an entry's lock
    /// ([`DEFAULT_LOCK_WAIT`] by default).
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    fn get(&self, key: &TokenKey) -> Option<StoredToken> {
        lock(&self.shared.entries).get(key.name()).cloned()
    }

    fn put(&self, key: &TokenKey, entry: &StoredToken) {
        let mut entries = lock(&self.shared.entries);
        let kept = entries
            .get(key.name())
            .and_then(|e| e.refresh_token.clone());
        let mut entry = entry.clone();
        if entry.refresh_token.is_none() {
            entry.refresh_token = kept;
        }
        entries.insert(key.name().to_owned(), entry);
    }

    fn try_lock(&self, key: &TokenKey) -> Option<StoreLock> {
        lock(&self.shared.locked)
            .insert(key.name().to_owned())
            .then(|| {
                StoreLock::new(Held {
                    shared: Arc::clone(&self.shared),
                    name: key.name().to_owned(),
                })
            })
    }

    fn timeout(key: &TokenKey, waited: Duration) -> Error {
        Error::LockTimeout {
            path: "memory store".into(),
            lock: key.name().into(),
            waited,
        }
    }
}

#[cfg(feature = "blocking")]
impl crate::blocking::TokenStore for MemoryStore {
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        Ok(self.get(key))
    }

    fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
        use event_listener::Listener;
        let wait = self.lock_wait;
        let deadline = Instant::now().checked_add(wait);
        loop {
            let listener = self.shared.released.listen();
            if let Some(held) = self.try_lock(key) {
                return Ok(held);
            }
            let notified = match deadline {
                Some(d) => listener.wait_deadline(d).is_some(),
                None => {
                    listener.wait();
                    true
                }
            };
            if !notified {
                return self.try_lock(key).ok_or_else(|| Self::timeout(key, wait));
            }
        }
    }

    fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        self.put(key, entry);
        Ok(())
    }
}

#[cfg(feature = "async")]
#[async_trait::async_trait]
impl super::TokenStore for MemoryStore {
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        Ok(self.get(key))
    }

    async fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
        let wait = self.lock_wait;
        let deadline = tokio::time::Instant::now().checked_add(wait);
        loop {
            let listener = self.shared.released.listen();
            if let Some(held) = self.try_lock(key) {
                return Ok(held);
            }
            let notified = match deadline {
                Some(d) => tokio::time::timeout_at(d, listener).await.is_ok(),
                None => {
                    listener.await;
                    true
                }
            };
            if !notified {
                return self.try_lock(key).ok_or_else(|| Self::timeout(key, wait));
            }
        }
    }

    async fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        self.put(key, entry);
        Ok(())
    }
}

#[cfg(all(test, feature = "blocking"))]
mod tests {
    use super::*;
    use crate::Token;
    use crate::blocking::TokenStore;
    use crate::types::RefreshToken;

    #[test]
    fn a_held_lock_makes_others_wait_until_it_is_released_or_the_wait_ends() {
        let store = MemoryStore::new().with_lock_wait(Duration::from_millis(10));
        let key = TokenKey::new("k", "i", ["s"]);
        let held = store.lock(&key).unwrap();
        let e = store.lock(&key).unwrap_err();
        assert!(
            matches!(e, Error::LockTimeout { .. }) && e.is_transient(),
            "{e}"
        );
        let other = TokenKey::new("k", "i", ["t"]);
        drop(store.lock(&other).unwrap());
        let patient = store.clone().with_lock_wait(Duration::from_secs(30));
        let waiter = {
            let key = key.clone();
            std::thread::spawn(move || patient.lock(&key).map(drop))
        };
        drop(held);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn a_save_without_a_refresh_token_keeps_the_stored_one() {
        let store = MemoryStore::new();
        let key = TokenKey::new("k", "i", ["s"]);
        let first = StoredToken::new(Token::bearer("a", None))
            .with_refresh_token(RefreshToken::new("1//r"));
        store.save(&key, &first).unwrap();
        store
            .save(&key, &StoredToken::new(Token::bearer("b", None)))
            .unwrap();
        let back = store.load(&key).unwrap().unwrap();
        assert_eq!(back.token.unwrap().access_token.expose(), "b");
        assert_eq!(back.refresh_token.unwrap().expose(), "1//r");
    }
}
