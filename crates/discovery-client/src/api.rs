//! [`Api`]: a parsed discovery document, its resources and methods by name.

use std::sync::Arc;

use crate::Error;
use crate::document::{self, Model};
use crate::request::Request;

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
    /// Parses a discovery document (googleapiclient's `build_from_document`).
    pub fn from_document(bytes: &[u8]) -> Result<Api, Error> {
        Self::from_document_with(bytes, "document value", None)
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
        Ok(Api {
            model: document::parse(bytes, origin, root_url)?,
        })
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
        let r = &self.api.model.resources[self.index];
        match r.methods.get(name) {
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
        let mut v: Vec<&str> = self.api.model.resources[self.index]
            .methods
            .keys()
            .map(|k| &**k)
            .collect();
        v.sort_unstable();
        v
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
