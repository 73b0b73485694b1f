//! JSON Web Tokens (RFC 7519) as google-auth writes and reads them, made and checked by
//! the `jsonwebtoken` crate on ring ([`RING_PROVIDER`]): compact form, base64url without
//! padding, `typ` JWT.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::IdTokenError;
pub use crate::crypto::RING_PROVIDER;
use crate::key::Signer;

/// The base64url alphabet without padding, as JWTs use it.
#[cfg(test)]
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, tolerating the padding google-auth's decoder adds back.
pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// Signs `claims` as an RS256 JWT with jsonwebtoken, with the header google-auth writes:
/// `{"typ": "JWT", "alg": "RS256", "kid": <private_key_id>}`.
///
/// The signature is made by the process's jsonwebtoken provider: [`RING_PROVIDER`] unless
/// the program installed another before gauth's first JWT. With ring's, the key is the one
/// parsed when the key file was read.
///
/// ```no_run
/// # let key = oauth_sa::ServiceAccountKey::from_file("key.json")?;
/// let claims = serde_json::json!({"iss": key.client_email(), "aud": "https://example.com/"});
/// let jwt = oauth_sa::jwt::encode(key.signer(), claims.as_object().unwrap())?;
/// assert_eq!(jwt.expose().split('.').count(), 3);
/// # Ok::<(), oauth_sa::Error>(())
/// ```
pub fn encode(
    signer: &Signer,
    claims: &Map<String, Value>,
) -> Result<oauth_core::Secret, crate::Error> {
    crate::crypto::ensure_provider();
    let prepared = signer.prepared();
    let mut header = jsonwebtoken::Header::new(prepared.algorithm);
    header.kid = signer.key_id().map(str::to_owned);
    let token = crate::crypto::with_prepared(prepared, || {
        jsonwebtoken::encode(&header, claims, &prepared.encoding)
    })
    .map_err(|e| crate::Error::Jwt(e.to_string()))?;
    Ok(oauth_core::Secret::new(token))
}

/// The `exp` claim of a JWT whose signature is not checked here (a token this program just
/// received over TLS from the endpoint it asked), read by jsonwebtoken; fractions kept.
pub(crate) fn unverified_expiry(token: &str) -> Option<std::time::SystemTime> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: serde_json::Number,
    }
    let exp = jsonwebtoken::dangerous::insecure_decode_claims::<Exp>(token.trim())
        .ok()?
        .exp;
    let secs = match exp.as_u64() {
        Some(s) => std::time::Duration::from_secs(s),
        None => std::time::Duration::try_from_secs_f64(exp.as_f64()?).ok()?,
    };
    std::time::UNIX_EPOCH.checked_add(secs)
}

/// A JWT split into its parts, signature not yet checked.
#[derive(Debug)]
pub struct Decoded {
    /// The header object.
    pub header: Map<String, Value>,
    /// The claims object.
    pub claims: Map<String, Value>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// `header.payload`, the bytes the signature covers.
    pub signed: String,
}

/// Splits a compact JWT and decodes header and claims, without checking the signature, for
/// looking at a token (`gauth info`, tests). It reads any header, `alg: none` included;
/// verification goes through jsonwebtoken ([`crate::IdTokenVerifier`]).
///
/// ```
/// let d = oauth_sa::jwt::decode_unverified("eyJhbGciOiJub25lIn0.eyJleHAiOjF9.").unwrap();
/// assert_eq!(d.header["alg"], "none");
/// assert_eq!(d.claims["exp"], 1);
/// assert!(oauth_sa::jwt::decode_unverified("a.b").is_err());
/// ```
pub fn decode_unverified(token: &str) -> Result<Decoded, IdTokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdTokenError::Malformed(
            "expected three dot-separated segments",
        ));
    };
    let object = |seg: &str, what: &'static str| -> Result<Map<String, Value>, IdTokenError> {
        let bytes = unb64(seg).ok_or(IdTokenError::Malformed(what))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(IdTokenError::Malformed(what)),
        }
    };
    let header = object(h, "the header is not base64url JSON")?;
    let claims = object(p, "the payload is not base64url JSON")?;
    let signature = unb64(s).ok_or(IdTokenError::Malformed("the signature is not base64url"))?;
    Ok(Decoded {
        header,
        claims,
        signature,
        signed: format!("{h}.{p}"),
    })
}

/// A numeric claim (seconds since the epoch); floats are truncated as Python's int() does.
pub(crate) fn seconds(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<i64, IdTokenError> {
    match claims.get(name) {
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or(IdTokenError::MissingClaim(name)),
        _ => Err(IdTokenError::MissingClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_without_padding() {
        assert_eq!(b64(b"\xff\xfe"), "__4");
        assert_eq!(unb64("__4").unwrap(), b"\xff\xfe");
        assert_eq!(unb64("__4=").unwrap(), b"\xff\xfe");
        assert!(unb64("a+b/").is_none());
    }

    #[test]
    fn malformed_tokens_are_refused_not_panicked_on() {
        for bad in [
            "",
            ".",
            "..",
            "a.b.c.d",
            "e30.e30",
            "eyJ.e30.",
            "e30.W10.",
            "e30.e30.***",
        ] {
            assert!(decode_unverified(bad).is_err(), "{bad}");
        }
        assert!(decode_unverified("e30.e30.").is_ok());
    }

    #[test]
    fn numeric_claims_accept_integers_and_floats() {
        let m: Map<String, Value> =
            serde_json::from_str(r#"{"a": 5, "b": 5.9, "c": "5"}"#).unwrap();
        assert_eq!(seconds(&m, "a"), Ok(5));
        assert_eq!(seconds(&m, "b"), Ok(5));
        assert_eq!(seconds(&m, "c"), Err(IdTokenError::MissingClaim("c")));
        assert_eq!(seconds(&m, "d"), Err(IdTokenError::MissingClaim("d")));
    }
}
