//! The async flavour: `oauth_core::TokenStore` over the redis crate's tokio multiplexed
//! connection, every step under a timeout.

use std::future::Future;
use std::sync::{MutexGuard, PoisonError};
use std::time::SystemTime;

use oauth_core::Error;
use oauth_core::store::{StoreLock, StoredToken, TokenKey, TokenStore};
use redis::aio::MultiplexedConnection;

use crate::wait::{LockWait, Next, jitter};
use crate::{Local, RedisStore, lock_token, merge, open, poll_pipe, release_cmd, save_cmd};

impl RedisStore {
    fn async_slot(&self) -> MutexGuard<'_, Option<MultiplexedConnection>> {
        self.inner
            .async_conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    async fn async_connect(&self) -> Result<MultiplexedConnection, String> {
        let c = &self.inner.config;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(c.connect_timeout))
            .set_response_timeout(Some(c.command_timeout));
        let connecting = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(c.connect_timeout, connecting).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no connection within {:?}", c.connect_timeout)),
        }
    }

    /// Runs `f` on a connection (connecting first when needed) under the command timeout;
    /// `None` when Redis is away or failed, which [`Health`](crate::health::Health)
    /// records. A failed connection is dropped and made again on a later try; a kept one
    /// that turns out broken (Redis restarted, its runtime gone) is replaced once, at once.
    pub(crate) async fn async_query<T, F, Fut>(&self, doing: &str, f: F) -> Option<T>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let health = &self.inner.health;
        if !health.available() {
            return None;
        }
        loop {
            let existing = self.async_slot().clone();
            let fresh = existing.is_none();
            let conn = match existing {
                Some(c) => c,
                None => match self.async_connect().await {
                    Ok(c) => {
                        *self.async_slot() = Some(c.clone());
                        c
                    }
                    Err(e) => {
                        health.failed("connecting", &e);
                        return None;
                    }
                },
            };
            self.count();
            let timeout = self.inner.config.command_timeout;
            let failure = match tokio::time::timeout(timeout, f(conn)).await {
                Ok(Ok(v)) => {
                    health.succeeded();
                    return Some(v);
                }
                Ok(Err(e)) if !fresh && crate::is_stale_connection(&e) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!("no answer within {timeout:?}")),
            };
            *self.async_slot() = None;
            if let Some(failure) = failure {
                health.failed(doing, &failure);
                return None;
            }
        }
    }

    async fn async_local_load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        match &self.inner.local {
            Local::Memory(m) => TokenStore::load(m, key).await,
            Local::File(f) => TokenStore::load(f, key).await,
        }
    }
}

/// The fleet's lock, released (compare-and-delete) when dropped: the release runs as a
/// task on the current runtime, so dropping never waits. Without a runtime, or when
/// Redis is away, the lock expires by itself.
struct AsyncLease {
    store: RedisStore,
    lock: String,
    token: String,
}

impl Drop for AsyncLease {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.store.clone();
        let cmd = release_cmd(&self.lock, &self.token);
        runtime.spawn(async move {
            store
                .async_query("unlocking", |mut c| {
                    let cmd = &cmd;
                    async move { cmd.query_async::<i64>(&mut c).await }
                })
                .await;
        });
    }
}

#[async_trait::async_trait]
impl TokenStore for RedisStore {
    async fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        let local = self.async_local_load(key).await?;
        let Some(name) = self.entry_name(key) else {
            return Ok(local);
        };
        let get = redis::cmd("GET").arg(&name).to_owned();
        let remote = self
            .async_query("reading", |mut c| {
                let get = &get;
                async move { get.query_async::<Option<Vec<u8>>>(&mut c).await }
            })
            .await
            .flatten();
        Ok(merge(open(key, remote, &self.inner.label), local))
    }

    async fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
        let local = match &self.inner.local {
            Local::Memory(m) => TokenStore::lock(m, key).await?,
            Local::File(f) => TokenStore::lock(f, key).await?,
        };
        let (Some(lock), Some(entry)) = (self.lock_name(key), self.entry_name(key)) else {
            return Ok(local);
        };
        let token = lock_token()?;
        let config = &self.inner.config;
        let mut wait = LockWait::new(config.lock_wait, jitter());
        let pipe = poll_pipe(&lock, &entry, &token, config.lock_ttl);
        loop {
            let polled = self
                .async_query("locking", |mut c| {
                    let pipe = &pipe;
                    async move {
                        pipe.query_async::<(Option<String>, Option<Vec<u8>>)>(&mut c)
                            .await
                    }
                })
                .await;
            // Redis away: this process refreshes under its local lock alone.
            let Some((set, current)) = polled else {
                return Ok(local);
            };
            match wait.next(set.is_some(), current) {
                Next::Acquired => {
                    let lease = AsyncLease {
                        store: self.clone(),
                        lock,
                        token,
                    };
                    return Ok(RedisStore::held(local, Some(lease)));
                }
                Next::Changed => return Ok(local),
                Next::Sleep(d) => tokio::time::sleep(d).await,
                Next::GiveUp => {
                    self.gave_up();
                    return Ok(local);
                }
            }
        }
    }

    async fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        match &self.inner.local {
            Local::Memory(m) => TokenStore::save(m, key, entry).await?,
            Local::File(f) => TokenStore::save(f, key, entry).await?,
        }
        let Some((name, sealed, ttl)) = self.shareable(key, entry, SystemTime::now())? else {
            return Ok(());
        };
        let cmd = save_cmd(&name, sealed, ttl);
        self.async_query("saving", |mut c| {
            let cmd = &cmd;
            async move { cmd.query_async::<()>(&mut c).await }
        })
        .await;
        Ok(())
    }
}
