//! Streamed uploads, without I/O: media of any size read from a source the caller owns
//! (a file, any `Read` or `AsyncRead`), in constant memory.
//!
//! - Simple (`uploadType=media`) and multipart (`uploadType=multipart`: the metadata
//!   part, then the media part) send the source as the body while reading it
//!   ([`StreamedBody`]): nothing is assembled in memory. A streamed body cannot be sent
//!   twice, so these are not retried: use resumable uploads where failures must be
//!   survived.
//! - Resumable (`uploadType=resumable`, Google's protocol as googleapiclient speaks it):
//!   initiation with `X-Upload-Content-Type` / `X-Upload-Content-Length`, then chunks of
//!   [`UploadOptions::chunk_size`] (a multiple of 256 KiB) with `Content-Range`, each
//!   answered 308 with the `Range` the server has. A chunk that fails (5xx, 429, a dropped
//!   connection, a timeout) is followed, after oauth-core's backoff, by a status query
//!   (`Content-Range: bytes */TOTAL`) and the upload continues from the offset the server
//!   committed, never from zero. 404 or 410 on the session starts a new one (at most
//!   [`UploadOptions::max_restarts`] times). The session URL is handed to
//!   [`UploadOptions::on_session`] so that a program can keep it and continue after a
//!   restart with [`UploadOptions::resume_session`]; like every URL that carries
//!   credentials it must lie on the API's origin.
//!
//! [`ResumableUpload`] is the state of one resumable upload; the flavours' `upload`
//! methods drive it, reading the source when it asks ([`UploadStep`]).

use std::sync::Arc;
use std::time::Duration;

use http::header::{CONTENT_RANGE, LOCATION, RANGE};
use oauth_core::RetryPolicy;
use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::http::{Bytes, HttpRequest, HttpResponse, ResponseLimit, StreamedBody};
use oauth_core::retry::{RetryOn, retry_after, transport_error};

use crate::exchange::ApiCall;
use crate::media::Media;
use crate::origin::Origin;
use crate::request::ModelKind;
use crate::{ApiError, ApiResponse, CallOptions, Error, PreparedRequest, Request, UploadProtocol};

/// Google's chunk unit: every chunk but the last is a multiple of it.
pub const CHUNK_UNIT: usize = 256 * 1024;

/// The default chunk of a resumable upload: 8 MiB, so an upload holds at most two chunks
/// (16 MiB) whatever the media's size.
pub const DEFAULT_UPLOAD_CHUNK: usize = 8 << 20;

/// A progress callback: bytes the server has, and the media's size when known.
pub type Progress = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// A callback given each new upload session URL (to be kept for a resume after a restart).
pub type OnSession = Arc<dyn Fn(&str) + Send + Sync>;

/// What is uploaded: its type, its size when known, and whether its type is checked
/// against the method's accept list (as googleapiclient checks media given as a file).
///
/// ```
/// let m = discovery_client::upload::MediaInfo::new("video/mp4", Some(1 << 30));
/// assert_eq!((m.mime_type.as_str(), m.len), ("video/mp4", Some(1 << 30)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaInfo {
    /// The MIME type.
    pub mime_type: String,
    /// The size in bytes, when known (a file's; `None` for a pipe).
    pub len: Option<u64>,
    /// Whether the type is checked against the method's accept list.
    pub check_type: bool,
}

impl MediaInfo {
    /// Media of this type and size, its type not checked (as googleapiclient's
    /// `MediaIoBaseUpload`).
    pub fn new(mime_type: impl Into<String>, len: Option<u64>) -> MediaInfo {
        MediaInfo {
            mime_type: mime_type.into(),
            len,
            check_type: false,
        }
    }

    /// The type and size of a file: the type given, or guessed from its extension (an
    /// unknown one is an error naming `media_mime_type`); checked against the accept list.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let p = dir.path().join("a.png");
    /// std::fs::write(&p, b"1234").unwrap();
    /// let m = discovery_client::upload::MediaInfo::of_file(&p, None)?;
    /// assert_eq!((m.mime_type.as_str(), m.len), ("image/png", Some(4)));
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn of_file(path: &std::path::Path, mime_type: Option<&str>) -> Result<MediaInfo, Error> {
        let mime = crate::media::mime_of(path, mime_type)?;
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(path, &e))?
            .len();
        Ok(MediaInfo {
            mime_type: mime,
            len: Some(len),
            check_type: true,
        })
    }
}

/// How a streamed upload goes.
///
/// ```
/// use discovery_client::upload::UploadOptions;
/// let o = UploadOptions::resumable().chunk_size(16 << 20).max_restarts(2)
///     .on_progress(|done, total| eprintln!("{done} of {total:?}"));
/// assert!(o.is_resumable());
/// assert!(UploadOptions::resumable().chunk_size(1000).check("x").is_err(), "not a multiple of 256 KiB");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct UploadOptions {
    resumable: bool,
    /// Bytes per chunk of a resumable upload (a multiple of 256 KiB).
    pub chunk_size: usize,
    /// A session to continue (a URL [`UploadOptions::on_session`] was given before).
    pub session_url: Option<String>,
    /// How many times a session the server forgot (404/410) is started over.
    pub max_restarts: u32,
    /// The backoff between a failed chunk and the status query that follows it, and how
    /// many failures in a row are borne (the initiation is retried by the call's options).
    pub retry: RetryPolicy,
    progress: Option<Progress>,
    on_session: Option<OnSession>,
}

impl std::fmt::Debug for UploadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadOptions")
            .field("resumable", &self.resumable)
            .field("chunk_size", &self.chunk_size)
            .field("session_url", &self.session_url.as_ref().map(|_| "[set]"))
            .field("max_restarts", &self.max_restarts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for UploadOptions {
    /// A simple (or, with a body, multipart) upload.
    fn default() -> Self {
        UploadOptions {
            resumable: false,
            chunk_size: DEFAULT_UPLOAD_CHUNK,
            session_url: None,
            max_restarts: 1,
            retry: RetryPolicy::default().with_max_attempts(6),
            progress: None,
            on_session: None,
        }
    }
}

impl UploadOptions {
    /// A resumable upload in chunks of [`DEFAULT_UPLOAD_CHUNK`].
    pub fn resumable() -> Self {
        UploadOptions {
            resumable: true,
            ..UploadOptions::default()
        }
    }

    /// Whether the upload is resumable.
    pub fn is_resumable(&self) -> bool {
        self.resumable
    }

    /// Bytes per chunk (a multiple of 256 KiB; checked when the upload starts).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Continues the session at `url` (resumable): the server is asked what it has and
    /// the upload goes on from there; the source must hold the same media from its start.
    pub fn resume_session(mut self, url: impl Into<String>) -> Self {
        self.resumable = true;
        self.session_url = Some(url.into());
        self
    }

    /// How many times a forgotten session (404/410) is started over.
    pub fn max_restarts(mut self, n: u32) -> Self {
        self.max_restarts = n;
        self
    }

    /// The backoff and the number of failures in a row borne per chunk.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Called with the bytes the server has (and the size, when known) after each chunk
    /// of a resumable upload and at the end of any upload.
    pub fn on_progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Called with each new session URL of a resumable upload, to be kept.
    pub fn on_session(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_session = Some(Arc::new(f));
        self
    }

    /// The chunk size is a positive multiple of 256 KiB, as Google requires: an error
    /// naming `chunk_size` otherwise.
    pub fn check(&self, method: &str) -> Result<(), Error> {
        if self.chunk_size == 0 || !self.chunk_size.is_multiple_of(CHUNK_UNIT) {
            return Err(Error::InvalidValue {
                method: method.to_owned(),
                param: "chunk_size".into(),
                reason: format!(
                    "{} is not a positive multiple of 262144 (256 KiB)",
                    self.chunk_size
                ),
            });
        }
        Ok(())
    }

    pub(crate) fn report(&self, done: u64, total: Option<u64>) {
        if let Some(p) = &self.progress {
            p(done, total);
        }
    }
}

/// The request of a streamed upload prepared as googleapiclient prepares it, with the
/// media left out: what goes before and after the media, and the call options.
pub(crate) fn prepare(
    request: &Request,
    info: &MediaInfo,
    options: &UploadOptions,
) -> Result<PreparedRequest, Error> {
    let protocol = if options.resumable {
        options.check(&request.desc().id)?;
        UploadProtocol::Resumable {
            chunk_size: options.chunk_size,
        }
    } else {
        UploadProtocol::Simple
    };
    let media = Media::streamed(&info.mime_type, info.len, info.check_type);
    let mut prepared = request
        .clone()
        .media(media)
        .upload_protocol(protocol)
        .prepare()?;
    prepared.resumable = None;
    Ok(prepared)
}

/// The call of a simple or multipart upload: the body is `head`, the source, `tail`
/// (see [`PreparedRequest`]'s split), sent once.
pub(crate) fn simple_call(
    mut prepared: PreparedRequest,
    body: StreamedBody,
    mut options: CallOptions,
    kind: ModelKind,
    data_wrapper: bool,
) -> ApiCall {
    prepared.body = Bytes::new();
    options.retry = RetryPolicy::none();
    let mut call = ApiCall::new(prepared, options, kind, data_wrapper);
    call.streamed = Some(body);
    call
}

/// The bytes around the media of a simple or multipart upload's body.
pub(crate) fn frame(prepared: &PreparedRequest) -> (Bytes, Bytes) {
    let at = prepared.media_at.unwrap_or(0).min(prepared.body.len());
    (prepared.body.slice(..at), prepared.body.slice(at..))
}

/// What a resumable upload needs next from its driver.
pub enum UploadStep {
    /// Run this call (the session's initiation) and give its answer to
    /// [`ResumableUpload::on_initiated`].
    Initiate(ApiCall),
    /// Read this many bytes from the source (fewer only at its end) and hand them to
    /// [`ResumableUpload::filled`].
    Read(usize),
    /// Put the source at this offset from the media's start (0 to start over, the
    /// committed offset to continue a saved session), then go on.
    Seek(u64),
    /// Run this exchange and give its outcome to [`ResumableUpload::on_chunk`].
    Chunk(ChunkCall),
    /// Finished: the server's answer to the last chunk.
    Done(ApiResponse),
}

impl std::fmt::Debug for UploadStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UploadStep::Initiate(_) => f.write_str("Initiate"),
            UploadStep::Read(n) => write!(f, "Read({n})"),
            UploadStep::Seek(n) => write!(f, "Seek({n})"),
            UploadStep::Chunk(c) => write!(f, "Chunk({c:?})"),
            UploadStep::Done(a) => write!(f, "Done({})", a.status),
        }
    }
}

/// What one chunk (or status query) came to.
#[derive(Debug)]
pub enum ChunkOutcome {
    /// 308: the server has the bytes before this offset.
    Committed(u64),
    /// 200/201: the upload is complete.
    Complete(ApiResponse),
    /// 404/410: the server forgot the session.
    Gone(ApiResponse),
}

/// The state of one resumable upload (see the [module](self) documentation).
pub struct ResumableUpload {
    initiation: PreparedRequest,
    call: CallOptions,
    kind: ModelKind,
    data_wrapper: bool,
    origin: Origin,
    options: UploadOptions,
    session: Option<String>,
    /// Media bytes from `start`, read but not yet committed: the chunk being sent (shared
    /// with its request, never copied), or what of it the server did not take.
    held: Bytes,
    start: u64,
    /// Where the source stands (`start + held.len()` once it is positioned).
    source_at: Option<u64>,
    /// The media's size: known from the start, or once the source ended.
    total: Option<u64>,
    /// Ask the server what it has before sending (a saved session).
    query_first: bool,
    /// The answer expected is that first query's: any offset within the media stands.
    resuming: bool,
    /// Chunks answered without progress, in a row.
    stalled: u32,
    /// The bytes last asked of the source (fewer mean it ended).
    asked: usize,
    finished: bool,
}

impl std::fmt::Debug for ResumableUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumableUpload")
            .field("method", &self.initiation.method_id)
            .field("committed", &self.start)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl ResumableUpload {
    /// The upload of `info` through `request`, on the service's `origin`.
    pub fn new(
        request: &Request,
        info: &MediaInfo,
        call: CallOptions,
        options: UploadOptions,
        origin: &Origin,
    ) -> Result<ResumableUpload, Error> {
        let options = UploadOptions {
            resumable: true,
            ..options
        };
        let initiation = prepare(request, info, &options)?;
        let mut up = ResumableUpload {
            initiation,
            call,
            kind: request.model_kind(),
            data_wrapper: request.api.model.data_wrapper,
            origin: origin.clone(),
            session: None,
            held: Bytes::new(),
            start: 0,
            source_at: Some(0),
            total: info.len,
            query_first: false,
            resuming: false,
            stalled: 0,
            asked: 0,
            finished: false,
            options,
        };
        if let Some(url) = up.options.session_url.clone() {
            up.check_session(&url)?;
            up.session = Some(url);
            up.query_first = true;
        }
        Ok(up)
    }

    /// The session URL, once there is one (to keep for [`UploadOptions::resume_session`]).
    pub fn session_url(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Bytes the server has.
    pub fn committed(&self) -> u64 {
        self.start
    }

    /// The media's size, when known.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// What to do next.
    pub fn next_step(&mut self) -> UploadStep {
        let Some(session) = self.session.clone() else {
            let call = ApiCall::new(
                self.initiation.clone(),
                self.call,
                self.kind,
                self.data_wrapper,
            )
            .on_origin(&self.origin);
            return UploadStep::Initiate(call);
        };
        if self.query_first {
            self.query_first = false;
            self.resuming = true;
            return UploadStep::Chunk(self.chunk_call(session, None));
        }
        let end = self.start + self.held.len() as u64;
        if self.source_at != Some(end) {
            return UploadStep::Seek(end);
        }
        if self.held.is_empty() {
            let chunk = self.options.chunk_size;
            let want = match self.total {
                Some(t) => usize::try_from(t.saturating_sub(end)).map_or(chunk, |n| n.min(chunk)),
                None => chunk,
            };
            if want > 0 {
                self.asked = want;
                return UploadStep::Read(want);
            }
        }
        // A chunk, or (nothing left to read) the empty last one.
        UploadStep::Chunk(self.chunk_call(session, Some(self.held.clone())))
    }

    /// The bytes read after [`UploadStep::Read`]: fewer than asked means the source ended.
    pub fn filled(&mut self, bytes: Bytes) -> Result<(), Error> {
        let end = self.start + bytes.len() as u64;
        self.source_at = Some(end);
        if bytes.len() < self.asked {
            match self.total {
                Some(t) if end < t => {
                    return Err(Error::Io {
                        path: "(upload source)".into(),
                        reason: format!("the source ended after {end} of the {t} bytes announced"),
                    });
                }
                Some(_) => {}
                None => self.total = Some(end),
            }
        }
        self.held = bytes;
        Ok(())
    }

    /// The source was put where [`UploadStep::Seek`] asked.
    pub fn seeked(&mut self, offset: u64) {
        self.source_at = Some(offset);
    }

    /// The initiation's answer: the session URL from `Location`, on the API's origin.
    pub fn on_initiated(&mut self, answer: ApiResponse) -> Result<(), Error> {
        let Some(url) = answer
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return Err(malformed(
                &answer.endpoint,
                "no Location for the upload session",
            ));
        };
        self.check_session(&url)?;
        if let Some(f) = &self.options.on_session {
            f(&url);
        }
        self.session = Some(url);
        Ok(())
    }

    /// A chunk's (or query's) outcome.
    pub fn on_chunk(&mut self, outcome: ChunkOutcome) -> Result<Option<ApiResponse>, Error> {
        match outcome {
            ChunkOutcome::Complete(answer) => {
                self.finished = true;
                let done = self.total.unwrap_or(self.start + self.held.len() as u64);
                self.options.report(done, Some(done));
                Ok(Some(answer))
            }
            ChunkOutcome::Committed(offset) => self.committed_to(offset).map(|()| None),
            ChunkOutcome::Gone(answer) => {
                if self.options.max_restarts == 0 {
                    return Err(Error::Api(Box::new(ApiError::from_response(
                        answer.status,
                        &answer.endpoint,
                        &answer.body,
                    ))));
                }
                self.options.max_restarts -= 1;
                tracing::debug!("the upload session is gone; starting a new one");
                self.session = None;
                self.start = 0;
                self.held = Bytes::new();
                self.stalled = 0;
                if self.source_at != Some(0) {
                    self.source_at = None;
                }
                Ok(None)
            }
        }
    }

    /// The server has every byte before `offset`: the buffer drops them.
    fn committed_to(&mut self, offset: u64) -> Result<(), Error> {
        let end = self.start + self.held.len() as u64;
        let resuming = std::mem::take(&mut self.resuming);
        let known_end = if resuming {
            u64::MAX
        } else {
            self.source_at.map_or(end, |at| at.max(end))
        };
        if offset > known_end || self.total.is_some_and(|t| offset > t) {
            return Err(malformed(
                &self.initiation.url,
                &format!("the server claims {offset} bytes, more than were sent"),
            ));
        }
        if offset <= self.start && !resuming {
            self.stalled += 1;
            if self.stalled > self.options.retry.max_attempts.max(1) + 2 {
                return Err(malformed(
                    &self.initiation.url,
                    "the upload makes no progress",
                ));
            }
        } else {
            self.stalled = 0;
        }
        if offset >= self.start && offset <= end {
            self.held = self.held.slice((offset - self.start) as usize..);
        } else {
            // Behind what is buffered (a saved session's first answer, or a server that
            // lost bytes): read again from there.
            self.held = Bytes::new();
            self.source_at = None;
        }
        self.start = offset;
        self.options.report(offset, self.total);
        Ok(())
    }

    fn chunk_call(&self, session: String, body: Option<Bytes>) -> ChunkCall {
        let total = self.total.map_or("*".to_owned(), |t| t.to_string());
        let range = match &body {
            Some(b) if !b.is_empty() => format!(
                "bytes {}-{}/{total}",
                self.start,
                self.start + b.len() as u64 - 1
            ),
            _ => format!("bytes */{total}"),
        };
        ChunkCall {
            session,
            origin: self.origin.clone(),
            method_id: self.initiation.method_id.clone(),
            body,
            range,
            query: format!("bytes */{total}"),
            retry: self.options.retry,
            response_limit: self.call.response_limit,
            kind: self.kind,
            data_wrapper: self.data_wrapper,
            attempts: 0,
            querying: false,
        }
    }

    /// An upload session URL must be on the API's scheme, host and port: the session's
    /// requests carry the Authorization header.
    fn check_session(&self, url: &str) -> Result<(), Error> {
        self.origin.admits(url).map_err(|found| {
            Error::foreign(
                &self.initiation.method_id,
                "upload session URL",
                found.as_ref(),
                &self.origin,
            )
        })
    }
}

fn malformed(endpoint: &str, reason: &str) -> Error {
    Error::Core(oauth_core::Error::MalformedResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    })
}

/// One chunk of a resumable upload (or, with no body, a status query), as an exchange: a
/// failure is followed by a backoff and a status query, until the server answers or the
/// retry policy gives up.
pub struct ChunkCall {
    session: String,
    origin: Origin,
    method_id: String,
    body: Option<Bytes>,
    range: String,
    query: String,
    retry: RetryPolicy,
    response_limit: usize,
    kind: ModelKind,
    data_wrapper: bool,
    attempts: u32,
    querying: bool,
}

impl std::fmt::Debug for ChunkCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkCall")
            .field("range", &self.range)
            .field("querying", &self.querying)
            .finish_non_exhaustive()
    }
}

impl ChunkCall {
    fn request(&self) -> Result<HttpRequest, Error> {
        let (body, range) = match (&self.body, self.querying) {
            (Some(b), false) => (b.clone(), &self.range),
            _ => (Bytes::new(), &self.query),
        };
        let len = body.len();
        let mut req = http::Request::new(body);
        *req.method_mut() = http::Method::PUT;
        // Said even when 0, as googleapiclient says it.
        req.headers_mut()
            .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
        *req.uri_mut() = self
            .session
            .parse()
            .map_err(|_| malformed(&self.method_id, "invalid upload session URL"))?;
        // Empty media goes as one empty PUT without a range, as googleapiclient sends it.
        if range != "bytes */0" || self.querying {
            req.headers_mut().insert(
                CONTENT_RANGE,
                range
                    .parse()
                    .map_err(|_| malformed(&self.method_id, "invalid Content-Range"))?,
            );
        }
        req.extensions_mut()
            .insert(ResponseLimit(self.response_limit));
        req.extensions_mut().insert(self.origin.clone());
        crate::encoding::offer(&mut req);
        Ok(req)
    }

    fn endpoint(&self) -> String {
        self.session
            .parse::<http::Uri>()
            .map(|u| oauth_core::http::endpoint_label(&u))
            .unwrap_or_else(|_| self.method_id.clone())
    }

    fn retry_or_fail(
        &mut self,
        error: Error,
        retryable: bool,
        after: Option<Duration>,
    ) -> Step<Result<ChunkOutcome, Error>> {
        match self.retry.next_delay(self.attempts, retryable, after) {
            Some(delay) => {
                tracing::debug!(attempt = self.attempts, ?delay, %error, "upload chunk failed; asking the server what it has");
                self.querying = true;
                Step::Wait(delay)
            }
            None => Step::Done(Ok(Err(error))),
        }
    }

    fn answer(
        &mut self,
        resp: HttpResponse,
        after: Option<Duration>,
    ) -> Step<Result<ChunkOutcome, Error>> {
        let endpoint = self.endpoint();
        let resp = match crate::encoding::decode(resp, self.response_limit, &endpoint) {
            Ok(r) => r,
            Err(e) => return Step::Done(Ok(Err(e.into()))),
        };
        let status = resp.status().as_u16();
        if status == 308 {
            return Step::Done(Ok(Ok(ChunkOutcome::Committed(received(&resp)))));
        }
        let (head, body) = resp.into_parts();
        let answer = ApiResponse {
            status,
            headers: head.headers,
            body,
            kind: self.kind,
            data_wrapper: self.data_wrapper,
            endpoint,
            stream: None,
        };
        match status {
            200..=299 => Step::Done(Ok(Ok(ChunkOutcome::Complete(answer)))),
            404 | 410 => Step::Done(Ok(Ok(ChunkOutcome::Gone(answer)))),
            _ => {
                let retryable = RetryOn::API.response(status, &answer.body);
                let error = Error::Api(Box::new(ApiError::from_response(
                    status,
                    &answer.endpoint,
                    &answer.body,
                )));
                self.retry_or_fail(error, retryable, after)
            }
        }
    }
}

/// The committed length from a 308's `Range: bytes=0-N` (none: nothing yet).
fn received(resp: &HttpResponse) -> u64 {
    resp.headers()
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('-').next())
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map_or(0, |n| n.saturating_add(1))
}

impl Exchange for ChunkCall {
    type Output = Result<ChunkOutcome, Error>;

    fn step(&mut self, input: Input) -> Step<Self::Output> {
        match input {
            Input::Start | Input::Waited => {
                self.attempts += 1;
                match self.request() {
                    Ok(r) => Step::Send(r),
                    Err(e) => Step::Done(Ok(Err(e))),
                }
            }
            Input::Response(Err(e)) => {
                let retryable = RetryOn::API.transport(&e);
                let error = Error::Core(transport_error(self.endpoint(), e));
                self.retry_or_fail(error, retryable, None)
            }
            Input::Response(Ok(resp)) => {
                let after = retry_after(&resp);
                self.answer(resp, after)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Api;

    const DOC: &str = r#"{"name":"u","version":"v1","rootUrl":"https://u.googleapis.com/","servicePath":"u/v1/",
      "methods":{"insert":{"id":"u.insert","path":"files","httpMethod":"POST","request":{"$ref":"F"},
      "response":{"$ref":"F"},"mediaUpload":{"accept":["*/*"],"protocols":{"resumable":{"path":"/upload/u/v1/files"}}}}}}"#;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Input {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        Input::Response(Ok(b.body(Bytes::new()).unwrap()))
    }

    fn upload(len: Option<u64>) -> ResumableUpload {
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        let req = api
            .method("insert")
            .unwrap()
            .body(serde_json::json!({"name": "f"}));
        let origin = Origin::parse("https://u.googleapis.com/").unwrap();
        let options = UploadOptions::resumable()
            .chunk_size(CHUNK_UNIT)
            .retry(RetryPolicy::default().with_max_attempts(3));
        ResumableUpload::new(
            &req,
            &MediaInfo::new("text/plain", len),
            CallOptions::default(),
            options,
            &origin,
        )
        .unwrap()
    }

    /// Runs a chunk exchange over `answers`; the requests' Content-Range values.
    fn run(call: &mut ChunkCall, answers: Vec<Input>) -> (Vec<String>, ChunkOutcome) {
        let mut ranges = Vec::new();
        let mut input = Input::Start;
        let mut answers = answers.into_iter();
        loop {
            match call.step(input) {
                Step::Send(r) => {
                    ranges.push(r.headers()["content-range"].to_str().unwrap().to_owned());
                    input = answers.next().expect("an answer");
                }
                Step::Wait(_) => input = Input::Waited,
                Step::Done(r) => return (ranges, r.unwrap().unwrap()),
            }
        }
    }

    #[test]
    fn a_failed_chunk_is_queried_and_only_what_the_server_lacks_is_sent_again() {
        let total = 2 * CHUNK_UNIT as u64 + 10;
        let mut up = upload(Some(total));
        let UploadStep::Initiate(_) = up.next_step() else {
            panic!()
        };
        let headers: http::HeaderMap = [(
            LOCATION,
            "https://u.googleapis.com/upload?upload_id=1"
                .parse()
                .unwrap(),
        )]
        .into_iter()
        .collect();
        let initiated = ApiResponse {
            status: 200,
            headers,
            body: Bytes::new(),
            kind: ModelKind::Json,
            data_wrapper: false,
            endpoint: "e".into(),
            stream: None,
        };
        up.on_initiated(initiated).unwrap();
        assert!(matches!(up.next_step(), UploadStep::Read(n) if n == CHUNK_UNIT));
        up.filled(Bytes::from(vec![1u8; CHUNK_UNIT])).unwrap();
        let UploadStep::Chunk(mut c) = up.next_step() else {
            panic!()
        };
        // 503, then the query says the server has 100 bytes.
        let (ranges, outcome) = run(
            &mut c,
            vec![answer(503, &[]), answer(308, &[("range", "bytes=0-99")])],
        );
        assert_eq!(
            ranges,
            [
                format!("bytes 0-262143/{total}"),
                format!("bytes */{total}")
            ]
        );
        assert!(up.on_chunk(outcome).unwrap().is_none());
        assert_eq!(up.committed(), 100);
        // The rest of the chunk from memory, not from the source.
        let UploadStep::Chunk(mut c) = up.next_step() else {
            panic!()
        };
        let (ranges, outcome) = run(&mut c, vec![answer(308, &[("range", "bytes=0-262143")])]);
        assert_eq!(ranges, [format!("bytes 100-262143/{total}")]);
        up.on_chunk(outcome).unwrap();
        assert!(matches!(up.next_step(), UploadStep::Read(n) if n == CHUNK_UNIT));
        // A source shorter than announced is an error, not a short upload.
        assert!(up.filled(Bytes::from(vec![2u8; 5])).is_err());
    }

    #[test]
    fn a_forgotten_session_starts_over_from_byte_zero_at_most_as_often_as_allowed() {
        let mut up = upload(None);
        up.session = Some("https://u.googleapis.com/upload?upload_id=1".into());
        up.start = CHUNK_UNIT as u64;
        up.source_at = Some(CHUNK_UNIT as u64);
        let gone = || ApiResponse {
            status: 410,
            headers: http::HeaderMap::new(),
            body: Bytes::new(),
            kind: ModelKind::Json,
            data_wrapper: false,
            endpoint: "e".into(),
            stream: None,
        };
        assert!(up.on_chunk(ChunkOutcome::Gone(gone())).unwrap().is_none());
        assert!(matches!(up.next_step(), UploadStep::Initiate(_)));
        assert_eq!(up.committed(), 0);
        up.session = Some("https://u.googleapis.com/upload?upload_id=2".into());
        assert!(matches!(up.next_step(), UploadStep::Seek(0)));
        assert!(
            matches!(up.on_chunk(ChunkOutcome::Gone(gone())), Err(Error::Api(e)) if e.status == 410)
        );
    }
}
