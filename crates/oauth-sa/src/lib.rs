//! # oauth-sa
//!
//! Service accounts for gauth, as google-auth's `service_account`, `jwt`, `id_token` and
//! `impersonated_credentials` modules provide them for Python:
//!
//! - [`ServiceAccountKey`]: the key file, validated, its RSA key parsed once.
//! - [`ServiceAccountCredentials`]: access tokens by the JWT-bearer grant (RFC 7523), or
//!   self-signed JWTs with no round trip; scopes, subject (domain-wide delegation), extra
//!   claims, quota project.
//! - [`IdTokenCredentials`]: ID tokens for a target audience.
//! - `IdTokenVerifier`: ID token verification against JWKS or PEM certificates, async at
//!   the root and the same name under [`blocking`] (one type, [`verify::IdTokenVerifier`],
//!   generic over the flavour).
//! - [`ImpersonatedCredentials`]: tokens for another service account through the IAM
//!   Credentials API.
//! - [`MetadataCredentials`]: the metadata server of GCE, Cloud Run and GKE.
//!
//! Every credential is a [`oauth_core::TokenSource`]: put it behind
//! `oauth_core::blocking::Credentials` or the async `oauth_core::Credentials` for the
//! shared cache and single-flight refresh. Network steps are sans-IO exchanges, so both
//! flavours run the same protocol code.
//!
//! ```no_run
//! use oauth_core::blocking::Credentials;
//! use oauth_sa::ServiceAccountCredentials;
//! let creds = Credentials::new(
//!     ServiceAccountCredentials::from_file("key.json")?
//!         .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]),
//! );
//! let token = creds.token()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! JWTs are made and checked by the `jsonwebtoken` crate, whose cryptography here is ring's
//! ([`jwt::RING_PROVIDER`], installed when the program installed none). Features `blocking` and
//! `async` (both default) add the verifier's blocking and async flavours.

mod crypto;
mod der;
mod error;
mod id_token;
mod impersonated;
pub mod jwt;
mod key;
mod metadata;
mod service_account;
#[cfg(test)]
mod testutil;
pub mod verify;

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "async")]
pub use asynchronous::IdTokenVerifier;
pub use error::{Error, IdTokenError};
pub use id_token::{IdTokenCall, IdTokenCredentials};
pub use impersonated::{IAM_CREDENTIALS_ENDPOINT, ImpersonatedCredentials};
pub use key::{GOOGLE_TOKEN_URI, ServiceAccountKey, Signer};
pub use metadata::{
    METADATA_FLAVOR, METADATA_HOST, METADATA_IP, MetadataCall, MetadataCredentials,
};
pub use service_account::{DEFAULT_LIFETIME, JWT_BEARER_GRANT, ServiceAccountCredentials};
pub use verify::{
    Certs, CertsCall, DEFAULT_CLOCK_SKEW, EARLY_REFETCH_INTERVAL, FetchedCerts, GOOGLE_ISSUERS,
    GOOGLE_OAUTH2_CERTS_URL, GOOGLE_OAUTH2_JWKS_URL, MAX_CERTS_BYTES,
};
