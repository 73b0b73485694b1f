//! PKCE (RFC 7636) and the random `state`, from ring's system generator.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::Secret;
use oauth_core::types::{CsrfState, PkceChallenge, PkceVerifier};
use ring::rand::{SecureRandom, SystemRandom};

use crate::FlowError;

/// `n` random bytes, base64url without padding.
pub(crate) fn random_token(n: usize) -> Result<String, FlowError> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).map_err(|_| {
        FlowError::io(
            "the system random generator failed",
            std::io::Error::other("ring::rand::SystemRandom"),
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh `state`: 256 random bits.
///
/// ```
/// let a = oauth_flow::pkce::new_state().unwrap();
/// assert_eq!(a.expose().len(), 43);
/// assert_ne!(a, oauth_flow::pkce::new_state().unwrap());
/// ```
pub fn new_state() -> Result<CsrfState, FlowError> {
    random_token(32).map(CsrfState::new)
}

/// A fresh PKCE code verifier: 64 random bytes, 86 characters of base64url (RFC 7636 asks
/// for 43 to 128 characters of its unreserved set).
///
/// ```
/// let v = oauth_flow::pkce::new_verifier().unwrap();
/// assert_eq!(v.expose().len(), 86);
/// ```
pub fn new_verifier() -> Result<PkceVerifier, FlowError> {
    random_token(64).map(PkceVerifier::new)
}

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)).
///
/// ```
/// use oauth_core::types::PkceVerifier;
/// // RFC 7636 appendix B.
/// let v = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
/// assert_eq!(oauth_flow::pkce::challenge_s256(&v), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// ```
pub fn challenge_s256(verifier: &PkceVerifier) -> PkceChallenge {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.expose().as_bytes());
    PkceChallenge::new(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// Checks a caller's verifier against RFC 7636 section 4.1.
pub(crate) fn check_verifier(v: &Secret) -> Result<(), FlowError> {
    let s = v.expose();
    if !(43..=128).contains(&s.len()) {
        return Err(FlowError::invalid(
            "code_verifier",
            "must be 43 to 128 characters long (RFC 7636)",
        ));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(FlowError::invalid(
            "code_verifier",
            "may hold only letters, digits and -._~ (RFC 7636)",
        ));
    }
    Ok(())
}

/// Compares two strings in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_are_checked() {
        assert!(check_verifier(&Secret::new("short")).is_err());
        assert!(check_verifier(&Secret::new("a".repeat(43))).is_ok());
        assert!(check_verifier(&Secret::new(format!("{}!", "a".repeat(43)))).is_err());
        assert!(check_verifier(new_verifier().unwrap().secret()).is_ok());
    }

    #[test]
    fn comparison_is_exact() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
