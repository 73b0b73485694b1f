//! `external_account` files: workload and workforce identity federation. A subject token
//! from the file's `credential_source` is exchanged at STS (RFC 8693) for a Google access
//! token, optionally exchanged again for a service account's token (IAM Credentials).

use std::any::Any;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oauth_core::exchange::BoxExchange;
use oauth_core::json::{self, Fields};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{StoredToken, TokenKey};
use oauth_core::{EndpointPolicy, Error, Retrying, Token, TokenResponse};
use oauth_sa::ImpersonatedCredentials;
use serde_json::Value;
use url::Url;

use crate::env::Environment;
use crate::pyjson::Py;
use crate::steps::Then;
use crate::sts::{ClientAuth, StsCall, options};
use crate::subject::{AWS_TOKEN_TYPE, SubjectContext, SubjectSource};

/// The subject token types STS takes.
pub const SUBJECT_TOKEN_TYPES: [&str; 5] = [
    "urn:ietf:params:oauth:token-type:jwt",
    "urn:ietf:params:oauth:token-type:id_token",
    "urn:ietf:params:oauth:token-type:saml2",
    "urn:ietf:params:oauth:token-type:access_token",
    AWS_TOKEN_TYPE,
];

/// What an `external_account` file says, checked.
#[derive(Debug, Clone)]
struct Config {
    origin: String,
    audience: String,
    subject_token_type: String,
    token_url: Url,
    token_info_url: Option<Url>,
    client: Option<ClientAuth>,
    scopes: Option<Vec<String>>,
    workforce_pool_user_project: Option<String>,
    quota_project_id: Option<String>,
    universe_domain: String,
    impersonation_url: Option<Url>,
    impersonated_email: Option<String>,
    lifetime: Option<u64>,
    source: SubjectSource,
    env: Environment,
}

/// Credentials from an `external_account` file (google-auth's `identity_pool`, `aws` and
/// `pluggable` credentials): workload identity federation from GitHub Actions, AWS, Azure,
/// GKE, on-premises OIDC or SAML providers, and workforce pools.
///
/// Every refresh obtains a subject token from the file's `credential_source` (a file, a
/// URL, an executable, or AWS), exchanges it at `token_url` (STS) with the file's
/// `audience`, `subject_token_type`, client credentials and workforce project, and, with
/// `service_account_impersonation_url`, exchanges the result for the service account's
/// token. All of it is one sans-IO exchange, driven by either flavour's handle; requests
/// are google-auth's, field for field.
///
/// Every endpoint the file names that receives a Google credential (`token_url`,
/// `service_account_impersonation_url`, `token_info_url`) must pass the
/// [`EndpointPolicy`]; subject-token sources receive no Google credential.
///
/// ```
/// use oauth_external::ExternalAccountCredentials;
/// let creds = ExternalAccountCredentials::from_json(br#"{
///   "type": "external_account",
///   "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/github",
///   "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
///   "token_url": "https://sts.googleapis.com/v1/token",
///   "credential_source": {"file": "/var/run/secrets/token"}
/// }"#, "wif.json").unwrap()
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
/// assert_eq!(creds.project_number(), Some("123"));
/// assert_eq!(creds.source_kind(), "file");
/// let e = ExternalAccountCredentials::from_json(br#"{"type": "external_account",
///   "audience": "a", "subject_token_type": "urn:example:nope", "credential_source": {"file": "t"}}"#,
///   "wif.json").unwrap_err();
/// assert!(e.to_string().starts_with("wif.json: invalid field `subject_token_type`"));
/// ```
#[derive(Debug, Clone)]
pub struct ExternalAccountCredentials {
    config: Arc<Config>,
    impersonated: Option<ImpersonatedCredentials>,
}

impl ExternalAccountCredentials {
    /// Reads an `external_account` file with the default endpoint policy.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_file_with(path, &EndpointPolicy::default())
    }

    /// Reads an `external_account` file, checking its endpoints against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        json::load_file(path.as_ref(), policy, Self::from_value_with)
    }

    /// Parses `external_account` JSON; `origin` names it in errors.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        json::load_json(bytes, origin, Self::from_value_with)
    }

    /// Reads an already parsed value (google-auth's `from_info`).
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        let f = Fields::new(value, origin, "")?;
        f.expect_type("external_account")?;
        let audience = f.required_str("audience")?.to_owned();
        let subject_token_type = f.required_str("subject_token_type")?.to_owned();
        if !SUBJECT_TOKEN_TYPES.contains(&subject_token_type.as_str()) {
            return Err(f.invalid(
                "subject_token_type",
                &format!(
                    "`{}` is not supported; supported: {}",
                    subject_token_type.escape_debug(),
                    SUBJECT_TOKEN_TYPES.join(", ")
                ),
            ));
        }
        let universe_domain = f
            .optional_str("universe_domain")?
            .filter(|u| !u.is_empty())
            .unwrap_or("googleapis.com")
            .to_owned();
        let default_token_url = format!("https://sts.{universe_domain}/v1/token");
        // A file's own universe never widens trust (see docs/decisions.md).
        let checked = |field: &str, value: &str| policy.check(origin, field, value, None);
        // google-auth fills in its own default's `{universe_domain}` placeholder.
        let token_url = match f.optional_str("token_url")? {
            None | Some("https://sts.{universe_domain}/v1/token") => default_token_url.clone(),
            Some(u) => u.to_owned(),
        };
        let token_url = checked("token_url", &token_url)?;
        let token_info_url = match f.optional_str("token_info_url")? {
            Some(u) => Some(checked("token_info_url", u)?),
            None => None,
        };
        let (impersonation_url, impersonated_email) =
            match f.optional_str("service_account_impersonation_url")? {
                None => (None, None),
                Some(u) => {
                    let email = target_principal(u).ok_or_else(|| {
                        f.invalid(
                            "service_account_impersonation_url",
                            "does not end in `/serviceAccounts/EMAIL:generateAccessToken`",
                        )
                    })?;
                    (
                        Some(checked("service_account_impersonation_url", u)?),
                        Some(email),
                    )
                }
            };
        let lifetime = match f.map().get("service_account_impersonation") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let opts = Fields::new(v, origin, "service_account_impersonation")?;
                match opts.map().get("token_lifetime_seconds") {
                    None | Some(Value::Null) => None,
                    Some(n) => Some(n.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                        opts.invalid("token_lifetime_seconds", "expected a positive integer")
                    })?),
                }
            }
        };
        let client = match f.optional_str("client_id")?.filter(|c| !c.is_empty()) {
            Some(id) => Some(ClientAuth::new(id, f.optional_secret("client_secret")?)),
            None => None,
        };
        let workforce_pool_user_project = f
            .optional_str("workforce_pool_user_project")?
            .filter(|p| !p.is_empty())
            .map(str::to_owned);
        if workforce_pool_user_project.is_some() && !is_workforce_pool(&audience) {
            return Err(f.invalid(
                "workforce_pool_user_project",
                "is for workforce pools only; `audience` names a workload identity pool",
            ));
        }
        let source = SubjectSource::parse(&f, &subject_token_type, policy)?;
        let config = Config {
            origin: origin.to_owned(),
            audience,
            subject_token_type,
            token_url,
            token_info_url,
            client,
            scopes: None,
            workforce_pool_user_project,
            quota_project_id: f.optional_str("quota_project_id")?.map(str::to_owned),
            universe_domain,
            impersonation_url,
            impersonated_email,
            lifetime,
            source,
            env: Environment::process(),
        };
        Ok(ExternalAccountCredentials {
            config: Arc::new(config),
            impersonated: None,
        }
        .rebuilt())
    }

    /// Rebuilds the impersonation layer after a change: it is built over a copy of these
    /// credentials without impersonation, as google-auth builds it.
    fn rebuilt(mut self) -> Self {
        let c = &self.config;
        self.impersonated = match (&c.impersonation_url, &c.impersonated_email) {
            (Some(url), Some(email)) => {
                // google-auth re-scopes the source of an impersonation to the IAM scope.
                let mut source = (**c).clone();
                source.scopes = Some(vec![crate::IAM_SCOPE.to_owned()]);
                let mut imp = ImpersonatedCredentials::new(
                    Federated {
                        config: Arc::new(source),
                    },
                    email.clone(),
                )
                .with_access_token_url(url.clone())
                .with_delegates_as_given(None)
                .with_lifetime(Duration::from_secs(c.lifetime.unwrap_or(3600)));
                if let Some(s) = &c.scopes {
                    imp = imp.with_scopes(s.clone());
                }
                if let Some(q) = &c.quota_project_id {
                    imp = imp.with_quota_project(q.clone());
                }
                Some(imp)
            }
            _ => None,
        };
        self
    }

    fn with_config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        f(Arc::make_mut(&mut self.config));
        self.rebuilt()
    }

    /// The scopes asked of STS (and of IAM when impersonating); none by default, as in
    /// google-auth (ADC and the CLI pass theirs).
    pub fn with_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.with_config(|c| c.scopes = Some(scopes))
    }

    /// The project billed for API calls.
    pub fn with_quota_project(self, project: impl Into<String>) -> Self {
        let project = project.into();
        self.with_config(|c| c.quota_project_id = Some(project))
    }

    /// Where `AWS_*` and `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES` are read (the process
    /// environment by default).
    pub fn with_environment(self, env: Environment) -> Self {
        self.with_config(|c| c.env = env)
    }

    /// The STS audience (the workload or workforce pool provider).
    pub fn audience(&self) -> &str {
        &self.config.audience
    }

    /// The subject token type.
    pub fn subject_token_type(&self) -> &str {
        &self.config.subject_token_type
    }

    /// The STS endpoint.
    pub fn token_url(&self) -> &Url {
        &self.config.token_url
    }

    /// The STS introspection endpoint, when the file names one.
    pub fn token_info_url(&self) -> Option<&Url> {
        self.config.token_info_url.as_ref()
    }

    /// The universe domain (googleapis.com unless the file says otherwise).
    pub fn universe_domain(&self) -> &str {
        &self.config.universe_domain
    }

    /// The impersonated service account's email, with service-account impersonation.
    pub fn service_account_email(&self) -> Option<&str> {
        self.config.impersonated_email.as_deref()
    }

    /// The scopes, when set.
    pub fn scopes(&self) -> Option<&[String]> {
        self.config.scopes.as_deref()
    }

    /// Whether the audience names a workforce pool (users) rather than a workload pool.
    pub fn is_workforce_pool(&self) -> bool {
        is_workforce_pool(&self.config.audience)
    }

    /// The project number in a workload pool's audience.
    pub fn project_number(&self) -> Option<&str> {
        let mut parts = self.config.audience.split('/');
        parts.find(|p| *p == "projects")?;
        parts.next().filter(|p| !p.is_empty())
    }

    /// The kind of credential source: `file`, `url`, `executable` or `aws`.
    pub fn source_kind(&self) -> &'static str {
        self.config.source.kind()
    }
}

/// google-auth's `is_workforce_pool`: `//iam.googleapis.com/locations/LOC/workforcePools/`.
fn is_workforce_pool(audience: &str) -> bool {
    audience
        .strip_prefix("//iam.googleapis.com/locations/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(loc, rest)| !loc.is_empty() && rest.starts_with("workforcePools/"))
}

/// The email between the last `/` and `:generateAccessToken`, as google-auth reads it.
pub(crate) fn target_principal(url: &str) -> Option<String> {
    let start = url.rfind('/')?;
    let end = url.find(":generateAccessToken")?;
    (start < end)
        .then(|| url[start + 1..end].to_owned())
        .filter(|e| !e.is_empty())
}

/// The external account without impersonation: STS only.
#[derive(Debug, Clone)]
struct Federated {
    config: Arc<Config>,
}

impl Federated {
    fn exchange(&self, ctx: &RefreshContext) -> Result<BoxExchange<TokenResponse>, Error> {
        let c = Arc::clone(&self.config);
        let cx = SubjectContext {
            origin: &c.origin,
            audience: &c.audience,
            subject_token_type: &c.subject_token_type,
            impersonated_email: c.impersonated_email.as_deref(),
            env: &c.env,
            refresh: ctx,
        };
        let subject = c.source.begin(&cx)?;
        let retry = ctx.retry;
        Ok(Then::boxed(subject, move |subject_token| {
            let scopes = c.scopes.clone().unwrap_or_default();
            let mut call = StsCall::token_exchange(
                c.token_url.clone(),
                &c.audience,
                &c.subject_token_type,
                subject_token,
                &scopes,
            );
            // The client id names the user project; google-auth sends one or the other.
            if let (Some(project), None) = (&c.workforce_pool_user_project, &c.client) {
                call = call.with_options(options(&Py::Obj(vec![(
                    "userProject",
                    Py::str(project.clone()),
                )])));
            }
            let call = call.with_client(c.client.clone());
            Ok(Box::new(Retrying::new(call, retry)) as BoxExchange<TokenResponse>)
        }))
    }
}

impl TokenSource for Federated {
    fn kind(&self) -> &'static str {
        "external_account"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.config.quota_project_id.as_deref()
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, Error> {
        Ok(Refresh::Exchange(self.exchange(ctx)?))
    }

    fn does_blocking_io(&self) -> bool {
        self.config.source.does_blocking_io()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl TokenSource for ExternalAccountCredentials {
    fn kind(&self) -> &'static str {
        "external_account"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.config.quota_project_id.as_deref()
    }

    /// A key without a secret, so these tokens never go to a shared store: the credential
    /// is the subject token, which changes from fetch to fetch and differs between
    /// workloads that share one configuration file (each may be another principal). A key
    /// derived from the file would let one workload adopt another's token.
    fn store_key(&self) -> TokenKey {
        TokenKey::new(self.kind(), &format!("{self:p}"), [""; 0])
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, Error> {
        match &self.impersonated {
            Some(imp) => imp.begin_refresh(ctx, None),
            None => Ok(Refresh::Exchange(
                Federated {
                    config: Arc::clone(&self.config),
                }
                .exchange(ctx)?,
            )),
        }
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        match &self.impersonated {
            Some(imp) => imp.finish_refresh(response, ctx),
            None => Ok(response.to_token(ctx.clock.now())),
        }
    }

    fn does_blocking_io(&self) -> bool {
        self.config.source.does_blocking_io()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{SystemTime, UNIX_EPOCH};

    use oauth_core::http::{HttpRequest, HttpResponse};
    use oauth_core::{ManualClock, RetryPolicy, TransportError};
    use serde_json::json;

    use super::*;

    const WORKLOAD: &str =
        "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/o";
    const WORKFORCE: &str = "//iam.googleapis.com/locations/global/workforcePools/wf/providers/o";

    fn creds(v: Value) -> Result<ExternalAccountCredentials, Error> {
        ExternalAccountCredentials::from_value_with(&v, "wif.json", &EndpointPolicy::default())
    }

    type Log = Arc<Mutex<Vec<(String, String, String)>>>;

    /// A blocking handle over a fake server that logs (url, authorization, body).
    fn handle(c: ExternalAccountCredentials) -> (oauth_core::blocking::Credentials, Log) {
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let l2 = Arc::clone(&log);
        let client = move |req: HttpRequest| -> Result<HttpResponse, TransportError> {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = String::from_utf8(req.body().to_vec()).unwrap();
            l2.lock().unwrap().push((req.uri().to_string(), auth, body));
            let body: &[u8] = if req.uri().path().ends_with(":generateAccessToken") {
                br#"{"accessToken":"ya29.sa","expireTime":"2099-01-01T00:00:00Z"}"#
            } else if req.uri().path() == "/subject" {
                br#"{"token":"subject-from-url"}"#
            } else {
                br#"{"access_token":"ya29.fed","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}"#
            };
            Ok(http::Response::builder()
                .status(200)
                .body(body.to_vec().into())
                .unwrap())
        };
        let h = oauth_core::blocking::Credentials::builder(c)
            .http_client(Arc::new(client))
            .clock(Arc::new(ManualClock::new(
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            )))
            .retry(RetryPolicy::none())
            .build();
        (h, log)
    }

    fn form(body: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn a_file_source_is_exchanged_at_sts_with_client_auth() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "eyJ.subject.token").unwrap();
        let c = creds(json!({
            "type": "external_account", "audience": WORKLOAD,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "http://127.0.0.1:9/v1/token",
            "client_id": "cid", "client_secret": "csecret",
            "credential_source": {"file": token.display().to_string()}
        }))
        .unwrap()
        .with_scopes(["s1", "s2"]);
        let (h, log) = handle(c);
        let t = h.token_details().unwrap();
        assert_eq!(t.access_token.expose(), "ya29.fed");
        assert_eq!(
            t.expiry,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_003_600))
        );
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].0, "http://127.0.0.1:9/v1/token");
        assert_eq!(log[0].1, "Basic Y2lkOmNzZWNyZXQ=");
        assert_eq!(
            form(&log[0].2),
            [
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange"
                ),
                ("audience", WORKLOAD),
                ("scope", "s1 s2"),
                (
                    "requested_token_type",
                    "urn:ietf:params:oauth:token-type:access_token"
                ),
                ("subject_token", "eyJ.subject.token"),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn url_sources_and_impersonation_make_one_exchange() {
        let c = creds(json!({
            "type": "external_account", "audience": WORKFORCE,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "token_url": "http://127.0.0.1:9/v1/token",
            "workforce_pool_user_project": "987",
            "service_account_impersonation_url": "http://127.0.0.1:9/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
            "service_account_impersonation": {"token_lifetime_seconds": 600},
            "credential_source": {"url": "http://127.0.0.1:9/subject", "headers": {"Metadata": "True"},
                                  "format": {"type": "json", "subject_token_field_name": "token"}}
        }))
        .unwrap()
        .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
        assert_eq!(
            c.service_account_email(),
            Some("sa@p.iam.gserviceaccount.com")
        );
        assert!(c.is_workforce_pool());
        let (h, log) = handle(c);
        assert_eq!(h.token().unwrap().expose(), "ya29.sa");
        assert_eq!(h.kind(), "external_account");
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(log[0].0, "http://127.0.0.1:9/subject");
        assert_eq!(
            log[0].1, "",
            "no Google credential goes to the subject-token source"
        );
        let sts = form(&log[1].2);
        assert_eq!(sts[4], ("subject_token".into(), "subject-from-url".into()));
        assert_eq!(
            sts.last().unwrap(),
            &(
                "options".into(),
                "%7B%22userProject%22%3A%20%22987%22%7D".into()
            )
        );
        assert_eq!(log[2].1, "Bearer ya29.fed");
        let body: Value = serde_json::from_str(&log[2].2).unwrap();
        assert_eq!(
            body,
            json!({"delegates": null, "scope": ["https://www.googleapis.com/auth/cloud-platform"], "lifetime": "600s"})
        );
    }

    #[test]
    fn configuration_errors_name_the_file_and_field() {
        let base = || {
            json!({"type": "external_account", "audience": WORKLOAD,
                   "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                   "credential_source": {"file": "t"}})
        };
        let err = |v: Value| creds(v).unwrap_err().to_string();
        let mut v = base();
        v["workforce_pool_user_project"] = "1".into();
        assert!(err(v).contains("`workforce_pool_user_project`"));
        let mut v = base();
        v["token_url"] = "https://sts.evil.example/v1/token".into();
        assert!(err(v).contains("`token_url` points to sts.evil.example"));
        let mut v = base();
        v["service_account_impersonation_url"] =
            "https://iamcredentials.googleapis.com/v1/x".into();
        assert!(err(v).contains("`service_account_impersonation_url`"));
        let mut v = base();
        v["service_account_impersonation"] = json!({"token_lifetime_seconds": "1h"});
        assert!(err(v).contains("`service_account_impersonation.token_lifetime_seconds`"));
        let mut v = base();
        v.as_object_mut().unwrap().remove("audience");
        assert_eq!(err(v), "wif.json: missing field `audience`");
        let mut v = base();
        v["credential_source"] = json!({});
        assert!(err(v).contains("none of `file`, `url`, `executable` or `environment_id`"));
        let mut v = base();
        v["type"] = "service_account".into();
        assert!(err(v).contains("unsupported credentials type"));
    }

    #[test]
    fn the_default_token_url_is_googles_sts_and_principals_are_parsed_as_google_auth_does() {
        let c = creds(json!({"audience": WORKLOAD,
            "subject_token_type": "urn:ietf:params:oauth:token-type:saml2",
            "credential_source": {"file": "t"}}))
        .unwrap();
        assert_eq!(
            c.token_url().as_str(),
            "https://sts.googleapis.com/v1/token"
        );
        let c = creds(
            json!({"audience": WORKLOAD, "universe_domain": "googleapis.com",
            "token_url": "https://sts.{universe_domain}/v1/token",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "credential_source": {"file": "t"}}),
        )
        .unwrap();
        assert_eq!(
            c.token_url().as_str(),
            "https://sts.googleapis.com/v1/token"
        );
        assert_eq!(
            target_principal(
                "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/a@b.c:generateAccessToken"
            ),
            Some("a@b.c".into())
        );
        assert_eq!(target_principal("https://x/y"), None);
        assert!(!is_workforce_pool(WORKLOAD));
        assert!(is_workforce_pool(WORKFORCE));
        assert!(!is_workforce_pool(
            "//iam.googleapis.com/locations//workforcePools/x"
        ));
        let _ = SystemTime::now();
    }
}
