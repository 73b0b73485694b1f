//! Case 9: the fleet token cache on Redis. 100 processes on 10 simulated hosts (10 groups,
//! each with its own HOME and its own copy of the key file) ask for a token at once, just
//! after their tokens expired, with and without the cache: mints and wall time. And what
//! the cache adds to a cached `token()` (nothing: the hot path never reaches the store).
//!
//! The members are this very binary, started with `--fleet-member`; `redis-server` is
//! started here, on a free loopback port, as the tests start it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gauth::{RedisStore, blocking};
use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::redis_server::RedisServer;
use oauth_core::transport::UreqClient;

use crate::harness::{Record, Stats, per_call};
use crate::{Ctx, fixtures, gauth_creds};

const HOSTS: usize = 10;
const PER_HOST: usize = 10;
/// Tokens live 2 s and are replaced 500 ms before expiry: a round 2.3 s after the last
/// starts with every token expired, in every process and in Redis.
const EXPIRES_IN: u64 = 2;
const MARGIN: Duration = Duration::from_millis(500);
const PAST_EXPIRY: Duration = Duration::from_millis(2300);
/// The token endpoint's answer time, as in the stampede.
const DELAY: Duration = Duration::from_millis(200);

const CASE: &str = "9 fleet at expiry (100 processes, 10 hosts, 200 ms server)";
const HOT: &str = "9 cached token() through the Redis store (ns per call)";

/// Case 9.
pub fn fleet(ctx: &Ctx) -> Result<Vec<Record>, String> {
    let Some(redis) = RedisServer::start() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for cache in [None, Some(redis.url())] {
        out.push(fleet_at_expiry(ctx, cache.as_deref())?);
    }
    out.extend(hot_path(ctx, &redis)?);
    Ok(out)
}

fn fleet_at_expiry(ctx: &Ctx, cache: Option<&str>) -> Result<Record, String> {
    let server = TokenServer::start(
        TokenServerConfig::default()
            .delay(DELAY)
            .expires_in(EXPIRES_IN),
    )
    .map_err(|e| format!("token server: {e}"))?;
    let root = ctx.dir.join(if cache.is_some() {
        "fleet-cache"
    } else {
        "fleet-alone"
    });
    let mut members = Vec::with_capacity(HOSTS * PER_HOST);
    for host in 0..HOSTS {
        let home = root.join(format!("host-{host}"));
        let key = fixtures::write_key_file(&home, &server.token_uri())?;
        for _ in 0..PER_HOST {
            members.push(Member::spawn(&home, &key, cache)?);
        }
    }
    // Every process has a token, then all of them expire.
    round(&mut members)?;
    let runs = if ctx.budget.quick { 2 } else { 5 };
    let (mut walls, mut mints) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        std::thread::sleep(PAST_EXPIRY);
        let before = server.requests();
        let t = Instant::now();
        round(&mut members)?;
        walls.push(t.elapsed());
        mints.push((server.requests() - before) as u64);
    }
    let max = mints.iter().copied().max().unwrap_or(0);
    let imp = match cache {
        Some(_) => "gauth + Redis cache",
        None => "gauth, no cache",
    };
    Ok(Record::new(CASE, imp, Stats::of_durations(&walls))
        .requests(max)
        .note(format!("mints per expiry over {runs} runs: {mints:?}")))
}

/// Every member asked at once; each answers with a token.
fn round(members: &mut [Member]) -> Result<(), String> {
    for m in members.iter_mut() {
        m.stdin
            .write_all(b"token\n")
            .and_then(|_| m.stdin.flush())
            .map_err(|e| format!("member: {e}"))?;
    }
    for m in members.iter_mut() {
        let mut line = String::new();
        m.stdout
            .read_line(&mut line)
            .map_err(|e| format!("member: {e}"))?;
        if !line.starts_with("ok") {
            return Err(format!("a member failed: {}", line.trim()));
        }
    }
    Ok(())
}

struct Member {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Member {
    fn spawn(home: &Path, key: &Path, cache: Option<&str>) -> Result<Member, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("--fleet-member")
            .arg(key)
            .arg(cache.unwrap_or("none"))
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_CACHE_HOME", home.join(".cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| format!("member: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("member without pipes".into());
        };
        Ok(Member {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `gauth-bench --fleet-member KEY_FILE URL|none`: answers `ok` (or `error ...`) to each
/// `token` line on stdin, with a blocking handle on the key, through the cache when named.
pub fn member(args: &[String]) -> Result<(), String> {
    let [key, cache] = args else {
        return Err("usage: --fleet-member KEY_FILE URL|none".into());
    };
    let mut b = blocking::Credentials::builder(gauth_creds::service_account(&PathBuf::from(key))?)
        .refresh_margin(MARGIN)
        .http_client(Arc::new(UreqClient::new()));
    if cache != "none" {
        b = b.store(RedisStore::new(cache).map_err(|e| e.to_string())?);
    }
    let creds = b.build();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() != "token" {
            break;
        }
        let answer = match creds.token() {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("error {e}"),
        };
        writeln!(out, "{answer}")
            .and_then(|_| out.flush())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// ns per cached `token()` with the default store and with the Redis store, and the Redis
/// round trips the measured calls made (0: the hot path stays in the process).
fn hot_path(ctx: &Ctx, redis: &RedisServer) -> Result<Vec<Record>, String> {
    let server = TokenServer::start(TokenServerConfig::default())
        .map_err(|e| format!("token server: {e}"))?;
    let key = fixtures::write_key_file(&ctx.dir, &server.token_uri())?;
    let plain = gauth_creds::blocking(&key)?;
    plain.token().map_err(|e| e.to_string())?;
    let store = RedisStore::new(&redis.url()).map_err(|e| e.to_string())?;
    let cached = blocking::Credentials::builder(gauth_creds::service_account(&key)?)
        .store(store.clone())
        .http_client(Arc::new(UreqClient::new()))
        .build();
    cached.token().map_err(|e| e.to_string())?;
    let before = store.round_trips();
    let with = per_call(&ctx.budget, || cached.token());
    let trips = store.round_trips() - before;
    let without = per_call(&ctx.budget, || plain.token());
    Ok(vec![
        Record::new(HOT, "gauth (blocking), default store", without),
        Record::new(HOT, "gauth (blocking), RedisStore", with)
            .requests(trips)
            .note(format!("Redis round trips during the measurement: {trips}")),
    ])
}
