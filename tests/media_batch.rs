//! Batch completeness (issue 17, point 5), both flavours, against a local batch server:
//! parts answered 401 cause one refresh of the credentials and a resend of those parts
//! only, and every call's result comes back in the order the calls were added; the
//! 1,000-call limit is a typed error before anything is sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use discovery_client::Api;
use gauth_tests::LocalServer;
use oauth_core::types::RefreshToken;
use oauth_core::{AuthorizedUser, Token};
use serde_json::json;

#[derive(Default)]
struct World {
    /// Each batch's parts: (path, Authorization).
    batches: Mutex<Vec<Vec<(String, String)>>>,
    refreshes: Mutex<u32>,
}

type S = State<Arc<World>>;

async fn token(State(w): S) -> Response {
    *w.refreshes.lock().unwrap() += 1;
    axum::Json(json!({"access_token": "ya29.new", "expires_in": 3600, "token_type": "Bearer"}))
        .into_response()
}

/// Items `b` and `d` refuse the old token; everything else is answered with its id.
async fn batch(State(w): S, h: HeaderMap, body: Bytes) -> Response {
    let ct = h["content-type"].to_str().unwrap();
    let boundary = ct
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut seen = Vec::new();
    let mut answers = String::new();
    for part in text.split(&format!("--{boundary}\r\n")).skip(1) {
        let (head, request) = part.split_once("\r\n\r\n").unwrap();
        let cid = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-ID: "))
            .unwrap();
        let path = request.lines().next().unwrap().split(' ').nth(1).unwrap();
        let id = path
            .trim_start_matches("/demo/v1/items/")
            .split('?')
            .next()
            .unwrap();
        let auth = request
            .lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .unwrap_or("")
            .to_owned();
        let (status, body) = if auth != "Bearer ya29.new" && (id == "b" || id == "d") {
            (
                "401 Unauthorized",
                json!({"error": {"code": 401, "message": "expired"}}),
            )
        } else {
            ("200 OK", json!({"id": id}))
        };
        let rid = cid.replacen('<', "<response-", 1);
        answers.push_str(&format!(
            "--batch_xyz\r\nContent-Type: application/http\r\nContent-ID: {rid}\r\n\r\n\
             HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
        ));
        seen.push((id.to_owned(), auth));
    }
    w.batches.lock().unwrap().push(seen);
    answers.push_str("--batch_xyz--\r\n");
    (
        StatusCode::OK,
        [("content-type", "multipart/mixed; boundary=batch_xyz")],
        answers,
    )
        .into_response()
}

fn api(base: &str) -> Api {
    let doc = json!({
        "name": "demo", "version": "v1", "rootUrl": format!("{base}/"), "servicePath": "demo/v1/",
        "batchPath": "batch/demo/v1",
        "resources": {"items": {"methods": {
            "get": {"id": "demo.items.get", "path": "items/{id}", "httpMethod": "GET",
                "parameters": {"id": {"type": "string", "location": "path", "required": true}},
                "response": {"$ref": "Item"}}
        }}}
    });
    Api::from_document(doc.to_string().as_bytes()).unwrap()
}

fn user(base: &str) -> AuthorizedUser {
    AuthorizedUser::new(
        "client",
        None,
        Some(RefreshToken::new("1//r")),
        format!("{base}/token").parse::<url::Url>().unwrap(),
    )
    .with_token(Token::bearer(
        "ya29.old",
        Some(SystemTime::now() + Duration::from_secs(3600)),
    ))
}

const IDS: [&str; 5] = ["a", "b", "c", "d", "e"];

fn check(w: &World, results: &[(String, Result<String, u16>)]) {
    let got: Vec<&str> = results
        .iter()
        .map(|(_, r)| r.as_deref().unwrap_or("error"))
        .collect();
    assert_eq!(got, IDS, "every call answered, in the order added");
    assert_eq!(*w.refreshes.lock().unwrap(), 1, "one refresh");
    let batches = w.batches.lock().unwrap();
    assert_eq!(batches.len(), 2);
    let resent: Vec<&str> = batches[1].iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(resent, ["b", "d"], "only the refused calls are sent again");
    assert!(batches[1].iter().all(|(_, a)| a == "Bearer ya29.new"));
}

fn outcome(r: discovery_client::batch::BatchResult) -> (String, Result<String, u16>) {
    let v = r
        .result
        .map(|a| a.json()["id"].as_str().unwrap_or("").to_owned());
    (
        r.id,
        v.map_err(|e| match e {
            discovery_client::Error::Api(a) => a.status,
            _ => 0,
        }),
    )
}

fn server() -> (Arc<World>, LocalServer) {
    let w = Arc::new(World::default());
    let app = Router::new()
        .route("/token", post(token))
        .route("/batch/demo/v1", post(batch))
        .with_state(Arc::clone(&w));
    (w, LocalServer::start(app))
}

#[test]
fn parts_answered_401_are_sent_again_once_after_one_refresh_blocking() {
    let (w, srv) = server();
    let base = srv.url("");
    let creds = oauth_core::blocking::Credentials::new(user(&base));
    let service = discovery_client::blocking::Service::new(api(&base), Some(creds));
    let mut batch = service.new_batch_http_request();
    for id in IDS {
        batch
            .add(service.method("items.get").unwrap().param("id", id))
            .unwrap();
    }
    let results: Vec<_> = batch.execute().unwrap().into_iter().map(outcome).collect();
    check(&w, &results);
}

#[test]
fn parts_answered_401_are_sent_again_once_after_one_refresh_async() {
    let (w, srv) = server();
    let base = srv.url("");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = rt.block_on(async {
        let creds = oauth_core::Credentials::new(user(&base));
        let service = discovery_client::Service::new(api(&base), Some(creds));
        let mut batch = service.new_batch_http_request();
        for id in IDS {
            batch
                .add(service.method("items.get").unwrap().param("id", id))
                .unwrap();
        }
        batch.execute().await.unwrap()
    });
    let results: Vec<_> = results.into_iter().map(outcome).collect();
    check(&w, &results);
}

#[test]
fn the_thousand_and_first_call_is_a_typed_error_before_anything_is_sent() {
    let (w, srv) = server();
    let base = srv.url("");
    let service = discovery_client::blocking::Service::new(api(&base), None);
    let mut batch = service.new_batch_http_request();
    for _ in 0..discovery_client::batch::MAX_BATCH_SIZE {
        batch
            .add(service.method("items.get").unwrap().param("id", "a"))
            .unwrap();
    }
    let e = batch
        .add(service.method("items.get").unwrap().param("id", "a"))
        .unwrap_err();
    assert!(
        matches!(e, discovery_client::Error::InvalidBatch { .. }),
        "{e}"
    );
    assert!(w.batches.lock().unwrap().is_empty());
}
