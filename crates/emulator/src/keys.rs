//! Key material and RS256 JWTs: the emulator's signing key (a committed, test-only fixture
//! under `keys/`), its JWKS and PEM certificate forms, and signature checks of service-account
//! assertions, all with ring.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{self, KeyPair, RsaKeyPair};
use serde_json::{Map, Value, json};

/// The emulator's ID-token signing key, PKCS#8 DER. TEST ONLY: it is public.
const SIGNING_KEY_PK8: &[u8] = include_bytes!("../keys/test-only-signing-key.pk8");
/// The self-signed certificate of [`SIGNING_KEY_PK8`], for `/oauth2/v1/certs`.
const SIGNING_CERT_PEM: &str = include_str!("../keys/test-only-signing-cert.pem");
/// The service-account key file registered by default. TEST ONLY: it is public.
pub(crate) const TEST_SERVICE_ACCOUNT_JSON: &str =
    include_str!("../keys/test-only-service-account.json");

/// Base64url without padding, as JWTs and JWKS use it.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, tolerating padding (some encoders add it).
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// The DER inside the first PEM block of `pem` whose label is `label`.
pub(crate) fn pem_to_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(body).ok()
}

/// The PKCS#1 `RSAPublicKey` DER of a PKCS#8 private key (what ring verifies with).
pub(crate) fn public_key_of_pkcs8(der: &[u8]) -> Option<Vec<u8>> {
    let pair = RsaKeyPair::from_pkcs8(der).ok()?;
    Some(pair.public_key().as_ref().to_vec())
}

/// The key the emulator signs ID tokens with.
pub(crate) struct SigningKey {
    pair: RsaKeyPair,
    rng: SystemRandom,
    kid: String,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl SigningKey {
    /// The committed test key.
    pub(crate) fn fixture() -> Result<SigningKey, ring::error::KeyRejected> {
        let pair = RsaKeyPair::from_pkcs8(SIGNING_KEY_PK8)?;
        let components: signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let digest = ring::digest::digest(&ring::digest::SHA256, pair.public_key().as_ref());
        let kid = digest.as_ref()[..20]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(SigningKey {
            pair,
            rng: SystemRandom::new(),
            kid,
            n: components.n,
            e: components.e,
        })
    }

    /// The key id put in JWT headers and certificate maps.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// `/oauth2/v3/certs`: the JSON Web Key Set.
    pub(crate) fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": b64url(&self.n),
            "e": b64url(&self.e),
        }]})
    }

    /// `/oauth2/v1/certs`: key id to PEM certificate.
    pub(crate) fn pem_certs(&self) -> Value {
        let mut map = Map::new();
        map.insert(self.kid.clone(), Value::String(SIGNING_CERT_PEM.to_owned()));
        Value::Object(map)
    }

    /// Signs `claims` as a compact RS256 JWT.
    pub(crate) fn sign_jwt(&self, claims: &Value) -> Option<String> {
        let header = json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"});
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .ok()?;
        Some(format!("{signing_input}.{}", b64url(&sig)))
    }

    /// Verifies a JWT this key signed; its claims when the signature holds.
    pub(crate) fn verify_own(&self, jwt: &str) -> Option<Map<String, Value>> {
        let parts = JwtParts::parse(jwt)?;
        parts
            .verify(self.pair.public_key().as_ref())
            .then_some(parts.claims)
    }
}

/// A compact JWT split into its parts, not yet verified.
pub(crate) struct JwtParts<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    /// The decoded header.
    pub(crate) header: Map<String, Value>,
    /// The decoded claims.
    pub(crate) claims: Map<String, Value>,
}

impl<'a> JwtParts<'a> {
    /// Splits and decodes; `None` for anything that is not a three-part JWT of JSON objects.
    pub(crate) fn parse(jwt: &'a str) -> Option<JwtParts<'a>> {
        if jwt.len() > 16 * 1024 {
            return None;
        }
        let (signing_input, sig) = jwt.rsplit_once('.')?;
        let (header, claims) = signing_input.split_once('.')?;
        let header: Map<String, Value> = serde_json::from_slice(&b64url_decode(header)?).ok()?;
        let claims: Map<String, Value> = serde_json::from_slice(&b64url_decode(claims)?).ok()?;
        Some(JwtParts {
            signing_input,
            signature: b64url_decode(sig)?,
            header,
            claims,
        })
    }

    /// Whether the RS256 signature holds for the PKCS#1 public key `public_der`.
    pub(crate) fn verify(&self, public_der: &[u8]) -> bool {
        if self.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return false;
        }
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_der)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_key_signs_tokens_it_then_verifies() {
        let key = SigningKey::fixture().unwrap();
        let jwt = key.sign_jwt(&json!({"sub": "x"})).unwrap();
        let claims = key.verify_own(&jwt).unwrap();
        assert_eq!(claims["sub"], "x");
        let mut tampered = jwt.clone();
        tampered.insert(jwt.find('.').unwrap() + 2, 'A');
        assert!(key.verify_own(&tampered).is_none());
    }

    #[test]
    fn jwks_modulus_is_the_2048_bit_key() {
        let key = SigningKey::fixture().unwrap();
        let jwks = key.jwks();
        let n = b64url_decode(jwks["keys"][0]["n"].as_str().unwrap()).unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(jwks["keys"][0]["e"], "AQAB");
        assert!(
            key.pem_certs()[key.kid()]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }

    #[test]
    fn junk_is_not_a_jwt() {
        for junk in ["", ".", "..", "a.b.c", "e30.e30.", "e30.W10.AA"] {
            assert!(JwtParts::parse(junk).is_none_or(|p| !p.verify(&[0u8; 10])));
        }
    }

    #[test]
    fn service_account_fixture_key_yields_a_public_key() {
        let v: Value = serde_json::from_str(TEST_SERVICE_ACCOUNT_JSON).unwrap();
        let der = pem_to_der(v["private_key"].as_str().unwrap(), "PRIVATE KEY").unwrap();
        assert!(public_key_of_pkcs8(&der).is_some());
    }
}
