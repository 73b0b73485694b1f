//! [`Api`]: a parsed discovery document, its resources and methods by name.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use oauth_core::EndpointPolicy;

use crate::Error;
use crate::document::{self, Model};
use crate::origin::Origin;
use crate::request::Request;

/// How errors name a document given as bytes, without a file or URL.
const UNNAMED: &str = "document value";

/// The largest discovery document read by default (64 MiB; Compute's, the largest
/// Google ships, is under 5 MiB).
pub const DEFAULT_MAX_DOCUMENT_SIZE: usize = 64 << 20;

/// How a discovery document is read: which root URLs it may name, a root URL of the
/// program's own, and how large it may be.
///
/// A document's `rootUrl` names where calls, and the credentials with them, go. It is
/// used when it is https (or http on loopback) and its host is Google's
/// (`googleapis.com` and its subdomains) or loopback; any other host needs the
/// program's allowance ([`EndpointPolicy::allow_host`]). A root URL the program sets
/// itself ([`DocumentOptions::root_url`]) is the program's choice of host, but it too
/// must be https or loopback.
///
/// ```
/// use discovery_client::{Api, DocumentOptions};
/// let doc = br#"{"name":"d","version":"v1","rootUrl":"https://api.example.com/","servicePath":"v1/"}"#;
/// let e = Api::from_document(doc).unwrap_err();
/// assert!(e.to_string().contains("api.example.com"), "{e}");
/// let policy = oauth_core::EndpointPolicy::default().allow_host("api.example.com");
/// let api = Api::from_document_with_options(doc, "d.json", &DocumentOptions::default().endpoint_policy(policy))?;
/// assert_eq!(api.base_url(), "https://api.example.com/v1/");
/// let local = Api::from_document_with_options(doc, "d.json",
///     &DocumentOptions::default().root_url("http://127.0.0.1:8080/"))?;
/// assert_eq!(local.base_url(), "http://127.0.0.1:8080/v1/");
/// # Ok::<(), discovery_client::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DocumentOptions {
    pub(crate) root_url: Option<String>,
    pub(crate) policy: EndpointPolicy,
    pub(crate) max_size: usize,
}

impl Default for DocumentOptions {
    fn default() -> Self {
        DocumentOptions {
            root_url: None,
            policy: EndpointPolicy::default(),
            max_size: DEFAULT_MAX_DOCUMENT_SIZE,
        }
    }
}

impl DocumentOptions {
    /// Replaces the document's `rootUrl` (how tests and the emulator point an API at a
    /// local server): the program's own choice, https or loopback.
    pub fn root_url(mut self, url: impl Into<String>) -> Self {
        self.root_url = Some(url.into());
        self
    }

    /// Which hosts a document's `rootUrl` may name beyond Google's and loopback.
    pub fn endpoint_policy(mut self, policy: EndpointPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The largest document accepted, in bytes ([`DEFAULT_MAX_DOCUMENT_SIZE`] by default).
    pub fn max_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes;
        self
    }
}

/// A parsed discovery document: cheap to clone, shared between threads, free of I/O.
/// Requests are built from it without walking the document again.
///
/// ```
/// use discovery_client::Api;
/// let doc = br#"{"name":"demo","version":"v1","rootUrl":"https://demo.googleapis.com/",
///   "servicePath":"v1/","resources":{"items":{"methods":{"get":{"id":"demo.items.get",
///   "path":"items/{id}","httpMethod":"GET","parameters":{"id":{"type":"string",
///   "location":"path","required":true}},"response":{"$ref":"Item"}}}}}}"#;
/// let api = Api::from_document(doc)?;
/// let req = api.method("items.get")?.param("id", "a/b").prepare()?;
/// assert_eq!(req.url, "https://demo.googleapis.com/v1/items/a%2Fb?alt=json");
/// let same = api.resource("items")?.method("get")?.param("id", "a/b").prepare()?;
/// assert_eq!(same.url, req.url);
/// # Ok::<(), discovery_client::Error>(())
/// ```
#[derive(Clone)]
pub struct Api {
    pub(crate) model: Arc<Model>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("name", &self.model.name)
            .field("version", &self.model.version)
            .field("base_url", &self.model.base_url)
            .field("methods", &self.model.methods.len())
            .finish()
    }
}

impl Api {
    /// Parses a discovery document (googleapiclient's `build_from_document`), its
    /// `rootUrl` held to the default trust rules (see [`DocumentOptions`]).
    pub fn from_document(bytes: &[u8]) -> Result<Api, Error> {
        Self::from_document_with(bytes, UNNAMED, None)
    }

    /// Parses a document with options, naming its origin (a file, a URL) in errors.
    pub fn from_document_with_options(
        bytes: &[u8],
        origin: &str,
        options: &DocumentOptions,
    ) -> Result<Api, Error> {
        Self::parse(Cow::Borrowed(bytes), origin, options)
    }

    /// [`Api::from_document`] of bytes the program hands over: they are kept as they are,
    /// where the borrowing constructors copy them (a 6 MB document costs a copy of 6 MB).
    /// [`Api::from_file`] and the fetch of [`build`](crate::build) take this path.
    ///
    /// ```
    /// let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"v1/"}"#.to_vec();
    /// let api = discovery_client::Api::from_document_owned(doc)?;
    /// assert_eq!(api.base_url(), "https://d.googleapis.com/v1/");
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn from_document_owned(bytes: impl Into<Vec<u8>>) -> Result<Api, Error> {
        Self::parse(
            Cow::Owned(bytes.into()),
            UNNAMED,
            &DocumentOptions::default(),
        )
    }

    /// The one way in: the size limit, then the document.
    pub(crate) fn parse(
        bytes: Cow<'_, [u8]>,
        origin: &str,
        options: &DocumentOptions,
    ) -> Result<Api, Error> {
        if bytes.len() > options.max_size {
            return Err(Error::DocumentTooLarge {
                origin: origin.to_owned(),
                limit: options.max_size,
            });
        }
        Ok(Api {
            model: document::parse(bytes, origin, options.root_url.as_deref(), &options.policy)?,
        })
    }

    /// Reads a document from a file, at most `options.max_size` bytes of it: a larger
    /// file, or one that never ends (`/dev/zero`), is [`Error::DocumentTooLarge`] without
    /// reading past the limit.
    ///
    /// ```
    /// use discovery_client::{Api, DocumentOptions, Error};
    /// let e = Api::from_file("/dev/zero", &DocumentOptions::default().max_size(1 << 10)).unwrap_err();
    /// assert!(matches!(e, Error::DocumentTooLarge { limit: 1024, .. }), "{e}");
    /// ```
    pub fn from_file(path: impl AsRef<Path>, options: &DocumentOptions) -> Result<Api, Error> {
        let path = path.as_ref();
        let bytes = crate::fetch::read_bounded(path, options.max_size)?;
        Self::parse(Cow::Owned(bytes), &path.display().to_string(), options)
    }

    /// Parses a document, naming its origin in errors, with `root_url` (when given)
    /// replacing the document's `rootUrl`: how tests and the emulator point an API at a
    /// local server.
    ///
    /// ```
    /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"v1/"}"#;
    /// let api = discovery_client::Api::from_document_with(doc, "d.json", Some("http://127.0.0.1:8080/"))?;
    /// assert_eq!(api.base_url(), "http://127.0.0.1:8080/v1/");
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn from_document_with(
        bytes: &[u8],
        origin: &str,
        root_url: Option<&str>,
    ) -> Result<Api, Error> {
        let options = DocumentOptions {
            root_url: root_url.map(str::to_owned),
            ..DocumentOptions::default()
        };
        Self::from_document_with_options(bytes, origin, &options)
    }

    /// The same API with calls sent to `root_url` instead (the program's own choice of
    /// host; https, or http on loopback).
    ///
    /// ```
    /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"v1/"}"#;
    /// let api = discovery_client::Api::from_document(doc)?.with_root_url("http://[::1]:8080/")?;
    /// assert_eq!(api.base_url(), "http://[::1]:8080/v1/");
    /// assert!(discovery_client::Api::from_document(doc)?.with_root_url("http://example.com/").is_err());
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn with_root_url(&self, root_url: &str) -> Result<Api, Error> {
        Ok(Api {
            model: self.model.reparse(Some(root_url))?,
        })
    }

    /// The origin (scheme, host, port) of the root URL: the only place requests carrying
    /// credentials go.
    pub fn root_origin(&self) -> &Origin {
        &self.model.root_origin
    }

    /// The API's name (`drive`).
    pub fn name(&self) -> &str {
        &self.model.name
    }

    /// The API's version (`v3`).
    pub fn version(&self) -> &str {
        &self.model.version
    }

    /// `rootUrl` joined with `servicePath`, as googleapiclient joins them.
    pub fn base_url(&self) -> &str {
        &self.model.base_url
    }

    /// `servicePath`.
    pub fn service_path(&self) -> &str {
        &self.model.service_path
    }

    /// `rootUrl` (or its override).
    pub fn root_url(&self) -> &str {
        &self.model.root_url
    }

    /// Where batch requests go: `rootUrl` + `batchPath`.
    pub fn batch_url(&self) -> String {
        format!("{}{}", self.model.root_url, self.model.batch_path)
    }

    /// The OAuth scopes the document lists, sorted.
    pub fn scopes(&self) -> &[String] {
        &self.model.scopes
    }

    /// Every method's dotted path (`files.list`), sorted.
    pub fn method_paths(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.model.by_path.keys().map(|k| &**k).collect();
        v.sort_unstable();
        v
    }

    /// A top-level resource.
    pub fn resource(&self, name: &str) -> Result<Resource<'_>, Error> {
        Resource {
            api: self,
            index: 0,
            path: String::new(),
        }
        .resource(name)
    }

    /// A method by dotted path (`files.list`, `projects.locations.list`), ready to take
    /// parameters.
    pub fn method(&self, path: &str) -> Result<Request, Error> {
        let index = self.method_index(path)?;
        let desc = self.model.method(index)?;
        Ok(Request::new(self.clone(), desc))
    }

    pub(crate) fn method_index(&self, path: &str) -> Result<usize, Error> {
        self.model
            .by_path
            .get(path)
            .copied()
            .ok_or_else(|| Error::UnknownMethod {
                api: self.model.label(),
                name: path.to_owned(),
            })
    }
}

/// A resource of an [`Api`]: its methods and nested resources.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
/// #  "resources":{"projects":{"resources":{"locations":{"methods":{"list":{"path":"v1/{+name}/locations",
/// #  "httpMethod":"GET","parameters":{"name":{"location":"path","type":"string","required":true}}}}}}}}}"#;
/// let api = discovery_client::Api::from_document(doc)?;
/// let locations = api.resource("projects")?.resource("locations")?;
/// assert_eq!(locations.method_names(), ["list"]);
/// let req = locations.method("list")?.param("name", "projects/p").prepare()?;
/// assert_eq!(req.url, "https://d.googleapis.com/v1/projects/p/locations?"); // no response: no alt, a bare `?` as googleapiclient
/// # Ok::<(), discovery_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    api: &'a Api,
    index: usize,
    path: String,
}

impl<'a> Resource<'a> {
    fn join(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// A nested resource.
    pub fn resource(&self, name: &str) -> Result<Resource<'a>, Error> {
        let r = &self.api.model.resources[self.index];
        match r.resources.get(name) {
            Some(&index) => Ok(Resource {
                api: self.api,
                index,
                path: self.join(name),
            }),
            None => Err(Error::UnknownResource {
                api: self.api.model.label(),
                name: self.join(name),
            }),
        }
    }

    /// A method of this resource.
    pub fn method(&self, name: &str) -> Result<Request, Error> {
        let model = &self.api.model;
        match model.resources[self.index].methods.get(&model.doc, name) {
            Some(&index) => Ok(Request::new(
                self.api.clone(),
                self.api.model.method(index)?,
            )),
            None => Err(Error::UnknownMethod {
                api: self.api.model.label(),
                name: self.join(name),
            }),
        }
    }

    /// The names of this resource's methods, sorted.
    pub fn method_names(&self) -> Vec<&'a str> {
        let model = &self.api.model;
        model.resources[self.index]
            .methods
            .names(&model.doc)
            .collect()
    }

    /// The names of the nested resources, sorted.
    pub fn resource_names(&self) -> Vec<&'a str> {
        let mut v: Vec<&str> = self.api.model.resources[self.index]
            .resources
            .keys()
            .map(|k| &**k)
            .collect();
        v.sort_unstable();
        v
    }
}
