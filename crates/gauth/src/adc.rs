//! Application Default Credentials: google-auth's `google.auth.default()`.
//!
//! The order is google-auth's:
//! 1. the file named by `GOOGLE_APPLICATION_CREDENTIALS`;
//! 2. gcloud's well-known file, `application_default_credentials.json` in
//!    `$CLOUDSDK_CONFIG` (or `~/.config/gcloud`);
//! 3. the metadata server (`GCE_METADATA_HOST` honoured), when a short ping finds it
//!    (skipped when `NO_GCE_CHECK` is true).
//!
//! The project id comes with the credentials: `GOOGLE_CLOUD_PROJECT` (or
//! `GCLOUD_PROJECT`), else the service-account file's `project_id` or the user file's
//! `quota_project_id`, else the metadata server's. When nothing is found, the error lists
//! every place that was tried.
//!
//! ```no_run
//! let adc = gauth::adc::blocking::default_credentials(&["https://www.googleapis.com/auth/cloud-platform"])?;
//! let token = adc.credentials.token()?;
//! println!("project: {:?}", adc.project_id);
//! # Ok::<(), gauth::adc::AdcError>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oauth_core::exchange::Exchange;
use oauth_core::{AuthorizedUser, EndpointPolicy, RetryPolicy, Retrying, TokenSource};
use oauth_sa::{MetadataCredentials, ServiceAccountCredentials};

/// Where ADC found credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AdcOrigin {
    /// The file named by `GOOGLE_APPLICATION_CREDENTIALS`.
    EnvironmentFile(PathBuf),
    /// gcloud's well-known file.
    GcloudFile(PathBuf),
    /// The metadata server at this host.
    MetadataServer(String),
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
    /// `GOOGLE_CLOUD_PROJECT` or `GCLOUD_PROJECT`.
    pub project: Option<String>,
}

impl AdcEnv {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
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
            project: text("GOOGLE_CLOUD_PROJECT").or_else(|| text("GCLOUD_PROJECT")),
        }
    }

    /// gcloud's well-known ADC file.
    pub fn gcloud_file(&self) -> Option<PathBuf> {
        let dir = match &self.cloudsdk_config {
            Some(d) => d.clone(),
            None if cfg!(windows) => self.home.as_ref()?.join("gcloud"),
            None => self.home.as_ref()?.join(".config").join("gcloud"),
        };
        Some(dir.join("application_default_credentials.json"))
    }

    fn metadata(&self) -> MetadataCredentials {
        match &self.metadata_host {
            Some(h) => MetadataCredentials::with_host(h),
            None => MetadataCredentials::with_host(oauth_sa::METADATA_HOST),
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
}

impl AdcOptions {
    /// Options asking for `scopes`.
    pub fn new<S: AsRef<str>>(scopes: &[S]) -> Self {
        AdcOptions {
            scopes: scopes.iter().map(|s| s.as_ref().to_owned()).collect(),
            policy: EndpointPolicy::default(),
            detection_timeout: Duration::from_secs(3),
            env: None,
        }
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
}

/// Loads a credentials file of type `authorized_user` or `service_account` (and, with the
/// `external-account` feature, `external_account`, `external_account_authorized_user` and
/// `impersonated_service_account`), with its project id (the file's `project_id`, or
/// `quota_project_id` for users).
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
    let value = oauth_core::json::read_file(path)?;
    let origin = path.display().to_string();
    let scopes: Vec<String> = scopes.iter().map(|s| s.as_ref().to_owned()).collect();
    let kind = value.get("type").and_then(|t| t.as_str()).unwrap_or("");
    match kind {
        "service_account" => {
            let sa = ServiceAccountCredentials::from_value_with(&value, &origin, policy)?
                .with_scopes(scopes);
            let project = sa.key().project_id().map(str::to_owned);
            Ok((Arc::new(sa), project))
        }
        "authorized_user" => {
            let mut user = AuthorizedUser::from_value_with(&value, &origin, policy)?;
            if !scopes.is_empty() {
                user = user.with_scopes(scopes);
            }
            let project = value
                .get("quota_project_id")
                .and_then(|p| p.as_str())
                .map(str::to_owned);
            Ok((Arc::new(user), project))
        }
        // Workload identity federation and the other keyless files: no project id without
        // a request (google-auth asks Cloud Resource Manager; gauth leaves it to the caller).
        #[cfg(feature = "external-account")]
        "external_account"
        | "external_account_authorized_user"
        | "impersonated_service_account" => {
            let source = oauth_external::load(&value, &origin, policy, &scopes)?;
            let project = value
                .get("quota_project_id")
                .and_then(|p| p.as_str())
                .filter(|_| kind == "external_account_authorized_user")
                .map(str::to_owned);
            Ok((source, project))
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
    let mut tried = Vec::new();
    if let Some(p) = &env.credentials_file {
        if !p.is_file() {
            return Err(AdcError::MissingEnvironmentFile(p.clone()));
        }
        let (source, project) = load_file(p, &options.scopes, &options.policy)?;
        return Ok(Ok(Found {
            source,
            project_id: env.project.clone().or(project),
            origin: AdcOrigin::EnvironmentFile(p.clone()),
        }));
    }
    tried.push("GOOGLE_APPLICATION_CREDENTIALS (not set)".to_owned());
    match env.gcloud_file() {
        Some(p) if p.is_file() => {
            let (source, project) = load_file(&p, &options.scopes, &options.policy)?;
            return Ok(Ok(Found {
                source,
                project_id: env.project.clone().or(project),
                origin: AdcOrigin::GcloudFile(p),
            }));
        }
        Some(p) => tried.push(format!("gcloud's file {} (absent)", p.display())),
        None => tried.push("gcloud's file (no HOME or CLOUDSDK_CONFIG)".to_owned()),
    }
    Ok(Err(tried))
}

/// The metadata-server detection: an exchange that pings once, with no retry.
pub fn detection_exchange(env: &AdcEnv) -> impl Exchange<Output = bool> + use<> {
    Retrying::new(
        MetadataCredentials::ping_call(&env.ping_host()),
        RetryPolicy::none(),
    )
}

fn metadata_found(options: &AdcOptions, env: &AdcEnv) -> (MetadataCredentials, AdcOrigin) {
    let m = env.metadata().with_scopes(options.scopes.clone());
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

/// ADC in the blocking flavour.
#[cfg(feature = "blocking")]
pub mod blocking {
    use super::*;
    use oauth_core::transport::{HttpClient, UreqClient};

    /// Credentials found by ADC, with the project.
    #[derive(Debug, Clone)]
    pub struct DefaultCredentials {
        /// The handle.
        pub credentials: oauth_core::blocking::Credentials,
        /// The project id, when known.
        pub project_id: Option<String>,
        /// Where they were found.
        pub origin: AdcOrigin,
    }

    /// `google.auth.default(scopes)`: the process environment, Google's defaults.
    pub fn default_credentials<S: AsRef<str>>(
        scopes: &[S],
    ) -> Result<DefaultCredentials, AdcError> {
        find(&AdcOptions::new(scopes))
    }

    /// ADC with options.
    pub fn find(options: &AdcOptions) -> Result<DefaultCredentials, AdcError> {
        let env = options.env.clone().unwrap_or_else(AdcEnv::from_process);
        let tried = match find_file(options, &env)? {
            Ok(found) => {
                return Ok(DefaultCredentials {
                    credentials: oauth_core::blocking::Credentials::builder_from_arc(found.source)
                        .build(),
                    project_id: found.project_id,
                    origin: found.origin,
                });
            }
            Err(tried) => tried,
        };
        if env.no_gce_check {
            return Err(not_found(tried, &env, String::new()));
        }
        let t = options.detection_timeout;
        let detect = UreqClient::with_timeouts(t, t);
        match oauth_core::blocking::run(&detect, &mut detection_exchange(&env)) {
            Ok(true) => {}
            Ok(false) => {
                return Err(not_found(
                    tried,
                    &env,
                    "answered, but is not a metadata server".into(),
                ));
            }
            Err(e) => return Err(not_found(tried, &env, format!("not found: {e}"))),
        }
        let (m, origin) = metadata_found(options, &env);
        let http = UreqClient::shared() as Arc<dyn HttpClient>;
        let project_id = match env.project.clone() {
            Some(p) => Some(p),
            None => oauth_core::blocking::run(
                http.as_ref(),
                &mut Retrying::new(m.project_id_call(), RetryPolicy::default()),
            )
            .ok(),
        };
        Ok(DefaultCredentials {
            credentials: oauth_core::blocking::Credentials::builder(m)
                .http_client(http)
                .build(),
            project_id,
            origin,
        })
    }
}

/// ADC in the async flavour.
#[cfg(feature = "async")]
pub mod asynchronous {
    use super::*;
    use oauth_core::transport::{AsyncHttpClient, ReqwestClient};

    /// Credentials found by ADC, with the project.
    #[derive(Debug, Clone)]
    pub struct DefaultCredentials {
        /// The handle.
        pub credentials: oauth_core::Credentials,
        /// The project id, when known.
        pub project_id: Option<String>,
        /// Where they were found.
        pub origin: AdcOrigin,
    }

    /// `google.auth.default(scopes)` for async programs. Reading files is blocking, but
    /// small and done once.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), gauth::adc::AdcError> {
    /// let adc = gauth::adc::asynchronous::default_credentials(&["https://www.googleapis.com/auth/cloud-platform"]).await?;
    /// let token = adc.credentials.token().await;
    /// # Ok(()) }
    /// ```
    pub async fn default_credentials<S: AsRef<str>>(
        scopes: &[S],
    ) -> Result<DefaultCredentials, AdcError> {
        find(&AdcOptions::new(scopes)).await
    }

    /// ADC with options.
    pub async fn find(options: &AdcOptions) -> Result<DefaultCredentials, AdcError> {
        let env = options.env.clone().unwrap_or_else(AdcEnv::from_process);
        let tried = match find_file(options, &env)? {
            Ok(found) => {
                return Ok(DefaultCredentials {
                    credentials: oauth_core::Credentials::builder_from_arc(found.source).build(),
                    project_id: found.project_id,
                    origin: found.origin,
                });
            }
            Err(tried) => tried,
        };
        if env.no_gce_check {
            return Err(not_found(tried, &env, String::new()));
        }
        let t = options.detection_timeout;
        let detect = ReqwestClient::with_timeouts(t, t);
        match oauth_core::run_async(&detect, &mut detection_exchange(&env)).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(not_found(
                    tried,
                    &env,
                    "answered, but is not a metadata server".into(),
                ));
            }
            Err(e) => return Err(not_found(tried, &env, format!("not found: {e}"))),
        }
        let (m, origin) = metadata_found(options, &env);
        let http = ReqwestClient::shared() as Arc<dyn AsyncHttpClient>;
        let project_id = match env.project.clone() {
            Some(p) => Some(p),
            None => oauth_core::run_async(
                http.as_ref(),
                &mut Retrying::new(m.project_id_call(), RetryPolicy::default()),
            )
            .await
            .ok(),
        };
        Ok(DefaultCredentials {
            credentials: oauth_core::Credentials::builder(m)
                .http_client(http)
                .build(),
            project_id,
            origin,
        })
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
        assert_eq!(found.project_id.as_deref(), Some("quota-p"));
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
