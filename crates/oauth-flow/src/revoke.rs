//! Revocation (RFC 7009, Google's `/revoke`) and tokeninfo, as sans-IO calls.

use std::fmt;

use oauth_core::exchange::Call;
use oauth_core::http::{HttpRequest, HttpResponse, endpoint_label, error_from_response, form_post};
use oauth_core::{Error, Secret};
use url::Url;

pub use oauth_core::client_secrets::GOOGLE_REVOKE_URI;

/// Google's tokeninfo endpoint.
pub const GOOGLE_TOKENINFO_URI: &str = "https://oauth2.googleapis.com/tokeninfo";

/// A revocation request: a form POST of `token` (an access or refresh token; revoking a
/// refresh token ends the whole grant at Google). The client's credentials are added when
/// given, for servers that require client authentication (RFC 7009 section 2.1).
///
/// ```
/// use oauth_core::exchange::Call;
/// use oauth_flow::RevokeCall;
/// let call = RevokeCall::google("1//refresh".into());
/// let req = call.request().unwrap();
/// assert_eq!(req.uri(), "https://oauth2.googleapis.com/revoke");
/// assert_eq!(&req.body()[..], b"token=1%2F%2Frefresh");
/// assert!(!format!("{call:?}").contains("1//refresh"));
/// let ok = http::Response::builder().status(200).body(b"{}".to_vec().into()).unwrap();
/// assert!(call.parse(ok).is_ok());
/// ```
pub struct RevokeCall {
    url: Url,
    token: Secret,
    client: Option<(String, Option<Secret>)>,
}

impl fmt::Debug for RevokeCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokeCall")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl RevokeCall {
    /// Revokes `token` at `url`.
    pub fn new(url: Url, token: Secret) -> Self {
        RevokeCall {
            url,
            token,
            client: None,
        }
    }

    /// Revokes `token` at Google's endpoint.
    pub fn google(token: Secret) -> Self {
        let url = Url::parse(GOOGLE_REVOKE_URI).unwrap_or_else(|_| unreachable_url());
        Self::new(url, token)
    }

    /// Authenticates as the client (`client_id`, `client_secret` in the form).
    ///
    /// ```
    /// # use oauth_core::exchange::Call;
    /// let call = oauth_flow::RevokeCall::google("t".into()).with_client("id", Some("s".into()));
    /// assert_eq!(&call.request().unwrap().body()[..], b"token=t&client_id=id&client_secret=s");
    /// ```
    pub fn with_client(mut self, client_id: impl Into<String>, secret: Option<Secret>) -> Self {
        self.client = Some((client_id.into(), secret));
        self
    }
}

/// Lends a call to [`Retrying`] without giving it up.
pub(crate) struct CallRef<'a, C>(pub(crate) &'a C);

impl<C: oauth_core::exchange::Call + Sync> oauth_core::exchange::Call for CallRef<'_, C> {
    type Output = C::Output;
    fn request(&self) -> Result<oauth_core::http::HttpRequest, oauth_core::Error> {
        self.0.request()
    }
    fn parse(&self, r: oauth_core::http::HttpResponse) -> Result<C::Output, oauth_core::Error> {
        self.0.parse(r)
    }
    fn endpoint(&self) -> String {
        self.0.endpoint()
    }
}

/// A body that is an OAuth or Google error whatever the status (`{"error": ...}`): a 200
/// that says so is an error too.
fn is_error_body(response: &HttpResponse) -> bool {
    serde_json::from_slice::<serde_json::Value>(response.body())
        .ok()
        .and_then(|v| v.get("error").cloned())
        .is_some_and(|e| e.is_string() || e.is_object())
}

fn unreachable_url() -> Url {
    // Only reached if a constant URL failed to parse, which it cannot.
    Url::parse("http://127.0.0.1/").expect("a literal URL parses")
}

impl Call for RevokeCall {
    type Output = ();

    fn request(&self) -> Result<HttpRequest, Error> {
        let mut params = vec![("token", self.token.expose())];
        if let Some((id, secret)) = &self.client {
            params.push(("client_id", id));
            if let Some(s) = secret {
                params.push(("client_secret", s.expose()));
            }
        }
        Ok(form_post(&self.url, &params))
    }

    fn parse(&self, response: HttpResponse) -> Result<(), Error> {
        if response.status().is_success() && !is_error_body(&response) {
            Ok(())
        } else {
            Err(error_from_response(&self.endpoint(), &response))
        }
    }

    fn endpoint(&self) -> String {
        endpoint_label(&oauth_core::http::to_uri(&self.url))
    }
}

/// What tokeninfo says about a token: Google's fields typed, and the whole answer.
///
/// ```
/// let info = oauth_flow::TokenInfo::from_json(serde_json::json!({
///     "azp": "id", "aud": "id", "scope": "openid email", "exp": "1700003600",
///     "expires_in": "3599", "email": "a@example.com", "email_verified": "true"}));
/// assert_eq!(info.scopes(), ["openid", "email"]);
/// assert_eq!(info.expires_in, Some(3599));
/// assert_eq!(info.email_verified, Some(true));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    /// The client the token was issued to.
    pub azp: Option<String>,
    /// The audience.
    pub aud: Option<String>,
    /// The user's stable ID.
    pub sub: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: Option<u64>,
    /// Seconds left.
    pub expires_in: Option<u64>,
    /// The user's email, when the `email` scope was granted.
    pub email: Option<String>,
    /// Whether the email is verified.
    pub email_verified: Option<bool>,
    /// The whole answer, as sent.
    pub raw: serde_json::Value,
}

impl TokenInfo {
    /// Reads Google's answer (numbers and booleans may come as strings).
    pub fn from_json(raw: serde_json::Value) -> Self {
        let s = |k: &str| raw.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let n = |k: &str| match raw.get(k) {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(t)) => t.parse().ok(),
            _ => None,
        };
        let email_verified = match raw.get("email_verified") {
            Some(serde_json::Value::Bool(b)) => Some(*b),
            Some(serde_json::Value::String(t)) => t.parse().ok(),
            _ => None,
        };
        TokenInfo {
            azp: s("azp"),
            aud: s("aud"),
            sub: s("sub"),
            scope: s("scope"),
            exp: n("exp"),
            expires_in: n("expires_in"),
            email: s("email"),
            email_verified,
            raw,
        }
    }

    /// The granted scopes.
    pub fn scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }
}

/// A tokeninfo request for an access token (sent in a POST form body, so the token stays
/// out of URLs and server logs).
///
/// ```
/// use oauth_core::exchange::Call;
/// let call = oauth_flow::TokenInfoCall::google("ya29.x".into());
/// let req = call.request().unwrap();
/// assert_eq!(req.method(), "POST");
/// assert_eq!(&req.body()[..], b"access_token=ya29.x");
/// let bad = http::Response::builder().status(400)
///     .body(br#"{"error":"invalid_token","error_description":"Invalid Value"}"#.to_vec().into()).unwrap();
/// assert_eq!(call.parse(bad).unwrap_err().oauth().unwrap().error, "invalid_token");
/// ```
pub struct TokenInfoCall {
    url: Url,
    token: Secret,
}

impl fmt::Debug for TokenInfoCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInfoCall")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl TokenInfoCall {
    /// Asks `url` about `access_token`.
    pub fn new(url: Url, access_token: Secret) -> Self {
        TokenInfoCall {
            url,
            token: access_token,
        }
    }

    /// Asks Google's tokeninfo endpoint.
    pub fn google(access_token: Secret) -> Self {
        let url = Url::parse(GOOGLE_TOKENINFO_URI).unwrap_or_else(|_| unreachable_url());
        Self::new(url, access_token)
    }
}

impl Call for TokenInfoCall {
    type Output = TokenInfo;

    fn request(&self) -> Result<HttpRequest, Error> {
        let mut req = form_post(&self.url, &[("access_token", self.token.expose())]);
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<TokenInfo, Error> {
        if !response.status().is_success() || is_error_body(&response) {
            return Err(error_from_response(&self.endpoint(), &response));
        }
        let v: serde_json::Value =
            serde_json::from_slice(response.body()).map_err(|_| Error::MalformedResponse {
                endpoint: self.endpoint(),
                reason: "not JSON".into(),
            })?;
        if !v.is_object() {
            return Err(Error::MalformedResponse {
                endpoint: self.endpoint(),
                reason: "not a JSON object".into(),
            });
        }
        Ok(TokenInfo::from_json(v))
    }

    fn endpoint(&self) -> String {
        endpoint_label(&oauth_core::http::to_uri(&self.url))
    }
}
