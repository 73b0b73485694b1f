//! The two transports behave alike: bounded bodies, no redirects followed, timeouts, a
//! User-Agent naming gauth, and errors that carry no URL query.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use gauth::http::{HttpRequest, ResponseLimit};
use gauth::transport::{AsyncHttpClient, HttpClient, ReqwestClient, USER_AGENT, UreqClient};
use gauth::{TransportError, TransportErrorKind};
use gauth_tests::LocalServer;

fn server() -> LocalServer {
    LocalServer::start(
        Router::new()
            .route("/big", get(|| async { vec![b'x'; 2 << 20] }))
            .route(
                "/redirect",
                get(|| async {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, "http://127.0.0.1:1/stolen")],
                    )
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            )
            .route(
                "/ua",
                get(|h: HeaderMap| async move {
                    h.get(header::USER_AGENT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                        .into_response()
                }),
            ),
    )
}

fn request(url: &str, limit: Option<usize>) -> HttpRequest {
    let mut r = gauth::http::get(&url.parse().unwrap());
    if let Some(l) = limit {
        r.extensions_mut().insert(ResponseLimit(l));
    }
    r
}

fn blocking(url: &str, limit: Option<usize>) -> Result<gauth::http::HttpResponse, TransportError> {
    UreqClient::with_timeouts(Duration::from_secs(2), Duration::from_secs(1))
        .execute(request(url, limit))
}

async fn asynchronous(
    url: &str,
    limit: Option<usize>,
) -> Result<gauth::http::HttpResponse, TransportError> {
    ReqwestClient::with_timeouts(Duration::from_secs(2), Duration::from_secs(1))
        .execute(request(url, limit))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_fail_as_too_large_in_both_flavours() {
    let s = server();
    let url = s.url("/big");
    let b = tokio::task::spawn_blocking({
        let url = url.clone();
        move || blocking(&url, None)
    })
    .await
    .unwrap();
    assert_eq!(b.unwrap_err().kind, TransportErrorKind::TooLarge);
    assert_eq!(
        asynchronous(&url, None).await.unwrap_err().kind,
        TransportErrorKind::TooLarge
    );
    // A larger bound per request lets it through.
    let ok = asynchronous(&url, Some(4 << 20)).await.unwrap();
    assert_eq!(ok.body().len(), 2 << 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_returned_not_followed() {
    let s = server();
    let url = s.url("/redirect");
    let b = tokio::task::spawn_blocking({
        let url = url.clone();
        move || blocking(&url, None)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(b.status(), 302);
    let a = asynchronous(&url, None).await.unwrap();
    assert_eq!(a.status(), 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_servers_time_out_without_leaking_the_query() {
    let s = server();
    let url = s.url("/slow?access_token=ya29.secret");
    let b = tokio::task::spawn_blocking({
        let url = url.clone();
        move || blocking(&url, None)
    })
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(b.kind, TransportErrorKind::Timeout, "{b}");
    let a = asynchronous(&url, None).await.unwrap_err();
    assert_eq!(a.kind, TransportErrorKind::Timeout, "{a}");
    for e in [b, a] {
        assert!(!e.to_string().contains("ya29"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_flavours_name_gauth_in_the_user_agent() {
    let s = server();
    let url = s.url("/ua");
    let b = tokio::task::spawn_blocking({
        let url = url.clone();
        move || blocking(&url, None)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(b.body(), USER_AGENT.as_bytes());
    let a = asynchronous(&url, None).await.unwrap();
    assert_eq!(a.body(), USER_AGENT.as_bytes());
    assert!(USER_AGENT.starts_with("gauth/"));
}

#[tokio::test]
async fn refused_connections_are_transient_connect_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", listener.local_addr().unwrap());
    drop(listener);
    let a = asynchronous(&url, None).await.unwrap_err();
    assert_eq!(a.kind, TransportErrorKind::Connect, "{a}");
    let b = tokio::task::spawn_blocking(move || blocking(&url, None))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(b.kind, TransportErrorKind::Connect, "{b}");
}
