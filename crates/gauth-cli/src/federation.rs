//! Keyless credential files, `--impersonate-service-account` and `--access-boundary`: the
//! credentials of `oauth-external` and oauth-sa's impersonation, wrapped around whatever
//! source a command loaded.

use std::path::Path;
use std::sync::Arc;

use gauth::TokenSource;
use gauth::blocking::Credentials;
use gauth::external::{CredentialAccessBoundary, DownscopedCredentials};
use gauth::sa::ImpersonatedCredentials;
use serde_json::Value;

use crate::args::CredentialArgs;
use crate::credentials::{DEFAULT_SA_SCOPE, Loaded, policy};

/// Loads an `external_account`, `external_account_authorized_user` or
/// `impersonated_service_account` file (`kind`) for `token`, `header` or `call`.
pub fn load_keyless(
    args: &CredentialArgs,
    value: &Value,
    origin: &str,
    kind: &str,
    scopes: &[String],
    subject: Option<&str>,
    audience: Option<&str>,
) -> Result<Credentials, String> {
    if subject.is_some() {
        return Err(format!(
            "--subject needs service-account credentials; {origin} holds {kind} credentials"
        ));
    }
    // Like service accounts, federated workloads get cloud-platform when no scope is asked.
    let default = [DEFAULT_SA_SCOPE.to_owned()];
    let scopes: &[String] = match (kind, scopes.is_empty()) {
        ("external_account", true) => &default,
        ("impersonated_service_account", true)
            if value.get("scopes").is_none_or(Value::is_null) =>
        {
            &default
        }
        _ => scopes,
    };
    let policy = policy(args);
    if let Some(aud) = audience {
        if kind != "impersonated_service_account" {
            return Err(format!(
                "--audience needs service-account credentials; {origin} holds {kind} credentials"
            ));
        }
        let imp = gauth::external::impersonated_from_value(value, origin, &policy, scopes)
            .map_err(|e| e.to_string())?;
        return Ok(Credentials::new(imp.id_token_credentials(aud, false)));
    }
    let source =
        gauth::external::load(value, origin, &policy, scopes).map_err(|e| e.to_string())?;
    Ok(Credentials::builder_from_arc(source).build())
}

/// `--impersonate-service-account EMAIL[,DELEGATE...]` over `source`: the target's token
/// (or, with `audience`, its ID token) from IAM Credentials, through the delegates in order.
pub fn impersonate(
    source: Loaded,
    spec: &str,
    scopes: &[String],
    audience: Option<&str>,
    iam_url: Option<&str>,
    args: &CredentialArgs,
) -> Result<Loaded, String> {
    let mut names = spec.split(',').map(str::trim);
    let target = names
        .next()
        .filter(|t| !t.is_empty())
        .ok_or("--impersonate-service-account: expected EMAIL[,DELEGATE...]")?;
    let delegates: Vec<&str> = names.collect();
    if delegates.iter().any(|d| d.is_empty()) {
        return Err(format!(
            "--impersonate-service-account {spec}: an empty delegate in the list"
        ));
    }
    let scopes: Vec<String> = if scopes.is_empty() {
        vec![DEFAULT_SA_SCOPE.to_owned()]
    } else {
        scopes.to_vec()
    };
    let source_arc: Arc<dyn TokenSource> = Arc::clone(source.credentials.source_arc());
    let mut imp = ImpersonatedCredentials::from_arc(source_arc, target)
        .with_delegates(delegates)
        .with_scopes(scopes.clone());
    if let Some(url) = iam_url {
        // The source's token goes there: Google's hosts and loopback unless allowed.
        let mut url = policy(args)
            .check("the command line", "--iam-url", url, None)
            .map_err(|e| e.to_string())?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        imp = imp.with_endpoint(url);
    }
    let (credentials, scopes) = match audience {
        Some(aud) => (
            Credentials::new(imp.id_token_credentials(aud, false)),
            Vec::new(),
        ),
        None => (Credentials::new(imp), scopes),
    };
    Ok(source.with_credentials(credentials, scopes))
}

/// `--access-boundary FILE [--sts-url URL]` over `source`.
pub fn downscope(
    source: Loaded,
    file: &Path,
    sts_url: Option<&str>,
    args: &CredentialArgs,
) -> Result<Loaded, String> {
    let boundary = CredentialAccessBoundary::from_file(file).map_err(|e| e.to_string())?;
    let mut creds =
        DownscopedCredentials::from_arc(Arc::clone(source.credentials.source_arc()), boundary);
    if let Some(url) = sts_url {
        // The source's token goes there: Google's hosts and loopback unless allowed.
        let url = policy(args)
            .check("the command line", "--sts-url", url, None)
            .map_err(|e| e.to_string())?;
        creds = creds.with_sts_url(url);
    }
    let scopes = source.scopes.clone();
    Ok(source.with_credentials(Credentials::new(creds), scopes))
}

/// `gauth revoke` for an `external_account_authorized_user` file that names its
/// `revoke_url`: the refresh token, revoked there with the client's Basic authentication (as
/// google-auth's `revoke`). `None` for other credentials.
pub fn revoke_workforce_user(loaded: &Loaded) -> Option<Result<(), String>> {
    let user = loaded
        .credentials
        .source::<gauth::ExternalAccountAuthorizedUser>()?;
    user.revoke_url()?;
    let result = user.revoke_call().and_then(|call| {
        gauth::blocking::run(
            loaded.credentials.http_client().as_ref(),
            &mut gauth::Retrying::new(call, gauth::RetryPolicy::default()),
        )
        .map(|_| ())
    });
    Some(result.map_err(|e| e.to_string()))
}
