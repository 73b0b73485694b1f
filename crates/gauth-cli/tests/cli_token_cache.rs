//! `--token-cache redis://HOST:PORT[/DB]` and `GAUTH_TOKEN_CACHE`: a bad URL is a usage
//! error; processes share one mint through a real `redis-server`; an unreachable cache
//! costs one warning line and nothing else.

mod common;

use std::process::Command;

use common::{Home, ok, stderr, stdout};
use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::redis_server::{RedisServer, free_port, service_account_json};

fn key_file(home: &Home, server: &TokenServer) -> std::path::PathBuf {
    let path = home.path().join("key.json");
    std::fs::write(
        &path,
        service_account_json(&server.token_uri(), 0).to_string(),
    )
    .unwrap();
    path
}

fn run(mut c: Command) -> std::process::Output {
    c.output().unwrap()
}

#[test]
fn a_bad_token_cache_url_is_a_usage_error_from_the_flag_or_the_environment() {
    let home = Home::new();
    for bad in [
        "not-a-url",
        "http://127.0.0.1:6379",
        "redis://",
        "redis://127.0.0.1:99999",
        "redis://127.0.0.1:6379/x",
        "rediss://127.0.0.1:6379",
    ] {
        for cmd in [
            &["token"][..],
            &["header"],
            &["call", "drive", "v3", "files.list"],
        ] {
            let mut c = home.gauth();
            c.args(cmd).args(["--token-cache", bad]);
            let o = run(c);
            assert_eq!(o.status.code(), Some(2), "{cmd:?} {bad}: {}", stderr(&o));
            assert!(stderr(&o).contains("--token-cache"), "{}", stderr(&o));
        }
        let mut c = home.gauth();
        c.arg("token").env("GAUTH_TOKEN_CACHE", bad);
        let o = run(c);
        assert_eq!(
            o.status.code(),
            Some(2),
            "GAUTH_TOKEN_CACHE={bad}: {}",
            stderr(&o)
        );
    }
    let mut c = home.gauth();
    c.args(["token", "--token-cache", "redis://:hunter2@127.0.0.1:1/x"]);
    let o = run(c);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--token-cache"));
}

#[test]
fn processes_on_other_homes_share_one_mint_through_the_cache() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let mut tokens = Vec::new();
    for how in ["flag", "env", "header"] {
        // A machine of its own: another home, another copy of the key file.
        let home = Home::new();
        let key = key_file(&home, &server);
        let mut c = home.gauth();
        c.arg(if how == "header" { "header" } else { "token" })
            .arg("--credentials")
            .arg(&key);
        if how == "env" {
            c.env("GAUTH_TOKEN_CACHE", redis.url());
        } else {
            c.args(["--token-cache", &redis.url()]);
        }
        let out = ok(how, &run(c));
        tokens.push(
            out.trim()
                .trim_start_matches("Authorization: Bearer ")
                .to_owned(),
        );
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    assert_eq!(server.requests(), 1, "one mint for three processes");
    let dump = redis.dump();
    assert_eq!(dump.len(), 1);
    assert!(!String::from_utf8_lossy(&dump[0].1).contains(&tokens[0]));
}

#[test]
fn a_users_file_still_gets_its_refresh_with_the_cache() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let home = Home::new();
    let file = home.path().join("user.json");
    let user = gauth_tests::authorized_user_json(&server.token_uri(), "1//test-refresh-token");
    std::fs::write(&file, user.to_string()).unwrap();
    let mut c = home.gauth();
    c.args(["token", "--credentials"])
        .arg(&file)
        .args(["--token-cache", &redis.url()]);
    let token = ok("token", &run(c));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["token"], token.trim(), "written back to the file");
    assert_eq!(redis.dump().len(), 1, "and shared through Redis");
}

#[test]
fn an_unreachable_cache_costs_one_warning_line_naming_it_and_never_its_password() {
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let home = Home::new();
    let key = key_file(&home, &server);
    let url = format!("redis://:hunter2@127.0.0.1:{}/0", free_port());
    let mut c = home.gauth();
    c.args(["token", "--credentials"])
        .arg(&key)
        .args(["--token-cache", &url]);
    let o = run(c);
    let token = ok("token", &o);
    assert!(token.starts_with("ya29.test-access-"), "{token}");
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one warning: {err}");
    assert!(
        lines[0].contains("token cache") && lines[0].contains("127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !stdout(&o).contains("hunter2"));
    assert_eq!(server.requests(), 1);
}
