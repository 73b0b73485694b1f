//! The emulator over real HTTP on loopback: the rules of each grant, the device flow's
//! RFC 8628 answers, and robustness against junk.

use std::time::Duration;

use gauth_emulator::{Emulator, EmulatorConfig, INSTALLED_CLIENT_ID, INSTALLED_CLIENT_SECRET};
use serde_json::Value;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

/// (status, body) of a form POST.
fn post(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut r = agent().post(url).send_form(form.iter().copied()).unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_to_string().unwrap_or_default())
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
}

/// GET without following redirects: (status, Location, body).
fn get(url: &str) -> (u16, String, String) {
    let mut r = agent().get(url).call().unwrap();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let status = r.status().as_u16();
    (
        status,
        location,
        r.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

const REDIRECT: &str = "http://127.0.0.1:5555/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7636 appendix B: the S256 challenge of `VERIFIER`.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Runs the auto-approved authorization request and returns the code.
fn code(emu: &Emulator, extra: &str) -> String {
    let url = format!(
        "{}?client_id={INSTALLED_CLIENT_ID}&redirect_uri={REDIRECT}&response_type=code&scope=openid%20email&state=xyz{extra}",
        emu.auth_uri()
    );
    let (status, location, body) = get(&url);
    assert_eq!(status, 302, "{body}");
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    query_param(&location, "code").expect("a code")
}

fn exchange(emu: &Emulator, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", INSTALLED_CLIENT_ID),
        ("client_secret", INSTALLED_CLIENT_SECRET),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let (status, body) = post(&emu.token_uri(), &form);
    (status, json(&body))
}

fn auto() -> Emulator {
    Emulator::start(EmulatorConfig::default().auto_approve(true)).unwrap()
}

#[test]
fn pkce_s256_needs_the_right_verifier_and_the_code_is_single_use() {
    let emu = auto();
    let c = code(
        &emu,
        &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
    );
    let (status, body) = exchange(&emu, &c, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(body["error_description"], "Missing code verifier.");
    let wrong = "x".repeat(43);
    let (status, body) = exchange(&emu, &c, Some(&wrong));
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Invalid code verifier."))
    );
    let (status, body) = exchange(&emu, &c, Some(VERIFIER));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["id_token"].is_string());
    assert!(
        body.get("refresh_token").is_none(),
        "online access has no refresh token"
    );
    let (status, body) = exchange(&emu, &c, Some(VERIFIER));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn pkce_plain_and_redirect_uri_must_match() {
    let emu = auto();
    let c = code(
        &emu,
        &format!("&code_challenge={VERIFIER}&access_type=offline"),
    );
    let (status, body) = post(
        &emu.token_uri(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", "http://127.0.0.1:5555/other"),
            ("client_id", INSTALLED_CLIENT_ID),
            ("client_secret", INSTALLED_CLIENT_SECRET),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (400, Some("redirect_uri_mismatch"))
    );
    let (status, body) = exchange(&emu, &c, Some(VERIFIER));
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
}

#[test]
fn codes_expire() {
    let emu = auto();
    let c = code(&emu, "");
    emu.advance_clock(Duration::from_secs(601));
    let (status, body) = exchange(&emu, &c, None);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[test]
fn client_authentication_follows_google() {
    let emu = auto();
    let c = code(&emu, "");
    let (status, body) = post(
        &emu.token_uri(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &c),
            ("redirect_uri", REDIRECT),
            ("client_id", INSTALLED_CLIENT_ID),
        ],
    );
    assert_eq!(
        (status, json(&body)["error_description"].as_str()),
        (400, Some("client_secret is missing."))
    );
    let (status, body) = post(
        &emu.token_uri(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "nobody"),
            ("client_secret", "s"),
        ],
    );
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = post(&emu.token_uri(), &[("grant_type", "password")]);
    assert_eq!(
        (status, json(&body)["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[test]
fn rotation_retires_the_presented_refresh_token() {
    let emu = Emulator::start(
        EmulatorConfig::default()
            .auto_approve(true)
            .rotate_refresh_tokens(true),
    )
    .unwrap();
    let c = code(&emu, "&access_type=offline");
    let (_, body) = exchange(&emu, &c, None);
    let first = body["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: &str| {
        let (status, body) = post(
            &emu.token_uri(),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("client_id", INSTALLED_CLIENT_ID),
                ("client_secret", INSTALLED_CLIENT_SECRET),
            ],
        );
        (status, json(&body))
    };
    let (status, body) = refresh(&first);
    assert_eq!(status, 200);
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let (status, body) = refresh(&first);
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("Token has been expired or revoked."))
    );
    assert_eq!(refresh(&second).0, 200);
}

#[test]
fn installed_clients_may_not_use_oob_or_foreign_redirects() {
    let emu = auto();
    for redirect in ["urn:ietf:wg:oauth:2.0:oob", "https://example.com/cb"] {
        let (status, location, body) = get(&format!(
            "{}?client_id={INSTALLED_CLIENT_ID}&redirect_uri={redirect}&response_type=code&scope=email",
            emu.auth_uri()
        ));
        assert_eq!((status, location.as_str()), (400, ""), "{redirect}");
        assert!(body.contains("Error 400"), "{body}");
    }
    let (status, _, body) = get(&format!("{}?client_id=nobody", emu.auth_uri()));
    assert_eq!(status, 401);
    assert!(body.contains("invalid_client"));
}

fn device_code(emu: &Emulator) -> Value {
    let (status, body) = post(
        &emu.device_code_uri(),
        &[
            ("client_id", INSTALLED_CLIENT_ID),
            ("scope", "email openid"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    json(&body)
}

fn poll(emu: &Emulator, device_code: &str) -> (u16, Value) {
    let (status, body) = post(
        &emu.token_uri(),
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", INSTALLED_CLIENT_ID),
            ("client_secret", INSTALLED_CLIENT_SECRET),
        ],
    );
    (status, json(&body))
}

#[test]
fn device_flow_pending_slow_down_then_approved_on_the_page() {
    let emu = Emulator::start(EmulatorConfig::default().device_interval(5)).unwrap();
    let d = device_code(&emu);
    assert_eq!(d["interval"], 5);
    assert_eq!(d["verification_url"], format!("{}/device", emu.base_url()));
    let dc = d["device_code"].as_str().unwrap();
    let (status, body) = poll(&emu, dc);
    assert_eq!(
        (status, body["error"].as_str()),
        (428, Some("authorization_pending"))
    );
    let (status, body) = poll(&emu, dc);
    assert_eq!((status, body["error"].as_str()), (403, Some("slow_down")));
    // The user types the code (in lower case, with a space) and allows.
    let typed = d["user_code"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .replace('-', " ");
    let (status, page) = post(
        &format!("{}/device", emu.base_url()),
        &[("user_code", &typed)],
    );
    assert_eq!(status, 200);
    assert!(page.contains("id=\"allow\""), "{page}");
    let (status, _) = post(
        &format!("{}/device/approval", emu.base_url()),
        &[
            ("user_code", d["user_code"].as_str().unwrap()),
            ("decision", "allow"),
        ],
    );
    assert_eq!(status, 200);
    emu.advance_clock(Duration::from_secs(20));
    let (status, body) = poll(&emu, dc);
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string() && body["id_token"].is_string());
    emu.advance_clock(Duration::from_secs(20));
    assert_eq!(poll(&emu, dc).1["error"], "invalid_grant");
}

#[test]
fn device_flow_denied_and_expired() {
    let emu = Emulator::start(EmulatorConfig::default().device_interval(0)).unwrap();
    let d = device_code(&emu);
    assert!(emu.deny_device(d["user_code"].as_str().unwrap()));
    let (status, body) = poll(&emu, d["device_code"].as_str().unwrap());
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    let d = device_code(&emu);
    emu.advance_clock(Duration::from_secs(1801));
    let (status, body) = poll(&emu, d["device_code"].as_str().unwrap());
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("expired_token"))
    );
    assert!(!emu.approve_device(d["user_code"].as_str().unwrap()));
}

#[test]
fn access_tokens_expire_for_userinfo() {
    let emu = auto();
    let c = code(&emu, "");
    let (_, body) = exchange(&emu, &c, None);
    let token = body["access_token"].as_str().unwrap();
    let call = || {
        let mut r = agent()
            .get(format!("{}/oauth2/v2/userinfo", emu.base_url()))
            .header("Authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    };
    let (status, body) = call();
    assert_eq!(status, 200);
    assert_eq!(json(&body)["email"], "alice@example.com");
    emu.advance_clock(Duration::from_secs(3600));
    let (status, body) = call();
    assert_eq!(status, 401);
    assert_eq!(json(&body)["error"]["status"], "UNAUTHENTICATED");
}

#[test]
fn metadata_requires_the_flavor_header_and_echoes_it() {
    let emu = auto();
    let url = format!("{}/computeMetadata/v1/project/project-id", emu.base_url());
    let r = agent().get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let mut r = agent()
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("metadata-flavor").unwrap(), "Google");
    assert_eq!(r.body_mut().read_to_string().unwrap(), "gauth-emulator");
}

#[test]
fn junk_never_gets_a_server_error() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let junk: [&[u8]; 6] = [
        b"",
        b"%%%&&&===",
        b"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=a.b.c",
        b"grant_type=authorization_code&code=\xff\xfe",
        b"{\"title\": [1,2,3]}",
        &[0u8; 4096],
    ];
    let paths = [
        "/token",
        "/revoke",
        "/tokeninfo",
        "/device/code",
        "/device",
        "/device/approval",
        "/o/oauth2/approval",
        "/oauth2/v2/tokeninfo",
        "/v1/projects/-/serviceAccounts/x:generateAccessToken",
        "/tasks/v1/users/@me/lists",
        "/computeMetadata/v1/instance/service-accounts/default/identity",
        "/nowhere",
    ];
    for path in paths {
        for body in junk {
            let r = agent()
                .post(format!(
                    "{}{path}?scope=%ZZ&audience=&version=v9",
                    emu.base_url()
                ))
                .header("Authorization", "Bearer junk")
                .header("Metadata-Flavor", "Google")
                .send(body)
                .unwrap();
            assert!(r.status().as_u16() < 500, "{path}: {}", r.status());
        }
    }
    let big = vec![b'a'; 1024 * 1024];
    // The server answers 413 and may close before the client finished writing.
    if let Ok(r) = agent().post(emu.token_uri()).send(&big[..]) {
        assert_eq!(r.status().as_u16(), 413);
    }
    // And it still serves.
    assert_eq!(post(&emu.token_uri(), &[("grant_type", "x")]).0, 400);
}
