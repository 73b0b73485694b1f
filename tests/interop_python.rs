//! gauth against Python google-auth: a file written by `Credentials.to_json()` is refreshed by
//! gauth (both flavours) against a local token server that rotates refresh tokens, and
//! google-auth loads the written-back file again.

use std::path::Path;

use gauth::{AuthorizedUser, Credentials, FileStore, RetryPolicy, blocking};
use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::run_python;
use serde_json::Value;

fn python_writes(path: &Path, server: &TokenServer) {
    run_python(
        "authorized_user.py",
        &[
            "write",
            path.to_str().unwrap(),
            &server.token_uri(),
            &server.current_refresh_token(),
        ],
    );
}

fn python_reads(path: &Path) -> Value {
    let out = run_python("authorized_user.py", &["read", path.to_str().unwrap()]);
    serde_json::from_str(out.trim()).expect("python prints JSON")
}

fn check_round_trip(path: &Path, server: &TokenServer, token: &str) {
    let back = python_reads(path);
    assert_eq!(back["token"], token, "google-auth sees gauth's new token");
    assert_eq!(
        back["refresh_token"],
        server.current_refresh_token(),
        "and the rotated refresh token"
    );
    assert_eq!(back["valid"], true, "and an expiry in the future: {back}");
    assert_eq!(back["expired"], false);
    assert_eq!(
        back["scopes"],
        serde_json::json!(["openid", "https://www.googleapis.com/auth/userinfo.email"])
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn blocking_refresh_of_a_google_auth_file_loads_back_in_google_auth() {
    let server =
        TokenServer::start(TokenServerConfig::default().rotate_refresh_tokens(true)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    python_writes(&path, &server);

    let user = AuthorizedUser::from_file(&path).unwrap();
    let creds = blocking::Credentials::builder(user)
        .store(FileStore::new(&path))
        .retry(RetryPolicy::none())
        .build();
    let token = creds.token().unwrap();
    assert_eq!(token.expose(), "ya29.test-access-0");
    assert_eq!(server.requests(), 1);
    check_round_trip(&path, &server, token.expose());

    // A second handle on the same file finds the fresh token there: no request.
    let again = blocking::Credentials::builder(AuthorizedUser::from_file(&path).unwrap())
        .store(FileStore::new(&path))
        .build();
    assert_eq!(again.token().unwrap().expose(), token.expose());
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
#[ignore = "needs the interop environment: cargo xtask test"]
async fn async_refresh_of_a_google_auth_file_loads_back_in_google_auth() {
    let server =
        TokenServer::start(TokenServerConfig::default().rotate_refresh_tokens(true)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    python_writes(&path, &server);

    let user = AuthorizedUser::from_file(&path).unwrap();
    let creds = Credentials::builder(user)
        .store(FileStore::new(&path))
        .retry(RetryPolicy::none())
        .build();
    let token = creds.token().await.unwrap();
    assert_eq!(token.expose(), "ya29.test-access-0");
    check_round_trip(&path, &server, token.expose());

    // Refresh again: the rotated refresh token from the file is used, and the grant holds.
    let second = creds.refresh().await.unwrap();
    assert_eq!(second.access_token.expose(), "ya29.test-access-1");
    assert!(!server.grant_revoked());
    check_round_trip(&path, &server, second.access_token.expose());
}

/// A token endpoint that says its token lasts 2^64-1 seconds: gauth clamps the expiry to
/// the last second of year 9999 and writes it so that google-auth loads the file and finds
/// the token valid (Python's `datetime` ends there too).
#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn a_token_lasting_forever_is_written_so_google_auth_still_loads_it() {
    use gauth_tests::hostile::{Hostile, Reply};
    let server = Hostile::always(Reply::json(
        200,
        r#"{"access_token":"ya29.forever","expires_in":18446744073709551615}"#,
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    run_python(
        "authorized_user.py",
        &[
            "write",
            path.to_str().unwrap(),
            &server.url("/token"),
            "1//python-refresh",
        ],
    );
    let creds = blocking::Credentials::builder(AuthorizedUser::from_file(&path).unwrap())
        .store(FileStore::new(&path))
        .build();
    assert_eq!(creds.token().unwrap().expose(), "ya29.forever");
    let back = python_reads(&path);
    assert_eq!(back["token"], "ya29.forever");
    assert_eq!(back["expiry"], "9999-12-31T23:59:59");
    assert_eq!(back["valid"], true, "{back}");
}
