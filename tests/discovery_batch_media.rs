//! discovery-client's batch requests, streamed downloads and page stream against a local
//! server, both flavours: a batch answered out of order with a Google error in one part
//! and the credentials checked on the outer request and in every part; a media file of
//! several chunks arriving intact through Range requests, with a chunk that breaks off
//! mid-way retried, a resumed download, and a server that ignores Range; the async pager
//! polled as a `futures_core::Stream`.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use discovery_client::download::DownloadOptions;
use discovery_client::{Api, CallOptions};
use gauth::{AuthorizedUser, Secret};
use serde_json::json;

/// The media: several chunks of 64 KiB and a short tail.
const MEDIA_LEN: usize = 5 * 65536 + 1234;
const CHUNK: usize = 65536;

#[derive(Default)]
struct World {
    media: Vec<u8>,
    /// Range headers seen, per media id.
    ranges: Mutex<Vec<(String, String)>>,
    broken_chunks: AtomicUsize,
    unauthorized: AtomicUsize,
    batches: AtomicUsize,
    /// Parts of the last batch: (Content-ID, request line, part Authorization).
    parts: Mutex<Vec<(String, String, String)>>,
}

type S = State<Arc<World>>;

fn doc(base: &str) -> Vec<u8> {
    json!({
        "name": "demo", "version": "v1", "rootUrl": format!("{base}/"), "servicePath": "demo/v1/",
        "batchPath": "batch/demo/v1",
        "schemas": {"List": {"properties": {"nextPageToken": {"type": "string"}, "items": {"type": "array"}}}},
        "resources": {"items": {"methods": {
            "list": {"id": "demo.items.list", "path": "items", "httpMethod": "GET",
                "parameters": {"pageToken": {"type": "string", "location": "query"}},
                "response": {"$ref": "List"}},
            "get": {"id": "demo.items.get", "path": "items/{id}", "httpMethod": "GET",
                "parameters": {"id": {"type": "string", "location": "path", "required": true}},
                "response": {"$ref": "Item"}, "supportsMediaDownload": true},
            "insert": {"id": "demo.items.insert", "path": "items", "httpMethod": "POST",
                "request": {"$ref": "Item"}, "response": {"$ref": "Item"}}
        }}}
    })
    .to_string()
    .into_bytes()
}

fn authorized(w: &World, h: &HeaderMap) -> bool {
    let ok = h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer tok-1");
    if !ok {
        w.unauthorized.fetch_add(1, Ordering::SeqCst);
    }
    ok
}

async fn token() -> impl IntoResponse {
    axum::Json(json!({"access_token": "tok-1", "expires_in": 3600, "token_type": "Bearer"}))
}

async fn list(State(w): S, h: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if !authorized(&w, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let page = match q.get("pageToken").map(String::as_str) {
        None => json!({"items": [{"id": "a"}], "nextPageToken": "p2"}),
        Some("p2") => json!({"items": [{"id": "b"}, {"id": "c"}], "nextPageToken": "p3"}),
        Some("p3") => json!({"items": [{"id": "d"}]}),
        Some(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    axum::Json(page).into_response()
}

/// A body that sends `first`, then breaks off, as a dropped connection does.
struct BreaksOff(Option<Bytes>);

impl futures_core::Stream for BreaksOff {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(Some(match self.0.take() {
            Some(b) => Ok(b),
            None => Err(std::io::Error::other("connection lost")),
        }))
    }
}

async fn media(
    State(w): S,
    h: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&w, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if q.get("alt").map(String::as_str) != Some("media") {
        return axum::Json(json!({"id": id})).into_response();
    }
    let range = h
        .get("range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    w.ranges.lock().unwrap().push((id.clone(), range.clone()));
    if id == "norange" {
        return (StatusCode::OK, w.media.clone()).into_response();
    }
    if id == "empty" {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [("content-range", "bytes */0")],
        )
            .into_response();
    }
    let (a, b) = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
        .expect("a Range header");
    let b = b.min(w.media.len() - 1);
    let slice = Bytes::copy_from_slice(&w.media[a..=b]);
    let content_range = format!("bytes {a}-{b}/{}", w.media.len());
    // The third chunk breaks off halfway through, once.
    if id == "flaky"
        && a == 2 * CHUNK
        && w.broken_chunks
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        let half = slice.slice(..slice.len() / 2);
        return (
            StatusCode::PARTIAL_CONTENT,
            [("content-range", content_range)],
            Body::from_stream(BreaksOff(Some(half))),
        )
            .into_response();
    }
    (
        StatusCode::PARTIAL_CONTENT,
        [("content-range", content_range)],
        slice,
    )
        .into_response()
}

/// Google's batch endpoint, in small: each part's request answered as its own call would
/// be, the parts answered in reverse order.
async fn batch(State(w): S, h: HeaderMap, body: Bytes) -> Response {
    w.batches.fetch_add(1, Ordering::SeqCst);
    if !authorized(&w, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let ct = h["content-type"].to_str().unwrap();
    let boundary = ct
        .split("boundary=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    let mut parts = Vec::new();
    let mut answers = Vec::new();
    for part in text.split(&format!("--{boundary}\r\n")).skip(1) {
        let (head, request) = part.split_once("\r\n\r\n").unwrap();
        let cid = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-ID: "))
            .unwrap()
            .to_owned();
        assert!(head.contains("Content-Transfer-Encoding: binary"));
        let request_line = request.lines().next().unwrap().to_owned();
        let auth = request
            .lines()
            .find_map(|l| l.strip_prefix("authorization: "))
            .unwrap_or("")
            .to_owned();
        let path = request_line.split(' ').nth(1).unwrap();
        let id = path
            .trim_start_matches("/demo/v1/items")
            .trim_start_matches('/')
            .split('?')
            .next()
            .unwrap();
        let (status, json) = if auth != "Bearer tok-1" {
            (
                "401 Unauthorized",
                json!({"error": {"code": 401, "message": "no"}}),
            )
        } else if request_line.starts_with("POST") {
            let payload = request.split("\r\n\r\n").nth(1).unwrap_or("").trim_end();
            let v: serde_json::Value = serde_json::from_str(payload).unwrap();
            ("200 OK", json!({"id": v["id"], "created": true}))
        } else if id == "missing" {
            (
                "404 Not Found",
                json!({"error": {"code": 404, "message": "Item missing not found.", "status": "NOT_FOUND"}}),
            )
        } else {
            ("200 OK", json!({"id": id}))
        };
        let response_id = cid.replacen('<', "<response-", 1);
        answers.push(format!(
            "--batch_xyz\r\nContent-Type: application/http\r\nContent-ID: {response_id}\r\n\r\n\
             HTTP/1.1 {status}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{json}\r\n"
        ));
        parts.push((cid, request_line, auth));
    }
    *w.parts.lock().unwrap() = parts;
    answers.reverse();
    let body = format!("{}--batch_xyz--\r\n", answers.concat());
    (
        StatusCode::OK,
        [("content-type", "multipart/mixed; boundary=batch_xyz")],
        body,
    )
        .into_response()
}

async fn serve(world: Arc<World>) -> String {
    let app = Router::new()
        .route("/token", post(token))
        .route("/demo/v1/items", get(list))
        .route("/demo/v1/items/{id}", get(media))
        .route("/batch/demo/v1", post(batch))
        .with_state(world);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn world() -> Arc<World> {
    Arc::new(World {
        media: (0..MEDIA_LEN).map(|i| (i * 7 % 251) as u8).collect(),
        ..World::default()
    })
}

fn user(base: &str) -> AuthorizedUser {
    AuthorizedUser::new(
        "id",
        Some(Secret::new("s").into()),
        Some(Secret::new("r").into()),
        format!("{base}/token").parse::<url::Url>().unwrap(),
    )
}

fn retrying() -> CallOptions {
    CallOptions::default().retry(
        gauth::RetryPolicy::default()
            .with_max_attempts(3)
            .with_initial_delay(std::time::Duration::from_millis(5)),
    )
}

fn ranges_of(w: &World, id: &str) -> Vec<String> {
    w.ranges
        .lock()
        .unwrap()
        .iter()
        .filter(|(i, _)| i == id)
        .map(|(_, r)| r.clone())
        .collect()
}

/// What both flavours' batches must show.
fn check_batch(w: &World, results: &[discovery_client::batch::BatchResult]) {
    let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1", "mine +/", "2"]);
    // The small server echoes the path segment as it arrived.
    assert_eq!(results[0].result.as_ref().unwrap().json()["id"], "a%20b");
    let created = results[1].result.as_ref().unwrap().json();
    assert_eq!(
        (created["id"].as_str(), created["created"].as_bool()),
        (Some("new"), Some(true))
    );
    let e = results[2].result.as_ref().unwrap_err();
    let api = e.api().expect("Google's error");
    assert_eq!(
        (api.status, api.message.as_deref()),
        (404, Some("Item missing not found."))
    );
    let parts = w.parts.lock().unwrap();
    assert_eq!(parts.len(), 3);
    assert!(
        parts.iter().all(|(_, _, auth)| auth == "Bearer tok-1"),
        "every part carries the token"
    );
    assert!(parts[0].0.ends_with(" + 1>"), "{}", parts[0].0);
    assert!(parts[1].0.ends_with(" + mine%20%2B/>"), "{}", parts[1].0);
    assert_eq!(parts[0].1, "GET /demo/v1/items/a%20b?alt=json HTTP/1.1");
    assert_eq!(parts[1].1, "POST /demo/v1/items?alt=json HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_batches_downloads_and_page_streams() {
    let w = world();
    let base = serve(Arc::clone(&w)).await;
    let api = Api::from_document(&doc(&base)).unwrap();
    let service = discovery_client::Service::new(api, Some(gauth::Credentials::new(user(&base))))
        .with_call_options(retrying());

    // Batch: three calls, one answer each, in the order they were added.
    let mut b = service.new_batch_http_request();
    b.add(service.method("items.get").unwrap().param("id", "a b"))
        .unwrap();
    b.add_with_id(
        service
            .method("items.insert")
            .unwrap()
            .body(json!({"id": "new"})),
        "mine +/",
    )
    .unwrap();
    b.add(service.method("items.get").unwrap().param("id", "missing"))
        .unwrap();
    let results = b.execute().await.unwrap();
    check_batch(&w, &results);
    // An empty batch sends nothing.
    assert!(
        service
            .new_batch_http_request()
            .execute()
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(w.batches.load(Ordering::SeqCst), 1);

    // A download of six chunks, the third breaking off mid-way once.
    let mut out: Vec<u8> = Vec::new();
    let n = service
        .method("items.get")
        .unwrap()
        .param("id", "flaky")
        .download_to(&mut out, DownloadOptions::default().chunk_size(CHUNK))
        .await
        .unwrap();
    assert_eq!(n as usize, MEDIA_LEN);
    assert!(out == w.media, "the media arrives intact");
    assert_eq!(w.broken_chunks.load(Ordering::SeqCst), 1);
    let r = ranges_of(&w, "flaky");
    assert_eq!(r.len(), 7, "six chunks and one retry: {r:?}");
    assert_eq!(r[2], r[3], "the broken chunk is asked for again");
    assert_eq!(r[0], format!("bytes=0-{}", CHUNK - 1));

    // Resume after bytes already written, chunk by chunk into a callback.
    let have = 100_000;
    let mut rest = Vec::new();
    let n = service
        .method("items.get")
        .unwrap()
        .param("id", "resumed")
        .download_each(
            DownloadOptions::default()
                .chunk_size(CHUNK)
                .resume_from(have as u64),
            |chunk| {
                rest.extend_from_slice(chunk);
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(n as usize, MEDIA_LEN);
    assert!(rest == w.media[have..]);
    assert_eq!(
        ranges_of(&w, "resumed")[0],
        format!("bytes={have}-{}", have + CHUNK - 1)
    );

    // A server that ignores Range: the whole media in one answer, nothing written twice.
    let mut out = Vec::new();
    service
        .method("items.get")
        .unwrap()
        .param("id", "norange")
        .download_to(
            &mut out,
            DownloadOptions::default().chunk_size(CHUNK).resume_from(10),
        )
        .await
        .unwrap();
    assert!(out == w.media[10..]);
    assert_eq!(ranges_of(&w, "norange").len(), 1);
    // An empty media.
    let mut out = Vec::new();
    let n = service
        .method("items.get")
        .unwrap()
        .param("id", "empty")
        .download_to(&mut out, DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!((n, out.len()), (0, 0));

    // The pager as a Stream: every page, then the end.
    let mut pager = service.method("items.list").unwrap().pages().unwrap();
    let mut pages = Vec::new();
    while let Some(page) =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut pager), cx)).await
    {
        pages.push(page.unwrap());
    }
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    assert!(
        pager.next_page().await.is_none(),
        "the stream stays finished"
    );
    // next_page and the stream share one state: mixing them pages on.
    let mut pager = service.method("items.list").unwrap().pages().unwrap();
    assert_eq!(
        pager.next_page().await.unwrap().unwrap()["nextPageToken"],
        "p2"
    );
    let second =
        std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut pager), cx))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(second["nextPageToken"], "p3");
    assert_eq!(w.unauthorized.load(Ordering::SeqCst), 0);
}

#[test]
fn blocking_batches_and_downloads_match_the_async_ones() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let w = world();
    let base = rt.block_on(serve(Arc::clone(&w)));
    let api = Api::from_document(&doc(&base)).unwrap();
    let service = discovery_client::blocking::Service::new(
        api,
        Some(gauth::blocking::Credentials::new(user(&base))),
    )
    .with_call_options(retrying());

    let mut b = service.new_batch_http_request();
    b.add(service.method("items.get").unwrap().param("id", "a b"))
        .unwrap();
    b.add_with_id(
        service
            .method("items.insert")
            .unwrap()
            .body(json!({"id": "new"})),
        "mine +/",
    )
    .unwrap();
    b.add(service.method("items.get").unwrap().param("id", "missing"))
        .unwrap();
    check_batch(&w, &b.execute().unwrap());

    let mut out = Vec::new();
    let n = service
        .method("items.get")
        .unwrap()
        .param("id", "flaky")
        .download_to(&mut out, DownloadOptions::default().chunk_size(CHUNK))
        .unwrap();
    assert_eq!(n as usize, MEDIA_LEN);
    assert!(out == w.media, "the media arrives intact");
    assert_eq!(w.broken_chunks.load(Ordering::SeqCst), 1);
    assert_eq!(ranges_of(&w, "flaky").len(), 7);

    let mut out = Vec::new();
    service
        .method("items.get")
        .unwrap()
        .param("id", "norange")
        .download_to(&mut out, DownloadOptions::default().chunk_size(CHUNK))
        .unwrap();
    assert!(out == w.media);

    // Without retries, the broken chunk is the download's error.
    w.broken_chunks.store(0, Ordering::SeqCst);
    let e = service
        .method("items.get")
        .unwrap()
        .param("id", "flaky")
        .download_to(
            &mut Vec::new(),
            DownloadOptions::default()
                .chunk_size(CHUNK)
                .call_options(CallOptions::default()),
        )
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(w.unauthorized.load(Ordering::SeqCst), 0);
}
