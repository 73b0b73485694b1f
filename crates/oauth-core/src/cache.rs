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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use event_listener::{Event, Listener};

use crate::{Clock, Error, Secret, Token};

/// google-auth's refresh threshold: a token is refreshed 3 min 45 s before it expires.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(225);

/// A token cache with single-flight refresh.
#[derive(Debug)]
pub struct TokenCache {
    current: ArcSwapOption<Token>,
    /// Which token `current` holds: a number never used by any other cache or token, so a
    /// thread's copy tagged with it is known to be this token (see [`local`]).
    generation: AtomicU64,
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
            generation: AtomicU64::new(local::next_generation()),
            flight: Mutex::new(None),
            clock,
            margin,
        }
    }

    /// Seeds the cache with a token (for example one read from a file).
    pub fn seed(&self, token: Token) {
        self.current.store(Some(Arc::new(token)));
        self.bump();
    }

    /// Marks every thread's copy of the previous token as outdated. Called after each store.
    fn bump(&self) {
        self.generation
            .store(local::next_generation(), Ordering::Release);
    }

    /// The cached token, if it is valid for longer than the margin. Never blocks.
    pub fn fresh(&self) -> Option<Arc<Token>> {
        let guard = self.current.load();
        match &*guard {
            Some(t) if t.is_fresh(self.clock.now(), self.margin) => Some(Arc::clone(t)),
            _ => None,
        }
    }

    /// The cached access token if it is fresh: the hot path of `token()`. It takes no lock
    /// and writes no memory shared with other threads: each thread keeps its own copy of the
    /// current access token (its own allocation, so cloning it touches no shared reference
    /// count), checked against the cache's generation and the copy's expiry.
    pub fn fresh_access_token(&self) -> Option<Secret> {
        let generation = self.generation.load(Ordering::Acquire);
        let hit = local::get(generation, |stale_at, secret| {
            (stale_at.is_none_or(|at| self.clock.now_coarse() < at)).then(|| secret.clone())
        });
        match hit {
            Some(found) => found,
            None => {
                // This thread has no copy of the current token: take one.
                let guard = self.current.load();
                let t = guard.as_ref()?;
                let stale_at = match t.expiry {
                    None => None,
                    Some(exp) => Some(exp.checked_sub(self.margin)?),
                };
                // The original is registered with the sanitiser; the copy need not be.
                let own = Secret::unregistered(t.access_token.expose());
                local::put(generation, stale_at, own.clone());
                (stale_at.is_none_or(|at| self.clock.now_coarse() < at)).then_some(own)
            }
        }
    }

    /// The cached token whatever its age.
    pub fn peek(&self) -> Option<Arc<Token>> {
        self.current.load_full()
    }

    /// Forgets the cached token, so that the next request refreshes.
    pub fn invalidate(&self) {
        self.current.store(None);
        self.bump();
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
            self.bump();
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

/// Each thread's copies of the access tokens it read last, so that reading a fresh token
/// touches no memory that other threads write (a shared reference count would bounce between
/// cores on every call). Entries are tagged with a generation that is unique across all caches
/// and all stores, so a copy matches only the very token it was taken from; outdated copies are
/// replaced on the thread's next read, and at most [`SLOTS`] are kept per thread.
mod local {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::SystemTime;

    use crate::Secret;

    const SLOTS: usize = 4;

    static NEXT: AtomicU64 = AtomicU64::new(1);

    pub(super) fn next_generation() -> u64 {
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    struct Copy {
        generation: u64,
        stale_at: Option<SystemTime>,
        secret: Secret,
    }

    thread_local! {
        static COPIES: RefCell<Vec<Copy>> = const { RefCell::new(Vec::new()) };
    }

    /// Calls `f` with this thread's copy of the token of `generation`, if it has one.
    pub(super) fn get<R>(
        generation: u64,
        f: impl FnOnce(Option<SystemTime>, &Secret) -> R,
    ) -> Option<R> {
        COPIES
            .try_with(|c| {
                let c = c.try_borrow().ok()?;
                let copy = c.iter().find(|x| x.generation == generation)?;
                Some(f(copy.stale_at, &copy.secret))
            })
            .ok()
            .flatten()
    }

    /// Keeps a copy, replacing an outdated one of the same cache or the oldest.
    pub(super) fn put(generation: u64, stale_at: Option<SystemTime>, secret: Secret) {
        let _ = COPIES.try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return;
            };
            let copy = Copy {
                generation,
                stale_at,
                secret,
            };
            // Generations only grow: the smallest is the oldest copy.
            if c.len() < SLOTS {
                c.push(copy);
            } else if let Some(oldest) = c.iter_mut().min_by_key(|x| x.generation) {
                *oldest = copy;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::ManualClock;

    fn token(s: &str, secs: u64) -> Token {
        Token::bearer(
            Secret::new(s),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        )
    }

    #[test]
    fn a_threads_copy_follows_every_store_and_invalidation() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock.clone(), DEFAULT_REFRESH_MARGIN);
        assert!(cache.fresh_access_token().is_none());
        cache.seed(token("a", 3600));
        assert_eq!(cache.fresh_access_token().unwrap().expose(), "a");
        cache.seed(token("b", 3600));
        assert_eq!(cache.fresh_access_token().unwrap().expose(), "b");
        cache.invalidate();
        assert!(cache.fresh_access_token().is_none());
        let t = cache.get_blocking(|| Ok(token("c", 7200))).unwrap();
        assert_eq!(t.access_token.expose(), "c");
        assert_eq!(cache.fresh_access_token().unwrap().expose(), "c");
        clock.advance(Duration::from_secs(7200 - 225));
        assert!(cache.fresh_access_token().is_none(), "inside the margin");
    }

    #[test]
    fn the_read_path_never_registers_with_the_sanitiser() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock, DEFAULT_REFRESH_MARGIN);
        let original = Secret::new("ya29.read-path-access-token");
        cache.seed(Token::bearer(
            original.clone(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(3600)),
        ));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let t = cache.fresh_access_token().unwrap();
                        assert_eq!(t.weak_count(), 0, "a copy was registered");
                    }
                });
            }
        });
        assert_eq!(original.weak_count(), 1);
        // The original's registration redacts what the copies hold.
        assert_eq!(
            crate::sanitize::clean("ya29.read-path-access-token"),
            "[redacted]"
        );
    }

    #[test]
    fn copies_of_many_caches_never_mix() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let caches: Vec<TokenCache> = (0..10)
            .map(|i| {
                let c = TokenCache::new(Arc::clone(&clock), DEFAULT_REFRESH_MARGIN);
                c.seed(token(&format!("t{i}"), 3600));
                c
            })
            .collect();
        for _ in 0..3 {
            for (i, c) in caches.iter().enumerate() {
                assert_eq!(c.fresh_access_token().unwrap().expose(), format!("t{i}"));
            }
        }
        let other = std::thread::scope(|s| {
            s.spawn(|| {
                caches[3]
                    .fresh_access_token()
                    .map(|t| t.expose().to_owned())
            })
            .join()
            .unwrap()
        });
        assert_eq!(other.as_deref(), Some("t3"));
    }
}
