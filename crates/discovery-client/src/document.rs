//! The discovery document, parsed once into an index by name.
//!
//! Only what request building, validation, media and paging need is kept; schemas are
//! reduced to the few facts paging needs (whether a page token field exists, which
//! fields are lists), so a 6 MB document costs one pass of the JSON parser and a few
//! allocations per method.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};

use crate::Error;
use crate::template::{Template, py_urljoin};
use crate::value::ParamType;

/// The parameters googleapiclient adds to every method (`STACK_QUERY_PARAMETERS`).
pub(crate) const STACK_PARAMS: [&str; 4] = ["pp", "strict", "trace", "userip"];

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Path,
    Query,
    Other,
}

/// A compiled pattern, compiled on first use (most patterns of a 6 MB document are never
/// used by a given program).
pub(crate) struct Pattern {
    pub(crate) source: Box<str>,
    compiled: OnceLock<Option<regex::Regex>>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

impl Pattern {
    /// Python's `re.match`: anchored at the start only. A pattern Rust's regex cannot
    /// compile (look-around, back-references) checks nothing, rather than refusing calls.
    pub(crate) fn matches(&self, value: &str) -> bool {
        let re = self.compiled.get_or_init(|| {
            regex::Regex::new(&format!("^(?:{})", self.source))
                .map_err(
                    |e| tracing::debug!(pattern = %self.source, error = %e, "pattern not checked"),
                )
                .ok()
        });
        re.as_ref().is_none_or(|r| r.is_match(value))
    }
}

/// One parameter of a method (or of the whole API).
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) ty: ParamType,
    pub(crate) location: Location,
    pub(crate) required: bool,
    pub(crate) repeated: bool,
    pub(crate) pattern: Option<Pattern>,
    pub(crate) enum_values: Option<Box<[Box<str>]>>,
}

static STACK_PARAM: Param = Param {
    ty: ParamType::String,
    location: Location::Query,
    required: false,
    repeated: false,
    pattern: None,
    enum_values: None,
};

/// Facts about a schema that paging needs.
#[derive(Debug, Default, Clone)]
pub(crate) struct SchemaFacts {
    pub(crate) page_token: bool,
    pub(crate) next_page_token: bool,
    /// Properties of type `array`, in document order.
    pub(crate) arrays: Vec<Box<str>>,
}

/// Media upload facts of a method.
#[derive(Debug, Clone)]
pub(crate) struct MediaUpload {
    pub(crate) accept: Box<[Box<str>]>,
    pub(crate) max_size: u64,
    /// `rootUrl + "upload/" + servicePath + path`, as googleapiclient builds it.
    pub(crate) path: Template,
}

/// One method.
#[derive(Debug)]
pub(crate) struct MethodDesc {
    pub(crate) id: Box<str>,
    pub(crate) http_method: http::Method,
    pub(crate) path: Template,
    /// The method's own parameters, sorted by name.
    pub(crate) params: Box<[(Box<str>, Param)]>,
    /// Names of required parameters in googleapiclient's check order (sorted).
    pub(crate) required: Box<[Box<str>]>,
    /// Whether the method takes a body (`request` on PUT, POST or PATCH).
    pub(crate) takes_body: bool,
    pub(crate) has_response: bool,
    pub(crate) supports_media_download: bool,
    pub(crate) media: Option<MediaUpload>,
    pub(crate) api_version: Option<Box<str>>,
    /// The page token parameter and the response's next-page field, when the method
    /// pages (googleapiclient's `_next` methods).
    pub(crate) paging: Option<Paging>,
    /// The response's list fields (for collecting every page's items).
    pub(crate) response_arrays: Vec<Box<str>>,
    /// Whether the response schema has a page token field (googleapiclient then insists
    /// on a required `pageToken`; otherwise it does not).
    pub(crate) response_pages: bool,
}

/// How a method pages.
#[derive(Debug, Clone)]
pub(crate) struct Paging {
    /// `pageToken` (a query parameter) or a body field of that name.
    pub(crate) token: Box<str>,
    pub(crate) in_body: bool,
    /// `nextPageToken` in the response.
    pub(crate) next: Box<str>,
}

/// One resource: its methods and nested resources, by name.
#[derive(Debug, Default)]
pub(crate) struct ResourceDesc {
    pub(crate) methods: HashMap<Box<str>, usize>,
    pub(crate) resources: HashMap<Box<str>, usize>,
}

/// A parsed discovery document: every method indexed by its dotted path.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) name: Box<str>,
    pub(crate) version: Box<str>,
    pub(crate) root_url: Box<str>,
    pub(crate) service_path: Box<str>,
    pub(crate) base_url: Box<str>,
    pub(crate) batch_path: Box<str>,
    pub(crate) data_wrapper: bool,
    pub(crate) globals: Box<[(Box<str>, Param)]>,
    pub(crate) methods: Vec<MethodDesc>,
    /// Resource 0 is the root (the document's top-level methods and resources).
    pub(crate) resources: Vec<ResourceDesc>,
    pub(crate) by_path: HashMap<Box<str>, usize>,
    pub(crate) scopes: Vec<String>,
}

impl Model {
    /// The parameter of this name as googleapiclient sees it for `m`: stack parameters,
    /// then the API's global parameters, then the method's own (later sources win).
    pub(crate) fn param<'a>(&'a self, m: &'a MethodDesc, name: &str) -> Option<&'a Param> {
        if STACK_PARAMS.contains(&name) {
            return Some(&STACK_PARAM);
        }
        if let Ok(i) = self.globals.binary_search_by(|(n, _)| (**n).cmp(name)) {
            return Some(&self.globals[i].1);
        }
        m.params
            .binary_search_by(|(n, _)| (**n).cmp(name))
            .ok()
            .map(|i| &m.params[i].1)
    }

    /// The label used in errors (`drive:v3`).
    pub(crate) fn label(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }
}

// ---- serde shapes of the document ----

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDoc {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    root_url: Option<String>,
    #[serde(default)]
    service_path: String,
    batch_path: Option<String>,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    parameters: HashMap<String, RawParam>,
    #[serde(default)]
    schemas: HashMap<String, SchemaFacts>,
    #[serde(default)]
    resources: HashMap<String, RawResource>,
    #[serde(default)]
    methods: HashMap<String, RawMethod>,
    #[serde(default)]
    auth: Option<RawAuth>,
}

#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    oauth2: Option<RawOauth2>,
}

#[derive(Deserialize)]
struct RawOauth2 {
    #[serde(default)]
    scopes: HashMap<String, IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct RawResource {
    #[serde(default)]
    resources: HashMap<String, RawResource>,
    #[serde(default)]
    methods: HashMap<String, RawMethod>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMethod {
    id: Option<String>,
    path: Option<String>,
    http_method: Option<String>,
    #[serde(default)]
    parameters: HashMap<String, RawParam>,
    request: Option<RawRef>,
    response: Option<RawRef>,
    #[serde(default)]
    supports_media_download: bool,
    media_upload: Option<RawMediaUpload>,
    api_version: Option<String>,
}

#[derive(Deserialize)]
struct RawRef {
    #[serde(rename = "$ref")]
    reference: Option<String>,
    #[serde(default)]
    required: bool,
    /// An inline schema's page facts.
    #[serde(default)]
    properties: Option<Properties>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMediaUpload {
    #[serde(default)]
    accept: Vec<String>,
    max_size: Option<String>,
}

#[derive(Deserialize)]
struct RawParam {
    #[serde(rename = "type")]
    ty: Option<String>,
    location: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    repeated: bool,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    enum_values: Option<Vec<String>>,
}

impl RawParam {
    fn into_param(self) -> Param {
        Param {
            ty: ParamType::parse(self.ty.as_deref()),
            location: match self.location.as_deref() {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                _ => Location::Other,
            },
            required: self.required,
            repeated: self.repeated,
            pattern: self.pattern.filter(|p| !p.is_empty()).map(|p| Pattern {
                source: p.into(),
                compiled: OnceLock::new(),
            }),
            enum_values: self
                .enum_values
                .filter(|e| !e.is_empty())
                .map(|e| e.into_iter().map(Into::into).collect()),
        }
    }
}

/// A schema: only `properties` is read, and of each property only its name and whether
/// its `type` is `array`.
impl<'de> Deserialize<'de> for SchemaFacts {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SchemaVisitor;
        impl<'de> Visitor<'de> for SchemaVisitor {
            type Value = SchemaFacts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a schema object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SchemaFacts, A::Error> {
                let mut facts = SchemaFacts::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "properties" {
                        facts = map.next_value::<Properties>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(facts)
            }
        }
        d.deserialize_map(SchemaVisitor)
    }
}

struct Properties(SchemaFacts);

impl<'de> Deserialize<'de> for Properties {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PropsVisitor;
        impl<'de> Visitor<'de> for PropsVisitor {
            type Value = Properties;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("schema properties")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Properties, A::Error> {
                let mut facts = SchemaFacts::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "pageToken" => facts.page_token = true,
                        "nextPageToken" => facts.next_page_token = true,
                        _ => {}
                    }
                    if map.next_value::<PropType>()?.0 {
                        facts.arrays.push((*key).into());
                    }
                }
                Ok(Properties(facts))
            }
        }
        d.deserialize_map(PropsVisitor)
    }
}

/// Whether a property's `type` is `array`; everything else skipped.
struct PropType(bool);

impl<'de> Deserialize<'de> for PropType {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PropType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a property schema")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PropType, A::Error> {
                let mut array = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "type" {
                        let t = map.next_value::<std::borrow::Cow<'de, str>>()?;
                        array = t == "array";
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(PropType(array))
            }
            fn visit_bool<E>(self, _: bool) -> Result<PropType, E> {
                Ok(PropType(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// googleapiclient's `_media_size_to_long`.
fn media_size(s: &str) -> u64 {
    if s.len() < 2 {
        return 0;
    }
    let (num, unit) = s.split_at(s.len() - 2);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "KB" => 10,
        "MB" => 20,
        "GB" => 30,
        "TB" => 40,
        _ => return s.trim().parse().unwrap_or(0),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_shl(shift))
        .unwrap_or(u64::MAX)
}

struct Builder<'a> {
    origin: &'a str,
    root_url: &'a str,
    service_path: &'a str,
    schemas: &'a HashMap<String, SchemaFacts>,
    globals: &'a [(Box<str>, Param)],
    methods: Vec<MethodDesc>,
    resources: Vec<ResourceDesc>,
    by_path: HashMap<Box<str>, usize>,
}

impl Builder<'_> {
    fn add_resource(
        &mut self,
        prefix: &str,
        methods: HashMap<String, RawMethod>,
        resources: HashMap<String, RawResource>,
    ) -> Result<usize, Error> {
        let idx = self.resources.len();
        self.resources.push(ResourceDesc::default());
        for (name, m) in methods {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let desc = self.method(&path, m)?;
            let mi = self.methods.len();
            self.methods.push(desc);
            self.by_path.insert(path.into(), mi);
            self.resources[idx].methods.insert(name.into(), mi);
        }
        for (name, r) in resources {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let child = self.add_resource(&path, r.methods, r.resources)?;
            self.resources[idx].resources.insert(name.into(), child);
        }
        Ok(idx)
    }

    fn facts(&self, r: Option<&RawRef>) -> Option<SchemaFacts> {
        let r = r?;
        match &r.reference {
            Some(name) => self.schemas.get(name).cloned(),
            None => r.properties.as_ref().map(|p| p.0.clone()),
        }
    }

    fn method(&self, path: &str, m: RawMethod) -> Result<MethodDesc, Error> {
        let invalid = |what: &str| Error::InvalidDocument {
            origin: self.origin.to_owned(),
            reason: format!("method `{path}` has no {what}"),
        };
        let id = m.id.unwrap_or_else(|| path.to_owned());
        let url_path = m.path.ok_or_else(|| invalid("path"))?;
        let verb = m.http_method.ok_or_else(|| invalid("httpMethod"))?;
        let http_method =
            http::Method::from_bytes(verb.as_bytes()).map_err(|_| Error::InvalidDocument {
                origin: self.origin.to_owned(),
                reason: format!("method `{path}` has an invalid httpMethod"),
            })?;
        let mut params: Vec<(Box<str>, Param)> = m
            .parameters
            .into_iter()
            .map(|(k, v)| (k.into(), v.into_param()))
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let template = Template::parse(&url_path);
        let takes_body = matches!(verb.as_str(), "PUT" | "POST" | "PATCH") && m.request.is_some();
        let body_required = takes_body && m.request.as_ref().is_some_and(|r| r.required);

        // googleapiclient's view: globals and stack parameters override the method's own.
        let mut required: Vec<Box<str>> = Vec::new();
        for (n, p) in &params {
            let shadowed = STACK_PARAMS.contains(&&**n)
                || self.globals.binary_search_by(|(g, _)| g.cmp(n)).is_ok();
            if p.required && !shadowed {
                required.push(n.clone());
            }
        }
        for (n, p) in self.globals {
            if p.required && !STACK_PARAMS.contains(&&**n) {
                required.push(n.clone());
            }
        }
        if body_required {
            required.push("body".into());
        }
        required.sort();
        required.dedup();

        let response = self.facts(m.response.as_ref());
        let paging = response
            .as_ref()
            .and_then(|resp| {
                let next = if resp.page_token {
                    "pageToken"
                } else if resp.next_page_token {
                    "nextPageToken"
                } else {
                    return None;
                };
                let in_params = |n: &str| params.iter().any(|(p, _)| &**p == n);
                if in_params("pageToken") {
                    return Some(("pageToken", false, next));
                }
                if in_params("nextPageToken") {
                    return Some(("nextPageToken", false, next));
                }
                let req = self.facts(m.request.as_ref())?;
                if req.page_token {
                    Some(("pageToken", true, next))
                } else if req.next_page_token {
                    Some(("nextPageToken", true, next))
                } else {
                    None
                }
            })
            .map(|(t, in_body, n)| Paging {
                token: t.into(),
                in_body,
                next: n.into(),
            });
        let media = m.media_upload.map(|mu| MediaUpload {
            accept: mu.accept.into_iter().map(Into::into).collect(),
            max_size: mu.max_size.as_deref().map_or(0, media_size),
            path: Template::parse(&format!(
                "{}upload/{}{}",
                self.root_url, self.service_path, url_path
            )),
        });
        Ok(MethodDesc {
            id: id.into(),
            http_method,
            path: template,
            required: required.into(),
            params: params.into(),
            takes_body,
            has_response: m.response.is_some(),
            supports_media_download: m.supports_media_download,
            media,
            api_version: m.api_version.map(Into::into),
            response_pages: response
                .as_ref()
                .is_some_and(|r| r.page_token || r.next_page_token),
            response_arrays: response.map(|r| r.arrays).unwrap_or_default(),
            paging,
        })
    }
}

/// Parses a document; `root_url` replaces the document's `rootUrl` when given.
pub(crate) fn parse(
    bytes: &[u8],
    origin: &str,
    root_url: Option<&str>,
) -> Result<Arc<Model>, Error> {
    let raw: RawDoc = serde_json::from_slice(bytes).map_err(|e| Error::InvalidDocument {
        origin: origin.to_owned(),
        reason: oauth_core::Error::json("document", &e).to_string(),
    })?;
    let root = match root_url {
        Some(r) => r.to_owned(),
        None => raw.root_url.ok_or_else(|| Error::InvalidDocument {
            origin: origin.to_owned(),
            reason: "no rootUrl".into(),
        })?,
    };
    let mut globals: Vec<(Box<str>, Param)> = raw
        .parameters
        .into_iter()
        .map(|(k, v)| (k.into(), v.into_param()))
        .collect();
    globals.sort_by(|a, b| a.0.cmp(&b.0));
    let base_url = py_urljoin(&root, &raw.service_path);
    let mut b = Builder {
        origin,
        root_url: &root,
        service_path: &raw.service_path,
        schemas: &raw.schemas,
        globals: &globals,
        methods: Vec::new(),
        resources: Vec::new(),
        by_path: HashMap::new(),
    };
    b.add_resource("", raw.methods, raw.resources)?;
    let (methods, resources, by_path) = (b.methods, b.resources, b.by_path);
    let mut scopes: Vec<String> = raw
        .auth
        .and_then(|a| a.oauth2)
        .map(|o| o.scopes.into_keys().collect())
        .unwrap_or_default();
    scopes.sort();
    Ok(Arc::new(Model {
        name: raw.name.into(),
        version: raw.version.into(),
        batch_path: raw.batch_path.unwrap_or_else(|| "batch".into()).into(),
        root_url: root.into(),
        service_path: raw.service_path.into(),
        base_url: base_url.into(),
        data_wrapper: raw.features.iter().any(|f| f == "dataWrapper"),
        globals: globals.into(),
        methods,
        resources,
        by_path,
        scopes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_sizes_follow_googleapiclient() {
        assert_eq!(media_size("5MB"), 5 << 20);
        assert_eq!(media_size("10GB"), 10 << 30);
        assert_eq!(media_size("1024"), 1024);
        assert_eq!(media_size(""), 0);
        assert_eq!(media_size("xxGB"), u64::MAX);
    }

    #[test]
    fn a_document_without_root_url_is_refused_by_name() {
        let e = parse(br#"{"name":"x"}"#, "x.json", None).unwrap_err();
        assert_eq!(e.to_string(), "discovery document x.json: no rootUrl");
        let e = parse(b"{\"name\": 5", "x.json", None).unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
    }
}
