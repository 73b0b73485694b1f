//! Executing a prepared request as a sans-IO [`Exchange`]: retries with backoff on the
//! statuses googleapiclient retries, the resumable upload protocol, and reading the
//! answer. Both flavours drive this one state machine.

use std::time::Duration;

use http::header::{CONTENT_RANGE, LOCATION, RANGE};
use oauth_core::RetryPolicy;
use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::http::{
    Bytes, HttpRequest, HttpResponse, ResponseLimit, StreamResponse, StreamedBody, endpoint_label,
    take_response_stream,
};
use oauth_core::retry::{RetryOn, retry_after, transport_error};
use serde::de::DeserializeOwned;

use crate::origin::Origin;
use crate::request::{ModelKind, PreparedRequest};
use crate::{ApiError, Error};

/// The default bound on an API response body.
pub const DEFAULT_API_RESPONSE_LIMIT: usize = 256 << 20;

/// The default bound on the pages of one listing.
pub const DEFAULT_MAX_PAGES: usize = 10_000;

/// How a call is executed: retries (googleapiclient's `num_retries`), the response
/// bound, and how many pages a listing may have.
///
/// ```
/// use discovery_client::CallOptions;
/// let o = CallOptions::default().num_retries(3).max_pages(50);
/// assert_eq!(o.retry.max_attempts, 4);
/// assert_eq!(o.max_pages, 50);
/// assert_eq!(CallOptions::default().retry.max_attempts, 1, "googleapiclient retries nothing by default");
/// assert_eq!(CallOptions::default().max_pages, 10_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct CallOptions {
    /// Retries of 429, 5xx, rate-limit 403s and transport failures.
    pub retry: RetryPolicy,
    /// The largest response body accepted.
    pub response_limit: usize,
    /// The most pages a listing fetches ([`DEFAULT_MAX_PAGES`]); a longer listing ends in
    /// [`Error::TooManyPages`].
    pub max_pages: usize,
}

impl Default for CallOptions {
    fn default() -> Self {
        CallOptions {
            retry: RetryPolicy::none(),
            response_limit: DEFAULT_API_RESPONSE_LIMIT,
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

impl CallOptions {
    /// Retries up to `n` times (googleapiclient's `execute(num_retries=n)`), with
    /// exponential backoff from 1 s.
    pub fn num_retries(mut self, n: u32) -> Self {
        self.retry = RetryPolicy::default().with_max_attempts(n.saturating_add(1));
        self
    }

    /// A retry policy of your own.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The response bound (downloads of large media need more than the default).
    pub fn response_limit(mut self, bytes: usize) -> Self {
        self.response_limit = bytes;
        self
    }

    /// The most pages a listing fetches (`pages()`, `collect_items()`).
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.max_pages = pages;
        self
    }
}

/// A successful answer, before decoding.
#[derive(Debug)]
pub struct ApiResponse {
    /// The status.
    pub status: u16,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
    pub(crate) kind: ModelKind,
    pub(crate) data_wrapper: bool,
    pub(crate) endpoint: String,
    /// The body still arriving, when the call asked for it unread (streamed downloads).
    pub(crate) stream: Option<oauth_core::http::ResponseStream>,
}

impl ApiResponse {
    /// The body as JSON, as googleapiclient's models return it: `{}` for 204, the `data`
    /// member under the `dataWrapper` feature, a JSON string when the body is not JSON,
    /// `null` for an empty body of a method without a response.
    pub fn json(&self) -> serde_json::Value {
        if self.status == 204 {
            return match self.kind {
                ModelKind::Json => serde_json::json!({}),
                _ => serde_json::Value::Null,
            };
        }
        if self.body.is_empty() && self.kind != ModelKind::Json {
            return serde_json::Value::Null;
        }
        match serde_json::from_slice::<serde_json::Value>(&self.body) {
            Ok(mut v) => {
                if self.data_wrapper
                    && let Some(d) = v.get_mut("data")
                {
                    return d.take();
                }
                v
            }
            Err(_) => serde_json::Value::String(String::from_utf8_lossy(&self.body).into_owned()),
        }
    }

    /// The body deserialized into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let v = self.json();
        serde_json::from_value(v).map_err(|e| Error::Decode {
            endpoint: self.endpoint.clone(),
            reason: oauth_core::Error::json("response", &e).to_string(),
        })
    }
}

enum Phase {
    Initial,
    /// A resumable session is open; the next chunk starts at `offset`.
    Upload {
        session: String,
        offset: usize,
    },
    /// After a failed chunk: asking the server what it received.
    Query {
        session: String,
    },
}

/// One API call, retried and (for resumable uploads) continued across requests.
pub struct ApiCall {
    prepared: PreparedRequest,
    options: CallOptions,
    kind: ModelKind,
    data_wrapper: bool,
    phase: Phase,
    attempts: u32,
    endpoint: String,
    /// The call's origin: every request of the call declares it (the runner puts
    /// credentials on none that leaves it), and an upload session must stay on it.
    origin: Option<Origin>,
    /// A ranged download: 416 (nothing left in the range) is an answer, not an error.
    pub(crate) ranged: bool,
    /// A body streamed from a source (uploads of any size): sent with the first request.
    pub(crate) streamed: Option<StreamedBody>,
    /// A successful answer's body is handed over unread (streamed downloads).
    pub(crate) stream_response: bool,
}

impl ApiCall {
    pub(crate) fn new(
        prepared: PreparedRequest,
        options: CallOptions,
        kind: ModelKind,
        data_wrapper: bool,
    ) -> ApiCall {
        let endpoint = prepared
            .url
            .parse::<http::Uri>()
            .map(|u| endpoint_label(&u))
            .unwrap_or_else(|_| prepared.method_id.clone());
        let origin = Origin::parse(&prepared.url);
        ApiCall {
            prepared,
            options,
            kind,
            data_wrapper,
            phase: Phase::Initial,
            attempts: 0,
            endpoint,
            origin,
            ranged: false,
            streamed: None,
            stream_response: false,
        }
    }

    /// The call for a service on `origin` (the API its credentials belong to): its requests
    /// declare that origin instead of the one of its own URL, so a request built from
    /// another API's document is refused rather than sent with this service's credentials.
    pub(crate) fn on_origin(mut self, origin: &Origin) -> Self {
        self.origin = Some(origin.clone());
        self
    }

    /// The request with the call's response bound, its declared origin and the encodings
    /// it accepts.
    fn limited(&self, mut req: HttpRequest) -> HttpRequest {
        req.extensions_mut()
            .insert(ResponseLimit(self.options.response_limit));
        if let Some(origin) = &self.origin {
            req.extensions_mut().insert(origin.clone());
        }
        if self.stream_response {
            req.extensions_mut().insert(StreamResponse);
        } else {
            crate::encoding::offer(&mut req);
        }
        if let (Phase::Initial, Some(body)) = (&self.phase, &self.streamed) {
            body.clone().attach(&mut req);
        }
        req
    }

    fn send(&mut self) -> Step<Result<ApiResponse, Error>> {
        self.attempts += 1;
        let built = match &self.phase {
            Phase::Initial => self.prepared.to_http(),
            Phase::Upload { session, offset } => self.chunk(session, *offset),
            Phase::Query { session } => self.query(session),
        };
        match built.and_then(|r| self.on_its_origin(r)) {
            Ok(r) => Step::Send(self.limited(r)),
            Err(e) => Step::Done(Ok(Err(e))),
        }
    }

    /// A request leaving the call's origin is refused here, by name, before the runner's
    /// own check would refuse it.
    fn on_its_origin(&self, request: HttpRequest) -> Result<HttpRequest, Error> {
        match &self.origin {
            Some(origin) => origin
                .admits_uri(request.uri())
                .map(|()| request)
                .map_err(|found| Error::foreign("API call", "request URL", found.as_ref(), origin)),
            None => Ok(request),
        }
    }

    fn total(&self) -> usize {
        self.prepared.resumable.as_ref().map_or(0, |(m, _)| m.len())
    }

    fn chunk(&self, session: &str, offset: usize) -> Result<HttpRequest, Error> {
        let (media, chunk) = self
            .prepared
            .resumable
            .as_ref()
            .ok_or_else(|| self.malformed("no media for the upload"))?;
        let total = media.len();
        let end = offset.saturating_add(*chunk).min(total);
        // A view of the media, not a copy: every attempt of the chunk shares it.
        let body = media.shared(offset..end);
        let range = if total == 0 {
            "bytes */0".to_owned()
        } else {
            format!("bytes {}-{}/{}", offset, end.saturating_sub(1), total)
        };
        let mut req = http::Request::new(body);
        *req.method_mut() = http::Method::PUT;
        *req.uri_mut() = session
            .parse()
            .map_err(|_| self.malformed("invalid upload session URL"))?;
        if let Ok(v) = range.parse() {
            req.headers_mut().insert(CONTENT_RANGE, v);
        }
        Ok(req)
    }

    fn query(&self, session: &str) -> Result<HttpRequest, Error> {
        let mut req = http::Request::new(Bytes::new());
        *req.method_mut() = http::Method::PUT;
        *req.uri_mut() = session
            .parse()
            .map_err(|_| self.malformed("invalid upload session URL"))?;
        if let Ok(v) = format!("bytes */{}", self.total()).parse() {
            req.headers_mut().insert(CONTENT_RANGE, v);
        }
        Ok(req)
    }

    fn malformed(&self, reason: &str) -> Error {
        Error::Core(oauth_core::Error::MalformedResponse {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        })
    }

    /// The retry decision is oauth-core's, with googleapiclient's rule ([`RetryOn::API`]).
    fn retry_or_fail(
        &mut self,
        error: Error,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Step<Result<ApiResponse, Error>> {
        let next = self
            .options
            .retry
            .next_delay(self.attempts, retryable, retry_after);
        if let Some(delay) = next {
            tracing::debug!(attempt = self.attempts, ?delay, %error, "retrying API call");
            // A failed chunk is followed by asking the server what it has.
            if let Phase::Upload { session, .. } = &self.phase {
                self.phase = Phase::Query {
                    session: session.clone(),
                };
            }
            Step::Wait(delay)
        } else {
            Step::Done(Ok(Err(error)))
        }
    }

    fn done(&self, mut resp: HttpResponse) -> Step<Result<ApiResponse, Error>> {
        let stream = take_response_stream(&mut resp);
        let (head, body) = resp.into_parts();
        Step::Done(Ok(Ok(ApiResponse {
            status: head.status.as_u16(),
            headers: head.headers,
            body,
            kind: self.kind,
            data_wrapper: self.data_wrapper,
            endpoint: self.endpoint.clone(),
            stream,
        })))
    }

    /// An upload session URL must be on the call's own scheme, host and port: the
    /// session's requests carry the Authorization header, which must not go elsewhere.
    fn check_session(&self, session: &str) -> Result<(), Error> {
        let Some(origin) = &self.origin else {
            return Err(self.malformed("the call's URL has no origin"));
        };
        origin.admits(session).map_err(|found| {
            Error::foreign(
                &self.prepared.method_id,
                "upload session URL",
                found.as_ref(),
                origin,
            )
        })
    }

    fn session_of(&self) -> Option<String> {
        match &self.phase {
            Phase::Upload { session, .. } | Phase::Query { session } => Some(session.clone()),
            Phase::Initial => None,
        }
    }
}

/// The next offset from a 308's `Range: bytes=0-N`.
fn received(resp: &HttpResponse) -> usize {
    resp.headers()
        .get(RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('-').next())
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(0, |n| n.saturating_add(1))
}

impl Exchange for ApiCall {
    type Output = Result<ApiResponse, Error>;

    fn step(&mut self, input: Input) -> Step<Self::Output> {
        match input {
            Input::Start | Input::Waited => self.send(),
            Input::Response(Err(e)) => {
                let retryable = RetryOn::API.transport(&e);
                let error = match transport_error(self.endpoint.clone(), e) {
                    oauth_core::Error::ResponseTooLarge { endpoint, .. } => {
                        oauth_core::Error::ResponseTooLarge {
                            endpoint,
                            limit: self.options.response_limit,
                        }
                    }
                    other => other,
                };
                self.retry_or_fail(Error::Core(error), retryable, None)
            }
            Input::Response(Ok(resp)) => {
                let limit = self.options.response_limit;
                let resp = match crate::encoding::decode(resp, limit, &self.endpoint) {
                    Ok(r) => r,
                    Err(e) => return Step::Done(Ok(Err(e.into()))),
                };
                let status = resp.status().as_u16();
                let resumable = self.prepared.resumable.is_some();
                if resumable
                    && status == 308
                    && let Some(session) = self.session_of()
                {
                    let session = resp
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map_or(session, str::to_owned);
                    if let Err(e) = self.check_session(&session) {
                        return Step::Done(Ok(Err(e)));
                    }
                    let offset = received(&resp);
                    self.phase = Phase::Upload { session, offset };
                    self.attempts = 0;
                    return self.send();
                }
                let answered = (200..300).contains(&status) || (self.ranged && status == 416);
                if !answered {
                    let retryable = RetryOn::API.response(status, resp.body());
                    let error = Error::Api(Box::new(ApiError::from_response(
                        status,
                        &self.endpoint,
                        resp.body(),
                    )));
                    return self.retry_or_fail(error, retryable, retry_after(&resp));
                }
                if resumable && matches!(self.phase, Phase::Initial) {
                    let Some(session) = resp
                        .headers()
                        .get(LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                    else {
                        return Step::Done(Ok(Err(
                            self.malformed("no Location for the upload session")
                        )));
                    };
                    if let Err(e) = self.check_session(&session) {
                        return Step::Done(Ok(Err(e)));
                    }
                    self.phase = Phase::Upload { session, offset: 0 };
                    self.attempts = 0;
                    return self.send();
                }
                self.done(resp)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Api, Media, UploadProtocol};

    const DOC: &str = r#"{"name":"u","version":"v1","rootUrl":"https://u.googleapis.com/","servicePath":"u/v1/",
      "methods":{"insert":{"id":"u.insert","path":"files","httpMethod":"POST","request":{"$ref":"F"},
      "response":{"$ref":"F"},"mediaUpload":{"accept":["*/*"],"maxSize":"1MB"}}}}"#;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Input {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        Input::Response(Ok(b.body(Bytes::copy_from_slice(body.as_bytes())).unwrap()))
    }

    fn call(req: crate::Request, retries: u32) -> ApiCall {
        let kind = req.model_kind();
        ApiCall::new(
            req.prepare().unwrap(),
            CallOptions::default().num_retries(retries),
            kind,
            false,
        )
    }

    #[test]
    fn a_resumable_upload_resumes_from_what_the_server_received() {
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        let media = Media::new(vec![b'x'; 600 * 1024], "text/plain");
        let req = api
            .method("insert")
            .unwrap()
            .body(serde_json::json!({"name": "f"}))
            .media(media)
            .upload_protocol(UploadProtocol::Resumable {
                chunk_size: 256 * 1024,
            });
        let mut ex = call(req, 2);
        let Step::Send(first) = ex.step(Input::Start) else {
            panic!()
        };
        assert!(
            first.uri().to_string().ends_with("uploadType=resumable"),
            "{}",
            first.uri()
        );
        assert_eq!(first.headers()["x-upload-content-length"], "614400");
        let Step::Send(c1) = ex.step(resp(
            200,
            &[("location", "https://u.googleapis.com/s?id=1")],
            "",
        )) else {
            panic!()
        };
        assert_eq!(c1.headers()["content-range"], "bytes 0-262143/614400");
        // The chunk fails; the exchange waits and asks what arrived.
        assert!(matches!(ex.step(resp(503, &[], "")), Step::Wait(_)));
        let Step::Send(q) = ex.step(Input::Waited) else {
            panic!()
        };
        assert_eq!(q.headers()["content-range"], "bytes */614400");
        assert!(q.body().is_empty());
        let Step::Send(c2) = ex.step(resp(308, &[("range", "bytes=0-99999")], "")) else {
            panic!()
        };
        assert_eq!(c2.headers()["content-range"], "bytes 100000-362143/614400");
        assert_eq!(c2.body().len(), 262144);
        let Step::Send(c3) = ex.step(resp(308, &[("range", "bytes=0-362143")], "")) else {
            panic!()
        };
        assert_eq!(c3.headers()["content-range"], "bytes 362144-614399/614400");
        match ex.step(resp(200, &[], r#"{"id":"f1"}"#)) {
            Step::Done(Ok(Ok(r))) => assert_eq!(r.json()["id"], "f1"),
            _ => panic!(),
        }
    }

    #[test]
    fn errors_keep_googles_body_after_the_last_retry() {
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        let mut ex = call(api.method("insert").unwrap().body(serde_json::json!({})), 1);
        ex.step(Input::Start);
        let busy = r#"{"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}"#;
        assert!(matches!(ex.step(resp(503, &[], busy)), Step::Wait(_)));
        ex.step(Input::Waited);
        match ex.step(resp(503, &[], busy)) {
            Step::Done(Ok(Err(Error::Api(e)))) => {
                assert_eq!(e.message.as_deref(), Some("busy"));
                assert_eq!(e.status_name.as_deref(), Some("UNAVAILABLE"));
            }
            _ => panic!(),
        }
    }

    #[test]
    fn an_upload_session_on_another_host_is_refused() {
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        for location in [
            "https://evil.example/s?id=1",
            "http://u.googleapis.com/s",
            "https://u.googleapis.com:8443/s",
        ] {
            let req = api
                .method("insert")
                .unwrap()
                .media(Media::new(vec![b'x'; 10], "text/plain"))
                .upload_protocol(UploadProtocol::Resumable { chunk_size: 1 });
            let mut ex = call(req, 0);
            ex.step(Input::Start);
            match ex.step(resp(200, &[("location", location)], "")) {
                Step::Done(Ok(Err(e))) => assert!(
                    matches!(&e, Error::ForeignUrl { field, .. } if field == "upload session URL"),
                    "{e}"
                ),
                _ => panic!("{location} accepted"),
            }
        }
        // The same origin, in another case and with the default port spelled out, is fine.
        let req = api
            .method("insert")
            .unwrap()
            .media(Media::new(vec![b'x'; 10], "text/plain"))
            .upload_protocol(UploadProtocol::Resumable { chunk_size: 1 });
        let mut ex = call(req, 0);
        ex.step(Input::Start);
        assert!(matches!(
            ex.step(resp(
                200,
                &[("location", "https://U.googleapis.com:443/s?id=1")],
                ""
            )),
            Step::Send(_)
        ));
    }

    #[test]
    fn a_404_is_not_retried() {
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        let mut ex = call(api.method("insert").unwrap(), 5);
        ex.step(Input::Start);
        assert!(matches!(
            ex.step(resp(404, &[], "")),
            Step::Done(Ok(Err(Error::Api(_))))
        ));
    }
}
