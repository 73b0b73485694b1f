//! The device authorization grant (RFC 8628) as sans-IO exchanges: for machines without a
//! browser, the user approves on another device.

use std::fmt;
use std::time::{Duration, SystemTime};

use oauth_core::exchange::{Call, Exchange, Input, Step};
use oauth_core::http::{HttpRequest, HttpResponse, endpoint_label, error_from_response, form_post};
use oauth_core::types::{ClientId, ClientSecret, Scope, TokenUrl};
use oauth_core::{
    AuthorizedUser, ClientSecrets, Error, OAuthError, RetryPolicy, Retrying, Secret, TokenCall,
    TokenResponse,
};
use serde::Deserialize;
use url::Url;

use crate::{AuthorizationError, FlowError};

/// Google's device authorization endpoint.
pub const GOOGLE_DEVICE_AUTHORIZATION_URI: &str = "https://oauth2.googleapis.com/device/code";
/// The grant type of the token requests (RFC 8628 section 3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// How much `slow_down` adds to the polling interval (RFC 8628 section 3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Transient failures in a row tolerated while polling before giving up.
const MAX_TRANSIENT_POLL_FAILURES: u32 = 5;

/// The client and endpoints of a device authorization.
///
/// ```
/// use oauth_core::{ClientSecrets, Secret};
/// use oauth_core::exchange::Call;
/// let secrets = ClientSecrets::from_json(br#"{"installed": {"client_id": "id", "client_secret": "s",
///     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
///     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
/// let device = oauth_flow::DeviceAuthorization::from_client_secrets(&secrets, ["openid", "email"]);
/// let req = device.code_call().request().unwrap();
/// assert_eq!(req.uri(), "https://oauth2.googleapis.com/device/code");
/// assert_eq!(&req.body()[..], b"client_id=id&client_secret=s&scope=openid+email");
/// ```
#[derive(Clone)]
pub struct DeviceAuthorization {
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    device_authorization_uri: Url,
    token_uri: TokenUrl,
    scopes: Vec<Scope>,
    retry: RetryPolicy,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("client_id", &self.client_id)
            .field(
                "device_authorization_uri",
                &self.device_authorization_uri.as_str(),
            )
            .field("token_uri", &self.token_uri.as_str())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    /// A device authorization for a client (Google's device endpoint; see
    /// [`DeviceAuthorization::with_device_authorization_uri`]).
    pub fn from_client_secrets<I, S>(secrets: &ClientSecrets, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        DeviceAuthorization {
            client_id: secrets.client_id.clone(),
            client_secret: secrets.client_secret.clone(),
            device_authorization_uri: Url::parse(GOOGLE_DEVICE_AUTHORIZATION_URI)
                .unwrap_or_else(|_| secrets.token_uri.url().clone()),
            token_uri: secrets.token_uri.clone(),
            scopes: scopes.into_iter().map(Into::into).collect(),
            retry: RetryPolicy::default(),
        }
    }

    /// Uses another device authorization endpoint.
    ///
    /// ```
    /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let d = oauth_flow::DeviceAuthorization::from_client_secrets(&secrets, ["openid"])
    ///     .with_device_authorization_uri("http://127.0.0.1:9000/device/auth".parse().unwrap());
    /// ```
    pub fn with_device_authorization_uri(mut self, uri: Url) -> Self {
        self.device_authorization_uri = uri;
        self
    }

    /// Sets how the device-code request retries transient failures.
    ///
    /// ```
    /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let d = oauth_flow::DeviceAuthorization::from_client_secrets(&secrets, ["openid"])
    ///     .with_retry(oauth_core::RetryPolicy::none());
    /// ```
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The device-code request (RFC 8628 section 3.1) as a sans-IO call.
    pub fn code_call(&self) -> DeviceCodeCall {
        DeviceCodeCall {
            url: self.device_authorization_uri.clone(),
            client_id: self.client_id.to_string(),
            client_secret: self.client_secret.clone().map(ClientSecret::into_secret),
            scopes: self.scopes.clone(),
        }
    }

    /// Polling the token endpoint for a device code (RFC 8628 sections 3.4 and 3.5).
    pub fn poll(&self, code: &DeviceCode) -> DevicePoll {
        let mut params = vec![
            ("grant_type".to_owned(), DEVICE_CODE_GRANT.to_owned()),
            (
                "device_code".to_owned(),
                code.device_code.expose().to_owned(),
            ),
            ("client_id".to_owned(), self.client_id.to_string()),
        ];
        if let Some(s) = &self.client_secret {
            params.push(("client_secret".into(), s.expose().to_owned()));
        }
        DevicePoll {
            call: TokenCall::new(self.token_uri.clone(), params),
            interval: code.interval,
            remaining: code.expires_in,
            started: false,
            failures: 0,
        }
    }

    /// The whole grant: asks for a code, hands it to `on_code` (show the user the URL and
    /// the code), polls until the user approves, refuses, or the code expires.
    ///
    /// ```
    /// use oauth_core::exchange::{Exchange, Input, Step};
    /// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    /// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let device = oauth_flow::DeviceAuthorization::from_client_secrets(&secrets, ["openid"]);
    /// let mut ex = device.exchange(|c: &oauth_flow::DeviceCode| println!("{} {}", c.verification_url, c.user_code));
    /// assert!(matches!(ex.step(Input::Start), Step::Send(_)));
    /// ```
    pub fn exchange<F>(&self, on_code: F) -> DeviceExchange<F>
    where
        F: FnMut(&DeviceCode) + Send,
    {
        DeviceExchange {
            device: self.clone(),
            on_code,
            phase: Phase::Code(Retrying::new(self.code_call(), self.retry)),
        }
    }

    pub(crate) fn user(&self, response: TokenResponse) -> AuthorizedUser {
        let token = response.to_token(SystemTime::now());
        let scopes = token.scopes.clone().unwrap_or_else(|| self.scopes.clone());
        AuthorizedUser::new(
            self.client_id.clone(),
            self.client_secret.clone(),
            response.refresh_token.clone(),
            self.token_uri.clone(),
        )
        .with_scopes(scopes)
        .with_token(token)
    }
}

/// What the device authorization endpoint answers: what to show the user, and how to poll.
///
/// ```
/// # use oauth_core::exchange::Call;
/// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
/// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
/// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
/// # let call = oauth_flow::DeviceAuthorization::from_client_secrets(&secrets, ["openid"]).code_call();
/// // Google says `verification_url`; RFC 8628 says `verification_uri`: both are read.
/// let r = http::Response::builder().status(200).body(br#"{"device_code":"AH-1","user_code":"GQVQ-JKEC",
///     "verification_url":"https://www.google.com/device","expires_in":1800,"interval":5}"#.to_vec().into()).unwrap();
/// let code = call.parse(r).unwrap();
/// assert_eq!(code.user_code, "GQVQ-JKEC");
/// assert_eq!(code.interval.as_secs(), 5);
/// assert!(!format!("{code:?}").contains("AH-1"));
/// ```
#[derive(Clone)]
pub struct DeviceCode {
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_url: String,
    /// A URL with the code already in it, when the server gives one.
    pub verification_url_complete: Option<String>,
    /// How long the codes are valid.
    pub expires_in: Duration,
    /// How long to wait between polls (5 s when the server does not say).
    pub interval: Duration,
    device_code: Secret,
}

impl fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCode")
            .field("user_code", &self.user_code)
            .field("verification_url", &self.verification_url)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// The device-code request: a form POST of the client and the scopes.
pub struct DeviceCodeCall {
    url: Url,
    client_id: String,
    client_secret: Option<Secret>,
    scopes: Vec<Scope>,
}

impl fmt::Debug for DeviceCodeCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeCall")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawDeviceCode {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<serde_json::Value>,
    interval: Option<serde_json::Value>,
}

/// A number of seconds as servers send it (saturated, never negative): see
/// [`oauth_core::token::seconds`].
fn seconds(v: Option<&serde_json::Value>) -> Option<u64> {
    oauth_core::token::seconds(v?)
}

/// The longest a device code is polled for, whatever `expires_in` says.
pub const MAX_DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(86_400);
/// The polling interval's bounds, whatever `interval` (and `slow_down`) say.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);

impl Call for DeviceCodeCall {
    type Output = DeviceCode;

    fn request(&self) -> Result<HttpRequest, Error> {
        let scope = crate::flow::scope_text(&self.scopes);
        let mut params = vec![("client_id", self.client_id.as_str())];
        if let Some(s) = &self.client_secret {
            params.push(("client_secret", s.expose()));
        }
        params.push(("scope", &scope));
        let mut req = form_post(&self.url, &params);
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<DeviceCode, Error> {
        let endpoint = self.endpoint();
        if !response.status().is_success() {
            return Err(error_from_response(&endpoint, &response));
        }
        let malformed = |reason: &str| Error::MalformedResponse {
            endpoint: endpoint.clone(),
            reason: reason.to_owned(),
        };
        let raw: RawDeviceCode = serde_json::from_slice(response.body())
            .map_err(|_| malformed("not a device authorization response (JSON object)"))?;
        let device_code = raw
            .device_code
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("missing `device_code`"))?;
        let user_code = raw
            .user_code
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("missing `user_code`"))?;
        let verification_url = raw
            .verification_uri
            .or(raw.verification_url)
            .ok_or_else(|| malformed("missing `verification_uri`"))?;
        let expires_in = seconds(raw.expires_in.as_ref())
            .ok_or_else(|| malformed("missing or invalid `expires_in`"))?;
        let interval = match raw.interval {
            None | Some(serde_json::Value::Null) => 5,
            Some(ref v) => seconds(Some(v))
                .ok_or_else(|| malformed("`interval` is not a number of seconds"))?,
        };
        Ok(DeviceCode {
            user_code: crate::error::clean(&user_code, 64),
            verification_url: crate::error::clean(&verification_url, 500),
            verification_url_complete: raw
                .verification_uri_complete
                .map(|u| crate::error::clean(&u, 500)),
            expires_in: Duration::from_secs(expires_in).min(MAX_DEVICE_CODE_LIFETIME),
            interval: Duration::from_secs(interval)
                .clamp(Duration::from_secs(1), MAX_POLL_INTERVAL),
            device_code: Secret::from(device_code),
        })
    }

    fn endpoint(&self) -> String {
        endpoint_label(&oauth_core::http::to_uri(&self.url))
    }
}

/// Polls the token endpoint for a device code: waits `interval` between polls, keeps
/// waiting on `authorization_pending`, adds 5 s on `slow_down`, tolerates a few transient
/// failures in a row, and stops on `access_denied`, `expired_token` or when the code's
/// lifetime (counted in waits) is over.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::exchange::{Exchange, Input, Step};
/// # use oauth_core::exchange::Call;
/// # let secrets = oauth_core::ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
/// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
/// #     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
/// # let device = oauth_flow::DeviceAuthorization::from_client_secrets(&secrets, ["openid"]);
/// # let code = device.code_call().parse(http::Response::builder().status(200).body(br#"{"device_code":"d","user_code":"U",
/// #     "verification_uri":"https://v","expires_in":60,"interval":2}"#.to_vec().into()).unwrap()).unwrap();
/// let mut poll = device.poll(&code);
/// assert!(matches!(poll.step(Input::Start), Step::Wait(d) if d == Duration::from_secs(2)));
/// assert!(matches!(poll.step(Input::Waited), Step::Send(_)));
/// let slow = http::Response::builder().status(400).body(br#"{"error":"slow_down"}"#.to_vec().into()).unwrap();
/// assert!(matches!(poll.step(Input::Response(Ok(slow))), Step::Wait(d) if d == Duration::from_secs(7)));
/// ```
pub struct DevicePoll {
    call: TokenCall,
    interval: Duration,
    remaining: Duration,
    started: bool,
    failures: u32,
}

impl fmt::Debug for DevicePoll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevicePoll")
            .field("interval", &self.interval)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl DevicePoll {
    fn wait(&mut self) -> Step<TokenResponse> {
        if self.remaining.is_zero() {
            return Step::Done(Err(expired()));
        }
        // `DeviceCode`'s fields are public: bound them here too.
        self.remaining = self.remaining.min(MAX_DEVICE_CODE_LIFETIME);
        let d = self
            .interval
            .clamp(Duration::from_secs(1), MAX_POLL_INTERVAL)
            .min(self.remaining);
        self.remaining = self.remaining.saturating_sub(d);
        Step::Wait(d)
    }

    fn transient(&mut self, e: Error) -> Step<TokenResponse> {
        self.failures += 1;
        if self.failures >= MAX_TRANSIENT_POLL_FAILURES {
            Step::Done(Err(e))
        } else {
            tracing::debug!(error = %e, "device flow poll failed; polling again");
            self.wait()
        }
    }
}

fn expired() -> Error {
    Error::OAuth(OAuthError {
        status: 400,
        error: "expired_token".into(),
        description: Some("the device code's lifetime is over".into()),
        uri: None,
    })
}

impl Exchange for DevicePoll {
    type Output = TokenResponse;

    fn step(&mut self, input: Input) -> Step<TokenResponse> {
        match input {
            Input::Start if !self.started => {
                self.started = true;
                self.wait()
            }
            Input::Start => Step::Done(Err(Error::InvalidRequest("device poll restarted".into()))),
            Input::Waited => match self.call.request() {
                Ok(r) => Step::Send(r),
                Err(e) => Step::Done(Err(e)),
            },
            Input::Response(Err(t)) => {
                let e = Error::Transport {
                    endpoint: self.call.endpoint(),
                    source: t,
                };
                self.transient(e)
            }
            Input::Response(Ok(response)) => match self.call.parse(response) {
                Ok(tr) => Step::Done(Ok(tr)),
                Err(e) => match e.oauth().map(|o| o.error.as_str()) {
                    Some("authorization_pending") => {
                        self.failures = 0;
                        self.wait()
                    }
                    Some("slow_down") => {
                        self.failures = 0;
                        self.interval = self
                            .interval
                            .saturating_add(SLOW_DOWN_STEP)
                            .min(MAX_POLL_INTERVAL);
                        self.wait()
                    }
                    Some("access_denied" | "expired_token") => Step::Done(Err(e)),
                    _ if e.is_transient() => self.transient(e),
                    _ => Step::Done(Err(e)),
                },
            },
        }
    }
}

enum Phase {
    Code(Retrying<DeviceCodeCall>),
    Poll(DevicePoll),
    Finished,
}

/// The whole device grant as one exchange: device code, `on_code`, polling; yields
/// [`AuthorizedUser`] credentials. Turn its error into a [`FlowError`] with
/// [`device_error`] (the handles do).
pub struct DeviceExchange<F> {
    device: DeviceAuthorization,
    on_code: F,
    phase: Phase,
}

impl<F> fmt::Debug for DeviceExchange<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceExchange")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl<F: FnMut(&DeviceCode) + Send> Exchange for DeviceExchange<F> {
    type Output = AuthorizedUser;

    fn step(&mut self, mut input: Input) -> Step<AuthorizedUser> {
        loop {
            match &mut self.phase {
                Phase::Code(call) => match call.step(input) {
                    Step::Send(r) => return Step::Send(r),
                    Step::Wait(d) => return Step::Wait(d),
                    Step::Done(Err(e)) => {
                        self.phase = Phase::Finished;
                        return Step::Done(Err(e));
                    }
                    Step::Done(Ok(code)) => {
                        (self.on_code)(&code);
                        self.phase = Phase::Poll(self.device.poll(&code));
                        input = Input::Start;
                    }
                },
                Phase::Poll(poll) => {
                    return match poll.step(input) {
                        Step::Send(r) => Step::Send(r),
                        Step::Wait(d) => Step::Wait(d),
                        Step::Done(result) => {
                            self.phase = Phase::Finished;
                            Step::Done(result.map(|tr| self.device.user(tr)))
                        }
                    };
                }
                Phase::Finished => {
                    return Step::Done(Err(Error::InvalidRequest(
                        "device exchange resumed after it finished".into(),
                    )));
                }
            }
        }
    }
}

/// Gives the device flow's final OAuth errors their own variants: `access_denied` becomes
/// [`FlowError::Authorization`], `expired_token` [`FlowError::DeviceCodeExpired`].
///
/// ```
/// use oauth_core::{Error, OAuthError};
/// let e = Error::OAuth(OAuthError { status: 400, error: "expired_token".into(), description: None, uri: None });
/// assert!(matches!(oauth_flow::device_error(e), oauth_flow::FlowError::DeviceCodeExpired));
/// ```
pub fn device_error(e: Error) -> FlowError {
    match e.oauth() {
        Some(o) if o.error == "expired_token" => FlowError::DeviceCodeExpired,
        Some(o) if o.error == "access_denied" => {
            FlowError::Authorization(AuthorizationError::new(&o.error, o.description.as_deref()))
        }
        _ => FlowError::Core(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> DeviceAuthorization {
        let secrets = ClientSecrets::from_json(
            br#"{"installed": {"client_id": "id", "client_secret": "s",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token"}}"#,
            "cs.json",
        )
        .unwrap();
        DeviceAuthorization::from_client_secrets(&secrets, ["openid"])
    }

    fn resp(status: u16, body: &str) -> Input {
        Input::Response(Ok(http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec().into())
            .unwrap()))
    }

    #[test]
    fn the_grant_polls_as_the_server_asks() {
        let mut shown = Vec::new();
        let mut ex = device().exchange(|c: &DeviceCode| shown.push(c.user_code.clone()));
        assert!(matches!(ex.step(Input::Start), Step::Send(_)));
        let step = ex.step(resp(
            200,
            r#"{"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://v/device","expires_in":30,"interval":3}"#,
        ));
        assert!(matches!(step, Step::Wait(d) if d.as_secs() == 3));
        let Step::Send(req) = ex.step(Input::Waited) else {
            panic!()
        };
        let body = String::from_utf8(req.body().to_vec()).unwrap();
        assert!(body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"));
        assert!(body.contains("device_code=DC"));
        let pending = r#"{"error":"authorization_pending"}"#;
        assert!(matches!(ex.step(resp(428, pending)), Step::Wait(d) if d.as_secs() == 3));
        assert!(matches!(ex.step(Input::Waited), Step::Send(_)));
        let slow = r#"{"error":"slow_down"}"#;
        assert!(matches!(ex.step(resp(400, slow)), Step::Wait(d) if d.as_secs() == 8));
        assert!(matches!(ex.step(Input::Waited), Step::Send(_)));
        // A 503 is tolerated.
        assert!(matches!(ex.step(resp(503, "busy")), Step::Wait(_)));
        assert!(matches!(ex.step(Input::Waited), Step::Send(_)));
        let Step::Done(Ok(user)) = ex.step(resp(
            200,
            r#"{"access_token":"ya29.d","expires_in":3600,"refresh_token":"1//d"}"#,
        )) else {
            panic!()
        };
        assert_eq!(user.refresh_token().unwrap().expose(), "1//d");
        drop(ex);
        assert_eq!(shown, ["ABCD-EFGH"]);
    }

    #[test]
    fn refusal_and_expiry_end_the_poll_with_typed_errors() {
        let d = device();
        let code = d
            .code_call()
            .parse(
                http::Response::builder()
                    .status(200)
                    .body(br#"{"device_code":"DC","user_code":"U","verification_uri":"v","expires_in":10,"interval":4}"#.to_vec().into())
                    .unwrap(),
            )
            .unwrap();
        let mut p = d.poll(&code);
        p.step(Input::Start);
        p.step(Input::Waited);
        let Step::Done(Err(e)) = p.step(resp(400, r#"{"error":"access_denied"}"#)) else {
            panic!()
        };
        assert!(matches!(device_error(e), FlowError::Authorization(a) if a.is_access_denied()));
        // The lifetime runs out locally: 4 + 4 + 2 s of waits, then expired.
        let mut p = d.poll(&code);
        let pending = || resp(400, r#"{"error":"authorization_pending"}"#);
        assert!(matches!(p.step(Input::Start), Step::Wait(d) if d.as_secs() == 4));
        p.step(Input::Waited);
        assert!(matches!(p.step(pending()), Step::Wait(d) if d.as_secs() == 4));
        p.step(Input::Waited);
        assert!(matches!(p.step(pending()), Step::Wait(d) if d.as_secs() == 2));
        p.step(Input::Waited);
        let Step::Done(Err(e)) = p.step(pending()) else {
            panic!()
        };
        assert!(matches!(device_error(e), FlowError::DeviceCodeExpired));
        let mut p = d.poll(&code);
        p.step(Input::Start);
        p.step(Input::Waited);
        let Step::Done(Err(e)) = p.step(resp(400, r#"{"error":"expired_token"}"#)) else {
            panic!()
        };
        assert!(matches!(device_error(e), FlowError::DeviceCodeExpired));
    }

    fn code(body: &str) -> Result<DeviceCode, Error> {
        device().code_call().parse(
            http::Response::builder()
                .status(200)
                .body(body.as_bytes().to_vec().into())
                .unwrap(),
        )
    }

    #[test]
    fn huge_lifetimes_and_intervals_are_clamped_or_refused() {
        for (expires_in, interval) in [
            ("18446744073709551615", "18446744073709551615"),
            ("1e300", "1e300"),
            ("9223372036854775807", "\"99999999999999999999999\""),
            ("0", "0"),
        ] {
            let c = code(&format!(
                r#"{{"device_code":"DC","user_code":"U","verification_uri":"v","expires_in":{expires_in},"interval":{interval}}}"#
            ))
            .unwrap();
            assert!(c.expires_in <= MAX_DEVICE_CODE_LIFETIME, "{expires_in}");
            assert!(
                (Duration::from_secs(1)..=MAX_POLL_INTERVAL).contains(&c.interval),
                "{interval}"
            );
        }
        for (expires_in, interval) in [
            ("-1", "5"),
            ("\"NaN\"", "5"),
            ("60", "-5"),
            ("60", "\"soon\""),
        ] {
            let e = code(&format!(
                r#"{{"device_code":"DC","user_code":"U","verification_uri":"v","expires_in":{expires_in},"interval":{interval}}}"#
            ))
            .unwrap_err();
            assert!(matches!(e, Error::MalformedResponse { .. }), "{e}");
        }
    }

    #[test]
    fn endless_slow_downs_and_public_fields_set_to_the_maximum_never_overflow() {
        let d = device();
        let mut c = code(
            r#"{"device_code":"DC","user_code":"U","verification_uri":"v","expires_in":600,"interval":5}"#,
        )
        .unwrap();
        c.interval = Duration::MAX;
        c.expires_in = Duration::MAX;
        let mut p = d.poll(&c);
        let Step::Wait(first) = p.step(Input::Start) else {
            panic!()
        };
        assert_eq!(first, MAX_POLL_INTERVAL);
        let slow = || resp(400, r#"{"error":"slow_down"}"#);
        let mut waited = first;
        for _ in 0..10_000 {
            assert!(matches!(p.step(Input::Waited), Step::Send(_)));
            match p.step(slow()) {
                Step::Wait(d) => {
                    assert!(d <= MAX_POLL_INTERVAL);
                    waited += d;
                }
                Step::Done(Err(e)) => {
                    assert!(matches!(device_error(e), FlowError::DeviceCodeExpired));
                    assert!(waited <= MAX_DEVICE_CODE_LIFETIME);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
        panic!("the poll never ended");
    }

    #[test]
    fn what_the_device_endpoint_shows_the_user_is_cleaned() {
        let c = code(
            r#"{"device_code":"DC","user_code":"AB\u001b[2J","verification_uri":"https://v/\u202e\r\nx","expires_in":60}"#,
        )
        .unwrap();
        for shown in [&c.user_code, &c.verification_url] {
            assert!(
                !shown.chars().any(oauth_core::sanitize::is_unsafe_char),
                "{shown:?}"
            );
        }
    }

    #[test]
    fn malformed_device_answers_name_the_field() {
        let call = device().code_call();
        let parse = |b: &str| {
            call.parse(
                http::Response::builder()
                    .status(200)
                    .body(b.as_bytes().to_vec().into())
                    .unwrap(),
            )
        };
        assert!(parse("{}").unwrap_err().to_string().contains("device_code"));
        assert!(
            parse(r#"{"device_code":"d","user_code":"u","verification_uri":"v"}"#)
                .unwrap_err()
                .to_string()
                .contains("expires_in")
        );
        assert!(parse("<html>").is_err());
        let e = call
            .parse(
                http::Response::builder()
                    .status(401)
                    .body(br#"{"error":"invalid_client"}"#.to_vec().into())
                    .unwrap(),
            )
            .unwrap_err();
        assert_eq!(e.oauth().unwrap().error, "invalid_client");
    }
}
