//! Service-account credentials: the JWT-bearer grant (RFC 7523) and self-signed JWTs.

use std::any::Any;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth_core::exchange::BoxExchange;
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{StoredToken, TokenKey};
use oauth_core::{EndpointPolicy, Error as CoreError, Retrying, Secret, Token, TokenCall};
use serde_json::{Map, Value};

use crate::key::GOOGLE_TOKEN_URI;
use crate::{Error, ServiceAccountKey, jwt};

/// The grant type of RFC 7523 section 2.1.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The lifetime google-auth gives assertions and self-signed JWTs.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// When to use a self-signed JWT as the access token instead of asking the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JwtAccess {
    /// Only when an audience was given and no scopes (google-auth's default).
    WhenAudience,
    /// Always (google-auth's `always_use_jwt_access=True`), unless a subject is set.
    Always,
}

/// A service account's credentials (google-auth's `service_account.Credentials`).
///
/// The access token comes from the JWT-bearer grant: an RS256 assertion with `iss` = the
/// service account, `scope` = the scopes space-joined, `aud` = Google's token endpoint
/// (as google-auth writes it, whatever `token_uri` says), `iat` = now and `exp` = iat + 3600,
/// `sub` = the subject for domain-wide delegation, plus any extra claims; it is posted to
/// the key file's `token_uri`. With [`with_jwt_audience`](Self::with_jwt_audience) (and no
/// scopes) or [`with_always_use_jwt_access`](Self::with_always_use_jwt_access), a
/// self-signed JWT is the token itself and no request is made.
///
/// Put it behind `oauth_core::blocking::Credentials` or the async `oauth_core::Credentials`
/// for caching and single-flight refresh:
///
/// ```no_run
/// use oauth_core::blocking::Credentials;
/// use oauth_sa::ServiceAccountCredentials;
/// let sa = ServiceAccountCredentials::from_file("key.json")?
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
/// let creds = Credentials::new(sa);
/// let token = creds.token()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ServiceAccountCredentials {
    key: ServiceAccountKey,
    scopes: Vec<String>,
    default_scopes: Vec<String>,
    subject: Option<String>,
    claims: Map<String, Value>,
    quota_project_id: Option<String>,
    jwt_audience: Option<String>,
    jwt_access: JwtAccess,
    lifetime: Duration,
}

impl ServiceAccountCredentials {
    /// Credentials for a parsed key, with no scopes yet.
    pub fn new(key: ServiceAccountKey) -> Self {
        ServiceAccountCredentials {
            key,
            scopes: Vec::new(),
            default_scopes: Vec::new(),
            subject: None,
            claims: Map::new(),
            quota_project_id: None,
            jwt_audience: None,
            jwt_access: JwtAccess::WhenAudience,
            lifetime: DEFAULT_LIFETIME,
        }
    }

    /// Reads a key file (google-auth's `from_service_account_file`).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        ServiceAccountKey::from_file(path).map(Self::new)
    }

    /// Reads a key file, checking `token_uri` against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        ServiceAccountKey::from_file_with(path, policy).map(Self::new)
    }

    /// Reads a parsed key (google-auth's `from_service_account_info`).
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        ServiceAccountKey::from_value_with(value, origin, policy).map(Self::new)
    }

    /// The scopes to ask for.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Scopes used when none were given (a client library's defaults).
    pub fn with_default_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.default_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Acts as this user (domain-wide delegation): the assertion's `sub`.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Extra claims for the assertion; they override the standard ones, as in google-auth
    /// (except `sub`, which the subject never overrides).
    pub fn with_claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims.extend(claims);
        self
    }

    /// The project billed for API calls (`x-goog-user-project`).
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// Uses a self-signed JWT for this audience (an API's base URL, e.g.
    /// `https://pubsub.googleapis.com/`) when no scopes are set: no token request at all.
    pub fn with_jwt_audience(mut self, audience: impl Into<String>) -> Self {
        self.jwt_audience = Some(audience.into());
        self
    }

    /// google-auth's `always_use_jwt_access`: a self-signed JWT carrying the scopes (or the
    /// audience, or the default scopes) replaces the token request, unless a subject is set.
    pub fn with_always_use_jwt_access(mut self, always: bool) -> Self {
        self.jwt_access = if always {
            JwtAccess::Always
        } else {
            JwtAccess::WhenAudience
        };
        self
    }

    /// The key.
    pub fn key(&self) -> &ServiceAccountKey {
        &self.key
    }

    /// The service account's email.
    pub fn service_account_email(&self) -> &str {
        self.key.client_email()
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The subject, when acting for a user.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The RS256 signature of `message` (for signed URLs).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.key.sign_bytes(message)
    }

    /// ID-token credentials for `target_audience`, with the same key.
    pub fn id_token_credentials(
        &self,
        target_audience: impl Into<String>,
    ) -> crate::IdTokenCredentials {
        crate::IdTokenCredentials::new(self.key.clone(), target_audience)
    }

    fn effective_scopes(&self) -> &[String] {
        if self.scopes.is_empty() {
            &self.default_scopes
        } else {
            &self.scopes
        }
    }

    /// The claims of the self-signed JWT this credential would use, or `None` when it
    /// uses the token endpoint.
    fn self_signed_claims(&self) -> Option<Map<String, Value>> {
        if self.subject.is_some() {
            return None;
        }
        let mut m = Map::new();
        match self.jwt_access {
            JwtAccess::Always => {
                if !self.scopes.is_empty() {
                    m.insert("scope".into(), self.scopes.join(" ").into());
                } else if let Some(aud) = &self.jwt_audience {
                    m.insert("aud".into(), aud.clone().into());
                } else if !self.default_scopes.is_empty() {
                    m.insert("scope".into(), self.default_scopes.join(" ").into());
                } else {
                    return None;
                }
            }
            JwtAccess::WhenAudience => match (&self.jwt_audience, self.scopes.is_empty()) {
                (Some(aud), true) => {
                    m.insert("aud".into(), aud.clone().into());
                }
                _ => return None,
            },
        }
        Some(m)
    }

    /// The JWT-bearer assertion for `now`, as google-auth builds it.
    ///
    /// ```no_run
    /// # let sa = oauth_sa::ServiceAccountCredentials::from_file("key.json")?;
    /// let assertion = sa.make_assertion(std::time::SystemTime::now())?;
    /// # Ok::<(), oauth_sa::Error>(())
    /// ```
    pub fn make_assertion(&self, now: SystemTime) -> Result<Secret, Error> {
        let iat = unix(now);
        let mut claims = Map::new();
        claims.insert("iat".into(), iat.into());
        claims.insert(
            "exp".into(),
            iat.saturating_add(self.lifetime.as_secs()).into(),
        );
        claims.insert("iss".into(), self.key.client_email().into());
        claims.insert("aud".into(), GOOGLE_TOKEN_URI.into());
        claims.insert("scope".into(), self.effective_scopes().join(" ").into());
        claims.extend(self.claims.clone());
        if let Some(sub) = &self.subject {
            claims.entry("sub").or_insert_with(|| sub.clone().into());
        }
        jwt::encode(self.key.signer(), &claims)
    }

    /// A self-signed JWT for `now`, or `None` when this credential uses the token endpoint.
    pub fn make_self_signed_jwt(&self, now: SystemTime) -> Result<Option<Token>, Error> {
        let Some(extra) = self.self_signed_claims() else {
            return Ok(None);
        };
        let iat = unix(now);
        let exp = iat.saturating_add(self.lifetime.as_secs());
        let email = self.key.client_email();
        let mut claims = Map::new();
        claims.insert("iss".into(), email.into());
        claims.insert("sub".into(), email.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), exp.into());
        claims.extend(extra);
        let jwt = jwt::encode(self.key.signer(), &claims)?;
        Ok(Some(Token::bearer(
            jwt,
            Some(oauth_core::clock::add_clamped(
                UNIX_EPOCH,
                Duration::from_secs(exp),
            )),
        )))
    }

    /// The token request of the JWT-bearer grant, retried as `ctx` says.
    pub fn token_exchange(
        &self,
        ctx: &RefreshContext,
    ) -> Result<BoxExchange<oauth_core::TokenResponse>, Error> {
        let assertion = self.make_assertion(ctx.clock.now())?;
        let call = TokenCall::new(
            self.key.token_uri().clone(),
            vec![
                // google-auth's order: assertion, then grant_type.
                ("assertion".into(), assertion.expose().to_owned()),
                ("grant_type".into(), JWT_BEARER_GRANT.into()),
            ],
        );
        Ok(Box::new(Retrying::new(call, ctx.retry)))
    }
}

/// Seconds since the epoch (0 before it: a clock that far off cannot be helped).
pub(crate) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Turns this crate's error into the core's, for [`TokenSource`].
pub(crate) fn to_core(e: Error) -> CoreError {
    match e {
        Error::Core(e) => e,
        other => CoreError::NotRefreshable {
            kind: "service_account",
            reason: other.to_string(),
        },
    }
}

impl TokenSource for ServiceAccountCredentials {
    fn kind(&self) -> &'static str {
        "service_account"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    /// The service account, its token endpoint, the subject and the scopes (extra claims
    /// too, when there are any), sealed with a digest of the private key. Self-signed JWTs
    /// cost no request: their key has no secret, so they never go to a shared store.
    fn store_key(&self) -> TokenKey {
        let mut identity = format!(
            "{} token_uri={}",
            self.key.client_email(),
            self.key.token_uri()
        );
        if let Some(sub) = &self.subject {
            identity.push_str(" sub=");
            identity.push_str(sub);
        }
        if !self.claims.is_empty() {
            identity.push_str(" claims=");
            identity.push_str(&Value::Object(self.claims.clone()).to_string());
        }
        let key = TokenKey::new(self.kind(), &identity, self.effective_scopes());
        if self.self_signed_claims().is_some() {
            return key;
        }
        key.with_secret(self.key.signer().store_secret())
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, CoreError> {
        if let Some(token) = self
            .make_self_signed_jwt(ctx.clock.now())
            .map_err(to_core)?
        {
            return Ok(Refresh::Ready(token));
        }
        Ok(Refresh::Exchange(
            self.token_exchange(ctx).map_err(to_core)?,
        ))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use oauth_core::exchange::{Exchange, Input, Step};
    use oauth_core::{ManualClock, RetryPolicy, TransportError};
    use serde_json::json;

    use super::*;
    use crate::testutil::*;

    const NOW: u64 = 1_700_000_000;

    fn ctx() -> RefreshContext {
        RefreshContext {
            clock: Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW))),
            margin: Duration::from_secs(225),
            retry: RetryPolicy::none(),
        }
    }

    fn verify_rs256(jwt: &str, sa: &ServiceAccountCredentials) -> crate::jwt::Decoded {
        let d = crate::jwt::decode_unverified(jwt).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            sa.key().signer().public_key_der(),
        )
        .verify(d.signed.as_bytes(), &d.signature)
        .unwrap();
        d
    }

    #[test]
    fn the_assertion_has_google_auths_header_and_claims() {
        let sa = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token"))
            .with_scopes(["s1", "s2"])
            .with_subject("user@example.com");
        let jwt = sa
            .make_assertion(UNIX_EPOCH + Duration::from_secs(NOW))
            .unwrap();
        let d = verify_rs256(jwt.expose(), &sa);
        assert_eq!(
            Value::Object(d.header),
            json!({"typ": "JWT", "alg": "RS256", "kid": "test-kid"})
        );
        assert_eq!(
            Value::Object(d.claims),
            json!({
                "iat": NOW, "exp": NOW + 3600,
                "iss": "sa@test-project.iam.gserviceaccount.com",
                "aud": "https://oauth2.googleapis.com/token",
                "scope": "s1 s2", "sub": "user@example.com",
            })
        );
    }

    #[test]
    fn extra_claims_override_but_the_subject_does_not_replace_a_given_sub() {
        let sa = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token"))
            .with_default_scopes(["d"])
            .with_claims(obj(
                json!({"aud": "https://other/token", "sub": "given", "x": 1}),
            ))
            .with_subject("ignored");
        let jwt = sa
            .make_assertion(UNIX_EPOCH + Duration::from_secs(NOW))
            .unwrap();
        let c = verify_rs256(jwt.expose(), &sa).claims;
        assert_eq!(c["aud"], "https://other/token");
        assert_eq!(c["sub"], "given");
        assert_eq!(c["x"], 1);
        assert_eq!(c["scope"], "d");
    }

    #[test]
    fn the_grant_is_a_form_post_to_token_uri() {
        let sa = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token")).with_scopes(["s"]);
        let Refresh::Exchange(mut exchange) = sa.begin_refresh(&ctx(), None).unwrap() else {
            panic!("expected a request");
        };
        let Step::Send(req) = exchange.step(Input::Start) else {
            panic!()
        };
        assert_eq!(req.uri(), "http://127.0.0.1:9/token");
        let form: Vec<(String, String)> = form_urlencoded::parse(req.body()).into_owned().collect();
        assert_eq!(form[0].0, "assertion");
        assert_eq!(form[1], ("grant_type".into(), JWT_BEARER_GRANT.into()));
        let c = verify_rs256(&form[0].1, &sa).claims;
        assert_eq!(c["iat"], NOW);
        let ok = http::Response::builder()
            .status(200)
            .body(
                br#"{"access_token":"ya29.sa","expires_in":3599,"token_type":"Bearer"}"#
                    .to_vec()
                    .into(),
            )
            .unwrap();
        let Step::Done(Ok(resp)) = exchange.step(Input::Response(Ok(ok))) else {
            panic!()
        };
        assert_eq!(resp.access_token.expose(), "ya29.sa");
    }

    #[test]
    fn self_signed_jwts_need_no_request() {
        let base = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token"));
        let cases = [
            (
                base.clone()
                    .with_jwt_audience("https://pubsub.googleapis.com/"),
                json!({"aud": "https://pubsub.googleapis.com/"}),
            ),
            (
                base.clone()
                    .with_always_use_jwt_access(true)
                    .with_scopes(["a", "b"]),
                json!({"scope": "a b"}),
            ),
            (
                base.clone()
                    .with_always_use_jwt_access(true)
                    .with_default_scopes(["d"]),
                json!({"scope": "d"}),
            ),
        ];
        for (sa, extra) in cases {
            let Refresh::Ready(t) = sa.begin_refresh(&ctx(), None).unwrap() else {
                panic!("{sa:?}")
            };
            assert_eq!(t.expiry, Some(UNIX_EPOCH + Duration::from_secs(NOW + 3600)));
            let c = verify_rs256(t.access_token.expose(), &sa).claims;
            let mut want = obj(json!({
                "iss": "sa@test-project.iam.gserviceaccount.com",
                "sub": "sa@test-project.iam.gserviceaccount.com",
                "iat": NOW, "exp": NOW + 3600,
            }));
            want.extend(obj(extra));
            assert_eq!(c, want);
        }
        // Scopes without always_use_jwt_access, or a subject, go to the token endpoint.
        for sa in [
            base.clone()
                .with_jwt_audience("https://x/")
                .with_scopes(["s"]),
            base.clone()
                .with_always_use_jwt_access(true)
                .with_scopes(["s"])
                .with_subject("u@x"),
            base.clone(),
        ] {
            assert!(
                matches!(
                    sa.begin_refresh(&ctx(), None).unwrap(),
                    Refresh::Exchange(_)
                ),
                "{sa:?}"
            );
        }
    }

    #[test]
    fn blocking_credentials_cache_the_granted_token() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c2, s2) = (Arc::clone(&calls), Arc::clone(&seen));
        let client = move |req: oauth_core::http::HttpRequest| -> Result<_, TransportError> {
            c2.fetch_add(1, Ordering::SeqCst);
            s2.lock().unwrap().push(req.uri().to_string());
            Ok(http::Response::builder()
                .status(200)
                .body(br#"{"access_token":"ya29.sa","expires_in":3600}"#.to_vec().into())
                .unwrap())
        };
        let sa = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token")).with_scopes(["s"]);
        let creds = oauth_core::blocking::Credentials::builder(sa.with_quota_project("billing"))
            .http_client(Arc::new(client))
            .build();
        assert_eq!(creds.token().unwrap().expose(), "ya29.sa");
        assert_eq!(creds.token().unwrap().expose(), "ya29.sa");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(seen.lock().unwrap()[0], "http://127.0.0.1:9/token");
        assert_eq!(creds.kind(), "service_account");
        assert_eq!(creds.quota_project_id(), Some("billing"));
        assert!(creds.source::<ServiceAccountCredentials>().is_some());
    }

    #[test]
    fn self_signed_tokens_are_reused_until_near_expiry() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW)));
        let never = |_req: oauth_core::http::HttpRequest| -> Result<oauth_core::http::HttpResponse, TransportError> {
            panic!("a self-signed JWT needs no request")
        };
        let sa = ServiceAccountCredentials::new(key("http://127.0.0.1:9/token"))
            .with_jwt_audience("https://x/");
        let creds = oauth_core::blocking::Credentials::builder(sa)
            .http_client(Arc::new(never))
            .clock(clock.clone())
            .build();
        let first = creds.token().unwrap();
        clock.advance(Duration::from_secs(3000));
        assert_eq!(creds.token().unwrap(), first);
        // Inside the 225 s margin: still valid, so the caller is answered at once (with the
        // old token) while one refresh runs ahead in the background; it lands soon after.
        clock.advance(Duration::from_secs(400));
        let inside = creds.token().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut now = inside;
        while now == first && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
            now = creds.token().unwrap();
        }
        assert_ne!(now, first, "the background refresh replaced the token");
        // Past its expiry a caller never gets a token again.
        clock.advance(Duration::from_secs(4000));
        assert_ne!(creds.token().unwrap(), now);
    }
}
