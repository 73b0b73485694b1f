//! Application Default Credentials: google-auth's `google.auth.default()`.
//!
//! The order is google-auth's:
//! 1. the file named by `GOOGLE_APPLICATION_CREDENTIALS`;
//! 2. gcloud's well-known file, `application_default_credentials.json` in
//!    `$CLOUDSDK_CONFIG` (or `~/.config/gcloud`);
//! 3. the metadata server (`GCE_METADATA_HOST` honoured), when a short ping finds it
//!    (skipped when `NO_GCE_CHECK` is true).
//!
//! [`AdcOrder::WithGauthStore`] is the `gauth` command line's order, an opt-in: gauth's own
//! credential store (where `gauth login`, `gauth device` and
//! `oauth_flow::default_store` save a user's sign-in) comes second, after
//! `GOOGLE_APPLICATION_CREDENTIALS` and before gcloud's file. Credentials found there keep
//! their refreshes in it: the handle is given the file as its token store
//! ([`Found::store`]).
//!
//! The project id comes from where google-auth takes it: `GOOGLE_CLOUD_PROJECT` (or the
//! legacy `GCLOUD_PROJECT`), else the service-account file's `project_id`, else (for
//! gcloud's own file) gcloud's active configuration's `core/project`, else the metadata
//! server's. A user file's `quota_project_id` is never the project id: it is the quota
//! project, sent as `x-goog-user-project`, which `GOOGLE_CLOUD_QUOTA_PROJECT` overrides for
//! every kind of credentials, as in google-auth. When nothing is found, the error lists
//! every place that was tried.
//!
//! The search is written once ([`file_step`], then the sans-IO [`Search`]); the async
//! flavour is here (`gauth::adc::find`, files read on tokio's blocking pool), the blocking
//! one under the same names in `gauth::blocking::adc`.
//!
//! ```no_run
//! let adc = gauth::blocking::adc::default_credentials(&["https://www.googleapis.com/auth/cloud-platform"])?;
//! let token = adc.credentials.token()?;
//! println!("project: {:?}", adc.project_id);
//! # Ok::<(), gauth::adc::AdcError>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::{AuthorizedUser, EndpointPolicy, FileStore, RetryPolicy, Retrying, TokenSource};

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "blocking")]
pub(crate) mod blocking;
pub mod handle;

#[cfg(feature = "async")]
pub use asynchronous::{DefaultCredentials, default_credentials, find};
use oauth_sa::{MetadataCredentials, ServiceAccountCredentials};

/// Where ADC found credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdcOrigin {
    /// The file named by `GOOGLE_APPLICATION_CREDENTIALS`.
    EnvironmentFile(PathBuf),
    /// gcloud's well-known file.
    GcloudFile(PathBuf),
    /// gauth's credential store (with [`AdcOrder::WithGauthStore`]).
    GauthStore(PathBuf),
    /// The metadata server at this host.
    MetadataServer(String),
}

impl AdcOrigin {
    /// The file, for the origins that are files.
    ///
    /// ```
    /// use gauth::adc::AdcOrigin;
    /// assert_eq!(AdcOrigin::GcloudFile("/a.json".into()).path(), Some(std::path::Path::new("/a.json")));
    /// assert_eq!(AdcOrigin::MetadataServer("metadata.google.internal".into()).path(), None);
    /// ```
    pub fn path(&self) -> Option<&Path> {
        match self {
            AdcOrigin::EnvironmentFile(p) | AdcOrigin::GcloudFile(p) | AdcOrigin::GauthStore(p) => {
                Some(p)
            }
            AdcOrigin::MetadataServer(_) => None,
        }
    }
}

/// Where ADC looks, in order.
///
/// ```
/// use gauth::adc::{AdcOptions, AdcOrder};
/// let opts = AdcOptions::new(&["openid"]).order(AdcOrder::WithGauthStore);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AdcOrder {
    /// google-auth's order: `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's well-known file, the
    /// metadata server.
    #[default]
    Google,
    /// The `gauth` command line's order: `GOOGLE_APPLICATION_CREDENTIALS`, gauth's credential
    /// store ([`AdcEnv::gauth_store`]), gcloud's well-known file, the metadata server.
    WithGauthStore,
}

/// Why ADC found nothing usable.
///
/// ```
/// let e = gauth::adc::AdcError::NotFound { tried: vec!["GOOGLE_APPLICATION_CREDENTIALS (not set)".into()] };
/// assert_eq!(e.to_string(), "no Application Default Credentials found; tried: GOOGLE_APPLICATION_CREDENTIALS (not set)");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AdcError {
    /// Nothing was found; `tried` says where it looked and what it saw.
    #[error("no Application Default Credentials found; tried: {}", tried.join("; "))]
    NotFound {
        /// Each place tried, with what was seen there.
        tried: Vec<String>,
    },
    /// A credentials file was found but cannot be used.
    #[error(transparent)]
    Load(#[from] oauth_sa::Error),
    /// The environment names a file that does not exist.
    #[error("GOOGLE_APPLICATION_CREDENTIALS names {}, which is not a readable file", .0.display())]
    MissingEnvironmentFile(PathBuf),
}

impl AdcError {
    /// Whether trying again may help (a metadata server that failed transiently).
    pub fn is_transient(&self) -> bool {
        match self {
            AdcError::Load(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The oauth-core error underneath, however it is wrapped: the one to ask
    /// [`kind`](oauth_core::Error::kind), [`status`](oauth_core::Error::status) or
    /// [`oauth`](oauth_core::Error::oauth) instead of matching nested variants.
    ///
    /// ```
    /// let e = gauth::adc::AdcError::from(gauth::Error::InvalidRequest("x".into()));
    /// assert_eq!(e.core().unwrap().kind(), gauth::ErrorKind::InvalidInput);
    /// assert!(gauth::adc::AdcError::NotFound { tried: vec![] }.core().is_none());
    /// ```
    pub fn core(&self) -> Option<&oauth_core::Error> {
        match self {
            AdcError::Load(oauth_sa::Error::Core(e)) => Some(e),
            _ => None,
        }
    }

    /// The OAuth error (RFC 6749 section 5.2) a token endpoint answered with, if that is
    /// what went wrong.
    pub fn oauth(&self) -> Option<&oauth_core::OAuthError> {
        self.core()?.oauth()
    }

    /// The HTTP status of the failed answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.core()?.status()
    }
}

impl From<oauth_core::Error> for AdcError {
    fn from(e: oauth_core::Error) -> Self {
        AdcError::Load(e.into())
    }
}

/// The environment ADC reads, captured once so that tests can give their own.
///
/// ```
/// let env = gauth::adc::AdcEnv { home: Some("/home/me".into()), ..Default::default() };
/// assert_eq!(env.gcloud_file().unwrap(), std::path::Path::new("/home/me/.config/gcloud/application_default_credentials.json"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct AdcEnv {
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    pub credentials_file: Option<PathBuf>,
    /// `CLOUDSDK_CONFIG`.
    pub cloudsdk_config: Option<PathBuf>,
    /// `HOME` (`APPDATA` on Windows).
    pub home: Option<PathBuf>,
    /// `GCE_METADATA_HOST`.
    pub metadata_host: Option<String>,
    /// `GCE_METADATA_IP`.
    pub metadata_ip: Option<String>,
    /// `NO_GCE_CHECK` is true: do not look for a metadata server.
    pub no_gce_check: bool,
    /// `GOOGLE_CLOUD_PROJECT`, or `GCLOUD_PROJECT` when the first is not set (an empty
    /// `GOOGLE_CLOUD_PROJECT` hides `GCLOUD_PROJECT` and names no project, as in google-auth).
    pub project: Option<String>,
    /// gauth's credential store: `authorized_user.json` in gauth's folder of the user's
    /// config directory (`$XDG_CONFIG_HOME/gauth` or `~/.config/gauth` on Linux), the file
    /// `gauth login` writes. Read only with [`AdcOrder::WithGauthStore`].
    pub gauth_store: Option<PathBuf>,
    /// `GOOGLE_CLOUD_QUOTA_PROJECT`: the quota project, over any file's.
    pub quota_project: Option<String>,
    /// `CLOUDSDK_ACTIVE_CONFIG_NAME`: gcloud's configuration to read (else the one named in
    /// `active_config`, else `default`).
    pub gcloud_active_config: Option<String>,
    /// `CLOUDSDK_CORE_PROJECT`: gcloud's project, over its configuration's.
    pub gcloud_project: Option<String>,
}

impl AdcEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Self::from_vars(|k| std::env::var_os(k))
    }

    /// Reads the variables from `get` (the process environment, a test's map), as
    /// google-auth reads them: an empty variable is unset, except that an empty
    /// `GOOGLE_CLOUD_PROJECT` still hides `GCLOUD_PROJECT`.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let vars: HashMap<&str, &str> = [("GCLOUD_PROJECT", "legacy"), ("GOOGLE_CLOUD_QUOTA_PROJECT", "q")].into();
    /// let env = gauth::adc::AdcEnv::from_vars(|k| vars.get(k).map(Into::into));
    /// assert_eq!(env.project.as_deref(), Some("legacy"));
    /// assert_eq!(env.quota_project.as_deref(), Some("q"));
    /// ```
    pub fn from_vars(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Self {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let text = |k: &str| var(k).and_then(|v| v.into_string().ok());
        AdcEnv {
            credentials_file: var("GOOGLE_APPLICATION_CREDENTIALS").map(PathBuf::from),
            cloudsdk_config: var("CLOUDSDK_CONFIG").map(PathBuf::from),
            home: if cfg!(windows) {
                var("APPDATA")
            } else {
                var("HOME")
            }
            .map(PathBuf::from),
            metadata_host: text("GCE_METADATA_HOST"),
            metadata_ip: text("GCE_METADATA_IP"),
            no_gce_check: text("NO_GCE_CHECK").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            // google-auth: os.environ.get(PROJECT, os.environ.get(LEGACY_PROJECT)), then
            // an empty value counts as none.
            project: match get("GOOGLE_CLOUD_PROJECT") {
                Some(p) => p.into_string().ok(),
                None => text("GCLOUD_PROJECT"),
            }
            .filter(|p| !p.is_empty()),
            quota_project: text("GOOGLE_CLOUD_QUOTA_PROJECT"),
            gcloud_active_config: text("CLOUDSDK_ACTIVE_CONFIG_NAME"),
            gcloud_project: text("CLOUDSDK_CORE_PROJECT"),
            gauth_store: dirs::config_dir().map(|d| d.join("gauth").join("authorized_user.json")),
        }
    }

    /// gcloud's configuration folder (`$CLOUDSDK_CONFIG`, or `~/.config/gcloud`).
    fn gcloud_dir(&self) -> Option<PathBuf> {
        match &self.cloudsdk_config {
            Some(d) => Some(d.clone()),
            None if cfg!(windows) => Some(self.home.as_ref()?.join("gcloud")),
            None => Some(self.home.as_ref()?.join(".config").join("gcloud")),
        }
    }

    /// gcloud's project: `CLOUDSDK_CORE_PROJECT`, else `project` in the `[core]` section of
    /// the active configuration (`configurations/config_NAME`), which google-auth asks the
    /// `gcloud` command for (`gcloud config get project`); gauth reads the files gcloud
    /// reads and starts no process.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::create_dir(dir.path().join("configurations")).unwrap();
    /// std::fs::write(dir.path().join("active_config"), "work\n").unwrap();
    /// std::fs::write(dir.path().join("configurations/config_work"),
    ///     "[core]\naccount = me@example.com\nproject = my-project\n").unwrap();
    /// let env = gauth::adc::AdcEnv { cloudsdk_config: Some(dir.path().into()), ..Default::default() };
    /// assert_eq!(env.gcloud_project().as_deref(), Some("my-project"));
    /// ```
    pub fn gcloud_project(&self) -> Option<String> {
        if let Some(p) = self.gcloud_project.clone().filter(|p| !p.is_empty()) {
            return Some(p);
        }
        let dir = self.gcloud_dir()?;
        let name = match &self.gcloud_active_config {
            Some(n) => n.clone(),
            None => std::fs::read_to_string(dir.join("active_config"))
                .ok()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into()),
        };
        // A configuration name is one path segment.
        if name.contains(['/', '\\']) || name.starts_with('.') {
            return None;
        }
        let text = read_small(&dir.join("configurations").join(format!("config_{name}")))?;
        ini_value(&text, "core", "project").filter(|p| !p.is_empty())
    }

    /// Whether `path` is gcloud's well-known file (google-auth then asks gcloud for the
    /// project, whichever variable named the file).
    fn is_gcloud_file(&self, path: &Path) -> bool {
        self.gcloud_file().is_some_and(|g| g == path)
    }

    /// gcloud's well-known ADC file.
    pub fn gcloud_file(&self) -> Option<PathBuf> {
        Some(
            self.gcloud_dir()?
                .join("application_default_credentials.json"),
        )
    }

    fn metadata(&self) -> MetadataCredentials {
        let m = match &self.metadata_host {
            Some(h) => MetadataCredentials::with_host(h),
            None => MetadataCredentials::with_host(oauth_sa::METADATA_HOST),
        };
        match &self.quota_project {
            Some(q) => m.with_quota_project(q),
            None => m,
        }
    }

    fn ping_host(&self) -> String {
        self.metadata_ip
            .clone()
            .or_else(|| self.metadata_host.clone())
            .unwrap_or_else(|| oauth_sa::METADATA_IP.into())
    }
}

/// What ADC looks for and how.
///
/// ```
/// use std::time::Duration;
/// let opts = gauth::adc::AdcOptions::new(&["https://www.googleapis.com/auth/cloud-platform"])
///     .detection_timeout(Duration::from_millis(500));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
pub struct AdcOptions {
    scopes: Vec<String>,
    policy: EndpointPolicy,
    detection_timeout: Duration,
    env: Option<AdcEnv>,
    order: AdcOrder,
}

impl AdcOptions {
    /// Options asking for `scopes`.
    pub fn new<S: AsRef<str>>(scopes: &[S]) -> Self {
        AdcOptions {
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            policy: EndpointPolicy::default(),
            detection_timeout: Duration::from_secs(3),
            env: None,
            order: AdcOrder::Google,
        }
    }

    /// Where to look, in order ([`AdcOrder::Google`] by default).
    pub fn order(mut self, order: AdcOrder) -> Self {
        self.order = order;
        self
    }

    /// The policy for endpoints read from files.
    pub fn endpoint_policy(mut self, policy: EndpointPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How long the metadata-server ping may take (3 s by default, as in google-auth).
    pub fn detection_timeout(mut self, timeout: Duration) -> Self {
        self.detection_timeout = timeout;
        self
    }

    /// The environment to read instead of the process's.
    pub fn env(mut self, env: AdcEnv) -> Self {
        self.env = Some(env);
        self
    }
}

/// A credential source found by ADC, before it is put behind a handle.
#[derive(Debug, Clone)]
pub struct Found {
    /// The source.
    pub source: Arc<dyn TokenSource>,
    /// The project, when known without a request.
    pub project_id: Option<String>,
    /// Where it was found.
    pub origin: AdcOrigin,
    /// The store its refreshes go to: gauth's own store file for a user found there (the
    /// handle writes every refresh back to it); `None` for the files ADC only reads.
    pub store: Option<FileStore>,
}

/// Loads a credentials file of type `authorized_user` or `service_account` (and, with the
/// `external-account` feature, `external_account`, `external_account_authorized_user` and
/// `impersonated_service_account`), with the project id it names: a service account's
/// `project_id`; none for a user (google-auth's `load_credentials_from_file`: a user file's
/// `quota_project_id` is its quota project, sent as `x-goog-user-project`, not a project id).
///
/// ```
/// let e = gauth::adc::load_file(std::path::Path::new("/no/such.json"), &["s"], &Default::default()).unwrap_err();
/// assert!(e.to_string().starts_with("cannot read /no/such.json"));
/// ```
pub fn load_file<S: AsRef<str>>(
    path: &Path,
    scopes: &[S],
    policy: &EndpointPolicy,
) -> Result<(Arc<dyn TokenSource>, Option<String>), AdcError> {
    load_file_with_quota(path, scopes, policy, None)
}

/// [`load_file`], with a quota project that replaces the file's (google-auth applies
/// `GOOGLE_CLOUD_QUOTA_PROJECT` so). A service account's quota project comes only from here:
/// google-auth does not read `quota_project_id` from its key file.
pub fn load_file_with_quota<S: AsRef<str>>(
    path: &Path,
    scopes: &[S],
    policy: &EndpointPolicy,
    quota_project: Option<&str>,
) -> Result<(Arc<dyn TokenSource>, Option<String>), AdcError> {
    let value = oauth_core::json::read_file(path)?;
    let origin = path.display().to_string();
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_owned()).collect();
    let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or("");
    match kind {
        "service_account" => {
            let mut sa = ServiceAccountCredentials::from_value_with(&value, &origin, policy)?
                .with_scopes(scopes);
            if let Some(q) = quota_project {
                sa = sa.with_quota_project(q);
            }
            let project = sa.key().project_id().map(str::to_owned);
            Ok((Arc::new(sa), project))
        }
        "authorized_user" => {
            let mut user = AuthorizedUser::from_value_with(&value, &origin, policy)?;
            if !scopes.is_empty() {
                user = user.with_requested_scopes(scopes);
            }
            if let Some(q) = quota_project {
                user = user.with_quota_project(q);
            }
            Ok((Arc::new(user), None))
        }
        // Workload identity federation and the other keyless files: no project id without
        // a request (google-auth asks Cloud Resource Manager; gauth leaves it to the caller).
        #[cfg(feature = "external-account")]
        "external_account"
        | "external_account_authorized_user"
        | "impersonated_service_account" => {
            // As google-auth: no project id from these files (a quota project is not one).
            let source = oauth_external::load(&value, &origin, policy, &scopes)?;
            Ok((source, None))
        }
        other => Err(oauth_core::Error::UnknownType {
            origin,
            found: if other.is_empty() {
                "(none)".into()
            } else {
                other.into()
            },
            supported: SUPPORTED_TYPES.into(),
        }
        .into()),
    }
}

/// The file steps of ADC, without reading any file: the first file found in
/// `options`' order, or the list of what was tried. A program that reads credential files
/// its own way (the `gauth` command line does) searches with this.
///
/// ```
/// use gauth::adc::{AdcEnv, AdcOptions, AdcOrder, AdcOrigin, locate_file};
/// let dir = tempfile::tempdir().unwrap();
/// let store = dir.path().join("authorized_user.json");
/// std::fs::write(&store, "{}").unwrap();
/// let env = AdcEnv { gauth_store: Some(store.clone()), cloudsdk_config: Some(dir.path().into()), ..Default::default() };
/// let google = AdcOptions::new(&["openid"]);
/// assert!(locate_file(&google, &env)?.is_err(), "google-auth's order ignores gauth's store");
/// let gauth = google.order(AdcOrder::WithGauthStore);
/// assert_eq!(locate_file(&gauth, &env)?, Ok(AdcOrigin::GauthStore(store)));
/// # Ok::<(), gauth::adc::AdcError>(())
/// ```
pub fn locate_file(
    options: &AdcOptions,
    env: &AdcEnv,
) -> Result<Result<AdcOrigin, Vec<String>>, AdcError> {
    let mut tried = Vec::new();
    if let Some(p) = &env.credentials_file {
        if !p.is_file() {
            return Err(AdcError::MissingEnvironmentFile(p.clone()));
        }
        return Ok(Ok(AdcOrigin::EnvironmentFile(p.clone())));
    }
    tried.push("GOOGLE_APPLICATION_CREDENTIALS (not set)".to_owned());
    if options.order == AdcOrder::WithGauthStore {
        match &env.gauth_store {
            Some(p) if p.is_file() => return Ok(Ok(AdcOrigin::GauthStore(p.clone()))),
            Some(p) => tried.push(format!("gauth's credential store {} (absent)", p.display())),
            None => tried.push("gauth's credential store (no config directory)".to_owned()),
        }
    }
    match env.gcloud_file() {
        Some(p) if p.is_file() => return Ok(Ok(AdcOrigin::GcloudFile(p))),
        Some(p) => tried.push(format!("gcloud's file {} (absent)", p.display())),
        None => tried.push("gcloud's file (no HOME or CLOUDSDK_CONFIG)".to_owned()),
    }
    Ok(Err(tried))
}

/// A file's source and project: the environment's project first, then the file's, then
/// (for gcloud's own file) gcloud's configured project, as google-auth's `default()` does.
fn found_file(
    path: &Path,
    options: &AdcOptions,
    env: &AdcEnv,
    origin: AdcOrigin,
) -> Result<Found, AdcError> {
    let (source, project) = load_file_with_quota(
        path,
        &options.scopes,
        &options.policy,
        env.quota_project.as_deref(),
    )?;
    // gauth's own store keeps the user's refreshes; the other files are only read.
    let store = matches!(origin, AdcOrigin::GauthStore(_)).then(|| FileStore::new(path));
    let project = match (&env.project, project) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(p)) => Some(p),
        (None, None) if env.is_gcloud_file(path) => env.gcloud_project(),
        (None, None) => None,
    };
    Ok(Found {
        source,
        project_id: project,
        origin,
        store,
    })
}

/// Reads a small text file (gcloud's configuration), `None` when absent or too large.
fn read_small(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// The value of `key` in `[section]` of an INI text, as gcloud's configuration files are.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        let Some((k, v)) = line.split_once('=').or_else(|| line.split_once(':')) else {
            continue;
        };
        if current == section && k.trim() == key {
            // The last assignment wins, as in Python's configparser-based reader.
            found = Some(v.trim().to_owned());
        }
    }
    found
}

/// The credential file types ADC reads.
#[cfg(feature = "external-account")]
const SUPPORTED_TYPES: &str = "authorized_user, service_account, external_account, \
     external_account_authorized_user, impersonated_service_account";
#[cfg(not(feature = "external-account"))]
const SUPPORTED_TYPES: &str = "authorized_user, service_account";

/// The file steps of ADC (no network): the source from the first file found, or the
/// list of what was tried.
pub fn find_file(
    options: &AdcOptions,
    env: &AdcEnv,
) -> Result<Result<Found, Vec<String>>, AdcError> {
    let origin = match locate_file(options, env)? {
        Ok(origin) => origin,
        Err(tried) => return Ok(Err(tried)),
    };
    let Some(path) = origin.path().map(Path::to_path_buf) else {
        return Ok(Err(Vec::new()));
    };
    found_file(&path, options, env, origin).map(Ok)
}

/// The metadata-server detection: an exchange that pings once, with no retry.
pub fn detection_exchange(env: &AdcEnv) -> impl Exchange<Output = bool> + use<> {
    Retrying::new(
        MetadataCredentials::ping_call(&env.ping_host()),
        RetryPolicy::none(),
    )
}

fn metadata_found(scopes: &[String], env: &AdcEnv) -> (MetadataCredentials, AdcOrigin) {
    let m = env.metadata().with_scopes(scopes.to_vec());
    let host = env
        .metadata_host
        .clone()
        .unwrap_or_else(|| oauth_sa::METADATA_HOST.into());
    (m, AdcOrigin::MetadataServer(host))
}

fn not_found(mut tried: Vec<String>, env: &AdcEnv, what: String) -> AdcError {
    if env.no_gce_check {
        tried.push("the metadata server (skipped: NO_GCE_CHECK)".into());
    } else {
        tried.push(format!(
            "the metadata server at {} ({what})",
            env.ping_host()
        ));
    }
    AdcError::NotFound { tried }
}

/// The file steps of a search with `options`: the environment (the options' or the
/// process's) and what [`find_file`] found in it. This is the part that reads files; the
/// async flavour runs it on tokio's blocking pool.
pub fn file_step(options: &AdcOptions) -> Result<(AdcEnv, Result<Found, Vec<String>>), AdcError> {
    let env = options.env.clone().unwrap_or_else(AdcEnv::from_process);
    let files = find_file(options, &env)?;
    Ok((env, files))
}

/// ADC's search after the files, written once for both flavours as a sans-IO exchange:
/// the file found, or (unless `NO_GCE_CHECK`) a ping of the metadata server, then its
/// project id when the environment names none. Its output is the credential source found,
/// or the [`AdcError`] listing every place tried. Each flavour runs it with its runner over
/// a client whose timeouts are [`Search::detection_timeout`] (google-auth gives both
/// metadata requests the same 3 s).
///
/// ```
/// use oauth_core::exchange::{Exchange, Input, Step};
/// use gauth::adc::{AdcEnv, AdcOptions, Search};
/// let env = AdcEnv { no_gce_check: true, ..Default::default() };
/// let mut search = Search::new(&AdcOptions::new(&["openid"]), env, Err(vec!["nothing".into()]));
/// assert_eq!(search.detection_timeout(), None);
/// let Step::Done(Ok(Err(e))) = search.step(Input::Start) else { panic!() };
/// assert!(e.to_string().contains("skipped: NO_GCE_CHECK"));
/// ```
pub struct Search {
    phase: Phase,
    scopes: Vec<String>,
    env: AdcEnv,
    timeout: Duration,
}

/// Where a [`Search`] is.
enum Phase {
    /// Decided without a request (a file, or nothing and no metadata check).
    Decided(Option<Result<Found, AdcError>>),
    /// Pinging the metadata server; what the files steps tried.
    Ping(Box<dyn Exchange<Output = bool> + Send>, Vec<String>),
    /// Asking the metadata server for the project id.
    Project(Retrying<oauth_sa::MetadataCall<String>>, Option<Found>),
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let phase = match &self.phase {
            Phase::Decided(_) => "decided",
            Phase::Ping(..) => "ping",
            Phase::Project(..) => "project",
        };
        f.debug_struct("Search")
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}

impl Search {
    /// A search in `env` that continues from the file steps' result (see [`file_step`]).
    pub fn new(options: &AdcOptions, env: AdcEnv, files: Result<Found, Vec<String>>) -> Self {
        let phase = match files {
            Ok(found) => Phase::Decided(Some(Ok(found))),
            Err(tried) if env.no_gce_check => {
                Phase::Decided(Some(Err(not_found(tried, &env, String::new()))))
            }
            Err(tried) => Phase::Ping(Box::new(detection_exchange(&env)), tried),
        };
        Search {
            phase,
            scopes: options.scopes.clone(),
            env,
            timeout: options.detection_timeout,
        }
    }

    /// The timeouts the metadata requests need, or `None` when the search sends nothing.
    pub fn detection_timeout(&self) -> Option<Duration> {
        matches!(self.phase, Phase::Ping(..)).then_some(self.timeout)
    }

    /// The metadata server answered the ping: its credentials, then the project id.
    fn detected(&mut self) -> Step<Result<Found, AdcError>> {
        let (m, origin) = metadata_found(&self.scopes, &self.env);
        let call = Retrying::new(m.project_id_call(), RetryPolicy::default());
        let found = Found {
            source: Arc::new(m),
            project_id: self.env.project.clone(),
            origin,
            store: None,
        };
        if found.project_id.is_some() {
            return Step::Done(Ok(Ok(found)));
        }
        self.phase = Phase::Project(call, Some(found));
        self.step(Input::Start)
    }
}

impl Exchange for Search {
    type Output = Result<Found, AdcError>;

    fn step(&mut self, input: Input) -> Step<Self::Output> {
        match &mut self.phase {
            Phase::Decided(result) => match result.take() {
                Some(r) => Step::Done(Ok(r)),
                None => Step::Done(Err(oauth_core::Error::InvalidRequest(
                    "the ADC search has already finished".into(),
                ))),
            },
            Phase::Ping(ping, tried) => match ping.step(input) {
                Step::Send(r) => Step::Send(r),
                Step::Wait(d) => Step::Wait(d),
                Step::Done(Ok(true)) => self.detected(),
                Step::Done(answer) => {
                    let what = match answer {
                        Err(e) => format!("not found: {e}"),
                        Ok(_) => "answered, but is not a metadata server".into(),
                    };
                    let e = not_found(std::mem::take(tried), &self.env, what);
                    self.phase = Phase::Decided(None);
                    Step::Done(Ok(Err(e)))
                }
            },
            Phase::Project(call, found) => match call.step(input) {
                Step::Send(r) => Step::Send(r),
                Step::Wait(d) => Step::Wait(d),
                Step::Done(project) => {
                    let Some(mut found) = found.take() else {
                        return Step::Done(Ok(Err(not_found(
                            Vec::new(),
                            &self.env,
                            String::new(),
                        ))));
                    };
                    // As google-auth: credentials without a project when the server has none.
                    found.project_id = project.ok();
                    self.phase = Phase::Decided(None);
                    Step::Done(Ok(Ok(found)))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, v: serde_json::Value) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p
    }

    fn user() -> serde_json::Value {
        serde_json::json!({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                           "refresh_token": "r", "quota_project_id": "quota-p"})
    }

    #[test]
    fn the_environment_file_comes_first_then_gclouds() {
        let dir = tempfile::tempdir().unwrap();
        let gcloud = dir.path().join("gcloud");
        std::fs::create_dir(&gcloud).unwrap();
        write(&gcloud, "application_default_credentials.json", user());
        let mut env = AdcEnv {
            cloudsdk_config: Some(gcloud.clone()),
            no_gce_check: true,
            ..Default::default()
        };
        let opts = AdcOptions::new(&["s"]);
        let found = find_file(&opts, &env).unwrap().unwrap();
        assert_eq!(
            found.origin,
            AdcOrigin::GcloudFile(gcloud.join("application_default_credentials.json"))
        );
        // A user file names no project; its quota_project_id is the quota project.
        assert_eq!(found.project_id, None);
        assert_eq!(found.source.quota_project_id(), Some("quota-p"));
        assert_eq!(found.source.kind(), "authorized_user");
        let other = write(dir.path(), "env.json", user());
        env.credentials_file = Some(other.clone());
        env.project = Some("from-env".into());
        let found = find_file(&opts, &env).unwrap().unwrap();
        assert_eq!(found.origin, AdcOrigin::EnvironmentFile(other));
        assert_eq!(found.project_id.as_deref(), Some("from-env"));
        env.credentials_file = Some(dir.path().join("missing.json"));
        assert!(matches!(
            find_file(&opts, &env),
            Err(AdcError::MissingEnvironmentFile(_))
        ));
    }

    #[test]
    fn the_gauth_order_reads_gauths_store_after_the_environment_and_before_gcloud() {
        let dir = tempfile::tempdir().unwrap();
        let gcloud = dir.path().join("gcloud");
        std::fs::create_dir(&gcloud).unwrap();
        write(&gcloud, "application_default_credentials.json", user());
        let store = dir.path().join("gauth-store.json");
        let mut env = AdcEnv {
            cloudsdk_config: Some(gcloud.clone()),
            gauth_store: Some(store.clone()),
            no_gce_check: true,
            ..Default::default()
        };
        let gauth = AdcOptions::new(&["s"]).order(AdcOrder::WithGauthStore);
        // No store yet: gcloud's file, and the store is listed as tried.
        let found = find_file(&gauth, &env).unwrap().unwrap();
        assert!(matches!(found.origin, AdcOrigin::GcloudFile(_)));
        write(dir.path(), "gauth-store.json", user());
        let found = find_file(&gauth, &env).unwrap().unwrap();
        assert_eq!(found.origin, AdcOrigin::GauthStore(store.clone()));
        // google-auth's order never looks there.
        let google = AdcOptions::new(&["s"]);
        let found = find_file(&google, &env).unwrap().unwrap();
        assert!(matches!(found.origin, AdcOrigin::GcloudFile(_)));
        // The environment still comes first.
        let other = write(dir.path(), "env.json", user());
        env.credentials_file = Some(other.clone());
        let found = find_file(&gauth, &env).unwrap().unwrap();
        assert_eq!(found.origin, AdcOrigin::EnvironmentFile(other));
        // Nothing anywhere: every place is named, the store second.
        let empty = tempfile::tempdir().unwrap();
        let env = AdcEnv {
            cloudsdk_config: Some(empty.path().to_owned()),
            gauth_store: Some(empty.path().join("none.json")),
            no_gce_check: true,
            ..Default::default()
        };
        let e = blocking::find(&gauth.clone().env(env)).unwrap_err();
        let AdcError::NotFound { tried } = &e else {
            panic!("{e}")
        };
        assert_eq!(tried.len(), 4, "{e}");
        assert!(tried[1].starts_with("gauth's credential store"), "{e}");
    }

    #[test]
    fn credentials_from_gauths_store_write_their_refreshes_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = write(dir.path(), "store.json", user());
        let env = AdcEnv {
            gauth_store: Some(store.clone()),
            cloudsdk_config: Some(dir.path().to_owned()),
            no_gce_check: true,
            ..Default::default()
        };
        let opts = AdcOptions::new(&["s"]).order(AdcOrder::WithGauthStore);
        let found = find_file(&opts, &env).unwrap().unwrap();
        assert!(
            found
                .source
                .as_any()
                .downcast_ref::<AuthorizedUser>()
                .is_some()
        );
        assert_eq!(
            found.store.as_ref().map(|s| s.path()),
            Some(store.as_path())
        );
    }

    #[cfg(feature = "flow")]
    #[test]
    fn gauths_store_is_where_the_flow_saves_by_default() {
        assert_eq!(
            AdcEnv::from_process().gauth_store,
            oauth_flow::default_store()
                .ok()
                .map(|s| s.path().to_owned())
        );
    }

    #[test]
    fn gclouds_project_is_read_from_its_active_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let gcloud = dir.path();
        std::fs::create_dir(gcloud.join("configurations")).unwrap();
        let config = |name: &str, text: &str| {
            std::fs::write(gcloud.join("configurations").join(name), text).unwrap();
        };
        config("config_default", "[core]\nproject = default-p\n");
        config(
            "config_work",
            "# comment\n[compute]\nproject = not-this\n[core]\naccount = a@b.c\nproject=work-p\n",
        );
        let mut env = AdcEnv {
            cloudsdk_config: Some(gcloud.to_owned()),
            ..Default::default()
        };
        assert_eq!(env.gcloud_project().as_deref(), Some("default-p"));
        std::fs::write(gcloud.join("active_config"), "work\n").unwrap();
        assert_eq!(env.gcloud_project().as_deref(), Some("work-p"));
        env.gcloud_active_config = Some("default".into());
        assert_eq!(env.gcloud_project().as_deref(), Some("default-p"));
        env.gcloud_active_config = Some("../../etc".into());
        assert_eq!(env.gcloud_project(), None);
        env.gcloud_project = Some("from-env".into());
        assert_eq!(env.gcloud_project().as_deref(), Some("from-env"));
        // The user file at gcloud's path takes gcloud's project; the environment's wins.
        env.gcloud_project = None;
        env.gcloud_active_config = None;
        write(gcloud, "application_default_credentials.json", user());
        env.quota_project = Some("env-quota".into());
        let opts = AdcOptions::new(&["s"]);
        let found = find_file(&opts, &env).unwrap().unwrap();
        assert_eq!(found.project_id.as_deref(), Some("work-p"));
        assert_eq!(found.source.quota_project_id(), Some("env-quota"));
        env.project = Some("env-p".into());
        let found = find_file(&opts, &env).unwrap().unwrap();
        assert_eq!(found.project_id.as_deref(), Some("env-p"));
        // The same file named by GOOGLE_APPLICATION_CREDENTIALS elsewhere: no gcloud project.
        env.project = None;
        let other = write(dir.path(), "copy.json", user());
        env.credentials_file = Some(other);
        assert_eq!(find_file(&opts, &env).unwrap().unwrap().project_id, None);
    }

    #[test]
    fn ini_values_are_read_per_section() {
        let text = "[core]\nproject = a\n[other]\nproject = b\n[core]\n project : c \n";
        assert_eq!(ini_value(text, "core", "project").as_deref(), Some("c"));
        assert_eq!(ini_value(text, "other", "project").as_deref(), Some("b"));
        assert_eq!(ini_value(text, "none", "project"), None);
        assert_eq!(ini_value("project = x", "core", "project"), None);
    }

    #[test]
    fn nothing_found_lists_what_was_tried() {
        let dir = tempfile::tempdir().unwrap();
        let env = AdcEnv {
            cloudsdk_config: Some(dir.path().to_owned()),
            no_gce_check: true,
            ..Default::default()
        };
        let e = blocking::find(&AdcOptions::new(&["s"]).env(env))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("GOOGLE_APPLICATION_CREDENTIALS (not set)"),
            "{e}"
        );
        assert!(
            e.contains("application_default_credentials.json (absent)"),
            "{e}"
        );
        assert!(e.contains("metadata server (skipped: NO_GCE_CHECK)"), "{e}");
    }

    #[test]
    fn unsupported_file_types_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "x.json",
            serde_json::json!({"type": "gdch_service_account"}),
        );
        let e = load_file(&p, &["s"], &EndpointPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported credentials type `gdch_service_account`"),
            "{e}"
        );
    }

    #[cfg(feature = "external-account")]
    #[test]
    fn keyless_files_are_found_with_their_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "wif.json",
            serde_json::json!({"type": "external_account",
                "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/o",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "credential_source": {"file": "/var/run/token"}}),
        );
        let env = AdcEnv {
            credentials_file: Some(p),
            no_gce_check: true,
            ..Default::default()
        };
        let found = find_file(&AdcOptions::new(&["s"]), &env).unwrap().unwrap();
        assert_eq!(found.source.kind(), "external_account");
        let ext = found
            .source
            .as_any()
            .downcast_ref::<oauth_external::ExternalAccountCredentials>()
            .unwrap();
        assert_eq!(ext.scopes(), Some(&["s".to_string()][..]));
        let bad = write(
            dir.path(),
            "bad.json",
            serde_json::json!({"type": "external_account", "audience": "a",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "credential_source": {}}),
        );
        let e = load_file(&bad, &["s"], &EndpointPolicy::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bad.json: invalid field `credential_source`"),
            "{e}"
        );
    }
}
