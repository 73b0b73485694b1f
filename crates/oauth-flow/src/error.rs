//! The one error type of `oauth-flow`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth_core::sanitize::Clean;

/// What went wrong in a sign-in flow. No variant carries a secret: authorization codes,
/// PKCE verifiers, states, tokens and client secrets never appear in a message, and
/// `Display` shows every field through the [sanitiser](oauth_core::sanitize).
///
/// ```
/// use oauth_flow::{AuthorizationError, FlowError};
/// let e = FlowError::Authorization(AuthorizationError::new("access_denied", Some("the user said no")));
/// assert_eq!(e.to_string(), "authorization refused: `access_denied`: the user said no");
/// assert!(!e.is_transient());
/// assert_eq!(e.oauth_error(), Some("access_denied"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// Token endpoint, file and endpoint-policy errors from `oauth-core`.
    #[error(transparent)]
    Core(#[from] oauth_core::Error),
    /// The authorization server sent the user back with an error (RFC 6749 section
    /// 4.1.2.1), or refused the device authorization (RFC 8628 section 3.5).
    #[error("authorization refused: {0}")]
    Authorization(AuthorizationError),
    /// The redirect's `state` is not the one this flow sent: it is not the answer to this
    /// sign-in (a forged or stale redirect).
    #[error(
        "the redirect's `state` does not match the one sent; ignoring a redirect that is not the answer to this sign-in"
    )]
    StateMismatch,
    /// A required parameter is absent from a redirect or a server answer.
    #[error("{origin}: missing parameter `{parameter}`")]
    MissingParameter {
        /// What was being read ("redirect", "device authorization response", ...).
        origin: &'static str,
        /// The parameter.
        parameter: &'static str,
    },
    /// A parameter is present but unusable.
    #[error("invalid parameter `{parameter}`: {}", Clean(.reason))]
    InvalidParameter {
        /// The parameter (or option) at fault.
        parameter: &'static str,
        /// Why; never the value when it may be secret.
        reason: String,
    },
    /// The out-of-band redirect (`urn:ietf:wg:oauth:2.0:oob`), which Google has removed.
    #[error(
        "the out-of-band redirect `urn:ietf:wg:oauth:2.0:oob` is no longer supported by Google; \
         use the loopback flow (InstalledAppFlow::run_local_server, `gauth login`) or, on a \
         machine without a browser, the device flow (DeviceFlow, `gauth device`) or the manual \
         mode (run_console)"
    )]
    OutOfBand,
    /// No redirect arrived within the wait.
    #[error("no authorization redirect arrived within {} s", waited.as_secs())]
    Timeout {
        /// How long the server waited.
        waited: Duration,
    },
    /// The device code expired before the user approved (`expired_token`).
    #[error("the device code expired before the user approved the sign-in; start again")]
    DeviceCodeExpired,
    /// The loopback server could not listen.
    #[error("cannot listen on {}: {source}", Clean(.address))]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// Local I/O failed (the loopback server, the console).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// Why.
        source: Arc<std::io::Error>,
    },
}

impl FlowError {
    /// Whether trying again later may succeed: transient token endpoint failures, and the
    /// authorization server's `server_error` and `temporarily_unavailable`.
    pub fn is_transient(&self) -> bool {
        match self {
            FlowError::Core(e) => e.is_transient(),
            FlowError::Authorization(a) => a.is_transient(),
            FlowError::Io { .. } => true,
            _ => false,
        }
    }

    /// The OAuth error code, from a redirect or from the token endpoint.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            FlowError::Authorization(a) => Some(&a.error),
            FlowError::Core(e) => e.oauth().map(|o| o.error.as_str()),
            _ => None,
        }
    }

    /// The oauth-core error underneath (token endpoint, file, endpoint policy), to ask
    /// [`kind`](oauth_core::Error::kind) or [`status`](oauth_core::Error::status) without
    /// matching variants.
    ///
    /// ```
    /// let e = oauth_flow::FlowError::from(oauth_core::Error::InvalidRequest("x".into()));
    /// assert_eq!(e.core().unwrap().kind(), oauth_core::ErrorKind::InvalidInput);
    /// assert!(oauth_flow::FlowError::StateMismatch.core().is_none());
    /// ```
    pub fn core(&self) -> Option<&oauth_core::Error> {
        match self {
            FlowError::Core(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the token endpoint's failed answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.core()?.status()
    }

    pub(crate) fn io(context: &'static str, source: std::io::Error) -> Self {
        FlowError::Io {
            context,
            source: Arc::new(source),
        }
    }

    pub(crate) fn invalid(parameter: &'static str, reason: impl Into<String>) -> Self {
        FlowError::InvalidParameter {
            parameter,
            reason: reason.into(),
        }
    }
}

/// An error redirect (RFC 6749 section 4.1.2.1) or a refused device authorization.
///
/// `error` is one of `invalid_request`, `unauthorized_client`, `access_denied`,
/// `unsupported_response_type`, `invalid_scope`, `server_error`, `temporarily_unavailable`
/// (or a provider's own code); the description is the server's text, cut to 200
/// characters and [cleaned](oauth_core::sanitize::excerpt): control characters escaped,
/// every secret the process holds redacted.
///
/// ```
/// use oauth_flow::AuthorizationError;
/// let e = AuthorizationError::new("temporarily_unavailable", None);
/// assert!(e.is_transient());
/// assert!(AuthorizationError::new("access_denied", None).is_access_denied());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationError {
    /// The `error` code.
    pub error: String,
    /// `error_description`, when given.
    pub description: Option<String>,
    /// `error_uri`, when given.
    pub uri: Option<String>,
}

impl AuthorizationError {
    /// An error with a code and an optional description (both cleaned for display).
    pub fn new(error: &str, description: Option<&str>) -> Self {
        AuthorizationError {
            error: clean(error, 64),
            description: description.map(|d| clean(d, 200)),
            uri: None,
        }
    }

    /// Whether the user (or the administrator's policy) refused.
    pub fn is_access_denied(&self) -> bool {
        self.error == "access_denied"
    }

    /// Whether the server asks to try again later.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.error.as_str(),
            "server_error" | "temporarily_unavailable"
        )
    }
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", Clean(&self.error))?;
        if let Some(d) = &self.description {
            write!(f, ": {}", Clean(d))?;
        }
        if let Some(u) = &self.uri {
            write!(f, " (see {})", Clean(u))?;
        }
        Ok(())
    }
}

/// Text from outside, made safe to show: the one sanitiser (control characters escaped,
/// secrets redacted), cut to `max` characters.
pub(crate) fn clean(s: &str, max: usize) -> String {
    oauth_core::sanitize::excerpt(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_cleaned_and_bounded() {
        let e = AuthorizationError::new("access_denied\r\nX-Injected: 1", Some(&"d".repeat(500)));
        assert!(!e.error.contains('\n'));
        assert_eq!(e.error, "access_denied\\r\\nX-Injected: 1");
        assert_eq!(e.description.as_ref().unwrap().len(), 203);
        let secret = oauth_core::Secret::new("GOCSPX-flow-client-value");
        let e = AuthorizationError::new(
            "invalid_client",
            Some("echo GOCSPX-flow-client-value \u{1b}]0;x\u{7} \u{202e}"),
        );
        let shown = FlowError::Authorization(e).to_string();
        assert!(!shown.contains("GOCSPX-flow"), "{shown}");
        assert!(
            !shown.chars().any(oauth_core::sanitize::is_unsafe_char),
            "{shown:?}"
        );
        drop(secret);
    }

    #[test]
    fn the_oob_error_points_to_the_alternatives() {
        let m = FlowError::OutOfBand.to_string();
        assert!(
            m.contains("run_local_server") && m.contains("device"),
            "{m}"
        );
    }
}
