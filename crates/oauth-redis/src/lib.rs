//! A fleet token store on Redis (or Valkey, which speaks the same protocol): processes and
//! hosts that share a credential make **one** refresh per token lifetime between them.
//!
//! [`RedisStore`] is a token store (`oauth_core::TokenStore` for the async handle,
//! `oauth_core::blocking::TokenStore` for the blocking one) that a credential handle goes
//! through on every refresh: it loads the entry (another process may have refreshed),
//! takes the store's lock, loads again, refreshes, and saves. Here:
//!
//! - **Single flight across hosts.** The lock is a Redis key set with `SET NX PX` and a
//!   random token, released only by its owner (a compare-and-delete script); it expires by
//!   itself when its holder dies. Other processes wait a bounded time, polling with backoff,
//!   and take the new entry as soon as the holder saves it.
//! - **Sealed.** Entries are AES-256-GCM blobs under a key derived (HKDF) from the
//!   credential's own secret ([`TokenKey::seal`]), stored under a name derived from the same
//!   secret ([`TokenKey::sealed_name`]): Redis holds no usable token, no email, no scope,
//!   and a guess of them cannot be confirmed. A key without a secret (the metadata server,
//!   self-signed JWTs) is never stored in Redis. Each entry lives as long as its token.
//! - **Degrades, never breaks.** Behind Redis sits a local store (this process's memory,
//!   or the user's file with [`RedisStore::with_file_store`]). When Redis is unreachable,
//!   slow or wiped, the store works with the local one alone: the process mints by itself,
//!   one warning names the cache, and the next refresh after [`RedisStore::with_retry_after`]
//!   tries Redis again. Connecting and every command are bounded
//!   ([`RedisStore::with_connect_timeout`], [`RedisStore::with_command_timeout`]).
//! - **Off the hot path.** A handle answers `token()` from its in-process cache; the store
//!   (so Redis) is consulted only when that cache has no fresh token.
//!
//! ```no_run
//! # #[cfg(feature = "blocking")] {
//! use oauth_core::blocking::Credentials;
//! use oauth_redis::RedisStore;
//! use oauth_sa::ServiceAccountCredentials;
//! let sa = ServiceAccountCredentials::from_file("key.json")?
//!     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
//! let creds = Credentials::builder(sa)
//!     .store(RedisStore::new("redis://10.0.0.5:6379/0")?)
//!     .build();
//! let token = creds.token()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `docs/redis.md` in the repository has the threat model and the operations guide.
//!
//! Features: `blocking` and `async` (both by default), one per `TokenStore` trait; without
//! either the store has nothing to implement.
#![cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(dead_code, unused_imports)
)]

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
mod blocking;
mod health;
mod wait;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use oauth_core::store::{FileStore, MemoryStore, StoredToken, TokenKey};
use oauth_core::{Error, Token};

use crate::health::Health;

/// How long connecting to Redis may take before the store works locally.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
/// How long one Redis command may take before the store works locally.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a refresh holds the fleet's lock at most: a holder that dies (or takes longer)
/// lets another process refresh after this.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(10);
/// How long a process waits for another's refresh; longer than [`DEFAULT_LOCK_TTL`], so a
/// dead holder's lock expires before a waiter gives up.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(12);
/// How long the store works locally after Redis failed, before trying it again.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The prefix of every key the store writes.
pub const DEFAULT_PREFIX: &str = "gauth:";
/// The longest an entry lives in Redis, whatever its token's expiry says (12 hours, the
/// longest lifetime Google issues).
pub const MAX_ENTRY_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long an entry whose token has no expiry lives in Redis.
pub const NO_EXPIRY_TTL: Duration = Duration::from_secs(3600);

/// A token store on Redis (or Valkey), shared by every process and host that uses the same
/// server: one refresh per credential, scope set and token lifetime across all of them,
/// entries sealed with the credential's own secret, and the local store alone when Redis
/// is away. See the [crate documentation](crate) for the whole picture.
///
/// It is cheap to clone (clones share the connections and the health state) and serves
/// both flavours of handle. Nothing connects until the first refresh.
///
/// ```
/// use std::time::Duration;
/// use oauth_redis::RedisStore;
/// let store = RedisStore::new("redis://127.0.0.1:6379/2")?
///     .with_command_timeout(Duration::from_millis(100))
///     .with_lock_ttl(Duration::from_secs(5));
/// assert_eq!(store.to_string(), "redis://127.0.0.1:6379/2");
/// assert!(RedisStore::new("http://127.0.0.1:6379").is_err());
/// // A password never shows.
/// let secret = RedisStore::new("redis://:hunter2@cache.internal:6379")?;
/// assert!(!format!("{secret} {secret:?}").contains("hunter2"));
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

/// What clones share.
struct Inner {
    client: redis::Client,
    label: String,
    config: Config,
    local: Local,
    health: Health,
    round_trips: AtomicU64,
    #[cfg(feature = "blocking")]
    sync_conn: std::sync::Mutex<Option<redis::Connection>>,
    #[cfg(feature = "async")]
    async_conn: std::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

/// The store's settings.
#[derive(Debug, Clone)]
struct Config {
    connect_timeout: Duration,
    command_timeout: Duration,
    lock_ttl: Duration,
    lock_wait: Duration,
    prefix: String,
}

/// The store behind Redis: where entries also go, and what serves when Redis cannot.
#[derive(Debug, Clone)]
enum Local {
    Memory(MemoryStore),
    File(FileStore),
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("cache", &self.inner.label)
            .field("local", &self.inner.local)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The cache's URL without a password (what logs and errors show).
impl fmt::Display for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.label)
    }
}

/// The URL schemes the store takes: TCP and Unix sockets, without TLS.
const SCHEMES: &[&str] = &["redis", "valkey", "redis+unix", "valkey+unix", "unix"];

impl RedisStore {
    /// A store on the Redis at `url`: `redis://[:PASSWORD@]HOST[:PORT][/DB]` (also
    /// `valkey://`, and `redis+unix:///PATH` for a Unix socket). Nothing connects yet.
    ///
    /// An invalid URL, or one asking for TLS (`rediss://`: this build has none), is an
    /// error naming the URL (its password hidden).
    pub fn new(url: &str) -> Result<RedisStore, Error> {
        let (client, label) = parse(url)?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                client,
                label: label.clone(),
                config: Config {
                    connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                    command_timeout: DEFAULT_COMMAND_TIMEOUT,
                    lock_ttl: DEFAULT_LOCK_TTL,
                    lock_wait: DEFAULT_LOCK_WAIT,
                    prefix: DEFAULT_PREFIX.to_owned(),
                },
                local: Local::Memory(MemoryStore::new()),
                health: Health::new(label, DEFAULT_RETRY_AFTER),
                round_trips: AtomicU64::new(0),
                #[cfg(feature = "blocking")]
                sync_conn: std::sync::Mutex::new(None),
                #[cfg(feature = "async")]
                async_conn: std::sync::Mutex::new(None),
            }),
        })
    }

    /// Keeps entries in `store` too (a user's authorized-user file, where the refresh token
    /// lives and google-auth reads it), instead of this process's memory. Its lock is taken
    /// before Redis's, so processes on one host that share the file also refresh one at a
    /// time when Redis is away.
    ///
    /// ```
    /// use oauth_core::store::FileStore;
    /// let store = oauth_redis::RedisStore::new("redis://127.0.0.1")?
    ///     .with_file_store(FileStore::new("authorized_user.json"));
    /// # Ok::<(), oauth_core::Error>(())
    /// ```
    pub fn with_file_store(self, store: FileStore) -> Self {
        self.with(|c| c.local = Local::File(store))
    }

    /// How long connecting may take ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn with_connect_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.config.connect_timeout = timeout.max(Duration::from_millis(1)))
    }

    /// How long each command may take ([`DEFAULT_COMMAND_TIMEOUT`]).
    pub fn with_command_timeout(self, timeout: Duration) -> Self {
        self.with(|c| c.config.command_timeout = timeout.max(Duration::from_millis(1)))
    }

    /// How long a refresh may hold the fleet's lock ([`DEFAULT_LOCK_TTL`]): the longest a
    /// dead holder keeps others waiting. A refresh slower than this may be repeated by
    /// another process.
    pub fn with_lock_ttl(self, ttl: Duration) -> Self {
        self.with(|c| c.config.lock_ttl = ttl.max(Duration::from_millis(1)))
    }

    /// How long a process waits for another's refresh ([`DEFAULT_LOCK_WAIT`]). Keep it
    /// longer than the lock's TTL: a process that gives up refreshes alone (the one
    /// documented degradation of single flight), with a warning.
    pub fn with_lock_wait(self, wait: Duration) -> Self {
        self.with(|c| c.config.lock_wait = wait)
    }

    /// How long the store works locally after Redis failed before trying it again
    /// ([`DEFAULT_RETRY_AFTER`]); only refreshes try, so an idle process costs Redis
    /// nothing.
    pub fn with_retry_after(self, after: Duration) -> Self {
        self.with(|c| c.health = Health::new(c.label.clone(), after))
    }

    /// The prefix of every key the store writes ([`DEFAULT_PREFIX`]), for a Redis shared
    /// with other programs.
    pub fn with_prefix(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.with(|c| c.config.prefix = prefix)
    }

    /// Commands (or pipelines) sent to Redis so far by this store and its clones: for
    /// monitoring, and to check that cached tokens never reach Redis.
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// Whether the store is working locally now because Redis failed (until the next try).
    pub fn is_degraded(&self) -> bool {
        !self.inner.health.available()
    }

    /// The Redis key of `key`'s entry, when it has one: `PREFIX t:SEALED_NAME`.
    ///
    /// ```
    /// use oauth_core::store::TokenKey;
    /// let store = oauth_redis::RedisStore::new("redis://127.0.0.1")?;
    /// let key = TokenKey::new("service_account", "sa@p.iam.gserviceaccount.com", ["s"]);
    /// assert_eq!(store.entry_name(&key), None, "no secret, never in Redis");
    /// let sealed = key.with_secret(b"the private key");
    /// let name = store.entry_name(&sealed).unwrap();
    /// assert!(name.starts_with("gauth:t:") && !name.contains("sa@p"));
    /// # Ok::<(), oauth_core::Error>(())
    /// ```
    pub fn entry_name(&self, key: &TokenKey) -> Option<String> {
        key.sealed_name()
            .map(|n| format!("{}t:{n}", self.inner.config.prefix))
    }

    /// The Redis key of `key`'s lock: `PREFIX l:SEALED_NAME`.
    pub fn lock_name(&self, key: &TokenKey) -> Option<String> {
        key.sealed_name()
            .map(|n| format!("{}l:{n}", self.inner.config.prefix))
    }

    /// A copy of the settings with one changed; only before the store is shared (a store
    /// already cloned gets fresh connections, which is harmless).
    fn with(self, change: impl FnOnce(&mut Inner)) -> Self {
        let old = &self.inner;
        let mut inner = Inner {
            client: old.client.clone(),
            label: old.label.clone(),
            config: old.config.clone(),
            local: old.local.clone(),
            health: old.health.clone_settings(),
            round_trips: AtomicU64::new(0),
            #[cfg(feature = "blocking")]
            sync_conn: std::sync::Mutex::new(None),
            #[cfg(feature = "async")]
            async_conn: std::sync::Mutex::new(None),
        };
        change(&mut inner);
        RedisStore {
            inner: Arc::new(inner),
        }
    }

    fn count(&self) {
        self.inner.round_trips.fetch_add(1, Ordering::Relaxed);
    }
}

/// The client for `url` and its label (the URL without a password).
fn parse(url: &str) -> Result<(redis::Client, String), Error> {
    let invalid = |label: &str, reason: String| Error::InvalidField {
        origin: format!("token cache URL {label}"),
        field: "url".into(),
        reason,
    };
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        invalid(
            "(not a URL)",
            format!("{e}; expected redis://HOST:PORT[/DB]"),
        )
    })?;
    let mut shown = parsed.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    let label = shown.to_string();
    let label = label.strip_suffix('/').unwrap_or(&label).to_owned();
    let scheme = parsed.scheme();
    if scheme == "rediss" || scheme == "valkeys" {
        return Err(invalid(
            &label,
            "TLS (rediss://) is not supported by this build; reach Redis over a private network or a local TLS tunnel".into(),
        ));
    }
    if !SCHEMES.contains(&scheme) {
        return Err(invalid(
            &label,
            format!("unsupported scheme `{scheme}`; expected redis://HOST:PORT[/DB]"),
        ));
    }
    if scheme.starts_with("redis") && !scheme.ends_with("unix") || scheme == "valkey" {
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid(&label, "no host".into()));
        }
        let db = parsed.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u16>().is_err() {
            return Err(invalid(&label, format!("`{db}` is not a database number")));
        }
    }
    let client = redis::Client::open(parsed).map_err(|e| invalid(&label, e.to_string()))?;
    Ok((client, label))
}

/// How long an entry for `token` lives in Redis: its remaining life (capped), `None` when
/// it has none left.
fn entry_ttl(token: &Token, now: SystemTime) -> Option<Duration> {
    let ttl = match token.expiry {
        Some(e) => e.duration_since(now).ok()?,
        None => NO_EXPIRY_TTL,
    };
    (ttl >= Duration::from_millis(1)).then(|| ttl.min(MAX_ENTRY_TTL))
}

/// Whole milliseconds, at least one (Redis refuses `PX 0`).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The entry a load gives the handle: the later-expiring token of Redis's and the local
/// store's, and Redis's refresh token (the newest any host saved) before the local one.
fn merge(remote: Option<StoredToken>, local: Option<StoredToken>) -> Option<StoredToken> {
    let (remote, local) = match (remote, local) {
        (None, l) => return l,
        (r, None) => return r,
        (Some(r), Some(l)) => (r, l),
    };
    let later = |a: &Option<Token>, b: &Option<Token>| match (a, b) {
        (Some(x), Some(y)) => !matches!((x.expiry, y.expiry), (Some(ex), Some(ey)) if ey > ex),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let token = if later(&remote.token, &local.token) {
        remote.token
    } else {
        local.token
    };
    let mut entry = StoredToken::default();
    entry.token = token;
    entry.refresh_token = remote.refresh_token.or(local.refresh_token);
    Some(entry)
}

/// Opens a sealed entry; one that does not open (another key, forged, damaged) is absent.
fn open(key: &TokenKey, sealed: Option<Vec<u8>>, label: &str) -> Option<StoredToken> {
    let sealed = sealed?;
    match key.open(&sealed) {
        Ok(entry) => Some(entry),
        Err(_) => {
            tracing::debug!(
                cache = label,
                "an entry in the token cache does not open; ignored"
            );
            None
        }
    }
}

/// Whether an error says the connection broke (Redis restarted, the connection's runtime
/// ended) rather than that Redis is slow or refused: worth one more try on a new one.
fn is_stale_connection(e: &redis::RedisError) -> bool {
    e.is_connection_dropped() || (e.is_io_error() && !e.is_timeout())
}

/// A random lock token: 128 bits, hex.
fn lock_token() -> Result<String, Error> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::InvalidRequest("no randomness for a lock token".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Deletes the lock only when it still holds the owner's token: a lock that expired and
/// was taken by another process is left alone.
const RELEASE_SCRIPT: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// The release command for a lock.
fn release_cmd(lock: &str, token: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(RELEASE_SCRIPT).arg(1).arg(lock).arg(token);
    cmd
}

/// One poll of the lock: try to take it, and read the entry in the same round trip.
fn poll_pipe(lock: &str, entry: &str, token: &str, ttl: Duration) -> redis::Pipeline {
    let mut pipe = redis::pipe();
    pipe.cmd("SET")
        .arg(lock)
        .arg(token)
        .arg("NX")
        .arg("PX")
        .arg(millis(ttl))
        .cmd("GET")
        .arg(entry);
    pipe
}

/// Stores a sealed entry with its TTL.
fn save_cmd(entry: &str, sealed: Vec<u8>, ttl: Duration) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(entry).arg(sealed).arg("PX").arg(millis(ttl));
    cmd
}

/// What a lock holds: the local store's lock, and the fleet's lease when Redis gave one.
struct Held<L> {
    _local: oauth_core::store::StoreLock,
    _lease: Option<L>,
}

impl RedisStore {
    /// What a save puts in Redis: the entry's name, the sealed entry and its TTL; `None`
    /// for a key without a secret or a token with no life left.
    fn shareable(
        &self,
        key: &TokenKey,
        entry: &StoredToken,
        now: SystemTime,
    ) -> Result<Option<(String, Vec<u8>, Duration)>, Error> {
        let (Some(name), Some(token)) = (self.entry_name(key), entry.token.as_ref()) else {
            return Ok(None);
        };
        let Some(ttl) = entry_ttl(token, now) else {
            return Ok(None);
        };
        Ok(Some((name, key.seal(entry)?, ttl)))
    }

    /// The wait for another process's refresh ran out: this one refreshes alone.
    fn gave_up(&self) {
        tracing::warn!(
            "waited {:?} for another process's refresh through the token cache {}; refreshing alone",
            self.inner.config.lock_wait,
            self.inner.label
        );
    }

    /// The local store's lock wrapped with an optional lease.
    fn held<L: Send + Sync + 'static>(
        local: oauth_core::store::StoreLock,
        lease: Option<L>,
    ) -> oauth_core::store::StoreLock {
        oauth_core::store::StoreLock::new(Held {
            _local: local,
            _lease: lease,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_shown_with_their_password() {
        for good in [
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379/3",
            "redis://[::1]:6379/0",
            "valkey://cache.internal",
            "redis://user:pw@127.0.0.1:1/1",
            "redis+unix:///run/redis.sock",
        ] {
            assert!(RedisStore::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "127.0.0.1:6379",
            "http://127.0.0.1:6379",
            "redis://",
            "redis://127.0.0.1:6379/x",
            "redis://127.0.0.1:99999",
            "rediss://127.0.0.1:6379",
        ] {
            let e = RedisStore::new(bad).unwrap_err();
            assert!(e.to_string().contains("token cache URL"), "{bad}: {e}");
        }
        let e = RedisStore::new("rediss://:s3cret@h:1").unwrap_err();
        assert!(
            !e.to_string().contains("s3cret") && e.to_string().contains("TLS"),
            "{e}"
        );
        let e = RedisStore::new("redis://:s3cret@h:1/x").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    #[test]
    fn entries_live_as_long_as_their_token_within_bounds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let t = |secs: Option<u64>| Token::bearer("t", secs.map(|s| now + Duration::from_secs(s)));
        assert_eq!(entry_ttl(&t(Some(60)), now), Some(Duration::from_secs(60)));
        assert_eq!(entry_ttl(&t(Some(0)), now), None);
        assert_eq!(entry_ttl(&t(None), now), Some(NO_EXPIRY_TTL));
        assert_eq!(entry_ttl(&t(Some(10 * 86400)), now), Some(MAX_ENTRY_TTL));
        let past = Token::bearer("t", Some(now - Duration::from_secs(5)));
        assert_eq!(entry_ttl(&past, now), None);
        assert_eq!(millis(Duration::ZERO), 1);
    }

    #[test]
    fn a_load_prefers_the_later_token_and_the_shared_refresh_token() {
        let at = |s| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        let entry = |tok: &str, exp, rt: Option<&str>| {
            let mut e = StoredToken::new(Token::bearer(tok, exp));
            e.refresh_token = rt.map(oauth_core::types::RefreshToken::new);
            e
        };
        let token =
            |e: Option<StoredToken>| e.unwrap().token.unwrap().access_token.expose().to_owned();
        let r = entry("remote", at(100), Some("1//rotated"));
        let l = entry("local", at(50), Some("1//file"));
        let m = merge(Some(r.clone()), Some(l.clone()));
        assert_eq!(token(m.clone()), "remote");
        assert_eq!(m.unwrap().refresh_token.unwrap().expose(), "1//rotated");
        let newer_local = entry("local", at(200), None);
        let m = merge(Some(r.clone()), Some(newer_local));
        assert_eq!(token(m.clone()), "local");
        assert_eq!(m.unwrap().refresh_token.unwrap().expose(), "1//rotated");
        assert_eq!(token(merge(None, Some(l.clone()))), "local");
        assert_eq!(token(merge(Some(r), None)), "remote");
        assert_eq!(merge(None, None), None);
    }

    #[test]
    fn lock_tokens_are_random() {
        let a = lock_token().unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, lock_token().unwrap());
    }
}
