//! `impersonated_service_account` files: source credentials (authorized user, service
//! account or workforce user) and the service account they act as, through IAM Credentials.

use std::path::Path;
use std::sync::Arc;

use oauth_core::json::{self, Fields};
use oauth_core::{AuthorizedUser, EndpointPolicy, Error, TokenSource};
use oauth_sa::{ImpersonatedCredentials, ServiceAccountCredentials};
use serde_json::Value;

use crate::ExternalAccountAuthorizedUser;
use crate::external_account::target_principal;

/// The scope google-auth gives a service-account source of impersonation.
pub const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";

/// Reads an `impersonated_service_account` file (what `gcloud auth application-default
/// login --impersonate-service-account` writes) into oauth-sa's
/// [`ImpersonatedCredentials`], as google-auth's
/// `from_impersonated_service_account_info` does: the target is the email in
/// `service_account_impersonation_url` (which must pass the [`EndpointPolicy`]), the
/// request body carries `delegates` exactly as the file gives them, and a service-account
/// source asks for the IAM scope. `scopes` (or else the file's own `scopes`) are the
/// target's.
///
/// ```
/// let v = serde_json::json!({
///   "type": "impersonated_service_account",
///   "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken",
///   "delegates": [],
///   "source_credentials": {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}
/// });
/// let creds = oauth_external::impersonated_from_value(&v, "imp.json", &Default::default(), &["https://www.googleapis.com/auth/cloud-platform"]).unwrap();
/// assert_eq!(creds.target_principal(), "target@p.iam.gserviceaccount.com");
/// ```
pub fn impersonated_from_value<S: AsRef<str>>(
    value: &Value,
    origin: &str,
    policy: &EndpointPolicy,
    scopes: &[S],
) -> Result<ImpersonatedCredentials, Error> {
    let f = Fields::new(value, origin, "")?;
    if let Some(t) = f.optional_str("type")?
        && t != "impersonated_service_account"
    {
        return Err(Error::UnknownType {
            origin: origin.to_owned(),
            found: t.to_owned(),
            supported: "impersonated_service_account".into(),
        });
    }
    let src_value = f
        .map()
        .get("source_credentials")
        .ok_or_else(|| f.missing("source_credentials"))?;
    let src = f.object("source_credentials")?;
    let src_origin = format!("{origin} (source_credentials)");
    let source: Arc<dyn TokenSource> = match src.optional_str("type")? {
        Some("authorized_user") => Arc::new(AuthorizedUser::from_value_with(
            src_value,
            &src_origin,
            policy,
        )?),
        Some("service_account") => Arc::new(
            ServiceAccountCredentials::from_value_with(src_value, &src_origin, policy)
                .map_err(|e| match e {
                    oauth_sa::Error::Core(e) => e,
                    other => src.invalid("private_key", &other.to_string()),
                })?
                .with_scopes([IAM_SCOPE]),
        ),
        Some("external_account_authorized_user") => Arc::new(
            ExternalAccountAuthorizedUser::from_value_with(src_value, &src_origin, policy)?,
        ),
        Some(other) => {
            return Err(src.invalid(
                "type",
                &format!(
                    "`{}` cannot be the source of impersonation; supported: authorized_user, service_account, external_account_authorized_user",
                    other.escape_debug()
                ),
            ));
        }
        None => return Err(src.missing("type")),
    };
    let url = f.required_str("service_account_impersonation_url")?;
    let target = target_principal(url).ok_or_else(|| {
        f.invalid(
            "service_account_impersonation_url",
            "does not end in `/serviceAccounts/EMAIL:generateAccessToken`",
        )
    })?;
    let url = policy.check(origin, "service_account_impersonation_url", url, None)?;
    let delegates = match f.map().get("delegates") {
        None | Some(Value::Null) => None,
        Some(_) => Some(f.string_list("delegates")?.unwrap_or_default()),
    };
    let scopes: Vec<String> = if scopes.is_empty() {
        f.string_list("scopes")?.unwrap_or_default()
    } else {
        scopes.iter().map(|s| s.as_ref().to_owned()).collect()
    };
    let mut creds = ImpersonatedCredentials::from_arc(source, target)
        .with_access_token_url(url)
        .with_delegates_as_given(delegates)
        .with_scopes(scopes);
    if let Some(q) = f.optional_str("quota_project_id")? {
        creds = creds.with_quota_project(q);
    }
    Ok(creds)
}

/// [`impersonated_from_value`] for a file.
pub fn impersonated_from_file<S: AsRef<str>>(
    path: impl AsRef<Path>,
    policy: &EndpointPolicy,
    scopes: &[S],
) -> Result<ImpersonatedCredentials, Error> {
    let path = path.as_ref();
    let v = json::read_file(path)?;
    impersonated_from_value(&v, &path.display().to_string(), policy, scopes)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn load(v: Value) -> Result<ImpersonatedCredentials, Error> {
        impersonated_from_value::<&str>(&v, "imp.json", &EndpointPolicy::default(), &[])
    }

    #[test]
    fn bad_files_name_the_field() {
        let url = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam.gserviceaccount.com:generateAccessToken";
        let e = load(json!({"service_account_impersonation_url": url})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "imp.json: missing field `source_credentials`"
        );
        let e = load(json!({"service_account_impersonation_url": url,
                            "source_credentials": {"type": "external_account"}}))
        .unwrap_err();
        assert!(e.to_string().contains("`source_credentials.type`"), "{e}");
        let e = load(json!({"service_account_impersonation_url": url,
                            "source_credentials": {"type": "authorized_user", "client_id": "c"}}))
        .unwrap_err();
        assert!(
            e.to_string().contains("imp.json (source_credentials)"),
            "{e}"
        );
        let user = json!({"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"});
        let e = load(json!({"service_account_impersonation_url": "https://evil.example/v1/projects/-/serviceAccounts/t@p:generateAccessToken",
                            "source_credentials": user.clone()}))
        .unwrap_err();
        assert!(e.to_string().contains("evil.example"), "{e}");
        let c = load(
            json!({"service_account_impersonation_url": url, "source_credentials": user,
                            "scopes": ["a"], "delegates": ["d@p.iam.gserviceaccount.com"],
                            "quota_project_id": "q"}),
        )
        .unwrap();
        assert_eq!(c.quota_project_id(), Some("q"));
    }
}
