//! `gauth call API VERSION METHOD ...`: a discovery-based call, like
//! `build(API, VERSION).RESOURCE().METHOD(**params).execute()` in Python.

use gauth::discovery::{self, Api, BuildOptions, DocumentOptions, Media, ParamValue};

use crate::args::CallArgs;
use crate::out::{self, Failure};

pub fn call(a: &CallArgs) -> Result<(), Failure> {
    let api = load_api(a)?;
    let mut request = api.method(&a.method).map_err(|e| e.to_string())?;
    for (name, value) in &a.params {
        request.set_param(name, ParamValue::Str(value.clone()));
    }
    if let Some(body) = &a.body {
        // The error names `--body` itself.
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| gauth::Error::json("--body", &e).to_string())?;
        request = request.body(v);
    }
    if let Some(file) = &a.media {
        let media = Media::from_file(file, a.media_type.as_deref()).map_err(|e| e.to_string())?;
        request = request.media(media);
    }
    // Validation happens here, before any credential is loaded: an invalid call exits 1
    // naming the parameter, dry run or not.
    let prepared = request.prepare().map_err(|e| e.to_string())?;
    if a.dry_run {
        let mut json = prepared.to_json();
        if let Some(h) = json["headers"].as_object_mut() {
            h.insert("authorization".into(), "Bearer <redacted>".into());
        }
        return out::json(&json, true);
    }
    // Where the Authorization header may go was settled when the document was read (its
    // rootUrl held to the endpoint policy, or --root-url), and the library refuses any
    // request off that origin.
    let loaded = crate::credentials::load(&a.creds, &[])?;
    let loaded = match &a.impersonate_service_account {
        None => loaded,
        Some(spec) => {
            crate::federation::impersonate(loaded, spec, &[], None, a.iam_url.as_deref(), &a.creds)?
        }
    };
    let loaded = crate::cache::share(loaded, &a.cache)?;
    let service = discovery::blocking::Service::new(api, Some(loaded.credentials));
    let call = service.call(request);
    let out = if a.all_pages {
        serde_json::Value::Array(call.collect_items().map_err(|e| e.to_string())?)
    } else {
        call.execute().map_err(|e| e.to_string())?
    };
    out::json(&out, true)
}

/// The document, from a file (size-bounded) or fetched, its rootUrl held to the endpoint
/// policy (`--allow-endpoint`) unless `--root-url` names the root.
fn load_api(a: &CallArgs) -> Result<Api, String> {
    let policy = crate::credentials::policy(&a.creds);
    if let Some(file) = &a.discovery_file {
        let mut options = DocumentOptions::default().endpoint_policy(policy);
        if let Some(root) = &a.root_url {
            options = options.root_url(root.clone());
        }
        return Api::from_file(file, &options).map_err(|e| e.to_string());
    }
    let mut options = BuildOptions::default().endpoint_policy(policy);
    if let Some(url) = &a.discovery_url {
        options = options.discovery_url(url.clone());
    }
    if let Some(root) = &a.root_url {
        options = options.root_url(root.clone());
    }
    let service = discovery::blocking::build_with(&a.api, &a.version, None, &options)
        .map_err(|e| e.to_string())?;
    Ok(service.api().clone())
}
