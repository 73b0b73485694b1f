//! The Security Token Service: the OAuth 2.0 token exchange (RFC 8693) and the refresh-token
//! grant, with client authentication as google-auth's `google.oauth2.sts` sends them.

use std::fmt;

use base64::Engine;
use http::HeaderValue;
use oauth_core::exchange::Call;
use oauth_core::http::{HttpRequest, HttpResponse, endpoint_label, form_post, to_uri};
use oauth_core::{Error, Secret, TokenResponse};
use url::Url;

use crate::pyjson::{Py, dumps, quote};

/// Google's STS token endpoint.
pub const GOOGLE_STS_TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// The token-exchange grant type.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The access-token token type (what STS issues, and the subject type of downscoping).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// OAuth client authentication by HTTP Basic (RFC 6749 section 2.3.1), as google-auth
/// sends it: `base64(client_id ":" client_secret)`, the secret empty when absent.
///
/// ```
/// use oauth_external::sts::ClientAuth;
/// let a = ClientAuth::new("id", Some("s".into()));
/// assert_eq!(a.header_value().unwrap(), "Basic aWQ6cw==");
/// assert!(!format!("{a:?}").contains("\"s\""));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAuth {
    client_id: String,
    client_secret: Option<Secret>,
}

impl ClientAuth {
    /// The client's id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: Option<Secret>) -> Self {
        ClientAuth {
            client_id: client_id.into(),
            client_secret,
        }
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, when there is one.
    pub(crate) fn client_secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// The `Authorization` value (marked sensitive).
    pub fn header_value(&self) -> Result<HeaderValue, Error> {
        let secret = self.client_secret.as_ref().map_or("", Secret::expose);
        let raw = format!("{}:{secret}", self.client_id);
        let encoded = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
        let mut v = HeaderValue::try_from(format!("Basic {encoded}"))
            .map_err(|_| Error::InvalidRequest("the client credentials are not a header".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish()
    }
}

/// `options` as google-auth writes it: `urllib.parse.quote(json.dumps(options))`.
pub(crate) fn options(value: &Py) -> String {
    quote(&dumps(value, false), b"/")
}

/// One request to STS: a form of grant parameters (in google-auth's order, empty ones left
/// out), optional client authentication, read as a [`TokenResponse`].
///
/// ```
/// use oauth_core::exchange::Call;
/// use oauth_external::sts::StsCall;
/// let call = StsCall::token_exchange(
///     "https://sts.googleapis.com/v1/token".parse().unwrap(),
///     "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/o",
///     "urn:ietf:params:oauth:token-type:jwt",
///     oauth_core::Secret::new("eyJ.x.y"),
///     &["https://www.googleapis.com/auth/cloud-platform".to_string()],
/// );
/// let req = call.request().unwrap();
/// let form: Vec<(String, String)> = url::form_urlencoded::parse(req.body()).into_owned().collect();
/// assert_eq!(form[0], ("grant_type".into(), "urn:ietf:params:oauth:grant-type:token-exchange".into()));
/// assert_eq!(form[1].0, "audience");
/// assert_eq!(form[2], ("scope".into(), "https://www.googleapis.com/auth/cloud-platform".into()));
/// ```
#[derive(Debug, Clone)]
pub struct StsCall {
    url: Url,
    params: Vec<(&'static str, Secret)>,
    client: Option<ClientAuth>,
    revocation: bool,
}

impl StsCall {
    /// A token exchange of `subject_token` for a Google access token.
    pub fn token_exchange(
        url: Url,
        audience: &str,
        subject_token_type: &str,
        subject_token: Secret,
        scopes: &[String],
    ) -> Self {
        let mut call = StsCall {
            url,
            params: Vec::new(),
            client: None,
            revocation: false,
        };
        call.push("grant_type", TOKEN_EXCHANGE_GRANT);
        call.push("audience", audience);
        call.push("scope", &scopes.join(" "));
        call.push("requested_token_type", ACCESS_TOKEN_TYPE);
        call.params.push(("subject_token", subject_token));
        call.push("subject_token_type", subject_token_type);
        call
    }

    /// A refresh-token grant (`external_account_authorized_user` files).
    pub fn refresh_token(url: Url, refresh_token: Secret, client: ClientAuth) -> Self {
        let mut call = StsCall {
            url,
            params: Vec::new(),
            client: Some(client),
            revocation: false,
        };
        call.push("grant_type", "refresh_token");
        call.params.push(("refresh_token", refresh_token));
        call
    }

    /// A revocation (RFC 7009) of `token` at `url`.
    pub fn revoke(url: Url, token: Secret, token_type_hint: &str, client: ClientAuth) -> Self {
        let mut call = StsCall {
            url,
            params: vec![("token", token)],
            client: Some(client),
            revocation: true,
        };
        call.push("token_type_hint", token_type_hint);
        call
    }

    /// Authenticates the client with HTTP Basic.
    pub fn with_client(mut self, client: Option<ClientAuth>) -> Self {
        self.client = client;
        self
    }

    /// Adds `options` (Google's non-standard settings), encoded as google-auth encodes it.
    pub(crate) fn with_options(mut self, options: String) -> Self {
        self.push("options", &options);
        self
    }

    fn push(&mut self, name: &'static str, value: &str) {
        if !value.is_empty() {
            self.params.push((name, Secret::from(value)));
        }
    }
}

impl Call for StsCall {
    type Output = TokenResponse;

    fn request(&self) -> Result<HttpRequest, Error> {
        let pairs: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (*k, v.expose())).collect();
        let mut req = form_post(&self.url, &pairs);
        if let Some(c) = &self.client {
            req.headers_mut()
                .insert(http::header::AUTHORIZATION, c.header_value()?);
        }
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<TokenResponse, Error> {
        let endpoint = self.endpoint();
        if self.revocation {
            // A revocation answers 200 with an empty body.
            if response.status().is_success() {
                return Ok(TokenResponse {
                    access_token: Secret::new("").into(),
                    token_type: String::new(),
                    expires_in: None,
                    refresh_token: None,
                    scopes: None,
                    id_token: None,
                });
            }
            return Err(oauth_core::http::error_from_response(&endpoint, &response));
        }
        TokenResponse::parse(&endpoint, &response)
    }

    fn endpoint(&self) -> String {
        endpoint_label(&to_uri(&self.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(req: &HttpRequest) -> Vec<(String, String)> {
        url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect()
    }

    #[test]
    fn token_exchange_fields_follow_google_auths_order_and_drop_empties() {
        let call = StsCall::token_exchange(
            "http://127.0.0.1:1/v1/token".parse().unwrap(),
            "aud",
            "urn:ietf:params:oauth:token-type:jwt",
            Secret::new("subject"),
            &[],
        )
        .with_options(options(&Py::Obj(vec![("userProject", Py::str("123"))])))
        .with_client(Some(ClientAuth::new("cid", None)));
        let req = call.request().unwrap();
        let names: Vec<String> = form(&req).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "grant_type",
                "audience",
                "requested_token_type",
                "subject_token",
                "subject_token_type",
                "options"
            ]
        );
        assert_eq!(
            form(&req)[5].1,
            "%7B%22userProject%22%3A%20%22123%22%7D",
            "quote(json.dumps(...)) sent as a form value"
        );
        assert_eq!(req.headers()["authorization"], "Basic Y2lkOg==");
        assert!(req.headers()["authorization"].is_sensitive());
    }

    #[test]
    fn refresh_and_revoke_use_basic_auth_and_read_their_answers() {
        let client = ClientAuth::new("c", Some(Secret::new("s")));
        let call = StsCall::refresh_token(
            "http://127.0.0.1:1/v1/oauthtoken".parse().unwrap(),
            Secret::new("r"),
            client.clone(),
        );
        let req = call.request().unwrap();
        assert_eq!(&req.body()[..], b"grant_type=refresh_token&refresh_token=r");
        assert_eq!(req.headers()["authorization"], "Basic Yzpz");
        let revoke = StsCall::revoke(
            "http://127.0.0.1:1/v1/revoke".parse().unwrap(),
            Secret::new("r"),
            "refresh_token",
            client,
        );
        assert_eq!(
            &revoke.request().unwrap().body()[..],
            b"token=r&token_type_hint=refresh_token"
        );
        let empty = http::Response::builder()
            .status(200)
            .body(Default::default())
            .unwrap();
        assert!(revoke.parse(empty).is_ok());
        let bad = http::Response::builder()
            .status(400)
            .body(br#"{"error":"invalid_request"}"#.to_vec().into())
            .unwrap();
        assert_eq!(
            revoke.parse(bad).unwrap_err().oauth().unwrap().error,
            "invalid_request"
        );
    }
}
