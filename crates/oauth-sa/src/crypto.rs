//! jsonwebtoken on ring: a [`CryptoProvider`] whose signers and verifiers are ring's, so
//! neither aws-lc-rs nor RustCrypto's RSA enter the build.
//!
//! jsonwebtoken 12 takes its provider from one process-wide slot and has no per-call
//! provider. gauth fills that slot with [`RING_PROVIDER`] only when it is empty, at its first
//! JWT; a program that installed its own provider before keeps it, and gauth's JWTs then go
//! through that provider. A program that wants to be sure installs one itself at the top of
//! `main` (ring's, or any other).
//!
//! jsonwebtoken hands a provider the key's bytes on every call; built-in providers parse
//! them each time. gauth's own keys are parsed once: a [`Prepared`] key (ring's key pair with
//! its jsonwebtoken key) is lent to this thread for the length of one `encode`, and the
//! signer factory takes it instead of parsing when the bytes asked for are its bytes.

use std::cell::RefCell;
use std::sync::Arc;

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature::{Error as SigError, Signer as SigSigner, Verifier as SigVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};

use crate::der;

/// jsonwebtoken's cryptography on ring: RS256, RS384, RS512, PS256, PS384, PS512, ES256,
/// ES384, EdDSA (Ed25519) and HS256, HS384, HS512, signing and verifying. RSA keys verify
/// from 2048 to 8192 bits, as ring allows.
///
/// gauth installs it when no provider is installed; a program may install it itself:
///
/// ```
/// // Before any JWT is made; Err means a provider was already installed, and it stays.
/// let _ = oauth_sa::jwt::RING_PROVIDER.install_default();
/// ```
pub static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: rsa_components_from_private_key,
        rsa_pub_components_from_public_key: rsa_components_from_public_key,
        ec_pub_components_from_private_key: ec_components_from_private_key,
        ed_pub_components_from_private_key: ed_components_from_private_key,
        compute_digest,
    },
};

/// Installs [`RING_PROVIDER`] when no jsonwebtoken provider is installed yet; never
/// replaces one.
pub(crate) fn ensure_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if CryptoProvider::try_get_default().is_none() {
            // Losing a race to another installer is fine: theirs is kept.
            let _ = RING_PROVIDER.install_default();
        }
    });
}

/// An RSA private key parsed once by ring, with the jsonwebtoken key that names it
/// (service-account keys are RSA).
pub(crate) struct Prepared {
    pub(crate) encoding: EncodingKey,
    pub(crate) algorithm: Algorithm,
    pair: RsaKeyPair,
}

impl Prepared {
    /// An RSA key from PKCS#1 `RSAPrivateKey` DER, for `algorithm` (RS* or PS*).
    pub(crate) fn rsa(pkcs1: &[u8], algorithm: Algorithm) -> Result<Prepared, String> {
        let pair = RsaKeyPair::from_der(pkcs1).map_err(|e| e.to_string())?;
        Ok(Prepared {
            encoding: EncodingKey::from_rsa_der(pkcs1),
            algorithm,
            pair,
        })
    }

    /// The RSA key pair.
    pub(crate) fn rsa_pair(&self) -> &RsaKeyPair {
        &self.pair
    }

    /// The public key: PKCS#1 `RSAPublicKey` DER.
    pub(crate) fn public_key(&self) -> &[u8] {
        self.pair.public().as_ref()
    }

    /// Signs with this key's algorithm.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigError> {
        rsa_sign(&self.pair, self.algorithm, message)
    }
}

thread_local! {
    static LENT: RefCell<Option<Arc<Prepared>>> = const { RefCell::new(None) };
}

/// Runs `f` with `key` lent to this thread's signer factory.
pub(crate) fn with_prepared<R>(key: &Arc<Prepared>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Prepared>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            LENT.with(|l| *l.borrow_mut() = previous);
        }
    }
    let previous = LENT.with(|l| l.borrow_mut().replace(Arc::clone(key)));
    let _restore = Restore(previous);
    f()
}

fn lent_for(key: &EncodingKey, algorithm: Algorithm) -> Option<Arc<Prepared>> {
    LENT.with(|l| {
        l.borrow()
            .as_ref()
            .filter(|p| p.algorithm == algorithm && p.encoding.as_bytes() == key.as_bytes())
            .cloned()
    })
}

fn rsa_signing(algorithm: Algorithm) -> Option<&'static dyn sig::RsaEncoding> {
    Some(match algorithm {
        Algorithm::RS256 => &sig::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_SHA512,
        _ => return None,
    })
}

fn rsa_sign(pair: &RsaKeyPair, algorithm: Algorithm, message: &[u8]) -> Result<Vec<u8>, SigError> {
    let encoding = rsa_signing(algorithm).ok_or_else(SigError::new)?;
    let mut out = vec![0u8; pair.public().modulus_len()];
    pair.sign(encoding, &SystemRandom::new(), message, &mut out)
        .map_err(|_| SigError::new())?;
    Ok(out)
}

enum SignKey {
    Prepared(Arc<Prepared>),
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Hmac(ring::hmac::Key),
}

struct RingSigner {
    algorithm: Algorithm,
    key: SignKey,
}

impl SigSigner<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SigError> {
        match &self.key {
            SignKey::Prepared(p) => p.sign(message),
            SignKey::Rsa(p) => rsa_sign(p, self.algorithm, message),
            SignKey::Ecdsa(p) => p
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SigError::new()),
            SignKey::Ed25519(p) => Ok(p.sign(message).as_ref().to_vec()),
            SignKey::Hmac(k) => Ok(ring::hmac::sign(k, message).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn hmac_algorithm(algorithm: Algorithm) -> Option<ring::hmac::Algorithm> {
    match algorithm {
        Algorithm::HS256 => Some(ring::hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(ring::hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(ring::hmac::HMAC_SHA512),
        _ => None,
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, JwtError> {
    let algorithm = *algorithm;
    if key.family() != algorithm.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if let Some(p) = lent_for(key, algorithm) {
        return Ok(Box::new(RingSigner {
            algorithm,
            key: SignKey::Prepared(p),
        }));
    }
    let bytes = key.as_bytes();
    let key = match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let alg = hmac_algorithm(algorithm).ok_or(ErrorKind::UnsupportedAlgorithm)?;
            SignKey::Hmac(ring::hmac::Key::new(alg, bytes))
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let alg = if algorithm == Algorithm::ES256 {
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING
            } else {
                &sig::ECDSA_P384_SHA384_FIXED_SIGNING
            };
            SignKey::Ecdsa(
                EcdsaKeyPair::from_pkcs8(alg, bytes, &SystemRandom::new())
                    .map_err(|_| ErrorKind::InvalidEcdsaKey)?,
            )
        }
        Algorithm::EdDSA => SignKey::Ed25519(
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(bytes)
                .map_err(|_| ErrorKind::InvalidEddsaKey)?,
        ),
        _ if rsa_signing(algorithm).is_some() => SignKey::Rsa(
            RsaKeyPair::from_der(bytes).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?,
        ),
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(Box::new(RingSigner { algorithm, key }))
}

enum VerifyKey {
    /// A public key ring parses on use: DER for RSA, a point for EC, raw for Ed25519.
    Der(Vec<u8>),
    RsaComponents {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    Hmac(ring::hmac::Key),
}

struct RingVerifier {
    algorithm: Algorithm,
    key: VerifyKey,
}

fn verification(algorithm: Algorithm) -> Option<&'static dyn sig::VerificationAlgorithm> {
    Some(match algorithm {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &sig::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &sig::ED25519,
        _ => return None,
    })
}

fn rsa_parameters(algorithm: Algorithm) -> Option<&'static sig::RsaParameters> {
    Some(match algorithm {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

impl SigVerifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), SigError> {
        let ok = match &self.key {
            VerifyKey::Der(public) => verification(self.algorithm).is_some_and(|alg| {
                sig::UnparsedPublicKey::new(alg, public)
                    .verify(message, signature)
                    .is_ok()
            }),
            VerifyKey::RsaComponents { n, e } => {
                rsa_parameters(self.algorithm).is_some_and(|params| {
                    sig::RsaPublicKeyComponents { n, e }
                        .verify(params, message, signature)
                        .is_ok()
                })
            }
            VerifyKey::Hmac(k) => ring::hmac::verify(k, message, signature).is_ok(),
        };
        if ok { Ok(()) } else { Err(SigError::new()) }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

fn new_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> Result<Box<dyn JwtVerifier>, JwtError> {
    let algorithm = *algorithm;
    if key.family() != algorithm.family() {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    let key = match (key.kind(), hmac_algorithm(algorithm)) {
        (DecodingKeyKind::SecretOrDer(secret), Some(alg)) => {
            VerifyKey::Hmac(ring::hmac::Key::new(alg, secret))
        }
        (DecodingKeyKind::SecretOrDer(public), None) if verification(algorithm).is_some() => {
            VerifyKey::Der(public.clone())
        }
        (DecodingKeyKind::RsaModulusExponent { n, e }, None)
            if rsa_parameters(algorithm).is_some() =>
        {
            VerifyKey::RsaComponents {
                n: n.clone(),
                e: e.clone(),
            }
        }
        _ => return Err(ErrorKind::InvalidKeyFormat.into()),
    };
    Ok(Box::new(RingVerifier { algorithm, key }))
}

fn rsa_components_from_private_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), JwtError> {
    let pair = RsaKeyPair::from_der(der).map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
    let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
    Ok((c.n, c.e))
}

fn rsa_components_from_public_key(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), JwtError> {
    der::rsa_public_components(der)
        .ok_or_else(|| ErrorKind::InvalidRsaKey("not a PKCS#1 RSA public key".into()).into())
}

fn ec_components_from_private_key(
    der: &[u8],
    algorithm: Algorithm,
) -> Result<(EllipticCurve, Vec<u8>, Vec<u8>), JwtError> {
    let (alg, curve, size) = match algorithm {
        Algorithm::ES256 => (
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            EllipticCurve::P256,
            32,
        ),
        Algorithm::ES384 => (
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            EllipticCurve::P384,
            48,
        ),
        _ => return Err(ErrorKind::InvalidEcdsaKey.into()),
    };
    let pair = EcdsaKeyPair::from_pkcs8(alg, der, &SystemRandom::new())
        .map_err(|_| ErrorKind::InvalidEcdsaKey)?;
    match pair.public_key().as_ref() {
        [4, point @ ..] if point.len() == 2 * size => {
            let (x, y) = point.split_at(size);
            Ok((curve, x.to_vec(), y.to_vec()))
        }
        _ => Err(ErrorKind::InvalidEcdsaKey.into()),
    }
}

fn ed_components_from_private_key(der: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>, JwtError> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(ErrorKind::InvalidEddsaKey.into());
    }
    let pair =
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| ErrorKind::InvalidEddsaKey)?;
    Ok(pair.public_key().as_ref().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, JwtError> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &ring::digest::SHA256,
        ThumbprintHash::SHA384 => &ring::digest::SHA384,
        ThumbprintHash::SHA512 => &ring::digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(ring::digest::digest(alg, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use jsonwebtoken::{Header, Validation};
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    use serde_json::{Value, json};

    fn roundtrip(alg: Algorithm, enc: &EncodingKey, dec: &DecodingKey) {
        ensure_provider();
        let claims = json!({"sub": "x", "exp": 4_102_444_800u64});
        let token = jsonwebtoken::encode(&Header::new(alg), &claims, enc).unwrap();
        let mut v = Validation::new(alg);
        v.validate_aud = false;
        let got = jsonwebtoken::decode::<Value>(&token, dec, &v).unwrap();
        assert_eq!(got.claims["sub"], "x", "{alg:?}");
        // One changed byte of the payload and the signature no longer verifies.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = crate::jwt::b64(br#"{"sub":"y","exp":4102444800}"#);
        assert!(jsonwebtoken::decode::<Value>(parts.join("."), dec, &v).is_err());
    }

    #[test]
    fn every_algorithm_signs_and_verifies_on_ring() {
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(RSA_PKCS8.as_bytes()).unwrap();
        let pkcs1 = der::pkcs8_rsa_private_key(pkcs8.secret_pkcs8_der()).unwrap();
        let rsa = Prepared::rsa(pkcs1, Algorithm::RS256).unwrap();
        let public = DecodingKey::from_rsa_der(rsa.public_key());
        let (n, e) = rsa_components_from_public_key(rsa.public_key()).unwrap();
        let components = DecodingKey::from_rsa_raw_components(&n, &e);
        for alg in [
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ] {
            roundtrip(alg, &rsa.encoding, &public);
            roundtrip(alg, &rsa.encoding, &components);
        }
        let ec = PrivatePkcs8KeyDer::from_pem_slice(EC_PKCS8.as_bytes()).unwrap();
        let ec = ec.secret_pkcs8_der();
        let (_, x, y) = ec_components_from_private_key(ec, Algorithm::ES256).unwrap();
        roundtrip(
            Algorithm::ES256,
            &EncodingKey::from_ec_der(ec),
            &DecodingKey::from_ec_der(&[&[4u8][..], &x, &y].concat()),
        );
        let p384 = ring_p384();
        let (_, x, y) = ec_components_from_private_key(&p384, Algorithm::ES384).unwrap();
        roundtrip(
            Algorithm::ES384,
            &EncodingKey::from_ec_der(&p384),
            &DecodingKey::from_ec_der(&[&[4u8][..], &x, &y].concat()),
        );
        let ed = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let ed_pub = ed_components_from_private_key(ed.as_ref(), &EllipticCurve::Ed25519).unwrap();
        roundtrip(
            Algorithm::EdDSA,
            &EncodingKey::from_ed_der(ed.as_ref()),
            &DecodingKey::from_ed_der(&ed_pub),
        );
        let secret = EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        let check = DecodingKey::from_secret(b"0123456789abcdef0123456789abcdef").unwrap();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            roundtrip(alg, &secret, &check);
        }
    }

    fn ring_p384() -> Vec<u8> {
        let rng = SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, &rng).unwrap();
        doc.as_ref().to_vec()
    }

    #[test]
    fn a_lent_key_is_used_instead_of_parsing_and_only_for_its_own_bytes() {
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(RSA_PKCS8.as_bytes()).unwrap();
        let pkcs1 = der::pkcs8_rsa_private_key(pkcs8.secret_pkcs8_der()).unwrap();
        let prepared = Arc::new(Prepared::rsa(pkcs1, Algorithm::RS256).unwrap());
        assert!(lent_for(&prepared.encoding, Algorithm::RS256).is_none());
        with_prepared(&prepared, || {
            let lent = lent_for(&prepared.encoding, Algorithm::RS256).unwrap();
            assert!(Arc::ptr_eq(&lent, &prepared));
            assert!(lent_for(&prepared.encoding, Algorithm::PS256).is_none());
            let other = EncodingKey::from_rsa_der(b"other bytes");
            assert!(lent_for(&other, Algorithm::RS256).is_none());
        });
        assert!(lent_for(&prepared.encoding, Algorithm::RS256).is_none());
    }

    #[test]
    fn key_utils_read_public_parts_and_digests() {
        let p384 = ring_p384();
        let (curve, x, y) = ec_components_from_private_key(&p384, Algorithm::ES384).unwrap();
        assert_eq!(curve, EllipticCurve::P384);
        let pair = EcdsaKeyPair::from_pkcs8(
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            &p384,
            &SystemRandom::new(),
        )
        .unwrap();
        assert_eq!([&[4u8][..], &x, &y].concat(), pair.public_key().as_ref());
        assert!(ec_components_from_private_key(b"junk", Algorithm::ES256).is_err());
        assert!(rsa_components_from_private_key(b"junk").is_err());
        assert_eq!(
            compute_digest(b"abc", ThumbprintHash::SHA256).unwrap()[..4],
            [0xba, 0x78, 0x16, 0xbf]
        );
        // Mismatched families are refused, not panicked on.
        let hmac = EncodingKey::from_secret(b"k").unwrap();
        assert!(new_signer(&Algorithm::RS256, &hmac).is_err());
        let rsa_pub = DecodingKey::from_rsa_raw_components(b"\x01", b"\x03");
        assert!(new_verifier(&Algorithm::ES256, &rsa_pub).is_err());
    }
}
