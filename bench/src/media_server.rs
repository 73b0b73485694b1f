//! Case 8's lean server: Google's upload and download protocols over the expected bytes,
//! held in memory, so that the clients measured are the bottleneck rather than the server.
//! It checks every byte uploaded against the content (exact comparison, no hashing) and
//! serves downloads as slices of it; no disk, no SHA-256, no tokens checked.
//!
//! - `POST .../upload/drive/v3/files?uploadType=resumable`: a session (`Location`).
//! - `PUT` to the session: `Content-Range: bytes A-B/TOTAL|*`, `bytes */TOTAL|*` or none
//!   (the whole content); 308 with `Range`, then 200 with the file (`sha256Checksum` is the
//!   content's when every byte matched, `"mismatch"` otherwise).
//! - `POST ...?uploadType=media`: the whole content in one request.
//! - `GET /drive/v3/files/{id}?alt=media` with `Range` (206, 416).
//! - `GET /discovery/v1/apis/drive/v3/rest`: the emulator's Drive document, pointed here.
//!
//! The emulator (`--media-server emulator`) runs the same protocols with the content on disk
//! and SHA-256 computed as it arrives, which costs the server a core on a small machine.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

struct Session {
    committed: u64,
    total: Option<u64>,
    matched: bool,
}

struct Lean {
    content: Bytes,
    sha256: String,
    base: String,
    doc: String,
    sessions: Mutex<HashMap<u64, Session>>,
    next: Mutex<u64>,
    /// The last upload completed: (bytes, every byte as expected).
    last: Mutex<Option<(u64, bool)>>,
}

/// A running lean server; it stops with the process (the bench is short-lived).
pub struct LeanServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<Lean>,
}

impl LeanServer {
    /// Serves `content` (whose SHA-256 is `sha256`), with `drive_doc` (the emulator's Drive
    /// discovery document) pointed at itself.
    pub fn start(content: Bytes, sha256: String, drive_doc: &str) -> Result<LeanServer, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
        let base = format!("http://{addr}");
        let mut doc: serde_json::Value =
            serde_json::from_str(drive_doc).map_err(|e| format!("drive document: {e}"))?;
        let service = doc["servicePath"].as_str().unwrap_or("").to_owned();
        doc["rootUrl"] = format!("{base}/").into();
        doc["baseUrl"] = format!("{base}/{service}").into();
        doc["mtlsRootUrl"] = format!("{base}/").into();
        let state = Arc::new(Lean {
            content,
            sha256,
            base: base.clone(),
            doc: doc.to_string(),
            sessions: Mutex::new(HashMap::new()),
            next: Mutex::new(0),
            last: Mutex::new(None),
        });
        let app = Router::new()
            .route("/upload/drive/v3/files", post(upload).put(put))
            .route("/resumable/upload/drive/v3/files", post(upload).put(put))
            .route("/drive/v3/files/{id}", get(download))
            .route("/discovery/v1/apis/drive/v3/rest", get(document))
            .with_state(Arc::clone(&state));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("bench-lean-server".into())
            .spawn(move || {
                rt.block_on(async move {
                    if let Ok(l) = tokio::net::TcpListener::from_std(listener) {
                        let _ = axum::serve(l, app).await;
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(LeanServer { base, state })
    }

    /// The last upload completed since the previous call: (bytes, all of them right).
    pub fn take_last(&self) -> Option<(u64, bool)> {
        self.state
            .last
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

type S = State<Arc<Lean>>;

fn query(req: &Request) -> HashMap<String, String> {
    req.uri()
        .query()
        .map(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

async fn document(State(s): S) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], s.doc.clone()).into_response()
}

fn file(s: &Lean, size: u64, matched: bool) -> Response {
    *s.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((size, matched));
    let sha = if matched && size == s.content.len() as u64 {
        s.sha256.clone()
    } else {
        "mismatch".to_owned()
    };
    axum::Json(
        json!({"kind": "drive#file", "id": "lean", "name": "bench.bin",
        "mimeType": "application/octet-stream", "size": size.to_string(), "sha256Checksum": sha}),
    )
    .into_response()
}

/// Compares the body with the content from `start`, skipping nothing; returns (bytes, all
/// equal).
async fn consume(s: &Lean, body: Body, start: u64) -> Result<(u64, bool), Response> {
    let mut stream = body.into_data_stream();
    let mut at = start;
    let mut matched = true;
    loop {
        let next = std::future::poll_fn(|cx| {
            futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), cx)
        })
        .await;
        let Some(frame) = next else {
            return Ok((at - start, matched));
        };
        let frame: Bytes = frame.map_err(|_| StatusCode::BAD_REQUEST.into_response())?;
        let end = at + frame.len() as u64;
        matched &= s
            .content
            .get(at as usize..end as usize)
            .is_some_and(|want| want == &frame[..]);
        at = end;
    }
}

async fn upload(State(s): S, req: Request) -> Response {
    let q = query(&req);
    match q.get("uploadType").map(String::as_str) {
        Some("resumable") => {
            let total = req
                .headers()
                .get("x-upload-content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            let uri = req.uri().to_string();
            // The metadata is read (an unread body would cost the client its connection).
            if axum::body::to_bytes(req.into_body(), 1 << 20)
                .await
                .is_err()
            {
                return StatusCode::BAD_REQUEST.into_response();
            }
            let id = {
                let mut next = s.next.lock().unwrap_or_else(|e| e.into_inner());
                *next += 1;
                *next
            };
            s.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(
                id,
                Session {
                    committed: 0,
                    total,
                    matched: true,
                },
            );
            let location = format!("{}{uri}&upload_id={id}", s.base);
            (StatusCode::OK, [(header::LOCATION, location)]).into_response()
        }
        Some("media") => match consume(&s, req.into_body(), 0).await {
            Ok((n, matched)) => file(&s, n, matched),
            Err(r) => r,
        },
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// A `Content-Range`: the bytes (first, last), none for a status query, and the total.
type ContentRange = (Option<(u64, u64)>, Option<u64>);

/// `bytes A-B/T`, `bytes */T`, with `*` for an unknown total.
fn content_range(h: &HeaderMap) -> Option<ContentRange> {
    let v = h.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (range, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let total = total.parse().ok();
    if range == "*" {
        return Some((None, total));
    }
    let (a, b) = range.split_once('-')?;
    Some((Some((a.parse().ok()?, b.parse().ok()?)), total))
}

async fn put(State(s): S, req: Request) -> Response {
    let Some(id) = query(&req)
        .get("upload_id")
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let range = content_range(req.headers());
    let (committed, known) = {
        let sessions = s.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match sessions.get(&id) {
            Some(x) => (x.committed, x.total),
            None => return StatusCode::NOT_FOUND.into_response(),
        }
    };
    let (start, total) = match range {
        Some((Some((a, _)), t)) => (a, t.or(known)),
        Some((None, t)) => (committed, t.or(known)),
        None => (0, None),
    };
    if start != committed {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let (n, matched) = match consume(&s, req.into_body(), start).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut sessions = s.sessions.lock().unwrap_or_else(|e| e.into_inner());
    let Some(session) = sessions.get_mut(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    session.committed += n;
    session.matched &= matched;
    if total.is_some() {
        session.total = total;
    }
    let whole = range.is_none();
    if whole || session.total == Some(session.committed) {
        return file(&s, session.committed, session.matched);
    }
    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
    if session.committed > 0
        && let Ok(v) = format!("bytes=0-{}", session.committed - 1).parse()
    {
        r.headers_mut().insert(header::RANGE, v);
    }
    r
}

async fn download(State(s): S, Path(_id): Path<String>, headers: HeaderMap) -> Response {
    let size = s.content.len() as u64;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| {
            let a: u64 = a.parse().ok()?;
            let b = if b.is_empty() {
                size.saturating_sub(1)
            } else {
                b.parse::<u64>().ok()?.min(size.saturating_sub(1))
            };
            Some((a, b))
        });
    match range {
        None => Body::from(s.content.clone()).into_response(),
        Some((a, _)) if a >= size => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{size}"))],
        )
            .into_response(),
        Some((a, b)) => (
            StatusCode::PARTIAL_CONTENT,
            [(header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}"))],
            Body::from(s.content.slice(a as usize..=b as usize)),
        )
            .into_response(),
    }
}
