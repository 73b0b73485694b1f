//! Streamed media downloads (googleapiclient's `MediaIoBaseDownload`), without I/O: the
//! media is fetched in `Range: bytes=a-b` chunks, each chunk one retried call, and each
//! answer checked against what was already received before its bytes are handed to the
//! caller's writer. The flavours' `download_to` drive it.
//!
//! Beyond googleapiclient: a download resumes from bytes already written
//! ([`DownloadOptions::resume_from`]); a server that ignores `Range` (200 with the whole
//! body) is handled, skipping what was already written instead of writing it twice; a
//! 206 that does not start where the download stands is an error, not silent damage.
//!
//! ```
//! # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
//! #  "methods":{"get":{"id":"d.get","path":"f","httpMethod":"GET","supportsMediaDownload":true,"response":{"$ref":"F"}}}}"#;
//! use discovery_client::download::{DownloadOptions, MediaDownload};
//! use oauth_core::exchange::{Exchange, Input, Step};
//! let api = discovery_client::Api::from_document(doc)?;
//! let mut dl = MediaDownload::new(&api.method("get")?, DownloadOptions::default().chunk_size(4))?;
//! let mut out = Vec::new();
//! let answers = [("bytes 0-3/6", &b"abcd"[..]), ("bytes 4-5/6", &b"ef"[..])];
//! for (range, bytes) in answers {
//!     let mut chunk = dl.next_chunk().unwrap();
//!     let Step::Send(req) = chunk.step(Input::Start) else { unreachable!() };
//!     assert!(req.headers()["range"].to_str().unwrap().starts_with("bytes="));
//!     let resp = http::Response::builder().status(206).header("content-range", range).body(bytes.to_vec().into()).unwrap();
//!     let Step::Done(Ok(answer)) = chunk.step(Input::Response(Ok(resp))) else { unreachable!() };
//!     out.extend_from_slice(&dl.on_chunk(answer?)?);
//! }
//! assert!(dl.is_done() && dl.next_chunk().is_none());
//! assert_eq!((out.as_slice(), dl.total_size()), (&b"abcdef"[..], Some(6)));
//! # Ok::<(), discovery_client::Error>(())
//! ```

use http::header::{CONTENT_RANGE, RANGE};
use oauth_core::http::Bytes;

use crate::exchange::ApiCall;
use crate::request::ModelKind;
use crate::{ApiResponse, CallOptions, Error, PreparedRequest, Request};

/// The default chunk: 100 MiB, googleapiclient's `DEFAULT_CHUNK_SIZE`.
pub const DEFAULT_CHUNK_SIZE: usize = 100 << 20;

/// How a download goes: chunk size, where it starts, and each chunk's call options
/// (retries apply per chunk).
///
/// ```
/// use discovery_client::download::{DownloadOptions, DEFAULT_CHUNK_SIZE};
/// let o = DownloadOptions::default().chunk_size(1 << 20).resume_from(4096);
/// assert_eq!((o.chunk_size, o.resume_from), (1 << 20, 4096));
/// assert_eq!(DownloadOptions::default().chunk_size, DEFAULT_CHUNK_SIZE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct DownloadOptions {
    /// Bytes asked for per request (at least 1).
    pub chunk_size: usize,
    /// Bytes the caller already has (a partly written file): the download continues after
    /// them.
    pub resume_from: u64,
    /// Retries and the response bound of each chunk; `None` takes the call's.
    pub call: Option<CallOptions>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            resume_from: 0,
            call: None,
        }
    }
}

impl DownloadOptions {
    /// Bytes per request.
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Continues after `bytes` the caller already has.
    pub fn resume_from(mut self, bytes: u64) -> Self {
        self.resume_from = bytes;
        self
    }

    /// Each chunk's call options (retries, response bound).
    pub fn call_options(mut self, options: CallOptions) -> Self {
        self.call = Some(options);
        self
    }
}

/// The state of one streamed download: what to ask for next, what arrived, when it is
/// complete.
pub struct MediaDownload {
    prepared: PreparedRequest,
    chunk_size: usize,
    call: CallOptions,
    progress: u64,
    total: Option<u64>,
    done: bool,
    /// The origin the chunks declare: the service's (see [`ApiCall::on_origin`]).
    origin: Option<crate::origin::Origin>,
    /// Chunks asked for with their body handed over unread.
    streamed: bool,
    /// Bodies broken off in a row without progress.
    interruptions: u32,
}

impl std::fmt::Debug for MediaDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaDownload")
            .field("method", &self.prepared.method_id)
            .field("progress", &self.progress)
            .field("total", &self.total)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl MediaDownload {
    /// A download of `request`'s media (`alt=media` is set here); the call is validated
    /// now. A zero chunk size is an error naming `chunk_size`. Each chunk's options are
    /// `options.call` or the defaults, with the response bound raised to the chunk size.
    pub fn new(request: &Request, options: DownloadOptions) -> Result<MediaDownload, Error> {
        let prepared = request.clone().download().prepare()?;
        if options.chunk_size == 0 {
            return Err(Error::InvalidValue {
                method: prepared.method_id.clone(),
                param: "chunk_size".into(),
                reason: "a download chunk must hold at least one byte".into(),
            });
        }
        let mut call = options.call.unwrap_or_default();
        call.response_limit = call.response_limit.max(options.chunk_size);
        Ok(MediaDownload {
            prepared,
            chunk_size: options.chunk_size,
            call,
            progress: options.resume_from,
            total: None,
            done: false,
            origin: None,
            streamed: false,
            interruptions: 0,
        })
    }

    /// The download for a service on `origin`: every chunk declares it, so credentials go
    /// with none that leaves it.
    pub(crate) fn on_origin(mut self, origin: &crate::origin::Origin) -> Self {
        self.origin = Some(origin.clone());
        self
    }

    /// Asks for each chunk's body unread ([`ApiResponse`] then holds the body still
    /// arriving), for a driver that writes it as it comes.
    pub(crate) fn streamed(mut self) -> Self {
        self.streamed = true;
        self
    }

    /// Bytes received so far (counting those the download resumed after).
    pub fn progress(&self) -> u64 {
        self.progress
    }

    /// The media's size, once an answer said it.
    pub fn total_size(&self) -> Option<u64> {
        self.total
    }

    /// Whether every byte has arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The call for the next chunk (an exchange retried by the call options), or `None`
    /// when the download is complete.
    pub fn next_chunk(&self) -> Option<ApiCall> {
        if self.done {
            return None;
        }
        let last = self
            .progress
            .saturating_add(self.chunk_size as u64)
            .saturating_sub(1);
        let mut prepared = self.prepared.clone();
        prepared.headers.push((
            RANGE.as_str().into(),
            format!("bytes={}-{}", self.progress, last),
        ));
        let mut call = ApiCall::new(prepared, self.call, ModelKind::Media, false);
        if let Some(origin) = &self.origin {
            call = call.on_origin(origin);
        }
        call.ranged = true;
        call.stream_response = self.streamed;
        Some(call)
    }

    /// Takes a chunk's answer and returns the bytes to write next (possibly none).
    pub fn on_chunk(&mut self, answer: ApiResponse) -> Result<Bytes, Error> {
        let incoming = self.on_head(&answer, Some(answer.body.len() as u64))?;
        let mut body = answer.body;
        let skip = usize::try_from(incoming.skip).unwrap_or(usize::MAX);
        if skip >= body.len() && incoming.end == Some(self.progress) {
            self.on_end(&incoming)?;
            return Ok(Bytes::new());
        }
        let fresh = body.split_off(skip.min(body.len()));
        self.on_bytes(fresh.len() as u64);
        self.on_end(&incoming)?;
        Ok(fresh)
    }

    /// Checks a chunk's answer before its body is read (`body_len`: its length, when
    /// known): what of the body to skip (bytes already written) and how many to expect.
    pub fn on_head(
        &mut self,
        answer: &ApiResponse,
        body_len: Option<u64>,
    ) -> Result<Incoming, Error> {
        let endpoint = answer.endpoint.clone();
        let bad = |reason: String| {
            Error::Core(oauth_core::Error::MalformedResponse {
                endpoint: endpoint.clone(),
                reason,
            })
        };
        let range = answer
            .headers
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .map(ContentRange::parse);
        let body_len = body_len.or_else(|| content_length(answer));
        match answer.status {
            206 => {
                let Some(Some(ContentRange {
                    first: Some((first, last)),
                    total,
                })) = range
                else {
                    return Err(bad("a partial answer without a valid Content-Range".into()));
                };
                if first > self.progress || last < first {
                    return Err(bad(format!(
                        "the answer holds bytes {first}-{last} but the download stands at {}",
                        self.progress
                    )));
                }
                if let Some(n) = body_len
                    && n != last - first + 1
                {
                    return Err(bad(format!(
                        "Content-Range announces {} bytes but the answer holds {n}",
                        last - first + 1,
                    )));
                }
                if let Some(t) = total
                    && last >= t
                {
                    return Err(bad("Content-Range ends past the media's size".into()));
                }
                self.total = total;
                Ok(Incoming {
                    skip: self.progress - first,
                    end: Some(last + 1),
                    whole: false,
                    last_chunk: match total {
                        Some(t) => last + 1 >= t,
                        // Size unknown: a short chunk is the last one.
                        None => last - first + 1 < self.chunk_size as u64,
                    },
                })
            }
            416 => match range.flatten().and_then(|r| r.total) {
                // Nothing left: an empty media, or a resume of a complete file.
                Some(t) if t == self.progress => {
                    self.total = Some(t);
                    Ok(Incoming {
                        // The body is Google's error text, not media.
                        skip: u64::MAX,
                        end: Some(t),
                        whole: false,
                        last_chunk: true,
                    })
                }
                _ => Err(Error::Api(Box::new(crate::ApiError::from_response(
                    416,
                    &endpoint,
                    &answer.body,
                )))),
            },
            _ => {
                // The server ignored Range: the whole media in one answer.
                if let Some(len) = body_len {
                    if len < self.progress {
                        return Err(bad(format!(
                            "the media has {len} bytes but {} were already received",
                            self.progress
                        )));
                    }
                    self.total = Some(len);
                }
                Ok(Incoming {
                    skip: self.progress,
                    end: body_len,
                    whole: true,
                    last_chunk: true,
                })
            }
        }
    }

    /// `n` more bytes were written.
    pub fn on_bytes(&mut self, n: u64) {
        self.progress = self.progress.saturating_add(n);
    }

    /// The chunk's body has ended: checks it held what its head announced and tells
    /// whether the download is complete.
    pub fn on_end(&mut self, incoming: &Incoming) -> Result<(), Error> {
        if let Some(end) = incoming.end
            && self.progress != end
        {
            return Err(Error::Core(oauth_core::Error::MalformedResponse {
                endpoint: self.prepared.method_id.clone(),
                reason: format!(
                    "the answer ended at byte {} of the {end} it announced",
                    self.progress
                ),
            }));
        }
        if incoming.whole {
            self.total = Some(self.progress);
        }
        self.done = incoming.last_chunk;
        Ok(())
    }

    /// A chunk's body broke off (a dropped connection, a timeout): the download goes on
    /// from what was written, at most `retries` times in a row without progress.
    pub fn on_interrupted(&mut self, error: Error, progress_before: u64) -> Result<(), Error> {
        if self.progress > progress_before {
            self.interruptions = 0;
        }
        self.interruptions += 1;
        if self.interruptions > self.call.retry.max_attempts.max(3) {
            return Err(error);
        }
        tracing::debug!(%error, at = self.progress, "download broke off; resuming with Range");
        Ok(())
    }
}

/// What a chunk's answer will bring, from its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming {
    /// Leading bytes of the body already written (a server that ignored `Range`).
    pub skip: u64,
    /// Where the download stands once the body has ended, when known.
    pub end: Option<u64>,
    /// The answer is the whole media (the server ignored `Range`).
    whole: bool,
    /// Once this body has ended, the download is complete.
    last_chunk: bool,
}

fn content_length(answer: &ApiResponse) -> Option<u64> {
    if answer.stream.is_none() {
        return Some(answer.body.len() as u64);
    }
    answer
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// `bytes first-last/total`, `bytes */total`, with `*` for an unknown total.
struct ContentRange {
    first: Option<(u64, u64)>,
    total: Option<u64>,
}

impl ContentRange {
    fn parse(v: &str) -> Option<ContentRange> {
        let rest = v.trim().strip_prefix("bytes")?.trim_start();
        let (span, total) = rest.split_once('/')?;
        let total = match total.trim() {
            "*" => None,
            t => Some(t.parse::<u64>().ok()?),
        };
        let first = match span.trim() {
            "*" => None,
            s => {
                let (a, b) = s.split_once('-')?;
                Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
            }
        };
        Some(ContentRange { first, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Api;
    use oauth_core::exchange::{Exchange, Input, Step};

    const DOC: &str = r#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
      "methods":{"get":{"id":"d.get","path":"f","httpMethod":"GET","supportsMediaDownload":true,"response":{"$ref":"F"}}}}"#;

    fn dl(chunk: usize, from: u64) -> MediaDownload {
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        MediaDownload::new(
            &api.method("get").unwrap(),
            DownloadOptions::default()
                .chunk_size(chunk)
                .resume_from(from)
                .call_options(CallOptions::default().num_retries(1)),
        )
        .unwrap()
    }

    /// Runs one chunk against `answers` (status, content-range, body), returning the
    /// Range asked for and the call's result.
    fn chunk(
        d: &MediaDownload,
        answers: &[(u16, Option<&str>, &[u8])],
    ) -> (String, Result<ApiResponse, Error>) {
        let mut call = d.next_chunk().expect("a chunk");
        let Step::Send(req) = call.step(Input::Start) else {
            panic!()
        };
        let range = req.headers()["range"].to_str().unwrap().to_owned();
        assert!(req.uri().to_string().contains("alt=media"));
        for (status, cr, body) in answers {
            let mut b = http::Response::builder().status(*status);
            if let Some(cr) = cr {
                b = b.header("content-range", *cr);
            }
            match call.step(Input::Response(Ok(b.body(body.to_vec().into()).unwrap()))) {
                Step::Done(Ok(r)) => return (range, r),
                Step::Wait(_) => {
                    assert!(matches!(call.step(Input::Waited), Step::Send(_)));
                }
                _ => panic!(),
            }
        }
        panic!("no answer left")
    }

    #[test]
    fn chunks_follow_content_range_and_a_failed_chunk_is_retried() {
        let mut d = dl(4, 0);
        let (r, a) = chunk(&d, &[(206, Some("bytes 0-3/10"), b"0123")]);
        assert_eq!(r, "bytes=0-3");
        assert_eq!(d.on_chunk(a.unwrap()).unwrap(), &b"0123"[..]);
        let (r, a) = chunk(
            &d,
            &[(503, None, b""), (206, Some("bytes 4-7/10"), b"4567")],
        );
        assert_eq!(r, "bytes=4-7");
        assert_eq!(d.on_chunk(a.unwrap()).unwrap(), &b"4567"[..]);
        let (_, a) = chunk(&d, &[(206, Some("bytes 8-9/10"), b"89")]);
        assert_eq!(d.on_chunk(a.unwrap()).unwrap(), &b"89"[..]);
        assert!(d.is_done());
        assert_eq!((d.progress(), d.total_size()), (10, Some(10)));
    }

    #[test]
    fn a_server_ignoring_range_sends_everything_once() {
        let mut d = dl(4, 3);
        let (r, a) = chunk(&d, &[(200, None, b"0123456")]);
        assert_eq!(r, "bytes=3-6");
        assert_eq!(d.on_chunk(a.unwrap()).unwrap(), &b"3456"[..]);
        assert!(d.is_done());
        let mut d = dl(4, 9);
        let (_, a) = chunk(&d, &[(200, None, b"0123")]);
        assert!(d.on_chunk(a.unwrap()).is_err());
    }

    #[test]
    fn empty_media_and_complete_resumes_end_on_416() {
        for from in [0, 5] {
            let mut d = dl(4, from);
            let cr = format!("bytes */{from}");
            let (_, a) = chunk(&d, &[(416, Some(&cr), b"")]);
            assert!(d.on_chunk(a.unwrap()).unwrap().is_empty());
            assert!(d.is_done());
        }
        let mut d = dl(4, 2);
        let (_, a) = chunk(&d, &[(416, Some("bytes */9"), b"")]);
        assert!(matches!(d.on_chunk(a.unwrap()), Err(Error::Api(e)) if e.status == 416));
    }

    #[test]
    fn answers_that_do_not_fit_are_refused() {
        let cases: &[(Option<&str>, &[u8])] = &[
            (None, b"0123"),
            (Some("bytes 1-4/10"), b"1234"),
            (Some("bytes 0-3/10"), b"012"),
            (Some("bytes 0-3/2"), b"0123"),
            (Some("bytes 3-0/10"), b""),
            (Some("bytes x-3/10"), b"0123"),
            (Some("items 0-3/10"), b"0123"),
        ];
        for (cr, body) in cases {
            let mut d = dl(4, 0);
            let (_, a) = chunk(&d, &[(206, *cr, body)]);
            assert!(d.on_chunk(a.unwrap()).is_err(), "{cr:?}");
        }
        // An overlap with what arrived is trimmed; an unknown total ends on a short chunk.
        let mut d = dl(4, 2);
        let (_, a) = chunk(&d, &[(206, Some("bytes 0-3/*"), b"0123")]);
        assert_eq!(d.on_chunk(a.unwrap()).unwrap(), &b"23"[..]);
        assert!(!d.is_done());
        let (_, a) = chunk(&d, &[(206, Some("bytes 4-5/*"), b"45")]);
        assert_eq!(d.on_chunk(a.unwrap()).unwrap(), &b"45"[..]);
        assert!(d.is_done());
        let api = Api::from_document(DOC.as_bytes()).unwrap();
        let e = MediaDownload::new(
            &api.method("get").unwrap(),
            DownloadOptions::default().chunk_size(0),
        )
        .unwrap_err();
        assert_eq!(e.parameter(), Some("chunk_size"));
    }
}
