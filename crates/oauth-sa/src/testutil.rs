//! Test-only keys and helpers (the keys under `testdata/` protect nothing).

use serde_json::{Map, Value, json};

use crate::{ServiceAccountKey, Signer};

pub const RSA_PKCS8: &str = include_str!("../testdata/rsa_pkcs8.pem");
pub const RSA_PKCS1: &str = include_str!("../testdata/rsa_pkcs1.pem");
pub const RSA_CERT: &str = include_str!("../testdata/rsa_cert.pem");
pub const RSA_CERT_V1: &str = include_str!("../testdata/rsa_cert_v1.pem");
pub const EC_PKCS8: &str = include_str!("../testdata/ec_pkcs8.pem");
pub const EC_CERT: &str = include_str!("../testdata/ec_cert.pem");

pub fn key_json(token_uri: &str) -> Value {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-kid",
        "private_key": RSA_PKCS8,
        "client_email": "sa@test-project.iam.gserviceaccount.com",
        "client_id": "1234",
        "token_uri": token_uri,
    })
}

pub fn key(token_uri: &str) -> ServiceAccountKey {
    ServiceAccountKey::from_value_with(&key_json(token_uri), "key.json", &Default::default())
        .unwrap()
}

pub fn rsa_signer(kid: &str) -> Signer {
    Signer::from_pem(RSA_PKCS8, Some(kid.into()), "t", "k").unwrap()
}

/// A JWT with any header, signed by `sign` over `header.payload`.
pub fn raw_jwt(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let h = crate::jwt::b64(&serde_json::to_vec(header).unwrap());
    let p = crate::jwt::b64(&serde_json::to_vec(claims).unwrap());
    let input = format!("{h}.{p}");
    let sig = sign(input.as_bytes());
    format!("{input}.{}", crate::jwt::b64(&sig))
}

pub fn es256_sign(message: &[u8]) -> Vec<u8> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    use rustls_pki_types::PrivatePkcs8KeyDer;
    use rustls_pki_types::pem::PemObject;
    let der = PrivatePkcs8KeyDer::from_pem_slice(EC_PKCS8.as_bytes()).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let kp = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        der.secret_pkcs8_der(),
        &rng,
    )
    .unwrap();
    kp.sign(&rng, message).unwrap().as_ref().to_vec()
}

/// The RSA test key as a JWK (n and e from ring's public key).
pub fn rsa_jwk(kid: &str) -> Value {
    let signer = rsa_signer(kid);
    let (n, e) = signer.public_components();
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
           "n": crate::jwt::b64(&n), "e": crate::jwt::b64(&e)})
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}
