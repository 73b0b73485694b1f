//! # oauth-core
//!
//! The stable centre of gauth: secrets that do not print, the OAuth concepts as types,
//! tokens, client-secrets and authorized-user files, the OAuth 2.0 token endpoint protocol,
//! the one retry decision, the token cache with single-flight refresh, token stores, and the
//! two transports.
//!
//! Protocol code here is *sans-IO*: it builds [`http::HttpRequest`] values and reads
//! [`http::HttpResponse`] values, composed as [`exchange::Exchange`] state machines. One
//! small runner per flavour moves the bytes: [`run`] (async, reqwest) and
//! [`blocking::run`] (ureq); `run_authorized` adds credentials to the requests of an API
//! call. Every credential type implements [`TokenSource`]; the handle
//! [`handle::Credentials`], named [`Credentials`] (async) and [`blocking::Credentials`], puts
//! any source behind one cache.
//!
//! ```no_run
//! use oauth_core::{AuthorizedUser, blocking::Credentials};
//! // google-auth's Credentials.to_json() output, or gcloud's ADC file.
//! let user = AuthorizedUser::from_file("authorized_user.json")?;
//! // Every refresh (and every rotated refresh token) is written back to the file.
//! let creds = Credentials::builder(user)
//!     .store(oauth_core::FileStore::new("authorized_user.json"))
//!     .build();
//! let mut request = oauth_core::http::get(&"https://www.googleapis.com/oauth2/v2/userinfo".parse().unwrap());
//! creds.apply(&mut request)?;   // Authorization: Bearer ..., refreshed when needed
//! # Ok::<(), oauth_core::Error>(())
//! ```
//!
//! Features: `blocking` (ureq) and `async` (reqwest, tokio), both on by default; turn one
//! off and its client is not compiled.
// Without a flavour (neither `blocking` nor `async`) only the sans-IO half is built: the
// flavour-free helpers that only the runners call are unused there, by design.
#![cfg_attr(
    not(any(feature = "blocking", feature = "async")),
    allow(dead_code, unused_imports)
)]

pub mod authorized_user;
mod cache;
pub mod client_secrets;
pub mod clock;
pub mod endpoint;
pub mod error;
pub mod exchange;
pub mod flavour;
#[doc(hidden)]
pub mod fsutil;
pub mod handle;
pub mod http;
#[doc(hidden)]
pub mod json;
pub mod origin;
pub mod retry;
pub mod sanitize;
pub mod secret;
pub mod source;
pub mod store;
pub mod token;
pub mod transport;
pub mod types;

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "async")]
pub use asynchronous::{Credentials, CredentialsBuilder, run, run_authorized};
pub use authorized_user::AuthorizedUser;
pub use cache::DEFAULT_REFRESH_MARGIN;
pub use client_secrets::{ClientSecrets, ClientType};
pub use clock::{Clock, ManualClock, SystemClock};
pub use endpoint::EndpointPolicy;
pub use error::{Error, ErrorKind, OAuthError, TransportError, TransportErrorKind};
pub use handle::{CredentialsOptions, apply_token};
pub use retry::{RetryOn, RetryPolicy, Retrying};
pub use secret::Secret;
pub use source::{Refresh, RefreshContext, TokenSource};
#[cfg(feature = "async")]
pub use store::TokenStore;
pub use store::{FileStore, MemoryStore, StoredToken, TokenKey};
pub use token::{Token, TokenCall, TokenResponse};
