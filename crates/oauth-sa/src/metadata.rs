//! The metadata server of Compute Engine, Cloud Run, GKE and App Engine: the attached
//! service account's tokens, its ID tokens and the project id.

use std::any::Any;
use std::fmt;

use http::HeaderValue;
use oauth_core::exchange::{BoxExchange, Call};
use oauth_core::http::{
    HttpRequest, HttpResponse, endpoint_label, error_from_response, get, to_uri,
};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::StoredToken;
use oauth_core::{Error as CoreError, Retrying, Secret, Token, TokenResponse};
use url::Url;

use crate::id_token::{id_token_response, id_token_to_token};

/// The metadata server's name inside Google Cloud.
pub const METADATA_HOST: &str = "metadata.google.internal";
/// The metadata server's link-local address (what detection pings).
pub const METADATA_IP: &str = "169.254.169.254";
/// The header every metadata request carries and every answer echoes.
pub const METADATA_FLAVOR: &str = "Metadata-Flavor";

/// One GET to the metadata server with `Metadata-Flavor: Google`, read by `parse`.
///
/// ```
/// use oauth_core::exchange::Call;
/// let m = oauth_sa::MetadataCredentials::with_host("127.0.0.1:8080");
/// let call = m.project_id_call();
/// let req = call.request().unwrap();
/// assert_eq!(req.uri(), "http://127.0.0.1:8080/computeMetadata/v1/project/project-id");
/// assert_eq!(req.headers()["metadata-flavor"], "Google");
/// ```
pub struct MetadataCall<T> {
    url: Url,
    parse: fn(&str, HttpResponse) -> Result<T, CoreError>,
}

impl<T> fmt::Debug for MetadataCall<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataCall")
            .field("endpoint", &endpoint_label(&to_uri(&self.url)))
            .finish()
    }
}

impl<T: Send> Call for MetadataCall<T> {
    type Output = T;

    fn request(&self) -> Result<HttpRequest, CoreError> {
        let mut req = get(&self.url);
        req.headers_mut()
            .insert(METADATA_FLAVOR, HeaderValue::from_static("Google"));
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<T, CoreError> {
        (self.parse)(&self.endpoint(), response)
    }

    fn endpoint(&self) -> String {
        endpoint_label(&to_uri(&self.url))
    }
}

/// A metadata value (a project id, an email): one line of UTF-8 text without control
/// characters, so that it can be shown as it is.
fn text(endpoint: &str, response: HttpResponse) -> Result<String, CoreError> {
    if !response.status().is_success() {
        return Err(error_from_response(endpoint, &response));
    }
    let malformed = |reason: &str| CoreError::MalformedResponse {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let text = String::from_utf8(response.into_body().into())
        .map(|s| s.trim().to_owned())
        .map_err(|_| malformed("not UTF-8 text"))?;
    if text.chars().any(oauth_core::sanitize::is_unsafe_char) {
        return Err(malformed("the answer holds control characters"));
    }
    Ok(text)
}

fn token(endpoint: &str, response: HttpResponse) -> Result<TokenResponse, CoreError> {
    TokenResponse::parse(endpoint, &response)
}

fn identity(endpoint: &str, response: HttpResponse) -> Result<TokenResponse, CoreError> {
    let t = text(endpoint, response)?;
    if t.is_empty() || t.split('.').count() != 3 || !crate::id_token::is_jwt_text(&t) {
        return Err(CoreError::MalformedResponse {
            endpoint: endpoint.to_owned(),
            reason: "the identity endpoint did not answer with a JWT".into(),
        });
    }
    Ok(id_token_response(Secret::new(t)))
}

fn ping(_endpoint: &str, response: HttpResponse) -> Result<bool, CoreError> {
    Ok(response
        .headers()
        .get(METADATA_FLAVOR)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"Google")))
}

/// The metadata server's service account (google-auth's `compute_engine.Credentials` and
/// `compute_engine.IDTokenCredentials`).
///
/// The host is `GCE_METADATA_HOST` when set (how tests and emulators are reached), else
/// `metadata.google.internal`; requests are plain http, as the server is on the local link.
///
/// ```no_run
/// use oauth_core::blocking::Credentials;
/// let creds = Credentials::new(oauth_sa::MetadataCredentials::new());
/// let token = creds.token()?;
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MetadataCredentials {
    root: Url,
    account: String,
    scopes: Vec<String>,
    target_audience: Option<String>,
    quota_project_id: Option<String>,
}

impl Default for MetadataCredentials {
    fn default() -> Self {
        Self::new()
    }
}

impl MetadataCredentials {
    /// The metadata server named by `GCE_METADATA_HOST`, or Google's.
    pub fn new() -> Self {
        let host = std::env::var("GCE_METADATA_HOST").unwrap_or_else(|_| METADATA_HOST.into());
        Self::with_host(&host)
    }

    /// The metadata server at `host` (`host:port`).
    pub fn with_host(host: &str) -> Self {
        let root = Url::parse(&format!("http://{host}/"))
            .unwrap_or_else(|_| Url::parse("http://metadata.google.internal/").expect("constant"));
        MetadataCredentials {
            root,
            account: "default".into(),
            scopes: Vec::new(),
            target_audience: None,
            quota_project_id: None,
        }
    }

    /// The address detection pings: `GCE_METADATA_IP`, else `GCE_METADATA_HOST`, else
    /// 169.254.169.254 (google-auth pings the IP so that no DNS lookup is needed).
    pub fn detection_host() -> String {
        std::env::var("GCE_METADATA_IP")
            .or_else(|_| std::env::var("GCE_METADATA_HOST"))
            .unwrap_or_else(|_| METADATA_IP.into())
    }

    /// Scopes to ask for (the server grants the instance's scopes when none are given).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// The same server's ID tokens for `audience` (`format=full`) instead of access tokens.
    pub fn id_token_credentials(&self, audience: impl Into<String>) -> Self {
        MetadataCredentials {
            target_audience: Some(audience.into()),
            ..self.clone()
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.root.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn account_path(&self, leaf: &str) -> String {
        format!(
            "/computeMetadata/v1/instance/service-accounts/{}/{leaf}",
            self.account
        )
    }

    /// The access-token request.
    pub fn token_call(&self) -> MetadataCall<TokenResponse> {
        let scopes = self.scopes.join(",");
        let query: Vec<(&str, &str)> = if scopes.is_empty() {
            Vec::new()
        } else {
            vec![("scopes", scopes.as_str())]
        };
        MetadataCall {
            url: self.url(&self.account_path("token"), &query),
            parse: token,
        }
    }

    /// The ID-token request for `audience`.
    pub fn identity_call(&self, audience: &str) -> MetadataCall<TokenResponse> {
        MetadataCall {
            url: self.url(
                &self.account_path("identity"),
                &[("audience", audience), ("format", "full")],
            ),
            parse: identity,
        }
    }

    /// The project id request.
    pub fn project_id_call(&self) -> MetadataCall<String> {
        MetadataCall {
            url: self.url("/computeMetadata/v1/project/project-id", &[]),
            parse: text,
        }
    }

    /// The detection ping of `host`: true when the answer carries `Metadata-Flavor: Google`.
    pub fn ping_call(host: &str) -> MetadataCall<bool> {
        MetadataCall {
            url: Self::with_host(host).url("/", &[]),
            parse: ping,
        }
    }

    /// The service account's email, as the server reports it.
    pub fn email_call(&self) -> MetadataCall<String> {
        MetadataCall {
            url: self.url(&self.account_path("email"), &[]),
            parse: text,
        }
    }
}

impl TokenSource for MetadataCredentials {
    fn kind(&self) -> &'static str {
        "compute_engine"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, CoreError> {
        let exchange: BoxExchange<TokenResponse> = match &self.target_audience {
            Some(aud) => Box::new(Retrying::new(self.identity_call(aud), ctx.retry)),
            None => Box::new(Retrying::new(self.token_call(), ctx.retry)),
        };
        Ok(Refresh::Exchange(exchange))
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, CoreError> {
        match &self.target_audience {
            Some(_) => id_token_to_token(response, self.root.as_ref()),
            None => Ok(response.to_token(ctx.clock.now())),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use oauth_core::exchange::{Exchange, Input, Step};
    use oauth_core::{ManualClock, RetryPolicy};

    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header(METADATA_FLAVOR, "Google")
            .body(body.as_bytes().to_vec().into())
            .unwrap()
    }

    #[test]
    fn token_requests_carry_the_flavor_header_and_scopes() {
        let m = MetadataCredentials::with_host("127.0.0.1:1").with_scopes(["a", "b"]);
        let req = m.token_call().request().unwrap();
        assert_eq!(
            req.uri(),
            "http://127.0.0.1:1/computeMetadata/v1/instance/service-accounts/default/token?scopes=a%2Cb"
        );
        assert_eq!(req.headers()["metadata-flavor"], "Google");
        let r = m
            .token_call()
            .parse(resp(
                200,
                r#"{"access_token":"ya29.m","expires_in":3599,"token_type":"Bearer"}"#,
            ))
            .unwrap();
        assert_eq!(r.access_token.expose(), "ya29.m");
    }

    #[test]
    fn identity_tokens_take_their_expiry_from_the_jwt() {
        let m = MetadataCredentials::with_host("127.0.0.1:1").id_token_credentials("https://aud");
        let ctx = RefreshContext {
            clock: Arc::new(ManualClock::new(UNIX_EPOCH)),
            margin: Duration::ZERO,
            retry: RetryPolicy::none(),
        };
        let Refresh::Exchange(mut exchange) = m.begin_refresh(&ctx, None).unwrap() else {
            panic!()
        };
        let Step::Send(req) = exchange.step(Input::Start) else {
            panic!()
        };
        assert_eq!(
            req.uri(),
            "http://127.0.0.1:1/computeMetadata/v1/instance/service-accounts/default/identity?audience=https%3A%2F%2Faud&format=full"
        );
        let jwt = format!("e30.{}.c2ln", crate::jwt::b64(br#"{"exp":1700000000}"#));
        let Step::Done(Ok(r)) = exchange.step(Input::Response(Ok(resp(200, &jwt)))) else {
            panic!()
        };
        let t = m.finish_refresh(r, &ctx).unwrap();
        assert_eq!(
            t.expiry,
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(t.access_token.expose(), jwt);
        let bad = m.identity_call("a").parse(resp(200, "<html>"));
        assert!(matches!(bad, Err(CoreError::MalformedResponse { .. })));
    }

    #[test]
    fn detection_needs_the_flavor_header_in_the_answer() {
        let call = MetadataCredentials::ping_call("127.0.0.1:1");
        assert!(call.parse(resp(200, "")).unwrap());
        let plain = http::Response::builder()
            .status(200)
            .body(Default::default())
            .unwrap();
        assert!(!call.parse(plain).unwrap());
    }
}
