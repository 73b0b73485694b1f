//! Bodies that stream, for media of any size in constant memory.
//!
//! A sans-IO request keeps its [`Bytes`] body (shared, never copied); a request whose body
//! is too large to hold carries a [`StreamedBody`] in its extensions instead, a source the
//! transport pulls from as it sends. A request that asks for it with [`StreamResponse`] gets
//! a successful answer's body unread, as a [`ResponseStream`] the caller reads as it
//! arrives (see [`take_response_stream`]); error answers are still read whole, within the
//! request's [`ResponseLimit`](super::ResponseLimit).
//!
//! Both built-in transports stream both ways. A client of one's own (any
//! `Fn(HttpRequest) -> ...`) says it does not ([`HttpClient::streams_bodies`]), and the
//! runners read a streamed body into memory for it: correct, though no longer constant in
//! memory.
//!
//! [`HttpClient::streams_bodies`]: crate::transport::HttpClient::streams_bodies

use std::sync::{Arc, Mutex};

use http::header::{CONTENT_LENGTH, HeaderValue};

use super::{Bytes, HttpRequest, HttpResponse};
use crate::{TransportError, TransportErrorKind};

/// Where a streamed body's bytes come from.
enum Source {
    #[cfg(feature = "blocking")]
    Read(Box<dyn std::io::Read + Send>),
    #[cfg(feature = "async")]
    AsyncRead(std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>),
}

/// A request body read from a source while the request is sent, carried in the request's
/// extensions (its `Bytes` body stays empty). It can be sent once: a second send of the
/// same source is a transport error, never an empty body.
///
/// ```
/// use oauth_core::http::{Bytes, StreamedBody, streamed_body};
/// let mut req = http::Request::new(Bytes::new());
/// StreamedBody::from_reader(std::io::Cursor::new(vec![7u8; 10]), Some(10)).attach(&mut req);
/// assert_eq!(req.headers()["content-length"], "10");
/// assert_eq!(streamed_body(&req).and_then(|b| b.len()), Some(10));
/// ```
#[derive(Clone)]
pub struct StreamedBody {
    source: Arc<Mutex<Option<Source>>>,
    len: Option<u64>,
}

impl std::fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedBody")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl StreamedBody {
    fn new(source: Source, len: Option<u64>) -> StreamedBody {
        StreamedBody {
            source: Arc::new(Mutex::new(Some(source))),
            len,
        }
    }

    /// A body read from `reader` by the blocking transport; `len`, when known, is sent
    /// as `Content-Length` (otherwise the body goes chunked).
    #[cfg(feature = "blocking")]
    pub fn from_reader(reader: impl std::io::Read + Send + 'static, len: Option<u64>) -> Self {
        Self::new(Source::Read(Box::new(reader)), len)
    }

    /// A body read from `reader` by the async transport.
    ///
    /// ```
    /// let body = oauth_core::http::StreamedBody::from_async_reader(&b"abc"[..], Some(3));
    /// assert_eq!(body.len(), Some(3));
    /// ```
    #[cfg(feature = "async")]
    pub fn from_async_reader(
        reader: impl tokio::io::AsyncRead + Send + 'static,
        len: Option<u64>,
    ) -> Self {
        Self::new(Source::AsyncRead(Box::pin(reader)), len)
    }

    /// The body's length, when known.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> Option<u64> {
        self.len
    }

    /// Puts the body on `request` (in its extensions) with its `Content-Length`.
    pub fn attach(self, request: &mut HttpRequest) {
        if let Some(n) = self.len {
            request
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(n));
        }
        request.extensions_mut().insert(self);
    }

    fn take(&self) -> Result<Source, TransportError> {
        self.source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Other,
                    "a streamed request body can be sent only once",
                )
            })
    }

    /// The blocking reader, taken (the body is then spent).
    #[cfg(feature = "blocking")]
    pub(crate) fn take_reader(&self) -> Result<Box<dyn std::io::Read + Send>, TransportError> {
        match self.take()? {
            Source::Read(r) => Ok(r),
            #[cfg(feature = "async")]
            Source::AsyncRead(_) => Err(wrong_flavour()),
        }
    }

    /// The async reader, taken (the body is then spent).
    #[cfg(feature = "async")]
    pub(crate) fn take_async_reader(
        &self,
    ) -> Result<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>, TransportError> {
        match self.take()? {
            Source::AsyncRead(r) => Ok(r),
            #[cfg(feature = "blocking")]
            Source::Read(_) => Err(wrong_flavour()),
        }
    }
}

#[cfg(all(feature = "blocking", feature = "async"))]
fn wrong_flavour() -> TransportError {
    TransportError::new(
        TransportErrorKind::Other,
        "a streamed body of the other flavour (a blocking reader on the async transport, or the reverse)",
    )
}

/// The streamed body a request carries, if any.
pub fn streamed_body(request: &HttpRequest) -> Option<&StreamedBody> {
    request.extensions().get::<StreamedBody>()
}

fn source_error(e: std::io::Error) -> TransportError {
    TransportError::new(
        TransportErrorKind::Other,
        format!("cannot read the request body's source: {e}"),
    )
}

/// For a client that does not stream: the streamed body read into the request's `Bytes`.
#[cfg(feature = "blocking")]
pub(crate) fn materialize(request: &mut HttpRequest) -> Result<(), TransportError> {
    let Some(body) = request.extensions_mut().remove::<StreamedBody>() else {
        return Ok(());
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut body.take_reader()?, &mut bytes).map_err(source_error)?;
    *request.body_mut() = Bytes::from(bytes);
    Ok(())
}

/// [`materialize`] for the async flavour.
#[cfg(feature = "async")]
pub(crate) async fn materialize_async(request: &mut HttpRequest) -> Result<(), TransportError> {
    let Some(body) = request.extensions_mut().remove::<StreamedBody>() else {
        return Ok(());
    };
    let mut reader = body.take_async_reader()?;
    let mut bytes = Vec::new();
    let mut block = vec![0u8; 64 * 1024];
    loop {
        let n = std::future::poll_fn(|cx| {
            let mut buf = tokio::io::ReadBuf::new(&mut block);
            reader
                .as_mut()
                .poll_read(cx, &mut buf)
                .map_ok(|()| buf.filled().len())
        })
        .await
        .map_err(source_error)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&block[..n]);
    }
    *request.body_mut() = Bytes::from(bytes);
    Ok(())
}

/// The async transport's view of a streamed body: frames of up to 256 KiB read from the
/// source, the remaining length as the size hint.
#[cfg(feature = "async")]
pub(crate) struct AsyncReadBody {
    /// In a mutex only to be `Sync`, as reqwest asks: `poll_frame` has it exclusively.
    reader: Mutex<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>>,
    buf: bytes::BytesMut,
    remaining: Option<u64>,
}

#[cfg(feature = "async")]
impl AsyncReadBody {
    const BLOCK: usize = 256 * 1024;

    pub(crate) fn new(body: &StreamedBody) -> Result<AsyncReadBody, TransportError> {
        Ok(AsyncReadBody {
            reader: Mutex::new(body.take_async_reader()?),
            buf: bytes::BytesMut::new(),
            remaining: body.len,
        })
    }
}

#[cfg(feature = "async")]
impl http_body::Body for AsyncReadBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        if this.remaining == Some(0) {
            return Poll::Ready(None);
        }
        // The block is reused once the transport has dropped the last frame sent from it.
        this.buf.clear();
        this.buf.resize(Self::BLOCK, 0);
        let mut read = tokio::io::ReadBuf::new(&mut this.buf);
        let reader = this.reader.get_mut().unwrap_or_else(|p| p.into_inner());
        match reader.as_mut().poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                if n == 0 {
                    return match this.remaining {
                        None => Poll::Ready(None),
                        Some(left) => Poll::Ready(Some(Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("the body's source ended {left} bytes early"),
                        )))),
                    };
                }
                if let Some(left) = &mut this.remaining {
                    *left = left.saturating_sub(n as u64);
                }
                Poll::Ready(Some(Ok(http_body::Frame::data(
                    this.buf.split_to(n).freeze(),
                ))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == Some(0)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.remaining {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }
}

/// A marker in a request's extensions: hand a successful (2xx) answer's body over unread,
/// as a [`ResponseStream`], instead of reading it into memory.
///
/// ```
/// let mut req = http::Request::new(oauth_core::http::Bytes::new());
/// req.extensions_mut().insert(oauth_core::http::StreamResponse);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamResponse;

enum Incoming {
    #[cfg(feature = "blocking")]
    Read(Box<dyn std::io::Read + Send>),
    #[cfg(feature = "async")]
    Reqwest(Box<reqwest::Response>),
}

/// A response body being received, read by the caller as it arrives: [`std::io::Read`]
/// in the blocking flavour, [`ResponseStream::chunk`] in the async one.
pub struct ResponseStream(Incoming);

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseStream")
    }
}

impl ResponseStream {
    #[cfg(feature = "blocking")]
    pub(crate) fn reader(r: impl std::io::Read + Send + 'static) -> ResponseStream {
        ResponseStream(Incoming::Read(Box::new(r)))
    }

    #[cfg(feature = "async")]
    pub(crate) fn reqwest(r: reqwest::Response) -> ResponseStream {
        ResponseStream(Incoming::Reqwest(Box::new(r)))
    }

    /// The next piece of the body (async flavour), `None` at its end. A connection lost
    /// midway is an error: what arrived before it stands.
    #[cfg(feature = "async")]
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, TransportError> {
        match &mut self.0 {
            Incoming::Reqwest(r) => r.chunk().await.map_err(crate::transport::reqwest_error),
            #[cfg(feature = "blocking")]
            Incoming::Read(_) => Err(wrong_flavour()),
        }
    }
}

#[cfg(feature = "blocking")]
impl std::io::Read for ResponseStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Incoming::Read(r) => r.read(buf),
            #[cfg(feature = "async")]
            Incoming::Reqwest(_) => Err(std::io::Error::other(wrong_flavour().to_string())),
        }
    }
}

/// Where a transport leaves a [`ResponseStream`]: the response's extensions.
#[derive(Clone)]
pub(crate) struct StreamSlot(Arc<Mutex<Option<ResponseStream>>>);

/// Puts `stream` on `response`.
pub(crate) fn put_response_stream(response: &mut HttpResponse, stream: ResponseStream) {
    response
        .extensions_mut()
        .insert(StreamSlot(Arc::new(Mutex::new(Some(stream)))));
}

/// The unread body of an answer to a request marked [`StreamResponse`], when the
/// transport streamed it (`None`: the body is the response's `Bytes`, as a client that
/// does not stream returns it).
///
/// ```
/// let mut resp = http::Response::new(oauth_core::http::Bytes::from_static(b"all here"));
/// assert!(oauth_core::http::take_response_stream(&mut resp).is_none());
/// ```
pub fn take_response_stream(response: &mut HttpResponse) -> Option<ResponseStream> {
    let slot = response.extensions_mut().remove::<StreamSlot>()?;
    slot.0.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// Whether a request asks for its answer's body unread.
pub(crate) fn wants_stream(request: &HttpRequest) -> bool {
    request.extensions().get::<StreamResponse>().is_some()
}

#[cfg(all(test, feature = "blocking"))]
mod tests {
    use super::*;

    #[test]
    fn a_streamed_body_is_read_into_memory_for_a_client_that_does_not_stream() {
        let mut req = http::Request::new(Bytes::new());
        StreamedBody::from_reader(std::io::Cursor::new(b"hello".to_vec()), None).attach(&mut req);
        let spent = streamed_body(&req).cloned().unwrap();
        materialize(&mut req).unwrap();
        assert_eq!(&req.body()[..], b"hello");
        assert!(streamed_body(&req).is_none());
        // The source is spent: sending it again is an error, not an empty body.
        assert!(spent.take_reader().is_err());
    }
}
