//! # discovery-client
//!
//! Calls to any Google API described by a discovery document, as Python's
//! `googleapiclient.discovery.build(api, version, credentials=...)` makes them: the same
//! URLs, query strings, bodies and validation, checked request by request against
//! googleapiclient over every document it ships.
//!
//! The protocol is sans-IO: an [`Api`] (the parsed document) builds [`Request`]s, which
//! [`Request::prepare`] turns into a [`PreparedRequest`] (method, URL, headers, body)
//! without touching the network; execution, retries and resumable uploads are one
//! [`exchange::ApiCall`] state machine that both flavours drive.
//!
//! ```
//! use discovery_client::Api;
//! let doc = br#"{"name":"calendar","version":"v3","rootUrl":"https://www.googleapis.com/",
//!   "servicePath":"calendar/v3/","resources":{"events":{"methods":{"list":{"id":"calendar.events.list",
//!   "path":"calendars/{calendarId}/events","httpMethod":"GET","parameters":{"calendarId":
//!   {"type":"string","location":"path","required":true},"maxResults":{"type":"integer","location":"query"}},
//!   "response":{"$ref":"Events"}}}}}}"#;
//! let api = Api::from_document(doc)?;
//! let req = api.method("events.list")?.param("calendarId", "primary").param("maxResults", 5).prepare()?;
//! assert_eq!(req.url, "https://www.googleapis.com/calendar/v3/calendars/primary/events?maxResults=5&alt=json");
//! # Ok::<(), discovery_client::Error>(())
//! ```
//!
//! With credentials, `blocking::build("calendar", "v3", creds)?` (or the async
//! [`build`]) fetches the document, caches it, and returns a `Service` whose
//! `method("events.list")?...execute()` sends the call.
//!
//! Beyond single calls, all sans-IO and driven by both flavours:
//! - [`batch`]: up to 1000 calls in one `multipart/mixed` request to the API's
//!   `batchPath` (`service.new_batch_http_request()`, googleapiclient's
//!   `BatchHttpRequest`), with bodies checked against googleapiclient's.
//! - [`download`]: media streamed to a writer in `Range` chunks (`download_to`,
//!   googleapiclient's `MediaIoBaseDownload`), resumable, each chunk retried.
//! - [`paging`]: an iterator of pages (blocking) and a `futures_core::Stream` of pages
//!   (async `Pager`), or every item at once with `collect_items`.
//!
//! ## Where credentials go
//!
//! Credentials (the `Authorization` header, an API key parameter) go only to the origin
//! (scheme, host, port) of the API's root URL, over https or to loopback:
//! - A document's `rootUrl` is used when its host is Google's (`googleapis.com` and its
//!   subdomains) or loopback; another host needs the program's allowance
//!   ([`DocumentOptions::endpoint_policy`], [`BuildOptions::endpoint_policy`]); plain
//!   http is refused off loopback. A root URL the program sets
//!   ([`DocumentOptions::root_url`], [`BuildOptions::root_url`], [`Api::with_root_url`])
//!   is its own choice of host, still https or loopback.
//! - A `servicePath`, method `path`, media upload or download URL, upload session URL,
//!   batch call or parameter value (`{+name}` included) that would lead elsewhere is
//!   [`Error::ForeignUrl`], naming the host, before anything is sent: checked when the
//!   document is read and the request prepared ([`origin::Origin`]), and again where the
//!   flavours apply credentials.
//!
//! ```
//! # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
//! #  "methods":{"get":{"id":"d.get","path":"{+name}","httpMethod":"GET",
//! #  "parameters":{"name":{"type":"string","location":"path","required":true}}}}}"#;
//! let api = discovery_client::Api::from_document(doc)?;
//! let e = api.method("get")?.param("name", "http://127.0.0.1:9/steal").prepare().unwrap_err();
//! assert!(matches!(e, discovery_client::Error::ForeignUrl { ref host, .. } if host == "127.0.0.1"));
//! # Ok::<(), discovery_client::Error>(())
//! ```
//!
//! ## Limits
//!
//! Header values and methods are validated, never dropped ([`Error::InvalidHeader`], a
//! media type naming `media_mime_type`, a document's `httpMethod`). Paging ends with
//! [`Error::RepeatedPageToken`] on a token seen before and [`Error::TooManyPages`] after
//! [`CallOptions::max_pages`] pages (10,000 by default). Documents are read up to
//! [`DEFAULT_MAX_DOCUMENT_SIZE`] (64 MiB), fetched, from a file ([`Api::from_file`]) or
//! from the disk cache.
//!
//! Features: `blocking` (ureq) and `async` (reqwest, tokio), both on by default, as in
//! oauth-core.
// Without a flavour (neither `blocking` nor `async`) only the sans-IO half is built: the
// flavour-free helpers that only the runners call are unused there, by design.
#![cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(dead_code, unused_imports)
)]

pub mod api;
pub mod batch;
pub mod download;
pub mod error;
pub mod exchange;
pub mod fetch;
pub mod media;
pub mod origin;
pub mod paging;
pub mod request;
#[cfg(any(feature = "blocking", feature = "async"))]
pub mod service;
pub mod template;
pub mod upload;
pub mod value;

mod document;
mod encoding;
mod transfer;

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub mod blocking;

pub use api::{Api, DEFAULT_MAX_DOCUMENT_SIZE, DocumentOptions, Resource};
#[cfg(feature = "async")]
pub use asynchronous::{Batch, MethodCall, Pager, Service, build, build_with};
pub use error::{ApiError, Error};
pub use exchange::{ApiResponse, CallOptions};
pub use fetch::{BuildOptions, discovery_urls};
pub use media::Media;
pub use request::{PreparedRequest, Request, UploadProtocol};
#[cfg(feature = "async")]
pub use transfer::asynchronous::MediaSource;
pub use value::ParamValue;
