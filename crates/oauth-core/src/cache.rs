//! The token cache shared by every credential type: lock-free reads, one refresh at a time.
//!
//! Readers load the current token through an [`ArcSwapOption`] and never block each other.
//! When the token is missing or inside the refresh margin, the first caller becomes the
//! leader of a *flight* and refreshes; everyone who arrives meanwhile joins the flight and
//! receives its result, success or error. A caller whose token is inside the margin but not
//! expired is not made to wait for someone else's refresh: it keeps the still-valid token.
//! If a leader is cancelled (an async caller dropped mid-refresh), its flight is abandoned and
//! one of the waiters takes over. The same mechanism serves the blocking and the async
//! flavour: waiting is an [`event_listener`] wait, which is both.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use event_listener::{Event, Listener};

use crate::{Clock, Error, Token};

/// google-auth's refresh threshold: a token is refreshed 3 min 45 s before it expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(225);

/// A token cache with single-flight refresh.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, SystemTime};
/// use oauth_core::{ManualClock, Secret, Token, TokenCache};
/// let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
/// let cache = TokenCache::new(clock.clone(), Duration::from_secs(225));
/// let t = cache.get_blocking(|| Ok(Token::bearer(Secret::new("a"), Some(SystemTime::UNIX_EPOCH + Duration::from_secs(3600))))).unwrap();
/// assert_eq!(t.access_token.expose(), "a");
/// assert!(cache.fresh().is_some());
/// clock.advance(Duration::from_secs(3400));
/// assert!(cache.fresh().is_none(), "inside the margin");
/// ```
#[derive(Debug)]
pub struct TokenCache {
    current: ArcSwapOption<Token>,
    flight: Mutex<Option<Arc<Flight>>>,
    clock: Arc<dyn Clock>,
    margin: Duration,
}

#[derive(Debug, Default)]
struct Flight {
    result: OnceLock<Result<Arc<Token>, Error>>,
    done: Event,
}

enum Role<'a> {
    Leader(LeaderGuard<'a>),
    Follower(Arc<Flight>),
}

/// Ends a flight when the leader finishes or is dropped.
struct LeaderGuard<'a> {
    flight: Arc<Flight>,
    slot: &'a Mutex<Option<Arc<Flight>>>,
}

impl TokenCache {
    /// An empty cache.
    pub fn new(clock: Arc<dyn Clock>, margin: Duration) -> Self {
        TokenCache {
            current: ArcSwapOption::empty(),
            flight: Mutex::new(None),
            clock,
            margin,
        }
    }

    /// Seeds the cache with a token (for example one read from a file).
    pub fn seed(&self, token: Token) {
        self.current.store(Some(Arc::new(token)));
    }

    /// The clock the cache judges expiry by.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The cached token, if it is valid for longer than the margin. Never blocks.
    pub fn fresh(&self) -> Option<Arc<Token>> {
        let guard = self.current.load();
        match &*guard {
            Some(t) if t.is_fresh(self.clock.now(), self.margin) => Some(Arc::clone(t)),
            _ => None,
        }
    }

    /// Calls `f` with the cached token if it is fresh; the hot path, with no reference
    /// count taken on the token.
    pub fn with_fresh<R>(&self, f: impl FnOnce(&Token) -> R) -> Option<R> {
        let guard = self.current.load();
        match &*guard {
            Some(t) if t.is_fresh(self.clock.now(), self.margin) => Some(f(t)),
            _ => None,
        }
    }

    /// The cached token whatever its age.
    pub fn peek(&self) -> Option<Arc<Token>> {
        self.current.load_full()
    }

    /// Forgets the cached token, so that the next request refreshes.
    pub fn invalidate(&self) {
        self.current.store(None);
    }

    fn join(&self) -> Role<'_> {
        let mut slot = self.flight.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(f) => Role::Follower(Arc::clone(f)),
            None => {
                let flight = Arc::new(Flight::default());
                *slot = Some(Arc::clone(&flight));
                Role::Leader(LeaderGuard {
                    flight,
                    slot: &self.flight,
                })
            }
        }
    }

    /// Whether a caller that found no fresh token may keep the one it has (still valid,
    /// only inside the margin) rather than wait for another caller's refresh.
    fn usable_while_refreshing(&self) -> Option<Arc<Token>> {
        let guard = self.current.load();
        match &*guard {
            Some(t) if t.is_valid(self.clock.now()) => Some(Arc::clone(t)),
            _ => None,
        }
    }

    fn store(&self, result: &Result<Arc<Token>, Error>) {
        if let Ok(t) = result {
            self.current.store(Some(Arc::clone(t)));
        }
    }

    /// Returns a fresh token, running `refresh` (in this thread) when none is cached and no
    /// other caller is already refreshing; waits for that caller otherwise.
    pub fn get_blocking(
        &self,
        refresh: impl FnOnce() -> Result<Token, Error>,
    ) -> Result<Arc<Token>, Error> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let leader = loop {
            match self.join() {
                Role::Leader(guard) => break guard,
                Role::Follower(flight) => {
                    if let Some(t) = self.usable_while_refreshing() {
                        return Ok(t);
                    }
                    let listener = flight.done.listen();
                    if let Some(r) = flight.result.get() {
                        return r.clone();
                    }
                    listener.wait();
                    if let Some(r) = flight.result.get() {
                        return r.clone();
                    }
                    // The leader gave up without a result: take over.
                }
            }
        };
        if let Some(t) = self.fresh() {
            let r = Ok(t);
            leader.finish(r.clone());
            return r;
        }
        let result = refresh().map(Arc::new);
        self.store(&result);
        leader.finish(result.clone());
        result
    }

    /// The async twin of [`TokenCache::get_blocking`].
    pub async fn get_async<F>(&self, refresh: impl FnOnce() -> F) -> Result<Arc<Token>, Error>
    where
        F: Future<Output = Result<Token, Error>>,
    {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let leader = loop {
            match self.join() {
                Role::Leader(guard) => break guard,
                Role::Follower(flight) => {
                    if let Some(t) = self.usable_while_refreshing() {
                        return Ok(t);
                    }
                    let listener = flight.done.listen();
                    if let Some(r) = flight.result.get() {
                        return r.clone();
                    }
                    listener.await;
                    if let Some(r) = flight.result.get() {
                        return r.clone();
                    }
                }
            }
        };
        if let Some(t) = self.fresh() {
            let r = Ok(t);
            leader.finish(r.clone());
            return r;
        }
        let result = refresh().await.map(Arc::new);
        self.store(&result);
        leader.finish(result.clone());
        result
    }
}

impl LeaderGuard<'_> {
    fn finish(self, result: Result<Arc<Token>, Error>) {
        let _ = self.flight.result.set(result);
        // Drop does the rest.
    }
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|f| Arc::ptr_eq(f, &self.flight)) {
            *slot = None;
        }
        drop(slot);
        self.flight.done.notify(usize::MAX);
    }
}
