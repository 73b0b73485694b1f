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
//! Features: `blocking` (ureq) and `async` (reqwest, tokio), both on by default, as in
//! oauth-core.

pub mod api;
pub mod batch;
pub mod download;
pub mod error;
pub mod exchange;
pub mod fetch;
pub mod media;
pub mod paging;
pub mod request;
pub mod template;
pub mod value;

mod document;
mod encoding;
#[cfg(any(feature = "blocking", feature = "async"))]
mod flavour;

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub mod blocking;

pub use api::{Api, Resource};
#[cfg(feature = "async")]
pub use asynchronous::{Batch, MethodCall, Pager, Service, build, build_with};
pub use error::{ApiError, Error};
pub use exchange::{ApiResponse, CallOptions};
pub use fetch::{BuildOptions, discovery_urls};
pub use media::Media;
pub use request::{PreparedRequest, Request, UploadProtocol};
pub use value::ParamValue;
