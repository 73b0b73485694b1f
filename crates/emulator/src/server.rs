//! The running emulator: routes, its runtime thread, and what tests ask of it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post, put};
use serde_json::{Value, json};

use crate::config::{ClientKind, EmulatorConfig};
use crate::keys::SigningKey;
use crate::store::{DeviceState, Shared};
use crate::{
    authorize, aws, device, discovery, external, iam, info, media, metadata, sts, tasks, token,
};

/// Largest request body accepted (a Tasks note is at most 8 KiB; an assertion a few).
const BODY_LIMIT: usize = 256 * 1024;
/// How long a stopping emulator waits for open connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        // OAuth front doors.
        .route("/o/oauth2/auth", get(authorize::authorize))
        .route("/o/oauth2/v2/auth", get(authorize::authorize))
        .route("/o/oauth2/approval", post(authorize::approval))
        .route("/token", post(token::token))
        .route("/device/code", post(device::device_code))
        .route(
            "/device",
            get(device::device_page).post(device::device_entered),
        )
        .route("/device/approval", post(device::device_approval))
        .route("/revoke", get(info::revoke).post(info::revoke))
        .route("/tokeninfo", get(info::tokeninfo).post(info::tokeninfo))
        .route(
            "/oauth2/v3/tokeninfo",
            get(info::tokeninfo).post(info::tokeninfo),
        )
        .route("/oauth2/v3/certs", get(info::jwks))
        .route("/oauth2/v1/certs", get(info::pem_certs))
        .route(
            "/v1/userinfo",
            get(info::userinfo_oidc).post(info::userinfo_oidc),
        )
        .route(
            "/oauth2/v3/userinfo",
            get(info::userinfo_oidc).post(info::userinfo_oidc),
        )
        // The oauth2 v2 API.
        .route("/oauth2/v2/userinfo", get(info::userinfo_v2))
        .route("/oauth2/v1/userinfo", get(info::userinfo_v2))
        .route("/userinfo/v2/me", get(info::userinfo_v2))
        .route(
            "/oauth2/v2/tokeninfo",
            get(info::tokeninfo_v2).post(info::tokeninfo_v2),
        )
        // Metadata server.
        .route("/", get(metadata::root))
        .route("/computeMetadata/v1/{*path}", any(metadata::metadata))
        // IAM Credentials.
        .route(
            "/v1/projects/{project}/serviceAccounts/{name}",
            post(iam::iam),
        )
        // STS: token exchange (federation, downscoping), workforce refresh and revocation.
        .route("/v1/token", post(sts::token))
        .route("/v1/oauthtoken", post(token::token))
        .route("/v1/revoke", post(info::revoke))
        .route("/v1/introspect", post(sts::introspect))
        // An AWS instance metadata stand-in (IMDSv2) and a URL subject-token source.
        .route("/latest/api/token", put(aws::session_token))
        .route(
            "/latest/meta-data/placement/availability-zone",
            get(aws::availability_zone),
        )
        .route("/latest/meta-data/iam/security-credentials", get(aws::role))
        .route(
            "/latest/meta-data/iam/security-credentials/{role}",
            get(aws::credentials),
        )
        .route("/external/subject-token", get(external::subject_token))
        // Discovery.
        .route("/discovery/v1/apis", get(discovery::directory))
        .route(
            "/discovery/v1/apis/{api}/{version}/rest",
            get(discovery::document),
        )
        .route("/$discovery/rest", get(discovery::dollar_discovery))
        // Tasks v1.
        .route(
            "/tasks/v1/users/@me/lists",
            get(tasks::lists).post(tasks::lists),
        )
        .route(
            "/tasks/v1/users/@me/lists/{tasklist}",
            get(tasks::list)
                .put(tasks::list)
                .patch(tasks::list)
                .delete(tasks::list),
        )
        .route(
            "/tasks/v1/lists/{tasklist}/tasks",
            get(tasks::tasks).post(tasks::tasks),
        )
        .route(
            "/tasks/v1/lists/{tasklist}/tasks/{task}",
            get(tasks::task)
                .put(tasks::task)
                .patch(tasks::task)
                .delete(tasks::task),
        )
        // Drive v3 files and media, with their fault and log controls.
        .merge(media::routes())
        .route("/tasks/v1/lists/{tasklist}/clear", post(tasks::clear))
        .route(
            "/tasks/v1/lists/{tasklist}/tasks/{task}/move",
            post(tasks::move_task),
        )
        .fallback(|| async {
            crate::reply::api_error(
                axum::http::StatusCode::NOT_FOUND,
                "notFound",
                "The requested URL was not found on this server.",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// A running emulator; it stops when dropped.
///
/// ```
/// use gauth_emulator::{Emulator, EmulatorConfig};
/// let emu = Emulator::start(EmulatorConfig::default()).unwrap();
/// assert!(emu.base_url().starts_with("http://127.0.0.1:"));
/// assert_eq!(emu.token_uri(), format!("{}/token", emu.base_url()));
/// ```
pub struct Emulator {
    addr: SocketAddr,
    pub(crate) shared: Arc<Shared>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts the emulator on `config.bind:config.port` (loopback, any free port by
    /// default), on its own runtime thread.
    pub fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let key = SigningKey::fixture()
            .map_err(|e| std::io::Error::other(format!("signing key: {e}")))?;
        let listener = std::net::TcpListener::bind(SocketAddr::new(config.bind, config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared::new(config, base_url, key));
        let app = router(Arc::clone(&shared));
        let (tx, rx) = tokio::sync::watch::channel(false);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("gauth-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let mut stop = rx.clone();
                    let mut stop_hard = rx;
                    // Connections a media fault can cut (`conn.rs`).
                    let listener = crate::conn::KillableListener(listener);
                    let app = app.into_make_service_with_connect_info::<crate::conn::Conn>();
                    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    });
                    // A browser may hold idle or half-open connections; graceful shutdown
                    // waits for them only so long.
                    tokio::select! {
                        _ = serve => {}
                        _ = async move {
                            let _ = stop_hard.changed().await;
                            tokio::time::sleep(SHUTDOWN_GRACE).await;
                        } => {}
                    }
                });
            })?;
        Ok(Emulator {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.addr().ip().is_loopback());
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(!emu.base_url().ends_with('/'));
    /// ```
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// `HOST:PORT`, what `GCE_METADATA_HOST` (and `GCE_METADATA_IP`) should hold.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert_eq!(emu.metadata_host(), emu.addr().to_string());
    /// ```
    pub fn metadata_host(&self) -> String {
        self.addr.to_string()
    }

    /// The authorization endpoint (`auth_uri`).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.auth_uri().ends_with("/o/oauth2/auth"));
    /// ```
    pub fn auth_uri(&self) -> String {
        format!("{}/o/oauth2/auth", self.base_url())
    }

    /// The token endpoint (`token_uri`).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.token_uri().ends_with("/token"));
    /// ```
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The device authorization endpoint.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.device_code_uri().ends_with("/device/code"));
    /// ```
    pub fn device_code_uri(&self) -> String {
        format!("{}/device/code", self.base_url())
    }

    /// The revocation endpoint.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.revoke_uri().ends_with("/revoke"));
    /// ```
    pub fn revoke_uri(&self) -> String {
        format!("{}/revoke", self.base_url())
    }

    /// The tokeninfo endpoint.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.tokeninfo_uri().ends_with("/tokeninfo"));
    /// ```
    pub fn tokeninfo_uri(&self) -> String {
        format!("{}/tokeninfo", self.base_url())
    }

    /// OpenID Connect's userinfo endpoint.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.userinfo_uri().ends_with("/v1/userinfo"));
    /// ```
    pub fn userinfo_uri(&self) -> String {
        format!("{}/v1/userinfo", self.base_url())
    }

    /// The JWKS of the ID-token signing key (`/oauth2/v3/certs`).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.jwks_uri().ends_with("/oauth2/v3/certs"));
    /// ```
    pub fn jwks_uri(&self) -> String {
        format!("{}/oauth2/v3/certs", self.base_url())
    }

    /// The PEM certificates of the signing key (`/oauth2/v1/certs`), what google-auth's
    /// `verify_token` reads.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.pem_certs_uri().ends_with("/oauth2/v1/certs"));
    /// ```
    pub fn pem_certs_uri(&self) -> String {
        format!("{}/oauth2/v1/certs", self.base_url())
    }

    /// The discovery URL template that `gauth call --discovery-url` and
    /// `BuildOptions::discovery_url` take: `{api}` and `{apiVersion}` are replaced, as in
    /// googleapiclient's `DISCOVERY_URI`.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert_eq!(
    ///     emu.discovery_url_template().replace("{api}", "tasks").replace("{apiVersion}", "v1"),
    ///     emu.discovery_url("tasks", "v1"),
    /// );
    /// ```
    pub fn discovery_url_template(&self) -> String {
        format!(
            "{}/discovery/v1/apis/{{api}}/{{apiVersion}}/rest",
            self.base_url()
        )
    }

    /// The discovery document URL of `api` `version`.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.discovery_url("tasks", "v1").ends_with("/discovery/v1/apis/tasks/v1/rest"));
    /// ```
    pub fn discovery_url(&self, api: &str, version: &str) -> String {
        format!("{}/discovery/v1/apis/{api}/{version}/rest", self.base_url())
    }

    /// The `iss` of the ID tokens it signs.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert_eq!(emu.issuer(), "https://accounts.google.com");
    /// ```
    pub fn issuer(&self) -> &str {
        &self.shared.config.issuer
    }

    /// The configuration it runs with.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert_eq!(emu.config().users[0].email, "alice@example.com");
    /// ```
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// A client-secrets JSON (`{"installed": {...}}` or `{"web": {...}}`) for the first
    /// registered client of that kind, with this emulator's endpoints.
    ///
    /// Besides the fields of the file Google's console downloads, it names the other
    /// endpoints a command line needs, under the names oauth2client gave them:
    /// `revoke_uri`, `token_info_uri` and `device_uri` (the device authorization
    /// endpoint). google-auth-oauthlib ignores them; `gauth login` copies the first two into
    /// the authorized-user file it writes, so `gauth info` and `gauth revoke` need no URL
    /// flag against the emulator.
    ///
    /// ```
    /// use gauth_emulator::{ClientKind, Emulator};
    /// let emu = Emulator::start(Default::default()).unwrap();
    /// let secrets = emu.client_secrets(ClientKind::Installed).unwrap();
    /// assert_eq!(secrets["installed"]["token_uri"], emu.token_uri());
    /// assert_eq!(secrets["installed"]["revoke_uri"], emu.revoke_uri());
    /// assert_eq!(secrets["installed"]["token_info_uri"], emu.tokeninfo_uri());
    /// assert_eq!(secrets["installed"]["device_uri"], emu.device_code_uri());
    /// ```
    pub fn client_secrets(&self, kind: ClientKind) -> Option<Value> {
        let c = self.shared.config.clients.iter().find(|c| c.kind == kind)?;
        let key = match kind {
            ClientKind::Installed => "installed",
            ClientKind::Web => "web",
        };
        Some(json!({ key: {
            "client_id": c.client_id,
            "project_id": self.shared.config.project_id,
            "auth_uri": self.auth_uri(),
            "token_uri": self.token_uri(),
            "auth_provider_x509_cert_url": self.pem_certs_uri(),
            "client_secret": c.client_secret,
            "redirect_uris": c.redirect_uris,
            "revoke_uri": self.revoke_uri(),
            "token_info_uri": self.tokeninfo_uri(),
            "device_uri": self.device_code_uri(),
        }}))
    }

    /// Writes the installed client's secrets to `dir/client_secrets.json` (mode 0600,
    /// replacing the file atomically; a symbolic link planted at that name is replaced,
    /// never followed) and returns the path. [`Emulator::write_files`] makes a private
    /// directory of its own.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// let dir = std::env::temp_dir().join(format!("gauth-emu-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = emu.write_client_secrets(&dir).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("installed"));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn write_client_secrets(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let secrets = self
            .client_secrets(ClientKind::Installed)
            .ok_or_else(|| std::io::Error::other("no installed client is registered"))?;
        let text = serde_json::to_string_pretty(&secrets).map_err(std::io::Error::other)?;
        crate::files::replace_in(dir, "client_secrets.json", (text + "\n").as_bytes())
    }

    /// The committed test service-account key file, with `token_uri` pointing here, and
    /// `revoke_uri` and `token_info_uri` too (fields google-auth ignores) so that
    /// `gauth info` and `gauth revoke` need no URL flag.
    /// TEST ONLY: its private key is public.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert_eq!(emu.service_account_key()["token_uri"], emu.token_uri());
    /// assert_eq!(emu.service_account_key()["token_info_uri"], emu.tokeninfo_uri());
    /// ```
    pub fn service_account_key(&self) -> Value {
        let mut v: Value =
            serde_json::from_str(crate::keys::TEST_SERVICE_ACCOUNT_JSON).unwrap_or(Value::Null);
        if v.is_object() {
            v["token_uri"] = self.token_uri().into();
            v["auth_uri"] = self.auth_uri().into();
            v["auth_provider_x509_cert_url"] = self.pem_certs_uri().into();
            v["revoke_uri"] = self.revoke_uri().into();
            v["token_info_uri"] = self.tokeninfo_uri().into();
        }
        v
    }

    /// Approves the pending device authorization with `user_code` as the first user, as if
    /// the user had clicked Allow; false when there is none.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(!emu.approve_device("NONE-SUCH"));
    /// ```
    pub fn approve_device(&self, user_code: &str) -> bool {
        device::decide(&self.shared, user_code, DeviceState::Approved(0))
    }

    /// Denies the pending device authorization with `user_code`; false when there is none.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(!emu.deny_device("NONE-SUCH"));
    /// ```
    pub fn deny_device(&self, user_code: &str) -> bool {
        device::decide(&self.shared, user_code, DeviceState::Denied)
    }

    /// Moves the emulator's clock forward, so expiry (codes, tokens, device codes) is tested
    /// without sleeping.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// emu.advance_clock(std::time::Duration::from_secs(3600));
    /// ```
    pub fn advance_clock(&self, by: Duration) {
        self.shared.advance(by.as_secs());
    }

    /// What the handlers share, for the helpers in other modules.
    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
