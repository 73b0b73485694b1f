//! The service, call and batch types of both flavours, written once, generic over
//! oauth-core's [`Flavour`] (oauth-core's convention for `Credentials<F>`).
//!
//! Users name them by flavour: [`crate::Service`], [`crate::MethodCall`] and
//! [`crate::Batch`] are the async ones (`Service<Async>`, ...), and
//! `discovery_client::blocking::{Service, MethodCall, Batch}` the blocking ones
//! (`Service<Blocking>`, ...). What neither blocks nor awaits (construction, finding
//! methods, the builder methods of a call, the dry run) is written here once; the methods
//! that send (`execute*`, `download_*`, `upload`, `pages`, `Batch::execute`) and
//! `with_http_client` are written per flavour, each a few lines over the flavour's runner.
//!
//! ```
//! # #[cfg(all(feature = "async", feature = "blocking"))] {
//! use discovery_client::service::{MethodCall, Service};
//! use oauth_core::flavour::{Async, Blocking, Flavour};
//! // Code that does not send can serve both flavours.
//! fn ping_url<F: Flavour>(service: &Service<F>) -> Result<String, discovery_client::Error> {
//!     let call: MethodCall<F> = service.method("ping")?.param("q", "x");
//!     Ok(call.prepare()?.url)
//! }
//! # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
//! #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET",
//! #  "parameters":{"q":{"type":"string","location":"query"}},"response":{"$ref":"P"}}}}"#;
//! let api = discovery_client::Api::from_document(doc)?;
//! let async_service: Service<Async> = discovery_client::Service::new(api.clone(), None);
//! let blocking_service = discovery_client::blocking::Service::new(api, None);
//! assert_eq!(ping_url(&async_service)?, "http://127.0.0.1:1/ping?q=x&alt=json");
//! assert_eq!(ping_url::<Blocking>(&blocking_service)?, ping_url(&async_service)?);
//! # }
//! # Ok::<(), discovery_client::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use oauth_core::flavour::Flavour;
use oauth_core::handle::Credentials;

use crate::batch::BatchRequest;
use crate::exchange::ApiCall;
use crate::{Api, CallOptions, Error, Media, ParamValue, PreparedRequest, Request, Resource};
use crate::{UploadProtocol, exchange};

/// An API with credentials and a transport: cheap to clone, `Send + Sync`. Named
/// [`crate::Service`] (async) and `discovery_client::blocking::Service`.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
/// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
/// let api = discovery_client::Api::from_document(doc)?;
/// let service = discovery_client::Service::new(api, None);
/// assert_eq!(service.method("ping")?.prepare()?.url, "http://127.0.0.1:1/ping?alt=json");
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub struct Service<F: Flavour> {
    pub(crate) api: Api,
    pub(crate) credentials: Option<Credentials<F>>,
    pub(crate) client: Arc<F::Client>,
    pub(crate) options: CallOptions,
}

impl<F: Flavour> Clone for Service<F> {
    fn clone(&self) -> Self {
        Service {
            api: self.api.clone(),
            credentials: self.credentials.clone(),
            client: Arc::clone(&self.client),
            options: self.options,
        }
    }
}

/// `Service` or `blocking::Service`, as oauth-core names its handles.
fn type_name<F: Flavour>(name: &'static str) -> String {
    match F::HANDLE.strip_suffix("Credentials") {
        Some(prefix) => format!("{prefix}{name}"),
        None => name.to_owned(),
    }
}

impl<F: Flavour> fmt::Debug for Service<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(&type_name::<F>("Service"))
            .field("api", &self.api)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl<F: Flavour> Service<F> {
    /// A service over a parsed document (googleapiclient's `build_from_document`), on
    /// the credentials' transport (or the process-wide shared one).
    ///
    /// ```
    /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":""}"#;
    /// let api = discovery_client::Api::from_document(doc)?;
    /// let service = discovery_client::blocking::Service::new(api, None);
    /// assert_eq!(service.api().name(), "d");
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn new(api: Api, credentials: Option<Credentials<F>>) -> Self {
        let client = match &credentials {
            Some(c) => Arc::clone(c.http_client()),
            None => F::shared_client(),
        };
        Service {
            api,
            credentials,
            client,
            options: CallOptions::default(),
        }
    }

    /// Default options for every call.
    pub fn with_call_options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// The parsed document.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// A method by dotted path (`files.list`).
    pub fn method(&self, path: &str) -> Result<MethodCall<F>, Error> {
        Ok(self.call(self.api.method(path)?))
    }

    /// A resource by dotted path (`projects.locations`); its methods with
    /// [`Service::call`] (`service.call(service.resource("files")?.method("list")?)`).
    pub fn resource(&self, path: &str) -> Result<Resource<'_>, Error> {
        let mut parts = path.split('.');
        let mut r = self.api.resource(parts.next().unwrap_or(""))?;
        for p in parts {
            r = r.resource(p)?;
        }
        Ok(r)
    }

    /// An empty batch for this API's `batchPath` (googleapiclient's
    /// `service.new_batch_http_request()`): up to 1000 calls in one HTTP request.
    ///
    /// ```
    /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
    /// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
    /// let service = discovery_client::Service::new(discovery_client::Api::from_document(doc)?, None);
    /// let mut batch = service.new_batch_http_request();
    /// assert_eq!(batch.add(service.method("ping")?)?, "1");
    /// assert_eq!(batch.request().url(), "http://127.0.0.1:1/batch");
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn new_batch_http_request(&self) -> Batch<F> {
        Batch {
            batch: BatchRequest::for_api(&self.api),
            service: self.clone(),
        }
    }

    /// A call of a request built from the [`Api`].
    pub fn call(&self, request: Request) -> MethodCall<F> {
        MethodCall {
            request,
            service: self.clone(),
            options: self.options,
        }
    }
}

/// One call of a method, ready to execute. Named [`crate::MethodCall`] (async) and
/// `discovery_client::blocking::MethodCall`.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
/// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
/// let service = discovery_client::blocking::Service::new(discovery_client::Api::from_document(doc)?, None);
/// let call = service.method("ping")?.num_retries(3);
/// assert_eq!(call.prepare()?.url, "http://127.0.0.1:1/ping?alt=json");
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub struct MethodCall<F: Flavour> {
    pub(crate) request: Request,
    pub(crate) service: Service<F>,
    pub(crate) options: CallOptions,
}

impl<F: Flavour> Clone for MethodCall<F> {
    fn clone(&self) -> Self {
        MethodCall {
            request: self.request.clone(),
            service: self.service.clone(),
            options: self.options,
        }
    }
}

impl<F: Flavour> fmt::Debug for MethodCall<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(&type_name::<F>("MethodCall"))
            .field("request", &self.request)
            .field("service", &self.service)
            .field("options", &self.options)
            .finish()
    }
}

impl<F: Flavour> MethodCall<F> {
    /// Sets a parameter by its discovery name (see [`crate::Request::param`]).
    pub fn param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.request.set_param(name, value.into());
        self
    }

    /// The JSON request body.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.request = self.request.body(body);
        self
    }

    /// Media to upload.
    pub fn media(mut self, media: Media) -> Self {
        self.request = self.request.media(media);
        self
    }

    /// How media goes up (simple/multipart or resumable).
    pub fn upload_protocol(mut self, protocol: UploadProtocol) -> Self {
        self.request = self.request.upload_protocol(protocol);
        self
    }

    /// Asks for the media itself (`alt=media`).
    pub fn download(mut self) -> Self {
        self.request = self.request.download();
        self
    }

    /// Retries up to `n` times on 429, 5xx and rate-limit 403s (googleapiclient's
    /// `execute(num_retries=n)`).
    pub fn num_retries(mut self, n: u32) -> Self {
        self.options = self.options.num_retries(n);
        self
    }

    /// All call options at once.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// The request that would be sent (credentials not applied): the dry run.
    pub fn prepare(&self) -> Result<PreparedRequest, Error> {
        self.request.prepare()
    }

    /// The sans-IO request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The call's exchange, on the API's origin: what each flavour's runner drives.
    pub(crate) fn call(&self) -> Result<ApiCall, Error> {
        let prepared = self.request.prepare()?;
        Ok(exchange::ApiCall::new(
            prepared,
            self.options,
            self.request.model_kind(),
            self.request.api.model.data_wrapper,
        )
        .on_origin(self.service.api.root_origin()))
    }
}

/// Calls sent together as one batch request (googleapiclient's `BatchHttpRequest`); made
/// by [`Service::new_batch_http_request`]. The body and the answer are
/// [`crate::batch::BatchRequest`]'s. Named [`crate::Batch`] (async) and
/// `discovery_client::blocking::Batch`.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"http://127.0.0.1:1/","servicePath":"",
/// #  "methods":{"ping":{"id":"d.ping","path":"ping","httpMethod":"GET","response":{"$ref":"P"}}}}"#;
/// let service = discovery_client::blocking::Service::new(discovery_client::Api::from_document(doc)?, None);
/// let mut batch = service.new_batch_http_request();
/// batch.add_with_id(service.method("ping")?, "first")?;
/// assert_eq!(batch.request().len(), 1);
/// # Ok::<(), discovery_client::Error>(())
/// ```
pub struct Batch<F: Flavour> {
    pub(crate) batch: BatchRequest,
    pub(crate) service: Service<F>,
}

impl<F: Flavour> fmt::Debug for Batch<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(&type_name::<F>("Batch"))
            .field("batch", &self.batch)
            .field("service", &self.service)
            .finish()
    }
}

impl<F: Flavour> Batch<F> {
    /// Adds a call under the next numeric id and returns the id; the call is validated
    /// now (see [`BatchRequest::add`]).
    pub fn add(&mut self, call: MethodCall<F>) -> Result<String, Error> {
        self.batch.add(&call.request)
    }

    /// Adds a call under an id of the caller's.
    pub fn add_with_id(&mut self, call: MethodCall<F>, id: &str) -> Result<(), Error> {
        self.batch.add_with_id(&call.request, id)
    }

    /// The sans-IO batch.
    pub fn request(&self) -> &BatchRequest {
        &self.batch
    }
}
