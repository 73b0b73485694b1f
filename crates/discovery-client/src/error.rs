//! The one error type of `discovery-client`.

use std::fmt;

use oauth_core::retry::RetryOn;
use oauth_core::sanitize::Clean;

/// What went wrong. Invalid calls name the parameter at fault, as googleapiclient's
/// `TypeError`s do; parameter *values* are never quoted (an API key is a parameter too).
/// `Display` shows every field through the [sanitiser](oauth_core::sanitize): names from a
/// document and messages from a server have their control characters escaped and every
/// secret the process holds redacted.
///
/// ```
/// use discovery_client::Error;
/// let e = Error::MissingParameter { method: "drive.files.get".into(), param: "fileId".into() };
/// assert_eq!(e.to_string(), "drive.files.get: missing required parameter `fileId`");
/// assert_eq!(e.parameter(), Some("fileId"));
/// assert!(!e.is_transient());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The discovery document is not one this crate can use.
    #[error("discovery document {}: {}", Clean(.origin), Clean(.reason))]
    InvalidDocument {
        /// Where the document came from (file, URL or "document value").
        origin: String,
        /// What is wrong, without quoting the document.
        reason: String,
    },
    /// No resource of that name.
    #[error("{}: no resource `{}`", Clean(.api), Clean(.name))]
    UnknownResource {
        /// The API (`drive:v3`).
        api: String,
        /// The resource path asked for.
        name: String,
    },
    /// No method of that name.
    #[error("{}: no method `{}`", Clean(.api), Clean(.name))]
    UnknownMethod {
        /// The API (`drive:v3`).
        api: String,
        /// The method path asked for.
        name: String,
    },
    /// A parameter the method does not take (googleapiclient: "Got an unexpected keyword
    /// argument").
    #[error("{}: unknown parameter `{}`", Clean(.method), Clean(.param))]
    UnknownParameter {
        /// The method id.
        method: String,
        /// The parameter.
        param: String,
    },
    /// A required parameter is absent.
    #[error("{}: missing required parameter `{}`", Clean(.method), Clean(.param))]
    MissingParameter {
        /// The method id.
        method: String,
        /// The parameter.
        param: String,
    },
    /// A value outside the parameter's enum.
    #[error(
        "{}: parameter `{}` is not one of the allowed values {}",
        Clean(.method),
        Clean(.param),
        Clean(debug_list(.allowed))
    )]
    NotInEnum {
        /// The method id.
        method: String,
        /// The parameter.
        param: String,
        /// The allowed values.
        allowed: Vec<String>,
    },
    /// A value that does not match the parameter's pattern.
    #[error(
        "{}: parameter `{}` does not match the pattern `{}`",
        Clean(.method),
        Clean(.param),
        Clean(.pattern)
    )]
    PatternMismatch {
        /// The method id.
        method: String,
        /// The parameter.
        param: String,
        /// The pattern from the document.
        pattern: String,
    },
    /// A value that cannot be read as the parameter's type (`abc` for an integer).
    #[error("{}: parameter `{}`: {}", Clean(.method), Clean(.param), Clean(.reason))]
    InvalidValue {
        /// The method id.
        method: String,
        /// The parameter.
        param: String,
        /// Why.
        reason: String,
    },
    /// Media larger than the method's `maxSize`.
    #[error(
        "{}: media of {size} bytes is larger than the maximum of {max} bytes",
        Clean(.method)
    )]
    MediaTooLarge {
        /// The method id.
        method: String,
        /// The media size.
        size: u64,
        /// The method's maximum.
        max: u64,
    },
    /// A media type outside the method's accept list.
    #[error(
        "{}: media type `{}` is not accepted (accepted: {})",
        Clean(.method),
        Clean(.mime_type),
        Clean(debug_list(.accept))
    )]
    UnacceptableMimeType {
        /// The method id.
        method: String,
        /// The media type given.
        mime_type: String,
        /// What the method accepts.
        accept: Vec<String>,
    },
    /// The API answered with an error (Google's JSON error body, when there was one).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The response body is not what the caller asked to deserialize.
    #[error("response from {}: {}", Clean(.endpoint), Clean(.reason))]
    Decode {
        /// The endpoint, without its query.
        endpoint: String,
        /// The category and position of the failure, never the body.
        reason: String,
    },
    /// A file could not be read or written (media, the disk cache).
    #[error("{}: {}", Clean(.path), Clean(.reason))]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        reason: String,
    },
    /// A batch that cannot be built: full (1000 calls), an id used twice, media.
    #[error("batch: {}", Clean(.reason))]
    InvalidBatch {
        /// What is wrong (ids are quoted; parameter values never).
        reason: String,
    },
    /// A URL that leads away from the API's root URL: a method `path`, `servicePath`,
    /// `batchPath`, media upload path, upload session or download URL, or a parameter value
    /// that would send the request (and the credentials with it) to another scheme, host
    /// or port. Refused before anything is sent.
    #[error(
        "{context}: the {field} leads to {origin}, not to the API's root URL ({expected}); \
         refused, credentials go only to the API's root URL"
    )]
    ForeignUrl {
        /// The method id, or the discovery document.
        context: String,
        /// What made the URL (`path`, `parameter `name``, `servicePath`, `batchPath`,
        /// `mediaUpload path`, `upload session URL`, `request URL`).
        field: String,
        /// The host the URL leads to (`(none)` when it is no http(s) URL with a host).
        host: String,
        /// The origin the URL leads to (`scheme://host:port`), or a reason it has none.
        origin: String,
        /// The API's origin.
        expected: String,
    },
    /// A header name or value that cannot be sent (CR, LF or another control character,
    /// a name that is no HTTP token): refused, never dropped or changed.
    #[error("{context}: header `{field}` {reason}")]
    InvalidHeader {
        /// The method id.
        context: String,
        /// The header name (escaped).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A discovery document larger than the limit (a fetched document, a file, the disk
    /// cache), or a file that never ends (`/dev/zero`).
    #[error("discovery document {origin}: larger than the limit of {limit} bytes")]
    DocumentTooLarge {
        /// The file or URL.
        origin: String,
        /// The limit (`BuildOptions::max_document_size`, `DocumentOptions::max_size`).
        limit: usize,
    },
    /// A listing whose server sent a page token it had sent before: following it would
    /// loop forever.
    #[error("{method}: the server repeated a page token; paging stopped")]
    RepeatedPageToken {
        /// The method id.
        method: String,
    },
    /// A listing longer than the page limit (`CallOptions::max_pages`, 10,000 pages by
    /// default).
    #[error("{method}: more than {limit} pages; paging stopped (raise CallOptions::max_pages)")]
    TooManyPages {
        /// The method id.
        method: String,
        /// The limit.
        limit: usize,
    },
    /// A failure below this crate: credentials, transport, timeouts.
    #[error(transparent)]
    Core(#[from] oauth_core::Error),
}

impl Error {
    /// Whether trying again later may succeed: 429, 5xx, 403 rate-limit reasons, and the
    /// transient failures of [`oauth_core::Error::is_transient`].
    ///
    /// ```
    /// use discovery_client::{ApiError, Error};
    /// assert!(Error::Api(Box::new(ApiError::from_status(503))).is_transient());
    /// assert!(!Error::Api(Box::new(ApiError::from_status(404))).is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api(e) => e.is_transient(),
            Error::Core(e) => e.is_transient(),
            _ => false,
        }
    }

    /// The parameter at fault, for the invalid-call variants.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Error::UnknownParameter { param, .. }
            | Error::MissingParameter { param, .. }
            | Error::NotInEnum { param, .. }
            | Error::PatternMismatch { param, .. }
            | Error::InvalidValue { param, .. } => Some(param),
            _ => None,
        }
    }

    /// The API error, when the server sent one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// A [`Error::ForeignUrl`]: `found` is where the URL leads (see
    /// [`crate::origin::Origin::admits`]).
    pub(crate) fn foreign(
        context: &str,
        field: &str,
        found: Option<&crate::origin::Origin>,
        expected: &crate::origin::Origin,
    ) -> Self {
        Error::ForeignUrl {
            context: context.to_owned(),
            field: field.to_owned(),
            host: found.map_or_else(|| "(none)".to_owned(), |o| o.host().to_owned()),
            origin: found.map_or_else(
                || "a URL without an http(s) origin of its own".to_owned(),
                |o| o.to_string(),
            ),
            expected: expected.to_string(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

/// An HTTP error from an API, with Google's error body when the server sent one:
/// `{"error": {"code", "message", "status", "errors": [...], "details": [...]}}`.
///
/// ```
/// use discovery_client::ApiError;
/// let body = br#"{"error":{"code":404,"message":"File not found: x.","status":"NOT_FOUND",
///   "errors":[{"reason":"notFound","domain":"global","message":"File not found: x."}]}}"#;
/// let e = ApiError::from_response(404, "https://www.googleapis.com/drive/v3/files/x", body);
/// assert_eq!(e.message.as_deref(), Some("File not found: x."));
/// assert_eq!(e.status_name.as_deref(), Some("NOT_FOUND"));
/// assert_eq!(e.reason(), Some("notFound"));
/// assert_eq!(e.to_string(), "HTTP 404 NOT_FOUND from https://www.googleapis.com/drive/v3/files/x: File not found: x.");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The endpoint, without its query.
    pub endpoint: String,
    /// `error.code`, when given.
    pub code: Option<i64>,
    /// `error.message`, when given.
    pub message: Option<String>,
    /// `error.status` (`NOT_FOUND`, `PERMISSION_DENIED`, ...), when given.
    pub status_name: Option<String>,
    /// `error.errors` (the older `reason`/`domain` list).
    pub errors: Vec<serde_json::Value>,
    /// `error.details` (typed `google.rpc` details).
    pub details: Vec<serde_json::Value>,
    /// oauth-core's retry classification of the answer, made once from its status and
    /// body.
    retryable: bool,
}

impl ApiError {
    /// An error with a status and nothing else.
    pub fn from_status(status: u16) -> Self {
        ApiError {
            status,
            endpoint: String::new(),
            code: None,
            message: None,
            status_name: None,
            errors: Vec::new(),
            details: Vec::new(),
            retryable: RetryOn::API.status(status),
        }
    }

    /// Reads Google's error body; a body of another shape leaves the fields empty.
    pub fn from_response(status: u16, endpoint: &str, body: &[u8]) -> Self {
        let mut e = ApiError::from_status(status);
        e.endpoint = endpoint.to_owned();
        e.retryable = RetryOn::API.response(status, body);
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
            return e;
        };
        match v.get("error") {
            Some(serde_json::Value::Object(obj)) => {
                e.code = obj.get("code").and_then(|c| c.as_i64());
                e.message = obj
                    .get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned);
                e.status_name = obj
                    .get("status")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned);
                let list = |k: &str| {
                    obj.get(k)
                        .and_then(|d| d.as_array())
                        .cloned()
                        .unwrap_or_default()
                };
                e.errors = list("errors");
                e.details = list("details");
            }
            // OAuth-style bodies ({"error": "invalid_token", "error_description": ...}).
            Some(serde_json::Value::String(s)) => {
                e.status_name = Some(s.clone());
                e.message = v
                    .get("error_description")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned);
            }
            _ => {}
        }
        e
    }

    /// The first `errors[].reason` (`notFound`, `rateLimitExceeded`, ...).
    pub fn reason(&self) -> Option<&str> {
        self.errors
            .iter()
            .find_map(|e| e.get("reason").and_then(|r| r.as_str()))
    }

    /// googleapiclient's retry rule, as oauth-core's [`RetryOn::API`] applies it: 5xx,
    /// 408, 429, and a 403 whose reason is a rate limit.
    pub fn is_transient(&self) -> bool {
        self.retryable
    }
}

/// Shows server text through the sanitiser: control characters escaped, secrets redacted,
/// and a bound on the length (a server's message may be a megabyte).
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use oauth_core::sanitize::excerpt;
        write!(f, "HTTP {}", self.status)?;
        if let Some(s) = &self.status_name {
            write!(f, " {}", excerpt(s, 100))?;
        }
        if !self.endpoint.is_empty() {
            write!(f, " from {}", Clean(&self.endpoint))?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {}", excerpt(m, 1000))?;
        }
        Ok(())
    }
}

/// `["a", "b"]`, as `{:?}` writes a list (then cleaned by the caller).
fn debug_list(items: &[String]) -> String {
    format!("{items:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_403s_are_transient_and_others_are_not() {
        let body = br#"{"error":{"code":403,"errors":[{"reason":"userRateLimitExceeded"}]}}"#;
        assert!(ApiError::from_response(403, "e", body).is_transient());
        let body = br#"{"error":{"code":403,"errors":[{"reason":"forbidden"}]}}"#;
        assert!(!ApiError::from_response(403, "e", body).is_transient());
        assert!(ApiError::from_response(429, "e", b"").is_transient());
    }

    #[test]
    fn server_and_document_text_is_shown_cleaned() {
        let key = oauth_core::Secret::new("AIzaSy-api-key-value-123");
        let body = "{\"error\":{\"code\":400,\"message\":\"bad key AIzaSy-api-key-value-123 \\u001b]0;x\\u0007\\r\\nforged\",\"status\":\"INVALID\\u202e\"}}";
        let e = Error::Api(Box::new(ApiError::from_response(
            400,
            "https://x",
            body.as_bytes(),
        )));
        let shown = e.to_string();
        assert!(!shown.contains("AIzaSy-api-key"), "{shown}");
        assert!(
            !shown.chars().any(oauth_core::sanitize::is_unsafe_char),
            "{shown:?}"
        );
        assert!(shown.contains("bad key [redacted]"), "{shown}");
        let e = Error::NotInEnum {
            method: "m\u{1b}[2J".into(),
            param: "p".into(),
            allowed: vec!["a\u{202e}".into()],
        };
        assert!(
            !e.to_string()
                .chars()
                .any(oauth_core::sanitize::is_unsafe_char)
        );
        drop(key);
    }

    #[test]
    fn details_are_kept() {
        let body = br#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest"}]}}"#;
        let e = ApiError::from_response(400, "e", body);
        assert_eq!(e.code, Some(400));
        assert_eq!(e.details.len(), 1);
        assert_eq!(e.reason(), None);
    }
}
