//! Google Drive API v3's files, trimmed to what media needs, with Google's three upload
//! protocols and ranged downloads, kept on disk (see `storage.rs`):
//!
//! - `POST /upload/drive/v3/files?uploadType=media`: the body is the content.
//! - `POST /upload/drive/v3/files?uploadType=multipart`: `multipart/related`, the JSON
//!   metadata part then the media part.
//! - `POST /upload/drive/v3/files?uploadType=resumable` (also under `/resumable/upload/...`):
//!   metadata in the body, `X-Upload-Content-Type` / `X-Upload-Content-Length`; answers 200
//!   with the session URL in `Location` (the request's URL plus `upload_id`). `PUT`s to it
//!   carry chunks (`Content-Range: bytes A-B/TOTAL` or `bytes A-B/*`; every chunk but the last
//!   a multiple of 256 KiB) or ask where it stands (`bytes */TOTAL`, `bytes */*`, empty body);
//!   308 Resume Incomplete with `Range: bytes=0-N` (no `Range` when nothing is committed),
//!   then 200 with the file. A `PUT` without `Content-Range` is the whole content at once.
//!   An unknown or expired session is 404; a forgotten one (a fault) answers 404 or 410.
//! - `GET /drive/v3/files/{fileId}?alt=media`, with `Range` (206 and `Content-Range`, 416 past
//!   the end); without `alt=media`, the metadata. `GET /drive/v3/files` lists (paging,
//!   `q=name = '...'`, `orderBy`), `DELETE` removes, `POST /drive/v3/files` makes a file
//!   without content. `fields` selects parts of every JSON answer, as Drive does.
//!
//! Files belong to the account of the access token; a session URL works without one (it is
//! the capability, as Google documents). Every file carries `sha256Checksum`, the SHA-256 of
//! the bytes stored. Faults (`faults.rs`) and the request log (`record.rs`) are controlled
//! at `/emulator/v1/media/faults` and `/emulator/v1/media/requests`.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::EmulatorConfig;
use crate::conn::Conn;
use crate::faults::{FaultAction, FaultTarget, Faults, MediaFault};
use crate::fields::Selection;
use crate::info::authenticate;
use crate::keys::{b64url, b64url_decode};
use crate::multipart::{Event, Multipart, boundary_of};
use crate::record::{MediaRequest, MultipartShape, PartShape, Records};
use crate::reply::{api_error, form, insufficient_scope};
use crate::server::Emulator;
use crate::storage::{
    CHUNK_ALIGN, ChunkWriter, MediaStore, Object, ReadFault, Session, StoreError, hex, new_hash,
    read_range,
};
use crate::store::{Grant, Shared, Subject};

/// Scopes that may write files.
const WRITE: [&str; 3] = [
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
    "https://www.googleapis.com/auth/drive.appdata",
];
/// Scopes that may read content, besides the write scopes.
const READ: [&str; 1] = ["https://www.googleapis.com/auth/drive.readonly"];
/// Scopes that may read metadata only.
const METADATA: [&str; 2] = [
    "https://www.googleapis.com/auth/drive.metadata",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
];
/// Largest metadata body (a resumable initiation, a multipart metadata part).
const MAX_METADATA: usize = 1024 * 1024;
/// The fields of a file this Drive knows, as its discovery document lists them.
const FILE_FIELDS: &[&str] = &[
    "appProperties",
    "createdTime",
    "description",
    "id",
    "kind",
    "mimeType",
    "modifiedTime",
    "name",
    "originalFilename",
    "parents",
    "properties",
    "sha256Checksum",
    "size",
];
const LIST_FIELDS: &[&str] = &["files", "incompleteSearch", "kind", "nextPageToken"];
/// What Drive answers when `fields` is not given.
const FILE_DEFAULT: &str = "kind,id,name,mimeType";
const LIST_DEFAULT: &str = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)";

type Reply = Result<Response, Response>;

/// Media state: the store, the armed faults, the request log.
pub(crate) struct Media {
    pub(crate) store: MediaStore,
    faults: Mutex<Faults>,
    records: Mutex<Records>,
    session_lifetime: Duration,
}

impl Media {
    /// The state `config` asks for; its faults are armed at once.
    pub(crate) fn new(config: &EmulatorConfig) -> Media {
        let mut faults = Faults::default();
        for f in &config.media_faults {
            faults.arm(f.clone());
        }
        Media {
            store: MediaStore::new(config.media_dir.clone(), config.media_store_limit),
            faults: Mutex::new(faults),
            records: Mutex::new(Records::default()),
            session_lifetime: config.upload_session_lifetime,
        }
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn records(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The routes of the files API and of the media controls.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/upload/drive/v3/files", post(upload_post).put(session_put))
        .route(
            "/resumable/upload/drive/v3/files",
            post(upload_post).put(session_put),
        )
        .route("/drive/v3/files", get(list).post(create_metadata))
        .route("/drive/v3/files/{file_id}", get(get_file).delete(delete))
        .route(
            "/emulator/v1/media/faults",
            post(arm_fault).delete(clear_faults),
        )
        .route(
            "/emulator/v1/media/requests",
            get(requests).delete(clear_requests),
        )
        .layer(DefaultBodyLimit::disable())
}

// ---------------------------------------------------------------------------------------
// Requests: who, which fault, the body as it arrives.

/// A request in progress: its log entry (its place in the log is taken on arrival) and its
/// connection. A request whose handler is dropped (the client went away) is logged without
/// an answer.
struct Ctx {
    shared: Arc<Shared>,
    seq: u64,
    rec: MediaRequest,
    conn: Option<Conn>,
    cut: bool,
    logged: bool,
}

impl Ctx {
    fn new(shared: &Arc<Shared>, req: &Request) -> Ctx {
        let rec = MediaRequest::start(req.method().as_str(), req.uri(), req.headers());
        Ctx {
            seq: shared.media.records().start(rec.clone()),
            shared: Arc::clone(shared),
            rec,
            conn: req
                .extensions()
                .get::<ConnectInfo<Conn>>()
                .map(|c| c.0.clone()),
            cut: false,
            logged: false,
        }
    }

    /// Cuts the connection: the answer returned is never written.
    fn cut(&mut self) -> Response {
        self.cut = true;
        if let Some(c) = &self.conn {
            c.kill();
        }
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }

    /// The fault for a request of kind `target`, noted in the log at once.
    fn fault(&mut self, target: FaultTarget) -> Option<FaultAction> {
        let f = self.shared.media.faults().next(target)?;
        self.rec.fault = Some(f.describe());
        self.note();
        Some(f.action)
    }

    /// Writes the entry as it stands (for a request that may hang a while).
    fn note(&self) {
        self.shared
            .media
            .records()
            .complete(self.seq, self.rec.clone());
    }

    /// Logs the request with `resp` and returns it.
    fn finish(mut self, resp: Response) -> Response {
        let status = (!self.cut).then(|| resp.status().as_u16());
        self.rec.answered(status, resp.headers());
        self.shared
            .media
            .records()
            .complete(self.seq, self.rec.clone());
        self.logged = true;
        resp
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if !self.logged {
            let mut rec = self.rec.clone();
            rec.answered(None, &HeaderMap::new());
            self.shared.media.records().complete(self.seq, rec);
        }
    }
}

/// What a body read returns.
enum Piece {
    Data(Bytes),
    End,
    /// The client's connection failed.
    Broken,
    /// A fault cuts here.
    Cut,
}

/// A request body read frame by frame, with a fault's cut at a byte offset.
struct BodyIn {
    stream: BodyDataStream,
    pending: Option<Bytes>,
    received: u64,
    cut_at: Option<u64>,
}

impl BodyIn {
    fn new(body: Body, fault: Option<&FaultAction>) -> BodyIn {
        let cut_at = match fault {
            Some(FaultAction::DropAfter(k)) => Some(*k),
            _ => None,
        };
        BodyIn {
            stream: body.into_data_stream(),
            pending: None,
            received: 0,
            cut_at,
        }
    }

    async fn next(&mut self) -> Piece {
        loop {
            if self.cut_at.is_some_and(|k| self.received >= k) {
                return Piece::Cut;
            }
            let mut data = match self.pending.take() {
                Some(b) => b,
                None => {
                    let stream = &mut self.stream;
                    match poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *stream), cx))
                        .await
                    {
                        // A body shorter than the cut's offset is cut before the answer.
                        None if self.cut_at.is_some() => return Piece::Cut,
                        None => return Piece::End,
                        Some(Err(_)) => return Piece::Broken,
                        Some(Ok(b)) => b,
                    }
                }
            };
            if data.is_empty() {
                continue;
            }
            if let Some(k) = self.cut_at
                && (data.len() as u64) > k - self.received
            {
                let at = usize::try_from(k - self.received).unwrap_or(usize::MAX);
                self.pending = Some(data.split_off(at));
            }
            self.received += data.len() as u64;
            return Piece::Data(data);
        }
    }

    /// Reads and drops the rest of the body (false when it broke off).
    async fn drain(&mut self) -> bool {
        self.cut_at = None;
        loop {
            match self.next().await {
                Piece::Data(_) => {}
                Piece::End => return true,
                Piece::Broken | Piece::Cut => return false,
            }
        }
    }

    /// Reads the whole body, up to `max` bytes.
    async fn read_small(&mut self, max: usize) -> Result<Vec<u8>, Piece> {
        let mut buf = Vec::new();
        loop {
            match self.next().await {
                Piece::Data(d) => {
                    if buf.len() + d.len() > max {
                        return Err(Piece::Data(Bytes::new()));
                    }
                    buf.extend_from_slice(&d);
                }
                Piece::End => return Ok(buf),
                other => return Err(other),
            }
        }
    }
}

/// How an upload's content ended.
enum Ending {
    /// All of it arrived.
    Complete,
    /// The client or a fault cut it.
    Broken,
    Cut,
    /// More bytes came than announced.
    TooLong,
    Full,
    Io(std::io::Error),
}

impl From<StoreError> for Ending {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full | StoreError::TooMany => Ending::Full,
            StoreError::Io(e) => Ending::Io(e),
        }
    }
}

fn bad_request(message: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "badRequest", message)
}

fn not_found(message: &str) -> Response {
    api_error(StatusCode::NOT_FOUND, "notFound", message)
}

fn quota() -> Response {
    api_error(
        StatusCode::FORBIDDEN,
        "storageQuotaExceeded",
        "The user's Drive storage quota has been exceeded.",
    )
}

fn internal(e: &std::io::Error) -> Response {
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internalError",
        &format!("The emulator's media store failed: {e}"),
    )
}

/// A status answer for an injected fault, with Google's body.
fn fault_status(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let reason = match code {
        404 => "notFound",
        410 => "gone",
        429 => "rateLimitExceeded",
        500 => "internalError",
        503 => "backendError",
        _ => "injectedFault",
    };
    api_error(
        status,
        reason,
        status.canonical_reason().unwrap_or("Injected fault"),
    )
}

/// Which access a request needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Write,
    Content,
    Metadata,
}

/// The account behind the request's token, if its scopes allow `access`.
fn account(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
    access: Access,
) -> Result<String, Response> {
    let (at, grant) = authenticate(shared, headers, query)?;
    let allowed = at.scopes.iter().any(|s| {
        let s = s.as_str();
        WRITE.contains(&s)
            || (access != Access::Write && READ.contains(&s))
            || (access == Access::Metadata && METADATA.contains(&s))
    });
    if !allowed {
        return Err(insufficient_scope());
    }
    Ok(shared.identity(&grant).1)
}

/// RFC 3339 with milliseconds, on the emulator's clock.
fn timestamp(shared: &Shared) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_millis())
        .unwrap_or(0);
    let t = UNIX_EPOCH + Duration::from_secs(shared.now()) + Duration::from_millis(millis.into());
    humantime::format_rfc3339_millis(t).to_string()
}

/// Checks the writable metadata of a new file.
fn check_metadata(m: &Map<String, Value>) -> Result<(), Response> {
    for (k, v) in m {
        let ok = match k.as_str() {
            "name" | "mimeType" | "description" | "originalFilename" => v.is_string(),
            "parents" => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            "properties" | "appProperties" => v
                .as_object()
                .is_some_and(|o| o.values().all(|x| x.is_string() || x.is_null())),
            "kind" => v == "drive#file",
            "id" | "size" | "sha256Checksum" | "createdTime" | "modifiedTime" => {
                return Err(api_error(
                    StatusCode::FORBIDDEN,
                    "fieldNotWritable",
                    &format!(
                        "The resource body includes fields which are not directly writable: {k}"
                    ),
                ));
            }
            _ => {
                return Err(bad_request(&format!(
                    "The emulator's Drive does not keep the field `{k}` (it keeps name, mimeType, description, parents, properties, appProperties, originalFilename)."
                )));
            }
        };
        if !ok {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "invalid",
                &format!("Invalid value for: {k}"),
            ));
        }
    }
    Ok(())
}

/// Parses a metadata body (empty is `{}`).
fn parse_metadata(body: &[u8]) -> Result<Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let m = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "parseError",
                "Invalid JSON payload received: the metadata is not a JSON object.",
            ));
        }
    };
    check_metadata(&m)?;
    Ok(m)
}

/// The file resource, in full.
fn file_json(o: &Object) -> Value {
    let mut v = json!({
        "kind": "drive#file",
        "id": o.id,
        "name": o.meta.get("name").cloned().unwrap_or_else(|| "Untitled".into()),
        "mimeType": o.meta.get("mimeType").cloned().unwrap_or_else(|| "application/octet-stream".into()),
        "size": o.size.to_string(),
        "sha256Checksum": o.sha256,
        "createdTime": o.created,
        "modifiedTime": o.created,
    });
    for k in [
        "description",
        "parents",
        "properties",
        "appProperties",
        "originalFilename",
    ] {
        if let Some(x) = o.meta.get(k) {
            v[k] = x.clone();
        }
    }
    v
}

/// The `fields` selection of a request, checked for a file or a list.
fn selection(
    query: &std::collections::HashMap<String, String>,
    list: bool,
) -> Result<Selection, Response> {
    let text = query.get("fields").map(String::as_str).unwrap_or(if list {
        LIST_DEFAULT
    } else {
        FILE_DEFAULT
    });
    let invalid = |what: &str| {
        api_error(
            StatusCode::BAD_REQUEST,
            "invalidParameter",
            &format!("Invalid field selection {what}"),
        )
    };
    let sel = Selection::parse(text).map_err(|e| invalid(&e.0))?;
    let checked = if list {
        sel.check(LIST_FIELDS, &|n| (n == "files").then_some(FILE_FIELDS))
    } else {
        sel.check(FILE_FIELDS, &|_| None)
    };
    checked.map_err(|e| invalid(&e.0))?;
    Ok(sel)
}

fn file_reply(o: &Object, query: &std::collections::HashMap<String, String>) -> Reply {
    let sel = selection(query, false)?;
    Ok(axum::Json(sel.apply(&file_json(o))).into_response())
}

fn query_of(req: &Request) -> std::collections::HashMap<String, String> {
    form(req.uri().query().unwrap_or("").as_bytes())
}

// ---------------------------------------------------------------------------------------
// Uploads.

/// `POST /upload/drive/v3/files`: every upload protocol starts here.
async fn upload_post(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let mut ctx = Ctx::new(&shared, &req);
    let resp = upload(&shared, &mut ctx, req).await.unwrap_or_else(|r| r);
    ctx.finish(resp)
}

async fn upload(shared: &Arc<Shared>, ctx: &mut Ctx, req: Request) -> Reply {
    let query = query_of(&req);
    let owner = account(shared, req.headers(), req.uri().query(), Access::Write)?;
    match query.get("uploadType").map(String::as_str) {
        Some("resumable") => initiate(shared, ctx, req, owner).await,
        Some(kind @ ("media" | "multipart")) => {
            let multipart = kind == "multipart";
            one_shot(shared, ctx, req, owner, &query, multipart).await
        }
        Some(other) => Err(bad_request(&format!(
            "Invalid upload type `{other}`: use media, multipart or resumable."
        ))),
        None => Err(bad_request(
            "Upload requests must include an uploadType URL parameter (media, multipart or resumable).",
        )),
    }
}

/// Applies the faults that come before the request is looked at: a status (the body is
/// read and dropped), or a stall (`after` bytes read and dropped, a pause, then the
/// connection is cut; the session, if any, is left as it was and not held).
async fn early_fault(
    ctx: &mut Ctx,
    fault: Option<&FaultAction>,
    body: &mut BodyIn,
) -> Option<Response> {
    match fault {
        Some(FaultAction::Status(code) | FaultAction::ForgetSession(code)) => {
            body.drain().await;
            ctx.rec.body.received = body.received;
            Some(fault_status(*code))
        }
        Some(FaultAction::Stall { after, duration }) => {
            body.cut_at = Some(*after);
            while let Piece::Data(_) = body.next().await {}
            ctx.rec.body.received = body.received;
            ctx.note();
            tokio::time::sleep(*duration).await;
            Some(ctx.cut())
        }
        _ => None,
    }
}

/// A resumable upload's initiation.
async fn initiate(shared: &Arc<Shared>, ctx: &mut Ctx, req: Request, owner: String) -> Reply {
    let fault = ctx.fault(FaultTarget::Initiate);
    let (parts, body) = req.into_parts();
    let mut body = BodyIn::new(body, fault.as_ref());
    if let Some(r) = early_fault(ctx, fault.as_ref(), &mut body).await {
        return Err(r);
    }
    let read = body.read_small(MAX_METADATA).await;
    ctx.rec.body.received = body.received;
    let raw = match read {
        Ok(raw) => raw,
        Err(Piece::Cut | Piece::Broken) => return Err(ctx.cut()),
        Err(_) => return Err(bad_request("The metadata is larger than 1 MiB.")),
    };
    let meta = parse_metadata(&raw)?;
    if !raw.is_empty() {
        ctx.rec.body.json = serde_json::from_slice(&raw).ok();
    }
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let content_type = header("x-upload-content-type")
        .map(str::to_owned)
        .or_else(|| {
            meta.get("mimeType")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "application/octet-stream".into());
    let total = match header("x-upload-content-length") {
        None => None,
        Some(t) => Some(
            t.trim()
                .parse::<u64>()
                .map_err(|_| bad_request("X-Upload-Content-Length must be a number of bytes."))?,
        ),
    };
    if total.is_some_and(|t| t > shared.media.store.free()) {
        return Err(quota());
    }
    let id = shared.random(24);
    let session = Session {
        id: id.clone(),
        owner,
        meta,
        content_type,
        total,
        committed: 0,
        hash: new_hash(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        created_at: shared.now(),
        done: None,
    };
    match shared.media.store.open_session(session) {
        Ok(()) => {}
        Err(StoreError::TooMany) => {
            return Err(api_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rateLimitExceeded",
                "Too many upload sessions are open on the emulator.",
            ));
        }
        Err(StoreError::Full) => return Err(quota()),
        Err(StoreError::Io(e)) => return Err(internal(&e)),
    }
    // The session URL: this request's URL with the session's id added.
    let q = parts.uri.query().unwrap_or("");
    let location = format!(
        "{}{}?{}{}upload_id={id}",
        shared.base_url,
        parts.uri.path(),
        q,
        if q.is_empty() { "" } else { "&" }
    );
    let mut r = StatusCode::OK.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-guploader-uploadid", v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Ok(r)
}

/// Writes media pieces into `writer`, skipping the first `skip` bytes and taking at most
/// `max` (more is `TooLong`).
async fn pump(
    body: &mut BodyIn,
    writer: &mut ChunkWriter,
    mut skip: u64,
    max: Option<u64>,
) -> Ending {
    let mut taken = 0u64;
    loop {
        match body.next().await {
            Piece::Data(d) => {
                let mut d: &[u8] = &d;
                if skip > 0 {
                    let n = usize::try_from(skip.min(d.len() as u64)).unwrap_or(d.len());
                    skip -= n as u64;
                    d = &d[n..];
                }
                if max.is_some_and(|m| taken + d.len() as u64 > m) {
                    return Ending::TooLong;
                }
                taken += d.len() as u64;
                if let Err(e) = writer.push(d).await {
                    return e.into();
                }
            }
            Piece::End => return Ending::Complete,
            Piece::Broken => return Ending::Broken,
            Piece::Cut => return Ending::Cut,
        }
    }
}

/// `uploadType=media` and `uploadType=multipart`: the content in one request.
async fn one_shot(
    shared: &Arc<Shared>,
    ctx: &mut Ctx,
    req: Request,
    owner: String,
    query: &std::collections::HashMap<String, String>,
    multipart: bool,
) -> Reply {
    let fault = ctx.fault(FaultTarget::Upload);
    let (parts, body) = req.into_parts();
    let mut body = BodyIn::new(body, fault.as_ref());
    if let Some(r) = early_fault(ctx, fault.as_ref(), &mut body).await {
        return Err(r);
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let store = &shared.media.store;
    let id = shared.random(24);
    let scratch = store.scratch_path(&id).map_err(|e| internal(&e))?;
    let mut writer = ChunkWriter::open(scratch.clone(), 0, new_hash(), store.free())
        .await
        .map_err(|e| internal(&e))?;
    let outcome = if multipart {
        read_multipart(ctx, &mut body, &mut writer, &content_type).await
    } else {
        let ending = pump(&mut body, &mut writer, 0, None).await;
        let mut meta = Map::new();
        if !content_type.is_empty() {
            meta.insert("mimeType".into(), content_type.clone().into());
        }
        Ok((ending, meta))
    };
    ctx.rec.body.received = body.received;
    let (ending, mut meta) = match outcome {
        Ok(x) => x,
        Err(r) => {
            let _ = std::fs::remove_file(&scratch);
            return Err(r);
        }
    };
    let fail = |r: Response| {
        let _ = std::fs::remove_file(&scratch);
        Err(r)
    };
    match ending {
        Ending::Complete => {}
        Ending::Cut | Ending::Broken => {
            let _ = std::fs::remove_file(&scratch);
            return Err(ctx.cut());
        }
        Ending::Full => return fail(quota()),
        Ending::TooLong => return fail(bad_request("The body is longer than announced.")),
        Ending::Io(e) => return fail(internal(&e)),
    }
    let (size, hash) = match writer.finish().await {
        Ok(x) => x,
        Err(e) => return fail(internal(&e)),
    };
    let path = store.object_path(&id).map_err(|e| internal(&e))?;
    if let Err(e) = std::fs::rename(&scratch, &path) {
        return fail(internal(&e));
    }
    meta.entry("name").or_insert_with(|| "Untitled".into());
    let object = Object {
        id,
        owner,
        meta,
        size,
        sha256: hex(hash.finish().as_ref()),
        created: timestamp(shared),
        seq: 0,
    };
    let object = store.insert_object(object, size);
    file_reply(&object, query)
}

/// Reads a `multipart/related` upload: the metadata part, then the media part into `writer`.
async fn read_multipart(
    ctx: &mut Ctx,
    body: &mut BodyIn,
    writer: &mut ChunkWriter,
    content_type: &str,
) -> Result<(Ending, Map<String, Value>), Response> {
    let Some(boundary) = boundary_of(content_type) else {
        return Err(bad_request(
            "A multipart upload needs Content-Type: multipart/related with a boundary.",
        ));
    };
    let mut parser = Multipart::new(&boundary);
    let mut shape = MultipartShape {
        boundary: boundary.clone(),
        line_ending: String::new(),
        parts: Vec::new(),
    };
    let mut metadata: Vec<u8> = Vec::new();
    let mut media_type = None;
    let ending = 'read: loop {
        let data = match body.next().await {
            Piece::Data(d) => d,
            Piece::End => {
                if parser.finish().is_err() {
                    ctx.rec.body.multipart = Some(shape);
                    return Err(bad_request(
                        "The multipart body ended before its closing boundary.",
                    ));
                }
                break Ending::Complete;
            }
            Piece::Broken => break Ending::Broken,
            Piece::Cut => break Ending::Cut,
        };
        let events = match parser.feed(&data) {
            Ok(e) => e,
            Err(e) => {
                ctx.rec.body.multipart = Some(shape);
                return Err(bad_request(&format!("Malformed multipart body: {}.", e.0)));
            }
        };
        for event in events {
            match event {
                Event::Headers(h) => {
                    if shape.parts.len() == 2 {
                        return Err(bad_request(
                            "A multipart upload has two parts: the metadata, then the media.",
                        ));
                    }
                    let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                    if shape.parts.len() == 1 {
                        media_type = get("content-type");
                        if let Some(cte) = get("content-transfer-encoding")
                            && !["binary", "8bit", "7bit"]
                                .contains(&cte.to_ascii_lowercase().as_str())
                        {
                            return Err(bad_request(&format!(
                                "The emulator takes binary media parts, not Content-Transfer-Encoding: {cte}."
                            )));
                        }
                    } else if !get("content-type")
                        .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"))
                    {
                        return Err(bad_request(
                            "The first part of a multipart upload is the JSON metadata (Content-Type: application/json).",
                        ));
                    }
                    shape.parts.push(PartShape {
                        headers: h.into_iter().collect(),
                        length: 0,
                        json: None,
                    });
                }
                Event::Data(d) => {
                    let n = shape.parts.len();
                    if let Some(p) = shape.parts.last_mut() {
                        p.length += d.len() as u64;
                    }
                    if n == 1 {
                        if metadata.len() + d.len() > MAX_METADATA {
                            return Err(bad_request("The metadata part is larger than 1 MiB."));
                        }
                        metadata.extend_from_slice(&d);
                    } else if let Err(e) = writer.push(&d).await {
                        break 'read e.into();
                    }
                }
                Event::PartEnd | Event::End => {}
            }
        }
    };
    shape.line_ending = parser.line_ending().to_owned();
    if let Some(p) = shape.parts.first_mut() {
        p.json = serde_json::from_slice(&metadata).ok();
    }
    let parts = shape.parts.len();
    ctx.rec.body.multipart = Some(shape);
    if !matches!(ending, Ending::Complete) {
        return Ok((ending, Map::new()));
    }
    if parts != 2 {
        return Err(bad_request(
            "A multipart upload has two parts: the metadata, then the media.",
        ));
    }
    let mut meta = parse_metadata(&metadata)?;
    if !meta.contains_key("mimeType")
        && let Some(t) = media_type
    {
        meta.insert("mimeType".into(), t.into());
    }
    Ok((Ending::Complete, meta))
}

/// What a `Content-Range` on a session asks.
#[derive(Debug, PartialEq, Eq)]
enum SessionRange {
    /// `bytes */TOTAL` or `bytes */*`.
    Query(Option<u64>),
    /// `bytes A-B/TOTAL` or `bytes A-B/*`.
    Chunk(u64, u64, Option<u64>),
    /// No header: the whole content.
    Whole,
}

fn parse_content_range(v: Option<&str>) -> Result<SessionRange, Response> {
    let Some(v) = v else {
        return Ok(SessionRange::Whole);
    };
    let bad = || {
        bad_request(&format!(
            "Invalid Content-Range `{v}`: expected `bytes A-B/TOTAL`, `bytes A-B/*`, `bytes */TOTAL` or `bytes */*`."
        ))
    };
    let rest = v.trim().strip_prefix("bytes ").ok_or_else(bad)?;
    let (range, total) = rest.split_once('/').ok_or_else(bad)?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().map_err(|_| bad())?),
    };
    if range.trim() == "*" {
        return Ok(SessionRange::Query(total));
    }
    let (a, b) = range.split_once('-').ok_or_else(bad)?;
    let a = a.trim().parse::<u64>().map_err(|_| bad())?;
    let b = b.trim().parse::<u64>().map_err(|_| bad())?;
    if b < a || b == u64::MAX || total.is_some_and(|t| b >= t) {
        return Err(bad());
    }
    Ok(SessionRange::Chunk(a, b, total))
}

/// 308 Resume Incomplete, with `Range` once something is committed.
fn resume_incomplete(committed: u64) -> Response {
    let mut r = StatusCode::PERMANENT_REDIRECT.into_response();
    if committed > 0
        && let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", committed - 1))
    {
        r.headers_mut().insert(header::RANGE, v);
    }
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

/// `PUT` on a session URL: a chunk, the whole content, or a status query.
async fn session_put(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let mut ctx = Ctx::new(&shared, &req);
    let resp = put(&shared, &mut ctx, req).await.unwrap_or_else(|r| r);
    ctx.finish(resp)
}

async fn put(shared: &Arc<Shared>, ctx: &mut Ctx, req: Request) -> Reply {
    let query = query_of(&req);
    let Some(id) = query.get("upload_id").cloned() else {
        return Err(bad_request(
            "A PUT to the upload URL needs the upload_id of a session (from the Location of a resumable initiation).",
        ));
    };
    let (parts, body) = req.into_parts();
    let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
    let range = parse_content_range(header("content-range"))?;
    let target = match range {
        SessionRange::Query(_) => FaultTarget::StatusQuery,
        _ => FaultTarget::Chunk,
    };
    let fault = ctx.fault(target);
    let mut body = BodyIn::new(body, fault.as_ref());
    if let Some(FaultAction::Stall { .. }) = fault.as_ref()
        && let Some(r) = early_fault(ctx, fault.as_ref(), &mut body).await
    {
        return Err(r);
    }
    let store = &shared.media.store;
    let session = match store.session(&id) {
        Ok(s) => s,
        Err(code) => {
            body.drain().await;
            ctx.rec.body.received = body.received;
            return Err(if code == 404 {
                not_found("Upload session not found: it expired, was cancelled or never existed.")
            } else {
                fault_status(code)
            });
        }
    };
    let mut s = session.lock().await;
    if shared.now().saturating_sub(s.created_at) > shared.media.session_lifetime.as_secs() {
        let committed = if s.done.is_some() { 0 } else { s.committed };
        store.forget_session(&id, 404, committed);
        body.drain().await;
        return Err(not_found("Upload session expired."));
    }
    match fault.as_ref() {
        Some(FaultAction::ForgetSession(code)) => {
            let committed = if s.done.is_some() { 0 } else { s.committed };
            store.forget_session(&id, *code, committed);
            body.drain().await;
            ctx.rec.body.received = body.received;
            return Err(fault_status(*code));
        }
        Some(FaultAction::Status(code)) => {
            body.drain().await;
            ctx.rec.body.received = body.received;
            return Err(fault_status(*code));
        }
        _ => {}
    }
    let reply_query = if query.contains_key("fields") {
        query.clone()
    } else {
        form(s.query.as_bytes())
    };
    if let Some(done) = s.done.clone() {
        body.drain().await;
        ctx.rec.body.received = body.received;
        return match store.object(&done, None) {
            Some(o) => file_reply(&o, &reply_query),
            None => Err(not_found("The uploaded file was deleted.")),
        };
    }
    let result = match range {
        SessionRange::Query(total) => {
            status_query(shared, ctx, &mut body, &mut s, total, &reply_query).await
        }
        SessionRange::Chunk(a, b, total) => {
            let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
            chunk(
                shared,
                ctx,
                &mut body,
                &mut s,
                (a, b, total),
                declared,
                &reply_query,
            )
            .await
        }
        SessionRange::Whole => {
            if s.committed > 0 {
                body.drain().await;
                Err(bad_request(&format!(
                    "A PUT without Content-Range is the whole content, but {} bytes are already committed: send `Content-Range: bytes {}-.../TOTAL`.",
                    s.committed, s.committed
                )))
            } else {
                let declared = header("content-length").and_then(|v| v.parse::<u64>().ok());
                match declared {
                    Some(0) => {
                        // The whole content is empty.
                        if s.total.is_some_and(|t| t != 0) {
                            body.drain().await;
                            Err(bad_request(
                                "The content is empty, but the upload announced more.",
                            ))
                        } else {
                            s.total = Some(0);
                            finalize(shared, &mut s, &reply_query)
                        }
                    }
                    Some(n) => {
                        chunk(
                            shared,
                            ctx,
                            &mut body,
                            &mut s,
                            (0, n - 1, Some(n)),
                            Some(n),
                            &reply_query,
                        )
                        .await
                    }
                    None => whole_unsized(shared, ctx, &mut body, &mut s, &reply_query).await,
                }
            }
        }
    };
    ctx.rec.body.received = body.received;
    result
}

/// `bytes */TOTAL`: where the upload stands (and its end, when TOTAL is all committed).
async fn status_query(
    shared: &Arc<Shared>,
    ctx: &mut Ctx,
    body: &mut BodyIn,
    s: &mut Session,
    total: Option<u64>,
    reply_query: &std::collections::HashMap<String, String>,
) -> Reply {
    match body.next().await {
        Piece::End => {}
        Piece::Cut | Piece::Broken => return Err(ctx.cut()),
        Piece::Data(_) => {
            body.drain().await;
            return Err(bad_request(
                "A status query (`bytes */...`) has an empty body.",
            ));
        }
    }
    if let Some(t) = total {
        if s.total.is_some_and(|known| known != t) {
            return Err(bad_request(&format!(
                "The upload's total size is {}, not {t}.",
                s.total.unwrap_or(0)
            )));
        }
        if t < s.committed {
            return Err(bad_request(&format!(
                "{} bytes are committed, more than the total {t}.",
                s.committed
            )));
        }
        if t == s.committed {
            s.total = Some(t);
            return finalize(shared, s, reply_query);
        }
    }
    Ok(resume_incomplete(s.committed))
}

/// A chunk: bytes `a..=b` of the content, `total` when known.
async fn chunk(
    shared: &Arc<Shared>,
    ctx: &mut Ctx,
    body: &mut BodyIn,
    s: &mut Session,
    (a, b, total): (u64, u64, Option<u64>),
    declared: Option<u64>,
    reply_query: &std::collections::HashMap<String, String>,
) -> Reply {
    let len = b - a + 1;
    if declared.is_some_and(|n| n != len) {
        body.drain().await;
        return Err(bad_request(&format!(
            "Content-Length {} does not match Content-Range bytes {a}-{b} ({len} bytes).",
            declared.unwrap_or(0)
        )));
    }
    if let (Some(t), Some(known)) = (total, s.total)
        && t != known
    {
        body.drain().await;
        return Err(bad_request(&format!(
            "The upload's total size is {known}, not {t}."
        )));
    }
    let last = total.is_some_and(|t| b + 1 == t);
    if !last && len % CHUNK_ALIGN != 0 {
        body.drain().await;
        return Err(bad_request(&format!(
            "Every chunk but the last must be a multiple of 256 KiB (262144 bytes); this one is {len} bytes."
        )));
    }
    if a > s.committed {
        body.drain().await;
        return Err(bad_request(&format!(
            "The chunk starts at byte {a}, but only {} bytes are committed: resume from there.",
            s.committed
        )));
    }
    if total.is_some() {
        s.total = total;
    }
    let store = &shared.media.store;
    let skip = s.committed - a;
    let path = store.session_path(&s.id).map_err(|e| internal(&e))?;
    let mut writer = ChunkWriter::open(path, s.committed, s.hash.clone(), store.free())
        .await
        .map_err(|e| internal(&e))?;
    let ending = pump(body, &mut writer, skip, Some(len - skip.min(len))).await;
    let complete = matches!(ending, Ending::Complete) && body.received == len;
    let (end, hash) = if complete {
        writer.finish().await
    } else {
        writer.finish_aligned().await
    }
    .map_err(|e| internal(&e))?;
    store.committed(end - s.committed);
    s.committed = end;
    s.hash = hash;
    match ending {
        Ending::Complete if complete => {}
        Ending::Complete => {
            return Err(bad_request(&format!(
                "The body held {} bytes, not the {len} of its Content-Range.",
                body.received
            )));
        }
        Ending::Cut | Ending::Broken => return Err(ctx.cut()),
        Ending::TooLong => {
            return Err(bad_request(&format!(
                "The body is longer than the {len} bytes of its Content-Range."
            )));
        }
        Ending::Full => return Err(quota()),
        Ending::Io(e) => return Err(internal(&e)),
    }
    if s.total == Some(s.committed) {
        return finalize(shared, s, reply_query);
    }
    Ok(resume_incomplete(s.committed))
}

/// A `PUT` without `Content-Range` or `Content-Length` (chunked): the whole content.
async fn whole_unsized(
    shared: &Arc<Shared>,
    ctx: &mut Ctx,
    body: &mut BodyIn,
    s: &mut Session,
    reply_query: &std::collections::HashMap<String, String>,
) -> Reply {
    let store = &shared.media.store;
    let path = store.session_path(&s.id).map_err(|e| internal(&e))?;
    let mut writer = ChunkWriter::open(path, 0, new_hash(), store.free())
        .await
        .map_err(|e| internal(&e))?;
    let ending = pump(body, &mut writer, 0, s.total).await;
    let (end, hash) = match ending {
        Ending::Complete => writer.finish().await,
        _ => writer.finish_aligned().await,
    }
    .map_err(|e| internal(&e))?;
    store.committed(end);
    s.committed = end;
    s.hash = hash;
    match ending {
        Ending::Complete => {}
        Ending::Cut | Ending::Broken => return Err(ctx.cut()),
        Ending::TooLong => {
            return Err(bad_request("The body is longer than the upload announced."));
        }
        Ending::Full => return Err(quota()),
        Ending::Io(e) => return Err(internal(&e)),
    }
    if s.total.is_some_and(|t| t != end) {
        return Err(bad_request(&format!(
            "The body held {end} bytes, not the {} the upload announced.",
            s.total.unwrap_or(0)
        )));
    }
    s.total = Some(end);
    finalize(shared, s, reply_query)
}

/// Turns a complete session into a file.
fn finalize(
    shared: &Arc<Shared>,
    s: &mut Session,
    reply_query: &std::collections::HashMap<String, String>,
) -> Reply {
    let store = &shared.media.store;
    let id = shared.random(24);
    let from = store.session_path(&s.id).map_err(|e| internal(&e))?;
    let to = store.object_path(&id).map_err(|e| internal(&e))?;
    let size = s.committed;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&from)
        .and_then(|f| f.set_len(size))
        .and_then(|()| std::fs::rename(&from, &to))
        .map_err(|e| internal(&e))?;
    let mut meta = s.meta.clone();
    meta.entry("mimeType")
        .or_insert_with(|| s.content_type.clone().into());
    meta.entry("name").or_insert_with(|| "Untitled".into());
    let object = Object {
        id: id.clone(),
        owner: s.owner.clone(),
        meta,
        size,
        sha256: hex(s.hash.clone().finish().as_ref()),
        created: timestamp(shared),
        seq: 0,
    };
    // The session's bytes were counted as they were committed.
    let object = store.insert_object(object, 0);
    s.done = Some(id);
    file_reply(&object, reply_query)
}

// ---------------------------------------------------------------------------------------
// Files: get (metadata or media), list, delete, create without content.

/// `GET /drive/v3/files/{fileId}`.
async fn get_file(
    State(shared): State<Arc<Shared>>,
    Path(file_id): Path<String>,
    req: Request,
) -> Response {
    let query = query_of(&req);
    match query.get("alt").map(String::as_str) {
        Some("media") => {
            let mut ctx = Ctx::new(&shared, &req);
            let resp = download(&shared, &mut ctx, &file_id, &req).unwrap_or_else(|r| r);
            ctx.finish(resp)
        }
        None | Some("json") => {
            let owner = match account(&shared, req.headers(), req.uri().query(), Access::Metadata) {
                Ok(o) => o,
                Err(r) => return r,
            };
            match shared.media.store.object(&file_id, Some(&owner)) {
                Some(o) => file_reply(&o, &query).unwrap_or_else(|r| r),
                None => not_found(&format!("File not found: {file_id}.")),
            }
        }
        Some(other) => bad_request(&format!(
            "Invalid value for alt: `{other}` (json or media)."
        )),
    }
}

/// The byte range a `Range` header asks of `size` bytes: `Ok(None)` for all of it.
fn requested_range(h: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        // No Range, or a unit other than bytes: the whole content (RFC 9110 14.2).
        return Ok(None);
    };
    if spec.contains(',') {
        // Several ranges: served whole, as RFC 9110 allows.
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // A suffix: the last N bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(());
        }
        return Ok(Some((size - n.min(size), size - 1)));
    }
    let Ok(a) = a.parse::<u64>() else {
        return Ok(None);
    };
    let b = if b.is_empty() {
        u64::MAX
    } else {
        match b.parse::<u64>() {
            Ok(b) if b >= a => b,
            _ => return Ok(None),
        }
    };
    if a >= size {
        return Err(());
    }
    Ok(Some((a, b.min(size - 1))))
}

/// A channel of blocks, as a body stream.
struct Blocks(tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>);

impl futures_core::Stream for Blocks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().0.poll_recv(cx)
    }
}

/// `GET /drive/v3/files/{fileId}?alt=media`.
fn download(shared: &Arc<Shared>, ctx: &mut Ctx, file_id: &str, req: &Request) -> Reply {
    let owner = account(shared, req.headers(), req.uri().query(), Access::Content)?;
    let Some(o) = shared.media.store.object(file_id, Some(&owner)) else {
        return Err(not_found(&format!("File not found: {file_id}.")));
    };
    let fault = ctx.fault(FaultTarget::Download);
    let read_fault = match fault {
        Some(FaultAction::Status(code) | FaultAction::ForgetSession(code)) => {
            return Err(fault_status(code));
        }
        Some(FaultAction::DropAfter(k)) => ReadFault::CutAfter(k),
        Some(FaultAction::Stall { after, duration }) => ReadFault::StallAfter(after, duration),
        _ => ReadFault::None,
    };
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let (status, start, len, content_range) = match requested_range(range, o.size) {
        Ok(None) => (StatusCode::OK, 0, o.size, None),
        Ok(Some((a, b))) => (
            StatusCode::PARTIAL_CONTENT,
            a,
            b - a + 1,
            Some(format!("bytes {a}-{b}/{}", o.size)),
        ),
        Err(()) => {
            let mut r = api_error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "requestedRangeNotSatisfiable",
                "Request range not satisfiable",
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", o.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Err(r);
        }
    };
    let path = shared
        .media
        .store
        .object_path(&o.id)
        .map_err(|e| internal(&e))?;
    let conn = ctx.conn.clone();
    let cuts = matches!(read_fault, ReadFault::CutAfter(k) if k < len);
    let rx = read_range(path, start, len, read_fault, move || {
        if let Some(c) = conn {
            c.kill();
        }
    });
    if cuts {
        // The status line goes out; the body breaks off.
        ctx.rec.fault = ctx.rec.fault.take().map(|f| f + " (mid-body)");
    }
    let mut r = Response::new(Body::from_stream(Blocks(rx)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    let mime = o
        .meta
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream");
    if let Ok(v) = HeaderValue::from_str(mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Some(cr) = content_range
        && let Ok(v) = HeaderValue::from_str(&cr)
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(r)
}

/// `GET /drive/v3/files`.
async fn list(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    list_files(&shared, &req).unwrap_or_else(|r| r)
}

/// The names a `q` of the form `name = '...' [and trashed = false]` asks for.
fn name_query(q: &str) -> Result<Option<String>, Response> {
    let unsupported = || {
        api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!(
                "Invalid Value: the emulator's Drive understands q = \"name = '...'\" and \"trashed = false\", joined by and; not `{q}`."
            ),
        )
    };
    let mut name = None;
    for clause in q.split(" and ") {
        let clause = clause.trim();
        if clause.is_empty() {
            continue;
        }
        if clause.replace(' ', "") == "trashed=false" {
            continue;
        }
        let Some(rest) = clause.strip_prefix("name") else {
            return Err(unsupported());
        };
        let rest = rest.trim_start();
        let Some(lit) = rest.strip_prefix('=') else {
            return Err(unsupported());
        };
        let lit = lit.trim();
        let inner = lit
            .strip_prefix('\'')
            .and_then(|l| l.strip_suffix('\''))
            .ok_or_else(unsupported)?;
        name = Some(inner.replace("\\'", "'").replace("\\\\", "\\"));
    }
    Ok(name)
}

fn list_files(shared: &Arc<Shared>, req: &Request) -> Reply {
    let owner = account(shared, req.headers(), req.uri().query(), Access::Metadata)?;
    let query = query_of(req);
    let sel = selection(&query, true)?;
    let invalid = |p: &str| {
        api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            &format!("Invalid Value for {p}"),
        )
    };
    let page_size = match query.get("pageSize") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(invalid("pageSize")),
        },
    };
    let start = match query.get("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => b64url_decode(t)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("files:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| invalid("pageToken"))?,
    };
    let name = name_query(query.get("q").map(String::as_str).unwrap_or(""))?;
    let mut files: Vec<Object> = shared
        .media
        .store
        .objects(Some(&owner))
        .into_iter()
        .filter(|o| {
            name.as_ref()
                .is_none_or(|n| o.meta.get("name").and_then(Value::as_str) == Some(n))
        })
        .collect();
    if let Some(order) = query.get("orderBy") {
        for key in order.split(',').rev() {
            let mut words = key.split_whitespace();
            let field = words.next().unwrap_or("");
            let desc = match words.next() {
                None => false,
                Some("desc") => true,
                Some("asc") => false,
                Some(_) => return Err(invalid("orderBy")),
            };
            match field {
                "createdTime" | "modifiedTime" => files.sort_by_key(|o| o.seq),
                "name" | "name_natural" => files.sort_by(|x, y| {
                    let n = |o: &Object| {
                        o.meta
                            .get("name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned()
                    };
                    n(x).cmp(&n(y))
                }),
                _ => return Err(invalid("orderBy")),
            }
            if desc {
                files.reverse();
            }
        }
    }
    let page: Vec<Value> = files
        .iter()
        .skip(start)
        .take(page_size)
        .map(file_json)
        .collect();
    let mut out = json!({
        "kind": "drive#fileList",
        "incompleteSearch": false,
        "files": page,
    });
    let next = start.saturating_add(page_size);
    if next < files.len() {
        out["nextPageToken"] = b64url(format!("files:{next}").as_bytes()).into();
    }
    Ok(axum::Json(sel.apply(&out)).into_response())
}

/// `DELETE /drive/v3/files/{fileId}`.
async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(file_id): Path<String>,
    req: Request,
) -> Response {
    let owner = match account(&shared, req.headers(), req.uri().query(), Access::Write) {
        Ok(o) => o,
        Err(r) => return r,
    };
    if shared.media.store.object(&file_id, Some(&owner)).is_none() {
        return not_found(&format!("File not found: {file_id}."));
    }
    shared.media.store.remove_object(&file_id);
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /drive/v3/files`: a file with metadata and no content.
async fn create_metadata(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let query = query_of(&req);
    if query.contains_key("uploadType") {
        return bad_request("Media uploads go to /upload/drive/v3/files.");
    }
    let owner = match account(&shared, req.headers(), req.uri().query(), Access::Write) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut body = BodyIn::new(req.into_body(), None);
    let raw = match body.read_small(MAX_METADATA).await {
        Ok(raw) => raw,
        Err(_) => return bad_request("The metadata is larger than 1 MiB."),
    };
    let mut meta = match parse_metadata(&raw) {
        Ok(m) => m,
        Err(r) => return r,
    };
    meta.entry("name").or_insert_with(|| "Untitled".into());
    let store = &shared.media.store;
    let id = shared.random(24);
    let made = store
        .object_path(&id)
        .and_then(|p| std::fs::File::create(p).map(|_| ()));
    if let Err(e) = made {
        return internal(&e);
    }
    let object = Object {
        id,
        owner,
        meta,
        size: 0,
        sha256: hex(new_hash().finish().as_ref()),
        created: timestamp(&shared),
        seq: 0,
    };
    let object = store.insert_object(object, 0);
    file_reply(&object, &query).unwrap_or_else(|r| r)
}

// ---------------------------------------------------------------------------------------
// Controls: faults and the request log over HTTP, for tests in other processes.

/// `POST /emulator/v1/media/faults`: arms the fault in the body (a [`MediaFault`] as JSON).
async fn arm_fault(State(shared): State<Arc<Shared>>, body: Body) -> Response {
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024).await else {
        return bad_request("A media fault is a small JSON object.");
    };
    match serde_json::from_slice::<MediaFault>(&body) {
        Ok(f) => {
            shared.media.faults().arm(f);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(&format!("Not a media fault: {e}.")),
    }
}

/// `DELETE /emulator/v1/media/faults`.
async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.media.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /emulator/v1/media/requests`: the log, oldest first.
async fn requests(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({"requests": shared.media.records().all()})).into_response()
}

/// `DELETE /emulator/v1/media/requests`.
async fn clear_requests(State(shared): State<Arc<Shared>>) -> Response {
    shared.media.records().clear();
    StatusCode::NO_CONTENT.into_response()
}

// ---------------------------------------------------------------------------------------
// The emulator's media API for tests in this process.

/// A file stored by the emulator's Drive, as tests see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StoredObject {
    /// The file id.
    pub id: String,
    /// The account that owns it.
    pub owner: String,
    /// Its name.
    pub name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Bytes of content.
    pub size: u64,
    /// Lowercase hex SHA-256 of the content (`sha256Checksum`).
    pub sha256: String,
}

impl From<Object> for StoredObject {
    fn from(o: Object) -> Self {
        let text = |k: &str, d: &str| {
            o.meta
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or(d)
                .to_owned()
        };
        StoredObject {
            name: text("name", "Untitled"),
            mime_type: text("mimeType", "application/octet-stream"),
            id: o.id,
            owner: o.owner,
            size: o.size,
            sha256: o.sha256,
        }
    }
}

impl Emulator {
    /// The files collection of its Drive v3 (`.../drive/v3/files`).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert_eq!(emu.drive_files_url(), format!("{}/drive/v3/files", emu.base_url()));
    /// ```
    pub fn drive_files_url(&self) -> String {
        format!("{}/drive/v3/files", self.base_url())
    }

    /// Where its Drive's uploads go (`.../upload/drive/v3/files`), before `uploadType`.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.drive_upload_url().ends_with("/upload/drive/v3/files"));
    /// ```
    pub fn drive_upload_url(&self) -> String {
        format!("{}/upload/drive/v3/files", self.base_url())
    }

    /// An access token for the first user with these scopes, as if they had signed in and
    /// consented: for tests of the APIs served here.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// let token = emu.access_token(&["https://www.googleapis.com/auth/drive"]);
    /// assert!(token.starts_with("ya29."));
    /// ```
    pub fn access_token(&self, scopes: &[&str]) -> String {
        self.user_access_token(0, scopes).unwrap_or_default()
    }

    /// An access token for the `user`th configured user (0 is the first) with these
    /// scopes; `None` past the last user.
    ///
    /// ```
    /// use gauth_emulator::{Emulator, EmulatorConfig, TestUser};
    /// let emu = Emulator::start(EmulatorConfig::default().user(TestUser::new("bob@example.com", "Bob"))).unwrap();
    /// assert!(emu.user_access_token(1, &["openid"]).is_some());
    /// assert!(emu.user_access_token(2, &["openid"]).is_none());
    /// ```
    pub fn user_access_token(&self, user: usize, scopes: &[&str]) -> Option<String> {
        let shared = &self.shared;
        shared.config.users.get(user)?;
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let client_id = shared
            .config
            .clients
            .first()
            .map(|c| c.client_id.clone())
            .unwrap_or_default();
        let mut store = shared.store();
        let grant = store.add_grant(Grant {
            client_id,
            subject: Subject::User(user),
            delegated_sub: None,
            scopes: scopes.clone(),
            offline: false,
            revoked: false,
            nonce: None,
        });
        Some(shared.issue_access(&mut store, grant, &scopes))
    }

    /// Arms a fault on the media endpoints (its count of matching requests starts now).
    ///
    /// ```
    /// use gauth_emulator::{Emulator, FaultAction, FaultTarget, MediaFault};
    /// let emu = Emulator::start(Default::default()).unwrap();
    /// emu.inject_media_fault(MediaFault::new(FaultTarget::Chunk, FaultAction::Status(503)).nth(2));
    /// emu.clear_media_faults();
    /// ```
    pub fn inject_media_fault(&self, fault: MediaFault) {
        self.shared.media.faults().arm(fault);
    }

    /// Disarms every media fault.
    pub fn clear_media_faults(&self) {
        self.shared.media.faults().clear();
    }

    /// The requests the media endpoints answered, oldest first (at most the last 10,000).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.media_requests().is_empty());
    /// ```
    pub fn media_requests(&self) -> Vec<crate::MediaRequest> {
        self.shared.media.records().all()
    }

    /// Empties the request log.
    pub fn clear_media_requests(&self) {
        self.shared.media.records().clear();
    }

    /// The stored file `id`, whoever owns it.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.media_object("none").is_none());
    /// ```
    pub fn media_object(&self, id: &str) -> Option<StoredObject> {
        self.shared.media.store.object(id, None).map(Into::into)
    }

    /// Every stored file, oldest first.
    pub fn media_objects(&self) -> Vec<StoredObject> {
        self.shared
            .media
            .store
            .objects(None)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Upload sessions open (completed ones included until they expire).
    pub fn upload_sessions(&self) -> usize {
        self.shared.media.store.session_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_read_as_google_writes_them() {
        assert_eq!(
            parse_content_range(Some("bytes 0-262143/1000000")).unwrap(),
            SessionRange::Chunk(0, 262_143, Some(1_000_000))
        );
        assert_eq!(
            parse_content_range(Some("bytes 262144-524287/*")).unwrap(),
            SessionRange::Chunk(262_144, 524_287, None)
        );
        assert_eq!(
            parse_content_range(Some("bytes */1000")).unwrap(),
            SessionRange::Query(Some(1000))
        );
        assert_eq!(
            parse_content_range(Some("bytes */*")).unwrap(),
            SessionRange::Query(None)
        );
        assert_eq!(parse_content_range(None).unwrap(), SessionRange::Whole);
        for bad in [
            "bytes 5-4/10",
            "bytes 0-10/10",
            "bytes 0-1",
            "0-1/2",
            "bytes a-b/c",
            "bytes -1/2",
            "bytes 0-1/-5",
        ] {
            assert!(parse_content_range(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_are_clamped_and_refused_past_the_end() {
        assert_eq!(requested_range(None, 10), Ok(None));
        assert_eq!(requested_range(Some("bytes=0-4"), 10), Ok(Some((0, 4))));
        assert_eq!(requested_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(requested_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
        assert_eq!(requested_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(requested_range(Some("bytes=-30"), 10), Ok(Some((0, 9))));
        assert_eq!(requested_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(requested_range(Some("bytes=0-0"), 0), Err(()));
        assert_eq!(requested_range(Some("bytes=-0"), 10), Err(()));
        // Ignored: several ranges, other units, junk.
        assert_eq!(requested_range(Some("bytes=0-1,3-4"), 10), Ok(None));
        assert_eq!(requested_range(Some("items=0-1"), 10), Ok(None));
        assert_eq!(requested_range(Some("bytes=4-2"), 10), Ok(None));
        assert_eq!(requested_range(Some("bytes=x-"), 10), Ok(None));
    }

    #[test]
    fn metadata_keeps_drive_fields_and_refuses_the_rest() {
        let ok = br#"{"name": "a.bin", "mimeType": "application/x", "parents": ["root"], "properties": {"k": "v"}}"#;
        assert_eq!(parse_metadata(ok).unwrap().len(), 4);
        assert!(parse_metadata(b"").unwrap().is_empty());
        for (bad, status) in [
            (&br#"{"id": "x"}"#[..], 403),
            (br#"{"starred": true}"#, 400),
            (br#"{"name": 5}"#, 400),
            (br#"[1]"#, 400),
            (b"{", 400),
        ] {
            assert_eq!(
                parse_metadata(bad).unwrap_err().status().as_u16(),
                status,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn header_and_query_parsers_never_panic(text in ".{0,80}", size in proptest::prelude::any::<u64>()) {
            let _ = parse_content_range(Some(&text));
            let _ = parse_content_range(Some(&format!("bytes {text}")));
            let _ = requested_range(Some(&text), size);
            let _ = requested_range(Some(&format!("bytes={text}")), size);
            let _ = name_query(&text);
            let _ = Selection::parse(&text);
            let _ = parse_metadata(text.as_bytes());
        }

        #[test]
        fn a_satisfiable_range_lies_within_the_content(
            a in 0u64..5000, b in 0u64..5000, size in 0u64..4000, suffix in proptest::prelude::any::<bool>(),
        ) {
            let h = if suffix { format!("bytes=-{a}") } else { format!("bytes={a}-{b}") };
            if let Ok(Some((x, y))) = requested_range(Some(&h), size) {
                proptest::prop_assert!(x <= y && y < size);
            }
        }
    }

    #[test]
    fn name_queries_are_understood_or_refused() {
        assert_eq!(name_query("").unwrap(), None);
        assert_eq!(
            name_query("name = 'a b' and trashed = false")
                .unwrap()
                .as_deref(),
            Some("a b")
        );
        assert_eq!(
            name_query("name='it\\'s'").unwrap().as_deref(),
            Some("it's")
        );
        assert!(name_query("mimeType = 'x'").is_err());
        assert!(name_query("name contains 'x'").is_err());
    }
}
