//! The blocking flavour: `oauth_core::blocking::TokenStore` over the redis crate's
//! synchronous connection, with read and write timeouts on its socket.

use std::sync::{MutexGuard, PoisonError};
use std::time::SystemTime;

use oauth_core::Error;
use oauth_core::blocking::TokenStore;
use oauth_core::store::{StoreLock, StoredToken, TokenKey};

use crate::wait::{LockWait, Next, jitter};
use crate::{Local, RedisStore, lock_token, merge, open, poll_pipe, release_cmd, save_cmd};

impl RedisStore {
    fn sync_slot(&self) -> MutexGuard<'_, Option<redis::Connection>> {
        self.inner
            .sync_conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn sync_connect(&self) -> redis::RedisResult<redis::Connection> {
        let c = &self.inner.config;
        let conn = self
            .inner
            .client
            .get_connection_with_timeout(c.connect_timeout)?;
        conn.set_read_timeout(Some(c.command_timeout))?;
        conn.set_write_timeout(Some(c.command_timeout))?;
        Ok(conn)
    }

    /// Runs `f` on the connection (connecting first when needed); `None` when Redis is
    /// away or failed, which [`Health`](crate::health::Health) records. A failed
    /// connection is dropped: a late reply must never answer the next command. A kept
    /// connection that turns out broken (Redis restarted) is replaced once, at once.
    pub(crate) fn sync_query<T>(
        &self,
        doing: &str,
        f: impl Fn(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Option<T> {
        let health = &self.inner.health;
        if !health.available() {
            return None;
        }
        let mut slot = self.sync_slot();
        loop {
            let fresh = slot.is_none();
            if fresh {
                match self.sync_connect() {
                    Ok(c) => *slot = Some(c),
                    Err(e) => {
                        health.failed("connecting", &e);
                        return None;
                    }
                }
            }
            let conn = slot.as_mut()?;
            self.count();
            match f(conn) {
                Ok(v) => {
                    health.succeeded();
                    return Some(v);
                }
                Err(e) => {
                    *slot = None;
                    if fresh || !crate::is_stale_connection(&e) {
                        health.failed(doing, &e);
                        return None;
                    }
                }
            }
        }
    }

    fn sync_local_load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        match &self.inner.local {
            Local::Memory(m) => TokenStore::load(m, key),
            Local::File(f) => TokenStore::load(f, key),
        }
    }
}

/// The fleet's lock, released (compare-and-delete) when dropped.
struct SyncLease {
    store: RedisStore,
    lock: String,
    token: String,
}

impl Drop for SyncLease {
    fn drop(&mut self) {
        let cmd = release_cmd(&self.lock, &self.token);
        // Bounded by the command timeout; when Redis is away the lock expires by itself.
        self.store.sync_query("unlocking", |c| cmd.query::<i64>(c));
    }
}

impl TokenStore for RedisStore {
    fn load(&self, key: &TokenKey) -> Result<Option<StoredToken>, Error> {
        let local = self.sync_local_load(key)?;
        let Some(name) = self.entry_name(key) else {
            return Ok(local);
        };
        let remote = self
            .sync_query("reading", |c| {
                redis::cmd("GET").arg(&name).query::<Option<Vec<u8>>>(c)
            })
            .flatten();
        Ok(merge(open(key, remote, &self.inner.label), local))
    }

    fn lock(&self, key: &TokenKey) -> Result<StoreLock, Error> {
        let local = match &self.inner.local {
            Local::Memory(m) => TokenStore::lock(m, key)?,
            Local::File(f) => TokenStore::lock(f, key)?,
        };
        let (Some(lock), Some(entry)) = (self.lock_name(key), self.entry_name(key)) else {
            return Ok(local);
        };
        let token = lock_token()?;
        let config = &self.inner.config;
        let mut wait = LockWait::new(config.lock_wait, jitter());
        let pipe = poll_pipe(&lock, &entry, &token, config.lock_ttl);
        loop {
            let polled = self.sync_query("locking", |c| {
                pipe.query::<(Option<String>, Option<Vec<u8>>)>(c)
            });
            // Redis away: this process refreshes under its local lock alone.
            let Some((set, current)) = polled else {
                return Ok(local);
            };
            match wait.next(set.is_some(), current) {
                Next::Acquired => {
                    let lease = SyncLease {
                        store: self.clone(),
                        lock,
                        token,
                    };
                    return Ok(RedisStore::held(local, Some(lease)));
                }
                Next::Changed => return Ok(local),
                Next::Sleep(d) => std::thread::sleep(d),
                Next::GiveUp => {
                    self.gave_up();
                    return Ok(local);
                }
            }
        }
    }

    fn save(&self, key: &TokenKey, entry: &StoredToken) -> Result<(), Error> {
        match &self.inner.local {
            Local::Memory(m) => TokenStore::save(m, key, entry)?,
            Local::File(f) => TokenStore::save(f, key, entry)?,
        }
        let Some((name, sealed, ttl)) = self.shareable(key, entry, SystemTime::now())? else {
            return Ok(());
        };
        let cmd = save_cmd(&name, sealed, ttl);
        self.sync_query("saving", |c| cmd.query::<()>(c));
        Ok(())
    }
}
