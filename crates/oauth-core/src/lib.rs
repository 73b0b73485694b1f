//! # oauth-core
//!
//! The stable centre of gauth: secrets that do not print, tokens, client-secrets and
//! authorized-user files, the OAuth 2.0 token endpoint protocol, retries, the token cache
//! with single-flight refresh, and the two transports.
//!
//! Protocol code here is *sans-IO*: it builds [`http::HttpRequest`] values and reads
//! [`http::HttpResponse`] values, composed as [`exchange::Exchange`] state machines. Two
//! small drivers move the bytes: [`blocking::run`] over ureq and [`run_async`] over
//! reqwest. Every credential type implements [`TokenSource`]; the handles
//! [`blocking::Credentials`] and [`Credentials`] (async) put any source behind one cache.
//!
//! ```no_run
//! use oauth_core::{AuthorizedUser, blocking::Credentials};
//! // google-auth's Credentials.to_json() output, or gcloud's ADC file.
//! let user = AuthorizedUser::from_file("authorized_user.json")?
//!     .write_back_to("authorized_user.json");
//! let creds = Credentials::new(user);
//! let mut request = oauth_core::http::get(&"https://www.googleapis.com/oauth2/v2/userinfo".parse().unwrap());
//! creds.apply(&mut request)?;   // Authorization: Bearer ..., refreshed when needed
//! # Ok::<(), oauth_core::Error>(())
//! ```
//!
//! Features: `blocking` (ureq) and `async` (reqwest, tokio), both on by default; turn one
//! off and its client is not compiled.

pub mod authorized_user;
pub mod cache;
pub mod client_secrets;
pub mod clock;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod exchange;
pub mod fsutil;
pub mod http;
pub mod json;
pub mod retry;
pub mod sanitize;
pub mod secret;
pub mod source;
pub mod token;
pub mod transport;

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "async")]
pub use asynchronous::{Credentials, CredentialsBuilder, run_async};
pub use authorized_user::AuthorizedUser;
pub use cache::{DEFAULT_REFRESH_MARGIN, TokenCache};
pub use client_secrets::{ClientSecrets, ClientType};
pub use clock::{Clock, ManualClock, SystemClock};
pub use credentials::{CredentialsOptions, apply_token};
pub use endpoint::EndpointPolicy;
pub use error::{Error, OAuthError, TransportError, TransportErrorKind};
pub use retry::{RetryPolicy, Retrying};
pub use secret::Secret;
pub use source::{Refresh, RefreshContext, TokenSource};
pub use token::{Token, TokenCall, TokenResponse};
