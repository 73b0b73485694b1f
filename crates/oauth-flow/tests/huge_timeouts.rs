//! A program may pass any `Duration` as a wait: `Duration::MAX` is clamped, never added to
//! an `Instant` whole (which panics).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use oauth_core::ClientSecrets;
use oauth_flow::blocking::InstalledAppFlow;
use oauth_flow::{FlowError, LocalServerOptions};

fn secrets() -> ClientSecrets {
    ClientSecrets::from_json(
        br#"{"installed": {"client_id": "id", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "http://127.0.0.1:1/token"}}"#,
        "cs.json",
    )
    .unwrap()
}

/// Plays the browser: follows the authorization URL's redirect with a refusal.
fn refuse(url: &url::Url) {
    let redirect = url
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let target: url::Url = redirect.parse().unwrap();
    let addr = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap());
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = write!(
            s,
            "GET /?error=access_denied&state={state} HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let _ = s.read_to_end(&mut Vec::new());
    });
}

#[test]
fn a_local_server_told_to_wait_for_ever_waits_for_the_redirect_without_overflowing() {
    let mut flow = InstalledAppFlow::from_client_secrets(secrets(), ["openid"]);
    let options = LocalServerOptions::default()
        .open_browser(false)
        .timeout(Duration::MAX)
        .on_url(refuse);
    let e = flow.run_local_server(options).unwrap_err();
    assert!(
        matches!(e, FlowError::Authorization(ref a) if a.is_access_denied()),
        "{e}"
    );
}

#[tokio::test]
async fn the_async_local_server_too() {
    let mut flow = oauth_flow::InstalledAppFlow::from_client_secrets(secrets(), ["openid"]);
    let options = LocalServerOptions::default()
        .open_browser(false)
        .timeout(Duration::MAX)
        .on_url(refuse);
    let e = flow.run_local_server(options).await.unwrap_err();
    assert!(
        matches!(e, FlowError::Authorization(ref a) if a.is_access_denied()),
        "{e}"
    );
}
