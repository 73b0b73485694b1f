#![doc = include_str!("../GUIDE.md")]
// The guide names both flavours side by side; a build without `async` (the default is
// `blocking` alone) has no async items for its async column to link to. docs.rs builds with
// every feature (Cargo.toml), where every link resolves and `cargo xtask test` checks them.
#![cfg_attr(not(feature = "async"), allow(rustdoc::broken_intra_doc_links))]

// The core's types, by name: what the guide and the examples use. oauth-core's internals
// (`fsutil`, `json`, the token cache) are not reachable from here.
pub use oauth_core::{
    AuthorizedUser, ClientSecrets, ClientType, Clock, CredentialsOptions, DEFAULT_REFRESH_MARGIN,
    EndpointPolicy, Error, ErrorKind, FileStore, ManualClock, MemoryStore, OAuthError, Refresh,
    RefreshContext, RetryOn, RetryPolicy, Retrying, Secret, StoredToken, SystemClock, Token,
    TokenCall, TokenKey, TokenResponse, TokenSource, TransportError, TransportErrorKind,
    apply_token,
};
#[cfg(feature = "async")]
pub use oauth_core::{Credentials, CredentialsBuilder, TokenStore, run, run_authorized};
// oauth-core's public modules, by name, for the less common items (custom transports,
// exchanges, stores, the newtypes).
pub use oauth_core::{
    authorized_user, client_secrets, clock, endpoint, error, exchange, flavour, handle, http,
    origin, retry, sanitize, secret, source, store, token, transport, types,
};

/// Reads a credentials file (any of the JSON files gauth reads) as JSON, the way gauth
/// reads them: bounded in size, a FIFO without a writer refused rather than waited on,
/// errors that name the file and never show its content.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("creds.json");
/// std::fs::write(&path, r#"{"type": "authorized_user"}"#).unwrap();
/// let value = gauth::read_json_file(&path)?;
/// assert_eq!(value["type"], "authorized_user");
/// assert!(gauth::read_json_file(&dir.path().join("none.json")).unwrap_err().to_string().contains("none.json"));
/// # Ok::<(), gauth::Error>(())
/// ```
pub fn read_json_file(path: &std::path::Path) -> Result<serde_json::Value, Error> {
    oauth_core::json::read_file(path)
}

/// Service accounts, ID tokens and their verification, impersonation, the metadata server
/// (the `oauth-sa` crate).
#[cfg(feature = "service-account")]
pub use oauth_sa as sa;
#[cfg(all(feature = "service-account", feature = "async"))]
pub use oauth_sa::IdTokenVerifier;
#[cfg(feature = "service-account")]
pub use oauth_sa::{
    IdTokenCredentials, ImpersonatedCredentials, MetadataCredentials, ServiceAccountCredentials,
    ServiceAccountKey,
};

/// Workload identity federation (`external_account` files: file, URL, executable and AWS
/// sources), `impersonated_service_account` and `external_account_authorized_user` files,
/// downscoped tokens (the `oauth-external` crate).
#[cfg(feature = "external-account")]
pub use oauth_external as external;
#[cfg(feature = "external-account")]
pub use oauth_external::{
    CredentialAccessBoundary, DownscopedCredentials, ExternalAccountAuthorizedUser,
    ExternalAccountCredentials,
};

/// The fleet token store on Redis or Valkey: one refresh per token lifetime across
/// processes and hosts, entries sealed with the credential's secret, local minting when
/// Redis is away (the `oauth-redis` crate).
#[cfg(feature = "redis")]
pub use oauth_redis as redis;
#[cfg(feature = "redis")]
pub use oauth_redis::RedisStore;

/// Sign-in flows: `Flow`, `InstalledAppFlow`, the device flow, the token store (the
/// `oauth-flow` crate).
#[cfg(feature = "flow")]
pub use oauth_flow as flow;
#[cfg(feature = "flow")]
pub use oauth_flow::{
    AuthorizationError, AuthorizationRequest, ConsoleOptions, CredentialStore, DeviceAuthorization,
    DeviceCode, Flow, FlowError, GOOGLE_REVOKE_URI, GOOGLE_TOKENINFO_URI, LocalServerOptions,
    LoopbackHost, OOB_REDIRECT_URI, RevokeCall, TokenInfo, TokenInfoCall, default_store,
    store_in_config_dir,
};
#[cfg(all(feature = "flow", feature = "async"))]
pub use oauth_flow::{DeviceFlow, InstalledAppFlow, revoke, tokeninfo};

/// Discovery-based calls to any Google API (the `discovery-client` crate).
#[cfg(feature = "discovery")]
pub use discovery_client as discovery;

#[cfg(feature = "adc")]
pub mod adc;

/// The blocking flavour: oauth-core's blocking handle and driver, with the blocking halves
/// of the sign-in flows and of discovery under the same names as the async ones.
///
/// ```no_run
/// use gauth::blocking::{Credentials, InstalledAppFlow};
/// use gauth::LocalServerOptions;
/// let mut flow = InstalledAppFlow::from_client_secrets_file("client_secrets.json", ["openid", "email"])?;
/// let user = flow.run_local_server(LocalServerOptions::default())?;
/// let service = gauth::blocking::build("oauth2", "v2", Credentials::new(user))?;
/// println!("{}", service.method("userinfo.get")?.execute()?["email"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "blocking")]
pub mod blocking {
    pub use oauth_core::blocking::{
        Credentials, CredentialsBuilder, TokenStore, run, run_authorized,
    };

    #[cfg(feature = "discovery")]
    pub use discovery_client::blocking::{MethodCall, PageIter, Service, build, build_with};
    #[cfg(feature = "flow")]
    pub use oauth_flow::blocking::{DeviceFlow, InstalledAppFlow, revoke, tokeninfo};
    #[cfg(feature = "service-account")]
    pub use oauth_sa::blocking::IdTokenVerifier;

    /// Application Default Credentials, blocking: the names of [`crate::adc`], with
    /// `find` and `default_credentials` that block.
    ///
    /// ```no_run
    /// let adc = gauth::blocking::adc::default_credentials(&["https://www.googleapis.com/auth/cloud-platform"])?;
    /// println!("{:?} from {:?}", adc.project_id, adc.origin);
    /// # Ok::<(), gauth::adc::AdcError>(())
    /// ```
    #[cfg(feature = "adc")]
    pub mod adc {
        pub use crate::adc::blocking::{DefaultCredentials, default_credentials, find};
        pub use crate::adc::{
            AdcEnv, AdcError, AdcOptions, AdcOrder, AdcOrigin, Found, Search, file_step, find_file,
            load_file, load_file_with_quota, locate_file,
        };
    }
}

/// The Rust snippets of the workspace's README and `docs/`, compiled (and run, unless marked
/// `no_run`) as this crate's doc-tests, so what a newcomer copies works. Not part of the API:
/// the items exist only when rustdoc collects doc-tests. `tests/docs_compiled.rs` checks that
/// every such file is listed here.
#[cfg(doctest)]
pub mod workspace_docs {
    #[doc = include_str!("../../../README.md")]
    pub struct Readme;
    #[doc = include_str!("../../../docs/ARCHITECTURE.md")]
    pub struct Architecture;
    #[doc = include_str!("../../../docs/decisions.md")]
    pub struct Decisions;
    #[doc = include_str!("../../../docs/performance.md")]
    pub struct Performance;
    #[doc = include_str!("../../../docs/reliability.md")]
    pub struct Reliability;
    #[doc = include_str!("../../../docs/security.md")]
    pub struct Security;
    #[doc = include_str!("../../../docs/differences.md")]
    pub struct Differences;
    #[doc = include_str!("../../../docs/cli.md")]
    pub struct Cli;
    /// (Its snippets use `RedisStore`: compiled with the `redis` feature; oauth-redis's own
    /// doc-tests compile the same example.)
    #[cfg(feature = "redis")]
    #[doc = include_str!("../../../docs/redis.md")]
    pub struct Redis;
}
