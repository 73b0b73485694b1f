//! Impersonated credentials: a source credential asks the IAM Credentials API for another
//! service account's tokens (generateAccessToken, generateIdToken), through delegates.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use oauth_core::exchange::{BoxExchange, Call, Exchange, Input, Step};
use oauth_core::http::Bytes;
use oauth_core::http::{HttpRequest, HttpResponse, endpoint_label, error_from_response, to_uri};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{StoredToken, TokenKey};
use oauth_core::types::AccessToken;
use oauth_core::{Clock, Error as CoreError, Retrying, Secret, Token, TokenResponse, apply_token};
use serde_json::{Value, json};
use url::Url;

use crate::id_token::{id_token_response, id_token_to_token};

/// The IAM Credentials API.
pub const IAM_CREDENTIALS_ENDPOINT: &str = "https://iamcredentials.googleapis.com/";

/// Another service account's credentials, obtained with a source credential's token
/// (google-auth's `impersonated_credentials.Credentials` and `IDTokenCredentials`).
///
/// The source's own token is cached inside (refreshed through its own exchange when
/// needed), so one refresh of these credentials is one sans-IO exchange: the source's
/// refresh when due, then the IAM call. Both flavours drive it through the usual handles.
///
/// ```no_run
/// use oauth_core::blocking::Credentials;
/// use oauth_sa::{ImpersonatedCredentials, ServiceAccountCredentials};
/// let source = ServiceAccountCredentials::from_file("key.json")?
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
/// let target = ImpersonatedCredentials::new(source, "target@project.iam.gserviceaccount.com")
///     .with_scopes(["https://www.googleapis.com/auth/devstorage.read_only"])
///     .with_delegates(["middle@project.iam.gserviceaccount.com"]);
/// let token = Credentials::new(target).token()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ImpersonatedCredentials {
    source: Arc<dyn TokenSource>,
    source_cache: Arc<Mutex<Option<Token>>>,
    target_principal: String,
    scopes: Vec<String>,
    delegates: Vec<String>,
    lifetime: Duration,
    endpoint: Url,
    id_token: Option<(String, bool)>,
    quota_project_id: Option<String>,
    access_token_url: Option<Url>,
    verbatim: Option<Verbatim>,
}

/// A request body written as google-auth writes it for credential files: delegates exactly
/// as given (`null` when the file has none), `scope` `null` when there are no scopes.
#[derive(Debug, Clone)]
struct Verbatim {
    delegates: Option<Vec<String>>,
}

impl ImpersonatedCredentials {
    /// Impersonates `target_principal` (an email) with the `source` credential's tokens.
    pub fn new(source: impl TokenSource, target_principal: impl Into<String>) -> Self {
        Self::from_arc(Arc::new(source), target_principal)
    }

    /// The same, with a shared source.
    pub fn from_arc(source: Arc<dyn TokenSource>, target_principal: impl Into<String>) -> Self {
        ImpersonatedCredentials {
            source,
            source_cache: Arc::new(Mutex::new(None)),
            target_principal: target_principal.into(),
            scopes: Vec::new(),
            delegates: Vec::new(),
            lifetime: Duration::from_secs(3600),
            endpoint: Url::parse(IAM_CREDENTIALS_ENDPOINT).expect("a constant URL parses"),
            id_token: None,
            quota_project_id: None,
            access_token_url: None,
            verbatim: None,
        }
    }

    /// The target's scopes.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The chain of service accounts between source and target, as emails (or unique ids)
    /// or as resource names (`projects/-/serviceAccounts/EMAIL`). A resource name is sent as
    /// given, as google-auth sends it; a bare email is sent once-prefixed with
    /// `projects/-/serviceAccounts/`, the form the IAM Credentials API requires (google-auth
    /// sends it bare).
    ///
    /// ```
    /// assert_eq!(
    ///     oauth_sa::ImpersonatedCredentials::delegate_name("mid@p.iam.gserviceaccount.com"),
    ///     "projects/-/serviceAccounts/mid@p.iam.gserviceaccount.com"
    /// );
    /// assert_eq!(
    ///     oauth_sa::ImpersonatedCredentials::delegate_name("projects/-/serviceAccounts/mid@p.iam.gserviceaccount.com"),
    ///     "projects/-/serviceAccounts/mid@p.iam.gserviceaccount.com"
    /// );
    /// ```
    pub fn with_delegates<I, S>(mut self, delegates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.delegates = delegates.into_iter().map(Into::into).collect();
        self
    }

    /// The token lifetime asked for (3600 s by default; at most 43200 s where allowed).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The IAM Credentials API's base URL (for a local server or another universe).
    pub fn with_endpoint(mut self, endpoint: Url) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// The project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// The generateAccessToken URL itself, as credential files name it
    /// (`service_account_impersonation_url`; google-auth's `iam_endpoint_override`), for
    /// regional endpoints and local servers. ID tokens go to the same URL with
    /// `:generateIdToken`. Check the URL with an [`oauth_core::EndpointPolicy`] first: the
    /// source's token is sent there.
    pub fn with_access_token_url(mut self, url: Url) -> Self {
        self.access_token_url = Some(url);
        self
    }

    /// Delegates sent exactly as given, `null` for `None`, and `scope` `null` when no
    /// scopes are set: the body google-auth sends for `impersonated_service_account` and
    /// `external_account` files. [`ImpersonatedCredentials::with_delegates`] instead takes
    /// emails and sends them as `projects/-/serviceAccounts/{email}`.
    pub fn with_delegates_as_given(mut self, delegates: Option<Vec<String>>) -> Self {
        self.delegates = delegates.clone().unwrap_or_default();
        self.verbatim = Some(Verbatim { delegates });
        self
    }

    /// ID tokens for `audience` (generateIdToken), with the email claim when asked.
    pub fn id_token_credentials(&self, audience: impl Into<String>, include_email: bool) -> Self {
        ImpersonatedCredentials {
            id_token: Some((audience.into(), include_email)),
            // The source's cached token is shared: it is the same source.
            ..self.clone()
        }
    }

    /// The service account impersonated.
    pub fn target_principal(&self) -> &str {
        &self.target_principal
    }

    /// A delegate as sent to the IAM Credentials API: a resource name (`projects/...`) as
    /// given, an email or unique id prefixed once with `projects/-/serviceAccounts/`.
    pub fn delegate_name(delegate: &str) -> String {
        let delegate = delegate.trim();
        if delegate.starts_with("projects/") {
            delegate.to_owned()
        } else {
            format!("projects/-/serviceAccounts/{delegate}")
        }
    }

    fn iam_call(&self, source_token: AccessToken, clock: Arc<dyn Clock>) -> IamCall {
        // google-auth sends `null` when there are no delegates; so does gauth. A file's own
        // delegates (impersonated_service_account) are sent as the file gives them.
        let delegates: Value = match &self.verbatim {
            Some(v) => json!(v.delegates),
            None if self.delegates.is_empty() => Value::Null,
            None => self
                .delegates
                .iter()
                .map(|d| Value::from(Self::delegate_name(d)))
                .collect(),
        };
        let scope = match (&self.verbatim, self.scopes.is_empty()) {
            (Some(_), true) => Value::Null,
            _ => json!(self.scopes),
        };
        let (method, body) = match &self.id_token {
            None => (
                "generateAccessToken",
                json!({"delegates": delegates, "scope": scope,
                       "lifetime": format!("{}s", self.lifetime.as_secs())}),
            ),
            Some((aud, email)) => (
                "generateIdToken",
                json!({"audience": aud, "delegates": delegates, "includeEmail": email}),
            ),
        };
        let url = match &self.access_token_url {
            Some(u) => {
                let mut u = u.clone();
                if method == "generateIdToken" {
                    let path = u.path().replace(":generateAccessToken", ":generateIdToken");
                    u.set_path(&path);
                }
                u
            }
            None => {
                let mut url = self.endpoint.clone();
                url.set_path(&format!(
                    "{}v1/projects/-/serviceAccounts/{}:{method}",
                    self.endpoint.path(),
                    self.target_principal
                ));
                url
            }
        };
        IamCall {
            url,
            body: Bytes::from(body.to_string()),
            source_token,
            // The source's own quota project pays for the IAM call, as google-auth's
            // `source_credentials.apply(headers)` bills it.
            quota_project: self.source.quota_project_id().map(str::to_owned),
            id_token: self.id_token.is_some(),
            clock,
        }
    }
}

/// One call to generateAccessToken or generateIdToken.
struct IamCall {
    url: Url,
    body: Bytes,
    source_token: AccessToken,
    quota_project: Option<String>,
    id_token: bool,
    clock: Arc<dyn Clock>,
}

impl Call for IamCall {
    type Output = TokenResponse;

    fn request(&self) -> Result<HttpRequest, CoreError> {
        let mut req = http::Request::new(self.body.clone());
        *req.method_mut() = http::Method::POST;
        *req.uri_mut() = to_uri(&self.url);
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        apply_token(
            &mut req,
            self.source_token.secret(),
            self.quota_project.as_deref(),
        )?;
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<TokenResponse, CoreError> {
        let endpoint = self.endpoint();
        if !response.status().is_success() {
            return Err(error_from_response(&endpoint, &response));
        }
        let malformed = |reason: &str| CoreError::MalformedResponse {
            endpoint: endpoint.clone(),
            reason: reason.to_owned(),
        };
        let v: Value =
            serde_json::from_slice(response.body()).map_err(|_| malformed("not JSON"))?;
        let field = |name: &str| {
            v.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if self.id_token {
            let t = field("token").ok_or_else(|| malformed("no `token` in the response"))?;
            if !crate::id_token::is_jwt_text(t) {
                return Err(malformed("the `token` holds characters a JWT cannot hold"));
            }
            return Ok(id_token_response(Secret::new(t)));
        }
        let token =
            field("accessToken").ok_or_else(|| malformed("no `accessToken` in the response"))?;
        if !token.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(malformed(
                "the `accessToken` holds characters a token cannot hold",
            ));
        }
        let expire =
            field("expireTime").ok_or_else(|| malformed("no `expireTime` in the response"))?;
        let at: SystemTime = humantime::parse_rfc3339_weak(expire)
            .or_else(|_| humantime::parse_rfc3339(expire))
            .map_err(|_| malformed("`expireTime` is not an RFC 3339 time"))?;
        let left = at
            .duration_since(self.clock.now())
            .unwrap_or(Duration::ZERO);
        Ok(TokenResponse {
            access_token: AccessToken::new(token),
            token_type: "Bearer".into(),
            expires_in: Some(left.as_secs()),
            refresh_token: None,
            scopes: None,
            id_token: None,
        })
    }

    fn endpoint(&self) -> String {
        endpoint_label(&to_uri(&self.url))
    }
}

enum Stage {
    Source(BoxExchange<TokenResponse>),
    Iam(Box<Retrying<IamCall>>),
    Finished,
}

/// The source's refresh (when due), then the IAM call: one exchange.
struct ImpersonationExchange {
    creds: ImpersonatedCredentials,
    ctx: RefreshContext,
    stage: Stage,
}

impl ImpersonationExchange {
    fn start_iam(&mut self, source_token: AccessToken) -> Step<TokenResponse> {
        let call = self
            .creds
            .iam_call(source_token, Arc::clone(&self.ctx.clock));
        let mut retrying = Retrying::new(call, self.ctx.retry);
        let step = retrying.step(Input::Start);
        self.stage = Stage::Iam(Box::new(retrying));
        step
    }
}

impl Exchange for ImpersonationExchange {
    type Output = TokenResponse;

    fn step(&mut self, input: Input) -> Step<TokenResponse> {
        match &mut self.stage {
            Stage::Source(exchange) => match exchange.step(input) {
                Step::Done(Ok(resp)) => match self.creds.source.finish_refresh(resp, &self.ctx) {
                    Ok(token) => {
                        let secret = token.access_token.clone();
                        *lock_cache(&self.creds.source_cache) = Some(token);
                        self.start_iam(secret)
                    }
                    Err(e) => {
                        self.stage = Stage::Finished;
                        Step::Done(Err(e))
                    }
                },
                Step::Done(Err(e)) => {
                    self.stage = Stage::Finished;
                    Step::Done(Err(e))
                }
                other => other,
            },
            Stage::Iam(retrying) => retrying.step(input),
            Stage::Finished => Step::Done(Err(CoreError::InvalidRequest(
                "exchange resumed after it finished".into(),
            ))),
        }
    }
}

fn lock_cache(m: &Mutex<Option<Token>>) -> std::sync::MutexGuard<'_, Option<Token>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TokenSource for ImpersonatedCredentials {
    fn kind(&self) -> &'static str {
        "impersonated_service_account"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    /// The target, the delegates, the endpoint and the scopes (or the ID token's audience),
    /// sealed with a secret derived from the source's: only holders of the source
    /// credential can name or open the entry.
    fn store_key(&self) -> TokenKey {
        let mut identity = format!(
            "{} delegates={} endpoint={}",
            self.target_principal,
            self.delegates.join(","),
            self.endpoint
        );
        if let Some((audience, email)) = &self.id_token {
            identity.push_str(&format!(
                " id_token_audience={audience} include_email={email}"
            ));
        }
        TokenKey::new(self.kind(), &identity, &self.scopes)
            .with_secret_from(&self.source.store_key())
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, CoreError> {
        let now = ctx.clock.now();
        let cached = lock_cache(&self.source_cache)
            .as_ref()
            .filter(|t| t.is_fresh(now, ctx.margin))
            .map(|t| t.access_token.clone());
        let mut ex = ImpersonationExchange {
            creds: self.clone(),
            ctx: ctx.clone(),
            stage: Stage::Finished,
        };
        match cached {
            Some(token) => {
                let call = self.iam_call(token, Arc::clone(&ctx.clock));
                ex.stage = Stage::Iam(Box::new(Retrying::new(call, ctx.retry)));
            }
            None => match self.source.begin_refresh(ctx, None)? {
                Refresh::Ready(token) => {
                    let secret = token.access_token.clone();
                    *lock_cache(&self.source_cache) = Some(token);
                    let call = self.iam_call(secret, Arc::clone(&ctx.clock));
                    ex.stage = Stage::Iam(Box::new(Retrying::new(call, ctx.retry)));
                }
                Refresh::Exchange(exchange) => {
                    ex.stage = Stage::Source(exchange);
                }
            },
        }
        Ok(Refresh::Exchange(Box::new(ex)))
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, CoreError> {
        if self.id_token.is_some() {
            id_token_to_token(response, &endpoint_label(&to_uri(&self.endpoint)))
        } else {
            Ok(response.to_token(ctx.clock.now()))
        }
    }

    fn does_blocking_io(&self) -> bool {
        self.source.does_blocking_io()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use oauth_core::TransportError;

    use super::*;
    use crate::ServiceAccountCredentials;
    use crate::testutil::key;

    #[test]
    fn the_source_token_is_fetched_once_and_sent_to_iam_with_delegates() {
        let log = Arc::new(StdMutex::new(Vec::<(String, String, String)>::new()));
        let l2 = Arc::clone(&log);
        let client = move |req: HttpRequest| -> Result<HttpResponse, TransportError> {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = String::from_utf8(req.body().to_vec()).unwrap();
            l2.lock().unwrap().push((req.uri().to_string(), auth, body));
            let body: &[u8] = match req.uri().path() {
                "/token" => br#"{"access_token":"ya29.source","expires_in":3600}"#,
                p if p.ends_with(":generateAccessToken") => {
                    br#"{"accessToken":"ya29.target","expireTime":"2099-01-01T00:00:00Z"}"#
                }
                _ => br#"{"token":"e30.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"}"#,
            };
            Ok(http::Response::builder()
                .status(200)
                .body(Bytes::copy_from_slice(body))
                .unwrap())
        };
        let client = Arc::new(client);
        let source =
            ServiceAccountCredentials::new(key("http://127.0.0.1:9/token")).with_scopes(["cp"]);
        let target = ImpersonatedCredentials::new(source, "target@p.iam.gserviceaccount.com")
            .with_scopes(["s1"])
            .with_delegates(["mid@p.iam.gserviceaccount.com"])
            .with_endpoint("http://127.0.0.1:9/iam/".parse().unwrap());
        let creds = oauth_core::blocking::Credentials::builder(target.clone())
            .http_client(client.clone())
            .build();
        assert_eq!(creds.token().unwrap().expose(), "ya29.target");
        let ids = oauth_core::blocking::Credentials::builder(
            target.id_token_credentials("https://aud", true),
        )
        .http_client(client)
        .build();
        let id = ids.token_details().unwrap();
        assert_eq!(
            id.expiry,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(4_102_444_800))
        );
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 3, "one source token for both: {log:?}");
        assert_eq!(log[0].0, "http://127.0.0.1:9/token");
        assert_eq!(
            log[1].0,
            "http://127.0.0.1:9/iam/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken"
        );
        assert_eq!(log[1].1, "Bearer ya29.source");
        let body: Value = serde_json::from_str(&log[1].2).unwrap();
        assert_eq!(
            body,
            json!({"delegates": ["projects/-/serviceAccounts/mid@p.iam.gserviceaccount.com"],
                   "scope": ["s1"], "lifetime": "3600s"})
        );
        assert!(log[2].0.ends_with(":generateIdToken"));
        assert_eq!(log[2].1, "Bearer ya29.source");
        let body: Value = serde_json::from_str(&log[2].2).unwrap();
        assert_eq!(body["audience"], "https://aud");
        assert_eq!(body["includeEmail"], true);
    }

    #[test]
    fn file_style_bodies_keep_delegates_as_given_and_the_url_override() {
        let source = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token"));
        let url: Url = "http://127.0.0.1:9/v1/projects/-/serviceAccounts/t@p.iam.gserviceaccount.com:generateAccessToken"
            .parse()
            .unwrap();
        let imp = ImpersonatedCredentials::new(source, "t@p.iam.gserviceaccount.com")
            .with_access_token_url(url.clone());
        let clock: Arc<dyn Clock> = Arc::new(oauth_core::SystemClock);
        let body = |c: &ImpersonatedCredentials| -> Value {
            let call = c.iam_call(AccessToken::new("s"), Arc::clone(&clock));
            assert_eq!(call.url.path(), url.path());
            serde_json::from_slice(&call.body).unwrap()
        };
        let none = imp.clone().with_delegates_as_given(None);
        assert_eq!(
            body(&none),
            json!({"delegates": null, "scope": null, "lifetime": "3600s"})
        );
        let given = imp
            .clone()
            .with_delegates_as_given(Some(vec!["a@p.iam.gserviceaccount.com".into()]))
            .with_scopes(["s1"]);
        assert_eq!(
            body(&given),
            json!({"delegates": ["a@p.iam.gserviceaccount.com"], "scope": ["s1"], "lifetime": "3600s"})
        );
        let emails = imp.with_delegates([
            "a@p.iam.gserviceaccount.com",
            "projects/-/serviceAccounts/b@p.iam.gserviceaccount.com",
        ]);
        assert_eq!(
            body(&emails)["delegates"],
            json!([
                "projects/-/serviceAccounts/a@p.iam.gserviceaccount.com",
                "projects/-/serviceAccounts/b@p.iam.gserviceaccount.com"
            ])
        );
        let id = emails.id_token_credentials("aud", false);
        let call = id.iam_call(AccessToken::new("s"), clock);
        assert!(
            call.url.path().ends_with(":generateIdToken"),
            "{}",
            call.url
        );
    }

    #[test]
    fn iam_errors_are_google_api_errors() {
        let call = IamCall {
            url: "http://127.0.0.1:1/x".parse().unwrap(),
            body: Bytes::new(),
            source_token: AccessToken::new("t"),
            quota_project: None,
            id_token: false,
            clock: Arc::new(oauth_core::SystemClock),
        };
        let r = http::Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .body(
                br#"{"error":{"code":403,"message":"denied","status":"PERMISSION_DENIED"}}"#
                    .to_vec()
                    .into(),
            )
            .unwrap();
        let e = call.parse(r).unwrap_err();
        assert_eq!(e.oauth().unwrap().error, "PERMISSION_DENIED");
        let ok = http::Response::builder()
            .status(200)
            .body(br#"{"accessToken":"a","expireTime":"yesterday"}"#.to_vec().into())
            .unwrap();
        assert!(
            call.parse(ok)
                .unwrap_err()
                .to_string()
                .contains("expireTime")
        );
    }
}
