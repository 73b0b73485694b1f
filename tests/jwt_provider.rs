//! A program that installs its own jsonwebtoken provider keeps it: gauth installs ring's only
//! into an empty slot, and then signs and verifies through whatever the program chose.
//! (Its own test binary: the provider slot is process-wide.)

use std::sync::atomic::{AtomicUsize, Ordering};

use gauth::IdTokenVerifier;
use gauth::sa::jwt::RING_PROVIDER;
use gauth::sa::{Certs, ServiceAccountKey};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

static SIGNERS: AtomicUsize = AtomicUsize::new(0);
static VERIFIERS: AtomicUsize = AtomicUsize::new(0);

fn counting_signer(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    SIGNERS.fetch_add(1, Ordering::SeqCst);
    (RING_PROVIDER.signer_factory)(alg, key)
}

fn counting_verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    VERIFIERS.fetch_add(1, Ordering::SeqCst);
    (RING_PROVIDER.verifier_factory)(alg, key)
}

static PROGRAMS_OWN: CryptoProvider = CryptoProvider {
    signer_factory: counting_signer,
    verifier_factory: counting_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

#[test]
fn a_provider_the_program_installed_is_kept_and_used() {
    PROGRAMS_OWN.install_default().unwrap();
    let key = ServiceAccountKey::from_json(
        serde_json::json!({
            "type": "service_account",
            "private_key_id": "test-kid",
            "private_key": include_str!("../crates/oauth-sa/testdata/rsa_pkcs8.pem"),
            "client_email": "sa@test-project.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string()
        .as_bytes(),
        "key.json",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({"iss": "https://accounts.google.com", "aud": "a",
        "iat": now, "exp": now + 60});
    let token = gauth::sa::jwt::encode(key.signer(), claims.as_object().unwrap()).unwrap();
    assert_eq!(SIGNERS.load(Ordering::SeqCst), 1);

    let (n, e) = key.signer().public_components();
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    };
    let jwks = serde_json::json!({"keys": [{"kty": "RSA", "kid": key.private_key_id().unwrap(),
        "n": b64(&n), "e": b64(&e)}]});
    let certs = Certs::parse(jwks.to_string().as_bytes(), "jwks").unwrap();
    IdTokenVerifier::new("a")
        .verify_with_certs(token.expose(), &certs)
        .unwrap();
    assert_eq!(VERIFIERS.load(Ordering::SeqCst), 1);

    // gauth did not replace it, and cannot be made to.
    let installed = CryptoProvider::try_get_default().unwrap();
    assert!(std::ptr::eq(installed, &PROGRAMS_OWN));
    assert!(RING_PROVIDER.install_default().is_err());
}
