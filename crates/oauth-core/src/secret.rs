//! A wrapper that keeps secrets out of Debug, Display, errors and logs.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string: a client secret, an access or refresh token, a private key.
///
/// Its `Debug` and `Display` print `[redacted]`; the value is reached only through
/// [`Secret::expose`], so every place that uses a secret says so. Cloning is cheap (the
/// text is shared), which keeps the token hot path free of allocation.
///
/// Creating a secret registers its value with the [sanitiser](crate::sanitize) (weakly,
/// and only for values of at least
/// [`MIN_REGISTERED_LEN`](crate::sanitize::MIN_REGISTERED_LEN) bytes): as long as the
/// secret lives, any error message, log line or terminal output built from server text
/// shows `[redacted]` where the server echoed it. Clones share the registration.
///
/// ```
/// use oauth_core::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a value and registers it with the sanitiser.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        let value = value.into();
        crate::sanitize::register(&value);
        Secret(value)
    }

    /// Wraps a value without registering it: for copies of a value registered elsewhere
    /// (the cache's per-thread copies, on the read path) and for request parameters that
    /// are not secret (a grant type, a client id).
    pub(crate) fn unregistered(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Never log or print the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// How many weak references the value has (the sanitiser's registration), for tests.
    #[cfg(test)]
    pub(crate) fn weak_count(&self) -> usize {
        Arc::weak_count(&self.0)
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("1//0refresh-token");
        assert!(!format!("{s:?}").contains("refresh"));
        assert!(!format!("{s}").contains("refresh"));
        assert!(!format!("{:?}", Some(s.clone())).contains("refresh"));
    }

    #[test]
    fn new_secrets_are_redacted_from_server_text_while_they_live() {
        let s = Secret::new("registered-on-construction");
        assert_eq!(
            crate::sanitize::clean("echo: registered-on-construction"),
            "echo: [redacted]"
        );
        let copy = Secret::unregistered(s.expose());
        drop(s);
        // An unregistered copy does not keep the value registered. (Another test's clean()
        // may hold the value for an instant while it reads the registry: ask again.)
        let released = (0..1000).any(|_| {
            std::thread::yield_now();
            crate::sanitize::clean("registered-on-construction").contains("registered")
        });
        assert!(released);
        drop(copy);
    }

    #[test]
    fn serde_round_trips_the_value() {
        let s: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(s.expose(), "abc");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"abc\"");
    }
}
