//! Whether Redis is usable now, and the one warning per outage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The process's view of each cache, by label: every store on one Redis shares it, so a
/// process logs one warning per outage however many stores and handles it has.
fn registry() -> &'static Mutex<HashMap<String, Arc<Mutex<State>>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Mutex<State>>>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

/// The store's view of Redis: up, or down until a time. Going down logs one warning
/// naming the cache; coming back logs one note. Nothing else is logged per call.
#[derive(Debug)]
pub(crate) struct Health {
    label: String,
    retry_after: Duration,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Redis is not tried before this.
    down_until: Option<Instant>,
    /// A warning was logged for the current outage.
    warned: bool,
}

impl Health {
    pub(crate) fn new(label: String, retry_after: Duration) -> Health {
        let state = registry()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(label.clone())
            .or_default()
            .clone();
        Health {
            label,
            retry_after,
            state,
        }
    }

    /// The same settings and shared state.
    pub(crate) fn clone_settings(&self) -> Health {
        Health::new(self.label.clone(), self.retry_after)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether Redis may be tried now.
    pub(crate) fn available(&self) -> bool {
        self.state()
            .down_until
            .is_none_or(|until| Instant::now() >= until)
    }

    /// Redis failed (`doing` says at what): work locally for a while; warn once per outage.
    pub(crate) fn failed(&self, doing: &str, error: &dyn std::fmt::Display) {
        let mut state = self.state();
        state.down_until = Instant::now().checked_add(self.retry_after);
        if !state.warned {
            state.warned = true;
            tracing::warn!(
                "the token cache {} is unavailable ({doing}: {}); minting tokens in this process until it returns",
                self.label,
                oauth_core::sanitize::clean(&error.to_string())
            );
        }
    }

    /// Redis answered: share tokens again.
    pub(crate) fn succeeded(&self) {
        let mut state = self.state();
        state.down_until = None;
        if state.warned {
            state.warned = false;
            tracing::info!(
                "the token cache {} is back; sharing tokens again",
                self.label
            );
        }
    }
}
