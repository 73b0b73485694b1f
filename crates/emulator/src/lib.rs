//! # gauth-emulator
//!
//! Local stand-ins for Google's endpoints, on loopback, so that gauth's demo, tests and
//! benchmarks run offline. Each server runs on its own runtime thread, so blocking and
//! async tests use it alike, and stops when its handle is dropped.
//!
//! - [`Emulator`]: Google's OAuth and API front doors, answering in Google's formats
//!   (field names, error bodies, status codes):
//!   - `/o/oauth2/auth` (and `/o/oauth2/v2/auth`): the authorization endpoint with an HTML
//!     consent page (Allow / Deny) or auto-approval; PKCE (S256, plain); loopback redirect
//!     URIs for installed clients, registered ones for web clients.
//!   - `/token`: authorization code, refresh token (optional rotation), JWT-bearer for
//!     service accounts (RS256 checked with ring; `scope` or `target_audience`) and the
//!     device code grant; `/device/code` and the `/device` page.
//!   - `/revoke`, `/tokeninfo`, `/v1/userinfo`, `/oauth2/v2/userinfo`, `/oauth2/v3/certs`
//!     (JWKS), `/oauth2/v1/certs` (PEM certificates).
//!   - `/computeMetadata/v1/...`: the metadata server's token, identity, email and project.
//!   - `/v1/projects/-/serviceAccounts/{email}:generateAccessToken` / `:generateIdToken`.
//!   - `/v1/token`: STS's token exchange (RFC 8693) for workload and workforce identity
//!     federation (OIDC subject tokens from its own identity provider, AWS requests signed
//!     with its metadata stand-in's credentials, checked with SigV4) and downscoping
//!     (Credential Access Boundaries); `/v1/oauthtoken`, `/v1/revoke`, `/v1/introspect`
//!     for workforce users ([`Emulator::external_account_authorized_user_file`]).
//!   - `/latest/...`: an AWS instance metadata stand-in (IMDSv2 session tokens, region,
//!     role credentials); `/external/subject-token`: a URL subject-token source. Neither
//!     accepts a request that carries a credential.
//!     [`Emulator::external_account_file`] writes matching `external_account` files.
//!   - `/discovery/v1/apis/{api}/{version}/rest`: oauth2 v2, tasks v1 and drive v3, and the
//!     Tasks API itself (lists and tasks, in memory per user).
//!   - Drive v3's files, trimmed to media: `files.create` with Google's three upload
//!     protocols (`uploadType=media`, `multipart`, `resumable` with 308 Resume Incomplete and
//!     status queries), `files.get` with `alt=media` downloads and `Range`, `files.list`,
//!     `files.delete`; content kept on disk, each file with its `sha256Checksum`. Faults
//!     ([`MediaFault`]: an error status, a connection cut mid-body, a stall, a forgotten
//!     session) and a log of the requests' shapes ([`MediaRequest`]) serve tests of
//!     clients; `/emulator/v1/media/faults` and `/emulator/v1/media/requests` reach them over
//!     HTTP.
//! - [`token_server::TokenServer`]: a token endpoint that counts what it receives, with a
//!   settable delay and lifetime, and refresh-token rotation with reuse detection (the
//!   grant is revoked when a rotated-away refresh token comes back, as strict providers
//!   do).
//! - [`EmulatorFiles`]: the client-secrets and service-account files it hands out, in a fresh
//!   private directory removed on drop; [`ShutdownSignal`] lets a foreground emulator (`gauth
//!   emulator`) stop on Ctrl-C or SIGTERM and clean up.
//!
//! The keys it signs with are committed, test-only fixtures (`keys/`): never trust them.
//!
//! ```
//! use gauth_emulator::{ClientKind, Emulator, EmulatorConfig};
//! let emu = Emulator::start(EmulatorConfig::default().auto_approve(true)).unwrap();
//! let secrets = emu.client_secrets(ClientKind::Installed).unwrap();
//! assert_eq!(secrets["installed"]["auth_uri"], emu.auth_uri());
//! ```

// Handlers return ready-made `Response`s as their errors (axum's idiom); their size is of no
// consequence for a loopback test server.
#![allow(clippy::result_large_err)]

mod authorize;
mod aws;
mod config;
mod conn;
mod device;
mod discovery;
mod external;
mod faults;
mod federation;
mod fields;
mod files;
mod iam;
mod info;
mod keys;
mod media;
mod metadata;
mod multipart;
mod record;
mod reply;
mod server;
mod storage;
mod store;
mod sts;
mod tasks;
mod token;
pub mod token_server;

pub use aws::{AWS_ACCOUNT, AWS_REGION, AWS_ROLE};
pub use config::{ClientKind, ConfigError, EmulatorConfig, OAuthClient, ServiceAccount, TestUser};
pub use external::WORKLOAD_SUBJECT;
pub use faults::{FaultAction, FaultTarget, MediaFault, Repeat};
pub use federation::{
    AWS_PROVIDER, CredentialSource, OIDC_PROVIDER, WORKFORCE_PROVIDER, workforce_audience,
    workload_audience,
};
pub use files::{EmulatorFiles, ShutdownSignal, StopSignal};
pub use media::StoredObject;
pub use record::{BodyShape, Framing, MediaRequest, MultipartShape, PartShape};
pub use server::Emulator;
pub use sts::{PROJECT_NUMBER, WORKFORCE_POOL, WORKLOAD_POOL};

/// The default installed ("desktop") client's id.
pub const INSTALLED_CLIENT_ID: &str = "gauth-emulator-installed.apps.googleusercontent.com";
/// The default installed client's secret (not a secret: a test value).
pub const INSTALLED_CLIENT_SECRET: &str = "emulator-installed-secret";
/// The default web client's id (redirect URI `http://localhost:8080/oauth2callback`).
pub const WEB_CLIENT_ID: &str = "gauth-emulator-web.apps.googleusercontent.com";
/// The default web client's secret (not a secret: a test value).
pub const WEB_CLIENT_SECRET: &str = "emulator-web-secret";
