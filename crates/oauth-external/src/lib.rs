//! # oauth-external
//!
//! Credentials from everywhere, as google-auth reads them: the credential files that hold
//! no private key.
//!
//! - [`ExternalAccountCredentials`]: `external_account` files, workload and workforce
//!   identity federation. A subject token from a file, a URL, an executable or AWS (a
//!   SigV4-signed `GetCallerIdentity` request) is exchanged at STS (RFC 8693) for a Google
//!   token, optionally for a service account's (IAM Credentials).
//! - [`ExternalAccountAuthorizedUser`]: `external_account_authorized_user` files, a
//!   workforce user's refresh token.
//! - [`impersonated_from_file`]: `impersonated_service_account` files, into oauth-sa's
//!   `ImpersonatedCredentials`.
//! - [`DownscopedCredentials`]: any credential's token limited by a
//!   [`CredentialAccessBoundary`].
//! - [`load`]: any of the three file types, by its `type`.
//!
//! Each is an [`oauth_core::TokenSource`] whose refresh is one sans-IO exchange, so the
//! blocking (`oauth_core::blocking::Credentials`) and async (`oauth_core::Credentials`)
//! handles run the same protocol. Files and executables are read off the async executor
//! (`does_blocking_io`); executables run only when
//! `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`, with a bounded wait.
//!
//! Trust: endpoints that receive a Google credential (`token_url`,
//! `service_account_impersonation_url`, `token_info_url`, `revoke_url`, the source of an
//! impersonation's `token_uri`) must pass the caller's [`oauth_core::EndpointPolicy`]
//! (Google's hosts or loopback unless allowed). Subject-token sources receive nothing but
//! the file's own headers; AWS metadata is read only from its documented addresses
//! (169.254.169.254, fd00:ec2::254), loopback or an allowed host. The transports follow no
//! redirects.
//!
//! ```no_run
//! use oauth_core::blocking::Credentials;
//! use oauth_external::ExternalAccountCredentials;
//! let creds = Credentials::new(
//!     ExternalAccountCredentials::from_file("workload-identity.json")?
//!         .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]),
//! );
//! let token = creds.token()?;
//! # Ok::<(), oauth_core::Error>(())
//! ```

mod authorized_user;
mod downscoped;
mod env;
mod external_account;
mod impersonated;
mod pyjson;
mod sigv4;
mod steps;
pub mod sts;
mod subject;

use std::path::Path;
use std::sync::Arc;

use oauth_core::{EndpointPolicy, Error, TokenSource};
use serde_json::Value;

pub use authorized_user::ExternalAccountAuthorizedUser;
pub use downscoped::{
    AccessBoundaryRule, AvailabilityCondition, CredentialAccessBoundary, DownscopedCredentials,
    MAX_ACCESS_BOUNDARY_RULES,
};
pub use env::Environment;
pub use external_account::{ExternalAccountCredentials, SUBJECT_TOKEN_TYPES};
pub use impersonated::{IAM_SCOPE, impersonated_from_file, impersonated_from_value};
pub use subject::AWS_TOKEN_TYPE;

/// The credential file types this crate reads.
pub const FILE_TYPES: [&str; 3] = [
    "external_account",
    "external_account_authorized_user",
    "impersonated_service_account",
];

/// The variable that must be `1` for an executable credential source to run.
pub const ALLOW_EXECUTABLES: &str = subject::ALLOW_EXECUTABLES;

/// Loads a credentials value of one of [`FILE_TYPES`] (told apart by `type`), with the
/// scopes a program asks for (none: the file's, or none at all). `origin` names the file in
/// errors.
///
/// ```
/// let v = serde_json::json!({"type": "external_account_authorized_user", "refresh_token": "r",
///     "client_id": "c", "client_secret": "s", "token_url": "https://sts.googleapis.com/v1/oauthtoken"});
/// let source = oauth_external::load(&v, "u.json", &Default::default(), &[] as &[&str]).unwrap();
/// assert_eq!(source.kind(), "external_account_authorized_user");
/// let e = oauth_external::load(&serde_json::json!({"type": "x"}), "u.json", &Default::default(), &[] as &[&str]).unwrap_err();
/// assert!(e.to_string().contains("unsupported credentials type `x`"));
/// ```
pub fn load<S: AsRef<str>>(
    value: &Value,
    origin: &str,
    policy: &EndpointPolicy,
    scopes: &[S],
) -> Result<Arc<dyn TokenSource>, Error> {
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_owned()).collect();
    match value.get("type").and_then(Value::as_str).unwrap_or("") {
        "external_account" => {
            let mut c = ExternalAccountCredentials::from_value_with(value, origin, policy)?;
            if !scopes.is_empty() {
                c = c.with_scopes(scopes);
            }
            Ok(Arc::new(c))
        }
        "external_account_authorized_user" => Ok(Arc::new(
            ExternalAccountAuthorizedUser::from_value_with(value, origin, policy)?,
        )),
        "impersonated_service_account" => Ok(Arc::new(impersonated_from_value(
            value, origin, policy, &scopes,
        )?)),
        other => Err(Error::UnknownType {
            origin: origin.to_owned(),
            found: if other.is_empty() { "(none)" } else { other }.to_owned(),
            supported: FILE_TYPES.join(", "),
        }),
    }
}

/// [`load`] for a file.
pub fn load_file<S: AsRef<str>>(
    path: impl AsRef<Path>,
    policy: &EndpointPolicy,
    scopes: &[S],
) -> Result<Arc<dyn TokenSource>, Error> {
    let path = path.as_ref();
    let v = oauth_core::json::read_file(path)?;
    load(&v, &path.display().to_string(), policy, scopes)
}
