//! Batch requests (googleapiclient's `BatchHttpRequest`), without I/O: up to
//! [`MAX_BATCH_SIZE`] calls sent as one `multipart/mixed` POST to the API's `batchPath`,
//! each call an `application/http` part, and the `multipart/mixed` answer split back into
//! one result per call.
//!
//! The body is googleapiclient's, part for part: the same part headers
//! (`Content-Type: application/http`, `MIME-Version`, `Content-Transfer-Encoding:
//! binary`, `Content-ID: <BASE + ID>`), the same request line and header order, an
//! `Authorization` header in every part, and the same boundary form; lines end in CRLF,
//! as HTTP and MIME require (googleapiclient writes LF).
//!
//! ```
//! # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"d/v1/",
//! #  "batchPath":"batch/d/v1","methods":{"get":{"id":"d.get","path":"files/{id}","httpMethod":"GET",
//! #  "parameters":{"id":{"type":"string","location":"path","required":true}},"response":{"$ref":"F"}}}}"#;
//! use discovery_client::batch::BatchRequest;
//! let api = discovery_client::Api::from_document(doc)?;
//! let mut batch = BatchRequest::for_api(&api).with_ids("base", "==b==");
//! assert_eq!(batch.add(&api.method("get")?.param("id", "a"))?, "1");
//! batch.add_with_id(&api.method("get")?.param("id", "b"), "mine")?;
//! let outer = batch.prepare(&http::HeaderMap::new());
//! assert_eq!(outer.url, "https://d.googleapis.com/batch/d/v1");
//! let body = String::from_utf8(outer.body.to_vec()).unwrap();
//! assert!(body.starts_with("--==b==\r\nContent-Type: application/http\r\n"));
//! assert!(body.contains("Content-ID: <base + 1>\r\n\r\nGET /d/v1/files/a?alt=json HTTP/1.1\r\n"));
//!
//! // The answer, split back into one result per call, in the order they were added.
//! let answer = "--x\r\nContent-Type: application/http\r\nContent-ID: <response-base + mine>\r\n\r\n\
//!     HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n{\"error\":{\"code\":404,\"message\":\"gone\"}}\r\n\
//!     --x\r\nContent-Type: application/http\r\nContent-ID: <response-base + 1>\r\n\r\n\
//!     HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\":\"a\"}\r\n--x--\r\n";
//! let results = batch.parse_response(Some("multipart/mixed; boundary=x"), answer.as_bytes())?;
//! assert_eq!(results[0].id, "1");
//! assert_eq!(results[0].result.as_ref().unwrap().json()["id"], "a");
//! assert_eq!(results[1].result.as_ref().unwrap_err().api().unwrap().status, 404);
//! # Ok::<(), discovery_client::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::http::{Bytes, endpoint_label};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::exchange::ApiCall;
use crate::origin::Origin;
use crate::request::ModelKind;
use crate::{Api, ApiError, ApiResponse, CallOptions, Error, PreparedRequest, Request};

/// The most calls one batch may hold (googleapiclient's `MAX_BATCH_LIMIT`, Google's
/// documented limit).
pub const MAX_BATCH_SIZE: usize = 1000;

/// The header a part carries besides Authorization, when the credentials set it.
const QUOTA_PROJECT: &str = "x-goog-user-project";

/// Headers of one part, answer or request, kept at most (bounded work on outside input).
const MAX_PART_HEADERS: usize = 128;

/// Python's `urllib.parse.quote` (safe `/`), which googleapiclient applies to ids.
const ID_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

struct Part {
    id: String,
    prepared: PreparedRequest,
    meta: PartMeta,
}

#[derive(Clone)]
struct PartMeta {
    kind: ModelKind,
    data_wrapper: bool,
    endpoint: String,
}

/// Calls gathered for one batch: built and answered without I/O. The flavours'
/// `Service::new_batch_http_request()` wraps one and sends it.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
/// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
/// let api = discovery_client::Api::from_document(doc)?;
/// let mut batch = discovery_client::batch::BatchRequest::for_api(&api);
/// assert_eq!(batch.url(), "https://d.googleapis.com/batch");
/// batch.add(&api.method("ping")?)?;
/// assert_eq!(batch.len(), 1);
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub struct BatchRequest {
    url: String,
    /// The batch URL's origin: every call in the batch must be on it, since each part
    /// carries the credentials to the batch URL.
    origin: Option<Origin>,
    base_id: String,
    boundary: String,
    parts: Vec<Part>,
    last_auto_id: u64,
}

impl std::fmt::Debug for BatchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchRequest")
            .field("url", &self.url)
            .field("calls", &self.parts.len())
            .finish_non_exhaustive()
    }
}

impl BatchRequest {
    /// An empty batch sent to `url`, with a random base for its Content-IDs (a UUID, as
    /// googleapiclient's) and a random boundary.
    ///
    /// ```
    /// let b = discovery_client::batch::BatchRequest::new("https://www.googleapis.com/batch/drive/v3");
    /// assert!(b.is_empty());
    /// assert!(b.boundary().starts_with("==============="));
    /// ```
    pub fn new(url: impl Into<String>) -> BatchRequest {
        let url = url.into();
        let origin = Origin::parse(&url);
        let r = random_bytes();
        let mut base_id = String::with_capacity(36);
        for (i, b) in r.iter().take(16).enumerate() {
            // UUID version 4, variant 1.
            let b = match i {
                6 => (b & 0x0f) | 0x40,
                8 => (b & 0x3f) | 0x80,
                _ => *b,
            };
            if matches!(i, 4 | 6 | 8 | 10) {
                base_id.push('-');
            }
            let _ = write!(base_id, "{b:02x}");
        }
        let n = r[16..24]
            .iter()
            .fold(0u64, |acc, b| acc.wrapping_shl(8) | u64::from(*b));
        // Python's email package: fifteen `=`, nineteen digits, two `=`.
        let boundary = format!("==============={:019}==", n % 10_000_000_000_000_000_000);
        BatchRequest {
            url,
            origin,
            base_id,
            boundary,
            parts: Vec::new(),
            last_auto_id: 0,
        }
    }

    /// An empty batch for the API's `batchPath` (googleapiclient's
    /// `service.new_batch_http_request()`), on the API's root origin.
    pub fn for_api(api: &Api) -> BatchRequest {
        let mut batch = BatchRequest::new(api.batch_url());
        batch.origin = Some(api.root_origin().clone());
        batch
    }

    /// Fixes the Content-ID base and the boundary (tests, reproducible bodies).
    pub fn with_ids(mut self, base_id: impl Into<String>, boundary: impl Into<String>) -> Self {
        self.base_id = base_id.into();
        self.boundary = boundary.into();
        self
    }

    /// Adds a call under the next free numeric id (`1`, `2`, ... as googleapiclient
    /// numbers them) and returns that id. The call is validated now: an invalid call is
    /// its own error, as with `prepare`; media uploads and a full batch are refused.
    pub fn add(&mut self, request: &Request) -> Result<String, Error> {
        self.check_room()?;
        let mut id = self.last_auto_id + 1;
        while self.parts.iter().any(|p| p.id == id.to_string()) {
            id += 1;
        }
        let id_text = id.to_string();
        self.push(request, id_text.clone())?;
        self.last_auto_id = id;
        Ok(id_text)
    }

    /// Adds a call under an id of the caller's (googleapiclient's `request_id`); an id
    /// already in the batch is refused.
    pub fn add_with_id(&mut self, request: &Request, id: &str) -> Result<(), Error> {
        self.check_room()?;
        if self.parts.iter().any(|p| p.id == id) {
            return Err(Error::InvalidBatch {
                reason: format!(
                    "a call with id `{}` is already in the batch",
                    id.escape_debug()
                ),
            });
        }
        self.push(request, id.to_owned())
    }

    fn check_room(&self) -> Result<(), Error> {
        if self.parts.len() >= MAX_BATCH_SIZE {
            return Err(Error::InvalidBatch {
                reason: format!("a batch holds at most {MAX_BATCH_SIZE} calls"),
            });
        }
        Ok(())
    }

    fn push(&mut self, request: &Request, id: String) -> Result<(), Error> {
        if request.media.is_some() {
            return Err(Error::InvalidBatch {
                reason: format!(
                    "{}: media uploads cannot be part of a batch",
                    request.method_id()
                ),
            });
        }
        let prepared = request.prepare()?;
        // Every part carries the credentials: a call on another origin than the batch
        // URL does not belong in it.
        match &self.origin {
            Some(origin) => origin.admits(&prepared.url).map_err(|found| {
                Error::foreign(
                    &prepared.method_id,
                    "batched call's URL",
                    found.as_ref(),
                    origin,
                )
            })?,
            None => {
                return Err(Error::InvalidBatch {
                    reason: "the batch URL is not an http(s) URL with a host".into(),
                });
            }
        }
        let endpoint = prepared
            .url
            .parse::<http::Uri>()
            .map(|u| endpoint_label(&u))
            .unwrap_or_else(|_| prepared.method_id.clone());
        self.parts.push(Part {
            id,
            prepared,
            meta: PartMeta {
                kind: request.model_kind(),
                data_wrapper: request.api.model.data_wrapper,
                endpoint,
            },
        });
        Ok(())
    }

    /// The number of calls.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether the batch holds no call.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The batch of the calls at `indices` only (same ids, URL and base id, a new
    /// boundary): what is sent again when those calls were answered 401.
    ///
    /// ```
    /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
    /// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
    /// let api = discovery_client::Api::from_document(doc)?;
    /// let mut batch = discovery_client::batch::BatchRequest::for_api(&api);
    /// for _ in 0..3 { batch.add(&api.method("ping")?)?; }
    /// let again = batch.subset(&[2]);
    /// assert_eq!(again.ids().collect::<Vec<_>>(), ["3"]);
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn subset(&self, indices: &[usize]) -> BatchRequest {
        let mut out = BatchRequest::new(self.url.clone());
        out.origin = self.origin.clone();
        out.base_id = self.base_id.clone();
        out.last_auto_id = self.last_auto_id;
        out.parts = indices
            .iter()
            .filter_map(|&i| self.parts.get(i))
            .map(|p| Part {
                id: p.id.clone(),
                prepared: p.prepared.clone(),
                meta: p.meta.clone(),
            })
            .collect();
        out
    }

    /// The calls' ids, in the order they were added.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().map(|p| p.id.as_str())
    }

    /// Where the batch goes.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The multipart boundary.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// The outer request: a POST of the `multipart/mixed` body to the batch URL.
    /// `credentials` holds the headers the caller's credentials set (`authorization`,
    /// `x-goog-user-project`); each part carries them, as googleapiclient's parts do.
    pub fn prepare(&self, credentials: &HeaderMap) -> PreparedRequest {
        PreparedRequest {
            method: http::Method::POST,
            url: self.url.clone(),
            headers: vec![(
                CONTENT_TYPE.as_str().into(),
                format!("multipart/mixed; boundary=\"{}\"", self.boundary),
            )],
            body: Bytes::from(self.body(credentials)),
            resumable: None,
            media_at: None,
            method_id: "batch".into(),
        }
    }

    /// The `multipart/mixed` body.
    pub fn body(&self, credentials: &HeaderMap) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(self.parts.len() * 512);
        for part in &self.parts {
            let p = &part.prepared;
            let mut head = String::with_capacity(512);
            let _ = write!(
                head,
                "--{}\r\nContent-Type: application/http\r\nMIME-Version: 1.0\r\n\
                 Content-Transfer-Encoding: binary\r\nContent-ID: <{} + {}>\r\n\r\n",
                self.boundary,
                self.base_id,
                utf8_percent_encode(&part.id, ID_QUOTE)
            );
            let (host, target) = split_url(&p.url);
            let content_type = p
                .headers
                .iter()
                .find(|(k, _)| k == CONTENT_TYPE.as_str())
                .map_or("application/json", |(_, v)| v.as_str());
            let _ = write!(
                head,
                "{} {} HTTP/1.1\r\nContent-Type: {}\r\nMIME-Version: 1.0\r\n",
                p.method, target, content_type
            );
            for (k, v) in &p.headers {
                if k != CONTENT_TYPE.as_str() {
                    let _ = write!(head, "{k}: {v}\r\n");
                }
            }
            out.extend_from_slice(head.as_bytes());
            for name in [AUTHORIZATION.as_str(), QUOTA_PROJECT] {
                if let Some(v) = credentials.get(name) {
                    out.extend_from_slice(name.as_bytes());
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(v.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
            let mut tail = format!("Host: {host}\r\n");
            if !p.body.is_empty() {
                let _ = write!(tail, "content-length: {}\r\n", p.body.len());
            }
            tail.push_str("\r\n");
            out.extend_from_slice(tail.as_bytes());
            out.extend_from_slice(&p.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        out
    }

    /// The exchange that sends the batch (with the outer request retried by `options`'
    /// policy) and splits the answer.
    pub fn exchange(&self, credentials: &HeaderMap, options: CallOptions) -> BatchCall {
        BatchCall {
            call: ApiCall::new(self.prepare(credentials), options, ModelKind::Raw, false),
            parts: self
                .parts
                .iter()
                .map(|p| (p.id.clone(), p.meta.clone()))
                .collect(),
            empty: self.parts.is_empty(),
        }
    }

    /// Splits a `multipart/mixed` answer into one result per call, in the order the calls
    /// were added. `content_type` is the answer's Content-Type header. A call whose part
    /// is missing gets a [`oauth_core::Error::MalformedResponse`]; an answer that is not
    /// a complete `multipart/mixed` body is an error as a whole.
    pub fn parse_response(
        &self,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<BatchResult>, Error> {
        let metas: Vec<(String, PartMeta)> = self
            .parts
            .iter()
            .map(|p| (p.id.clone(), p.meta.clone()))
            .collect();
        parse_answer(&self.url, &metas, content_type, body)
    }
}

/// The result of one call of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchResult {
    /// The call's id.
    pub id: String,
    /// Its answer: a 2xx as an [`ApiResponse`] (`json()`, `decode()`, headers), any other
    /// status as [`Error::Api`] with Google's error body.
    pub result: Result<ApiResponse, Error>,
}

impl BatchResult {
    /// Whether the call was answered 401: its credentials were refused (the flavours'
    /// `Batch::execute` refreshes once and sends those calls again).
    pub fn is_unauthorized(&self) -> bool {
        matches!(&self.result, Err(Error::Api(e)) if e.status == 401)
    }
}

/// The calls of `results` answered 401, by index.
pub(crate) fn unauthorized(results: &[BatchResult]) -> Vec<usize> {
    results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_unauthorized())
        .map(|(i, _)| i)
        .collect()
}

/// Puts the answers of a resend back in their calls' places.
pub(crate) fn merge(results: &mut [BatchResult], indices: &[usize], again: Vec<BatchResult>) {
    for (&i, r) in indices.iter().zip(again) {
        if let Some(slot) = results.get_mut(i) {
            *slot = r;
        }
    }
}

/// A batch on the wire, as an [`Exchange`]: the outer POST (retried like any call) and
/// then the split answer.
pub struct BatchCall {
    call: ApiCall,
    parts: Vec<(String, PartMeta)>,
    empty: bool,
}

impl std::fmt::Debug for BatchCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchCall")
            .field("calls", &self.parts.len())
            .finish_non_exhaustive()
    }
}

impl Exchange for BatchCall {
    type Output = Result<Vec<BatchResult>, Error>;

    fn step(&mut self, input: Input) -> Step<Self::Output> {
        if self.empty {
            // googleapiclient sends nothing for an empty batch.
            return Step::Done(Ok(Ok(Vec::new())));
        }
        match self.call.step(input) {
            Step::Send(r) => Step::Send(r),
            Step::Wait(d) => Step::Wait(d),
            Step::Done(Err(e)) => Step::Done(Err(e)),
            Step::Done(Ok(Err(e))) => Step::Done(Ok(Err(e))),
            Step::Done(Ok(Ok(resp))) => {
                let ct = resp.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
                Step::Done(Ok(parse_answer(
                    &resp.endpoint,
                    &self.parts,
                    ct,
                    &resp.body,
                )))
            }
        }
    }
}

fn random_bytes() -> [u8; 24] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 24];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // No OS randomness: ids only need to be unique within this batch, so a clock
        // reading is enough.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b[..16].copy_from_slice(&t.to_le_bytes());
        b[16..].copy_from_slice(&(t as u64).rotate_left(17).to_le_bytes());
    }
    b
}

/// (`host[:port]`, `path;params?query`) of a URL, as googleapiclient's request line
/// and Host header take them.
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, target) = rest.split_at(cut);
    let target = target.split('#').next().unwrap_or("");
    // urlunparse drops an empty query, `?` and all.
    let target = target.strip_suffix('?').unwrap_or(target);
    (host, target)
}

fn malformed(endpoint: &str, reason: impl Into<String>) -> Error {
    Error::Core(oauth_core::Error::MalformedResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.into(),
    })
}

/// The boundary of a `multipart/mixed` Content-Type.
fn boundary_of(content_type: &str) -> Option<&str> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty() && v.len() <= 200).then_some(v)
    })
}

/// Lines of `bytes` as (start, end without the line break, start of the next line).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos > bytes.len() || (pos == bytes.len() && pos != 0 && bytes[pos - 1] == b'\n') {
            return None;
        }
        let start = pos;
        let nl = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        let mut end = nl;
        if end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        pos = nl + 1;
        Some((start, end, pos.min(bytes.len())))
    })
}

/// The parts between `--boundary` lines; `None` when the closing `--boundary--` is
/// missing (a truncated answer).
fn split_parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<&'a [u8]>> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    for (ls, le, next) in lines(body) {
        let line = &body[ls..le];
        let Some(rest) = line.strip_prefix(delim) else {
            continue;
        };
        let rest: &[u8] = trim_ascii_end(rest);
        let close = rest == b"--";
        if !close && !rest.is_empty() {
            continue;
        }
        if let Some(s) = start {
            // The line break before a delimiter belongs to the delimiter.
            let mut e = ls;
            if e > s && body[e - 1] == b'\n' {
                e -= 1;
                if e > s && body[e - 1] == b'\r' {
                    e -= 1;
                }
            }
            parts.push(&body[s..e]);
        }
        if close {
            return Some(parts);
        }
        start = Some(next);
    }
    None
}

fn trim_ascii_end(b: &[u8]) -> &[u8] {
    let n = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(0, |i| i + 1);
    &b[..n]
}

/// A head (lines up to the first empty one) and what follows. Folded header lines are
/// joined to the one before.
fn split_head(bytes: &[u8]) -> Result<(Vec<String>, &[u8]), &'static str> {
    let mut head: Vec<String> = Vec::new();
    for (ls, le, next) in lines(bytes) {
        let line = &bytes[ls..le];
        if line.is_empty() {
            return Ok((head, &bytes[next..]));
        }
        let text = String::from_utf8_lossy(line);
        match head.last_mut() {
            Some(last) if matches!(line[0], b' ' | b'\t') => {
                last.push(' ');
                last.push_str(text.trim());
            }
            _ => {
                if head.len() >= MAX_PART_HEADERS {
                    return Err("a part has too many header lines");
                }
                head.push(text.into_owned());
            }
        }
    }
    Ok((head, &[]))
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The id inside `<BASE + ID>` (googleapiclient's `_header_to_id`; Google answers with
/// `<response-BASE + ID>`).
fn id_of(content_id: &str) -> Option<String> {
    let inner = content_id.strip_prefix('<')?.strip_suffix('>')?;
    let (_, id) = inner.split_once('+')?;
    Some(
        percent_decode_str(id.trim())
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// An answered part: its call's id (when it names one), status, headers, body.
struct Answer {
    id: Option<String>,
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

fn parse_part(part: &[u8]) -> Result<Answer, &'static str> {
    let (outer, payload) = split_head(part)?;
    let id = header(&outer, "content-id").and_then(id_of);
    let (head, body) = split_head(payload)?;
    let mut head = head.into_iter();
    let status_line = head.next().ok_or("a part holds no HTTP response")?;
    let mut words = status_line.split_ascii_whitespace();
    let status = match (words.next(), words.next()) {
        (Some(proto), Some(code)) if proto.starts_with("HTTP/") => code
            .parse::<u16>()
            .ok()
            .filter(|c| (100..=999).contains(c))
            .ok_or("a part's status line has no valid status")?,
        _ => return Err("a part does not start with an HTTP status line"),
    };
    let mut headers = HeaderMap::new();
    for line in head {
        if let Some((k, v)) = line.split_once(':')
            && let (Ok(k), Ok(v)) = (
                http::HeaderName::try_from(k.trim()),
                http::HeaderValue::try_from(v.trim()),
            )
        {
            headers.append(k, v);
        }
    }
    Ok(Answer {
        id,
        status,
        headers,
        body: Bytes::copy_from_slice(body),
    })
}

fn parse_answer(
    endpoint: &str,
    calls: &[(String, PartMeta)],
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<BatchResult>, Error> {
    let boundary = content_type
        .and_then(boundary_of)
        .ok_or_else(|| malformed(endpoint, "the batch answer is not multipart/mixed"))?;
    let parts = split_parts(body, boundary).ok_or_else(|| {
        malformed(
            endpoint,
            "the batch answer ends before its closing boundary",
        )
    })?;
    let index: HashMap<&str, usize> = calls
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let mut answers: Vec<Option<Answer>> = Vec::new();
    answers.resize_with(calls.len(), || None);
    for part in parts {
        let answer = parse_part(part).map_err(|r| malformed(endpoint, r))?;
        let id = answer.id.clone().ok_or_else(|| {
            malformed(
                endpoint,
                "a part of the batch answer has no valid Content-ID",
            )
        })?;
        // Parts for ids never sent are ignored; the first answer for an id counts.
        if let Some(&i) = index.get(id.as_str())
            && answers[i].is_none()
        {
            answers[i] = Some(answer);
        }
    }
    Ok(calls
        .iter()
        .zip(answers)
        .map(|((id, meta), answer)| {
            let result = match answer {
                None => Err(malformed(
                    &meta.endpoint,
                    "the batch answer has no part for this call",
                )),
                Some(a) if (200..300).contains(&a.status) => Ok(ApiResponse {
                    status: a.status,
                    headers: a.headers,
                    body: a.body,
                    kind: meta.kind,
                    data_wrapper: meta.data_wrapper,
                    endpoint: meta.endpoint.clone(),
                    stream: None,
                }),
                Some(a) => Err(Error::Api(Box::new(ApiError::from_response(
                    a.status,
                    &meta.endpoint,
                    &a.body,
                )))),
            };
            BatchResult {
                id: id.clone(),
                result,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"d/v1/",
      "batchPath":"batch/d/v1","methods":{
      "get":{"id":"d.get","path":"files/{id}","httpMethod":"GET",
        "parameters":{"id":{"type":"string","location":"path","required":true}},"response":{"$ref":"F"}},
      "insert":{"id":"d.insert","path":"files","httpMethod":"POST","request":{"$ref":"F"},"response":{"$ref":"F"},
        "mediaUpload":{"accept":["*/*"]}}}}"#;

    fn api() -> Api {
        Api::from_document(DOC.as_bytes()).unwrap()
    }

    #[test]
    fn the_body_has_googleapiclients_parts_and_credentials_in_each() {
        let api = api();
        let mut b = BatchRequest::for_api(&api).with_ids("B", "==x==");
        b.add(&api.method("get").unwrap().param("id", "a/b c"))
            .unwrap();
        b.add_with_id(
            &api.method("insert")
                .unwrap()
                .body(serde_json::json!({"name": "ü"})),
            "my id+",
        )
        .unwrap();
        let mut creds = HeaderMap::new();
        creds.insert(AUTHORIZATION, "Bearer t".parse().unwrap());
        let body = String::from_utf8(b.body(&creds)).unwrap();
        let api_client = concat!("gl-rust gdcl/gauth-", env!("CARGO_PKG_VERSION"));
        let expected = format!(
            "--==x==\r\nContent-Type: application/http\r\nMIME-Version: 1.0\r\n\
             Content-Transfer-Encoding: binary\r\nContent-ID: <B + 1>\r\n\r\n\
             GET /d/v1/files/a%2Fb%20c?alt=json HTTP/1.1\r\nContent-Type: application/json\r\n\
             MIME-Version: 1.0\r\naccept: application/json\r\nx-goog-api-client: {api_client}\r\n\
             authorization: Bearer t\r\nHost: d.googleapis.com\r\n\r\n\r\n\
             --==x==\r\nContent-Type: application/http\r\nMIME-Version: 1.0\r\n\
             Content-Transfer-Encoding: binary\r\nContent-ID: <B + my%20id%2B>\r\n\r\n\
             POST /d/v1/files?alt=json HTTP/1.1\r\nContent-Type: application/json\r\n\
             MIME-Version: 1.0\r\naccept: application/json\r\nx-goog-api-client: {api_client}\r\n\
             authorization: Bearer t\r\nHost: d.googleapis.com\r\ncontent-length: 13\r\n\r\n\
             {{\"name\":\"ü\"}}\r\n--==x==--\r\n"
        );
        assert_eq!(body, expected);
        let outer = b.prepare(&creds);
        assert_eq!(outer.headers[0].1, "multipart/mixed; boundary=\"==x==\"");
        assert!(!format!("{b:?}").contains("Bearer"));
    }

    #[test]
    fn ids_are_numbered_around_the_callers_and_limits_hold() {
        let api = api();
        let get = api.method("get").unwrap().param("id", "x");
        let mut b = BatchRequest::for_api(&api);
        b.add_with_id(&get, "2").unwrap();
        assert_eq!(b.add(&get).unwrap(), "1");
        assert_eq!(b.add(&get).unwrap(), "3");
        assert!(matches!(
            b.add_with_id(&get, "3"),
            Err(Error::InvalidBatch { .. })
        ));
        let media = api
            .method("insert")
            .unwrap()
            .media(crate::Media::new(b"x".to_vec(), "text/plain"));
        assert!(matches!(b.add(&media), Err(Error::InvalidBatch { .. })));
        // An invalid call names its parameter at once.
        let e = b.add(&api.method("get").unwrap()).unwrap_err();
        assert_eq!(e.parameter(), Some("id"));
        while b.len() < MAX_BATCH_SIZE {
            b.add(&get).unwrap();
        }
        let e = b.add(&get).unwrap_err();
        assert!(e.to_string().contains("1000"), "{e}");
        // Random ids: a v4 UUID and a boundary in Python's form.
        let r = BatchRequest::new("u");
        assert_eq!(r.base_id.len(), 36);
        assert_eq!(&r.base_id[14..15], "4");
        assert_eq!(r.boundary.len(), 15 + 19 + 2);
        assert_ne!(r.base_id, BatchRequest::new("u").base_id);
    }

    fn two() -> BatchRequest {
        let api = api();
        let mut b = BatchRequest::for_api(&api);
        b.add(&api.method("get").unwrap().param("id", "a")).unwrap();
        b.add(&api.method("get").unwrap().param("id", "b")).unwrap();
        b
    }

    #[test]
    fn answers_in_any_order_with_lf_or_crlf_map_back_to_their_calls() {
        let b = two();
        let crlf = "preamble\r\n--zz\r\nContent-Type: application/http\r\nContent-ID: <response-q + 2>\r\n\r\n\
            HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n\
            {\"error\":{\"code\":503,\"message\":\"busy\",\"status\":\"UNAVAILABLE\"}}\r\n\
            --zz\r\nContent-Type: application/http\r\nContent-ID: <response-q+1>\r\n\r\n\
            HTTP/1.1 200 OK\r\nETag: \"e\"\r\n\r\n{\"id\":\"a\"}\r\n--zz--\r\nepilogue";
        for answer in [crlf.to_owned(), crlf.replace("\r\n", "\n")] {
            let r = b
                .parse_response(Some("multipart/mixed; boundary=\"zz\""), answer.as_bytes())
                .unwrap();
            assert_eq!(r.len(), 2);
            let ok = r[0].result.as_ref().unwrap();
            assert_eq!((ok.status, ok.json()["id"].as_str()), (200, Some("a")));
            assert_eq!(ok.headers["etag"], "\"e\"");
            let e = r[1].result.as_ref().unwrap_err();
            assert_eq!(e.api().unwrap().message.as_deref(), Some("busy"));
            assert!(e.is_transient());
        }
    }

    #[test]
    fn broken_answers_are_typed_errors() {
        let b = two();
        let ok_part = "--zz\r\nContent-ID: <x + 1>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
        let cases: &[(Option<&str>, String)] = &[
            (Some("application/json"), "{}".into()),
            (None, "".into()),
            (Some("multipart/mixed; boundary=zz"), ok_part.into()),
            (
                Some("multipart/mixed; boundary=zz"),
                "--zz\r\nContent-ID: <x + 1>\r\n\r\nnot http\r\n--zz--".into(),
            ),
            (
                Some("multipart/mixed; boundary=zz"),
                "--zz\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\r\n--zz--".into(),
            ),
            (
                Some("multipart/mixed; boundary=zz"),
                "--zz\r\nContent-ID: <x + 1>\r\n\r\nHTTP/1.1 abc\r\n\r\n--zz--".into(),
            ),
        ];
        for (ct, body) in cases {
            match b.parse_response(*ct, body.as_bytes()) {
                Err(Error::Core(oauth_core::Error::MalformedResponse { .. })) => {}
                other => panic!("{ct:?} {body:?}: {other:?}"),
            }
        }
        // A missing part fails only its call.
        let r = b
            .parse_response(
                Some("multipart/mixed; boundary=zz"),
                format!("{ok_part}\r\n--zz--").as_bytes(),
            )
            .unwrap();
        assert_eq!(r[0].result.as_ref().unwrap().status, 204);
        assert!(
            r[1].result
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("no part")
        );
    }

    #[test]
    fn any_bytes_parse_without_panicking() {
        let b = two();
        let mut seed = 7u64;
        let alphabet: &[&[u8]] = &[
            b"--zz",
            b"--zz--",
            b"\r\n",
            b"\n",
            b"Content-ID: <a + 1>",
            b"HTTP/1.1 200 OK",
            b":",
            b" ",
            b"\r",
            b"\xff",
            b"<",
            b">",
            b"+",
        ];
        for _ in 0..3000 {
            let mut body = Vec::new();
            for _ in 0..(seed % 40) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                body.extend_from_slice(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            let _ = b.parse_response(Some("multipart/mixed; boundary=zz"), &body);
        }
    }

    #[test]
    fn an_empty_batch_sends_nothing() {
        let b = BatchRequest::for_api(&api());
        let mut ex = b.exchange(&HeaderMap::new(), CallOptions::default());
        assert!(matches!(ex.step(Input::Start), Step::Done(Ok(Ok(v))) if v.is_empty()));
    }
}
