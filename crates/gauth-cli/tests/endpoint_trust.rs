//! Endpoints read from files: Google's hosts and loopback are used; any other host is
//! refused until allowed (`--allow-endpoint HOST`, `EndpointPolicy::allow_host` or
//! `EndpointPolicy::allow_universe`); a file's own `universe_domain` never widens trust;
//! plain http is refused off loopback. Checked for every file type: authorized user,
//! service account, client secrets (login and device) and discovery documents (`gauth
//! call`), through the CLI and the library.

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
        .env("XDG_CONFIG_HOME", "/nonexistent-gauth-trust")
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
    // The file's universe domain does not make its own hosts trusted...
    let mut u = user("https://oauth2.universe.invalid/token");
    u["universe_domain"] = "universe.invalid".into();
    let uni = write(d, "uni.json", &u);
    let p = uni.to_str().unwrap();
    refused(
        "universe",
        &gauth(&["token", "--credentials", p]),
        "oauth2.universe.invalid",
    );
    // ...the program's allowance does.
    past_policy(
        "universe allowed",
        &gauth(&[
            "token",
            "--credentials",
            p,
            "--allow-endpoint",
            "oauth2.universe.invalid",
        ]),
    );
}

/// Universes a file may claim to widen trust with: none of them does, for any file type.
#[test]
fn a_files_universe_domain_never_widens_trust() {
    let emu = Emulator::start(Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (i, (universe, host)) in [
        ("com", "attacker.com"),
        ("invalid", "attacker.invalid"),
        ("attacker.invalid", "oauth2.attacker.invalid"),
        ("", "attacker.invalid"),
        (".", "attacker.invalid"),
        (
            "googleapis.com.attacker.invalid",
            "oauth2.googleapis.com.attacker.invalid",
        ),
        ("ATTACKER.INVALID.", "oauth2.attacker.invalid"),
        ("xn--80ak6aa92e.com", "oauth2.xn--80ak6aa92e.com"),
    ]
    .into_iter()
    .enumerate()
    {
        let token_uri = format!("https://{host}/token");
        let mut u = user(&token_uri);
        u["universe_domain"] = universe.into();
        let p = write(d, &format!("u{i}.json"), &u);
        refused(
            &format!("user universe {universe:?}"),
            &gauth(&["token", "--credentials", p.to_str().unwrap()]),
            host,
        );
        let mut key = emu.service_account_key();
        key["token_uri"] = token_uri.clone().into();
        key["universe_domain"] = universe.into();
        let p = write(d, &format!("sa{i}.json"), &key);
        refused(
            &format!("sa universe {universe:?}"),
            &gauth(&["token", "--credentials", p.to_str().unwrap()]),
            host,
        );
        // The library says the same, for every reader.
        let e =
            AuthorizedUser::from_value_with(&u, "u.json", &EndpointPolicy::default()).unwrap_err();
        assert!(
            matches!(e, Error::UntrustedEndpoint { .. }),
            "{universe}: {e:?}"
        );
        let e =
            ServiceAccountCredentials::from_value_with(&key, "k.json", &EndpointPolicy::default())
                .unwrap_err();
        assert!(e.to_string().contains(host), "{universe}: {e}");
    }
    // A universe the program allows is trusted like googleapis.com, for every host in it.
    let mut u = user("https://oauth2.partner.invalid/token");
    u["universe_domain"] = "partner.invalid".into();
    let policy = EndpointPolicy::default().allow_universe("partner.invalid");
    let ok = AuthorizedUser::from_value_with(&u, "u.json", &policy).unwrap();
    assert_eq!(
        ok.token_uri().url().host_str(),
        Some("oauth2.partner.invalid")
    );
    let mut key = emu.service_account_key();
    key["token_uri"] = "https://oauth2.partner.invalid/token".into();
    key["universe_domain"] = "partner.invalid".into();
    ServiceAccountCredentials::from_value_with(&key, "k.json", &policy).unwrap();
}

/// Host spellings: what names loopback or Google is used, what only looks like them is
/// refused before anything is sent.
#[test]
fn host_spellings_are_judged_as_the_request_would_go() {
    use gauth_tests::hostile::{Hostile, Reply};
    let server = Hostile::always(Reply::json(
        200,
        r#"{"access_token":"ya29.spelled","expires_in":3600}"#,
    ));
    let port = server.authority().rsplit(':').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (i, uri) in [
        format!("http://127.1:{port}/token"),
        format!("http://0x7f.0.0.1:{port}/token"),
        format!("http://2130706433:{port}/token"),
        format!("http://LOCALHOST:{port}/token"),
        format!("HTTP://127.0.0.1:{port}/token"),
    ]
    .iter()
    .enumerate()
    {
        let p = write(d, &format!("ok{i}.json"), &user(uri));
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        assert!(out.status.success(), "{uri}: {}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ya29.spelled");
    }
    // `localhost.` is loopback too (whether the resolver knows the dotted form or not).
    let p = write(
        d,
        "dot.json",
        &user(&format!("http://localhost.:{port}/token")),
    );
    past_policy(
        "localhost.",
        &gauth(&["token", "--credentials", p.to_str().unwrap()]),
    );
    let before = server.count();
    for (i, (uri, host)) in [
        (format!("http://0.0.0.0:{port}/token"), "0.0.0.0"),
        (format!("http://[::]:{port}/token"), "::"),
        (
            "https://oauth2.googleapis.com.attacker.invalid./token".to_owned(),
            "attacker.invalid",
        ),
        (
            "https://127.0.0.1.attacker.invalid/token".to_owned(),
            "127.0.0.1.attacker.invalid",
        ),
        (
            "https://localhost.attacker.invalid/token".to_owned(),
            "localhost.attacker.invalid",
        ),
        ("https://oauth2.gооgleapis.com/token".to_owned(), "xn--"),
        (
            "https://oauth2.googleapis.com%2eattacker.invalid/token".to_owned(),
            "attacker.invalid",
        ),
        ("https://[::ffff:10.0.0.1]/token".to_owned(), "::ffff:a00:1"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = write(d, &format!("bad{i}.json"), &user(&uri));
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{uri}: {e}");
        assert!(e.contains(host), "{uri}: host not named: {e}");
        assert!(!e.contains("trust-SECRET"), "{uri}: {e}");
    }
    // Credentials in the URL are refused, naming the field.
    for uri in [
        format!("http://oauth2.googleapis.com@127.0.0.1:{port}/token"),
        format!("http://user:pw@127.0.0.1:{port}/token"),
    ] {
        let p = write(d, "userinfo.json", &user(&uri));
        let out = gauth(&["token", "--credentials", p.to_str().unwrap()]);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{uri}: {e}");
        assert!(
            e.contains("token_uri") && e.contains("credentials"),
            "{uri}: {e}"
        );
    }
    assert_eq!(
        server.count(),
        before,
        "a refused endpoint was sent something"
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
    assert_eq!(ok.token_uri().url().host_str(), Some(ATTACKER));
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
