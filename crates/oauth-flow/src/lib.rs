//! # oauth-flow
//!
//! How a user signs in and grants a program access to their Google data: what Python's
//! google-auth-oauthlib gives, for Rust, in a blocking and an async flavour.
//!
//! - [`Flow`]: the authorization code grant with PKCE (S256, on by default), a random
//!   256-bit `state` checked on return, `access_type=offline`, serializable between the
//!   redirect and the callback of a web application. It does no I/O.
//! - `InstalledAppFlow` ([`blocking::InstalledAppFlow`], async [`InstalledAppFlow`]): the
//!   flow of a desktop or command-line program. `run_local_server` listens on loopback,
//!   opens the browser, accepts the one redirect with the right state (junk, probes and
//!   forged redirects get a 4xx and do not end the wait), and exchanges the code;
//!   `run_console` is the manual mode for SSH sessions.
//! - The device authorization grant (RFC 8628): [`blocking::DeviceFlow`], async
//!   [`DeviceFlow`], over the sans-IO [`DeviceAuthorization`].
//! - [`CredentialStore`], where a sign-in keeps the user, with oauth-core's [`FileStore`]
//!   ([`default_store`]): google-auth's file format, atomic writes (0600), and refreshes
//!   that processes sharing the file make once between them.
//! - Revocation ([`RevokeCall`]) and tokeninfo ([`TokenInfoCall`]).
//!
//! Every protocol step is a sans-IO value from `oauth-core` ([`oauth_core::exchange`]);
//! the loopback server's request handling ([`server::RedirectHandler`]) is too, so both
//! flavours share every decision and differ only in how bytes move.
//!
//! ```no_run
//! use oauth_flow::{CredentialStore, LocalServerOptions, blocking::InstalledAppFlow};
//! use oauth_core::blocking::Credentials;
//!
//! let store = oauth_flow::default_store()?;
//! let user = match store.load(&Default::default())? {
//!     Some(user) => user,
//!     None => {
//!         let mut flow = InstalledAppFlow::from_client_secrets_file(
//!             "client_secrets.json",
//!             ["openid", "https://www.googleapis.com/auth/calendar.readonly"],
//!         )?;
//!         let user = flow.run_local_server(LocalServerOptions::default())?;
//!         store.save(&user)?;
//!         user
//!     }
//! };
//! // Refreshes (and rotated refresh tokens) are written back to the store's file.
//! let creds = Credentials::builder(user).store(store).build();
//! let token = creds.token()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Features: `blocking` (ureq, std threads; no tokio) and `async` (reqwest, tokio), both
//! on by default.

#![cfg_attr(not(any(feature = "blocking", feature = "async")), allow(dead_code))]

pub mod device;
mod error;
pub mod flow;
#[cfg(any(feature = "blocking", feature = "async"))]
pub mod handle;
mod installed;
pub mod pkce;
pub mod revoke;
pub mod server;
pub mod store;

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub mod blocking;

#[cfg(feature = "async")]
pub use asynchronous::{
    DeviceFlow, InstalledAppFlow, revoke, revoke_with, tokeninfo, tokeninfo_with,
};
pub use device::{DeviceAuthorization, DeviceCode, device_error};
pub use error::{AuthorizationError, FlowError};

/// The crate's one error type, by the name the other gauth crates use (`oauth_sa::Error`,
/// `discovery_client::Error`): [`FlowError`].
pub type Error = FlowError;
pub use flow::{AuthorizationRequest, CodeExchange, Flow, OOB_REDIRECT_URI};
pub use installed::{ConsoleOptions, DEFAULT_SUCCESS_MESSAGE, LocalServerOptions, LoopbackHost};
pub use revoke::{GOOGLE_REVOKE_URI, GOOGLE_TOKENINFO_URI, RevokeCall, TokenInfo, TokenInfoCall};
pub use store::{CredentialStore, FileStore, default_store, store_in_config_dir};
