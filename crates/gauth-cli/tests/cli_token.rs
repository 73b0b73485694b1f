//! `gauth token` and `gauth header` as shared/cli.md defines them, run as a process.

use std::path::Path;
use std::process::{Command, Output};

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::authorized_user_json;
use serde_json::Value;

const SECRETS: [&str; 2] = ["test-client-secret", "1//test-refresh-token"];

fn gauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env("RUST_LOG", "trace")
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .expect("gauth runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn no_secret_in(text: &str, extra: &[&str]) {
    for s in SECRETS.iter().chain(extra) {
        assert!(!text.contains(s), "`{s}` leaked into:\n{text}");
    }
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn token_refreshes_prints_and_writes_back_once() {
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    write(
        &path,
        &authorized_user_json(&server.token_uri(), "1//test-refresh-token"),
    );
    let p = path.to_str().unwrap();

    let out = gauth(&["token", "--credentials", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ya29.test-access-0\n");
    no_secret_in(&stderr(&out), &["ya29.test-access-0"]);
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(saved["token"], "ya29.test-access-0");
    assert_eq!(saved["type"], "authorized_user");
    assert!(saved["expiry"].as_str().unwrap().ends_with('Z'));

    let header = gauth(&["header", "--credentials", p]);
    assert_eq!(
        stdout(&header),
        "Authorization: Bearer ya29.test-access-0\n"
    );
    let json = gauth(&["token", "--credentials", p, "--json"]);
    let v: Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(v["token"], "ya29.test-access-0");
    assert_eq!(v["type"], "authorized_user");
    assert!(v["expiry"].is_string());
    assert_eq!(
        server.requests(),
        1,
        "later runs use the token written back"
    );
}

#[test]
fn a_refused_refresh_exits_1_naming_the_oauth_error_without_secrets() {
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    write(
        &path,
        &authorized_user_json(&server.token_uri(), "1//revoked-refresh-token"),
    );
    let out = gauth(&["token", "--credentials", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("invalid_grant"), "{err}");
    no_secret_in(&err, &["1//revoked-refresh-token"]);
    assert!(stdout(&out).is_empty());
}

#[test]
fn bad_files_exit_1_with_one_line_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    let p = path.to_str().unwrap();

    let missing = gauth(&["token", "--credentials", p]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains(&format!("cannot read {p}")),
        "{}",
        stderr(&missing)
    );

    write(
        &path,
        &serde_json::json!({"type": "authorized_user", "client_id": "x", "client_secret": "test-client-secret"}),
    );
    let out = gauth(&["token", "--credentials", p]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(p) && err.contains("`refresh_token`"), "{err}");
    no_secret_in(&err, &[]);

    std::fs::write(
        &path,
        r#"{"type": "authorized_user", "client_secret": "test-client-secret""#,
    )
    .unwrap();
    let out = gauth(&["token", "--credentials", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("truncated JSON"), "{}", stderr(&out));
    no_secret_in(&stderr(&out), &[]);

    write(&path, &serde_json::json!({"type": "gdch_service_account"}));
    let out = gauth(&["token", "--credentials", p]);
    assert!(
        stderr(&out).contains("unsupported credentials type `gdch_service_account`"),
        "{}",
        stderr(&out)
    );

    write(&path, &serde_json::json!({"type": "external_account"}));
    let out = gauth(&["token", "--credentials", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{p}: missing field `audience`")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn endpoints_from_files_must_be_google_or_loopback_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    write(
        &path,
        &authorized_user_json("https://attacker.example/token", "1//test-refresh-token"),
    );
    let out = gauth(&["token", "--credentials", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("attacker.example") && err.contains("--allow-endpoint"),
        "{err}"
    );
    no_secret_in(&err, &[]);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let out = gauth(&["token", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = gauth(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn a_google_auth_file_refreshed_by_the_cli_loads_back_in_google_auth() {
    let server =
        TokenServer::start(TokenServerConfig::default().rotate_refresh_tokens(true)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    let p = path.to_str().unwrap();
    gauth_tests::run_python(
        "authorized_user.py",
        &[
            "write",
            p,
            &server.token_uri(),
            &server.current_refresh_token(),
        ],
    );
    let out = gauth(&["token", "--credentials", p]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    let back: Value =
        serde_json::from_str(gauth_tests::run_python("authorized_user.py", &["read", p]).trim())
            .unwrap();
    assert_eq!(back["token"], token);
    assert_eq!(back["refresh_token"], server.current_refresh_token());
    assert_eq!(back["valid"], true);
}
