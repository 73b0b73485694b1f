//! The blocking flavour: the same names as the async API, on oauth-core's blocking
//! transport, with no runtime.

use std::sync::Arc;

use oauth_core::blocking::{Credentials, run_authorized};
use oauth_core::flavour::Blocking;
use oauth_core::transport::{HttpClient, UreqClient};
use serde::de::DeserializeOwned;

use crate::batch::{BatchRequest, BatchResult};
use crate::download::{DownloadOptions, MediaDownload};
use crate::paging::Pages;
use crate::service;
use crate::transfer::blocking as transfer;
pub use crate::transfer::blocking::MediaSource;
use crate::upload::UploadOptions;
use crate::{ApiResponse, BuildOptions, Error};

/// Fetches (or takes from the cache) the discovery document of `api` `version` and
/// returns a service that calls it with `credentials` (googleapiclient's `build`).
///
/// ```no_run
/// use oauth_core::{AuthorizedUser, blocking::Credentials};
/// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
/// let service = discovery_client::blocking::build("calendar", "v3", creds)?;
/// let events = service.method("events.list")?.param("calendarId", "primary").execute()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build(api: &str, version: &str, credentials: Credentials) -> Result<Service, Error> {
    build_with(api, version, Some(credentials), &BuildOptions::default())
}

/// [`build`] with options (discovery URL, root URL, cache, retries); without credentials
/// calls go unauthenticated (public APIs, API keys as the `key` parameter).
///
/// ```no_run
/// let options = discovery_client::BuildOptions::default()
///     .discovery_url("http://127.0.0.1:8080/discovery/v1/apis/{api}/{apiVersion}/rest");
/// let service = discovery_client::blocking::build_with("oauth2", "v2", None, &options)?;
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub fn build_with(
    api: &str,
    version: &str,
    credentials: Option<Credentials>,
    options: &BuildOptions,
) -> Result<Service, Error> {
    let client: Arc<dyn HttpClient> = match &credentials {
        Some(c) => Arc::clone(c.http_client()),
        None => UreqClient::shared(),
    };
    let doc = match options.cached(api, version) {
        Some(doc) => doc,
        None => {
            let mut fetch = options.fetch(api, version);
            let (origin, bytes) = run_authorized(client.as_ref(), &mut fetch, None)??;
            options.store(api, version, &origin, bytes)?
        }
    };
    Ok(Service {
        api: doc,
        credentials,
        client,
        options: options.call,
    })
}

/// An API with credentials and a transport (blocking): [`service::Service`] on the
/// [`Blocking`] flavour.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
/// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
/// let api = discovery_client::Api::from_document(doc)?;
/// let service = discovery_client::blocking::Service::new(api, None);
/// let call = service.method("ping")?;
/// assert_eq!(call.prepare()?.url, "http://127.0.0.1:1/ping?alt=json");
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub type Service = service::Service<Blocking>;

/// One call of a method, ready to execute (blocking): [`service::MethodCall`] on the
/// [`Blocking`] flavour.
pub type MethodCall = service::MethodCall<Blocking>;

/// Calls sent together as one batch request (blocking): [`service::Batch`] on the
/// [`Blocking`] flavour.
pub type Batch = service::Batch<Blocking>;

impl Service {
    /// Uses another transport (tests pass a local client).
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Service {
        self.client = client;
        self
    }
}

impl MethodCall {
    /// Sends the call and returns the raw answer.
    pub fn execute_response(&self) -> Result<ApiResponse, Error> {
        let mut call = self.call()?;
        let s = &self.service;
        run_authorized(s.client.as_ref(), &mut call, s.credentials.as_ref())?
    }

    /// Sends the call; the answer as JSON (googleapiclient's `execute()`).
    pub fn execute(&self) -> Result<serde_json::Value, Error> {
        Ok(self.execute_response()?.json())
    }

    /// Sends the call; the answer deserialized into `T`.
    pub fn execute_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.execute_response()?.decode()
    }

    /// Sends the call; the body's bytes (media downloads with [`MethodCall::download`]).
    pub fn execute_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(self.execute_response()?.body.into())
    }

    /// Streams the media (`alt=media`) into `out` in `Range` chunks of
    /// `options.chunk_size` (googleapiclient's `MediaIoBaseDownload`), each chunk retried
    /// by the call's options; returns the media's size. To resume a partly written file,
    /// open it for appending and pass its length as `options.resume_from`.
    ///
    /// ```no_run
    /// # fn f(service: discovery_client::blocking::Service) -> Result<(), discovery_client::Error> {
    /// use discovery_client::download::DownloadOptions;
    /// let mut file = std::fs::File::create("report.csv").map_err(|e| discovery_client::Error::Io {
    ///     path: "report.csv".into(), reason: e.to_string() })?;
    /// let size = service.method("files.get")?.param("fileId", "abc")
    ///     .download_to(&mut file, DownloadOptions::default().chunk_size(8 << 20))?;
    /// # Ok(()) }
    /// ```
    pub fn download_to<W: std::io::Write + ?Sized>(
        &self,
        out: &mut W,
        options: DownloadOptions,
    ) -> Result<u64, Error> {
        self.download_with_progress(out, options, &|_, _| {})
    }

    /// [`MethodCall::download_to`], each chunk's body written as it arrives (constant
    /// memory whatever the chunk size), a body that breaks off continued with `Range`
    /// from the last byte written (a bounded number of times), and `progress` told the
    /// bytes written and the size once known.
    ///
    /// ```no_run
    /// # fn f(service: discovery_client::blocking::Service) -> Result<(), Box<dyn std::error::Error>> {
    /// use discovery_client::download::DownloadOptions;
    /// let mut file = std::fs::File::create("video.mp4")?;
    /// service.method("files.get")?.param("fileId", "abc")
    ///     .download_with_progress(&mut file, DownloadOptions::default(), &|done, total| {
    ///         eprintln!("{done} of {total:?}");
    ///     })?;
    /// # Ok(()) }
    /// ```
    pub fn download_with_progress<W: std::io::Write + ?Sized>(
        &self,
        out: &mut W,
        options: DownloadOptions,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<u64, Error> {
        let options = DownloadOptions {
            call: options.call.or(Some(self.options)),
            ..options
        };
        let download = MediaDownload::new(&self.request, options)?
            .on_origin(self.service.api.root_origin())
            .streamed();
        transfer::download(&self.link(), download, out, progress)
    }

    /// Uploads media read from `source` as it is sent, in constant memory: simple (or,
    /// with a [`MethodCall::body`], multipart) by default, resumable with
    /// [`UploadOptions::resumable`] (see [`crate::upload`]). The answer is the method's
    /// (the new file's metadata).
    ///
    /// ```no_run
    /// # fn f(service: discovery_client::blocking::Service) -> Result<(), discovery_client::Error> {
    /// use discovery_client::{blocking::MediaSource, upload::UploadOptions};
    /// let source = MediaSource::from_file("backup.tar", Some("application/x-tar"))?;
    /// let file = service.method("files.create")?
    ///     .body(serde_json::json!({"name": "backup.tar"}))
    ///     .upload(source, UploadOptions::resumable().on_session(|url| eprintln!("session {url}")))?
    ///     .json();
    /// # Ok(()) }
    /// ```
    pub fn upload(
        &self,
        source: MediaSource,
        options: UploadOptions,
    ) -> Result<ApiResponse, Error> {
        transfer::upload(&self.link(), &self.request, self.options, source, options)
    }

    fn link(&self) -> transfer::Link<'_> {
        let s = &self.service;
        transfer::Link {
            client: s.client.as_ref(),
            credentials: s.credentials.as_ref(),
            origin: s.api.root_origin(),
        }
    }

    /// The pages of a listing, one request per page, following `nextPageToken`. Paging
    /// ends: a repeated page token or more than the call options' `max_pages` pages
    /// (10,000 by default) is an error item after the last good page (see
    /// [`crate::paging`]).
    pub fn pages(self) -> Result<PageIter, Error> {
        Ok(PageIter {
            pages: Pages::new(self.request.clone())?.with_max_pages(self.options.max_pages),
            call: self,
        })
    }

    /// Every page's items, concatenated; an error when paging does not end well (a
    /// repeated page token, the page limit).
    pub fn collect_items(self) -> Result<Vec<serde_json::Value>, Error> {
        let mut it = self.pages()?;
        let mut items = Vec::new();
        while let Some(page) = it.next() {
            items.extend(it.pages.items_of(&page?));
        }
        Ok(items)
    }
}

/// The pages of a listing (blocking).
#[derive(Debug)]
pub struct PageIter {
    call: MethodCall,
    pages: Pages,
}

impl PageIter {
    /// The field holding a page's items.
    pub fn items_field(&self) -> Option<&str> {
        self.pages.items_field()
    }
}

impl Iterator for PageIter {
    type Item = Result<serde_json::Value, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let request = match self.pages.next_request()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        let call = MethodCall {
            request,
            ..self.call.clone()
        };
        match call.execute() {
            Ok(page) => {
                self.pages.on_page(&page);
                Some(Ok(page))
            }
            Err(e) => {
                self.pages.finish();
                Some(Err(e))
            }
        }
    }
}

impl Batch {
    /// Sends the batch (the outer request retried by the service's call options) and
    /// returns each call's result in the order the calls were added. An empty batch
    /// sends nothing. Calls answered 401 cause one refresh of the credentials and are
    /// sent again, those calls only, once.
    pub fn execute(&self) -> Result<Vec<BatchResult>, Error> {
        let mut results = self.send(&self.batch)?;
        let again = crate::batch::unauthorized(&results);
        if again.is_empty() {
            return Ok(results);
        }
        let Some(c) = &self.service.credentials else {
            return Ok(results);
        };
        c.refresh()?;
        let retried = self.send(&self.batch.subset(&again))?;
        crate::batch::merge(&mut results, &again, retried);
        Ok(results)
    }

    fn send(&self, batch: &BatchRequest) -> Result<Vec<BatchResult>, Error> {
        let s = &self.service;
        let headers = match &s.credentials {
            Some(c) => c.headers()?,
            None => http::HeaderMap::new(),
        };
        let mut call = batch.exchange(&headers, s.options);
        run_authorized(s.client.as_ref(), &mut call, s.credentials.as_ref())?
    }
}
