//! The transport traits and the two transports that implement them.
//!
//! A transport moves one [`HttpRequest`] and returns the [`HttpResponse`]: no retries, no
//! redirects, no protocol. Both built-in transports use rustls on ring with webpki roots,
//! bound the response body by the request's [`ResponseLimit`](crate::http::ResponseLimit),
//! send a `User-Agent` naming gauth, and keep URLs out of their errors.

use std::time::Duration;

use crate::TransportError;
use crate::http::{HttpRequest, HttpResponse};

#[cfg(feature = "async")]
mod reqwest_client;
#[cfg(feature = "blocking")]
mod ureq_client;

#[cfg(feature = "async")]
pub use reqwest_client::ReqwestClient;
#[cfg(feature = "async")]
pub(crate) use reqwest_client::map_error as reqwest_error;
#[cfg(feature = "blocking")]
pub use ureq_client::UreqClient;

/// How long the built-in transports give one request, from connecting to the last byte of
/// the body, unless told otherwise: a stalled server costs at most this much per attempt.
/// Waiting for another process's refresh of a shared file is bounded by the same time
/// ([`crate::store::DEFAULT_LOCK_WAIT`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the built-in transports give a connection to be established.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest timeout the built-in transports take; longer ones are clamped to it, so no
/// deadline computed from a timeout can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The `User-Agent` the built-in transports send.
pub const USER_AGENT: &str = concat!("gauth/", env!("CARGO_PKG_VERSION"));

/// A blocking HTTP client. Any function from request to response is one, so tests and
/// custom stacks plug in directly.
///
/// ```
/// use oauth_core::transport::HttpClient;
/// let canned = |_req: oauth_core::http::HttpRequest| {
///     Ok(http::Response::builder().status(200).body(b"{}".as_slice().into()).unwrap())
/// };
/// let resp = canned.execute(http::Request::new(Default::default())).unwrap();
/// assert_eq!(resp.status(), 200);
/// ```
pub trait HttpClient: Send + Sync {
    /// Sends the request and reads the whole response.
    fn execute(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Whether this client sends a request's [`StreamedBody`](crate::http::StreamedBody)
    /// itself and honours [`StreamResponse`](crate::http::StreamResponse). A client that
    /// does not (the default) gets streamed bodies read into memory by the runner first.
    fn streams_bodies(&self) -> bool {
        false
    }
}

impl<F> HttpClient for F
where
    F: Fn(HttpRequest) -> Result<HttpResponse, TransportError> + Send + Sync,
{
    fn execute(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self(request)
    }
}

/// An async HTTP client.
///
/// ```
/// use oauth_core::transport::AsyncHttpClient;
/// use oauth_core::{http::{HttpRequest, HttpResponse}, TransportError};
/// struct Canned;
/// #[async_trait::async_trait]
/// impl AsyncHttpClient for Canned {
///     async fn execute(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
///         Ok(http::Response::builder().status(204).body(Default::default()).unwrap())
///     }
/// }
/// ```
#[cfg(feature = "async")]
#[async_trait::async_trait]
pub trait AsyncHttpClient: Send + Sync {
    /// Sends the request and reads the whole response.
    async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// Whether this client sends a request's [`StreamedBody`](crate::http::StreamedBody)
    /// itself and honours [`StreamResponse`](crate::http::StreamResponse). A client that
    /// does not (the default) gets streamed bodies read into memory by the runner first.
    fn streams_bodies(&self) -> bool {
        false
    }
}

/// The rustls configuration both transports share: ring, webpki roots, TLS 1.2 and 1.3.
#[cfg(feature = "async")]
pub(crate) fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// A timeout the transports can use: at most [`MAX_TIMEOUT`], at least 1 ms (a zero
/// timeout would fail every request, or mean "none" to some clients).
#[cfg(any(feature = "blocking", feature = "async"))]
pub(crate) fn clamp(t: Duration) -> Duration {
    t.clamp(Duration::from_millis(1), MAX_TIMEOUT)
}

#[cfg(all(test, feature = "blocking", feature = "async"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A loopback server answering each connection with one small 200.
    fn answering() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                let Ok(mut s) = stream else { continue };
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                );
            }
        });
        format!("http://{addr}/token")
    }

    #[test]
    fn timeouts_are_clamped_to_a_usable_range() {
        assert_eq!(clamp(Duration::MAX), MAX_TIMEOUT);
        assert_eq!(clamp(Duration::ZERO), Duration::from_millis(1));
        assert_eq!(clamp(DEFAULT_TIMEOUT), DEFAULT_TIMEOUT);
        const { assert!(DEFAULT_TIMEOUT.as_secs() <= MAX_TIMEOUT.as_secs()) };
    }

    #[test]
    fn unrepresentable_timeouts_neither_panic_nor_fail_requests() {
        let url = answering();
        let blocking = UreqClient::with_timeouts(Duration::MAX, Duration::MAX);
        let resp = blocking
            .execute(crate::http::get(&url.parse().unwrap()))
            .unwrap();
        assert_eq!(resp.status(), 200);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = ReqwestClient::with_timeouts(Duration::MAX, Duration::MAX);
        let resp = rt
            .block_on(client.execute(crate::http::get(&url.parse().unwrap())))
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
}
