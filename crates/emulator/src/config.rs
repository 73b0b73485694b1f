//! What the emulator knows: its OAuth clients, users and service accounts, and how it behaves.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::faults::MediaFault;
use crate::keys;

/// Why a configuration item was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A service-account key file is not JSON or lacks a field.
    #[error("service-account key file: {0}")]
    KeyFile(String),
}

/// The two OAuth client types of Google's console that the emulator tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// A desktop ("installed") app: any loopback redirect URI is accepted.
    Installed,
    /// A web app: only registered redirect URIs are accepted.
    Web,
}

/// An OAuth client registered with the emulator.
///
/// ```
/// use gauth_emulator::{ClientKind, OAuthClient};
/// let web = OAuthClient::web("my-web.apps.googleusercontent.com", "s3cret", ["http://localhost:8080/callback"]);
/// assert_eq!(web.kind, ClientKind::Web);
/// ```
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; empty for a public client that authenticates with PKCE alone.
    pub client_secret: String,
    /// Installed or web.
    pub kind: ClientKind,
    /// Registered redirect URIs (exact match; installed clients also accept any loopback URI).
    pub redirect_uris: Vec<String>,
    /// The name shown on the consent page.
    pub name: String,
}

impl OAuthClient {
    /// A desktop client.
    ///
    /// ```
    /// let c = gauth_emulator::OAuthClient::installed("id.apps.googleusercontent.com", "secret");
    /// assert_eq!(c.redirect_uris, ["http://localhost"]);
    /// ```
    pub fn installed(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        OAuthClient {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            kind: ClientKind::Installed,
            redirect_uris: vec!["http://localhost".into()],
            name: "gauth emulator desktop app".into(),
        }
    }

    /// A web client with its registered redirect URIs.
    ///
    /// ```
    /// let c = gauth_emulator::OAuthClient::web("w.apps.googleusercontent.com", "s", ["https://app.example/cb"]);
    /// assert_eq!(c.redirect_uris.len(), 1);
    /// ```
    pub fn web(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uris: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        OAuthClient {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            kind: ClientKind::Web,
            redirect_uris: redirect_uris.into_iter().map(Into::into).collect(),
            name: "gauth emulator web app".into(),
        }
    }

    /// Sets the name shown on the consent page.
    ///
    /// ```
    /// let c = gauth_emulator::OAuthClient::installed("i", "s").with_name("Demo");
    /// assert_eq!(c.name, "Demo");
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// A Google account that can sign in on the consent page.
///
/// ```
/// let u = gauth_emulator::TestUser::new("bob@example.com", "Bob Example");
/// assert_eq!(u.given_name, "Bob");
/// ```
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The stable account id (`sub`, userinfo's `id`).
    pub sub: String,
    /// The email address.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Profile picture URL.
    pub picture: String,
}

impl TestUser {
    /// A user; the id is derived from the email, the names from `name`.
    pub fn new(email: impl Into<String>, name: impl Into<String>) -> Self {
        let email = email.into();
        let name = name.into();
        let (given, family) = name.split_once(' ').unwrap_or((name.as_str(), ""));
        // A stable 21-digit id like Google's, derived from the email.
        let digest = ring::digest::digest(&ring::digest::SHA256, email.as_bytes());
        let mut n: u64 = 0;
        for b in &digest.as_ref()[..8] {
            n = (n << 8) | u64::from(*b);
        }
        TestUser {
            sub: format!("1{n:020}"),
            given_name: given.to_owned(),
            family_name: family.to_owned(),
            picture: "https://lh3.googleusercontent.com/a/default-user".into(),
            email,
            name,
        }
    }
}

/// A service account whose JWT-bearer assertions the token endpoint accepts.
///
/// ```
/// let sa = gauth_emulator::ServiceAccount::test_fixture();
/// assert!(sa.email.ends_with(".iam.gserviceaccount.com"));
/// ```
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// `client_email`.
    pub email: String,
    /// `client_id`, the account's unique id (the `sub` of its tokens).
    pub unique_id: String,
    /// Its project.
    pub project_id: String,
    /// (key id, PKCS#1 `RSAPublicKey` DER) pairs its assertions may be signed with.
    pub public_keys: Vec<(String, Vec<u8>)>,
}

impl ServiceAccount {
    /// Registers the public half of a Google service-account key file.
    ///
    /// ```
    /// let json = gauth_emulator::ServiceAccount::test_fixture_key_file();
    /// let sa = gauth_emulator::ServiceAccount::from_key_file_json(&json).unwrap();
    /// assert_eq!(sa.public_keys.len(), 1);
    /// ```
    pub fn from_key_file_json(json: &str) -> Result<ServiceAccount, ConfigError> {
        let v: Value =
            serde_json::from_str(json).map_err(|_| ConfigError::KeyFile("not JSON".into()))?;
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ConfigError::KeyFile(format!("missing field `{name}`")))
        };
        let pem = field("private_key")?;
        let der = keys::pem_to_der(&pem, "PRIVATE KEY")
            .ok_or_else(|| ConfigError::KeyFile("`private_key` is not a PKCS#8 PEM".into()))?;
        let public = keys::public_key_of_pkcs8(&der)
            .ok_or_else(|| ConfigError::KeyFile("`private_key` is not an RSA key".into()))?;
        Ok(ServiceAccount {
            email: field("client_email")?,
            unique_id: field("client_id")?,
            project_id: field("project_id").unwrap_or_default(),
            public_keys: vec![(field("private_key_id").unwrap_or_default(), public)],
        })
    }

    /// The account of the committed test key (`keys/test-only-service-account.json`).
    pub fn test_fixture() -> ServiceAccount {
        match ServiceAccount::from_key_file_json(keys::TEST_SERVICE_ACCOUNT_JSON) {
            Ok(sa) => sa,
            // The fixture is compiled in and covered by tests; an empty account is inert.
            Err(_) => ServiceAccount {
                email: String::new(),
                unique_id: String::new(),
                project_id: String::new(),
                public_keys: Vec::new(),
            },
        }
    }

    /// The committed test key file itself (with Google's `token_uri`; see
    /// [`Emulator::service_account_key`](crate::Emulator::service_account_key) for one that
    /// points at a running emulator). TEST ONLY: the key is public.
    ///
    /// ```
    /// assert!(gauth_emulator::ServiceAccount::test_fixture_key_file().contains("PRIVATE KEY"));
    /// ```
    pub fn test_fixture_key_file() -> String {
        keys::TEST_SERVICE_ACCOUNT_JSON.to_owned()
    }
}

/// The emulator's configuration, built with `with_*`-style setters.
///
/// ```
/// use std::time::Duration;
/// use gauth_emulator::{EmulatorConfig, TestUser};
/// let config = EmulatorConfig::default()
///     .auto_approve(true)
///     .rotate_refresh_tokens(true)
///     .access_token_lifetime(Duration::from_secs(60))
///     .user(TestUser::new("bob@example.com", "Bob Example"));
/// assert_eq!(config.users.len(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to bind; loopback by default.
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Registered OAuth clients.
    pub clients: Vec<OAuthClient>,
    /// Accounts that can sign in; the first is the default.
    pub users: Vec<TestUser>,
    /// Registered service accounts; the first is the metadata server's default account.
    pub service_accounts: Vec<ServiceAccount>,
    /// Approve authorization and device requests without showing the consent page.
    pub auto_approve: bool,
    /// Issue a new refresh token on every refresh (the old one stops working).
    pub rotate_refresh_tokens: bool,
    /// Lifetime of access and ID tokens.
    pub access_token_lifetime: Duration,
    /// Lifetime of authorization codes.
    pub code_lifetime: Duration,
    /// Lifetime of device codes.
    pub device_code_lifetime: Duration,
    /// Polling interval announced for device codes, in seconds.
    pub device_interval: u64,
    /// `iss` of the ID tokens it signs.
    pub issuer: String,
    /// The project the metadata server reports.
    pub project_id: String,
    /// Faults armed on the media endpoints from the start.
    pub media_faults: Vec<MediaFault>,
    /// Where the media directory is made (a fresh private subdirectory, removed when the
    /// emulator stops); the system's temp directory by default.
    pub media_dir: Option<PathBuf>,
    /// Most bytes of media held at once (files and open uploads); 4 GiB by default.
    pub media_store_limit: u64,
    /// How long a resumable upload session lives (Google: a week).
    pub upload_session_lifetime: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            clients: vec![
                OAuthClient::installed(crate::INSTALLED_CLIENT_ID, crate::INSTALLED_CLIENT_SECRET),
                OAuthClient::web(
                    crate::WEB_CLIENT_ID,
                    crate::WEB_CLIENT_SECRET,
                    ["http://localhost:8080/oauth2callback"],
                ),
            ],
            users: vec![TestUser::new("alice@example.com", "Alice Example")],
            service_accounts: vec![ServiceAccount::test_fixture()],
            auto_approve: false,
            rotate_refresh_tokens: false,
            access_token_lifetime: Duration::from_secs(3599),
            code_lifetime: Duration::from_secs(600),
            device_code_lifetime: Duration::from_secs(1800),
            device_interval: 5,
            issuer: "https://accounts.google.com".into(),
            project_id: "gauth-emulator".into(),
            media_faults: Vec::new(),
            media_dir: None,
            media_store_limit: 4 << 30,
            upload_session_lifetime: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl EmulatorConfig {
    /// Sets the port (0: any free port).
    ///
    /// ```
    /// assert_eq!(gauth_emulator::EmulatorConfig::default().port(8085).port, 8085);
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the address to bind (loopback by default; anything else exposes test keys).
    ///
    /// ```
    /// let c = gauth_emulator::EmulatorConfig::default().bind("::1".parse().unwrap());
    /// assert!(c.bind.is_loopback());
    /// ```
    pub fn bind(mut self, addr: IpAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Registers another OAuth client.
    ///
    /// ```
    /// use gauth_emulator::{EmulatorConfig, OAuthClient};
    /// let c = EmulatorConfig::default().client(OAuthClient::installed("x", "y"));
    /// assert_eq!(c.clients.len(), 3);
    /// ```
    pub fn client(mut self, client: OAuthClient) -> Self {
        self.clients.push(client);
        self
    }

    /// Adds an account that can sign in.
    ///
    /// ```
    /// use gauth_emulator::{EmulatorConfig, TestUser};
    /// let c = EmulatorConfig::default().user(TestUser::new("b@example.com", "B"));
    /// assert_eq!(c.users[1].email, "b@example.com");
    /// ```
    pub fn user(mut self, user: TestUser) -> Self {
        self.users.push(user);
        self
    }

    /// Registers another service account.
    ///
    /// ```
    /// use gauth_emulator::{EmulatorConfig, ServiceAccount};
    /// let c = EmulatorConfig::default().service_account(ServiceAccount::test_fixture());
    /// assert_eq!(c.service_accounts.len(), 2);
    /// ```
    pub fn service_account(mut self, sa: ServiceAccount) -> Self {
        self.service_accounts.push(sa);
        self
    }

    /// Approves requests without showing the consent page.
    ///
    /// ```
    /// assert!(gauth_emulator::EmulatorConfig::default().auto_approve(true).auto_approve);
    /// ```
    pub fn auto_approve(mut self, on: bool) -> Self {
        self.auto_approve = on;
        self
    }

    /// Rotates refresh tokens on every refresh.
    ///
    /// ```
    /// assert!(gauth_emulator::EmulatorConfig::default().rotate_refresh_tokens(true).rotate_refresh_tokens);
    /// ```
    pub fn rotate_refresh_tokens(mut self, on: bool) -> Self {
        self.rotate_refresh_tokens = on;
        self
    }

    /// Sets the lifetime of access and ID tokens.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = gauth_emulator::EmulatorConfig::default().access_token_lifetime(Duration::from_secs(5));
    /// assert_eq!(c.access_token_lifetime.as_secs(), 5);
    /// ```
    pub fn access_token_lifetime(mut self, d: Duration) -> Self {
        self.access_token_lifetime = d;
        self
    }

    /// Sets the lifetime of authorization codes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = gauth_emulator::EmulatorConfig::default().code_lifetime(Duration::from_secs(5));
    /// assert_eq!(c.code_lifetime.as_secs(), 5);
    /// ```
    pub fn code_lifetime(mut self, d: Duration) -> Self {
        self.code_lifetime = d;
        self
    }

    /// Sets the lifetime of device codes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = gauth_emulator::EmulatorConfig::default().device_code_lifetime(Duration::from_secs(5));
    /// assert_eq!(c.device_code_lifetime.as_secs(), 5);
    /// ```
    pub fn device_code_lifetime(mut self, d: Duration) -> Self {
        self.device_code_lifetime = d;
        self
    }

    /// Sets the device polling interval in seconds (0 lets tests poll freely).
    ///
    /// ```
    /// assert_eq!(gauth_emulator::EmulatorConfig::default().device_interval(1).device_interval, 1);
    /// ```
    pub fn device_interval(mut self, secs: u64) -> Self {
        self.device_interval = secs;
        self
    }

    /// Sets the `iss` of ID tokens.
    ///
    /// ```
    /// let c = gauth_emulator::EmulatorConfig::default().issuer("accounts.google.com");
    /// assert_eq!(c.issuer, "accounts.google.com");
    /// ```
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = iss.into();
        self
    }

    /// Sets the project the metadata server reports.
    ///
    /// ```
    /// assert_eq!(gauth_emulator::EmulatorConfig::default().project_id("p").project_id, "p");
    /// ```
    pub fn project_id(mut self, id: impl Into<String>) -> Self {
        self.project_id = id.into();
        self
    }

    /// Arms a fault on the media endpoints from the start (see [`MediaFault`]).
    ///
    /// ```
    /// use gauth_emulator::{EmulatorConfig, FaultAction, FaultTarget, MediaFault};
    /// let c = EmulatorConfig::default()
    ///     .media_fault(MediaFault::new(FaultTarget::Chunk, FaultAction::DropAfter(100_000)));
    /// assert_eq!(c.media_faults.len(), 1);
    /// ```
    pub fn media_fault(mut self, fault: MediaFault) -> Self {
        self.media_faults.push(fault);
        self
    }

    /// Makes the media directory under `dir` instead of the system's temp directory.
    ///
    /// ```
    /// let c = gauth_emulator::EmulatorConfig::default().media_dir(std::env::temp_dir());
    /// assert!(c.media_dir.is_some());
    /// ```
    pub fn media_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.media_dir = Some(dir.into());
        self
    }

    /// Sets the most bytes of media held at once; past it uploads get Drive's
    /// `storageQuotaExceeded`.
    ///
    /// ```
    /// let c = gauth_emulator::EmulatorConfig::default().media_store_limit(1 << 20);
    /// assert_eq!(c.media_store_limit, 1 << 20);
    /// ```
    pub fn media_store_limit(mut self, bytes: u64) -> Self {
        self.media_store_limit = bytes;
        self
    }

    /// Sets how long a resumable upload session lives, on the emulator's clock
    /// ([`Emulator::advance_clock`](crate::Emulator::advance_clock) moves it).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = gauth_emulator::EmulatorConfig::default().upload_session_lifetime(Duration::from_secs(60));
    /// assert_eq!(c.upload_session_lifetime.as_secs(), 60);
    /// ```
    pub fn upload_session_lifetime(mut self, d: Duration) -> Self {
        self.upload_session_lifetime = d;
        self
    }
}
