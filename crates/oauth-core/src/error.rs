//! The one error type of `oauth-core`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::sanitize::Clean;

/// What went wrong. Every variant names the file, field, parameter or endpoint at fault and
/// never carries a secret: response bodies are reduced to safe excerpts, JSON errors to their
/// position, and transport errors lose the URL's query. `Display` shows every field through
/// the [sanitiser](crate::sanitize): control characters escaped, every secret the process
/// holds redacted, even when a server echoed it back.
///
/// The type is `Clone`, so the single refresh in flight can hand the same error to every
/// caller that waited for it.
///
/// ```
/// use oauth_core::Error;
/// let e = Error::MissingField { origin: "client_secrets.json".into(), field: "client_id".into() };
/// assert_eq!(e.to_string(), "client_secrets.json: missing field `client_id`");
/// assert!(!e.is_transient());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {}: {}", Clean(.path.display()), Clean(.source))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// A file could not be written (or locked for writing).
    #[error("cannot write {}: {}", Clean(.path.display()), Clean(.source))]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Arc<std::io::Error>,
    },
    /// A file or value is not the JSON it should be.
    #[error("{}: {}", Clean(.origin), Clean(.detail))]
    InvalidJson {
        /// The file or value ("authorized-user value" when it came from memory).
        origin: String,
        /// The kind of error and its line and column; never the text at fault.
        detail: String,
    },
    /// A required field is absent.
    #[error("{}: missing field `{}`", Clean(.origin), Clean(.field))]
    MissingField {
        /// The file or value.
        origin: String,
        /// The field, dotted when nested (`installed.client_id`).
        field: String,
    },
    /// A field is present but unusable.
    #[error("{}: invalid field `{}`: {}", Clean(.origin), Clean(.field), Clean(.reason))]
    InvalidField {
        /// The file or value.
        origin: String,
        /// The field, dotted when nested.
        field: String,
        /// Why it is unusable.
        reason: String,
    },
    /// A credentials file or value of a type this reader does not take.
    #[error(
        "{}: unsupported credentials type `{}`; supported: {}",
        Clean(.origin),
        Clean(.found),
        Clean(.supported)
    )]
    UnknownType {
        /// The file or value.
        origin: String,
        /// The type (or top-level key) found.
        found: String,
        /// The types that are supported.
        supported: String,
    },
    /// An endpoint taken from a file names a host the caller has not allowed.
    #[error(
        "{}: `{}` points to {host}, which is neither Google's nor loopback; \
         allow it explicitly (e.g. `--allow-endpoint {host}`) if you trust it",
        Clean(.origin),
        Clean(.field),
        host = Clean(.host)
    )]
    UntrustedEndpoint {
        /// The file or value.
        origin: String,
        /// The field (`token_uri`, `auth_uri`, ...).
        field: String,
        /// The host that was refused.
        host: String,
    },
    /// A plain-http endpoint on a host that is not loopback.
    #[error(
        "{}: `{}` uses plain http on {}; only loopback may use http unless allowed explicitly",
        Clean(.origin),
        Clean(.field),
        Clean(.host)
    )]
    InsecureEndpoint {
        /// The file or value.
        origin: String,
        /// The field.
        field: String,
        /// The host.
        host: String,
    },
    /// The server answered with an OAuth 2.0 error (RFC 6749 section 5.2).
    #[error(transparent)]
    OAuth(OAuthError),
    /// The server answered with a status and a body that is not the expected protocol.
    #[error("HTTP {status} from {}: {}", Clean(.endpoint), Clean(.excerpt))]
    Http {
        /// The endpoint, without its query.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// A short excerpt of the body that can hold no secret.
        excerpt: String,
    },
    /// A successful response that does not hold what the protocol requires.
    #[error("malformed response from {}: {}", Clean(.endpoint), Clean(.reason))]
    MalformedResponse {
        /// The endpoint, without its query.
        endpoint: String,
        /// What was wrong.
        reason: String,
    },
    /// The response body exceeded the configured bound.
    #[error("response from {} exceeds {limit} bytes", Clean(.endpoint))]
    ResponseTooLarge {
        /// The endpoint.
        endpoint: String,
        /// The bound in bytes.
        limit: usize,
    },
    /// The request never got an HTTP answer (connection, TLS, timeout).
    #[error("cannot reach {}: {source}", Clean(.endpoint))]
    Transport {
        /// The endpoint.
        endpoint: String,
        /// What the transport reported.
        source: TransportError,
    },
    /// The credential cannot obtain a token (for example, it has no refresh token).
    #[error("cannot refresh {kind} credentials: {}", Clean(.reason))]
    NotRefreshable {
        /// The credential type.
        kind: &'static str,
        /// Why.
        reason: String,
    },
    /// A request could not be built from the caller's values.
    #[error("invalid request: {}", Clean(.0))]
    InvalidRequest(String),
    /// A local file is larger than gauth reads for its kind (credentials, certificates,
    /// documents), or is a special file that never ends (`/dev/zero`).
    #[error(
        "{}: larger than {limit} bytes, the most gauth reads for this kind of file",
        Clean(.path.display())
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// A request was about to carry credentials to an origin other than the one its
    /// exchange declared (see [`crate::origin::ApiOrigin`]); it was not sent.
    #[error(
        "refused to send credentials to {}: the call is for {}",
        Clean(.found),
        Clean(.expected)
    )]
    ForeignOrigin {
        /// The origin the exchange declared (`https://www.googleapis.com`), or a note that
        /// it declared none.
        expected: String,
        /// The origin the request was addressed to.
        found: String,
    },
    /// Another holder kept the lock on a shared token store (a file, an entry) for longer
    /// than this process was willing to wait (a [`FileStore`](crate::store::FileStore)'s companion lock file): it may be
    /// stuck in a stalled token request. Trying again later may succeed.
    #[error(
        "{}: its lock ({}) has been held elsewhere for {:.1} s, longer than this process \
         waits; another process may be stuck in a slow token request, try again later",
        Clean(path.display()),
        Clean(lock.display()),
        waited.as_secs_f64()
    )]
    LockTimeout {
        /// The shared file (or the store).
        path: PathBuf,
        /// The lock file (or the entry).
        lock: PathBuf,
        /// How long this process waited.
        waited: std::time::Duration,
    },
}

/// What kind of failure an [`Error`] is: a small, stable classification that every gauth
/// crate's error answers with `kind()`, so a program can branch without matching variants.
///
/// ```
/// use oauth_core::{Error, ErrorKind};
/// let e = Error::MissingField { origin: "key.json".into(), field: "private_key".into() };
/// assert_eq!(e.kind(), ErrorKind::Config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file or value is not valid: bad JSON, a missing or invalid field, a wrong type.
    Config,
    /// An endpoint or origin was refused by the endpoint policy or the origin check.
    Untrusted,
    /// The server answered with an OAuth 2.0 (or Google API) error body.
    OAuth,
    /// The server answered with an HTTP error that is not a protocol error body.
    Http,
    /// The server answered with a success that breaks the protocol (malformed, too large).
    Protocol,
    /// No HTTP answer at all: connection, TLS, timeout.
    Transport,
    /// A file could not be read, written or locked.
    Io,
    /// The caller's own values cannot make a request.
    InvalidInput,
    /// The credential cannot obtain a token any more (no refresh token): sign in again.
    Expired,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Untrusted => "untrusted endpoint",
            ErrorKind::OAuth => "OAuth error",
            ErrorKind::Http => "HTTP error",
            ErrorKind::Protocol => "protocol violation",
            ErrorKind::Transport => "transport failure",
            ErrorKind::Io => "file error",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Expired => "credentials expired",
        })
    }
}

impl Error {
    /// Whether trying again later may succeed: transport failures, 5xx, 408, 429 and the
    /// OAuth errors google-auth retries (`internal_failure`, `server_error`,
    /// `temporarily_unavailable`), and a shared store's lock held too long by another
    /// process. `invalid_grant` and other 4xx answers are final.
    ///
    /// This is the classification [`crate::retry::RetryOn::TOKEN_ENDPOINT`] applies before
    /// a retry, so an error a caller sees as transient is one a retry was allowed for.
    pub fn is_transient(&self) -> bool {
        use crate::retry::RetryOn;
        match self {
            Error::Transport { source, .. } => RetryOn::TOKEN_ENDPOINT.transport(source),
            Error::Http { status, .. } => RetryOn::TOKEN_ENDPOINT.status(*status),
            Error::OAuth(e) => e.is_transient(),
            Error::LockTimeout { .. } => true,
            _ => false,
        }
    }

    /// The OAuth error, when the server sent one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Error::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the answer at fault, when there was an answer.
    ///
    /// ```
    /// let e = oauth_core::Error::Http { endpoint: "https://x/token".into(), status: 502, excerpt: String::new() };
    /// assert_eq!(e.status(), Some(502));
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Http { status, .. } => Some(*status),
            Error::OAuth(e) => Some(e.status),
            _ => None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { .. }
            | Error::Write { .. }
            | Error::LockTimeout { .. }
            | Error::FileTooLarge { .. } => ErrorKind::Io,
            Error::InvalidJson { .. }
            | Error::MissingField { .. }
            | Error::InvalidField { .. }
            | Error::UnknownType { .. } => ErrorKind::Config,
            Error::UntrustedEndpoint { .. }
            | Error::InsecureEndpoint { .. }
            | Error::ForeignOrigin { .. } => ErrorKind::Untrusted,
            Error::OAuth(_) => ErrorKind::OAuth,
            Error::Http { .. } => ErrorKind::Http,
            Error::MalformedResponse { .. } | Error::ResponseTooLarge { .. } => ErrorKind::Protocol,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::NotRefreshable { .. } => ErrorKind::Expired,
            Error::InvalidRequest(_) => ErrorKind::InvalidInput,
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// A file that could not be written (or locked).
    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write {
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// Reduces a serde_json error to its category and position: serde's own messages quote
    /// the offending value, which may be a secret.
    pub fn json(origin: impl Into<String>, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Io => "cannot be read",
            Category::Syntax => "is not valid JSON",
            Category::Data => "has a value of the wrong type",
            Category::Eof => "is truncated JSON",
        };
        Error::InvalidJson {
            origin: origin.into(),
            detail: format!("{what} at line {} column {}", e.line(), e.column()),
        }
    }
}

/// An OAuth 2.0 error response (RFC 6749 section 5.2), with the HTTP status it came with.
///
/// ```
/// use oauth_core::OAuthError;
/// let e = OAuthError { status: 400, error: "invalid_grant".into(), description: None, uri: None };
/// assert_eq!(e.to_string(), "OAuth error `invalid_grant` (HTTP 400)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: u16,
    /// The `error` code (`invalid_grant`, `invalid_client`, ...).
    pub error: String,
    /// `error_description`, when given.
    pub description: Option<String>,
    /// `error_uri`, when given.
    pub uri: Option<String>,
}

impl OAuthError {
    /// Whether google-auth would retry this error (see [`crate::retry::RetryOn`]).
    pub fn is_transient(&self) -> bool {
        use crate::retry::RetryOn;
        RetryOn::TOKEN_ENDPOINT.status(self.status)
            || RetryOn::TOKEN_ENDPOINT.oauth_error(&self.error, self.description.as_deref())
    }
}

impl std::error::Error for OAuthError {}

impl OAuthError {
    /// The longest `error` code kept (codes are short words).
    pub const MAX_CODE_CHARS: usize = 100;
    /// The longest `error_description` kept.
    pub const MAX_DESCRIPTION_CHARS: usize = 500;
    /// The longest `error_uri` kept.
    pub const MAX_URI_CHARS: usize = 300;

    /// An error as a server sent it, made safe to show: each text cut to a bound and
    /// [cleaned](crate::sanitize::excerpt) (control characters escaped, every secret the
    /// process holds redacted, even when the server echoed the request back).
    ///
    /// ```
    /// use oauth_core::OAuthError;
    /// let e = OAuthError::from_server(400, "invalid_grant", Some("bad\x1b[2J\r\nx"), None);
    /// assert_eq!(e.description.as_deref(), Some("bad\\u{1b}[2J\\r\\nx"));
    /// ```
    pub fn from_server(
        status: u16,
        error: &str,
        description: Option<&str>,
        uri: Option<&str>,
    ) -> Self {
        use crate::sanitize::excerpt;
        OAuthError {
            status,
            error: excerpt(error, Self::MAX_CODE_CHARS),
            description: description.map(|d| excerpt(d, Self::MAX_DESCRIPTION_CHARS)),
            uri: uri.map(|u| excerpt(u, Self::MAX_URI_CHARS)),
        }
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OAuth error `{}` (HTTP {})",
            Clean(&self.error),
            self.status
        )?;
        if let Some(d) = &self.description {
            write!(f, ": {}", Clean(d))?;
        }
        if let Some(u) = &self.uri {
            write!(f, " (see {})", Clean(u))?;
        }
        Ok(())
    }
}

/// What a transport reports when a request got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {}", Clean(.message))]
pub struct TransportError {
    /// The kind of failure.
    pub kind: TransportErrorKind,
    /// A description without the request's URL or any header.
    pub message: String,
}

impl TransportError {
    /// A transport error of a kind with a message.
    ///
    /// ```
    /// use oauth_core::{TransportError, TransportErrorKind};
    /// let e = TransportError::new(TransportErrorKind::Timeout, "no answer in 10 s");
    /// assert_eq!(e.to_string(), "timed out: no answer in 10 s");
    /// ```
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        TransportError {
            kind,
            message: message.into(),
        }
    }
}

/// The kinds of [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The connection could not be made or was reset.
    Connect,
    /// No answer within the timeout.
    Timeout,
    /// TLS failed.
    Tls,
    /// The answer was larger than the request's bound.
    TooLarge,
    /// Anything else.
    Other,
}

impl fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportErrorKind::Connect => "connection failed",
            TransportErrorKind::Timeout => "timed out",
            TransportErrorKind::Tls => "TLS failed",
            TransportErrorKind::TooLarge => "response too large",
            TransportErrorKind::Other => "transport error",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_never_quote_the_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct S {
            n: u32,
        }
        let e = serde_json::from_str::<S>(r#"{"n": "ya29.secret-token"}"#).unwrap_err();
        assert!(e.to_string().contains("ya29"), "serde would leak it");
        let ours = Error::json("creds.json", &e).to_string();
        assert!(!ours.contains("ya29"), "{ours}");
        assert!(ours.starts_with("creds.json: has a value of the wrong type at line 1"));
    }

    #[test]
    fn kinds_statuses_and_sources_answer_the_usual_questions() {
        use std::error::Error as _;
        let io = Error::read("/x", std::io::Error::other("denied"));
        assert_eq!(io.kind(), ErrorKind::Io);
        assert_eq!(io.source().unwrap().to_string(), "denied");
        let t = Error::Transport {
            endpoint: "e".into(),
            source: TransportError::new(TransportErrorKind::Timeout, "slow"),
        };
        assert_eq!(t.kind(), ErrorKind::Transport);
        assert!(t.source().unwrap().to_string().contains("slow"));
        assert_eq!(t.status(), None);
        let o = Error::OAuth(OAuthError {
            status: 400,
            error: "invalid_grant".into(),
            description: None,
            uri: None,
        });
        assert_eq!((o.kind(), o.status()), (ErrorKind::OAuth, Some(400)));
        assert_eq!(o.oauth().unwrap().error, "invalid_grant");
        assert_eq!(o.to_string(), "OAuth error `invalid_grant` (HTTP 400)");
        let f = Error::ForeignOrigin {
            expected: "https://a".into(),
            found: "https://b".into(),
        };
        assert_eq!(f.kind(), ErrorKind::Untrusted);
        assert!(!f.is_transient());
    }

    #[test]
    fn transient_classification_follows_google_auth() {
        let oauth = |status, error: &str| {
            Error::OAuth(OAuthError {
                status,
                error: error.into(),
                description: None,
                uri: None,
            })
        };
        assert!(oauth(500, "x").is_transient());
        assert!(oauth(429, "x").is_transient());
        assert!(oauth(408, "x").is_transient());
        assert!(oauth(400, "temporarily_unavailable").is_transient());
        assert!(oauth(400, "server_error").is_transient());
        assert!(!oauth(400, "invalid_grant").is_transient());
        assert!(!oauth(401, "invalid_client").is_transient());
        let http = |status| Error::Http {
            endpoint: "e".into(),
            status,
            excerpt: String::new(),
        };
        assert!(http(502).is_transient());
        assert!(!http(404).is_transient());
        let transport = |kind| Error::Transport {
            endpoint: "e".into(),
            source: TransportError::new(kind, "m"),
        };
        assert!(transport(TransportErrorKind::Connect).is_transient());
        assert!(!transport(TransportErrorKind::TooLarge).is_transient());
    }
}
