//! Time, injectable so that expiry is tested without sleeping.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;

    /// Now, read cheaply: may lag [`Clock::now`] by a few milliseconds (a scheduler tick).
    /// The token cache judges freshness by it on every read, where a lag of milliseconds
    /// against a refresh margin of minutes does not matter and the read's cost does.
    /// Defaults to [`Clock::now`], so test clocks need not implement it.
    fn now_coarse(&self) -> SystemTime {
        self.now()
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    /// `CLOCK_REALTIME_COARSE` on Linux (a vDSO read of the last tick, a few ns instead of
    /// about 20), [`SystemTime::now`] elsewhere.
    fn now_coarse(&self) -> SystemTime {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
            if let (Ok(secs), Ok(nanos)) = (u64::try_from(t.tv_sec), u32::try_from(t.tv_nsec))
                && nanos < 1_000_000_000
                && let Some(now) = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
            {
                return now;
            }
        }
        SystemTime::now()
    }
}

/// A clock that moves only when told: for tests of expiry and refresh.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oauth_core::{Clock, ManualClock};
/// let c = ManualClock::new(SystemTime::UNIX_EPOCH);
/// c.advance(Duration::from_secs(60));
/// assert_eq!(c.now(), SystemTime::UNIX_EPOCH + Duration::from_secs(60));
/// ```
#[derive(Debug)]
pub struct ManualClock(Mutex<SystemTime>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: SystemTime) -> Self {
        ManualClock(Mutex::new(at))
    }

    /// Moves the clock forward (no further than [`max_time`]).
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = add_clamped(*t, by);
    }

    /// Sets the clock.
    pub fn set(&self, at: SystemTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The last second of year 9999 in seconds since the epoch: the latest time an RFC 3339
/// timestamp (and google-auth's `datetime`) can hold.
const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// The latest time gauth represents, `9999-12-31T23:59:59Z`: expiries are clamped to it,
/// so that every expiry can be written as RFC 3339 and read back by google-auth.
///
/// ```
/// let t = oauth_core::clock::max_time();
/// assert_eq!(oauth_core::clock::format_rfc3339(t), "9999-12-31T23:59:59Z");
/// ```
pub fn max_time() -> SystemTime {
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(MAX_UNIX_SECONDS))
        // A platform whose clock ends earlier: its own far end, reached by halving.
        .unwrap_or_else(|| {
            let mut d = Duration::from_secs(MAX_UNIX_SECONDS);
            loop {
                d /= 2;
                if let Some(t) = SystemTime::UNIX_EPOCH.checked_add(d) {
                    return t;
                }
            }
        })
}

/// `t + d`, clamped to [`max_time`]: never overflows, whatever a server said.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oauth_core::clock::{add_clamped, max_time};
/// let now = SystemTime::now();
/// assert_eq!(add_clamped(now, Duration::from_secs(60)), now + Duration::from_secs(60));
/// assert_eq!(add_clamped(now, Duration::MAX), max_time());
/// ```
pub fn add_clamped(t: SystemTime, d: Duration) -> SystemTime {
    let max = max_time();
    t.checked_add(d).map_or(max, |sum| sum.min(max))
}

/// The time `seconds` after the epoch, clamped to the epoch and [`max_time`] (a JWT's `exp`
/// claim may hold any integer).
///
/// ```
/// use std::time::SystemTime;
/// use oauth_core::clock::{from_unix_seconds, max_time};
/// assert_eq!(from_unix_seconds(-5), SystemTime::UNIX_EPOCH);
/// assert_eq!(from_unix_seconds(i64::MAX), max_time());
/// ```
pub fn from_unix_seconds(seconds: i64) -> SystemTime {
    let secs = u64::try_from(seconds).unwrap_or(0);
    add_clamped(SystemTime::UNIX_EPOCH, Duration::from_secs(secs))
}

/// `t` as RFC 3339 in UTC to the second (`2024-05-01T12:00:00Z`), clamped to
/// `1970-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z`: formatting never fails or panics.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oauth_core::clock::format_rfc3339;
/// assert_eq!(format_rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400)), "1970-01-02T00:00:00Z");
/// assert_eq!(format_rfc3339(SystemTime::UNIX_EPOCH - Duration::from_secs(1)), "1970-01-01T00:00:00Z");
/// ```
pub fn format_rfc3339(t: SystemTime) -> String {
    let t = t.clamp(SystemTime::UNIX_EPOCH, max_time());
    humantime::format_rfc3339_seconds(t).to_string()
}

/// The longest wait or timeout gauth's APIs take (one year): a longer one, up to
/// `Duration::MAX`, is clamped to it, so that no `Instant + Duration` can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// `d`, clamped to [`MAX_TIMEOUT`].
///
/// ```
/// use std::time::Duration;
/// use oauth_core::clock::{clamp_timeout, MAX_TIMEOUT};
/// assert_eq!(clamp_timeout(Duration::from_secs(5)), Duration::from_secs(5));
/// assert_eq!(clamp_timeout(Duration::MAX), MAX_TIMEOUT);
/// ```
pub fn clamp_timeout(d: Duration) -> Duration {
    d.min(MAX_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_times_are_clamped_and_always_format() {
        let far = add_clamped(SystemTime::now(), Duration::from_secs(u64::MAX));
        assert_eq!(far, max_time());
        assert_eq!(format_rfc3339(far), "9999-12-31T23:59:59Z");
        assert_eq!(
            format_rfc3339(add_clamped(max_time(), Duration::from_secs(1))),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(from_unix_seconds(i64::MIN), SystemTime::UNIX_EPOCH);
        assert_eq!(
            format_rfc3339(from_unix_seconds(1_700_000_000)),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn a_manual_clock_saturates_instead_of_overflowing() {
        let c = ManualClock::new(SystemTime::UNIX_EPOCH);
        c.advance(Duration::MAX);
        assert_eq!(c.now(), max_time());
        c.advance(Duration::from_secs(1));
        assert_eq!(c.now(), max_time());
    }
}
