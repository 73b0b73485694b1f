#![doc = include_str!("../GUIDE.md")]

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
    ConsoleOptions, CredentialStore, Flow, FlowError, LocalServerOptions, LoopbackHost,
    default_store, store_in_config_dir,
};
#[cfg(all(feature = "flow", feature = "async"))]
pub use oauth_flow::{DeviceFlow, InstalledAppFlow};

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
    pub use oauth_core::blocking::*;

    #[cfg(feature = "discovery")]
    pub use discovery_client::blocking::{MethodCall, PageIter, Service, build, build_with};
    #[cfg(feature = "flow")]
    pub use oauth_flow::blocking::{DeviceFlow, InstalledAppFlow, revoke, tokeninfo};
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
