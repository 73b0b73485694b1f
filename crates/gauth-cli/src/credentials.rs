//! Loading credentials for a command: a named file, or Application Default Credentials.

use std::path::PathBuf;

use gauth::adc::{AdcEnv, AdcOptions, AdcOrigin};
use gauth::{
    AuthorizedUser, EndpointPolicy, MetadataCredentials, ServiceAccountCredentials,
    blocking::Credentials,
};

use crate::args::CredentialArgs;

/// Credentials as a command uses them.
pub struct Loaded {
    pub credentials: Credentials,
    /// Where they came from: the file, or the metadata server's address.
    #[allow(dead_code)] // for commands that name their source in messages
    pub path: PathBuf,
}

pub fn policy(args: &CredentialArgs) -> EndpointPolicy {
    args.allow_endpoint
        .iter()
        .fold(EndpointPolicy::default(), |p, h| p.allow_host(h.as_str()))
}

/// The scope a service account gets when none is asked for (as gcloud's
/// `auth print-access-token` does).
pub const DEFAULT_SA_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Loads `--credentials`, or Application Default Credentials.
#[allow(dead_code)]
pub fn load(args: &CredentialArgs, scopes: &[String]) -> Result<Loaded, String> {
    load_for(args, scopes, None, None)
}

/// Loads credentials for an access token, a domain-wide delegation (`subject`) or an ID
/// token (`audience`).
pub fn load_for(
    args: &CredentialArgs,
    scopes: &[String],
    subject: Option<&str>,
    audience: Option<&str>,
) -> Result<Loaded, String> {
    let path = match &args.credentials {
        Some(p) => p.clone(),
        None => match find_adc_file()? {
            Some(p) => p,
            None => return load_metadata(args, scopes, subject, audience),
        },
    };
    let value = gauth::json::read_file(&path).map_err(|e| e.to_string())?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_else(|| infer_type(&value));
    let origin = path.display().to_string();
    let needs_sa = |flag: &str| {
        format!("{flag} needs service-account credentials; {origin} holds {kind} credentials")
    };
    match kind {
        "authorized_user" => {
            if subject.is_some() {
                return Err(needs_sa("--subject"));
            }
            if audience.is_some() {
                return Err(needs_sa("--audience"));
            }
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
        "service_account" => {
            let sa = ServiceAccountCredentials::from_value_with(&value, &origin, &policy(args))
                .map_err(|e| e.to_string())?;
            let credentials = match (subject, audience) {
                (Some(_), Some(_)) => {
                    return Err(
                        "--subject and --audience cannot be combined: ID tokens are the service account's own"
                            .into(),
                    );
                }
                (_, Some(aud)) => Credentials::new(sa.id_token_credentials(aud)),
                (subject, None) => {
                    let mut sa = if scopes.is_empty() {
                        sa.with_scopes([DEFAULT_SA_SCOPE])
                    } else {
                        sa.with_scopes(scopes.iter().cloned())
                    };
                    if let Some(s) = subject {
                        sa = sa.with_subject(s);
                    }
                    Credentials::new(sa)
                }
            };
            Ok(Loaded { credentials, path })
        }
        "external_account"
        | "external_account_authorized_user"
        | "impersonated_service_account" => {
            crate::federation::load_keyless(args, &value, &origin, kind, scopes, subject, audience)
                .map(|credentials| Loaded { credentials, path })
        }
        "client_secrets" => Err(format!(
            "{origin}: this is a client-secrets file; sign in first with `gauth login --client-secrets {origin}`"
        )),
        other => Err(format!(
            "{origin}: unsupported credentials type `{other}`; supported: authorized_user, service_account, external_account, external_account_authorized_user, impersonated_service_account"
        )),
    }
}

/// The last step of Application Default Credentials: the metadata server.
fn load_metadata(
    args: &CredentialArgs,
    scopes: &[String],
    subject: Option<&str>,
    audience: Option<&str>,
) -> Result<Loaded, String> {
    let options = AdcOptions::new(scopes).endpoint_policy(policy(args));
    let found = gauth::adc::blocking::find(&options)
        .map_err(|e| format!("{e}; pass --credentials FILE"))?;
    let host = match &found.origin {
        AdcOrigin::MetadataServer(h) => h.clone(),
        _ => String::from("(unknown)"),
    };
    let path = PathBuf::from(format!("the metadata server at {host}"));
    if subject.is_some() {
        return Err(format!(
            "--subject needs a service-account key file; {} cannot delegate",
            path.display()
        ));
    }
    let credentials = match audience {
        None => found.credentials,
        Some(aud) => {
            let m = found
                .credentials
                .source::<MetadataCredentials>()
                .ok_or("the metadata server's credentials are not usable for ID tokens")?;
            Credentials::new(m.id_token_credentials(aud))
        }
    };
    Ok(Loaded { credentials, path })
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
/// well-known file (under `CLOUDSDK_CONFIG` when set); `None` when neither exists.
fn find_adc_file() -> Result<Option<PathBuf>, String> {
    let env = AdcEnv::from_process();
    if let Some(p) = env.credentials_file {
        if p.is_file() {
            return Ok(Some(p));
        }
        return Err(format!(
            "GOOGLE_APPLICATION_CREDENTIALS names {}, which is not a readable file",
            p.display()
        ));
    }
    Ok(env.gcloud_file().filter(|p| p.is_file()))
}
