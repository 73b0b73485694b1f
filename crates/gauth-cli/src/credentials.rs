//! Loading credentials for a command: a named file, or the search `shared/cli.md` defines
//! (`GOOGLE_APPLICATION_CREDENTIALS`, gauth's credential store, gcloud's file, the metadata
//! server), which is the library's `AdcOrder::WithGauthStore`.

use std::path::{Path, PathBuf};

use gauth::adc::{AdcEnv, AdcOptions, AdcOrder, AdcOrigin};
use gauth::{
    AuthorizedUser, EndpointPolicy, FileStore, MetadataCredentials, ServiceAccountCredentials,
    blocking::Credentials,
};
use serde_json::Value;
use url::Url;

use crate::args::CredentialArgs;

/// Credentials as a command uses them.
pub struct Loaded {
    pub credentials: Credentials,
    /// Where they came from.
    pub source: Source,
    /// The scopes they ask for (or the file records), for `token --json`.
    pub scopes: Vec<String>,
    /// The credentials file's JSON, for the endpoints it names (`revoke_uri`, ...).
    file: Option<Value>,
}

/// Where credentials were found, as `token --json` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `credentials_flag`, `google_application_credentials`, `gauth_store`, `gcloud_adc`
    /// or `metadata_server`.
    pub name: &'static str,
    /// The file, or the metadata server's host.
    pub location: String,
}

impl Source {
    fn file(name: &'static str, path: &Path) -> Self {
        Source {
            name,
            location: path.display().to_string(),
        }
    }

    fn of(origin: &AdcOrigin) -> Self {
        match origin {
            AdcOrigin::EnvironmentFile(p) => Source::file("google_application_credentials", p),
            AdcOrigin::GauthStore(p) => Source::file("gauth_store", p),
            AdcOrigin::GcloudFile(p) => Source::file("gcloud_adc", p),
            AdcOrigin::MetadataServer(h) => Source {
                name: "metadata_server",
                location: h.clone(),
            },
            other => Source {
                name: "adc",
                location: format!("{other:?}"),
            },
        }
    }

    pub fn is_metadata_server(&self) -> bool {
        self.name == "metadata_server"
    }
}

impl Loaded {
    /// The same origin, acting through other credentials (impersonation, downscoping).
    pub fn with_credentials(self, credentials: Credentials, scopes: Vec<String>) -> Loaded {
        Loaded {
            credentials,
            scopes,
            ..self
        }
    }

    /// An endpoint the credentials file names (`revoke_uri`, `token_info_uri`), checked
    /// against the endpoint policy; `None` when the file names none (or there is no file).
    pub fn file_endpoint(&self, field: &str, args: &CredentialArgs) -> Result<Option<Url>, String> {
        match &self.file {
            Some(v) => endpoint_in(v, &self.source.location, field, &policy(args)),
            None => Ok(None),
        }
    }
}

pub fn policy(args: &CredentialArgs) -> EndpointPolicy {
    args.allow_endpoint
        .iter()
        .fold(EndpointPolicy::default(), |p, h| p.allow_host(h.as_str()))
}

/// `field` of the JSON object `value` (from `origin`), an endpoint URL checked against
/// `policy` (with the object's own `universe_domain`); `None` when absent.
pub fn endpoint_in(
    value: &Value,
    origin: &str,
    field: &str,
    policy: &EndpointPolicy,
) -> Result<Option<Url>, String> {
    let Some(raw) = value.get(field) else {
        return Ok(None);
    };
    let text = raw
        .as_str()
        .ok_or_else(|| format!("{origin}: field `{field}` is not a string"))?;
    let universe = value.get("universe_domain").and_then(Value::as_str);
    policy
        .check(origin, field, text, universe)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The scope a service account gets when none is asked for (as gcloud's
/// `auth print-access-token` does).
pub const DEFAULT_SA_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Loads `--credentials`, or searches.
pub fn load(args: &CredentialArgs, scopes: &[String]) -> Result<Loaded, String> {
    load_for(args, scopes, None, None)
}

/// The credentials for `gauth call`, scoped as googleapiclient's `build()` scopes them:
/// `--scope` when given, else every scope of the API's discovery document, applied only to
/// credentials that need scopes (service accounts, external accounts, impersonated service
/// accounts); a user's grant and the metadata server's account keep their own scopes.
pub fn load_for_call(
    args: &CredentialArgs,
    asked: &[String],
    api_scopes: &[String],
) -> Result<Loaded, String> {
    load_scoped(args, asked, api_scopes, None, None)
}

/// The search's options: the gauth command line's order, the process environment.
fn adc_options(args: &CredentialArgs, scopes: &[String]) -> (AdcOptions, AdcEnv) {
    let env = AdcEnv::from_process();
    let options = AdcOptions::new(scopes)
        .order(AdcOrder::WithGauthStore)
        .endpoint_policy(policy(args))
        .env(env.clone());
    (options, env)
}

/// The credentials file a command would use: `--credentials`, else the first file the
/// search finds (no metadata server). For endpoints when a command is given `--token`.
pub fn located_file(args: &CredentialArgs) -> Result<Option<(Source, PathBuf)>, String> {
    if let Some(p) = &args.credentials {
        return Ok(Some((Source::file("credentials_flag", p), p.clone())));
    }
    let (options, env) = adc_options(args, &[]);
    match gauth::adc::locate_file(&options, &env).map_err(|e| e.to_string())? {
        Ok(origin) => Ok(origin
            .path()
            .map(|p| (Source::of(&origin), p.to_path_buf()))),
        Err(_) => Ok(None),
    }
}

/// An endpoint named by the credentials file a command would use, when there is one that
/// can be read; for `info --token` and `revoke --token`.
pub fn located_endpoint(args: &CredentialArgs, field: &str) -> Result<Option<Url>, String> {
    // A search that fails here is not this command's business: Google's endpoint then.
    let Ok(Some((source, path))) = located_file(args) else {
        return Ok(None);
    };
    match gauth::read_json_file(&path) {
        Ok(v) => endpoint_in(&v, &source.location, field, &policy(args)),
        Err(_) => Ok(None),
    }
}

/// Loads credentials for an access token, a domain-wide delegation (`subject`) or an ID
/// token (`audience`).
pub fn load_for(
    args: &CredentialArgs,
    scopes: &[String],
    subject: Option<&str>,
    audience: Option<&str>,
) -> Result<Loaded, String> {
    load_scoped(args, scopes, &[], subject, audience)
}

/// [`load_for`], with `defaults`: the scopes for credentials that need scopes when none
/// were asked for (one read of the file decides both).
fn load_scoped(
    args: &CredentialArgs,
    scopes: &[String],
    defaults: &[String],
    subject: Option<&str>,
    audience: Option<&str>,
) -> Result<Loaded, String> {
    let (source, path) = match located_file(args)? {
        Some(found) => found,
        None => return load_metadata(args, scopes, subject, audience),
    };
    let value = gauth::read_json_file(&path).map_err(|e| e.to_string())?;
    let kind = value
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_else(|| infer_type(&value));
    let origin = source.location.clone();
    let needs_sa = |flag: &str| {
        format!("{flag} needs service-account credentials; {origin} holds {kind} credentials")
    };
    let (credentials, scopes) = match kind {
        "authorized_user" => {
            if subject.is_some() {
                return Err(needs_sa("--subject"));
            }
            if audience.is_some() {
                return Err(needs_sa("--audience"));
            }
            let mut user = AuthorizedUser::from_value_with(&value, &origin, &policy(args))
                .map_err(|e| e.to_string())?;
            if !scopes.is_empty() {
                user = user.with_requested_scopes(scopes.iter().cloned());
            }
            let recorded = user
                .scopes()
                .map(|l| l.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default();
            // Every refresh, and every rotated refresh token, goes back to the file.
            let credentials = Credentials::builder(user)
                .store(FileStore::new(&path))
                .build();
            (credentials, recorded)
        }
        "service_account" => {
            let scopes = if scopes.is_empty() { defaults } else { scopes };
            let sa = ServiceAccountCredentials::from_value_with(&value, &origin, &policy(args))
                .map_err(|e| e.to_string())?;
            match (subject, audience) {
                (Some(_), Some(_)) => {
                    return Err(
                        "--subject and --audience cannot be combined: ID tokens are the service account's own"
                            .into(),
                    );
                }
                (_, Some(aud)) => (Credentials::new(sa.id_token_credentials(aud)), Vec::new()),
                (subject, None) => {
                    let asked: Vec<String> = if scopes.is_empty() {
                        vec![DEFAULT_SA_SCOPE.to_owned()]
                    } else {
                        scopes.to_vec()
                    };
                    let mut sa = sa.with_scopes(asked.iter().cloned());
                    if let Some(s) = subject {
                        sa = sa.with_subject(s);
                    }
                    (Credentials::new(sa), asked)
                }
            }
        }
        "external_account"
        | "external_account_authorized_user"
        | "impersonated_service_account" => {
            let scopes = if scopes.is_empty() && kind != "external_account_authorized_user" {
                defaults
            } else {
                scopes
            };
            let credentials = crate::federation::load_keyless(
                args, &value, &origin, kind, scopes, subject, audience,
            )?;
            (credentials, scopes.to_vec())
        }
        "client_secrets" => {
            return Err(format!(
                "{origin}: this is a client-secrets file: run `gauth login --client-secrets {origin}`"
            ));
        }
        other => {
            return Err(format!(
                "{origin}: unsupported credentials type `{other}`; supported: authorized_user, service_account, external_account, external_account_authorized_user, impersonated_service_account"
            ));
        }
    };
    Ok(Loaded {
        credentials,
        source,
        scopes,
        file: Some(value),
    })
}

/// The last step of the search: the metadata server.
fn load_metadata(
    args: &CredentialArgs,
    scopes: &[String],
    subject: Option<&str>,
    audience: Option<&str>,
) -> Result<Loaded, String> {
    let (options, _) = adc_options(args, scopes);
    let found = gauth::blocking::adc::find(&options).map_err(|e| {
        format!("{e}; sign in with `gauth login --client-secrets FILE`, or pass --credentials FILE")
    })?;
    let source = Source::of(&found.origin);
    if subject.is_some() {
        return Err(format!(
            "--subject needs a service-account key file; the metadata server at {} cannot delegate",
            source.location
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
    Ok(Loaded {
        credentials,
        source,
        scopes: scopes.to_vec(),
        file: None,
    })
}

/// The scopes of the metadata server's default service account (what it grants when none
/// are asked for), as google-auth reads them.
pub fn metadata_scopes(host: &str) -> Result<Vec<String>, String> {
    use gauth::transport::{HttpClient, UreqClient};
    let url: Url =
        format!("http://{host}/computeMetadata/v1/instance/service-accounts/default/scopes")
            .parse()
            .map_err(|e| format!("the metadata server's address {host}: {e}"))?;
    let mut request = gauth::http::get(&url);
    let flavor = "Google"
        .parse()
        .map_err(|_| "the Metadata-Flavor header".to_owned())?;
    request.headers_mut().insert("metadata-flavor", flavor);
    let answer = UreqClient::shared()
        .execute(request)
        .map_err(|e| format!("the metadata server's scopes: {e}"))?;
    if !answer.status().is_success() {
        return Err(format!(
            "the metadata server's scopes: it answered {}",
            answer.status()
        ));
    }
    Ok(String::from_utf8_lossy(answer.body())
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Files without a `type` field: google-auth's `Credentials.to_json()` writes none, and
/// client-secrets files have a top-level `installed` or `web` key instead.
fn infer_type(value: &Value) -> &'static str {
    if value.get("installed").is_some() || value.get("web").is_some() {
        "client_secrets"
    } else if value.get("refresh_token").is_some() {
        "authorized_user"
    } else {
        "(none)"
    }
}
