//! The Redis token store in one process, against a real `redis-server` and the counting
//! token server: sealed entries under derived names, credentials kept apart, forged entries
//! refused, the hot path never touching Redis, and every way Redis can fail (unreachable,
//! silent, holding a lock forever, restarted) ending in a token.

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gauth::source::TokenSource;
use gauth::store::{StoredToken, TokenKey};
use gauth::transport::UreqClient;
use gauth::{RedisStore, RetryPolicy, ServiceAccountCredentials, Token, blocking};
use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::redis_server::{RedisServer, SA_EMAIL, SA_SCOPE, free_port, service_account_json};

fn token_server() -> TokenServer {
    TokenServer::start(TokenServerConfig::default()).expect("token server")
}

fn key_file(dir: &Path, server: &TokenServer, key: u8) -> std::path::PathBuf {
    let path = dir.join(format!("sa-{key}.json"));
    std::fs::write(
        &path,
        service_account_json(&server.token_uri(), key).to_string(),
    )
    .unwrap();
    path
}

fn sa(file: &Path) -> ServiceAccountCredentials {
    ServiceAccountCredentials::from_file(file)
        .unwrap()
        .with_scopes([SA_SCOPE])
}

/// A store on the test's Redis, with timeouts generous enough for a loaded CI machine
/// (the defaults, 250 ms, are for production; the tests of timeouts set their own).
fn shared(url: &str) -> RedisStore {
    RedisStore::new(url)
        .unwrap()
        .with_connect_timeout(Duration::from_secs(3))
        .with_command_timeout(Duration::from_secs(3))
}

fn handle(file: &Path, store: &RedisStore) -> blocking::Credentials {
    blocking::Credentials::builder(sa(file))
        .store(store.clone())
        .retry(RetryPolicy::none())
        .http_client(Arc::new(UreqClient::new()))
        .build()
}

/// A subscriber that keeps what it logs, for counting warnings.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }

    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let logs = self.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(move || logs.clone())
            .finish()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn entries_are_sealed_blobs_under_derived_names_that_live_as_long_as_their_token() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let store = shared(&redis.url());
    let token = handle(&file, &store).token().unwrap();
    let dump = redis.dump();
    assert_eq!(dump.len(), 1, "one entry, the lock released: {dump:?}");
    let (name, value, ttl) = &dump[0];
    let key = sa(&file).store_key();
    assert_eq!(Some(name.clone()), store.entry_name(&key));
    let hex = name.strip_prefix("gauth:t:").unwrap();
    assert!(
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_ne!(hex, key.name(), "not the unkeyed name anyone could compute");
    for secret in [
        token.expose(),
        "ya29",
        "test-access",
        SA_EMAIL,
        "fleet@",
        SA_SCOPE,
        "cloud-platform",
    ] {
        let haystack = [name.as_bytes(), value].concat();
        assert!(
            !haystack
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "`{secret}` readable in Redis"
        );
    }
    assert!(
        *ttl > 0 && *ttl <= 3_600_000,
        "TTL = the token's remaining life: {ttl}"
    );
    let opened = key.open(value).unwrap();
    assert_eq!(opened.token.unwrap().access_token.expose(), token.expose());
}

#[test]
fn processes_with_different_keys_for_one_account_never_read_each_others_tokens() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        key_file(dir.path(), &server, 0),
        key_file(dir.path(), &server, 1),
    );
    let store = || shared(&redis.url());
    let ta = handle(&a, &store()).token().unwrap();
    let tb = handle(&b, &store()).token().unwrap();
    assert_ne!(ta.expose(), tb.expose());
    assert_eq!(
        server.requests(),
        2,
        "same email and scopes, different keys: two entries"
    );
    let (ka, kb) = (sa(&a).store_key(), sa(&b).store_key());
    assert_ne!(store().entry_name(&ka), store().entry_name(&kb));
    // A's sealed entry copied under B's name (a writer swapping entries) does not open for
    // B: B mints its own and never uses A's token.
    let mut conn = redis.connection();
    let a_entry: Vec<u8> = redis::cmd("GET")
        .arg(store().entry_name(&ka).unwrap())
        .query(&mut conn)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(store().entry_name(&kb).unwrap())
        .arg(a_entry)
        .query(&mut conn)
        .unwrap();
    let again = handle(&b, &store()).token().unwrap();
    assert_ne!(again.expose(), ta.expose());
    assert_eq!(server.requests(), 3);
    // And the same account in one process, through one store: still apart.
    let shared = store();
    let (ha, hb) = (handle(&a, &shared), handle(&b, &shared));
    assert_eq!(ha.token().unwrap().expose(), ta.expose());
    assert_eq!(hb.token().unwrap().expose(), again.expose());
}

#[test]
fn a_forged_entry_is_never_accepted_as_a_token() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let name = RedisStore::new(&redis.url())
        .unwrap()
        .entry_name(&sa(&file).store_key())
        .unwrap();
    let mut conn = redis.connection();
    // A writer that knows the name but not the key: plaintext JSON, garbage, and an entry
    // sealed under a key derived from a guessed secret.
    let forged = StoredToken::new(Token::bearer("ya29.forged", None));
    let guessed = TokenKey::new("service_account", SA_EMAIL, [SA_SCOPE]).with_secret(b"guess");
    for value in [
        serde_json::to_vec(&forged).unwrap(),
        b"\x01garbage".to_vec(),
        guessed.seal(&forged).unwrap(),
    ] {
        let _: () = redis::cmd("SET")
            .arg(&name)
            .arg(value)
            .query(&mut conn)
            .unwrap();
        // A new process each time (its own store), finding the forged entry.
        let token = handle(&file, &shared(&redis.url())).token().unwrap();
        assert!(!token.expose().contains("forged"));
        assert!(token.expose().starts_with("ya29.test-access-"));
    }
    assert_eq!(
        server.requests(),
        3,
        "each forged entry cost a mint, nothing more"
    );
}

#[test]
fn cached_tokens_never_reach_redis_in_either_flavour() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let store = shared(&redis.url());
    let b = handle(&file, &store);
    let first = b.token().unwrap();
    let after_miss = store.round_trips();
    assert!(after_miss > 0);
    for _ in 0..10_000 {
        assert_eq!(b.token().unwrap().expose(), first.expose());
    }
    assert_eq!(store.round_trips(), after_miss, "the hot path sent nothing");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let astore = shared(&redis.url());
    let a = gauth::Credentials::builder(sa(&file))
        .store(astore.clone())
        .build();
    let t = rt.block_on(a.token()).unwrap();
    assert_eq!(
        t.expose(),
        first.expose(),
        "the async handle adopted the entry"
    );
    let after = astore.round_trips();
    rt.block_on(async {
        for _ in 0..10_000 {
            a.token().await.unwrap();
        }
    });
    assert_eq!(astore.round_trips(), after);
    // With Redis gone, cached tokens are still served at once.
    redis.kill();
    assert_eq!(b.token().unwrap().expose(), first.expose());
    assert_eq!(store.round_trips(), after_miss);
    assert_eq!(server.requests(), 1);
}

/// A source whose key has no secret (as the metadata server's).
#[derive(Debug)]
struct Unkeyed;

impl TokenSource for Unkeyed {
    fn kind(&self) -> &'static str {
        "metadata_like"
    }

    fn begin_refresh(
        &self,
        _ctx: &gauth::RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<gauth::Refresh, gauth::Error> {
        let now = std::time::SystemTime::now();
        Ok(gauth::Refresh::Ready(Token::bearer(
            "ya29.unkeyed",
            Some(now + Duration::from_secs(3600)),
        )))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn a_credential_without_a_secret_is_never_stored_in_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = shared(&redis.url());
    let creds = blocking::Credentials::builder(Unkeyed)
        .store(store.clone())
        .build();
    assert_eq!(creds.token().unwrap().expose(), "ya29.unkeyed");
    assert!(redis.dump().is_empty());
    assert_eq!(store.round_trips(), 0);
}

#[test]
fn an_unreachable_redis_means_local_minting_with_one_warning_naming_the_cache() {
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let url = format!("redis://127.0.0.1:{}/0", free_port());
    let store = RedisStore::new(&url)
        .unwrap()
        .with_retry_after(Duration::ZERO);
    let logs = Logs::default();
    tracing::subscriber::with_default(logs.subscriber(), || {
        let creds = handle(&file, &store);
        for _ in 0..5 {
            creds.refresh().unwrap();
        }
        // Another store on the same cache, as another part of the program would make.
        let other = RedisStore::new(&url)
            .unwrap()
            .with_retry_after(Duration::ZERO);
        let async_creds = gauth::Credentials::builder(sa(&file)).store(other).build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async_creds.refresh()).unwrap();
    });
    assert_eq!(server.requests(), 6, "every refresh minted locally");
    assert_eq!(
        logs.count("WARN"),
        1,
        "one warning per process: {}",
        logs.text()
    );
    assert!(
        logs.text().contains(&url),
        "the warning names the cache: {}",
        logs.text()
    );
    assert_eq!(store.round_trips(), 0, "nothing was ever sent");
}

#[test]
fn a_redis_that_accepts_but_never_answers_costs_a_bounded_wait_then_local_minting() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/0", silent.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        // Accept and hold connections without a word.
        let mut conns = Vec::new();
        for c in silent.incoming().take(4) {
            conns.push(c);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let store = RedisStore::new(&url)
        .unwrap()
        .with_command_timeout(Duration::from_millis(100));
    let token = handle(&file, &store).token().unwrap();
    assert!(token.expose().starts_with("ya29.test-access-"));
    assert!(store.is_degraded());
    assert_eq!(server.requests(), 1);
    drop(held);
}

#[test]
fn a_lock_that_is_never_released_ends_in_a_warned_local_mint_after_the_wait() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let store = shared(&redis.url()).with_lock_wait(Duration::from_millis(300));
    let lock = store.lock_name(&sa(&file).store_key()).unwrap();
    let mut conn = redis.connection();
    let _: () = redis::cmd("SET")
        .arg(&lock)
        .arg("someone-else")
        .arg("PX")
        .arg(600_000)
        .query(&mut conn)
        .unwrap();
    let logs = Logs::default();
    let token = tracing::subscriber::with_default(logs.subscriber(), || {
        handle(&file, &store).token().unwrap()
    });
    assert!(token.expose().starts_with("ya29.test-access-"));
    assert_eq!(server.requests(), 1);
    assert!(logs.text().contains("refreshing alone"), "{}", logs.text());
    let holder: String = redis::cmd("GET").arg(&lock).query(&mut conn).unwrap();
    assert_eq!(holder, "someone-else", "another's lock is never deleted");
}

#[test]
fn after_a_restart_the_store_shares_tokens_again() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let store = shared(&redis.url()).with_retry_after(Duration::ZERO);
    let creds = handle(&file, &store);
    creds.token().unwrap();
    redis.kill();
    creds.refresh().unwrap();
    assert_eq!(server.requests(), 2, "minted alone while Redis was away");
    redis.restart();
    let t = creds.refresh().unwrap();
    assert!(!store.is_degraded());
    // The new token is in Redis: another handle adopts it without a mint.
    let before = server.requests();
    let other = handle(&file, &shared(&redis.url()));
    assert_eq!(other.token().unwrap().expose(), t.access_token.expose());
    assert_eq!(server.requests(), before);
}

#[test]
fn a_connection_left_behind_by_an_ended_runtime_is_replaced_without_a_warning() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let dir = tempfile::tempdir().unwrap();
    let file = key_file(dir.path(), &server, 0);
    let store = shared(&redis.url());
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let first = runtime();
    let a = gauth::Credentials::builder(sa(&file))
        .store(store.clone())
        .build();
    let token = first.block_on(a.token()).unwrap();
    drop(first);
    let logs = Logs::default();
    let second = runtime();
    let before = store.round_trips();
    let b = gauth::Credentials::builder(sa(&file))
        .store(store.clone())
        .build();
    let again = tracing::subscriber::with_default(logs.subscriber(), || {
        second.block_on(b.token()).unwrap()
    });
    assert_eq!(again.expose(), token.expose());
    assert!(store.round_trips() > before, "Redis was asked");
    assert!(!store.is_degraded());
    assert_eq!(logs.count("WARN"), 0, "{}", logs.text());
    assert_eq!(server.requests(), 1);
}
