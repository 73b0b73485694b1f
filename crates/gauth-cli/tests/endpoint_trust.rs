//! Endpoints read from files: Google's hosts, the file's universe domain and loopback are
//! used; any other host is refused until allowed (`--allow-endpoint HOST` or
//! `EndpointPolicy::allow_host`); plain http is refused off loopback. Checked for every
//! file type: authorized user, service account, client secrets (login and device) and
//! discovery documents (`gauth call`), through the CLI and the library.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gauth::{AuthorizedUser, ClientSecrets, EndpointPolicy, Error, ServiceAccountCredentials};
use gauth_emulator::Emulator;
use serde_json::{Value, json};

fn gauth(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauth"))
        .args(args)
        .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
        .env("CLOUDSDK_CONFIG", "/nonexistent-gauth-trust")
        .output()
        .expect("gauth runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p
}

const ATTACKER: &str = "attacker.invalid";

fn user(token_uri: &str) -> Value {
    json!({"type": "authorized_user", "client_id": "c.apps.googleusercontent.com",
           "client_secret": "trust-SECRET", "refresh_token": "1//trust-SECRET",
           "token_uri": token_uri})
}

fn client_secrets(token_uri: &str, auth_uri: &str) -> Value {
    json!({"installed": {"client_id": "c.apps.googleusercontent.com", "client_secret": "trust-SECRET",
           "auth_uri": auth_uri, "token_uri": token_uri, "redirect_uris": ["http://localhost"]}})
}

/// Refused by the policy: exit 1, the host and the way to allow it named, no secret.
fn refused(what: &str, out: &Output, host: &str) {
    let e = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{what}: {e}");
    assert!(e.contains(host), "{what}: host not named: {e}");
    assert!(
        e.contains("--allow-endpoint"),
        "{what}: no way out named: {e}"
    );
    assert!(!e.contains("trust-SECRET"), "{what}: {e}");
}

/// Got past the policy: whatever failed next, it was not the trust check.
fn past_policy(what: &str, out: &Output) {
    let e = stderr(out);
    assert!(
        !e.contains("--allow-endpoint"),
        "{what}: still refused: {e}"
    );
    assert!(!e.contains("not trusted"), "{what}: still refused: {e}");
    assert!(!e.contains("trust-SECRET"), "{what}: {e}");
}

#[test]
fn authorized_user_files_name_only_trusted_token_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let evil = write(d, "evil.json", &user(&format!("https://{ATTACKER}/token")));
    let p = evil.to_str().unwrap();
    refused("user", &gauth(&["token", "--credentials", p]), ATTACKER);
    // Allowed, the next failure is reaching the host (.invalid never resolves).
    past_policy(
        "user allowed",
        &gauth(&["token", "--credentials", p, "--allow-endpoint", ATTACKER]),
    );
    // Allowing one host does not allow another, nor a look-alike.
    refused(
        "user other allowed",
        &gauth(&[
            "token",
            "--credentials",
            p,
            "--allow-endpoint",
            "other.invalid",
        ]),
        ATTACKER,
    );
    let look = write(
        d,
        "look.json",
        &user("https://oauth2.googleapis.com.attacker.invalid/token"),
    );
    refused(
        "look-alike",
        &gauth(&["token", "--credentials", look.to_str().unwrap()]),
        "attacker.invalid",
    );
    // Plain http off loopback, even to Google's host.
    let http = write(d, "http.json", &user("http://oauth2.googleapis.com/token"));
    let out = gauth(&["token", "--credentials", http.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("http"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("oauth2.googleapis.com"),
        "{}",
        stderr(&out)
    );
    // The file's universe domain is Google's in that universe.
    let mut u = user("https://oauth2.universe.invalid/token");
    u["universe_domain"] = "universe.invalid".into();
    let uni = write(d, "uni.json", &u);
    past_policy(
        "universe",
        &gauth(&["token", "--credentials", uni.to_str().unwrap()]),
    );
}

#[test]
fn service_account_files_name_only_trusted_token_endpoints() {
    let emu = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut key = emu.service_account_key();
    key["token_uri"] = format!("https://{ATTACKER}/token").into();
    let p = write(dir.path(), "sa.json", &key);
    let p = p.to_str().unwrap();
    refused("sa", &gauth(&["token", "--credentials", p]), ATTACKER);
    past_policy(
        "sa allowed",
        &gauth(&["token", "--credentials", p, "--allow-endpoint", ATTACKER]),
    );
    key["token_uri"] = "http://oauth2.googleapis.com/token".into();
    let p = write(dir.path(), "sa-http.json", &key);
    let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // Library: the builder option.
    let mut key = emu.service_account_key();
    key["token_uri"] = format!("https://{ATTACKER}/token").into();
    let e = ServiceAccountCredentials::from_value_with(&key, "sa.json", &EndpointPolicy::default())
        .unwrap_err();
    assert!(e.to_string().contains(ATTACKER), "{e}");
    ServiceAccountCredentials::from_value_with(
        &key,
        "sa.json",
        &EndpointPolicy::default().allow_host(ATTACKER),
    )
    .unwrap();
}

#[test]
fn client_secrets_name_only_trusted_endpoints_for_login_and_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_auth = "https://accounts.google.com/o/oauth2/auth";
    let good_token = "https://oauth2.googleapis.com/token";
    for (name, cs) in [
        (
            "token",
            client_secrets(&format!("https://{ATTACKER}/token"), good_auth),
        ),
        (
            "auth",
            client_secrets(good_token, &format!("https://{ATTACKER}/auth")),
        ),
    ] {
        let p = write(d, &format!("cs-{name}.json"), &cs);
        let p = p.to_str().unwrap();
        let login = gauth(&[
            "login",
            "--client-secrets",
            p,
            "--scope",
            "openid",
            "--no-browser",
            "--timeout",
            "1",
        ]);
        refused(&format!("login {name}"), &login, ATTACKER);
        // Refused before anything was served or printed.
        assert!(!stderr(&login).contains("/auth?"), "{}", stderr(&login));
        let device = gauth(&[
            "device",
            "--client-secrets",
            p,
            "--scope",
            "openid",
            "--device-url",
            "http://127.0.0.1:9/device",
        ]);
        refused(&format!("device {name}"), &device, ATTACKER);
    }
    // Library: the same file, parsed with and without the opt-in.
    let cs = client_secrets(&format!("https://{ATTACKER}/token"), good_auth);
    let e = ClientSecrets::from_value_with(&cs, "cs.json", &EndpointPolicy::default()).unwrap_err();
    assert!(matches!(e, Error::UntrustedEndpoint { .. }), "{e:?}");
    ClientSecrets::from_value_with(
        &cs,
        "cs.json",
        &EndpointPolicy::default().allow_host(ATTACKER),
    )
    .unwrap();
    let cs = client_secrets("http://oauth2.googleapis.com/token", good_auth);
    let e = ClientSecrets::from_value_with(&cs, "cs.json", &EndpointPolicy::default()).unwrap_err();
    assert!(matches!(e, Error::InsecureEndpoint { .. }), "{e:?}");
}

#[test]
fn library_authorized_users_follow_the_policy() {
    let v = user(&format!("https://{ATTACKER}/token"));
    let e = AuthorizedUser::from_value_with(&v, "u.json", &EndpointPolicy::default()).unwrap_err();
    assert!(matches!(e, Error::UntrustedEndpoint { .. }), "{e:?}");
    let ok = AuthorizedUser::from_value_with(
        &v,
        "u.json",
        &EndpointPolicy::default().allow_host(ATTACKER),
    )
    .unwrap();
    assert_eq!(ok.token_uri().host_str(), Some(ATTACKER));
    for loopback in [
        "http://127.0.0.1:1/t",
        "http://[::1]:1/t",
        "http://localhost:1/t",
    ] {
        AuthorizedUser::from_value_with(&user(loopback), "u.json", &EndpointPolicy::default())
            .unwrap_or_else(|e| panic!("{loopback}: {e}"));
    }
    let http = user(&format!("http://{ATTACKER}/token"));
    let e = AuthorizedUser::from_value_with(
        &http,
        "u.json",
        &EndpointPolicy::default().allow_host(ATTACKER),
    )
    .unwrap_err();
    assert!(matches!(e, Error::InsecureEndpoint { .. }), "{e:?}");
    AuthorizedUser::from_value_with(
        &http,
        "u.json",
        &EndpointPolicy::default()
            .allow_host(ATTACKER)
            .allow_insecure_http(true),
    )
    .unwrap();
}

/// A discovery document names where calls (and their Authorization header) go.
#[test]
fn discovery_documents_name_only_trusted_roots() {
    let emu = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let creds = write(d, "user.json", &{
        let mut u = user(&emu.token_uri());
        u["token"] = "ya29.trust-SECRET".into();
        u["expiry"] = "2999-01-01T00:00:00Z".into();
        u
    });
    let doc = json!({"name": "x", "version": "v1", "rootUrl": format!("https://{ATTACKER}/"),
        "servicePath": "x/v1/", "resources": {"items": {"methods": {"list": {"id": "x.items.list",
        "path": "items", "httpMethod": "GET", "response": {"$ref": "L"}}}}}});
    let docp = write(d, "doc.json", &doc);
    let c = creds.to_str().unwrap();
    let dp = docp.to_str().unwrap();
    let out = gauth(&[
        "call",
        "x",
        "v1",
        "items.list",
        "--credentials",
        c,
        "--discovery-file",
        dp,
    ]);
    refused("discovery rootUrl", &out, ATTACKER);
    past_policy(
        "discovery allowed",
        &gauth(&[
            "call",
            "x",
            "v1",
            "items.list",
            "--credentials",
            c,
            "--discovery-file",
            dp,
            "--allow-endpoint",
            ATTACKER,
        ]),
    );
    // The rule is the library's, settled when the document is read: a dry run of that
    // document is refused too; an explicit --root-url is the caller's choice.
    let out = gauth(&[
        "call",
        "x",
        "v1",
        "items.list",
        "--discovery-file",
        dp,
        "--dry-run",
    ]);
    refused("discovery rootUrl, dry run", &out, ATTACKER);
    let out = gauth(&[
        "call",
        "x",
        "v1",
        "items.list",
        "--credentials",
        c,
        "--discovery-file",
        dp,
        "--root-url",
        "https://x.example/",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The emulator's documents point at loopback: trusted.
    let out = gauth(&[
        "call",
        "oauth2",
        "v2",
        "userinfo.get",
        "--credentials",
        c,
        "--discovery-url",
        &emu.discovery_url("oauth2", "v2"),
    ]);
    past_policy("emulator discovery", &out);
}
