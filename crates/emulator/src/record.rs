//! The media endpoints' request log: the shape of every request they answered (method, URL,
//! the headers that matter, how the body was framed and what it held) and the answer, so a
//! test can compare what two clients send for the same file, request by request. Tokens are
//! never kept: an `Authorization` header is recorded as its scheme only.

use std::collections::{BTreeMap, VecDeque};

use axum::http::{HeaderMap, Uri};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Requests kept; older ones are dropped first.
const KEEP: usize = 10_000;

/// Request headers recorded (lowercase), when present.
const HEADERS: [&str; 11] = [
    "authorization",
    "content-encoding",
    "content-length",
    "content-range",
    "content-type",
    "expect",
    "range",
    "transfer-encoding",
    "x-http-method-override",
    "x-upload-content-length",
    "x-upload-content-type",
];

/// Response headers recorded, when present.
const RESPONSE_HEADERS: [&str; 5] = [
    "content-length",
    "content-range",
    "content-type",
    "location",
    "range",
];

/// How a request body was framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Framing {
    /// No body at all (no `Content-Length`, no `Transfer-Encoding`).
    None,
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// One part of a `multipart/related` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartShape {
    /// The part's headers, names in lowercase.
    pub headers: BTreeMap<String, String>,
    /// Bytes of content.
    pub length: u64,
    /// The content, when it was JSON (the metadata part).
    pub json: Option<Value>,
}

/// The shape of a `multipart/related` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MultipartShape {
    /// The boundary (random per request: compare its presence, not its value).
    pub boundary: String,
    /// `"crlf"` or `"lf"`: the line ends the client used (googleapiclient writes LF).
    pub line_ending: String,
    /// The parts in order.
    pub parts: Vec<PartShape>,
}

/// The body of a recorded request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BodyShape {
    /// How it was framed.
    pub framing: Framing,
    /// Bytes received (fewer than announced when the client or a fault cut it).
    pub received: u64,
    /// The parts of a multipart upload.
    pub multipart: Option<MultipartShape>,
    /// A JSON body (resumable initiation metadata), parsed.
    pub json: Option<Value>,
}

/// A request the media endpoints answered, and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MediaRequest {
    /// `POST`, `PUT`, `GET`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Query parameters in the order sent (decoded).
    pub query: Vec<(String, String)>,
    /// The request headers that matter for media, names in lowercase; `authorization` is
    /// its scheme only (`"Bearer"`).
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: BodyShape,
    /// The status answered; `None` when the connection was cut.
    pub status: Option<u16>,
    /// Response headers that matter (`Range`, `Location`, `Content-Range`, ...).
    pub response_headers: BTreeMap<String, String>,
    /// The injected fault that hit this request, described.
    pub fault: Option<String>,
}

impl MediaRequest {
    /// The value of query parameter `name`, if sent.
    ///
    /// ```
    /// # use gauth_emulator::MediaRequest;
    /// # fn f(r: &MediaRequest) -> Option<&str> {
    /// r.query("uploadType")
    /// # }
    /// ```
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of request header `name` (lowercase), if recorded.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The request's start: method, URL and headers; the body and answer come later.
    pub(crate) fn start(method: &str, uri: &Uri, headers: &HeaderMap) -> MediaRequest {
        let query = uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut kept = BTreeMap::new();
        for name in HEADERS {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap_or("(not text)"))
                .collect();
            if values.is_empty() {
                continue;
            }
            let value = if name == "authorization" {
                values
                    .iter()
                    .map(|v| v.split_whitespace().next().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                values.join(", ")
            };
            kept.insert(name.to_owned(), value);
        }
        let framing = if headers.contains_key("transfer-encoding") {
            Framing::Chunked
        } else if headers.contains_key("content-length") {
            Framing::ContentLength
        } else {
            Framing::None
        };
        MediaRequest {
            method: method.to_owned(),
            path: uri.path().to_owned(),
            query,
            headers: kept,
            body: BodyShape {
                framing,
                received: 0,
                multipart: None,
                json: None,
            },
            status: None,
            response_headers: BTreeMap::new(),
            fault: None,
        }
    }

    /// Completes the record with the answer (`None`: the connection was cut).
    pub(crate) fn answered(&mut self, status: Option<u16>, headers: &HeaderMap) {
        self.status = status;
        if status.is_none() {
            return;
        }
        for name in RESPONSE_HEADERS {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                self.response_headers.insert(name.to_owned(), v.to_owned());
            }
        }
    }
}

/// The log, bounded, in order of arrival: a request takes its place when it arrives and is
/// completed when answered, so the order never depends on which answer went out first.
#[derive(Debug, Default)]
pub(crate) struct Records {
    list: VecDeque<MediaRequest>,
    /// The sequence number of `list[0]`.
    first: u64,
}

impl Records {
    /// Takes a place for `r`; returns its sequence number.
    pub(crate) fn start(&mut self, r: MediaRequest) -> u64 {
        if self.list.len() >= KEEP {
            self.list.pop_front();
            self.first += 1;
        }
        self.list.push_back(r);
        self.first + self.list.len() as u64 - 1
    }

    /// Replaces entry `seq` (if still kept) with its final form.
    pub(crate) fn complete(&mut self, seq: u64, r: MediaRequest) {
        if let Some(i) = seq.checked_sub(self.first)
            && let Some(slot) = usize::try_from(i).ok().and_then(|i| self.list.get_mut(i))
        {
            *slot = r;
        }
    }

    pub(crate) fn all(&self) -> Vec<MediaRequest> {
        self.list.iter().cloned().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.first += self.list.len() as u64;
        self.list.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_keeps_the_query_in_order_and_never_a_token() {
        let uri: Uri = "/upload/drive/v3/files?uploadType=resumable&fields=id%2Csize"
            .parse()
            .unwrap();
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer ya29.secret".parse().unwrap());
        h.insert("content-length", "0".parse().unwrap());
        h.insert("x-upload-content-length", "10".parse().unwrap());
        h.insert("user-agent", "x".parse().unwrap());
        let r = MediaRequest::start("POST", &uri, &h);
        assert_eq!(
            r.query,
            [
                ("uploadType".to_owned(), "resumable".to_owned()),
                ("fields".to_owned(), "id,size".to_owned())
            ]
        );
        assert_eq!(r.header("authorization"), Some("Bearer"));
        assert!(!format!("{r:?}").contains("secret"));
        assert_eq!(r.header("user-agent"), None);
        assert_eq!(r.body.framing, Framing::ContentLength);
        assert_eq!(r.query("fields"), Some("id,size"));
    }

    fn req(path: &str) -> MediaRequest {
        let mut r = MediaRequest::start("GET", &"/x".parse::<Uri>().unwrap(), &HeaderMap::new());
        r.path = path.to_owned();
        r
    }

    #[test]
    fn the_log_drops_the_oldest_past_its_bound() {
        let mut log = Records::default();
        for i in 0..KEEP + 5 {
            log.start(req(&i.to_string()));
        }
        let all = log.all();
        assert_eq!(all.len(), KEEP);
        assert_eq!(all[0].path, "5");
    }

    #[test]
    fn requests_keep_their_place_of_arrival_whenever_they_are_answered() {
        let mut log = Records::default();
        let a = log.start(req("a"));
        let b = log.start(req("b"));
        log.complete(b, req("b done"));
        log.complete(a, req("a done"));
        let paths: Vec<String> = log.all().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["a done", "b done"]);
        log.clear();
        // A request answered after the log was cleared is not brought back.
        log.complete(a, req("late"));
        let c = log.start(req("c"));
        log.complete(c, req("c done"));
        let paths: Vec<String> = log.all().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["c done"]);
    }
}
