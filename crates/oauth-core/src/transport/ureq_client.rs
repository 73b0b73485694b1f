//! The blocking transport on ureq 3.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::Method;

use crate::http::{
    Bytes, HttpRequest, HttpResponse, ResponseStream, put_response_stream, response_limit,
    streamed_body, wants_stream,
};
use crate::{TransportError, TransportErrorKind};

use super::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, HttpClient, USER_AGENT, clamp};

/// The blocking transport: a ureq agent with its connection pool.
///
/// ```no_run
/// use oauth_core::transport::{HttpClient, UreqClient};
/// let client = UreqClient::new();
/// let resp = client.execute(oauth_core::http::get(&"https://oauth2.googleapis.com/tokeninfo".parse().unwrap()));
/// ```
#[derive(Debug, Clone)]
pub struct UreqClient {
    agent: ureq::Agent,
}

impl Default for UreqClient {
    fn default() -> Self {
        Self::new()
    }
}

impl UreqClient {
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
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(connect))
            .timeout_global(Some(overall))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(USER_AGENT)
            .build();
        UreqClient {
            agent: config.new_agent(),
        }
    }

    /// The process-wide shared client (one connection pool for every credential).
    pub fn shared() -> Arc<UreqClient> {
        static SHARED: OnceLock<Arc<UreqClient>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(|| Arc::new(UreqClient::new())))
    }
}

impl HttpClient for UreqClient {
    fn execute(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let limit = response_limit(&request);
        let stream_answer = wants_stream(&request);
        let streamed = streamed_body(&request)
            .map(|b| b.take_reader())
            .transpose()?;
        let (parts, body) = request.into_parts();
        let response = match streamed {
            Some(reader) => {
                let body = ureq::SendBody::from_owned_reader(reader);
                self.agent.run(http::Request::from_parts(parts, body))
            }
            // No body at all (no `Content-Length: 0`) where the method carries none.
            None if body.is_empty() && matches!(parts.method, Method::GET | Method::HEAD) => {
                self.agent.run(http::Request::from_parts(parts, ()))
            }
            // The body is lent to ureq, never copied.
            None => self
                .agent
                .run(http::Request::from_parts(parts, body.as_ref())),
        }
        .map_err(map_error)?;
        let (parts, body) = response.into_parts();
        if stream_answer && parts.status.is_success() {
            let mut out = http::Response::from_parts(parts, Bytes::new());
            put_response_stream(&mut out, ResponseStream::reader(body.into_reader()));
            return Ok(out);
        }
        let bytes = body
            .into_with_config()
            .limit(limit as u64)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => {
                    TransportError::new(TransportErrorKind::TooLarge, limit.to_string())
                }
                other => map_error(other),
            })?;
        Ok(http::Response::from_parts(parts, bytes.into()))
    }

    fn streams_bodies(&self) -> bool {
        true
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    use TransportErrorKind as K;
    let (kind, message) = match &e {
        ureq::Error::Timeout(t) => (K::Timeout, format!("{t}")),
        ureq::Error::HostNotFound => (K::Connect, "host not found".into()),
        ureq::Error::ConnectionFailed => (K::Connect, "connection failed".into()),
        ureq::Error::Io(io) => (K::Connect, io.to_string()),
        ureq::Error::Rustls(t) => (K::Tls, t.to_string()),
        ureq::Error::BadUri(_) => (K::Other, "invalid URI".into()),
        other => (K::Other, other.to_string()),
    };
    TransportError::new(kind, message)
}
