//! `gauth call API VERSION METHOD ...`: a discovery-based call, like
//! `build(API, VERSION).RESOURCE().METHOD(**params).execute()` in Python.

use gauth::discovery::{self, Api, BuildOptions, Media, ParamValue};

use crate::args::CallArgs;

pub fn call(a: &CallArgs) -> Result<(), String> {
    let api = load_api(a)?;
    let mut request = api.method(&a.method).map_err(|e| e.to_string())?;
    for p in &a.params {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| format!("--param {p}: expected NAME=VALUE"))?;
        request.set_param(name, ParamValue::Str(value.to_owned()));
    }
    if let Some(body) = &a.body {
        let v: serde_json::Value = serde_json::from_str(body)
            .map_err(|e| format!("--body: {}", gauth::Error::json("--body", &e)))?;
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
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return Ok(());
    }
    // The document names where the Authorization header goes: a rootUrl read from a file
    // or a fetched document is held to the same policy as endpoints in credential files
    // (an explicit --root-url is the caller's own choice).
    if a.root_url.is_none() {
        let origin = a.discovery_file.as_ref().map_or_else(
            || format!("the {} {} discovery document", a.api, a.version),
            |f| f.display().to_string(),
        );
        crate::credentials::policy(&a.creds)
            .check(&origin, "rootUrl", api.root_url(), None)
            .map_err(|e| e.to_string())?;
    }
    let loaded = crate::credentials::load(&a.creds, &[])?;
    let loaded = match &a.impersonate_service_account {
        None => loaded,
        Some(spec) => {
            crate::federation::impersonate(loaded, spec, &[], None, a.iam_url.as_deref(), &a.creds)?
        }
    };
    let service = discovery::blocking::Service::new(api, Some(loaded.credentials));
    let call = service.call(request);
    let out = if a.all_pages {
        serde_json::Value::Array(call.collect_items().map_err(|e| e.to_string())?)
    } else {
        call.execute().map_err(|e| e.to_string())?
    };
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}

fn load_api(a: &CallArgs) -> Result<Api, String> {
    if let Some(file) = &a.discovery_file {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let api =
            Api::from_document_with(&bytes, &file.display().to_string(), a.root_url.as_deref())
                .map_err(|e| e.to_string())?;
        return Ok(api);
    }
    let mut options = BuildOptions::default();
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
