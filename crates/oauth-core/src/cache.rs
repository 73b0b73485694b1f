//! The token cache shared by every credential type: lock-free reads, one refresh at a time.
//!
//! Each thread reads its own copy of the current access token (see [`local`]): the hot path
//! takes no lock and writes nothing shared; the entry itself sits behind a read-write lock
//! that a thread reads on its first call and on the slow paths.
//! A token is *fresh* until its refresh margin, scaled to its lifetime
//! ([`Token::stale_at`]), and *valid* until it expires. Between the two, the handle returns
//! it at once and starts one refresh in the background (see [`TokenCache::ahead`]); a
//! background refresh that fails is tried again after a backoff, by the next caller that
//! finds the token stale, and its error reaches callers only once the token has expired.
//! When the token is missing or expired, the first caller becomes the leader of a *flight*
//! and refreshes; everyone who arrives meanwhile joins the flight and receives its result,
//! success or error. If a leader is cancelled (an async caller dropped mid-refresh, a
//! background task whose runtime ended), its flight is abandoned and one of the waiters
//! takes over. Waiting threads block on the flight's `OnceLock` (one futex wake for all of
//! them, no lock to take again); waiting tasks on an [`event_listener::Event`].
//!
//! A caller of a stale token takes no lock while a refresh is under way (or held back by a
//! backoff): a flag and the backoff's deadline are atomics beside the flight's mutex, and a
//! thread that finds its own copy of the token stale returns that copy at once, so a
//! thousand callers of a stale token touch nothing shared but two atomic loads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use event_listener::Event;

use crate::{Clock, Error, Secret, Token};

/// google-auth's refresh threshold: a token is refreshed 3 min 45 s before it expires.
/// Short-lived tokens get less (see [`scaled_margin`](crate::token::scaled_margin)).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(225);

/// The first wait before a failed background refresh is tried again; it doubles with each
/// failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// A token cache with single-flight refresh.
#[derive(Debug)]
pub struct TokenCache {
    current: Current,
    /// Which token `current` holds: a number never used by any other cache or token, so a
    /// thread's copy tagged with it is known to be this token (see [`local`]).
    generation: AtomicU64,
    flights: Arc<Flights>,
    clock: Arc<dyn Clock>,
    margin: Duration,
}

/// The cache's entry, read on a thread's first call and on the slow paths only (the hot path
/// reads the thread's own copy, see [`local`]). A read-write lock and not an `ArcSwap`: an
/// `ArcSwap` read on a new thread first claims a slot in a list shared by every thread that
/// ever read one, walking it with an atomic exchange per slot, and its store walks the whole
/// list: with a thousand threads calling at once, the blocking stampede of `cargo xtask bench`
/// spent 10 to 50 ms there (see docs/performance.md).
#[derive(Debug, Default)]
struct Current(RwLock<Option<Arc<Entry>>>);

impl Current {
    fn load(&self) -> Option<Arc<Entry>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the entry; the old one is dropped after the lock is released (its secrets
    /// leave the sanitiser's registry, which takes a lock of its own).
    fn store(&self, entry: Option<Arc<Entry>>) {
        let old = std::mem::replace(
            &mut *self.0.write().unwrap_or_else(|p| p.into_inner()),
            entry,
        );
        drop(old);
    }
}

/// The cached token and when it becomes stale (fixed when the cache received it, as the
/// margin depends on the lifetime it had then).
#[derive(Debug)]
struct Entry {
    token: Arc<Token>,
    stale_at: Option<SystemTime>,
}

impl Entry {
    fn is_fresh(&self, now: SystemTime) -> bool {
        self.stale_at.is_none_or(|at| now < at)
    }
}

/// The refresh in flight and the backoff of failed background refreshes. The mutex orders
/// the callers that may start or end a flight; everything else reads without it: the flight
/// through a read-write lock (callers joining a flight never queue on the mutex, so a
/// thousand of them arriving at once leave the CPU to the one refreshing), whether one runs
/// and the backoff's deadline through atomics. All are written under the mutex.
#[derive(Debug, Default)]
struct Flights {
    slot: Mutex<Slot>,
    flight: RwLock<Option<Arc<Flight>>>,
    /// Whether `flight` is `Some`.
    flying: AtomicBool,
    /// When the next background refresh may start after a failure, in nanoseconds since the
    /// Unix epoch (0: any time).
    retry_at_ns: AtomicU64,
}

/// Failed background refreshes in a row.
#[derive(Debug, Default)]
struct Slot {
    failures: u32,
}

impl Flights {
    /// Whether a stale token's caller has nothing to start at `now`: a refresh is under way,
    /// or a failed one holds the next back. No lock.
    fn busy(&self, now: SystemTime) -> bool {
        self.flying.load(Ordering::Acquire) || nanos(now) < self.retry_at_ns.load(Ordering::Acquire)
    }

    /// The flight under way, if any.
    fn flight(&self) -> Option<Arc<Flight>> {
        self.flight
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sets the flight; `_slot` proves the caller holds the mutex.
    fn set_flight(&self, _slot: &mut Slot, flight: Option<Arc<Flight>>) {
        self.flying.store(flight.is_some(), Ordering::Release);
        *self.flight.write().unwrap_or_else(|p| p.into_inner()) = flight;
    }
}

/// Nanoseconds since the Unix epoch (0 before it, saturated after 2554).
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// One refresh and its outcome: `Some(result)` when the leader finished, `None` when it gave
/// up (then a waiter takes over). Threads wait on the `OnceLock` itself, which wakes them all
/// with one futex call and leaves them no lock to queue on (an `Event`'s waiters each took its
/// list lock again on waking: a convoy of a thousand threads on two cores); tasks wait on
/// `done`.
#[derive(Debug, Default)]
struct Flight {
    result: OnceLock<Outcome>,
    done: Event,
}

type Outcome = Option<Result<Arc<Token>, Error>>;

enum Role {
    Leader(Refresher),
    Follower(Arc<Flight>),
}

/// The right (and duty) to run the one refresh of a flight: hand its result to
/// [`TokenCache::complete`]. Dropped without a result, the flight is abandoned and a
/// waiter takes over. Owned, so that a background task or thread can carry it.
#[derive(Debug)]
pub(crate) struct Refresher {
    flight: Arc<Flight>,
    flights: Arc<Flights>,
}

/// What [`TokenCache::ahead`] found.
#[derive(Debug)]
pub(crate) enum Ahead {
    /// A fresh token: nothing to do.
    Fresh(Arc<Token>),
    /// A valid token inside the margin: return it; when a [`Refresher`] comes with it, this
    /// caller starts the background refresh.
    Stale(Arc<Token>, Option<Refresher>),
    /// No valid token: refresh in the foreground ([`TokenCache::get_blocking`],
    /// [`TokenCache::get_async`]).
    Unusable,
}

fn lock(slot: &Mutex<Slot>) -> MutexGuard<'_, Slot> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

impl TokenCache {
    /// An empty cache.
    pub fn new(clock: Arc<dyn Clock>, margin: Duration) -> Self {
        TokenCache {
            current: Current::default(),
            generation: AtomicU64::new(local::next_generation()),
            flights: Arc::default(),
            clock,
            margin,
        }
    }

    /// Seeds the cache with a token (for example one read from a file).
    pub fn seed(&self, token: Token) {
        self.put(Arc::new(token));
    }

    fn put(&self, token: Arc<Token>) {
        let stale_at = token.stale_at(self.clock.now(), self.margin);
        self.current
            .store(Some(Arc::new(Entry { token, stale_at })));
        self.bump();
    }

    /// Marks every thread's copy of the previous token as outdated. Called after each store.
    fn bump(&self) {
        self.generation
            .store(local::next_generation(), Ordering::Release);
    }

    /// The cached token, if it is fresh (outside its refresh margin). Never blocks.
    pub fn fresh(&self) -> Option<Arc<Token>> {
        let guard = self.current.load();
        match &guard {
            Some(e) if e.is_fresh(self.clock.now()) => Some(Arc::clone(&e.token)),
            _ => None,
        }
    }

    /// The cached access token if it is fresh: the hot path of `token()`. It takes no lock
    /// and writes no memory shared with other threads: each thread keeps its own copy of the
    /// current access token (its own allocation, so cloning it touches no shared reference
    /// count), checked against the cache's generation and the copy's expiry.
    pub fn fresh_access_token(&self) -> Option<Secret> {
        let generation = self.generation.load(Ordering::Acquire);
        let hit = local::get(generation, |copy| self.usable_copy(copy));
        match hit {
            Some(found) => found,
            None => {
                // This thread has no copy of the current token: take one.
                let guard = self.current.load();
                let e = guard.as_ref()?;
                // The original is registered with the sanitiser; the copy need not be.
                let copy = local::Copy {
                    generation,
                    stale_at: e.stale_at,
                    expiry: e.token.expiry,
                    secret: Secret::unregistered(e.token.access_token.expose()),
                };
                let found = self.usable_copy(&copy);
                local::put(copy);
                found
            }
        }
    }

    /// A thread's copy, when it may be returned: fresh, or stale but still valid while
    /// another caller's refresh is under way (nothing for this caller to start).
    fn usable_copy(&self, copy: &local::Copy) -> Option<Secret> {
        let fresh = copy.stale_at.is_none_or(|at| self.clock.now_coarse() < at);
        let keep = fresh || {
            let now = self.clock.now();
            copy.expiry.is_some_and(|exp| now < exp) && self.flights.busy(now)
        };
        keep.then(|| copy.secret.clone())
    }

    /// The cached token whatever its age.
    pub fn peek(&self) -> Option<Arc<Token>> {
        self.current.load().as_ref().map(|e| Arc::clone(&e.token))
    }

    /// Forgets the cached token, so that the next request refreshes.
    pub fn invalidate(&self) {
        self.current.store(None);
        self.bump();
    }

    /// Judges the cached token for a caller that found no fresh copy of its own: fresh,
    /// stale but valid (with the background refresh to start, when none runs and no
    /// backoff holds it back), or unusable.
    pub(crate) fn ahead(&self) -> Ahead {
        let now = self.clock.now();
        let guard = self.current.load();
        match &guard {
            Some(e) if e.is_fresh(now) => Ahead::Fresh(Arc::clone(&e.token)),
            Some(e) if e.token.is_valid(now) => {
                let token = Arc::clone(&e.token);
                drop(guard);
                if self.flights.busy(now) {
                    return Ahead::Stale(token, None);
                }
                // Under the mutex, asked again: one caller starts the refresh.
                let mut slot = lock(&self.flights.slot);
                let idle = !self.flights.busy(now);
                Ahead::Stale(token, idle.then(|| self.lead(&mut slot)))
            }
            _ => Ahead::Unusable,
        }
    }

    /// Registers a new flight in `slot`, led by the caller.
    fn lead(&self, slot: &mut Slot) -> Refresher {
        let flight = Arc::new(Flight::default());
        self.flights.set_flight(slot, Some(Arc::clone(&flight)));
        Refresher {
            flight,
            flights: Arc::clone(&self.flights),
        }
    }

    /// Follows the flight under way (without the mutex) or leads a new one.
    fn join(&self) -> Role {
        if let Some(f) = self.flights.flight() {
            return Role::Follower(f);
        }
        let mut slot = lock(&self.flights.slot);
        match self.flights.flight() {
            Some(f) => Role::Follower(f),
            None => Role::Leader(self.lead(&mut slot)),
        }
    }

    /// Whether a caller that found no fresh token may keep the one it has (still valid,
    /// only inside the margin) rather than wait for another caller's refresh.
    fn usable_while_refreshing(&self) -> Option<Arc<Token>> {
        let guard = self.current.load();
        match &guard {
            Some(e) if e.token.is_valid(self.clock.now()) => Some(Arc::clone(&e.token)),
            _ => None,
        }
    }

    /// Ends a flight with the refresh's result: a new token is cached and handed to every
    /// caller waiting on the flight; a failure is handed to them too and holds the next
    /// background refresh back for a while (1 s, doubling with each failure up to 60 s).
    pub(crate) fn complete(
        &self,
        refresher: Refresher,
        result: Result<Token, Error>,
    ) -> Result<Arc<Token>, Error> {
        let result = result.map(Arc::new);
        if let Ok(t) = &result {
            self.put(Arc::clone(t));
        }
        {
            let mut slot = lock(&self.flights.slot);
            let retry_at = if result.is_ok() {
                slot.failures = 0;
                0
            } else {
                let wait = FIRST_BACKOFF
                    .saturating_mul(1 << slot.failures.min(16))
                    .min(MAX_BACKOFF);
                slot.failures = slot.failures.saturating_add(1);
                nanos(crate::clock::add_clamped(self.clock.now(), wait))
            };
            self.flights.retry_at_ns.store(retry_at, Ordering::Release);
        }
        refresher.finish(result.clone());
        result
    }

    /// Waits for the flight in progress, or becomes the leader of a new one. `Ok` is the
    /// token to return (another caller's result, or a valid one held meanwhile).
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    fn lead_or_wait_blocking(&self) -> Result<Result<Arc<Token>, Error>, Refresher> {
        loop {
            match self.join() {
                Role::Leader(refresher) => return Err(refresher),
                Role::Follower(flight) => {
                    if let Some(t) = self.usable_while_refreshing() {
                        return Ok(Ok(t));
                    }
                    if let Some(r) = flight.result.wait() {
                        return Ok(r.clone());
                    }
                    // The leader gave up without a result: take over.
                }
            }
        }
    }

    /// Returns a fresh token, running `refresh` (in this thread) when none is cached and no
    /// other caller is already refreshing; waits for that caller otherwise.
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub fn get_blocking(
        &self,
        refresh: impl FnOnce() -> Result<Token, Error>,
    ) -> Result<Arc<Token>, Error> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let leader = match self.lead_or_wait_blocking() {
            Ok(result) => return result,
            Err(leader) => leader,
        };
        if let Some(t) = self.fresh() {
            leader.finish(Ok(Arc::clone(&t)));
            return Ok(t);
        }
        self.complete(leader, refresh())
    }

    /// The async twin of [`TokenCache::get_blocking`].
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub async fn get_async<F>(&self, refresh: impl FnOnce() -> F) -> Result<Arc<Token>, Error>
    where
        F: Future<Output = Result<Token, Error>>,
    {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let leader = loop {
            match self.join() {
                Role::Leader(refresher) => break refresher,
                Role::Follower(flight) => {
                    if let Some(t) = self.usable_while_refreshing() {
                        return Ok(t);
                    }
                    let listener = flight.done.listen();
                    if let Some(outcome) = flight.result.get() {
                        match outcome {
                            Some(r) => return r.clone(),
                            None => continue,
                        }
                    }
                    listener.await;
                    if let Some(Some(r)) = flight.result.get() {
                        return r.clone();
                    }
                    // Given up (or woken early): look again.
                }
            }
        };
        if let Some(t) = self.fresh() {
            leader.finish(Ok(Arc::clone(&t)));
            return Ok(t);
        }
        self.complete(leader, refresh().await)
    }
}

impl Refresher {
    fn finish(self, result: Result<Arc<Token>, Error>) {
        let _ = self.flight.result.set(Some(result));
        // Drop does the rest.
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        let mut slot = lock(&self.flights.slot);
        if self
            .flights
            .flight()
            .is_some_and(|f| Arc::ptr_eq(&f, &self.flight))
        {
            self.flights.set_flight(&mut slot, None);
        }
        drop(slot);
        // Given up without a result: waiting threads wake to take over.
        let _ = self.flight.result.set(None);
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

    /// A thread's copy of one token: its access token, when it turns stale, when it expires.
    pub(super) struct Copy {
        pub(super) generation: u64,
        pub(super) stale_at: Option<SystemTime>,
        pub(super) expiry: Option<SystemTime>,
        pub(super) secret: Secret,
    }

    thread_local! {
        static COPIES: RefCell<Vec<Copy>> = const { RefCell::new(Vec::new()) };
    }

    /// Calls `f` with this thread's copy of the token of `generation`, if it has one.
    pub(super) fn get<R>(generation: u64, f: impl FnOnce(&Copy) -> R) -> Option<R> {
        COPIES
            .try_with(|c| {
                let c = c.try_borrow().ok()?;
                let copy = c.iter().find(|x| x.generation == generation)?;
                Some(f(copy))
            })
            .ok()
            .flatten()
    }

    /// Keeps a copy, replacing an outdated one of the same cache or the oldest.
    pub(super) fn put(copy: Copy) {
        let _ = COPIES.try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return;
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

    /// Asks for a token every second for `seconds` on a server whose tokens live
    /// `lifetime` seconds; returns how many token requests were made.
    fn requests_over(lifetime: u64, seconds: u64) -> u32 {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock.clone(), DEFAULT_REFRESH_MARGIN);
        let mut requests = 0;
        for _ in 0..seconds {
            let t = cache
                .get_blocking(|| {
                    requests += 1;
                    Ok(Token::bearer(
                        Secret::new(format!("t{requests}")),
                        Some(clock.now() + Duration::from_secs(lifetime)),
                    ))
                })
                .unwrap();
            assert!(t.is_valid(clock.now()));
            clock.advance(Duration::from_secs(1));
        }
        requests
    }

    #[test]
    fn a_short_lived_token_is_reused_for_most_of_its_life() {
        // 60 s tokens: refreshed 15 s before expiry, at 0, 45, 90 and 135 s.
        assert_eq!(requests_over(60, 120), 3);
        assert_eq!(requests_over(60, 600), 14);
        // 10 s tokens: 5 s each. 120 s: 30 s each.
        assert_eq!(requests_over(10, 60), 12);
        assert_eq!(requests_over(120, 600), 7);
        // An hour-long token keeps google-auth's 225 s margin.
        assert_eq!(requests_over(3600, 3375), 1);
        assert_eq!(requests_over(3600, 3376), 2);
    }

    fn stale_refresher(cache: &TokenCache) -> Option<Refresher> {
        match cache.ahead() {
            Ahead::Stale(t, r) => {
                assert_eq!(t.access_token.expose(), "old");
                r
            }
            other => panic!("expected a stale token, got {other:?}"),
        }
    }

    #[test]
    fn one_background_refresh_at_a_time_and_failures_back_off() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock.clone(), DEFAULT_REFRESH_MARGIN);
        cache.seed(token("old", 3600));
        assert!(matches!(cache.ahead(), Ahead::Fresh(_)));
        clock.advance(Duration::from_secs(3400));
        let first = stale_refresher(&cache).expect("the first caller refreshes");
        assert!(stale_refresher(&cache).is_none(), "one flight at a time");
        let e = Error::InvalidRequest("down".into());
        assert!(cache.complete(first, Err(e.clone())).is_err());
        // Backoff: 1 s, then 2 s.
        assert!(stale_refresher(&cache).is_none());
        clock.advance(Duration::from_secs(1));
        let second = stale_refresher(&cache).expect("retried after 1 s");
        let _ = cache.complete(second, Err(e));
        clock.advance(Duration::from_secs(1));
        assert!(stale_refresher(&cache).is_none());
        clock.advance(Duration::from_secs(1));
        let third = stale_refresher(&cache).expect("retried after 2 s more");
        let now = clock.now();
        let _ = cache.complete(
            third,
            Ok(Token::bearer(
                Secret::new("new"),
                Some(now + Duration::from_secs(3600)),
            )),
        );
        assert!(matches!(cache.ahead(), Ahead::Fresh(t) if t.access_token.expose() == "new"));
    }

    #[test]
    fn a_threads_stale_copy_serves_while_a_refresh_runs_or_backs_off_never_once_expired() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock.clone(), DEFAULT_REFRESH_MARGIN);
        cache.seed(token("old", 3600));
        let copy = || cache.fresh_access_token().map(|s| s.expose().to_owned());
        assert_eq!(copy().as_deref(), Some("old"));
        clock.advance(Duration::from_secs(3400));
        assert_eq!(
            copy(),
            None,
            "stale, nothing under way: the caller starts a refresh"
        );
        let running = stale_refresher(&cache).expect("the first caller refreshes");
        assert_eq!(copy().as_deref(), Some("old"), "a refresh is under way");
        let _ = cache.complete(running, Err(Error::InvalidRequest("down".into())));
        assert_eq!(
            copy().as_deref(),
            Some("old"),
            "a failure holds the next back"
        );
        clock.advance(Duration::from_secs(1));
        assert_eq!(copy(), None, "the backoff is over: the next caller retries");
        let retry = stale_refresher(&cache).expect("retried");
        clock.advance(Duration::from_secs(200));
        assert_eq!(copy(), None, "expired, even with a refresh under way");
        drop(retry);
    }

    #[test]
    fn an_abandoned_background_refresh_is_taken_over() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock.clone(), DEFAULT_REFRESH_MARGIN);
        cache.seed(token("old", 3600));
        clock.advance(Duration::from_secs(3400));
        drop(stale_refresher(&cache).unwrap());
        assert!(
            stale_refresher(&cache).is_some(),
            "no backoff, no stranded flight"
        );
        // Expired with a background refresh abandoned: the caller refreshes itself.
        clock.advance(Duration::from_secs(300));
        assert!(matches!(cache.ahead(), Ahead::Unusable));
        let t = cache.get_blocking(|| Ok(token("new", 7200))).unwrap();
        assert_eq!(t.access_token.expose(), "new");
    }

    #[test]
    fn waiting_threads_take_over_from_a_leader_that_gave_up() {
        let clock = Arc::new(ManualClock::new(SystemTime::UNIX_EPOCH));
        let cache = TokenCache::new(clock, DEFAULT_REFRESH_MARGIN);
        let Role::Leader(gave_up) = cache.join() else {
            panic!("the first caller leads");
        };
        let refreshes = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            let waiters: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        cache.get_blocking(|| {
                            refreshes.fetch_add(1, Ordering::SeqCst);
                            Ok(token("t", 3600))
                        })
                    })
                })
                .collect();
            drop(gave_up);
            for w in waiters {
                assert_eq!(w.join().unwrap().unwrap().access_token.expose(), "t");
            }
        });
        assert_eq!(refreshes.load(Ordering::SeqCst), 1);
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
