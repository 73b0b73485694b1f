//! ID tokens minted for a service account: the JWT-bearer grant with `target_audience`.

use std::any::Any;
use std::time::SystemTime;

use oauth_core::exchange::Call;
use oauth_core::http::{HttpRequest, HttpResponse, endpoint_label, error_from_response, to_uri};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{StoredToken, TokenKey};
use oauth_core::{Error as CoreError, Retrying, Secret, Token, TokenCall, TokenResponse};
use serde_json::{Map, Value};

use crate::key::GOOGLE_TOKEN_URI;
use crate::service_account::{DEFAULT_LIFETIME, JWT_BEARER_GRANT, to_core, unix};
use crate::{Error, ServiceAccountKey, jwt};

/// A service account's ID tokens for one audience (google-auth's
/// `service_account.IDTokenCredentials`).
///
/// The "access token" these credentials hand out is the ID token itself, ready for
/// `Authorization: Bearer` to Cloud Run, IAP or any service that checks Google ID tokens.
/// Its expiry is the token's own `exp`.
///
/// ```no_run
/// use oauth_core::blocking::Credentials;
/// let id = oauth_sa::IdTokenCredentials::from_file("key.json", "https://service.example.com")?;
/// let creds = Credentials::new(id);
/// let id_token = creds.token()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct IdTokenCredentials {
    key: ServiceAccountKey,
    target_audience: String,
    claims: Map<String, Value>,
    quota_project_id: Option<String>,
}

impl IdTokenCredentials {
    /// ID tokens for `target_audience`, signed for by `key`.
    pub fn new(key: ServiceAccountKey, target_audience: impl Into<String>) -> Self {
        IdTokenCredentials {
            key,
            target_audience: target_audience.into(),
            claims: Map::new(),
            quota_project_id: None,
        }
    }

    /// Reads a key file.
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        target_audience: impl Into<String>,
    ) -> Result<Self, Error> {
        Ok(Self::new(
            ServiceAccountKey::from_file(path)?,
            target_audience,
        ))
    }

    /// Extra claims for the assertion.
    pub fn with_claims(mut self, claims: Map<String, Value>) -> Self {
        self.claims.extend(claims);
        self
    }

    /// The project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// The audience the ID tokens are for.
    pub fn target_audience(&self) -> &str {
        &self.target_audience
    }

    /// The assertion for `now`: google-auth's claims with `target_audience`.
    pub fn make_assertion(&self, now: SystemTime) -> Result<Secret, Error> {
        let iat = unix(now);
        let mut claims = Map::new();
        claims.insert("iat".into(), iat.into());
        claims.insert(
            "exp".into(),
            iat.saturating_add(DEFAULT_LIFETIME.as_secs()).into(),
        );
        claims.insert("iss".into(), self.key.client_email().into());
        claims.insert("aud".into(), GOOGLE_TOKEN_URI.into());
        claims.insert(
            "target_audience".into(),
            self.target_audience.clone().into(),
        );
        claims.extend(self.claims.clone());
        jwt::encode(self.key.signer(), &claims)
    }
}

/// A token request whose answer holds only an `id_token` (the ID-token form of the
/// JWT-bearer grant, and the metadata server's identity endpoint).
///
/// ```
/// use oauth_core::exchange::Call;
/// let call = oauth_sa::IdTokenCall::new(oauth_core::TokenCall::new(
///     "https://oauth2.googleapis.com/token".parse::<url::Url>().unwrap(), vec![]));
/// let ok = http::Response::builder().status(200).body(br#"{"id_token":"a.b.c"}"#.to_vec().into()).unwrap();
/// assert_eq!(call.parse(ok).unwrap().access_token.expose(), "a.b.c");
/// ```
pub struct IdTokenCall {
    inner: TokenCall,
}

impl IdTokenCall {
    /// Wraps the form POST.
    pub fn new(inner: TokenCall) -> Self {
        IdTokenCall { inner }
    }
}

impl Call for IdTokenCall {
    type Output = TokenResponse;

    fn request(&self) -> Result<HttpRequest, CoreError> {
        self.inner.request()
    }

    fn parse(&self, response: HttpResponse) -> Result<TokenResponse, CoreError> {
        parse_id_token_response(&self.endpoint(), &response)
    }

    fn endpoint(&self) -> String {
        self.inner.endpoint()
    }
}

/// Reads `{"id_token": ...}` (or the OAuth error) into a [`TokenResponse`] whose access
/// token is the ID token.
pub(crate) fn parse_id_token_response(
    endpoint: &str,
    response: &HttpResponse,
) -> Result<TokenResponse, CoreError> {
    if !response.status().is_success() {
        return Err(error_from_response(endpoint, response));
    }
    let malformed = |reason: &str| CoreError::MalformedResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let v: Value = serde_json::from_slice(response.body()).map_err(|_| malformed("not JSON"))?;
    if v.get("error").is_some() {
        return Err(error_from_response(endpoint, response));
    }
    let id = v
        .get("id_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("no `id_token` in the response"))?;
    if !is_jwt_text(id) {
        return Err(malformed(
            "the `id_token` holds characters a JWT cannot hold",
        ));
    }
    Ok(id_token_response(Secret::new(id)))
}

/// Whether `s` can be a compact JWT: base64url segments and dots, nothing else (no
/// control character can reach a header, a file or a terminal).
pub(crate) fn is_jwt_text(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

pub(crate) fn id_token_response(id: Secret) -> TokenResponse {
    TokenResponse {
        access_token: id.clone().into(),
        token_type: "Bearer".into(),
        expires_in: None,
        refresh_token: None,
        scopes: None,
        id_token: Some(id),
    }
}

/// The token for an ID token, its expiry read from the token's own `exp` claim (the
/// signature is the issuer's business; it arrived over TLS from the endpoint we asked).
pub(crate) fn id_token_to_token(
    response: TokenResponse,
    endpoint: &str,
) -> Result<Token, CoreError> {
    let expiry = jwt::unverified_expiry(response.access_token.expose()).ok_or_else(|| {
        CoreError::MalformedResponse {
            endpoint: endpoint.to_owned(),
            reason: "the id_token is not a JWT with a numeric `exp`".into(),
        }
    })?;
    let mut token = Token::bearer(response.access_token.clone(), Some(expiry));
    token.id_token = Some(response.access_token.into_secret());
    Ok(token)
}

impl TokenSource for IdTokenCredentials {
    fn kind(&self) -> &'static str {
        "service_account"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    /// The service account, its token endpoint and the audience (an ID token is never an
    /// access token's entry), sealed with a digest of the private key.
    fn store_key(&self) -> TokenKey {
        let identity = format!(
            "{} token_uri={} id_token_audience={}",
            self.key.client_email(),
            self.key.token_uri(),
            self.target_audience
        );
        TokenKey::new("service_account_id_token", &identity, [""; 0])
            .with_secret(self.key.signer().store_secret())
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, CoreError> {
        let assertion = self.make_assertion(ctx.clock.now()).map_err(to_core)?;
        let call = TokenCall::new(
            self.key.token_uri().clone(),
            vec![
                // google-auth's order: assertion, then grant_type.
                ("assertion".into(), assertion.expose().to_owned()),
                ("grant_type".into(), JWT_BEARER_GRANT.into()),
            ],
        );
        Ok(Refresh::Exchange(Box::new(Retrying::new(
            IdTokenCall::new(call),
            ctx.retry,
        ))))
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        _ctx: &RefreshContext,
    ) -> Result<Token, CoreError> {
        id_token_to_token(response, &endpoint_label(&to_uri(self.key.token_uri())))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
