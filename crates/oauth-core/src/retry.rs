//! Bounded retries with exponential backoff and jitter, as a sans-IO exchange.

use std::time::Duration;

use crate::exchange::{Call, Exchange, Input, Step};
use crate::{Error, TransportErrorKind};

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

/// Runs a [`Call`] with a [`RetryPolicy`].
///
/// ```
/// use oauth_core::exchange::{Call, Exchange, Input, Step};
/// use oauth_core::{http::HttpRequest, http::HttpResponse, Error, Retrying, RetryPolicy};
/// struct Ping;
/// impl Call for Ping {
///     type Output = u16;
///     fn request(&self) -> Result<HttpRequest, Error> { Ok(http::Request::new(Vec::new())) }
///     fn parse(&self, r: HttpResponse) -> Result<u16, Error> {
///         if r.status().is_success() { Ok(r.status().as_u16()) }
///         else { Err(oauth_core::http::error_from_response("x", &r)) }
///     }
///     fn endpoint(&self) -> String { "x".into() }
/// }
/// let mut ex = Retrying::new(Ping, RetryPolicy::default());
/// assert!(matches!(ex.step(Input::Start), Step::Send(_)));
/// let busy = http::Response::builder().status(503).body(Vec::new()).unwrap();
/// assert!(matches!(ex.step(Input::Response(Ok(busy))), Step::Wait(_)));
/// assert!(matches!(ex.step(Input::Waited), Step::Send(_)));
/// let ok = http::Response::builder().status(200).body(Vec::new()).unwrap();
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

    fn fail_or_retry(&mut self, error: Error, retry_after: Option<Duration>) -> Step<C::Output> {
        if error.is_transient() && self.attempts < self.policy.max_attempts {
            let delay = retry_after
                .map(|d| d.min(self.policy.max_delay))
                .unwrap_or_else(|| self.policy.delay(self.attempts));
            tracing::debug!(attempt = self.attempts, ?delay, %error, "retrying");
            Step::Wait(delay)
        } else {
            Step::Done(Err(error))
        }
    }
}

impl<C: Call> Exchange for Retrying<C> {
    type Output = C::Output;

    fn step(&mut self, input: Input) -> Step<C::Output> {
        match input {
            Input::Start | Input::Waited => self.send(),
            Input::Response(Err(e)) => {
                let endpoint = self.call.endpoint();
                let error = if e.kind == TransportErrorKind::TooLarge {
                    let limit = e.message.parse().unwrap_or(0);
                    Error::ResponseTooLarge { endpoint, limit }
                } else {
                    Error::Transport {
                        endpoint,
                        source: e,
                    }
                };
                self.fail_or_retry(error, None)
            }
            Input::Response(Ok(resp)) => {
                let retry_after = retry_after(&resp);
                match self.call.parse(resp) {
                    Ok(v) => Step::Done(Ok(v)),
                    Err(e) => self.fail_or_retry(e, retry_after),
                }
            }
        }
    }
}

/// `Retry-After` in seconds, for 429 and 503 answers (the HTTP-date form is not honoured:
/// Google sends seconds). A number too large for `u64` saturates; [`Retrying`] caps the wait
/// at the policy's `max_delay` either way.
///
/// ```
/// let r = http::Response::builder().status(429).header("retry-after", "7").body(Vec::new()).unwrap();
/// assert_eq!(oauth_core::retry::retry_after(&r), Some(std::time::Duration::from_secs(7)));
/// ```
pub fn retry_after(resp: &http::Response<Vec<u8>>) -> Option<Duration> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpRequest, HttpResponse, error_from_response};
    use crate::{TransportError, TransportErrorKind};

    struct Probe;
    impl Call for Probe {
        type Output = ();
        fn request(&self) -> Result<HttpRequest, Error> {
            Ok(http::Request::new(Vec::new()))
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
        Input::Response(Ok(b.body(body.as_bytes().to_vec()).unwrap()))
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
                .body(Vec::new())
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
                .body(Vec::new())
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
}
