//! Credential files as people keep them, through the library:
//! - a file that is a symbolic link (a dotfile manager's), or a chain of two, stays a link
//!   when a refresh is written back: the file at the end of the chain is replaced, in its
//!   own directory, and google-auth still loads it;
//! - a symbolic link planted at the lock file's path is never written, truncated or
//!   created through;
//! - requested scopes (`gauth token --scope`) are asked for as google-auth asks for them,
//!   and the file's record of the grant is never rewritten.
//!
//! The tests that run google-auth are `#[ignore]`d outside `cargo xtask test`.

#![cfg(unix)]

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gauth::{AuthorizedUser, Credentials, FileStore, RetryPolicy, blocking};
use gauth_emulator::token_server::{TokenServer, TokenServerConfig};
use gauth_tests::hostile::{Hostile, Recorded, Reply};
use gauth_tests::{authorized_user_json, run_python};
use serde_json::{Value, json};

fn blocking_creds(path: &Path) -> blocking::Credentials {
    blocking::Credentials::builder(AuthorizedUser::from_file(path).unwrap())
        .store(FileStore::new(path))
        .retry(RetryPolicy::none())
        .build()
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `home/creds.json -> home/middle.json -> ../dotfiles/real.json`: an absolute link to a
/// relative one, as a dotfile manager and a user's own link might stack up.
struct Linked {
    _root: tempfile::TempDir,
    link: std::path::PathBuf,
    middle: std::path::PathBuf,
    target: std::path::PathBuf,
}

fn linked() -> Linked {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let dotfiles = root.path().join("dotfiles");
    std::fs::create_dir(&home).unwrap();
    std::fs::create_dir(&dotfiles).unwrap();
    let target = dotfiles.join("real.json");
    let middle = home.join("middle.json");
    let link = home.join("creds.json");
    symlink("../dotfiles/real.json", &middle).unwrap();
    symlink(&middle, &link).unwrap();
    Linked {
        _root: root,
        link,
        middle,
        target,
    }
}

fn links_intact(l: &Linked) {
    assert!(
        l.link.symlink_metadata().unwrap().file_type().is_symlink(),
        "the file named is still a link"
    );
    assert_eq!(std::fs::read_link(&l.link).unwrap(), l.middle);
    assert!(
        l.middle
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&l.middle).unwrap(),
        Path::new("../dotfiles/real.json")
    );
    assert!(l.target.symlink_metadata().unwrap().file_type().is_file());
    assert_eq!(mode(&l.target), 0o600);
    // Nothing was left beside the links: the temporary file and the lock live beside the
    // target.
    let mut in_home: Vec<_> = std::fs::read_dir(l.link.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    in_home.sort();
    assert_eq!(in_home, ["creds.json", "middle.json"]);
}

#[test]
fn refreshes_through_a_chain_of_links_replace_the_target_and_keep_the_links() {
    let server =
        TokenServer::start(TokenServerConfig::default().rotate_refresh_tokens(true)).unwrap();
    let l = linked();
    std::fs::write(
        &l.target,
        authorized_user_json(&server.token_uri(), &server.current_refresh_token()).to_string(),
    )
    .unwrap();

    let token = blocking_creds(&l.link).token().unwrap();
    links_intact(&l);
    let saved = read(&l.target);
    assert_eq!(saved["token"], token.expose());
    assert_eq!(saved["refresh_token"], server.current_refresh_token());
    assert!(l.target.with_file_name(".real.json.lock").exists());

    // Again through the async flavour, forcing a refresh: the rotated refresh token is read
    // back through the links, so the grant survives.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let creds = Credentials::builder(AuthorizedUser::from_file(&l.link).unwrap())
        .store(FileStore::new(&l.link))
        .retry(RetryPolicy::none())
        .build();
    let second = rt.block_on(creds.refresh()).unwrap();
    assert_ne!(second.access_token.expose(), token.expose());
    assert!(!server.grant_revoked());
    links_intact(&l);
    assert_eq!(read(&l.target)["token"], second.access_token.expose());
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn google_auth_loads_a_file_written_back_through_links() {
    let server =
        TokenServer::start(TokenServerConfig::default().rotate_refresh_tokens(true)).unwrap();
    let l = linked();
    run_python(
        "authorized_user.py",
        &[
            "write",
            l.target.to_str().unwrap(),
            &server.token_uri(),
            &server.current_refresh_token(),
        ],
    );
    let token = blocking_creds(&l.link).token().unwrap();
    links_intact(&l);
    for name in [&l.link, &l.target] {
        let out = run_python("authorized_user.py", &["read", name.to_str().unwrap()]);
        let back: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(back["token"], token.expose());
        assert_eq!(back["refresh_token"], server.current_refresh_token());
        assert_eq!(back["valid"], true, "{back}");
    }
}

#[test]
fn a_symlink_planted_at_the_lock_path_is_never_written_through() {
    let server = TokenServer::start(TokenServerConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    std::fs::write(
        &path,
        authorized_user_json(&server.token_uri(), &server.current_refresh_token()).to_string(),
    )
    .unwrap();
    let victim = elsewhere.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(&victim).unwrap().modified().unwrap();
    symlink(&victim, dir.path().join(".user.json.lock")).unwrap();

    let e = blocking_creds(&path).token().unwrap_err().to_string();
    assert!(
        e.contains(".user.json.lock") && e.contains("symbolic link"),
        "{e}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(mode(&victim), 0o644);
    assert_eq!(
        std::fs::metadata(&victim).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(server.requests(), 0, "nothing is sent without the lock");

    // A dangling link there does not get its target created either.
    std::fs::remove_file(dir.path().join(".user.json.lock")).unwrap();
    let nowhere = elsewhere.path().join("created-by-nobody");
    symlink(&nowhere, dir.path().join(".user.json.lock")).unwrap();
    assert!(blocking_creds(&path).token().is_err());
    assert!(!nowhere.exists());
}

/// A token endpoint that answers every refresh with a new token for the scopes asked
/// (echoing `scope`, as Google does), and rotates the refresh token when told to.
fn scope_echoing_server(rotate: bool) -> Hostile {
    let n = Arc::new(AtomicUsize::new(0));
    Hostile::start(move |req: &Recorded| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        let form = req.form();
        let scope = form
            .iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone());
        let mut body = json!({
            "access_token": format!("ya29.scoped-{i}"),
            "expires_in": 3600,
            "token_type": "Bearer",
        });
        if let Some(s) = scope {
            body["scope"] = s.into();
        }
        if rotate {
            body["refresh_token"] = format!("1//rotated-{i}").into();
        }
        Reply::json(200, body.to_string())
    })
}

fn form_of(r: &Recorded) -> Vec<(String, String)> {
    let mut f = r.form();
    f.sort();
    f
}

#[test]
fn requested_scopes_are_asked_for_and_the_grant_record_is_kept() {
    let server = scope_echoing_server(true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    let mut v = authorized_user_json(&server.url("/token"), "1//r");
    v["scopes"] = json!(["openid", "email", "drive"]);
    v["token"] = "ya29.broad".into();
    v["expiry"] = "2999-01-01T00:00:00Z".into();
    std::fs::write(&path, v.to_string()).unwrap();
    let user = |scopes: &[&str]| {
        blocking::Credentials::builder(
            AuthorizedUser::from_file(&path)
                .unwrap()
                .with_requested_scopes(scopes.iter().copied()),
        )
        .store(FileStore::new(&path))
        .retry(RetryPolicy::none())
        .build()
    };

    // The broad token covers `email`: reused, nothing sent.
    assert_eq!(user(&["email"]).token().unwrap().expose(), "ya29.broad");
    assert_eq!(server.count(), 0);

    // `calendar` is not covered: a refresh asks for exactly that.
    let creds = user(&["calendar"]);
    let t = creds.token_details().unwrap();
    assert_eq!(t.access_token.expose(), "ya29.scoped-0");
    assert_eq!(t.scopes.as_deref().unwrap(), ["calendar"]);
    let sent = &server.requests()[0];
    assert!(
        sent.form().contains(&("scope".into(), "calendar".into())),
        "{sent:?}"
    );
    // The same handle reuses its token; a new one built from the file does not get the
    // broad token for `calendar` either way.
    assert_eq!(creds.token().unwrap().expose(), "ya29.scoped-0");
    assert_eq!(server.count(), 1);

    let saved = read(&path);
    assert_eq!(
        saved["scopes"],
        json!(["openid", "email", "drive"]),
        "the grant"
    );
    assert_eq!(
        saved["token"], "ya29.broad",
        "the file's token is the grant's"
    );
    assert_eq!(saved["expiry"], "2999-01-01T00:00:00Z");
    assert_eq!(saved["refresh_token"], "1//rotated-0", "a rotation is kept");
}

#[test]
#[ignore = "needs the interop environment: cargo xtask test"]
fn a_scoped_refresh_matches_google_auths_request_and_google_auth_still_loads_the_file() {
    let server = scope_echoing_server(false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.json");
    // google-auth writes the file: expired token, scopes openid + userinfo.email.
    run_python(
        "authorized_user.py",
        &[
            "write",
            path.to_str().unwrap(),
            &server.url("/token"),
            "1//r",
        ],
    );
    let email = "https://www.googleapis.com/auth/userinfo.email";

    // google-auth's own refresh for one of the scopes...
    let out = run_python(
        "scoped_refresh.py",
        &["refresh", path.to_str().unwrap(), email],
    );
    let theirs: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(theirs["token"], "ya29.scoped-0");
    // ...and gauth's, through the same file.
    let ours = blocking::Credentials::builder(
        AuthorizedUser::from_file(&path)
            .unwrap()
            .with_requested_scopes([email]),
    )
    .store(FileStore::new(&path))
    .retry(RetryPolicy::none())
    .build()
    .token_details()
    .unwrap();
    assert_eq!(ours.access_token.expose(), "ya29.scoped-1");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        form_of(&requests[1]),
        form_of(&requests[0]),
        "gauth asks exactly as google-auth does"
    );
    assert!(requests[1].form().contains(&("scope".into(), email.into())));
    assert_eq!(
        ours.scopes.as_deref().unwrap(),
        theirs["granted_scopes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect::<Vec<_>>()
    );

    // google-auth loads the file afterwards and sees the grant it wrote.
    let out = run_python("authorized_user.py", &["read", path.to_str().unwrap()]);
    let back: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(back["scopes"], json!(["openid", email]));
    assert_eq!(back["refresh_token"], "1//r");
    assert_eq!(back["token"], "ya29.stale-token-from-python");
}
