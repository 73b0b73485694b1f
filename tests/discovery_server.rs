//! discovery-client against a local server, both flavours: the document fetched and
//! cached, credentials applied, paging, retries with Google's error body kept, typed
//! responses, a resumable upload resumed after a failed chunk, a media download.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use discovery_client::{BuildOptions, CallOptions, Error, Media, UploadProtocol};
use gauth::{AuthorizedUser, Secret};
use serde_json::json;

#[derive(Default)]
struct World {
    flaky: AtomicUsize,
    discovery_fetches: AtomicUsize,
    unauthorized: AtomicUsize,
    received: Mutex<Vec<u8>>,
    chunk_failures: AtomicUsize,
}

type S = State<Arc<World>>;

fn doc() -> serde_json::Value {
    json!({
        "name": "demo", "version": "v1", "rootUrl": "https://demo.googleapis.com/", "servicePath": "demo/v1/",
        "schemas": {
            "List": {"properties": {"nextPageToken": {"type": "string"}, "items": {"type": "array"}}},
            "Item": {"properties": {"id": {"type": "string"}, "size": {"type": "integer"}}}
        },
        "resources": {
            "items": {"methods": {
                "list": {"id": "demo.items.list", "path": "items", "httpMethod": "GET",
                    "parameters": {"pageToken": {"type": "string", "location": "query"}},
                    "response": {"$ref": "List"}},
                "get": {"id": "demo.items.get", "path": "items/{id}", "httpMethod": "GET",
                    "parameters": {"id": {"type": "string", "location": "path", "required": true}},
                    "response": {"$ref": "Item"}, "supportsMediaDownload": true},
                "flaky": {"id": "demo.items.flaky", "path": "flaky", "httpMethod": "GET", "response": {"$ref": "Item"}},
                "insert": {"id": "demo.items.insert", "path": "items", "httpMethod": "POST",
                    "request": {"$ref": "Item"}, "response": {"$ref": "Item"},
                    "mediaUpload": {"accept": ["*/*"], "maxSize": "10MB",
                        "protocols": {"simple": {"multipart": true, "path": "/upload/demo/v1/items"},
                                      "resumable": {"multipart": true, "path": "/resumable/upload/demo/v1/items"}}}}
            }}
        }
    })
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

async fn discovery(State(w): S) -> impl IntoResponse {
    w.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(doc())
}

async fn list(State(w): S, h: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if !authorized(&w, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let page = match q.get("pageToken").map(String::as_str) {
        None => json!({"items": [{"id": "a"}, {"id": "b"}], "nextPageToken": "p 2"}),
        Some("p 2") => json!({"items": [{"id": "c"}], "nextPageToken": "p3"}),
        Some("p3") => json!({"items": [{"id": "d"}]}),
        Some(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    axum::Json(page).into_response()
}

async fn item(
    State(w): S,
    h: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&w, &h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if id == "missing" {
        let body = json!({"error": {"code": 404, "message": "Item missing not found.", "status": "NOT_FOUND",
            "errors": [{"reason": "notFound", "domain": "global"}],
            "details": [{"@type": "type.googleapis.com/google.rpc.ResourceInfo", "resourceName": "missing"}]}});
        return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
    }
    if q.get("alt").map(String::as_str) == Some("media") {
        return (StatusCode::OK, vec![0u8, 1, 2, 255]).into_response();
    }
    axum::Json(json!({"id": id, "size": 7})).into_response()
}

async fn flaky(State(w): S) -> Response {
    if w.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
        let body =
            json!({"error": {"code": 503, "message": "backend busy", "status": "UNAVAILABLE"}});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    axum::Json(json!({"id": "steady", "size": 1})).into_response()
}

async fn start_upload(
    State(w): S,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    if !authorized(&w, &h) || q.get("uploadType").map(String::as_str) != Some("resumable") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let meta: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    assert_eq!(meta["id"], "up");
    let host = h
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (
        StatusCode::OK,
        [("location", format!("http://{host}/session/1"))],
    )
        .into_response()
}

async fn session(State(w): S, h: HeaderMap, body: Bytes) -> Response {
    let range = h
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut got = w.received.lock().unwrap();
    let total: usize = range
        .rsplit('/')
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    if range.starts_with("bytes */") {
        // Status query: report what arrived.
        return (
            StatusCode::PERMANENT_REDIRECT,
            [("range", format!("bytes=0-{}", got.len() - 1))],
        )
            .into_response();
    }
    let start: usize = range
        .trim_start_matches("bytes ")
        .split('-')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    assert_eq!(start, got.len(), "chunks resume where the server stopped");
    // The second chunk: keep half of it, then fail, as a dropped connection would.
    if start > 0
        && w.chunk_failures
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        got.extend_from_slice(&body[..body.len() / 2]);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    got.extend_from_slice(&body);
    if got.len() == total {
        return axum::Json(json!({"id": "up", "size": total})).into_response();
    }
    (
        StatusCode::PERMANENT_REDIRECT,
        [("range", format!("bytes=0-{}", got.len() - 1))],
    )
        .into_response()
}

async fn serve(world: Arc<World>) -> String {
    let app = Router::new()
        .route("/token", post(token))
        .route("/discovery/demo/v1", get(discovery))
        .route("/demo/v1/items", get(list))
        .route("/demo/v1/items/{id}", get(item))
        .route("/demo/v1/flaky", get(flaky))
        .route("/upload/demo/v1/items", post(start_upload))
        .route("/session/1", any(session))
        .with_state(world);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn user(base: &str) -> AuthorizedUser {
    AuthorizedUser::new(
        "id",
        Some(Secret::new("s").into()),
        Some(Secret::new("r").into()),
        format!("{base}/token").parse::<url::Url>().unwrap(),
    )
}

fn options(base: &str, dir: &std::path::Path) -> BuildOptions {
    BuildOptions::default()
        .discovery_url(format!("{base}/discovery/{{api}}/{{apiVersion}}"))
        .root_url(format!("{base}/"))
        .cache_dir(dir)
        .call_options(
            CallOptions::default().retry(
                gauth::RetryPolicy::default()
                    .with_max_attempts(3)
                    .with_initial_delay(std::time::Duration::from_millis(5)),
            ),
        )
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Item {
    id: String,
    size: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_page_retry_upload_and_keep_error_bodies() {
    let world = Arc::new(World::default());
    let base = serve(Arc::clone(&world)).await;
    let dir = tempfile::tempdir().unwrap();
    let creds = gauth::Credentials::new(user(&base));
    let service = discovery_client::build_with(
        "demo",
        "v1",
        Some(creds.clone()),
        &options(&base, dir.path()),
    )
    .await
    .unwrap();

    // Typed response, credentials applied.
    let item: Item = service
        .method("items.get")
        .unwrap()
        .param("id", "x y")
        .execute_as()
        .await
        .unwrap();
    assert_eq!(
        item,
        Item {
            id: "x y".into(),
            size: 7
        }
    );

    // Paging: every page, every item.
    let items = service
        .method("items.list")
        .unwrap()
        .collect_items()
        .await
        .unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);

    // Retries: two 503s, then the answer.
    let v = service
        .method("items.flaky")
        .unwrap()
        .execute()
        .await
        .unwrap();
    assert_eq!(v["id"], "steady");
    assert_eq!(world.flaky.load(Ordering::SeqCst), 3);

    // Errors keep Google's body; a 404 is not retried.
    let e = service
        .method("items.get")
        .unwrap()
        .param("id", "missing")
        .execute()
        .await
        .unwrap_err();
    let api = e.api().expect("an API error");
    assert_eq!((api.status, api.code), (404, Some(404)));
    assert_eq!(api.status_name.as_deref(), Some("NOT_FOUND"));
    assert_eq!(api.reason(), Some("notFound"));
    assert_eq!(api.details[0]["resourceName"], "missing");
    assert!(!e.is_transient());

    // Media download.
    let bytes = service
        .method("items.get")
        .unwrap()
        .param("id", "m")
        .download()
        .execute_bytes()
        .await
        .unwrap();
    assert_eq!(bytes, [0, 1, 2, 255]);

    // A resumable upload whose second chunk fails halfway resumes from what arrived.
    let data: Vec<u8> = (0..700 * 1024).map(|i| (i % 251) as u8).collect();
    let up = service
        .method("items.insert")
        .unwrap()
        .body(json!({"id": "up"}))
        .media(Media::new(data.clone(), "application/octet-stream"))
        .upload_protocol(UploadProtocol::Resumable {
            chunk_size: 256 * 1024,
        })
        .execute()
        .await
        .unwrap();
    assert_eq!(up["size"], data.len());
    assert_eq!(*world.received.lock().unwrap(), data);
    assert_eq!(world.chunk_failures.load(Ordering::SeqCst), 1);

    // The document was fetched once; a second build is served by the cache.
    discovery_client::build_with("demo", "v1", Some(creds), &options(&base, dir.path()))
        .await
        .unwrap();
    assert_eq!(world.discovery_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(world.unauthorized.load(Ordering::SeqCst), 0);
}

#[test]
fn blocking_calls_match_the_async_ones() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let world = Arc::new(World::default());
    let base = rt.block_on(serve(Arc::clone(&world)));
    let dir = tempfile::tempdir().unwrap();
    let creds = gauth::blocking::Credentials::new(user(&base));
    // A fresh discovery URL per test keeps the process-wide memory cache out of the way.
    let o = options(&base, dir.path())
        .discovery_url(format!("{base}/discovery/{{api}}/{{apiVersion}}?blocking"));
    let service = discovery_client::blocking::build_with("demo", "v1", Some(creds), &o).unwrap();

    let item: Item = service
        .method("items.get")
        .unwrap()
        .param("id", "a/b")
        .execute_as()
        .unwrap();
    assert_eq!(item.id, "a/b");
    let pages: Vec<_> = service
        .method("items.list")
        .unwrap()
        .pages()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert_eq!(
        service.method("items.flaky").unwrap().execute().unwrap()["id"],
        "steady"
    );
    let e = service
        .method("items.get")
        .unwrap()
        .param("id", "missing")
        .execute()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Api(a) if a.message.as_deref() == Some("Item missing not found.")),
        "{e}"
    );
    // Invalid calls fail before anything is sent.
    let e = service.method("items.get").unwrap().execute().unwrap_err();
    assert_eq!(e.parameter(), Some("id"));
    // No retries when asked for none: the 503 comes back with its body.
    world.flaky.store(0, Ordering::SeqCst);
    let e = service
        .method("items.flaky")
        .unwrap()
        .options(CallOptions::default())
        .execute()
        .unwrap_err();
    assert_eq!(
        e.api().and_then(|a| a.message.as_deref()),
        Some("backend busy")
    );
    assert!(e.is_transient());
    assert_eq!(world.unauthorized.load(Ordering::SeqCst), 0);
}
