//! The one retry decision of the workspace: which failures are worth another attempt
//! ([`RetryOn`]), how long to wait before it ([`RetryPolicy`]), and the retry loop for a
//! single [`Call`] as a sans-IO exchange ([`Retrying`]).
//!
//! Token calls, certificate fetches, discovery documents and API calls all ask the same
//! two questions, [`RetryOn::response`] (or [`RetryOn::transport`]) and
//! [`RetryPolicy::next_delay`]; only the rule set differs, google-auth's for token
//! endpoints and googleapiclient's for APIs.

use std::time::Duration;

use crate::exchange::{Call, Exchange, Input, Step};
use crate::http::HttpResponse;
use crate::{Error, TransportError, TransportErrorKind};

/// How transient failures are retried.
///
/// The default matches google-auth's token refresh: 3 attempts in all, a first delay of
/// 1 s doubling each time, up to 10 % jitter. A `Retry-After` from a 429 or 503 is honoured
/// up to `max_delay`.
///
/// ```
/// use std::time::Duration;
/// use oauth_core::RetryPolicy;
/// let fast = RetryPolicy::default().with_max_attempts(5).with_initial_delay(Duration::from_millis(10));
/// assert_eq!(fast.max_attempts, 5);
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The delay before the first retry.
    pub initial_delay: Duration,
    /// The factor applied to the delay after each retry.
    pub multiplier: f64,
    /// The largest delay, `Retry-After` included.
    pub max_delay: Duration,
    /// The fraction of each delay drawn at random (0.0 to 1.0), so that clients that failed
    /// together do not retry together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_secs(1),
            multiplier: 2.0,
            max_delay: Duration::from_secs(32),
            jitter: 0.1,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Sets the number of attempts (at least 1).
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the first delay.
    pub fn with_initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }

    /// Sets the largest delay.
    pub fn with_max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The delay before retry number `retry` (1 for the first retry), jitter applied,
    /// never more than `max_delay`. Any values (a multiplier of 1e300, a NaN jitter,
    /// `Duration::MAX`) give a delay, never a panic.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = oauth_core::RetryPolicy { multiplier: f64::MAX, max_delay: Duration::MAX, ..Default::default() };
    /// assert_eq!(p.delay(u32::MAX), Duration::MAX);
    /// ```
    pub fn delay(&self, retry: u32) -> Duration {
        let multiplier = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let exp = multiplier.powi(i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX));
        let base = self.initial_delay.as_secs_f64() * exp;
        let jitter = if self.jitter.is_nan() {
            0.0
        } else {
            self.jitter.clamp(0.0, 1.0)
        };
        let factor = 1.0 - jitter + 2.0 * jitter * unit_random();
        let secs = (base * factor).max(0.0);
        Duration::try_from_secs_f64(secs)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// The retry decision: after `attempts` attempts (the first included) of which the last
    /// failed, `retryable` as [`RetryOn`] judged it, the time to wait before the next
    /// attempt, or `None` when the failure is final (not retryable, or the attempts are
    /// spent). A server's `retry_after` wins over the backoff, capped at `max_delay`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use oauth_core::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert!(p.next_delay(1, true, None).is_some());
    /// assert_eq!(p.next_delay(1, true, Some(Duration::from_secs(7))), Some(Duration::from_secs(7)));
    /// assert_eq!(p.next_delay(1, false, None), None, "not retryable");
    /// assert_eq!(p.next_delay(3, true, None), None, "3 attempts made");
    /// ```
    pub fn next_delay(
        &self,
        attempts: u32,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if !retryable || attempts >= self.max_attempts {
            return None;
        }
        Some(
            retry_after
                .map(|d| d.min(self.max_delay))
                .unwrap_or_else(|| self.delay(attempts)),
        )
    }
}

/// A random number in [0, 1) from ring's system generator (the one crypto stack).
fn unit_random() -> f64 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        return 0.5;
    }
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// Which failures are worth another attempt: the classification every retry in the
/// workspace asks.
///
/// Both rule sets retry every transport failure but an oversized answer (it would be
/// oversized again), every 5xx, 408 and 429. [`RetryOn::TOKEN_ENDPOINT`] adds google-auth's
/// OAuth error codes (`internal_failure`, `server_error`, `temporarily_unavailable`, in any
/// status); [`RetryOn::API`] adds googleapiclient's rate-limited 403s (the first reason
/// `userRateLimitExceeded` or `rateLimitExceeded`).
///
/// ```
/// use oauth_core::retry::RetryOn;
/// let quota = br#"{"error":{"code":403,"errors":[{"reason":"rateLimitExceeded"}]}}"#;
/// assert!(RetryOn::API.response(403, quota));
/// assert!(!RetryOn::TOKEN_ENDPOINT.response(403, quota));
/// assert!(RetryOn::TOKEN_ENDPOINT.response(400, br#"{"error":"temporarily_unavailable"}"#));
/// assert!(!RetryOn::API.response(404, b""));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryOn {
    oauth_errors: bool,
    rate_limited_403: bool,
}

/// The OAuth error codes google-auth retries.
const RETRYABLE_OAUTH_ERRORS: [&str; 3] = [
    "internal_failure",
    "server_error",
    "temporarily_unavailable",
];

/// The 403 reasons googleapiclient retries.
const RATE_LIMIT_REASONS: [&str; 2] = ["userRateLimitExceeded", "rateLimitExceeded"];

impl RetryOn {
    /// google-auth's rule for token endpoints (and the metadata server, IAM, certificates).
    pub const TOKEN_ENDPOINT: RetryOn = RetryOn {
        oauth_errors: true,
        rate_limited_403: false,
    };

    /// googleapiclient's rule for API calls and discovery documents.
    pub const API: RetryOn = RetryOn {
        oauth_errors: false,
        rate_limited_403: true,
    };

    /// Whether a status alone makes an answer retryable: 5xx, 408, 429.
    pub fn status(&self, status: u16) -> bool {
        status >= 500 || status == 408 || status == 429
    }

    /// Whether an OAuth error code (or its description) is one google-auth retries; always
    /// false for [`RetryOn::API`].
    pub fn oauth_error(&self, code: &str, description: Option<&str>) -> bool {
        self.oauth_errors
            && (RETRYABLE_OAUTH_ERRORS.contains(&code)
                || description.is_some_and(|d| RETRYABLE_OAUTH_ERRORS.contains(&d)))
    }

    /// Whether an answer that is not what the call wanted is worth another attempt, from
    /// its status and body.
    pub fn response(&self, status: u16, body: &[u8]) -> bool {
        if self.status(status) {
            return true;
        }
        if status == 403 && self.rate_limited_403 {
            return rate_limit_reason(body).is_some_and(|r| RATE_LIMIT_REASONS.contains(&&*r));
        }
        if self.oauth_errors && !body.is_empty() {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
                return false;
            };
            if let Some(code) = v.get("error").and_then(|e| e.as_str()) {
                let description = v.get("error_description").and_then(|d| d.as_str());
                return self.oauth_error(code, description);
            }
        }
        false
    }

    /// Whether a transport failure is worth another attempt: every kind but an answer
    /// larger than its bound.
    pub fn transport(&self, error: &TransportError) -> bool {
        error.kind != TransportErrorKind::TooLarge
    }
}

/// The reason googleapiclient reads from a 403 body: the first `error.errors[].reason`
/// when there is an `errors` list, else `error.status`, else `error.message`; for a body
/// that is a JSON list, `[0].error.errors.reason`.
fn rate_limit_reason(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if let Some(list) = v.as_array() {
        let reason = list.first()?.get("error")?.get("errors")?.get("reason")?;
        return reason.as_str().map(str::to_owned);
    }
    let error = v.get("error")?.as_object()?;
    let detail = ["errors", "status", "message"]
        .iter()
        .find_map(|k| error.get(*k))?;
    let reason = match detail {
        serde_json::Value::Array(list) => list.first()?.get("reason")?,
        other => other,
    };
    reason.as_str().map(str::to_owned)
}

/// `Retry-After` in seconds, for 429 and 503 answers (the HTTP-date form is not honoured:
/// Google sends seconds). A number too large for `u64` saturates; [`RetryPolicy::next_delay`]
/// caps the wait at the policy's `max_delay` either way.
///
/// ```
/// let r = http::Response::builder().status(429).header("retry-after", "7").body(Default::default()).unwrap();
/// assert_eq!(oauth_core::retry::retry_after(&r), Some(std::time::Duration::from_secs(7)));
/// ```
pub fn retry_after(resp: &HttpResponse) -> Option<Duration> {
    let status = resp.status().as_u16();
    if status != 429 && status != 503 {
        return None;
    }
    let v = resp
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    let v = v.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)))
}

/// Runs a [`Call`] with a [`RetryPolicy`], retrying what the call's [`Call::retry_on`]
/// classifies as transient.
///
/// ```
/// use oauth_core::exchange::{Call, Exchange, Input, Step};
/// use oauth_core::{http::HttpRequest, http::HttpResponse, Error, Retrying, RetryPolicy};
/// struct Ping;
/// impl Call for Ping {
///     type Output = u16;
///     fn request(&self) -> Result<HttpRequest, Error> { Ok(http::Request::new(Default::default())) }
///     fn parse(&self, r: HttpResponse) -> Result<u16, Error> {
///         if r.status().is_success() { Ok(r.status().as_u16()) }
///         else { Err(oauth_core::http::error_from_response("x", &r)) }
///     }
///     fn endpoint(&self) -> String { "x".into() }
/// }
/// let mut ex = Retrying::new(Ping, RetryPolicy::default());
/// assert!(matches!(ex.step(Input::Start), Step::Send(_)));
/// let busy = http::Response::builder().status(503).body(Default::default()).unwrap();
/// assert!(matches!(ex.step(Input::Response(Ok(busy))), Step::Wait(_)));
/// assert!(matches!(ex.step(Input::Waited), Step::Send(_)));
/// let ok = http::Response::builder().status(200).body(Default::default()).unwrap();
/// assert!(matches!(ex.step(Input::Response(Ok(ok))), Step::Done(Ok(200))));
/// ```
pub struct Retrying<C> {
    call: C,
    policy: RetryPolicy,
    attempts: u32,
}

impl<C: Call> Retrying<C> {
    /// Wraps a call.
    pub fn new(call: C, policy: RetryPolicy) -> Self {
        Retrying {
            call,
            policy,
            attempts: 0,
        }
    }

    fn send(&mut self) -> Step<C::Output> {
        self.attempts += 1;
        match self.call.request() {
            Ok(req) => Step::Send(req),
            Err(e) => Step::Done(Err(e)),
        }
    }

    fn fail_or_retry(
        &mut self,
        error: Error,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Step<C::Output> {
        match self
            .policy
            .next_delay(self.attempts, retryable, retry_after)
        {
            Some(delay) => {
                tracing::debug!(attempt = self.attempts, ?delay, %error, "retrying");
                Step::Wait(delay)
            }
            None => Step::Done(Err(error)),
        }
    }
}

impl<C: Call> Exchange for Retrying<C> {
    type Output = C::Output;

    fn step(&mut self, input: Input) -> Step<C::Output> {
        match input {
            Input::Start | Input::Waited => self.send(),
            Input::Response(Err(e)) => {
                let retryable = self.call.retry_on().transport(&e);
                let error = transport_error(self.call.endpoint(), e);
                self.fail_or_retry(error, retryable, None)
            }
            Input::Response(Ok(resp)) => {
                let status = resp.status().as_u16();
                let retry_after = retry_after(&resp);
                // A shared handle on the body (no copy), for the classification after
                // `parse` has consumed the response.
                let body = resp.body().clone();
                match self.call.parse(resp) {
                    Ok(v) => Step::Done(Ok(v)),
                    Err(e) => {
                        let retryable = self.call.retry_on().response(status, &body);
                        self.fail_or_retry(e, retryable, retry_after)
                    }
                }
            }
        }
    }
}

/// The error for a request that got no HTTP answer: [`Error::ResponseTooLarge`] when the
/// answer exceeded its bound, [`Error::Transport`] otherwise.
///
/// ```
/// use oauth_core::{Error, TransportError, TransportErrorKind};
/// let e = oauth_core::retry::transport_error("https://x/token".into(), TransportError::new(TransportErrorKind::TooLarge, "1024"));
/// assert!(matches!(e, Error::ResponseTooLarge { limit: 1024, .. }));
/// ```
pub fn transport_error(endpoint: String, e: TransportError) -> Error {
    if e.kind == TransportErrorKind::TooLarge {
        let limit = e.message.parse().unwrap_or(0);
        Error::ResponseTooLarge { endpoint, limit }
    } else {
        Error::Transport {
            endpoint,
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Bytes, HttpRequest, error_from_response};
    use crate::{TransportError, TransportErrorKind};

    struct Probe;
    impl Call for Probe {
        type Output = ();
        fn request(&self) -> Result<HttpRequest, Error> {
            Ok(http::Request::new(Bytes::new()))
        }
        fn parse(&self, r: HttpResponse) -> Result<(), Error> {
            if r.status().is_success() {
                Ok(())
            } else {
                Err(error_from_response("t", &r))
            }
        }
        fn endpoint(&self) -> String {
            "t".into()
        }
    }

    fn status(s: u16, body: &str) -> Input {
        let mut b = http::Response::builder().status(s);
        if s == 429 {
            b = b.header("retry-after", "7");
        }
        Input::Response(Ok(b.body(Bytes::copy_from_slice(body.as_bytes())).unwrap()))
    }

    #[test]
    fn invalid_grant_is_never_retried() {
        let mut ex = Retrying::new(Probe, RetryPolicy::default());
        ex.step(Input::Start);
        match ex.step(status(400, r#"{"error":"invalid_grant"}"#)) {
            Step::Done(Err(Error::OAuth(e))) => assert_eq!(e.error, "invalid_grant"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transient_failures_are_retried_up_to_the_bound() {
        let mut ex = Retrying::new(Probe, RetryPolicy::default().with_max_attempts(3));
        assert!(matches!(ex.step(Input::Start), Step::Send(_)));
        let reset = TransportError::new(TransportErrorKind::Connect, "reset");
        assert!(matches!(
            ex.step(Input::Response(Err(reset))),
            Step::Wait(_)
        ));
        assert!(matches!(ex.step(Input::Waited), Step::Send(_)));
        assert!(matches!(
            ex.step(status(200, r#"{"error":"temporarily_unavailable"}"#)),
            Step::Done(Ok(()))
        ));
        let mut ex = Retrying::new(Probe, RetryPolicy::default().with_max_attempts(2));
        ex.step(Input::Start);
        assert!(matches!(ex.step(status(500, "")), Step::Wait(_)));
        ex.step(Input::Waited);
        assert!(matches!(
            ex.step(status(500, "")),
            Step::Done(Err(Error::Http { status: 500, .. }))
        ));
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let mut ex = Retrying::new(Probe, RetryPolicy::default());
        ex.step(Input::Start);
        match ex.step(status(429, "")) {
            Step::Wait(d) => assert_eq!(d, Duration::from_secs(7)),
            other => panic!("{other:?}"),
        }
        let capped = RetryPolicy::default().with_max_delay(Duration::from_secs(2));
        let mut ex = Retrying::new(Probe, capped);
        ex.step(Input::Start);
        assert!(matches!(ex.step(status(429, "")), Step::Wait(d) if d == Duration::from_secs(2)));
    }

    #[test]
    fn huge_retry_after_values_wait_no_longer_than_the_cap() {
        for value in [
            "18446744073709551615",
            "99999999999999999999999999",
            "9223372036854775807",
        ] {
            let r = http::Response::builder()
                .status(503)
                .header("retry-after", value)
                .body(Bytes::new())
                .unwrap();
            assert!(retry_after(&r).unwrap() >= Duration::from_secs(i64::MAX as u64));
            let mut ex = Retrying::new(Probe, RetryPolicy::default());
            ex.step(Input::Start);
            match ex.step(Input::Response(Ok(r))) {
                Step::Wait(d) => assert_eq!(d, Duration::from_secs(32)),
                other => panic!("{other:?}"),
            }
        }
        for junk in ["-1", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT", "", "NaN"] {
            let r = http::Response::builder()
                .status(429)
                .header("retry-after", junk)
                .body(Bytes::new())
                .unwrap();
            assert_eq!(retry_after(&r), None, "{junk}");
        }
    }

    #[test]
    fn extreme_policies_give_a_delay_not_a_panic() {
        let p = RetryPolicy {
            initial_delay: Duration::MAX,
            multiplier: f64::INFINITY,
            max_delay: Duration::MAX,
            jitter: f64::NAN,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(1), Duration::MAX);
        assert_eq!(p.delay(u32::MAX), Duration::MAX);
        let p = RetryPolicy {
            multiplier: f64::NAN,
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(5), Duration::from_secs(1));
    }

    #[test]
    fn oversized_bodies_are_final() {
        let mut ex = Retrying::new(Probe, RetryPolicy::default());
        ex.step(Input::Start);
        let big = TransportError::new(TransportErrorKind::TooLarge, "1024");
        assert!(matches!(
            ex.step(Input::Response(Err(big))),
            Step::Done(Err(Error::ResponseTooLarge { limit: 1024, .. }))
        ));
    }

    #[test]
    fn delays_grow_and_stay_bounded() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        assert_eq!(p.delay(1), Duration::from_secs(1));
        assert_eq!(p.delay(3), Duration::from_secs(4));
        assert_eq!(p.delay(30), Duration::from_secs(32));
        let j = RetryPolicy::default();
        for _ in 0..100 {
            let d = j.delay(1).as_secs_f64();
            assert!((0.9..=1.1).contains(&d), "{d}");
        }
    }

    #[test]
    fn googleapiclients_403_reasons_are_read_as_it_reads_them() {
        let api = RetryOn::API;
        // The first reason of the `errors` list decides, as in googleapiclient.
        let first = br#"{"error":{"errors":[{"reason":"userRateLimitExceeded"},{"reason":"x"}]}}"#;
        assert!(api.response(403, first));
        let second =
            br#"{"error":{"errors":[{"reason":"forbidden"},{"reason":"rateLimitExceeded"}]}}"#;
        assert!(!api.response(403, second));
        // Without `errors`, `status` (then `message`) is the reason.
        assert!(api.response(403, br#"{"error":{"status":"rateLimitExceeded"}}"#));
        assert!(!api.response(403, br#"{"error":{"status":"PERMISSION_DENIED"}}"#));
        assert!(!api.response(403, b""));
        assert!(!api.response(403, b"<html>"));
        assert!(api.response(503, b""));
        assert!(!api.response(400, br#"{"error":"server_error"}"#));
    }
}
