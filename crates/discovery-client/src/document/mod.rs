//! The discovery document, parsed once into an index by name.
//!
//! Only what request building, validation, media and paging need is kept; schemas are
//! reduced to the few facts paging needs (whether a page token field exists, which
//! fields are lists), so a 6 MB document costs one pass of the JSON parser and a few
//! allocations per method.
//!
//! - `index.rs`: the one pass over the document (the index of methods and schemas);
//! - `model.rs`: the method and parameter model, and where a parameter is found;
//! - `method.rs`: a method's JSON read into its description on first use;
//! - `schema.rs`: schema walking (the facts paging needs);
//! - `pattern.rs`: parameter patterns (`re.match`, walked, then compiled);
//! - `root.rs`: the root URL held to the endpoint policy.

mod index;
mod method;
mod model;
mod pattern;
mod root;
mod schema;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oauth_core::EndpointPolicy;

use crate::Error;
use crate::template::py_urljoin;
use index::Index;

pub(crate) use model::{Location, MethodDesc, Model, Param, Slot};

/// Parses a document; `root_url` replaces the document's `rootUrl` when given. The root
/// is checked against `policy`, and `servicePath` and `batchPath` must stay on its
/// origin. Owned bytes are kept as they are; borrowed ones are copied once.
pub(crate) fn parse(
    bytes: Cow<'_, [u8]>,
    origin: &str,
    root_url: Option<&str>,
    policy: &EndpointPolicy,
) -> Result<Arc<Model>, Error> {
    let not_utf8 = |e: std::str::Utf8Error| Error::InvalidDocument {
        origin: origin.to_owned(),
        reason: format!("not UTF-8 (byte {})", e.valid_up_to()),
    };
    // One check of the whole document: the index then reads it as text, spans unchecked.
    let text = match bytes {
        Cow::Owned(v) => String::from_utf8(v).map_err(|e| not_utf8(e.utf8_error()))?,
        Cow::Borrowed(b) => std::str::from_utf8(b).map_err(not_utf8)?.to_owned(),
    };
    parse_text(Arc::new(text), origin, root_url, policy)
}

/// [`parse`] of a document already held as text (a reparse shares it).
pub(crate) fn parse_text(
    doc: Arc<String>,
    origin: &str,
    root_url: Option<&str>,
    policy: &EndpointPolicy,
) -> Result<Arc<Model>, Error> {
    let mut ix = Index::read(&doc, origin)?;
    let root = root::root_url(root_url, ix.root_url.take().flatten(), origin)?;
    let root_origin = root::trusted_root(&root, origin, root_url.is_some(), policy)?;
    let service_path = ix.service_path.take().unwrap_or_default();
    let mut patterns = HashMap::new();
    let globals = method::params(ix.parameters.take().unwrap_or_default(), &mut patterns);
    let base_url = py_urljoin(&root, &service_path);
    let batch_path: String = ix
        .batch_path
        .take()
        .flatten()
        .unwrap_or_else(|| "batch".into());
    root::paths_stay_on_root(
        &root_origin,
        origin,
        &base_url,
        &format!("{root}{batch_path}"),
    )?;
    let scopes = ix.scopes();
    Ok(Arc::new(Model {
        name: ix.name.take().unwrap_or_default().into(),
        version: ix.version.take().unwrap_or_default().into(),
        batch_path: batch_path.into(),
        root_url: root.into(),
        root_origin,
        service_path: service_path.into(),
        base_url: base_url.into(),
        data_wrapper: ix
            .features
            .as_ref()
            .is_some_and(|f| f.iter().any(|f| f == "dataWrapper")),
        globals: globals.into(),
        methods: ix.methods,
        resources: ix.resources,
        by_path: ix.by_path,
        scopes,
        origin: origin.into(),
        doc,
        schemas: ix.schemas,
        patterns: Mutex::new(patterns),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_without_root_url_is_refused_by_name() {
        let e = parse(
            Cow::Borrowed(br#"{"name":"x"}"#),
            "x.json",
            None,
            &EndpointPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "discovery document x.json: no rootUrl");
        let e = parse(
            Cow::Borrowed(b"{\"name\": 5"),
            "x.json",
            None,
            &EndpointPolicy::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
    }

    #[test]
    fn repeated_and_escaped_names_are_found_the_last_one_winning() {
        // Methods and schemas are indexed by where their names are in the document and
        // sorted afterwards, parameters kept in order and sorted: a repeated name keeps its
        // last entry (as a JSON map would),
        // a name the JSON escaped is found by its text, and a document's own order does
        // not matter.
        let doc =
            br#"{"name":"d","version":"v1","rootUrl":"https://d.googleapis.com/","servicePath":"",
          "resources":{"items":{"methods":{
            "zap":{"path":"z","httpMethod":"GET","parameters":{
              "q":{"type":"string","location":"query","required":true},
              "q":{"type":"string","location":"query"}}},
            "get":{"path":"first","httpMethod":"GET"},
            "list":{"path":"l","httpMethod":"GET","response":{"$ref":"Page"}},
            "get":{"path":"second","httpMethod":"GET","response":{"$ref":"Page"}}}}},
          "schemas":{"Page":{"properties":{"nextPageToken":{"type":"string"}}},
            "Page":{"properties":{"items":{"type":"array"},"nextPageToken":{"type":"string"}}}}}"#;
        for bytes in [Cow::Borrowed(&doc[..]), Cow::Owned(doc.to_vec())] {
            let api = crate::Api {
                model: parse(bytes, "d.json", None, &EndpointPolicy::default()).unwrap(),
            };
            let items = api.resource("items").unwrap();
            assert_eq!(items.method_names(), ["get", "list", "zap"]);
            assert_eq!(api.method_paths(), ["items.get", "items.list", "items.zap"]);
            let get = items.method("get").unwrap().prepare().unwrap();
            assert_eq!(get.url, "https://d.googleapis.com/second?alt=json");
            let by_path = api.method("items.get").unwrap().prepare().unwrap();
            assert_eq!(by_path.url, get.url);
            // The last `Page` (with its list field) is the one paging reads.
            let list = api
                .model
                .method(api.method_index("items.list").unwrap())
                .unwrap();
            assert_eq!(list.response_arrays, vec![Box::<str>::from("items")]);
            assert!(list.response_pages);
            assert!(items.method("nope").is_err());
            // A repeated parameter: the last one (not required) is the one checked.
            assert!(items.method("zap").unwrap().prepare().is_ok());
        }
    }
}
