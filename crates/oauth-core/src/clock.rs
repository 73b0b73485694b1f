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
            if let (Ok(secs), Ok(nanos)) = (u64::try_from(t.tv_sec), u32::try_from(t.tv_nsec)) {
                return SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
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

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
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
