//! `gauth call API VERSION METHOD ...`: a discovery-based call, like
//! `build(API, VERSION).RESOURCE().METHOD(**params).execute()` in Python.

use gauth::discovery::blocking::MediaSource;
use gauth::discovery::download::DownloadOptions;
use gauth::discovery::upload::UploadOptions;
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
    let streamed = a.media.as_ref().filter(|_| !a.dry_run);
    if let Some(file) = a.media.as_ref().filter(|_| a.dry_run) {
        let media = Media::from_file(file, a.media_type.as_deref()).map_err(|e| e.to_string())?;
        request = request.media(media);
    }
    if a.output.is_some() {
        request = request.download();
    }
    // Validation happens here, before any credential is loaded: an invalid call exits 1
    // naming the parameter, dry run or not (streamed media is checked as it starts).
    let prepared = request.prepare().map_err(|e| e.to_string())?;
    let source = match streamed {
        Some(file) => {
            Some(MediaSource::from_file(file, a.media_type.as_deref()).map_err(|e| e.to_string())?)
        }
        None => None,
    };
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
    let loaded = match &a.impersonate_service_account {
        None => crate::credentials::load_for_call(&a.creds, &a.scopes, api.scopes())?,
        Some(spec) => {
            // The source calls IAM credentials (its default scope); the account acted as
            // calls the API.
            let loaded = crate::credentials::load(&a.creds, &[])?;
            // The service account acted as needs the scopes, as a key file would.
            let scopes = if a.scopes.is_empty() {
                api.scopes()
            } else {
                &a.scopes
            };
            let iam = a.iam_url.as_deref();
            crate::federation::impersonate(loaded, spec, scopes, None, iam, &a.creds)?
        }
    };
    let loaded = crate::cache::share(loaded, &a.cache)?;
    let service = discovery::blocking::Service::new(api, Some(loaded.credentials));
    let call = service.call(request);
    let out = if let Some(source) = source {
        upload(&call, source, a)?
    } else if let Some(path) = &a.output {
        download(&call, path)?
    } else if a.all_pages {
        serde_json::Value::Array(call.collect_items().map_err(|e| e.to_string())?)
    } else {
        call.execute().map_err(|e| e.to_string())?
    };
    out::json(&out, true)
}

/// `--media FILE [--resumable [--chunk-size BYTES]]`: the file streamed; the answer's JSON.
fn upload(
    call: &discovery::blocking::MethodCall,
    source: MediaSource,
    a: &CallArgs,
) -> Result<serde_json::Value, Failure> {
    let mut options = if a.resumable {
        UploadOptions::resumable()
    } else {
        UploadOptions::default()
    };
    if let Some(n) = a.chunk_size {
        options = options.chunk_size(n);
    }
    let bar = crate::progress::Bar::new(source.info().len);
    if let Some(bar) = bar.clone() {
        options = options.on_progress(move |done, total| bar.update(done, total));
    }
    let answer = call.upload(source, options);
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(answer.map_err(|e| e.to_string())?.json())
}

/// `--output FILE`: the media written as it arrives; a summary of what was written.
fn download(
    call: &discovery::blocking::MethodCall,
    path: &std::path::Path,
) -> Result<serde_json::Value, Failure> {
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut sink = std::io::BufWriter::with_capacity(1 << 20, file);
    let bar = crate::progress::Bar::new(None);
    let report = |done: u64, total: Option<u64>| {
        if let Some(bar) = &bar {
            bar.update(done, total);
        }
    };
    let written = call.download_with_progress(&mut sink, DownloadOptions::default(), &report);
    if let Some(bar) = &bar {
        bar.finish();
    }
    let written = written.map_err(|e| e.to_string())?;
    Ok(serde_json::json!({ "output": path.display().to_string(), "bytes": written }))
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
