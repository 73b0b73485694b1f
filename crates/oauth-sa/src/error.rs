//! The error type of `oauth-sa`.

use oauth_core::sanitize::Clean;

/// What went wrong with a service account, a JWT or an ID token.
///
/// File and network failures are the core's [`oauth_core::Error`], wrapped; the other
/// variants are this crate's own. No variant carries key material, an assertion or a token,
/// and `Display` shows every field through the [sanitiser](oauth_core::sanitize) (a token's
/// `alg`, `kid` or `iss` may hold anything).
///
/// ```
/// use oauth_sa::{Error, IdTokenError};
/// let e = Error::InvalidIdToken(IdTokenError::WrongAudience);
/// assert_eq!(e.to_string(), "invalid ID token: the audience is not the expected one");
/// assert!(!e.is_transient());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file, field or network failure, as the core reports it.
    #[error(transparent)]
    Core(#[from] oauth_core::Error),
    /// An ID token (or other JWT) was refused; the reason says which check failed.
    #[error("invalid ID token: {0}")]
    InvalidIdToken(IdTokenError),
    /// The certificates that ID tokens are checked against are unusable.
    #[error("certificates from {}: {}", Clean(.origin), Clean(.reason))]
    InvalidCertificates {
        /// The URL or value they came from.
        origin: String,
        /// What was wrong (never key material).
        reason: String,
    },
    /// ring refused to sign (it does not say why; this does not happen with a valid key).
    #[error("signing with the service account key failed")]
    Signing,
    /// jsonwebtoken could not make the JWT (with ring's provider this does not happen; another
    /// installed provider may refuse the key). The reason never holds key material.
    #[error("making the JWT failed: {0}")]
    Jwt(String),
}

impl Error {
    /// Whether trying again later may succeed (network failures, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Core(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl From<IdTokenError> for Error {
    fn from(e: IdTokenError) -> Self {
        Error::InvalidIdToken(e)
    }
}

/// Why an ID token was refused.
///
/// ```
/// use oauth_sa::IdTokenError;
/// assert_eq!(IdTokenError::UnknownKeyId("k1".into()).to_string(), "no certificate has key id `k1`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not three base64url segments of JSON.
    #[error("not a well-formed JWT ({})", Clean(.0))]
    Malformed(&'static str),
    /// `alg` is not RS256, ES256 or ES384 (`none` and HS256 included).
    #[error("algorithm `{}` is not accepted (RS256, ES256 and ES384 are)", Clean(.0))]
    UnsupportedAlgorithm(String),
    /// No certificate has the header's `kid`.
    #[error("no certificate has key id `{}`", Clean(.0))]
    UnknownKeyId(String),
    /// The key named by `kid` is not of the kind `alg` needs.
    #[error("key `{}` does not match the token's algorithm", Clean(.0))]
    KeyAlgorithmMismatch(String),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// The certificate the header's `kid` names could not be read.
    #[error("the certificate with key id `{kid}` cannot be read: {reason}")]
    UnreadableCertificate {
        /// The key id.
        kid: String,
        /// Why it could not be read.
        reason: String,
    },
    /// The header names no key, no readable certificate verifies the signature, and some
    /// certificates could not be read (they are listed: one of them may have been the key).
    #[error("the signature does not verify with any readable certificate; unreadable: {}", unreadable.join(", "))]
    NoKeyVerifies {
        /// The unreadable entries, each as "`kid` (reason)".
        unreadable: Vec<String>,
    },
    /// A required claim is missing or has the wrong type.
    #[error("claim `{0}` is missing or not of the right type")]
    MissingClaim(&'static str),
    /// `exp` (plus the allowed skew) is in the past.
    #[error("the token has expired")]
    Expired,
    /// `iat` (minus the allowed skew) is in the future.
    #[error("the token is not valid yet (issued in the future)")]
    NotYetValid,
    /// `aud` is not one of the expected audiences.
    #[error("the audience is not the expected one")]
    WrongAudience,
    /// `iss` is not one of the accepted issuers.
    #[error("issuer `{}` is not accepted", Clean(.0))]
    WrongIssuer(String),
}
