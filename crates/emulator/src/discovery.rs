//! Discovery documents (from google-api-python-client's shipped cache, under `discovery/`),
//! served with their `rootUrl` pointed at the emulator.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::reply::{api_error, form};
use crate::store::Shared;

/// (api, version, document) of every served API.
const DOCUMENTS: [(&str, &str, &str); 3] = [
    ("oauth2", "v2", include_str!("../discovery/oauth2.v2.json")),
    ("tasks", "v1", include_str!("../discovery/tasks.v1.json")),
    // Trimmed to files.create/get/list/delete (`media.rs`).
    ("drive", "v3", include_str!("../discovery/drive.v3.json")),
];

/// The documents, parsed once and rewritten for `base_url`.
pub(crate) struct Documents {
    docs: HashMap<(String, String), Value>,
}

impl Documents {
    /// Parses the shipped documents and points them at `base_url`.
    pub(crate) fn load(base_url: &str) -> Documents {
        let root = format!("{base_url}/");
        let docs = DOCUMENTS
            .iter()
            .filter_map(|(api, version, text)| {
                let mut doc: Value = serde_json::from_str(text).ok()?;
                let service_path = doc
                    .get("servicePath")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                doc["rootUrl"] = root.clone().into();
                doc["baseUrl"] = format!("{root}{service_path}").into();
                if doc.get("mtlsRootUrl").is_some() {
                    doc["mtlsRootUrl"] = root.clone().into();
                }
                Some((((*api).to_owned(), (*version).to_owned()), doc))
            })
            .collect();
        Documents { docs }
    }

    /// The document of `api` `version`.
    pub(crate) fn get(&self, api: &str, version: &str) -> Option<&Value> {
        self.docs.get(&(api.to_owned(), version.to_owned()))
    }

    /// The APIs served, as (api, version).
    pub(crate) fn apis(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.docs.keys().cloned().collect();
        v.sort();
        v
    }
}

fn not_found() -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        "notFound",
        "Requested entity was not found.",
    )
}

/// `GET /discovery/v1/apis/{api}/{version}/rest`.
pub(crate) async fn document(
    State(shared): State<Arc<Shared>>,
    Path((api, version)): Path<(String, String)>,
) -> Response {
    match shared.documents().get(&api, &version) {
        Some(doc) => axum::Json(doc.clone()).into_response(),
        None => not_found(),
    }
}

/// `GET /$discovery/rest?version=V[&api=A]`: Google serves this per API host; here the
/// version picks the API when only one has it, and `api` settles the rest.
pub(crate) async fn dollar_discovery(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
) -> Response {
    let q = form(q.unwrap_or_default().as_bytes());
    let Some(version) = q.get("version") else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "required",
            "Required parameter: version",
        );
    };
    let docs = shared.documents();
    let candidates: Vec<(String, String)> = docs
        .apis()
        .into_iter()
        .filter(|(a, v)| v == version && q.get("api").is_none_or(|x| x == a))
        .collect();
    match candidates.as_slice() {
        [(api, v)] => match docs.get(api, v) {
            Some(doc) => axum::Json(doc.clone()).into_response(),
            None => not_found(),
        },
        [] => not_found(),
        _ => api_error(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Several APIs have this version here: add api=NAME.",
        ),
    }
}

/// `GET /discovery/v1/apis`: the directory of served APIs.
pub(crate) async fn directory(State(shared): State<Arc<Shared>>) -> Response {
    let docs = shared.documents();
    let items: Vec<Value> = docs
        .apis()
        .iter()
        .filter_map(|(api, version)| {
            let doc = docs.get(api, version)?;
            Some(json!({
                "kind": "discovery#directoryItem",
                "id": format!("{api}:{version}"),
                "name": api,
                "version": version,
                "title": doc.get("title").cloned().unwrap_or(Value::Null),
                "description": doc.get("description").cloned().unwrap_or(Value::Null),
                "discoveryRestUrl": format!("{}/discovery/v1/apis/{api}/{version}/rest", shared.base_url),
                "preferred": true,
            }))
        })
        .collect();
    axum::Json(json!({
        "kind": "discovery#directoryList",
        "discoveryVersion": "v1",
        "items": items,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_point_at_the_emulator() {
        let docs = Documents::load("http://127.0.0.1:9");
        let tasks = docs.get("tasks", "v1").unwrap();
        assert_eq!(tasks["rootUrl"], "http://127.0.0.1:9/");
        assert_eq!(tasks["baseUrl"], "http://127.0.0.1:9/");
        assert_eq!(tasks["mtlsRootUrl"], "http://127.0.0.1:9/");
        let oauth2 = docs.get("oauth2", "v2").unwrap();
        assert_eq!(
            oauth2["methods"]["tokeninfo"]["path"],
            "oauth2/v2/tokeninfo"
        );
        let drive = docs.get("drive", "v3").unwrap();
        assert_eq!(drive["baseUrl"], "http://127.0.0.1:9/drive/v3/");
        assert_eq!(
            drive["resources"]["files"]["methods"]["create"]["mediaUpload"]["protocols"]["simple"]
                ["path"],
            "/upload/drive/v3/files"
        );
        assert_eq!(docs.apis().len(), 3);
    }
}
