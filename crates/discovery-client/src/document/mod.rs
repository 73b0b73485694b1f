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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use oauth_core::EndpointPolicy;

use crate::Error;
use crate::template::py_urljoin;
use index::Index;

pub(crate) use model::{Location, MethodDesc, Model, Param, Slot};

/// Parses a document; `root_url` replaces the document's `rootUrl` when given. The root
/// is checked against `policy`, and `servicePath` and `batchPath` must stay on its
/// origin.
pub(crate) fn parse(
    bytes: &[u8],
    origin: &str,
    root_url: Option<&str>,
    policy: &EndpointPolicy,
) -> Result<Arc<Model>, Error> {
    let mut ix = Index::read(bytes, origin)?;
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
        doc: bytes.into(),
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
            br#"{"name":"x"}"#,
            "x.json",
            None,
            &EndpointPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "discovery document x.json: no rootUrl");
        let e = parse(b"{\"name\": 5", "x.json", None, &EndpointPolicy::default()).unwrap_err();
        assert!(e.to_string().contains("x.json"), "{e}");
    }
}
