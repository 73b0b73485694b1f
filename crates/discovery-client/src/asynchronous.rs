//! The async flavour: the same names as [`crate::blocking`], on oauth-core's async
//! transport and tokio timers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use oauth_core::flavour::Async;
use oauth_core::transport::{AsyncHttpClient, ReqwestClient};
use oauth_core::{Credentials, run_authorized};
use serde::de::DeserializeOwned;

use crate::batch::{BatchRequest, BatchResult};
use crate::download::{DownloadOptions, MediaDownload};
use crate::paging::Pages;
use crate::service;
use crate::transfer::asynchronous::{self as transfer, MediaSource};
use crate::upload::UploadOptions;
use crate::{ApiResponse, BuildOptions, Error};

/// Fetches (or takes from the cache) the discovery document of `api` `version` and
/// returns a service that calls it with `credentials` (googleapiclient's `build`).
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use oauth_core::{AuthorizedUser, Credentials};
/// let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
/// let service = discovery_client::build("calendar", "v3", creds).await?;
/// let events = service.method("events.list")?.param("calendarId", "primary").execute().await?;
/// # Ok(()) }
/// ```
pub async fn build(api: &str, version: &str, credentials: Credentials) -> Result<Service, Error> {
    build_with(api, version, Some(credentials), &BuildOptions::default()).await
}

/// [`build`] with options; without credentials calls go unauthenticated.
///
/// ```no_run
/// # async fn f() -> Result<(), discovery_client::Error> {
/// let options = discovery_client::BuildOptions::default().root_url("http://127.0.0.1:8080/");
/// let service = discovery_client::build_with("oauth2", "v2", None, &options).await?;
/// # Ok(()) }
/// ```
pub async fn build_with(
    api: &str,
    version: &str,
    credentials: Option<Credentials>,
    options: &BuildOptions,
) -> Result<Service, Error> {
    let client: Arc<dyn AsyncHttpClient> = match &credentials {
        Some(c) => Arc::clone(c.http_client()),
        None => ReqwestClient::shared(),
    };
    let doc = match options.cached(api, version) {
        Some(doc) => doc,
        None => {
            let mut fetch = options.fetch(api, version);
            let (origin, bytes) = run_authorized(client.as_ref(), &mut fetch, None).await??;
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

/// An API with credentials and a transport (async): [`service::Service`] on the
/// [`Async`] flavour. The blocking twin is [`crate::blocking::Service`].
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
/// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
/// let api = discovery_client::Api::from_document(doc)?;
/// let service = discovery_client::Service::new(api, None);
/// assert_eq!(service.method("ping")?.prepare()?.url, "http://127.0.0.1:1/ping?alt=json");
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub type Service = service::Service<Async>;

/// One call of a method, ready to execute (async): [`service::MethodCall`] on the
/// [`Async`] flavour.
pub type MethodCall = service::MethodCall<Async>;

/// Calls sent together as one batch request (async): [`service::Batch`] on the [`Async`]
/// flavour.
pub type Batch = service::Batch<Async>;

impl Service {
    /// Uses another transport (tests pass a local client).
    pub fn with_http_client(mut self, client: Arc<dyn AsyncHttpClient>) -> Service {
        self.client = client;
        self
    }
}

impl MethodCall {
    /// Sends the call and returns the raw answer.
    pub async fn execute_response(&self) -> Result<ApiResponse, Error> {
        let mut call = self.call()?;
        let s = &self.service;
        run_authorized(s.client.as_ref(), &mut call, s.credentials.as_ref()).await?
    }

    /// Sends the call; the answer as JSON.
    pub async fn execute(&self) -> Result<serde_json::Value, Error> {
        Ok(self.execute_response().await?.json())
    }

    /// Sends the call; the answer deserialized into `T`.
    pub async fn execute_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.execute_response().await?.decode()
    }

    /// Sends the call; the body's bytes.
    pub async fn execute_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(self.execute_response().await?.body.into())
    }

    /// Streams the media (`alt=media`) into an async writer in `Range` chunks (see the
    /// blocking [`crate::blocking::MethodCall::download_to`]); returns the media's size.
    ///
    /// ```no_run
    /// # async fn f(service: discovery_client::Service) -> Result<(), discovery_client::Error> {
    /// use discovery_client::download::DownloadOptions;
    /// let mut out: Vec<u8> = Vec::new(); // or a tokio::fs::File
    /// let size = service.method("files.get")?.param("fileId", "abc")
    ///     .download_to(&mut out, DownloadOptions::default()).await?;
    /// assert_eq!(size, out.len() as u64);
    /// # Ok(()) }
    /// ```
    pub async fn download_to<W: tokio::io::AsyncWrite + Unpin + ?Sized>(
        &self,
        out: &mut W,
        options: DownloadOptions,
    ) -> Result<u64, Error> {
        self.download_with_progress(out, options, &|_, _| {}).await
    }

    /// [`MethodCall::download_to`], each chunk's body written as it arrives (constant
    /// memory whatever the chunk size), a body that breaks off continued with `Range`
    /// from the last byte written (a bounded number of times), and `progress` told the
    /// bytes written and the size once known.
    ///
    /// ```no_run
    /// # async fn f(service: discovery_client::Service) -> Result<(), Box<dyn std::error::Error>> {
    /// use discovery_client::download::DownloadOptions;
    /// let mut file = tokio::fs::File::create("video.mp4").await?;
    /// service.method("files.get")?.param("fileId", "abc")
    ///     .download_with_progress(&mut file, DownloadOptions::default(), &|done, total| {
    ///         eprintln!("{done} of {total:?}");
    ///     }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_with_progress<W: tokio::io::AsyncWrite + Unpin + ?Sized>(
        &self,
        out: &mut W,
        options: DownloadOptions,
        progress: &(dyn Fn(u64, Option<u64>) + Sync),
    ) -> Result<u64, Error> {
        let download = self.media_download(options)?.streamed();
        transfer::download(&self.link(), download, out, progress).await
    }

    /// Uploads media read from `source` as it is sent, in constant memory: simple (or,
    /// with a [`MethodCall::body`], multipart) by default, resumable with
    /// [`UploadOptions::resumable`] (see [`crate::upload`]). The answer is the method's
    /// (the new file's metadata).
    ///
    /// ```no_run
    /// # async fn f(service: discovery_client::Service) -> Result<(), discovery_client::Error> {
    /// use discovery_client::{MediaSource, upload::UploadOptions};
    /// let source = MediaSource::from_file("backup.tar", Some("application/x-tar")).await?;
    /// let file = service.method("files.create")?
    ///     .body(serde_json::json!({"name": "backup.tar"}))
    ///     .upload(source, UploadOptions::resumable().on_session(|url| eprintln!("session {url}")))
    ///     .await?
    ///     .json();
    /// # Ok(()) }
    /// ```
    pub async fn upload(
        &self,
        source: MediaSource,
        options: UploadOptions,
    ) -> Result<ApiResponse, Error> {
        transfer::upload(&self.link(), &self.request, self.options, source, options).await
    }

    fn link(&self) -> transfer::Link<'_> {
        let s = &self.service;
        transfer::Link {
            client: s.client.as_ref(),
            credentials: s.credentials.as_ref(),
            origin: s.api.root_origin(),
        }
    }

    /// Streams the media chunk by chunk to `on_chunk` (which may stop the download by
    /// returning an error); returns the media's size.
    ///
    /// ```no_run
    /// # async fn f(service: discovery_client::Service) -> Result<(), discovery_client::Error> {
    /// use discovery_client::download::DownloadOptions;
    /// let mut digest = 0u64;
    /// service.method("files.get")?.param("fileId", "abc")
    ///     .download_each(DownloadOptions::default(), |chunk| {
    ///         digest = chunk.iter().fold(digest, |d, b| d.wrapping_mul(31).wrapping_add(*b as u64));
    ///         Ok(())
    ///     }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_each(
        &self,
        options: DownloadOptions,
        mut on_chunk: impl FnMut(&[u8]) -> Result<(), Error> + Send,
    ) -> Result<u64, Error> {
        let mut download = self.media_download(options)?;
        let s = &self.service;
        while let Some(mut chunk) = download.next_chunk() {
            let answer =
                run_authorized(s.client.as_ref(), &mut chunk, s.credentials.as_ref()).await??;
            on_chunk(&download.on_chunk(answer)?)?;
        }
        Ok(download.progress())
    }

    fn media_download(&self, options: DownloadOptions) -> Result<MediaDownload, Error> {
        let options = DownloadOptions {
            call: options.call.or(Some(self.options)),
            ..options
        };
        Ok(MediaDownload::new(&self.request, options)?.on_origin(self.service.api.root_origin()))
    }

    /// The pages of a listing: `while let Some(page) = pager.next_page().await`. Paging
    /// ends: a repeated page token or more than the call options' `max_pages` pages
    /// (10,000 by default) is an error item after the last good page (see
    /// [`crate::paging`]).
    pub fn pages(self) -> Result<Pager, Error> {
        Ok(Pager {
            pages: Pages::new(self.request.clone())?.with_max_pages(self.options.max_pages),
            call: self,
            in_flight: None,
        })
    }

    /// Every page's items, concatenated; an error when paging does not end well (a
    /// repeated page token, the page limit).
    pub async fn collect_items(self) -> Result<Vec<serde_json::Value>, Error> {
        let mut pager = self.pages()?;
        let mut items = Vec::new();
        while let Some(page) = pager.next_page().await {
            items.extend(pager.pages.items_of(&page?));
        }
        Ok(items)
    }
}

/// The pages of a listing (async): `while let Some(page) = pager.next_page().await`, or
/// as a [`futures_core::Stream`] of pages (with `futures::StreamExt` and the like).
///
/// ```no_run
/// # async fn f(service: discovery_client::Service) -> Result<(), discovery_client::Error> {
/// let mut pager = service.method("files.list")?.pages()?;
/// while let Some(page) = pager.next_page().await {
///     println!("{}", page?["files"]);
/// }
/// // The same pages as a Stream: poll it with any Stream combinator.
/// let stream: &mut (dyn futures_core::Stream<Item = Result<serde_json::Value, _>> + Unpin) =
///     &mut service.method("files.list")?.pages()?;
/// # Ok(()) }
/// ```
pub struct Pager {
    call: MethodCall,
    pages: Pages,
    /// The page being fetched, kept across polls (so `next_page` is cancel-safe).
    in_flight: Option<PageFuture>,
}

type PageFuture = Pin<Box<dyn Future<Output = Result<serde_json::Value, Error>> + Send>>;

impl std::fmt::Debug for Pager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("call", &self.call)
            .field("pages", &self.pages)
            .field("in_flight", &self.in_flight.is_some())
            .finish()
    }
}

impl Pager {
    /// The next page, or `None` after the last. Dropping the future keeps the request
    /// going: the next call picks it up.
    pub async fn next_page(&mut self) -> Option<Result<serde_json::Value, Error>> {
        std::future::poll_fn(|cx| self.poll_page(cx)).await
    }

    fn poll_page(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<serde_json::Value, Error>>> {
        let fut = match &mut self.in_flight {
            Some(f) => f,
            None => {
                let request = match self.pages.next_request() {
                    None => return Poll::Ready(None),
                    Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Some(Ok(r)) => r,
                };
                let call = MethodCall {
                    request,
                    ..self.call.clone()
                };
                self.in_flight
                    .insert(Box::pin(async move { call.execute().await }))
            }
        };
        let Poll::Ready(result) = fut.as_mut().poll(cx) else {
            return Poll::Pending;
        };
        self.in_flight = None;
        match &result {
            Ok(page) => self.pages.on_page(page),
            Err(_) => self.pages.finish(),
        }
        Poll::Ready(Some(result))
    }

    /// The field holding a page's items.
    pub fn items_field(&self) -> Option<&str> {
        self.pages.items_field()
    }
}

impl Batch {
    /// Sends the batch (the outer request retried by the service's call options) and
    /// returns each call's result in the order the calls were added. An empty batch
    /// sends nothing. Calls answered 401 cause one refresh of the credentials and are
    /// sent again, those calls only, once.
    pub async fn execute(&self) -> Result<Vec<BatchResult>, Error> {
        let mut results = self.send(&self.batch).await?;
        let again = crate::batch::unauthorized(&results);
        if again.is_empty() {
            return Ok(results);
        }
        let Some(c) = &self.service.credentials else {
            return Ok(results);
        };
        c.refresh().await?;
        let retried = self.send(&self.batch.subset(&again)).await?;
        crate::batch::merge(&mut results, &again, retried);
        Ok(results)
    }

    async fn send(&self, batch: &BatchRequest) -> Result<Vec<BatchResult>, Error> {
        let s = &self.service;
        let headers = match &s.credentials {
            Some(c) => c.headers().await?,
            None => http::HeaderMap::new(),
        };
        let mut call = batch.exchange(&headers, s.options);
        run_authorized(s.client.as_ref(), &mut call, s.credentials.as_ref()).await?
    }
}

impl futures_core::Stream for Pager {
    type Item = Result<serde_json::Value, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_page(cx)
    }
}
