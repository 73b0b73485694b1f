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
    // Clamped to 1970 ..= 9999: any number may come back as `exp`.
    let secs = match exp.as_u64() {
        Some(s) => std::time::Duration::from_secs(s),
        None => {
            let f = exp.as_f64()?;
            if f.is_nan() {
                return None;
            }
            std::time::Duration::try_from_secs_f64(f.max(0.0)).unwrap_or(std::time::Duration::MAX)
        }
    };
    Some(oauth_core::clock::add_clamped(std::time::UNIX_EPOCH, secs))
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

/// A JSON number as Python holds it: an exact integer, or a double.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(v: &Value) -> Option<Num> {
        let n = match v {
            Value::Number(n) => n,
            _ => return None,
        };
        if let Some(i) = n.as_i64() {
            return Some(Num::Int(i.into()));
        }
        if let Some(u) = n.as_u64() {
            return Some(Num::Int(u.into()));
        }
        n.as_f64().filter(|f| f.is_finite()).map(Num::Float)
    }

    fn float(self) -> f64 {
        match self {
            // Python converts an int to the nearest double, ties to even, as `as` does.
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// `self + sign * other` with Python's arithmetic: exact on two ints, else in doubles.
    fn add(self, other: Num, sign: i128) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Num::Int(a.saturating_add(sign.saturating_mul(b))),
            _ => Num::Float(self.float() + sign as f64 * other.float()),
        }
    }

    /// `self < other`, exactly (Python compares ints with floats without rounding).
    fn lt(self, other: Num) -> bool {
        use std::cmp::Ordering::*;
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a < b,
            (Num::Float(a), Num::Float(b)) => a < b,
            (Num::Int(a), Num::Float(b)) => int_vs_float(a, b) == Some(Less),
            (Num::Float(a), Num::Int(b)) => int_vs_float(b, a) == Some(Greater),
        }
    }
}

/// How an integer compares with a double, exactly.
fn int_vs_float(a: i128, b: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::*;
    if b.is_nan() {
        return None;
    }
    // 2^126 bounds every integer a JSON claim or a clock gives here.
    const BOUND: f64 = 85_070_591_730_234_615_865_843_651_857_942_052_864.0;
    if b >= BOUND {
        return Some(Less);
    }
    if b <= -BOUND {
        return Some(Greater);
    }
    let floor = b.floor();
    let whole = floor as i128; // exact: floor is an integer within range
    Some(match a.cmp(&whole) {
        Less => Less,
        Greater => Greater,
        Equal if b > floor => Less,
        Equal => Equal,
    })
}

/// A numeric time claim, as Python holds it; `None` when absent, an error when not a number.
fn time_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Num>, IdTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => Num::of(v).map(Some).ok_or(IdTokenError::MissingClaim(name)),
    }
}

/// Checks `iat`, `exp` and `nbf` at `now` with `leeway`, as google-auth's
/// `_verify_iat_and_exp` does at `clock_skew_in_seconds = leeway`: the clock read to the whole
/// second, the claims exactly as written (fractions kept), Python's arithmetic. `iat` and
/// `exp` are required; `nbf`, which google-auth ignores, is checked as `iat` is when present
/// (RFC 7519 section 4.1.5).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use oauth_sa::{IdTokenError, jwt::check_times};
/// let claims = serde_json::json!({"iat": 1000.5, "exp": 2000});
/// let claims = claims.as_object().unwrap();
/// let at = |s| UNIX_EPOCH + Duration::from_secs(s);
/// assert_eq!(check_times(claims, at(1000), Duration::ZERO), Err(IdTokenError::NotYetValid));
/// assert_eq!(check_times(claims, at(1001), Duration::ZERO), Ok(()));
/// assert_eq!(check_times(claims, at(2001), Duration::ZERO), Err(IdTokenError::Expired));
/// assert_eq!(check_times(claims, at(2001), Duration::from_secs(1)), Ok(()));
/// ```
pub fn check_times(
    claims: &Map<String, Value>,
    now: std::time::SystemTime,
    leeway: std::time::Duration,
) -> Result<(), IdTokenError> {
    let now = Num::Int(match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs().into(),
        // Before 1970: whole seconds, floored as Python's timegm does.
        Err(e) => {
            let back = e.duration();
            -i128::from(back.as_secs()) - i128::from(back.subsec_nanos() > 0)
        }
    });
    let leeway = if leeway.subsec_nanos() == 0 {
        Num::Int(leeway.as_secs().into())
    } else {
        Num::Float(leeway.as_secs_f64())
    };
    let iat = time_claim(claims, "iat")?.ok_or(IdTokenError::MissingClaim("iat"))?;
    let exp = time_claim(claims, "exp")?.ok_or(IdTokenError::MissingClaim("exp"))?;
    let nbf = time_claim(claims, "nbf")?;
    if now.lt(iat.add(leeway, -1)) {
        return Err(IdTokenError::NotYetValid);
    }
    if exp.add(leeway, 1).lt(now) {
        return Err(IdTokenError::Expired);
    }
    if nbf.is_some_and(|nbf| now.lt(nbf.add(leeway, -1))) {
        return Err(IdTokenError::NotYetValid);
    }
    Ok(())
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
    fn times_are_compared_exactly_as_python_does() {
        use std::time::{Duration, UNIX_EPOCH};
        let check = |claims: Value, now: u64, leeway: Duration| {
            check_times(
                claims.as_object().unwrap(),
                UNIX_EPOCH + Duration::from_secs(now),
                leeway,
            )
        };
        let ten = Duration::from_secs(10);
        // The issue's case: iat = now + skew + 0.5 is too early (it was truncated before).
        assert_eq!(
            check(serde_json::json!({"iat": 1010.5, "exp": 2000}), 1000, ten),
            Err(IdTokenError::NotYetValid)
        );
        assert_eq!(
            check(serde_json::json!({"iat": 1010, "exp": 2000}), 1000, ten),
            Ok(())
        );
        assert_eq!(
            check(serde_json::json!({"iat": 0, "exp": 989.5}), 1000, ten),
            Err(IdTokenError::Expired)
        );
        assert_eq!(
            check(serde_json::json!({"iat": 0, "exp": 990}), 1000, ten),
            Ok(())
        );
        // A fractional leeway is a double, as Python's float skew.
        assert_eq!(
            check(
                serde_json::json!({"iat": 1000.5, "exp": 2000}),
                1000,
                Duration::from_millis(500)
            ),
            Ok(())
        );
        // nbf, when present, as iat; not numbers are refused.
        assert_eq!(
            check(
                serde_json::json!({"iat": 0, "exp": 2000, "nbf": 1011}),
                1000,
                ten
            ),
            Err(IdTokenError::NotYetValid)
        );
        assert_eq!(
            check(serde_json::json!({"iat": "0", "exp": 2000}), 1000, ten),
            Err(IdTokenError::MissingClaim("iat"))
        );
        assert_eq!(
            check(serde_json::json!({"iat": 0}), 1000, ten),
            Err(IdTokenError::MissingClaim("exp"))
        );
        // Huge values neither overflow nor panic.
        assert_eq!(
            check(
                serde_json::json!({"iat": -1e300, "exp": 1e300}),
                1000,
                Duration::MAX
            ),
            Ok(())
        );
        assert_eq!(
            check(
                serde_json::json!({"iat": i64::MIN, "exp": u64::MAX}),
                1000,
                Duration::MAX
            ),
            Ok(())
        );
    }

    #[test]
    fn integers_and_doubles_compare_without_rounding() {
        use std::cmp::Ordering::*;
        assert_eq!(int_vs_float(5, 5.0), Some(Equal));
        assert_eq!(int_vs_float(5, 5.5), Some(Less));
        assert_eq!(int_vs_float(6, 5.5), Some(Greater));
        assert_eq!(int_vs_float(-6, -5.5), Some(Less));
        // 2^53 + 1 is not a double: a rounding comparison would call it equal.
        assert_eq!(
            int_vs_float((1 << 53) + 1, 9_007_199_254_740_992.0),
            Some(Greater)
        );
        assert_eq!(int_vs_float(0, f64::NAN), None);
        assert_eq!(int_vs_float(i128::MAX, f64::INFINITY), Some(Less));
        assert!(Num::Int(1).lt(Num::Float(1.5)) && Num::Float(1.5).lt(Num::Int(2)));
    }
}
