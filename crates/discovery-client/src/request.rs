//! [`Request`]: one call of a method, validated and built exactly as googleapiclient
//! builds it, without I/O.

use std::borrow::Cow;
use std::sync::Arc;

use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use oauth_core::http::Bytes;

use crate::Error;
use crate::api::Api;
use crate::document::{Location, MethodDesc, Model, Param, Slot};
use crate::media::{Media, multipart_around, multipart_related};
use crate::template::{join_path_before, quote_plus};
use crate::value::{ParamValue, cast_text};

/// The `x-goog-api-client` value gauth sends.
const API_CLIENT: &str = concat!("gl-rust gdcl/gauth-", env!("CARGO_PKG_VERSION"));

/// How media goes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadProtocol {
    /// One request: `uploadType=media` without a body, `multipart` with one.
    Simple,
    /// A resumable session (`uploadType=resumable`) sent in chunks of this many bytes (a
    /// multiple of 256 KiB, as Google requires; rounded up).
    Resumable {
        /// Bytes per chunk.
        chunk_size: usize,
    },
}

/// One call of a method: parameters, body and media, validated and turned into a
/// [`PreparedRequest`] by [`Request::prepare`].
///
/// Parameters take the discovery document's names; setting a repeated parameter again
/// adds values, setting another parameter again replaces its value.
///
/// ```
/// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"d/v1/",
/// #  "resources":{"files":{"methods":{"list":{"id":"d.files.list","path":"files","httpMethod":"GET",
/// #  "parameters":{"q":{"type":"string","location":"query"},"tag":{"type":"string","location":"query","repeated":true},
/// #  "pageSize":{"type":"integer","location":"query"},"all":{"type":"boolean","location":"query"}},
/// #  "response":{"$ref":"L"}}}}}}"#;
/// let api = discovery_client::Api::from_document(doc)?;
/// let req = api.method("files.list")?
///     .param("q", "name = 'a b'")
///     .param("tag", "x").param("tag", "y")
///     .param("pageSize", "10")
///     .param("all", true)
///     .prepare()?;
/// assert_eq!(req.method, "GET");
/// assert_eq!(req.url, "https://d.googleapis.com/d/v1/files?q=name+%3D+%27a+b%27&tag=x&tag=y&pageSize=10&all=true&alt=json");
/// # Ok::<(), discovery_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    pub(crate) api: Api,
    /// The method, parsed from the document on its first use.
    pub(crate) method: Arc<MethodDesc>,
    /// Name, value, and where the method describes it (`None`: unknown).
    pub(crate) params: Vec<(String, ParamValue, Option<Slot>)>,
    pub(crate) body: Option<serde_json::Value>,
    pub(crate) media: Option<Media>,
    pub(crate) protocol: UploadProtocol,
    pub(crate) download: bool,
}

/// What [`Request::prepare`] produces: the request as it goes on the wire (before
/// credentials are applied).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreparedRequest {
    /// The HTTP method.
    pub method: http::Method,
    /// The full URL.
    pub url: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body (empty when none).
    pub body: Bytes,
    /// The media of a resumable upload, sent after the session is opened.
    pub resumable: Option<(Media, usize)>,
    /// The method id (`drive.files.list`), for errors and logs.
    pub method_id: String,
    /// Where streamed media goes inside `body` (simple: at 0, multipart: between the
    /// halves); `None` when the media, if any, is in the body already.
    pub(crate) media_at: Option<usize>,
}

impl PreparedRequest {
    /// The request as an `http::Request` value. A header that cannot be sent as it is
    /// (a name that is no HTTP token; CR, LF or another control character in a value) is
    /// [`Error::InvalidHeader`], never dropped or changed. The body is shared, not copied:
    /// each retry sends the same buffer.
    ///
    /// ```
    /// # let doc = br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
    /// #  "methods":{"ping":{"path":"ping","httpMethod":"POST","request":{"$ref":"P"},"response":{"$ref":"P"}}}}"#;
    /// let api = discovery_client::Api::from_document(doc)?;
    /// let req = api.method("ping")?.body(serde_json::json!({"a": 1})).prepare()?.to_http()?;
    /// assert_eq!(req.uri(), "https://d.googleapis.com/ping?alt=json");
    /// assert_eq!(req.headers()["content-type"], "application/json");
    /// assert_eq!(&req.body()[..], br#"{"a":1}"#);
    /// # Ok::<(), discovery_client::Error>(())
    /// ```
    pub fn to_http(&self) -> Result<oauth_core::http::HttpRequest, Error> {
        let uri: http::Uri = self.url.parse().map_err(|_| Error::InvalidValue {
            method: self.method_id.clone(),
            param: "(url)".into(),
            reason: "the built URL is not a valid URI".into(),
        })?;
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = uri;
        for (k, v) in &self.headers {
            let invalid = |reason: &str| Error::InvalidHeader {
                context: self.method_id.clone(),
                field: k.escape_debug().to_string(),
                reason: reason.to_owned(),
            };
            let name = HeaderName::try_from(k.as_str())
                .map_err(|_| invalid("is not a valid header name"))?;
            let value = HeaderValue::try_from(v)
                .map_err(|_| invalid("has a value with characters a header cannot hold"))?;
            req.headers_mut().append(name, value);
        }
        Ok(req)
    }

    /// The request as JSON for `gauth call --dry-run`: `{"method", "url", "headers",
    /// "body"}`; a JSON body is shown parsed, other bodies as text (or their size).
    pub fn to_json(&self) -> serde_json::Value {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let body = if self.body.is_empty() {
            serde_json::Value::Null
        } else if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&self.body) {
            v
        } else {
            match std::str::from_utf8(&self.body) {
                Ok(s) => serde_json::Value::String(s.to_owned()),
                Err(_) => serde_json::Value::String(format!("<{} bytes>", self.body.len())),
            }
        };
        serde_json::json!({
            "method": self.method.as_str(),
            "url": self.url,
            "headers": headers,
            "body": body,
        })
    }
}

/// The response model googleapiclient picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ModelKind {
    Json,
    Raw,
    Media,
}

impl Request {
    pub(crate) fn new(api: Api, method: Arc<MethodDesc>) -> Request {
        Request {
            api,
            method,
            params: Vec::new(),
            body: None,
            media: None,
            protocol: UploadProtocol::Simple,
            download: false,
        }
    }

    /// Sets a parameter by its discovery name.
    pub fn param(mut self, name: &str, value: impl Into<ParamValue>) -> Self {
        self.set_param(name, value.into());
        self
    }

    /// Sets a parameter in place (see [`Request::param`]).
    pub fn set_param(&mut self, name: &str, value: ParamValue) {
        let m = self.desc();
        let slot = self.api.model.slot(m, name);
        let repeated = slot.is_some_and(|s| self.api.model.at(m, s).repeated);
        match self.params.iter_mut().find(|(n, _, _)| n == name) {
            Some((_, old, _)) if repeated => {
                let mut list = match std::mem::replace(old, ParamValue::List(Vec::new())) {
                    ParamValue::List(l) => l,
                    one => vec![one],
                };
                match value {
                    ParamValue::List(l) => list.extend(l),
                    v => list.push(v),
                }
                *old = ParamValue::List(list);
            }
            Some((_, old, _)) => *old = value,
            None => self.params.push((name.to_owned(), value, slot)),
        }
    }

    /// The JSON request body.
    pub fn body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Media to upload (simple, or multipart with a body).
    pub fn media(mut self, media: Media) -> Self {
        self.media = Some(media);
        self
    }

    /// How media goes up.
    pub fn upload_protocol(mut self, protocol: UploadProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Asks for the media itself (`alt=media`, googleapiclient's `*_media` methods).
    pub fn download(mut self) -> Self {
        self.download = true;
        self
    }

    /// The method id (`drive.files.list`).
    pub fn method_id(&self) -> &str {
        &self.desc().id
    }

    pub(crate) fn desc(&self) -> &MethodDesc {
        &self.method
    }

    pub(crate) fn model_kind(&self) -> ModelKind {
        if self.download {
            ModelKind::Media
        } else if self.desc().has_response {
            ModelKind::Json
        } else {
            ModelKind::Raw
        }
    }

    /// Validates and builds the request, as googleapiclient does, in its order: unknown
    /// parameters, missing required ones, patterns, enums, then the values' types, then
    /// media.
    pub fn prepare(&self) -> Result<PreparedRequest, Error> {
        let params = self.known_params()?;
        self.check_values(&params)?;
        let (path_values, query) = self.texts(&params)?;
        let (headers, body) = self.headers_and_body();
        let mut draft = Draft {
            url: String::with_capacity(self.api.model.base_url.len() + 64),
            query,
            headers,
            body,
            resumable: None,
            media_at: None,
        };
        self.expand_url(&mut draft, &path_values)?;
        draft.append_query(self.media.is_none());
        self.check_origin(&draft.url, &path_values)?;
        let m = self.desc();
        Ok(PreparedRequest {
            method: m.http_method.clone(),
            url: draft.url,
            headers: draft.headers,
            body: draft.body,
            resumable: draft.resumable,
            method_id: m.id.to_string(),
            media_at: draft.media_at,
        })
    }

    /// Steps 1 and 2: every parameter known to the method (in the caller's order), a body
    /// or media only where the method takes one, and every required parameter given.
    fn known_params(&self) -> Result<Vec<(&str, &ParamValue, &Param)>, Error> {
        let model: &Model = &self.api.model;
        let m = self.desc();
        let err_method = || m.id.to_string();

        if self.download && !m.supports_media_download {
            return Err(Error::UnknownMethod {
                api: model.label(),
                name: format!("{}_media", m.id),
            });
        }
        // 1. unknown parameters, in the caller's order.
        let mut params: Vec<(&str, &ParamValue, &Param)> = Vec::with_capacity(self.params.len());
        for (name, value, slot) in &self.params {
            match slot {
                Some(s) => params.push((name, value, model.at(m, *s))),
                None => {
                    return Err(Error::UnknownParameter {
                        method: err_method(),
                        param: name.clone(),
                    });
                }
            }
        }
        if self.body.is_some() && !m.takes_body {
            return Err(Error::UnknownParameter {
                method: err_method(),
                param: "body".into(),
            });
        }
        if self.media.is_some() && m.media.is_none() {
            return Err(Error::UnknownParameter {
                method: err_method(),
                param: "media_body".into(),
            });
        }
        // 2. required, sorted by name; googleapiclient excuses a required page token when
        // the response does not page.
        for name in m.required.iter() {
            let given = if &**name == "body" {
                self.body.is_some()
            } else {
                params.iter().any(|(n, _, _)| *n == &**name)
            };
            let excused = matches!(&**name, "pageToken" | "nextPageToken") && !m.response_pages;
            if !given && !excused {
                return Err(Error::MissingParameter {
                    method: err_method(),
                    param: name.to_string(),
                });
            }
        }
        Ok(params)
    }

    /// Steps 3 and 4: patterns, then enums, each in name order.
    fn check_values(&self, params: &[(&str, &ParamValue, &Param)]) -> Result<(), Error> {
        let err_method = || self.desc().id.to_string();
        let checked = params
            .iter()
            .any(|(_, _, p)| p.pattern.is_some() || p.enum_values.is_some());
        let mut sorted: Vec<usize> = Vec::new();
        if checked {
            sorted.extend(0..params.len());
            sorted.sort_by(|&a, &b| params[a].0.cmp(params[b].0));
        }
        for &i in &sorted {
            let (name, value, p) = params[i];
            if let Some(pattern) = &p.pattern {
                let ok = match value {
                    ParamValue::Str(s) => pattern.matches(s),
                    ParamValue::List(l) => l.iter().all(|v| match v {
                        ParamValue::Str(s) => pattern.matches(s),
                        _ => false,
                    }),
                    _ => false,
                };
                if !ok {
                    return Err(Error::PatternMismatch {
                        method: err_method(),
                        param: name.to_owned(),
                        pattern: pattern.source.to_string(),
                    });
                }
            }
        }
        for &i in &sorted {
            let (name, value, p) = params[i];
            if let Some(allowed) = &p.enum_values {
                let is_allowed = |v: &ParamValue| match v {
                    ParamValue::Str(s) => allowed.iter().any(|a| **a == **s),
                    _ => false,
                };
                let ok = match value {
                    ParamValue::List(l) if p.repeated => l.iter().all(is_allowed),
                    v => is_allowed(v),
                };
                if !ok {
                    return Err(Error::NotInEnum {
                        method: err_method(),
                        param: name.to_owned(),
                        allowed: allowed.iter().map(|a| a.to_string()).collect(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Step 5: the values as text, in the caller's order, split into the path's and the
    /// query's; the query gets the `alt` of the response model.
    fn texts<'a>(
        &'a self,
        params: &[(&'a str, &'a ParamValue, &'a Param)],
    ) -> Result<(Named<'a>, Named<'a>), Error> {
        let m = self.desc();
        let mut path_values: Vec<(&str, Texts<'_>)> = Vec::new();
        let mut query: Vec<(&str, Texts<'_>)> = Vec::with_capacity(params.len() + 1);
        for &(name, value, p) in params {
            let texts = match value {
                ParamValue::List(l) if p.repeated => l
                    .iter()
                    .map(|v| cast_text(v, p.ty))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Texts::Many),
                v => cast_text(v, p.ty).map(Texts::One),
            }
            .map_err(|reason| Error::InvalidValue {
                method: m.id.to_string(),
                param: name.to_owned(),
                reason,
            })?;
            let in_template = m.path.vars.iter().any(|v| **v == *name);
            if in_template || p.location == Location::Path {
                path_values.push((name, texts));
            } else if p.location == Location::Query {
                query.push((name, texts));
            }
        }
        let alt = match self.model_kind() {
            ModelKind::Json => Some("json"),
            ModelKind::Media => Some("media"),
            ModelKind::Raw => None,
        };
        if let Some(alt) = alt {
            match query.iter_mut().find(|(n, _)| *n == "alt") {
                Some(entry) => *entry = ("alt", Texts::One(alt.into())),
                None => query.push(("alt", Texts::One(alt.into()))),
            }
        }
        Ok((path_values, query))
    }

    /// The headers every call carries, and the JSON body (wrapped in `data` for APIs
    /// with the `dataWrapper` feature).
    fn headers_and_body(&self) -> (Vec<(String, String)>, Bytes) {
        let m = self.desc();
        let mut headers: Vec<(String, String)> = Vec::with_capacity(4);
        headers.push((
            ACCEPT.as_str().into(),
            if self.model_kind() == ModelKind::Json {
                "application/json"
            } else {
                "*/*"
            }
            .into(),
        ));
        headers.push(("x-goog-api-client".into(), API_CLIENT.into()));
        if let Some(v) = &m.api_version {
            headers.push(("x-goog-api-version".into(), v.to_string()));
        }
        let body = match &self.body {
            Some(b) => {
                headers.push((CONTENT_TYPE.as_str().into(), "application/json".into()));
                let wrapped;
                let b = if self.api.model.data_wrapper && b.is_object() && b.get("data").is_none() {
                    wrapped = serde_json::json!({ "data": b });
                    &wrapped
                } else {
                    b
                };
                Bytes::from(serde_json::to_vec(b).unwrap_or_default())
            }
            None => Bytes::new(),
        };
        (headers, body)
    }

    /// The path: the media upload path (with the upload's body and headers), or the
    /// method's path, expanded and put after the base URL unless absolute.
    fn expand_url<'a>(
        &'a self,
        draft: &mut Draft<'a>,
        path_values: &[(&str, Texts<'_>)],
    ) -> Result<(), Error> {
        let m = self.desc();
        let lookup = |n: &str| {
            path_values
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_slice())
        };
        match (&self.media, &m.media) {
            (Some(media), Some(mu)) => {
                media.check(&m.id, &mu.accept, mu.max_size)?;
                if HeaderValue::from_str(media.mime_type()).is_err() {
                    // It goes into a header and a multipart body: CR or LF there would add
                    // headers of the caller's choosing.
                    return Err(Error::InvalidValue {
                        method: m.id.to_string(),
                        param: "media_mime_type".into(),
                        reason: "a media type cannot hold control characters (CR, LF, ...)".into(),
                    });
                }
                let mut expanded = String::new();
                mu.path.expand(&mut expanded, lookup);
                draft.url.push_str(&expanded);
                self.media_upload(draft, media);
            }
            _ => {
                // Expanded in place, then put after the base URL unless absolute.
                m.path.expand(&mut draft.url, lookup);
                if !(draft.url.starts_with("http://") || draft.url.starts_with("https://")) {
                    join_path_before(&mut draft.url, &self.api.model.base_url);
                }
            }
        }
        Ok(())
    }

    /// Step 6: the media, by protocol: resumable (sent once the session is open), simple
    /// (the media is the body) or multipart (the JSON body, then the media).
    fn media_upload(&self, draft: &mut Draft<'_>, media: &Media) {
        let Draft {
            query,
            headers,
            body,
            resumable,
            media_at,
            ..
        } = draft;
        // googleapiclient re-parses the query here (dropping empty values) and sets
        // uploadType.
        query.retain(|(n, v)| *n == "alt" || v.as_slice().iter().any(|s| !s.is_empty()));
        let upload_type = match self.protocol {
            UploadProtocol::Resumable { chunk_size } => {
                *resumable = Some((media.clone(), round_chunk(chunk_size)));
                headers.push(("x-upload-content-type".into(), media.mime_type().into()));
                if let Some(n) = media.announced_len() {
                    headers.push(("x-upload-content-length".into(), n.to_string()));
                }
                "resumable"
            }
            UploadProtocol::Simple if self.body.is_none() => {
                headers.push((CONTENT_TYPE.as_str().into(), media.mime_type().into()));
                *body = media.shared(0..media.len());
                *media_at = media.is_streamed().then_some(0);
                "media"
            }
            UploadProtocol::Simple if media.is_streamed() => {
                let (boundary, head, tail) = multipart_around(body, media.mime_type());
                headers.retain(|(k, _)| k != CONTENT_TYPE.as_str());
                headers.push((
                    CONTENT_TYPE.as_str().into(),
                    format!("multipart/related; boundary=\"{boundary}\""),
                ));
                *media_at = Some(head.len());
                *body = [head, tail].concat().into();
                "multipart"
            }
            UploadProtocol::Simple => {
                let (boundary, multipart) = multipart_related(body, media);
                headers.retain(|(k, _)| k != CONTENT_TYPE.as_str());
                headers.push((
                    CONTENT_TYPE.as_str().into(),
                    format!("multipart/related; boundary=\"{boundary}\""),
                ));
                *body = Bytes::from(multipart);
                "multipart"
            }
        };
        match query.iter_mut().find(|(n, _)| *n == "uploadType") {
            Some(e) => *e = ("uploadType", Texts::One(upload_type.into())),
            None => query.push(("uploadType", Texts::One(upload_type.into()))),
        }
    }

    /// Credentials go only to the root URL's origin: a path or a parameter value that
    /// leads elsewhere is refused here, before anything is sent.
    fn check_origin(&self, url: &str, path_values: &[(&str, Texts<'_>)]) -> Result<(), Error> {
        let model: &Model = &self.api.model;
        if let Err(found) = model.root_origin.admits(url) {
            let media = self.media.is_some();
            let field = self.blame(path_values, media).map_or_else(
                || {
                    if media {
                        "mediaUpload path".to_owned()
                    } else {
                        "path".to_owned()
                    }
                },
                |p| format!("parameter `{p}`"),
            );
            return Err(Error::foreign(
                &self.desc().id,
                &field,
                found.as_ref(),
                &model.root_origin,
            ));
        }
        Ok(())
    }
}

impl Request {
    /// The path parameter whose value alone takes the URL off the root's origin, when
    /// one does (for the error; only on that path).
    fn blame(&self, path_values: &[(&str, Texts<'_>)], media: bool) -> Option<String> {
        let m = self.desc();
        let model = &self.api.model;
        let template = match (media, &m.media) {
            (true, Some(mu)) => &mu.path,
            _ => &m.path,
        };
        let leaves = |only: Option<&str>| {
            let mut url = String::new();
            template.expand(&mut url, |n| {
                path_values
                    .iter()
                    .find(|(k, _)| Some(*k) == only && *k == n)
                    .map(|(_, v)| v.as_slice())
            });
            let absolute = url.starts_with("http://") || url.starts_with("https://");
            if !media && !absolute {
                join_path_before(&mut url, &model.base_url);
            }
            url.push('?');
            model.root_origin.admits(&url).is_err()
        };
        if leaves(None) {
            return None;
        }
        path_values
            .iter()
            .find(|(name, _)| leaves(Some(name)))
            .map(|(name, _)| (*name).to_owned())
    }
}

/// A parameter's values as text: one (borrowed when sent as given), or a list's.
#[derive(Debug)]
enum Texts<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'a> Texts<'a> {
    fn as_slice(&self) -> &[Cow<'a, str>] {
        match self {
            Texts::One(t) => std::slice::from_ref(t),
            Texts::Many(v) => v,
        }
    }
}

/// Parameter values as text, by name, in order.
type Named<'a> = Vec<(&'a str, Texts<'a>)>;

/// A request as [`Request::prepare`]'s steps build it.
struct Draft<'a> {
    url: String,
    query: Named<'a>,
    headers: Vec<(String, String)>,
    body: Bytes,
    resumable: Option<(Media, usize)>,
    media_at: Option<usize>,
}

impl Draft<'_> {
    /// The query string after the path, in order.
    fn append_query(&mut self, no_media: bool) {
        if self.query.is_empty() && no_media {
            // googleapiclient appends `"?" + urlencode({})`: a bare `?` (which matters
            // when a `{+name}` value put a `?` in the path).
            self.url.push('?');
        }
        let mut first = true;
        for (name, values) in &self.query {
            for v in values.as_slice() {
                self.url.push(if first { '?' } else { '&' });
                first = false;
                quote_plus(&mut self.url, name);
                self.url.push('=');
                quote_plus(&mut self.url, v);
            }
        }
    }
}

/// Google wants chunks in multiples of 256 KiB.
fn round_chunk(n: usize) -> usize {
    const UNIT: usize = 256 * 1024;
    n.max(1).div_ceil(UNIT).saturating_mul(UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
      "name": "t", "version": "v1", "rootUrl": "https://t.googleapis.com/", "servicePath": "t/v1/",
      "parameters": {"fields": {"type": "string", "location": "query"},
                     "$.xgafv": {"type": "string", "location": "query", "enum": ["1", "2"]}},
      "schemas": {"List": {"properties": {"nextPageToken": {"type": "string"}, "items": {"type": "array"}}}},
      "resources": {"things": {"methods": {
        "get": {"id": "t.things.get", "path": "v1/{+name}", "httpMethod": "GET",
          "parameters": {"name": {"type": "string", "location": "path", "required": true, "pattern": "^things/[^/]+$"},
                         "view": {"type": "string", "location": "query", "enum": ["BASIC", "FULL"]},
                         "n": {"type": "number", "location": "query"}},
          "response": {"$ref": "Thing"}},
        "watch": {"id": "t.things.watch", "path": "watch", "httpMethod": "POST",
          "parameters": {"pageToken": {"type": "string", "location": "query", "required": true}},
          "request": {"$ref": "Thing"}, "response": {"$ref": "Thing"}},
        "list": {"id": "t.things.list", "path": "things", "httpMethod": "GET",
          "parameters": {"pageToken": {"type": "string", "location": "query", "required": true}},
          "response": {"$ref": "List"}},
        "delete": {"id": "t.things.delete", "path": "things/{id}", "httpMethod": "DELETE",
          "parameters": {"id": {"type": "string", "location": "path", "required": true}}}
      }}}
    }"#;

    fn api() -> Api {
        Api::from_document(DOC.as_bytes()).unwrap()
    }

    #[test]
    fn reserved_paths_and_global_params_build_like_googleapiclient() {
        let r = api()
            .method("things.get")
            .unwrap()
            .param("name", "things/a b+c")
            .param("$.xgafv", "2")
            .param("fields", "a,b")
            .param("n", 3)
            .prepare()
            .unwrap();
        assert_eq!(
            r.url,
            "https://t.googleapis.com/t/v1/v1/things/a%20b+c?%24.xgafv=2&fields=a%2Cb&n=3.0&alt=json"
        );
        assert!(r.body.is_empty());
    }

    #[test]
    fn invalid_calls_name_the_parameter() {
        let a = api();
        let e = a
            .method("things.get")
            .unwrap()
            .param("nope", "x")
            .prepare()
            .unwrap_err();
        assert!(
            matches!(&e, Error::UnknownParameter { param, .. } if param == "nope"),
            "{e}"
        );
        let e = a.method("things.get").unwrap().prepare().unwrap_err();
        assert!(
            matches!(&e, Error::MissingParameter { param, .. } if param == "name"),
            "{e}"
        );
        let e = a
            .method("things.get")
            .unwrap()
            .param("name", "other/x")
            .prepare()
            .unwrap_err();
        assert!(
            matches!(&e, Error::PatternMismatch { param, .. } if param == "name"),
            "{e}"
        );
        let e = a
            .method("things.get")
            .unwrap()
            .param("name", "things/x")
            .param("view", "ALL")
            .prepare()
            .unwrap_err();
        assert!(
            matches!(&e, Error::NotInEnum { param, .. } if param == "view"),
            "{e}"
        );
        let e = a
            .method("things.get")
            .unwrap()
            .param("name", "things/x")
            .param("n", "x")
            .prepare()
            .unwrap_err();
        assert!(
            matches!(&e, Error::InvalidValue { param, .. } if param == "n"),
            "{e}"
        );
        let e = a
            .method("things.get")
            .unwrap()
            .param("name", "things/x")
            .body(serde_json::json!({}))
            .prepare()
            .unwrap_err();
        assert_eq!(e.parameter(), Some("body"));
    }

    #[test]
    fn a_required_page_token_is_excused_when_the_response_does_not_page() {
        let a = api();
        assert!(a.method("things.watch").unwrap().prepare().is_ok());
        let e = a.method("things.list").unwrap().prepare().unwrap_err();
        assert_eq!(e.parameter(), Some("pageToken"));
    }

    #[test]
    fn methods_without_a_response_send_no_alt() {
        let r = api()
            .method("things.delete")
            .unwrap()
            .param("id", "a/b")
            .prepare()
            .unwrap();
        assert_eq!(r.url, "https://t.googleapis.com/t/v1/things/a%2Fb?");
        assert_eq!(r.method, http::Method::DELETE);
    }

    /// Methods whose URL a document or a parameter could steer elsewhere.
    const TRUST_DOC: &str = r#"{
      "name": "t", "version": "v1", "rootUrl": "https://t.googleapis.com/", "servicePath": "t/v1/",
      "schemas": {"F": {"properties": {"id": {"type": "string"}}}},
      "methods": {
        "absolute": {"id": "t.absolute", "path": "http://attacker.example/x", "httpMethod": "GET"},
        "elsewhere": {"id": "t.elsewhere", "path": "https://t.googleapis.com:8443/x/{id}", "httpMethod": "GET",
          "parameters": {"id": {"type": "string", "location": "path"}}},
        "reserved": {"id": "t.reserved", "path": "{+name}", "httpMethod": "GET",
          "parameters": {"name": {"type": "string", "location": "path", "required": true},
                         "q": {"type": "string", "location": "query"}}},
        "simple": {"id": "t.simple", "path": "{id}", "httpMethod": "GET",
          "parameters": {"id": {"type": "string", "location": "path", "required": true}}},
        "upload": {"id": "t.upload", "path": "{+name}", "httpMethod": "POST",
          "parameters": {"name": {"type": "string", "location": "path", "required": true}},
          "request": {"$ref": "F"}, "response": {"$ref": "F"},
          "mediaUpload": {"accept": ["*/*"], "maxSize": "1MB"}, "supportsMediaDownload": true}
      }
    }"#;

    fn foreign(r: Result<PreparedRequest, Error>) -> (String, String) {
        match r {
            Err(Error::ForeignUrl { field, host, .. }) => (field, host),
            other => panic!("expected a ForeignUrl error, got {other:?}"),
        }
    }

    #[test]
    fn a_path_or_parameter_that_leaves_the_root_origin_is_refused_naming_the_host() {
        let api = Api::from_document(TRUST_DOC.as_bytes()).unwrap();
        let (field, host) = foreign(api.method("absolute").unwrap().prepare());
        assert_eq!(
            (field.as_str(), host.as_str()),
            ("path", "attacker.example")
        );
        let e = api.method("absolute").unwrap().prepare().unwrap_err();
        assert!(
            e.to_string().contains("attacker.example") && e.to_string().contains("t.absolute"),
            "{e}"
        );
        let (field, host) = foreign(api.method("elsewhere").unwrap().prepare());
        assert_eq!(
            (field.as_str(), host.as_str()),
            ("path", "t.googleapis.com")
        );
        for value in [
            "http://attacker.example/x",
            "https://attacker.example/x",
            "http://t.googleapis.com/x",
            "https://t.googleapis.com:8443/x",
            "https://t.googleapis.com.attacker.example/x",
            "https://t.googleapis.com@attacker.example/x",
            "https://t.googleapis.com\\@attacker.example/x",
        ] {
            let r = api
                .method("reserved")
                .unwrap()
                .param("name", value)
                .prepare();
            let (field, _) = foreign(r);
            assert_eq!(field, "parameter `name`", "{value}");
            // Downloads and uploads of the same method, too.
            let r = api
                .method("upload")
                .unwrap()
                .param("name", value)
                .download()
                .prepare();
            assert!(matches!(r, Err(Error::ForeignUrl { .. })), "{value}");
        }
        // On the root's origin: an absolute URL there, a simple expansion (escaped), and
        // query values are fine.
        let ok = api
            .method("reserved")
            .unwrap()
            .param("name", "https://T.googleapis.com:443/v1/x")
            .param("q", "http://attacker.example/")
            .prepare()
            .unwrap();
        assert_eq!(
            ok.url,
            "https://T.googleapis.com:443/v1/x?q=http%3A%2F%2Fattacker.example%2F"
        );
        let ok = api
            .method("simple")
            .unwrap()
            .param("id", "http://attacker.example/x")
            .prepare()
            .unwrap();
        assert!(
            ok.url
                .starts_with("https://t.googleapis.com/t/v1/http%3A%2F%2F")
        );
        // A media upload's URL is checked as well.
        let up = api
            .method("upload")
            .unwrap()
            .param("name", "x")
            .media(Media::new(b"m".to_vec(), "text/plain"))
            .prepare()
            .unwrap();
        assert!(
            up.url
                .starts_with("https://t.googleapis.com/upload/t/v1/x?")
        );
    }

    #[test]
    fn media_types_and_headers_with_control_characters_are_errors_not_dropped() {
        let api = Api::from_document(TRUST_DOC.as_bytes()).unwrap();
        for mime in ["text/plain\r\nX-Injected: 1", "text/plain\n", "a\0b"] {
            for protocol in [
                UploadProtocol::Simple,
                UploadProtocol::Resumable { chunk_size: 1 },
            ] {
                let e = api
                    .method("upload")
                    .unwrap()
                    .param("name", "x")
                    .media(Media::new(b"m".to_vec(), mime))
                    .upload_protocol(protocol)
                    .prepare()
                    .unwrap_err();
                assert_eq!(e.parameter(), Some("media_mime_type"), "{e}");
            }
        }
        let mut p = api
            .method("simple")
            .unwrap()
            .param("id", "x")
            .prepare()
            .unwrap();
        p.headers
            .push(("x-added".into(), "a\r\nInjected: 1".into()));
        let e = p.to_http().unwrap_err();
        assert!(
            matches!(&e, Error::InvalidHeader { field, .. } if field == "x-added"),
            "{e}"
        );
        p.headers.pop();
        p.headers.push(("bad name".into(), "v".into()));
        assert!(matches!(
            p.to_http().unwrap_err(),
            Error::InvalidHeader { field, .. } if field == "bad name"
        ));
    }

    #[test]
    fn an_http_method_or_api_version_that_is_no_header_is_a_document_error() {
        for (verb, version) in [
            (r#""GET\r\nX-Injected: 1""#, r#""v1""#),
            (r#""GE T""#, r#""v1""#),
            (r#""""#, r#""v1""#),
            (r#""GET""#, r#""v1\r\nX-Injected: 1""#),
        ] {
            let doc = format!(
                r#"{{"name":"t","version":"v1","rootUrl":"https://t.googleapis.com/","servicePath":"",
                 "methods":{{"m":{{"id":"t.m","path":"m","httpMethod":{verb},"apiVersion":{version}}}}}}}"#
            );
            let api = Api::from_document(doc.as_bytes()).unwrap();
            let e = api.method("m").unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, Error::InvalidDocument { .. }), "{text}");
            assert!(
                text.contains("httpMethod") || text.contains("apiVersion"),
                "{text}"
            );
        }
    }

    #[test]
    fn chunks_round_up_to_256_kib() {
        assert_eq!(round_chunk(1), 262144);
        assert_eq!(round_chunk(262144), 262144);
        assert_eq!(round_chunk(262145), 524288);
    }
}
