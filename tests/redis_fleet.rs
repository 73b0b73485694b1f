//! The Redis token store across real processes, each with its own HOME (so no file is
//! shared), against a real `redis-server` and the counting token server with short-lived
//! tokens: one mint per token lifetime for the whole fleet, nothing readable in Redis, and
//! the fleet's survival of a Redis restart, a FLUSHALL and a lock holder killed with
//! SIGKILL. Rounds are driven by the test: every member is asked at once, and the token
//! server's count says how many mints the round cost. No test asserts a duration.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::authorized_user_json;
use gauth_tests::redis_server::{RedisServer, SA_EMAIL, SA_SCOPE, service_account_json};
use serde_json::Value;

/// Tokens live 2 s; members refresh 500 ms before expiry; the test sleeps past expiry
/// between rounds, so every round starts with no usable token anywhere.
const EXPIRES_IN: u64 = 2;
const MARGIN_MS: &str = "500";
const PAST_EXPIRY: Duration = Duration::from_millis(2300);

fn token_server() -> TokenServer {
    // A slow endpoint, so that members really wait on each other.
    TokenServer::start(
        TokenServerConfig::default()
            .expires_in(EXPIRES_IN)
            .delay(Duration::from_millis(300)),
    )
    .expect("token server")
}

/// A running member: its process, its pipes, its HOME.
struct Member {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: PathBuf,
    _home: tempfile::TempDir,
}

/// How members are started.
#[derive(Clone)]
struct Setup {
    credentials: Value,
    cache: Option<String>,
    extra: Vec<String>,
}

impl Member {
    fn spawn(setup: &Setup, n: usize, hold_lock: bool) -> Member {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join("credentials.json");
        std::fs::write(&file, setup.credentials.to_string()).unwrap();
        let stderr = home.path().join("stderr.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gauth-fleet-member"));
        cmd.arg("--credentials")
            .arg(&file)
            .args([
                "--flavour",
                if n.is_multiple_of(2) {
                    "blocking"
                } else {
                    "async"
                },
            ])
            .args(["--margin-ms", MARGIN_MS, "--scope", SA_SCOPE])
            // Generous timeouts: a loaded CI machine must not look like a Redis outage.
            .args(["--timeout-ms", "3000"])
            .args(&setup.extra)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_CACHE_HOME", home.path().join(".cache"))
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        if let Some(url) = &setup.cache {
            cmd.args(["--cache", url]);
        }
        if hold_lock {
            cmd.arg("--hold-lock");
        }
        let mut child = cmd.spawn().expect("gauth-fleet-member");
        Member {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            stderr,
            _home: home,
        }
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "member said {line:?} ({e}); stderr: {}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            )
        })
    }

    fn warnings(&self) -> usize {
        std::fs::read_to_string(&self.stderr)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("WARN"))
            .count()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Fleet {
    members: Vec<Member>,
}

impl Fleet {
    fn start(setup: &Setup, size: usize) -> Fleet {
        Fleet {
            members: (0..size).map(|n| Member::spawn(setup, n, false)).collect(),
        }
    }

    /// Asks every member at once; the tokens they answered (each must answer one).
    fn round(&mut self) -> Vec<String> {
        for m in &mut self.members {
            m.stdin.write_all(b"token\n").unwrap();
            m.stdin.flush().unwrap();
        }
        self.collect()
    }

    fn collect(&mut self) -> Vec<String> {
        self.members
            .iter_mut()
            .map(|m| {
                let v = m.read();
                v["token"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no token: {v}; stderr: {}", m.stderr()))
                    .to_owned()
            })
            .collect()
    }

    fn warnings(&self) -> Vec<usize> {
        self.members.iter().map(Member::warnings).collect()
    }
}

/// A round in which every member asked at once: how many mints it cost, and the distinct
/// tokens the members answered.
fn round(fleet: &mut Fleet, server: &TokenServer) -> (usize, BTreeSet<String>) {
    let before = server.requests();
    let tokens = fleet.round();
    (server.requests() - before, tokens.into_iter().collect())
}

fn sa_setup(server: &TokenServer, redis: &RedisServer) -> Setup {
    Setup {
        credentials: service_account_json(&server.token_uri(), 0),
        cache: Some(redis.url()),
        extra: Vec::new(),
    }
}

fn assert_nothing_readable(redis: &RedisServer, secrets: &[&str]) {
    let dump = redis.dump();
    assert!(!dump.is_empty(), "the fleet keeps its entry in Redis");
    for (name, value, ttl) in &dump {
        assert!(
            name.starts_with("gauth:t:") || name.starts_with("gauth:l:"),
            "{name}"
        );
        assert!(*ttl > 0, "every key expires: {name} {ttl}");
        let bytes = [name.as_bytes(), value].concat();
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "`{s}` readable in Redis under {name}"
            );
        }
    }
}

#[test]
fn thirty_processes_in_separate_homes_mint_once_per_token_lifetime() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let mut fleet = Fleet::start(&sa_setup(&server, &redis), 30);
    let mut seen = BTreeSet::new();
    for r in 0..3 {
        if r > 0 {
            std::thread::sleep(PAST_EXPIRY);
        }
        let (mints, tokens) = round(&mut fleet, &server);
        assert_eq!(mints, 1, "round {r}: one mint for the fleet");
        assert_eq!(tokens.len(), 1, "round {r}: one token for all: {tokens:?}");
        assert!(
            seen.insert(tokens.into_iter().next().unwrap()),
            "a new token each lifetime"
        );
    }
    assert_eq!(
        fleet.warnings(),
        vec![0; 30],
        "no degradation on the normal path"
    );
}

#[test]
fn redis_holds_no_plaintext_token_email_or_scope_only_sealed_entries() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let mut fleet = Fleet::start(&sa_setup(&server, &redis), 20);
    let (mints, tokens) = round(&mut fleet, &server);
    assert_eq!(mints, 1);
    let token = tokens.into_iter().next().unwrap();
    assert_nothing_readable(
        &redis,
        &[
            &token,
            "ya29",
            "test-access",
            SA_EMAIL,
            "fleet@",
            SA_SCOPE,
            "cloud-platform",
            "Bearer",
        ],
    );
}

#[test]
fn user_processes_with_copies_of_one_file_mint_once_per_lifetime_and_keep_their_files() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let setup = Setup {
        credentials: authorized_user_json(&server.token_uri(), "1//test-refresh-token"),
        cache: Some(redis.url()),
        extra: Vec::new(),
    };
    let mut fleet = Fleet::start(&setup, 20);
    for r in 0..2 {
        if r > 0 {
            std::thread::sleep(PAST_EXPIRY);
        }
        let (mints, tokens) = round(&mut fleet, &server);
        assert_eq!((mints, tokens.len()), (1, 1), "round {r}");
    }
    assert_nothing_readable(
        &redis,
        &[
            "ya29",
            "test-access",
            "1//test-refresh-token",
            "test-client",
            SA_SCOPE,
        ],
    );
}

#[test]
fn a_redis_restart_mid_run_means_local_minting_with_one_warning_each_then_the_fleet_rejoins() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let size = 10;
    let mut fleet = Fleet::start(&sa_setup(&server, &redis), size);
    assert_eq!(round(&mut fleet, &server).0, 1);

    redis.kill();
    for r in 0..2 {
        std::thread::sleep(PAST_EXPIRY);
        let (mints, tokens) = round(&mut fleet, &server);
        assert_eq!(mints, size, "outage round {r}: every member minted alone");
        assert_eq!(tokens.len(), size);
        assert_eq!(
            fleet.warnings(),
            vec![1; size],
            "one warning per member per outage"
        );
    }

    redis.restart();
    for r in 0..2 {
        std::thread::sleep(PAST_EXPIRY);
        let (mints, tokens) = round(&mut fleet, &server);
        assert_eq!(
            (mints, tokens.len()),
            (1, 1),
            "round {r} after the restart: rejoined"
        );
    }
    assert_eq!(
        fleet.warnings(),
        vec![1; size],
        "coming back is not a warning"
    );
    let names: Vec<String> = fleet.members[0]
        .stderr()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(
        names.iter().any(|l| l.contains(&redis.url())),
        "the warning names the cache: {names:?}"
    );
}

#[test]
fn a_flushall_mid_run_costs_at_most_one_extra_mint_and_no_failure() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let mut fleet = Fleet::start(&sa_setup(&server, &redis), 10);
    assert_eq!(round(&mut fleet, &server).0, 1);
    // Wiped between rounds: cached tokens are unaffected.
    redis.flush_all();
    assert_eq!(
        round(&mut fleet, &server).0,
        0,
        "fresh tokens are in every process"
    );

    // Wiped while the round's mint is under way (the endpoint answers in 300 ms).
    std::thread::sleep(PAST_EXPIRY);
    let before = server.requests();
    for m in &mut fleet.members {
        m.stdin.write_all(b"token\n").unwrap();
        m.stdin.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    redis.flush_all();
    let tokens: BTreeSet<String> = fleet.collect().into_iter().collect();
    let mints = server.requests() - before;
    assert!(
        (1..=2).contains(&mints),
        "a wipe costs at most one mint more: {mints}"
    );
    assert!(tokens.len() <= 2, "{tokens:?}");

    std::thread::sleep(PAST_EXPIRY);
    let (mints, tokens) = round(&mut fleet, &server);
    assert_eq!(
        (mints, tokens.len()),
        (1, 1),
        "back to one mint per lifetime"
    );
    assert_eq!(fleet.warnings(), vec![0; 10], "a wipe is not an outage");
}

#[test]
fn a_lock_holder_killed_with_sigkill_lets_another_process_mint_once_its_lock_expires() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = token_server();
    let mut setup = sa_setup(&server, &redis);
    setup.extra = ["--lock-ttl-ms", "2000", "--lock-wait-ms", "20000"]
        .map(String::from)
        .to_vec();
    let mut holder = Member::spawn(&setup, 0, true);
    assert_eq!(holder.read()["locked"], true);
    let locks = |redis: &RedisServer| {
        redis
            .dump()
            .into_iter()
            .filter(|(k, _, _)| k.starts_with("gauth:l:"))
            .count()
    };
    assert_eq!(locks(&redis), 1, "the holder's lock is in Redis");
    // SIGKILL: no destructor runs, the lock stays until its TTL ends.
    holder.child.kill().unwrap();
    holder.child.wait().unwrap();
    assert_eq!(locks(&redis), 1, "a dead holder's lock outlives it");

    let mut fleet = Fleet::start(&setup, 10);
    let (mints, tokens) = round(&mut fleet, &server);
    assert_eq!(
        (mints, tokens.len()),
        (1, 1),
        "one member minted after the lock expired"
    );
    // The minter's release may still be on its way (the async flavour releases in a task).
    let released = (0..250).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        locks(&redis) == 0
    });
    assert!(released, "the new holder released its lock");
    assert_eq!(
        fleet.warnings(),
        vec![0; 10],
        "waiting out a dead holder is the normal path"
    );
}

#[test]
fn without_the_cache_every_process_mints_for_itself() {
    // The baseline the cache is measured against (and a check that the fleet harness
    // counts what it claims to).
    let server = token_server();
    let setup = Setup {
        credentials: service_account_json(&server.token_uri(), 0),
        cache: None,
        extra: Vec::new(),
    };
    let mut fleet = Fleet::start(&setup, 10);
    let (mints, tokens) = round(&mut fleet, &server);
    assert_eq!((mints, tokens.len()), (10, 10));
}
