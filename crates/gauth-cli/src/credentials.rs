//! Loading credentials for a command: a named file, or Application Default Credentials.

use std::path::{Path, PathBuf};

use gauth::{AuthorizedUser, EndpointPolicy, blocking::Credentials};

use crate::args::CredentialArgs;

/// Credentials as a command uses them.
pub struct Loaded {
    pub credentials: Credentials,
    pub path: PathBuf,
}

pub fn policy(args: &CredentialArgs) -> EndpointPolicy {
    args.allow_endpoint
        .iter()
        .fold(EndpointPolicy::default(), |p, h| p.allow_host(h.as_str()))
}

/// Loads `--credentials`, or the first Application Default Credentials file found.
pub fn load(args: &CredentialArgs, scopes: &[String]) -> Result<Loaded, String> {
    let path = match &args.credentials {
        Some(p) => p.clone(),
        None => find_adc_file()?,
    };
    let value = gauth::json::read_file(&path).map_err(|e| e.to_string())?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_else(|| infer_type(&value));
    let origin = path.display().to_string();
    match kind {
        "authorized_user" => {
            let mut user = AuthorizedUser::from_value_with(&value, &origin, &policy(args))
                .map_err(|e| e.to_string())?
                .write_back_to(&path);
            if !scopes.is_empty() {
                user = user.with_scopes(scopes.iter().cloned());
            }
            Ok(Loaded {
                credentials: Credentials::new(user),
                path,
            })
        }
        "client_secrets" => Err(format!(
            "{origin}: this is a client-secrets file; sign in first with `gauth login --client-secrets {origin}`"
        )),
        other => Err(format!(
            "{origin}: unsupported credentials type `{other}`; supported: authorized_user"
        )),
    }
}

/// Files without a `type` field: google-auth's `Credentials.to_json()` writes none, and
/// client-secrets files have a top-level `installed` or `web` key instead.
fn infer_type(value: &serde_json::Value) -> &'static str {
    if value.get("installed").is_some() || value.get("web").is_some() {
        "client_secrets"
    } else if value.get("refresh_token").is_some() {
        "authorized_user"
    } else {
        "(none)"
    }
}

/// google-auth's order for files: `GOOGLE_APPLICATION_CREDENTIALS`, then gcloud's
/// well-known file (under `CLOUDSDK_CONFIG` when set).
fn find_adc_file() -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    if let Some(p) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(format!(
            "GOOGLE_APPLICATION_CREDENTIALS names {}, which is not a readable file",
            p.display()
        ));
    }
    tried.push("GOOGLE_APPLICATION_CREDENTIALS (not set)".to_string());
    if let Some(p) = gcloud_adc_path() {
        if p.is_file() {
            return Ok(p);
        }
        tried.push(format!("gcloud's file {} (absent)", p.display()));
    }
    Err(format!(
        "no credentials found; tried {}; pass --credentials FILE",
        tried.join(", ")
    ))
}

fn gcloud_adc_path() -> Option<PathBuf> {
    let dir = match std::env::var_os("CLOUDSDK_CONFIG") {
        Some(d) => PathBuf::from(d),
        None => {
            let home = std::env::var_os("HOME")?;
            Path::new(&home).join(".config").join("gcloud")
        }
    };
    Some(dir.join("application_default_credentials.json"))
}
