//! `gauth token` on credential files as people keep them: `--scope` gets a token for those
//! scopes without rewriting the file's record of the grant, and a credentials file that is
//! a symbolic link stays one.

#![cfg(unix)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::hostile::{Hostile, Recorded, Reply};
use gauth_tests::{authorized_user_json, run_python};
use serde_json::{Value, json};

fn gauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .output()
        .expect("gauth runs")
}

fn stdout_ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "gauth failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Answers every refresh with a new token for the scopes asked (echoed in `scope`, as
/// Google does), rotating the refresh token when told to.
fn scope_echoing_server(rotate: bool) -> Hostile {
    let n = Arc::new(AtomicUsize::new(0));
    Hostile::start(move |req: &Recorded| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        let mut body = json!({
            "access_token": format!("ya29.scoped-{i}"),
            "expires_in": 3600,
            "token_type": "Bearer",
        });
        if let Some((_, s)) = req.form().into_iter().find(|(k, _)| k == "scope") {
            body["scope"] = s.into();
        }
        if rotate {
            body["refresh_token"] = format!("1//rotated-{i}").into();
        }
        Reply::json(200, body.to_string())
    })
}

#[test]
fn token_with_scope_is_for_that_scope_and_the_files_grant_is_untouched() {
    let server = scope_echoing_server(false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    let mut v = authorized_user_json(&server.url("/token"), "1//r");
    v["scopes"] = json!(["openid", "email", "drive"]);
    v["token"] = "ya29.broad".into();
    v["expiry"] = "2999-01-01T00:00:00Z".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let p = path.to_str().unwrap();

    // The file's token covers `email`: no request.
    assert_eq!(
        stdout_ok(&gauth(&["token", "--credentials", p, "--scope", "email"])),
        "ya29.broad"
    );
    assert_eq!(server.count(), 0);

    // It does not cover `calendar`: a refresh asks for it, and the token printed is that one.
    let out = stdout_ok(&gauth(&[
        "token",
        "--credentials",
        p,
        "--scope",
        "calendar",
        "--json",
    ]));
    let printed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["token"], "ya29.scoped-0");
    assert_eq!(printed["scopes"], json!(["calendar"]));
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .form()
            .contains(&("scope".into(), "calendar".into()))
    );

    // The file still records the grant, with its own token.
    let saved = read(&path);
    assert_eq!(saved["scopes"], json!(["openid", "email", "drive"]));
    assert_eq!(saved["token"], "ya29.broad");
    assert_eq!(
        stdout_ok(&gauth(&["token", "--credentials", p])),
        "ya29.broad"
    );
    assert_eq!(server.count(), 1);
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_auth_loads_the_file_after_a_scoped_refresh_with_rotation() {
    let server = scope_echoing_server(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    run_python(
        "authorized_user.py",
        &[
            "write",
            path.to_str().unwrap(),
            &server.url("/token"),
            "1//r",
        ],
    );
    let token = stdout_ok(&gauth(&[
        "token",
        "--credentials",
        path.to_str().unwrap(),
        "--scope",
        "openid",
    ]));
    assert_eq!(token, "ya29.scoped-0");
    let out = run_python("authorized_user.py", &["read", path.to_str().unwrap()]);
    let back: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        back["scopes"],
        json!(["openid", "https://www.googleapis.com/auth/userinfo.email"]),
        "the grant google-auth wrote"
    );
    assert_eq!(
        back["refresh_token"], "1//rotated-0",
        "the rotation is kept"
    );
    assert_eq!(back["token"], "ya29.stale-token-from-python");
}

#[test]
fn token_through_a_symlinked_credentials_file_keeps_the_link() {
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("dotfiles")).unwrap();
    let target = dir.path().join("dotfiles").join("gauth.json");
    std::fs::write(
        &target,
        authorized_user_json(&server.token_uri(), "1//test-refresh-token").to_string(),
    )
    .unwrap();
    let link = dir.path().join("user.json");
    std::os::unix::fs::symlink("dotfiles/gauth.json", &link).unwrap();
    let l = link.to_str().unwrap();

    let token = stdout_ok(&gauth(&["token", "--credentials", l]));
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("dotfiles/gauth.json")
    );
    assert_eq!(read(&target)["token"], token.as_str());
    // The next run finds the token through the link.
    assert_eq!(stdout_ok(&gauth(&["token", "--credentials", l])), token);
    assert_eq!(server.requests(), 1);
}
