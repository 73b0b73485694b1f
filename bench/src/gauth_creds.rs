//! gauth's two flavours, built the way its documentation shows, each with a fresh client.

use std::path::Path;
use std::sync::Arc;

use oauth_core::transport::{ReqwestClient, UreqClient};
use oauth_sa::ServiceAccountCredentials;

use crate::fixtures::SCOPE;

/// The service account from the key file, with the scope.
pub fn service_account(key_file: &Path) -> Result<ServiceAccountCredentials, String> {
    ServiceAccountCredentials::from_file(key_file)
        .map(|sa| sa.with_scopes([SCOPE]))
        .map_err(|e| format!("gauth key: {e}"))
}

/// The blocking handle (ureq).
pub fn blocking(key_file: &Path) -> Result<oauth_core::blocking::Credentials, String> {
    Ok(
        oauth_core::blocking::Credentials::builder(service_account(key_file)?)
            .http_client(Arc::new(UreqClient::new()))
            .build(),
    )
}

/// The async handle (reqwest).
pub fn asynchronous(key_file: &Path) -> Result<oauth_core::Credentials, String> {
    Ok(oauth_core::Credentials::builder(service_account(key_file)?)
        .http_client(Arc::new(ReqwestClient::new()))
        .build())
}

pub const BLOCKING: &str = "gauth (blocking)";
pub const ASYNC: &str = "gauth (async)";
