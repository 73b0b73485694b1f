//! One member of a fleet for the Redis token-store tests: a process with its own HOME that
//! holds one credential handle and asks it for a token each time its stdin says `token`,
//! answering with one JSON line on stdout: `{"token": "...", "round_trips": N}` or
//! `{"error": "..."}`. Logs (the token cache's warnings) go to stderr. EOF ends it.
//!
//! ```text
//! gauth-fleet-member --credentials FILE [--cache URL] [--flavour blocking|async]
//!     [--margin-ms N] [--lock-ttl-ms N] [--lock-wait-ms N] [--timeout-ms N] [--scope S]...
//!     [--hold-lock]
//! ```
//!
//! With `--hold-lock` it takes the fleet's lock on its credential's entry, prints
//! `{"locked": true}` and sleeps until killed: a refresh holder that dies.

use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gauth::source::TokenSource;
use gauth::transport::{ReqwestClient, UreqClient};
use gauth::{
    AuthorizedUser, Credentials, FileStore, RedisStore, RetryPolicy, ServiceAccountCredentials,
    blocking,
};

#[derive(Default)]
struct Args {
    credentials: String,
    cache: Option<String>,
    asynchronous: bool,
    margin: Option<Duration>,
    lock_ttl: Option<Duration>,
    lock_wait: Option<Duration>,
    command_timeout: Option<Duration>,
    scopes: Vec<String>,
    hold_lock: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    let ms = |v: Option<String>, f: &str| -> Result<Duration, String> {
        v.and_then(|s| s.parse().ok())
            .map(Duration::from_millis)
            .ok_or(format!("{f} needs milliseconds"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--credentials" => a.credentials = it.next().ok_or("--credentials FILE")?,
            "--cache" => a.cache = Some(it.next().ok_or("--cache URL")?),
            "--flavour" => a.asynchronous = it.next().as_deref() == Some("async"),
            "--margin-ms" => a.margin = Some(ms(it.next(), &arg)?),
            "--lock-ttl-ms" => a.lock_ttl = Some(ms(it.next(), &arg)?),
            "--lock-wait-ms" => a.lock_wait = Some(ms(it.next(), &arg)?),
            "--timeout-ms" => a.command_timeout = Some(ms(it.next(), &arg)?),
            "--scope" => a.scopes.push(it.next().ok_or("--scope S")?),
            "--hold-lock" => a.hold_lock = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.credentials.is_empty() {
        return Err("--credentials FILE is required".into());
    }
    Ok(a)
}

/// The credential in the file, and the file store it keeps (users only).
fn source(a: &Args) -> Result<(Arc<dyn TokenSource>, Option<FileStore>), String> {
    let text = std::fs::read_to_string(&a.credentials).map_err(|e| e.to_string())?;
    if text.contains("\"service_account\"") {
        let sa = ServiceAccountCredentials::from_file(&a.credentials)
            .map_err(|e| e.to_string())?
            .with_scopes(a.scopes.iter().cloned());
        return Ok((Arc::new(sa), None));
    }
    let user = AuthorizedUser::from_file(&a.credentials)
        .map_err(|e| e.to_string())?
        .with_requested_scopes(a.scopes.iter().cloned());
    Ok((Arc::new(user), Some(FileStore::new(&a.credentials))))
}

fn store(a: &Args, file: Option<FileStore>) -> Result<Option<RedisStore>, String> {
    let Some(url) = &a.cache else {
        return Ok(None);
    };
    let mut s = RedisStore::new(url).map_err(|e| e.to_string())?;
    if let Some(f) = file {
        s = s.with_file_store(f);
    }
    if let Some(t) = a.lock_ttl {
        s = s.with_lock_ttl(t);
    }
    if let Some(w) = a.lock_wait {
        s = s.with_lock_wait(w);
    }
    if let Some(t) = a.command_timeout {
        s = s.with_connect_timeout(t).with_command_timeout(t);
    }
    Ok(Some(s))
}

enum Handle {
    Blocking(blocking::Credentials),
    Async(Credentials, tokio::runtime::Runtime),
}

impl Handle {
    fn token(&self) -> Result<String, String> {
        let t = match self {
            Handle::Blocking(c) => c.token(),
            Handle::Async(c, rt) => rt.block_on(c.token()),
        };
        t.map(|t| t.expose().to_owned()).map_err(|e| e.to_string())
    }
}

fn handle(a: &Args) -> Result<(Handle, Option<RedisStore>), String> {
    let (source, file) = source(a)?;
    let redis = store(a, file.clone())?;
    let margin = a.margin.unwrap_or(gauth::DEFAULT_REFRESH_MARGIN);
    let timeout = Duration::from_secs(10);
    if a.asynchronous {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut b = Credentials::builder_from_arc(source)
            .refresh_margin(margin)
            .retry(RetryPolicy::none())
            .http_client(Arc::new(ReqwestClient::with_timeouts(timeout, timeout)));
        b = match (&redis, file) {
            (Some(r), _) => b.store(r.clone()),
            (None, Some(f)) => b.store(f),
            (None, None) => b,
        };
        Ok((Handle::Async(b.build(), rt), redis))
    } else {
        let mut b = blocking::Credentials::builder_from_arc(source)
            .refresh_margin(margin)
            .retry(RetryPolicy::none())
            .http_client(Arc::new(UreqClient::with_timeouts(timeout, timeout)));
        b = match (&redis, file) {
            (Some(r), _) => b.store(r.clone()),
            (None, Some(f)) => b.store(f),
            (None, None) => b,
        };
        Ok((Handle::Blocking(b.build()), redis))
    }
}

fn hold_lock(a: &Args) -> Result<(), String> {
    let (source, file) = source(a)?;
    let redis = store(a, file)?.ok_or("--hold-lock needs --cache")?;
    let key = source.store_key();
    let _lock = blocking::TokenStore::lock(&redis, &key).map_err(|e| e.to_string())?;
    println!("{}", serde_json::json!({ "locked": true }));
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gauth-fleet-member: {e}");
            return ExitCode::from(2);
        }
    };
    if args.hold_lock {
        if let Err(e) = hold_lock(&args) {
            eprintln!("gauth-fleet-member: {e}");
        }
        return ExitCode::from(1);
    }
    let (creds, redis) = match handle(&args) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("gauth-fleet-member: {e}");
            return ExitCode::from(1);
        }
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match line.trim() {
            "token" => {
                let answer = match creds.token() {
                    Ok(t) => serde_json::json!({
                        "token": t,
                        "round_trips": redis.as_ref().map(RedisStore::round_trips),
                    }),
                    Err(e) => serde_json::json!({ "error": e }),
                };
                println!("{answer}");
            }
            "" => {}
            _ => break,
        }
    }
    ExitCode::SUCCESS
}
