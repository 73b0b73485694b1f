//! The async transport on reqwest.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::http::{
    AsyncReadBody, Bytes, HttpRequest, HttpResponse, ResponseStream, put_response_stream,
    response_limit, streamed_body, wants_stream,
};
use crate::{TransportError, TransportErrorKind};

use super::{
    AsyncHttpClient, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, USER_AGENT, clamp, tls_config,
};

/// The async transport: a reqwest client (hyper, tokio, rustls on ring) with its pool.
///
/// ```no_run
/// # async fn f() {
/// use oauth_core::transport::{AsyncHttpClient, ReqwestClient};
/// let client = ReqwestClient::new();
/// let resp = client.execute(oauth_core::http::get(&"https://oauth2.googleapis.com/tokeninfo".parse().unwrap())).await;
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl Default for ReqwestClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ReqwestClient {
    /// A client with a 10 s connect timeout and a 60 s overall timeout per request
    /// ([`DEFAULT_CONNECT_TIMEOUT`], [`DEFAULT_TIMEOUT`]).
    pub fn new() -> Self {
        Self::with_timeouts(DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT)
    }

    /// A client with the given timeouts: `connect` for establishing a connection, `overall`
    /// for a whole request (connection, sending, the answer's head and body). Each is
    /// clamped to [`MAX_TIMEOUT`](super::MAX_TIMEOUT) and to at least a millisecond.
    pub fn with_timeouts(connect: Duration, overall: Duration) -> Self {
        let (connect, overall) = (clamp(connect), clamp(overall));
        let builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config())
            .connect_timeout(connect)
            .timeout(overall)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT);
        let client = builder.build().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot build the configured HTTP client; using defaults");
            reqwest::Client::new()
        });
        ReqwestClient { client }
    }

    /// Wraps a reqwest client the caller configured (proxies, timeouts).
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient { client }
    }

    /// The process-wide shared client (one connection pool for every credential).
    pub fn shared() -> Arc<ReqwestClient> {
        static SHARED: OnceLock<Arc<ReqwestClient>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(|| Arc::new(ReqwestClient::new())))
    }
}

#[async_trait::async_trait]
impl AsyncHttpClient for ReqwestClient {
    async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let limit = response_limit(&request);
        let stream_answer = wants_stream(&request);
        let streamed = streamed_body(&request)
            .map(AsyncReadBody::new)
            .transpose()?;
        let mut request = reqwest::Request::try_from(request).map_err(|e| {
            TransportError::new(TransportErrorKind::Other, e.without_url().to_string())
        })?;
        if let Some(body) = streamed {
            *request.body_mut() = Some(reqwest::Body::wrap(body));
        }
        let mut response = self.client.execute(request).await.map_err(map_error)?;
        let status = response.status();
        let version = response.version();
        let headers = std::mem::take(response.headers_mut());
        let head = |body: Bytes| {
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.version_mut() = version;
            *out.headers_mut() = headers;
            out
        };
        if stream_answer && status.is_success() {
            let mut out = head(Bytes::new());
            put_response_stream(&mut out, ResponseStream::reqwest(response));
            return Ok(out);
        }
        let too_large = || TransportError::new(TransportErrorKind::TooLarge, limit.to_string());
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_error)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(head(body.into()))
    }

    fn streams_bodies(&self) -> bool {
        true
    }
}

pub(crate) fn map_error(e: reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Other
    };
    let e = e.without_url();
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    TransportError::new(kind, message)
}
