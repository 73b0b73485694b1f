//! # gauth
//!
//! Google OAuth 2.0 for Rust: what google-auth, google-auth-oauthlib and
//! google-api-python-client give Python programs. This facade re-exports the workspace's
//! crates behind features, so a program depends on one crate and compiles only what it
//! uses.
//!
//! ```no_run
//! use gauth::{AuthorizedUser, blocking::Credentials};
//! let creds = Credentials::new(AuthorizedUser::from_file("authorized_user.json")?);
//! println!("{}", creds.token()?.expose().len());
//! # Ok::<(), gauth::Error>(())
//! ```
//!
//! Features: `blocking` (ureq) and `async` (reqwest), `service-account` (service accounts,
//! ID tokens, impersonation, the metadata server) and `adc` (Application Default
//! Credentials), all on by default.

pub use oauth_core::*;

/// Service accounts, ID tokens and their verification, impersonation, the metadata server
/// (the `oauth-sa` crate).
#[cfg(feature = "service-account")]
pub use oauth_sa as sa;
#[cfg(feature = "service-account")]
pub use oauth_sa::{
    IdTokenCredentials, IdTokenVerifier, ImpersonatedCredentials, MetadataCredentials,
    ServiceAccountCredentials, ServiceAccountKey,
};

#[cfg(feature = "adc")]
pub mod adc;
