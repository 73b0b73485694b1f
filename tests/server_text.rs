//! Issue 12, classes 3 and 5, through the library in both flavours: a hostile server that
//! echoes the request (client secret, refresh token, JWT assertion) with terminal escapes
//! in every text field it controls, and one that sends absurd lifetimes. Errors' `Display`
//! and `Debug` show no secret and no control character; lifetimes are clamped.

use std::sync::Arc;

use gauth::clock::max_time;
use gauth::sanitize::is_unsafe_char;
use gauth::transport::{ReqwestClient, UreqClient};
use gauth::{AuthorizedUser, Error, MetadataCredentials, RetryPolicy, ServiceAccountCredentials};
use gauth_tests::hostile::{Hostile, Recorded, Reply};
use serde_json::json;

const CLIENT_SECRET: &str = "GOCSPX-library-hostile-value";
const REFRESH_TOKEN: &str = "1//0library-hostile-refresh";

fn echo(r: &Recorded) -> String {
    let form: Vec<String> = r
        .form()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "\x1b[2J\x1b]0;pwned\x07\r\nforged\u{202e} {} | {}",
        r.body_text(),
        form.join("\n")
    )
}

fn echoing_server() -> Hostile {
    Hostile::start(|r| {
        Reply::json(
            400,
            json!({"error": "invalid_grant", "error_description": echo(r),
                   "error_uri": format!("https://x/{}", r.body_text())})
            .to_string(),
        )
    })
}

fn user(token_uri: &str) -> AuthorizedUser {
    let v = json!({"type": "authorized_user", "client_id": "c.apps.googleusercontent.com",
                   "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
                   "token_uri": token_uri});
    AuthorizedUser::from_json(v.to_string().as_bytes(), "user.json").unwrap()
}

fn assert_clean(what: &str, e: &Error, secrets: &[&str]) {
    for shown in [e.to_string(), format!("{e:?}")] {
        for s in secrets {
            assert!(!shown.contains(s), "{what}: shows {s}: {shown}");
        }
        assert!(!shown.chars().any(is_unsafe_char), "{what}: {shown:?}");
    }
}

#[test]
fn blocking_errors_from_an_echoing_token_endpoint_are_clean() {
    let server = echoing_server();
    let creds = gauth::blocking::Credentials::builder(user(&server.url("/token")))
        .http_client(Arc::new(UreqClient::new()))
        .retry(RetryPolicy::none())
        .build();
    let e = creds.token().unwrap_err();
    assert!(server.saw_any(&[CLIENT_SECRET]));
    assert_clean("user", &e, &[CLIENT_SECRET, REFRESH_TOKEN]);
    assert_eq!(e.oauth().unwrap().error, "invalid_grant");
}

#[tokio::test]
async fn async_errors_from_an_echoing_token_endpoint_are_clean() {
    let server = echoing_server();
    let creds = gauth::Credentials::builder(user(&server.url("/token")))
        .http_client(Arc::new(ReqwestClient::new()))
        .retry(RetryPolicy::none())
        .build();
    let e = creds.token().await.unwrap_err();
    assert_clean("user async", &e, &[CLIENT_SECRET, REFRESH_TOKEN]);
}

#[test]
fn echoed_assertions_are_redacted() {
    let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    let server = echoing_server();
    let mut key = emu.service_account_key();
    key["token_uri"] = server.url("/token").into();
    let sa = ServiceAccountCredentials::from_value_with(&key, "sa.json", &Default::default())
        .unwrap()
        .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
    let creds = gauth::blocking::Credentials::builder(sa)
        .retry(RetryPolicy::none())
        .build();
    let e = creds.token().unwrap_err();
    let assertion = server
        .requests()
        .iter()
        .flat_map(|r| r.form())
        .find(|(k, _)| k == "assertion")
        .map(|(_, v)| v)
        .unwrap();
    // The assertion is gone from memory by now: it was redacted when the error was built.
    assert_clean("sa", &e, &[&assertion]);
}

#[test]
fn absurd_lifetimes_from_token_and_metadata_servers_are_clamped() {
    for expires_in in ["18446744073709551615", "1e300", "\"18446744073709551616\""] {
        let body = format!(r#"{{"access_token":"ya29.long","expires_in":{expires_in}}}"#);
        let server = Hostile::start(move |r| {
            if r.path == "/" {
                Reply::status(200).header("metadata-flavor", "Google")
            } else {
                Reply::json(200, body.clone()).header("metadata-flavor", "Google")
            }
        });
        let creds = gauth::blocking::Credentials::new(user(&server.url("/token")));
        assert_eq!(creds.token_details().unwrap().expiry, Some(max_time()));
        let creds =
            gauth::blocking::Credentials::new(MetadataCredentials::with_host(&server.authority()));
        assert_eq!(creds.token_details().unwrap().expiry, Some(max_time()));
    }
}
