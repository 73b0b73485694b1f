//! Tokens and the token endpoint protocol (RFC 6749 sections 5.1 and 5.2).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::exchange::Call;
use crate::http::{HttpRequest, HttpResponse, endpoint_label, error_from_response, form_post};
use crate::types::{AccessToken, RefreshToken, Scope, TokenUrl};
use crate::{Error, Secret};

/// An access token with what is known about it.
///
/// Serialized (for token stores) with its expiry as whole seconds since the Unix epoch.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oauth_core::Token;
/// let now = SystemTime::now();
/// let t = Token::bearer("ya29.a", Some(now + Duration::from_secs(3600)));
/// assert!(t.is_fresh(now, Duration::from_secs(225)));
/// assert!(!t.is_fresh(now + Duration::from_secs(3500), Duration::from_secs(225)));
/// assert!(!format!("{t:?}").contains("ya29"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    /// The access token.
    pub access_token: AccessToken,
    /// The token type (`Bearer`).
    pub token_type: String,
    /// When it expires; `None` for a token that does not say.
    #[serde(with = "unix_seconds")]
    pub expiry: Option<SystemTime>,
    /// The scopes granted, when the server said.
    pub scopes: Option<Vec<Scope>>,
    /// The OpenID Connect ID token, when one came with it.
    pub id_token: Option<Secret>,
}

/// An expiry as whole seconds since the Unix epoch (earlier times as 0).
mod unix_seconds {
    use std::time::{Duration, SystemTime};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            None => s.serialize_none(),
            Some(t) => s.serialize_some(
                &t.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            ),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(|secs| {
            SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(secs))
                .unwrap_or(SystemTime::UNIX_EPOCH)
        }))
    }
}

impl Token {
    /// A bearer token.
    pub fn bearer(access_token: impl Into<AccessToken>, expiry: Option<SystemTime>) -> Self {
        Token {
            access_token: access_token.into(),
            token_type: "Bearer".into(),
            expiry,
            scopes: None,
            id_token: None,
        }
    }

    /// Whether the token is valid for longer than `margin` at `now`. A token without an
    /// expiry is taken as fresh, as google-auth does.
    pub fn is_fresh(&self, now: SystemTime, margin: Duration) -> bool {
        match self.expiry {
            None => true,
            Some(exp) => exp.duration_since(now).is_ok_and(|left| left > margin),
        }
    }

    /// Whether the token has not expired yet at `now`.
    pub fn is_valid(&self, now: SystemTime) -> bool {
        self.is_fresh(now, Duration::ZERO)
    }

    /// When the token should be replaced, judged at `observed_at` (when it was received, or
    /// first seen): [`scaled_margin`] before its expiry, the lifetime being what it has left
    /// at `observed_at`. `None` for a token without an expiry, which is never stale.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use oauth_core::{DEFAULT_REFRESH_MARGIN, Token};
    /// let now = SystemTime::UNIX_EPOCH;
    /// let hour = Token::bearer("ya29.a", Some(now + Duration::from_secs(3600)));
    /// assert_eq!(hour.stale_at(now, DEFAULT_REFRESH_MARGIN), Some(now + Duration::from_secs(3375)));
    /// // A 60 s token is replaced after 45 s, not at once.
    /// let minute = Token::bearer("ya29.b", Some(now + Duration::from_secs(60)));
    /// assert_eq!(minute.stale_at(now, DEFAULT_REFRESH_MARGIN), Some(now + Duration::from_secs(45)));
    /// ```
    pub fn stale_at(&self, observed_at: SystemTime, margin: Duration) -> Option<SystemTime> {
        let expiry = self.expiry?;
        let lifetime = expiry.duration_since(observed_at).unwrap_or(Duration::ZERO);
        Some(
            expiry
                .checked_sub(scaled_margin(margin, lifetime))
                .unwrap_or(expiry),
        )
    }
}

/// The least refresh margin of a short-lived token (see [`scaled_margin`]): time for a
/// request to reach a server with the token and for a little clock skew.
pub const MIN_REFRESH_MARGIN: Duration = Duration::from_secs(10);

/// The refresh margin of a token that lives `lifetime`: a quarter of its lifetime, at least
/// [`MIN_REFRESH_MARGIN`] and at most half its lifetime, and never more than the configured
/// `margin` (google-auth's 225 s by default). A token whose whole life is shorter than the
/// configured margin is thus used for most of it instead of being stale on arrival; an
/// hour-long token keeps the full margin.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::token::scaled_margin;
/// let m = Duration::from_secs(225);
/// let s = Duration::from_secs;
/// assert_eq!(scaled_margin(m, s(3600)), s(225));
/// assert_eq!(scaled_margin(m, s(120)), s(30));
/// assert_eq!(scaled_margin(m, s(60)), s(15));
/// assert_eq!(scaled_margin(m, s(30)), s(10));
/// assert_eq!(scaled_margin(m, s(10)), s(5));
/// assert_eq!(scaled_margin(Duration::ZERO, s(60)), Duration::ZERO);
/// ```
pub fn scaled_margin(margin: Duration, lifetime: Duration) -> Duration {
    (lifetime / 4)
        .max(MIN_REFRESH_MARGIN)
        .min(lifetime / 2)
        .min(margin)
}

/// A successful token endpoint answer (RFC 6749 section 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: AccessToken,
    /// The token type; `Bearer` when absent.
    pub token_type: String,
    /// Lifetime in seconds, when given. Numbers beyond `u64` (or `1e300`) saturate;
    /// [`TokenResponse::to_token`] clamps the expiry to [`max_time`](crate::clock::max_time).
    pub expires_in: Option<u64>,
    /// A new refresh token: the server issued one or rotated the old one.
    pub refresh_token: Option<RefreshToken>,
    /// The granted scopes, space-separated on the wire.
    pub scopes: Option<Vec<Scope>>,
    /// The OpenID Connect ID token.
    pub id_token: Option<Secret>,
}

impl TokenResponse {
    /// The token, its expiry counted from `received_at` and clamped to
    /// [`max_time`](crate::clock::max_time) (`9999-12-31T23:59:59Z`): an `expires_in` of
    /// 2^64-1 never overflows.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// # use oauth_core::{Secret, TokenResponse};
    /// let r = TokenResponse { access_token: Secret::new("ya29.x").into(), token_type: "Bearer".into(),
    ///     expires_in: Some(u64::MAX), refresh_token: None, scopes: None, id_token: None };
    /// assert_eq!(r.to_token(SystemTime::now()).expiry, Some(oauth_core::clock::max_time()));
    /// ```
    pub fn to_token(&self, received_at: SystemTime) -> Token {
        Token {
            access_token: self.access_token.clone(),
            token_type: self.token_type.clone(),
            expiry: self
                .expires_in
                .map(|s| crate::clock::add_clamped(received_at, Duration::from_secs(s))),
            scopes: self.scopes.clone(),
            id_token: self.id_token.clone(),
        }
    }

    /// Parses a token endpoint answer: a success body per section 5.1 (`expires_in` as a
    /// number or a string), or an error per section 5.2 with its HTTP status; HTML and
    /// broken JSON become [`Error::Http`] or [`Error::MalformedResponse`] with no secret in
    /// them.
    ///
    /// `expires_in` may be an integer (saturated at `u64::MAX` when larger), a non-negative
    /// finite number (truncated) or a string of digits; a negative number, another string
    /// or another type is [`Error::MalformedResponse`]. Tokens must be visible ASCII (RFC
    /// 6749's VSCHAR): a token holding a control character or a non-ASCII one is refused,
    /// so it can reach neither a header, a file nor a terminal.
    ///
    /// ```
    /// use oauth_core::TokenResponse;
    /// let ok = http::Response::builder().status(200)
    ///     .header("content-type", "application/json")
    ///     .body(br#"{"access_token":"ya29.x","expires_in":"3599","token_type":"Bearer","scope":"a b"}"#.as_slice().into())
    ///     .unwrap();
    /// let t = TokenResponse::parse("https://oauth2.googleapis.com/token", &ok).unwrap();
    /// assert_eq!(t.expires_in, Some(3599));
    /// assert_eq!(t.scopes.unwrap(), ["a", "b"]);
    /// ```
    pub fn parse(endpoint: &str, response: &HttpResponse) -> Result<TokenResponse, Error> {
        if !response.status().is_success() {
            return Err(error_from_response(endpoint, response));
        }
        let raw: RawTokenResponse = match serde_json::from_slice(response.body()) {
            Ok(raw) => raw,
            Err(e) => {
                // A 200 that is an OAuth error body still is one.
                let err = error_from_response(endpoint, response);
                if matches!(err, Error::OAuth(_)) {
                    return Err(err);
                }
                return Err(Error::MalformedResponse {
                    endpoint: endpoint.to_owned(),
                    reason: match e.classify() {
                        serde_json::error::Category::Eof => "truncated JSON".into(),
                        serde_json::error::Category::Data => {
                            format!(
                                "a field has the wrong type (line {} column {})",
                                e.line(),
                                e.column()
                            )
                        }
                        _ => format!("not JSON ({})", crate::http::safe_excerpt(response.body())),
                    },
                });
            }
        };
        if let Some(error) = raw.error {
            return Err(Error::OAuth(crate::OAuthError::from_server(
                response.status().as_u16(),
                &error,
                raw.error_description.as_deref(),
                raw.error_uri.as_deref(),
            )));
        }
        let expires_in_present = raw.expires_in_present();
        let access_token = raw.access_token.ok_or_else(|| Error::MalformedResponse {
            endpoint: endpoint.to_owned(),
            reason: "no `access_token` in the response".into(),
        })?;
        let expires_in = raw.expires_in.as_ref().and_then(seconds);
        if expires_in_present && expires_in.is_none() {
            return Err(Error::MalformedResponse {
                endpoint: endpoint.to_owned(),
                reason: "`expires_in` is not a number of seconds".into(),
            });
        }
        for (field, value) in [
            ("access_token", Some(&access_token)),
            ("refresh_token", raw.refresh_token.as_ref()),
            ("id_token", raw.id_token.as_ref()),
        ] {
            if value.is_some_and(|v| !is_token_text(v)) {
                return Err(Error::MalformedResponse {
                    endpoint: endpoint.to_owned(),
                    reason: format!(
                        "`{field}` holds characters a token cannot hold (control or non-ASCII)"
                    ),
                });
            }
        }
        Ok(TokenResponse {
            access_token: AccessToken::new(access_token),
            token_type: raw
                .token_type
                .map_or_else(|| "Bearer".into(), |t| crate::sanitize::excerpt(&t, 40)),
            expires_in,
            refresh_token: raw.refresh_token.map(RefreshToken::new),
            scopes: raw.scope.map(|s| {
                s.split_whitespace()
                    .map(|x| Scope::new(crate::sanitize::escape_controls(x).into_owned()))
                    .collect()
            }),
            id_token: raw.id_token.map(Secret::new),
        })
    }
}

/// Whether a token is made of RFC 6749's VSCHAR (visible ASCII and space).
pub(crate) fn is_token_text(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// A number of seconds as servers send it: an integer (saturated at `u64::MAX`), a
/// non-negative finite number (truncated), or a string of ASCII digits (saturated).
/// Anything else (negative, `NaN`, `1e3` as a string, a bool) is `None`.
///
/// ```
/// use oauth_core::token::seconds;
/// use serde_json::json;
/// assert_eq!(seconds(&json!(3599)), Some(3599));
/// assert_eq!(seconds(&json!("3599")), Some(3599));
/// assert_eq!(seconds(&json!(1e300)), Some(u64::MAX));
/// assert_eq!(seconds(&json!("99999999999999999999999")), Some(u64::MAX));
/// assert_eq!(seconds(&json!(-1)), None);
/// assert_eq!(seconds(&json!("NaN")), None);
/// ```
pub fn seconds(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            // `as` saturates: 1e300 becomes u64::MAX.
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        serde_json::Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(s.parse::<u64>().unwrap_or(u64::MAX))
        }
        _ => None,
    }
}

#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    #[serde(default, deserialize_with = "keep_presence")]
    expires_in: Option<serde_json::Value>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

impl RawTokenResponse {
    fn expires_in_present(&self) -> bool {
        matches!(self.expires_in, Some(ref v) if !v.is_null())
    }
}

fn keep_presence<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

/// The token request parameters that carry secrets: their values are registered with the
/// sanitiser (RFC 6749, 7523, 8628, 8693 and Google's `rapt`).
pub const SECRET_PARAMS: [&str; 13] = [
    "client_secret",
    "refresh_token",
    "assertion",
    "client_assertion",
    "code",
    "code_verifier",
    "device_code",
    "subject_token",
    "actor_token",
    "password",
    "rapt",
    "access_token",
    "token",
];

/// One request to a token endpoint: a form POST of grant parameters, read as a
/// [`TokenResponse`]. Retried by [`crate::Retrying`].
///
/// ```
/// use oauth_core::{exchange::Call, TokenCall};
/// let call = TokenCall::new(
///     "https://oauth2.googleapis.com/token".parse::<oauth_core::types::TokenUrl>().unwrap(),
///     vec![("grant_type".into(), "refresh_token".into())],
/// );
/// let req = call.request().unwrap();
/// assert_eq!(req.method(), "POST");
/// assert_eq!(&req.body()[..], b"grant_type=refresh_token");
/// ```
pub struct TokenCall {
    url: TokenUrl,
    params: Vec<(String, Secret)>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl TokenCall {
    /// A call with grant parameters; values are kept as secrets (they hold refresh tokens,
    /// client secrets and assertions), and the values of the parameters that carry secrets
    /// ([`SECRET_PARAMS`]) are registered with the [sanitiser](crate::sanitize) for as long
    /// as the call lives: a server that echoes them back sees them redacted.
    pub fn new(url: impl Into<TokenUrl>, params: Vec<(String, String)>) -> Self {
        TokenCall {
            url: url.into(),
            params: params
                .into_iter()
                .map(|(k, v)| {
                    let v = if SECRET_PARAMS.contains(&k.as_str()) {
                        Secret::new(v)
                    } else {
                        Secret::unregistered(v)
                    };
                    (k, v)
                })
                .collect(),
            headers: Vec::new(),
        }
    }

    /// Adds a request header (for example `x-goog-user-project`).
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl Call for TokenCall {
    type Output = TokenResponse;

    fn request(&self) -> Result<HttpRequest, Error> {
        let pairs: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        let mut req = form_post(self.url.url(), &pairs);
        for (k, v) in &self.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<TokenResponse, Error> {
        TokenResponse::parse(&self.endpoint(), &response)
    }

    fn endpoint(&self) -> String {
        endpoint_label(&crate::http::to_uri(self.url.url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "https://oauth2.googleapis.com/token";

    fn resp(status: u16, ct: &str, body: &[u8]) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", ct)
            .body(body.to_vec().into())
            .unwrap()
    }

    #[test]
    fn success_with_numeric_expiry_and_rotation() {
        let r = resp(
            200,
            "application/json; charset=utf-8",
            br#"{"access_token":"ya29.a","expires_in":3599,"refresh_token":"1//new","id_token":"e.y.j","token_type":"Bearer"}"#,
        );
        let t = TokenResponse::parse(EP, &r).unwrap();
        assert_eq!(t.access_token.expose(), "ya29.a");
        assert_eq!(t.expires_in, Some(3599));
        assert_eq!(t.refresh_token.unwrap().expose(), "1//new");
        assert_eq!(t.id_token.unwrap().expose(), "e.y.j");
        let now = SystemTime::UNIX_EPOCH;
        let tok = TokenResponse::parse(EP, &r).unwrap().to_token(now);
        assert_eq!(tok.expiry, Some(now + Duration::from_secs(3599)));
    }

    #[test]
    fn missing_token_type_and_expiry_are_accepted() {
        let r = resp(200, "application/json", br#"{"access_token":"a"}"#);
        let t = TokenResponse::parse(EP, &r).unwrap();
        assert_eq!(t.token_type, "Bearer");
        assert_eq!(t.expires_in, None);
    }

    #[test]
    fn error_bodies_become_oauth_errors() {
        let r = resp(
            400,
            "application/json",
            br#"{"error":"invalid_grant","error_description":"Bad Request"}"#,
        );
        let e = TokenResponse::parse(EP, &r).unwrap_err();
        assert_eq!(e.oauth().unwrap().error, "invalid_grant");
        assert!(!e.is_transient());
        let r = resp(200, "application/json", br#"{"error":"server_error"}"#);
        let e = TokenResponse::parse(EP, &r).unwrap_err();
        assert!(e.is_transient(), "{e}");
    }

    #[test]
    fn truncated_and_html_bodies_hold_no_secret() {
        let r = resp(
            200,
            "application/json",
            br#"{"access_token":"ya29.secret","exp"#,
        );
        let e = TokenResponse::parse(EP, &r).unwrap_err();
        assert!(matches!(e, Error::MalformedResponse { .. }));
        assert!(!e.to_string().contains("ya29"), "{e}");
        let r = resp(200, "text/html", b"<html><title>Sign in</title></html>");
        let e = TokenResponse::parse(EP, &r).unwrap_err();
        assert!(e.to_string().contains("Sign in"), "{e}");
        let r = resp(502, "text/html", b"<html><title>502</title></html>");
        let e = TokenResponse::parse(EP, &r).unwrap_err();
        assert!(e.is_transient());
    }

    #[test]
    fn missing_access_token_and_bad_expiry_are_malformed() {
        let r = resp(200, "application/json", br#"{"token_type":"Bearer"}"#);
        assert!(
            TokenResponse::parse(EP, &r)
                .unwrap_err()
                .to_string()
                .contains("access_token")
        );
        let r = resp(
            200,
            "application/json",
            br#"{"access_token":"a","expires_in":"soon"}"#,
        );
        assert!(
            TokenResponse::parse(EP, &r)
                .unwrap_err()
                .to_string()
                .contains("expires_in")
        );
        let r = resp(200, "application/json", br#"{"access_token":5}"#);
        let e = TokenResponse::parse(EP, &r).unwrap_err();
        assert!(e.to_string().contains("wrong type"), "{e}");
    }

    #[test]
    fn extreme_lifetimes_are_clamped_or_refused_never_overflowed() {
        let now = SystemTime::now();
        let max = crate::clock::max_time();
        for (value, expiry) in [
            ("18446744073709551615", Some(max)),
            ("9223372036854775807", Some(max)),
            ("18446744073709551616", Some(max)),
            ("1e300", Some(max)),
            ("1.7976931348623157e308", Some(max)),
            ("\"18446744073709551615\"", Some(max)),
            ("\"999999999999999999999999999999\"", Some(max)),
            ("0", Some(now)),
            ("3599.9", Some(now + Duration::from_secs(3599))),
            ("-1", None),
            ("-1e300", None),
            ("-9223372036854775808", None),
            ("\"-1\"", None),
            ("\"NaN\"", None),
            ("\"inf\"", None),
            ("\"1e9\"", None),
            ("\"\"", None),
            ("\"soon\"", None),
            ("true", None),
            ("[1]", None),
            ("{}", None),
        ] {
            let body = format!(r#"{{"access_token":"ya29.a","expires_in":{value}}}"#);
            let r = resp(200, "application/json", body.as_bytes());
            match (TokenResponse::parse(EP, &r), expiry) {
                (Ok(t), Some(want)) => {
                    let tok = t.to_token(now);
                    assert_eq!(tok.expiry, Some(want), "{value}");
                    // Formatting the expiry never fails.
                    let _ = crate::clock::format_rfc3339(tok.expiry.unwrap());
                }
                (Err(e), None) => {
                    assert!(matches!(e, Error::MalformedResponse { .. }), "{value}: {e}");
                    assert!(e.to_string().contains("expires_in"), "{value}: {e}");
                }
                (got, want) => panic!("{value}: {got:?} / {want:?}"),
            }
        }
    }

    #[test]
    fn tokens_with_control_or_non_ascii_characters_are_refused() {
        for body in [
            r#"{"access_token":"ya29.\u001b[2J"}"#,
            r#"{"access_token":"ya29.a\r\nX-Evil: 1"}"#,
            r#"{"access_token":"ya29.a","refresh_token":"1//\u0007"}"#,
            r#"{"access_token":"ya29.a","id_token":"e\u202e.y.z"}"#,
            r#"{"access_token":"ya29.é"}"#,
        ] {
            let e = TokenResponse::parse(EP, &resp(200, "application/json", body.as_bytes()))
                .unwrap_err();
            assert!(matches!(e, Error::MalformedResponse { .. }), "{body}: {e}");
            assert!(!e.to_string().contains("ya29"), "{e}");
        }
        // RFC 6749's VSCHAR includes the space.
        let ok = resp(200, "application/json", br#"{"access_token":"a b~+/="}"#);
        assert!(TokenResponse::parse(EP, &ok).is_ok());
    }

    #[test]
    fn secret_parameters_sent_are_redacted_when_echoed_back() {
        let assertion = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl";
        let call = TokenCall::new(
            EP.parse::<TokenUrl>().unwrap(),
            vec![
                ("grant_type".into(), "refresh_token".into()),
                ("client_id".into(), "my-client-id.apps".into()),
                ("client_secret".into(), "GOCSPX-sent-secret".into()),
                ("refresh_token".into(), "1//sent-refresh-token".into()),
                ("assertion".into(), assertion.into()),
            ],
        );
        let echoed = String::from_utf8(call.request().unwrap().body().to_vec()).unwrap();
        let body = serde_json::json!({
            "error": "invalid_grant",
            "error_description": format!("you sent {echoed} \u{1b}[2J and 1//sent-refresh-token"),
            "error_uri": format!("https://x/?a={assertion}"),
        });
        let e = call
            .parse(resp(400, "application/json", body.to_string().as_bytes()))
            .unwrap_err();
        let shown = format!("{e} {e:?}");
        for secret in ["GOCSPX-sent-secret", "sent-refresh-token", assertion] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(!shown.contains('\u{1b}'), "{shown}");
        // Parameters that are not secret are shown as sent.
        assert!(shown.contains("grant_type=refresh_token"), "{shown}");
        assert!(shown.contains("my-client-id.apps"), "{shown}");
        drop(call);
    }

    #[test]
    fn token_call_sends_a_form_and_keeps_params_secret() {
        let call = TokenCall::new(
            EP.parse::<TokenUrl>().unwrap(),
            vec![
                ("grant_type".into(), "refresh_token".into()),
                ("refresh_token".into(), "1//x y".into()),
            ],
        );
        let req = call.request().unwrap();
        assert_eq!(
            req.body().as_ref(),
            b"grant_type=refresh_token&refresh_token=1%2F%2Fx+y"
        );
        assert_eq!(
            req.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(call.endpoint(), EP);
    }
}
