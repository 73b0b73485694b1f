//! Cases 4 and 5: service-account minting against ring's raw RS256 signature, and ID-token
//! verification with cached certificates against ring's raw RS256 verification and
//! jsonwebtoken 9's decode-and-verify. gauth makes and checks both through jsonwebtoken 12 on
//! its ring provider, so these ratios are the cost of that layer.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_sa::{
    Certs, FetchedCerts, IdTokenVerifier, ServiceAccountCredentials, ServiceAccountKey,
};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use crate::harness::{Record, per_call, per_call_async};
use crate::{Ctx, fixtures};

const TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

fn sa() -> Result<ServiceAccountCredentials, String> {
    let key = ServiceAccountKey::from_json(
        fixtures::key_json(TOKEN_URI).to_string().as_bytes(),
        "bench key",
    )
    .map_err(|e| format!("gauth key: {e}"))?;
    Ok(ServiceAccountCredentials::new(key).with_scopes([fixtures::SCOPE]))
}

/// Case 4: one assertion (or self-signed JWT) per token.
pub fn minting(ctx: &Ctx) -> Result<Vec<Record>, String> {
    const CASE: &str = "4 service-account JWT per token";
    let mut out = Vec::new();
    let sa = sa()?;
    let assertion = sa
        .make_assertion(SystemTime::now())
        .map_err(|e| e.to_string())?;
    // The signing input of a real assertion: what every implementation signs.
    let signing_input = assertion
        .expose()
        .rsplit_once('.')
        .map(|(head, _)| head.to_owned())
        .unwrap_or_default();

    out.push(
        Record::new(
            CASE,
            "gauth",
            per_call(&ctx.budget, || sa.make_assertion(SystemTime::now())),
        )
        .note("JWT-bearer assertion: claims, encode, sign"),
    );
    let jwt = sa
        .clone()
        .with_always_use_jwt_access(true)
        .with_jwt_audience("https://pubsub.googleapis.com/");
    out.push(
        Record::new(
            "4 service-account self-signed JWT",
            "gauth",
            per_call(&ctx.budget, || jwt.make_self_signed_jwt(SystemTime::now())),
        )
        .note("self-signed JWT access token"),
    );

    let der = fixtures::pkcs8_der()?;
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| format!("ring key: {e}"))?;
    let rng = SystemRandom::new();
    let mut sig = vec![0u8; pair.public().modulus_len()];
    let raw = per_call(&ctx.budget, || {
        pair.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig)
    });
    for case in [CASE, "4 service-account self-signed JWT"] {
        out.push(Record::new(case, "raw: ring RS256 sign", raw).note(format!(
            "{} bytes signed, key parsed once",
            signing_input.len()
        )));
    }

    let gcp = gcp_auth::CustomServiceAccount::from_json(&fixtures::key_json(TOKEN_URI).to_string())
        .map_err(|e| format!("gcp_auth: {e}"))?;
    out.push(
        Record::new(
            CASE,
            "gcp_auth",
            per_call(&ctx.budget, || gcp.signer().sign(signing_input.as_bytes())),
        )
        .note("Signer::sign only (its JWT encoding is private)"),
    );

    let gca = google_cloud_auth::credentials::service_account::Builder::new(fixtures::key_json(
        TOKEN_URI,
    ))
    .build_signer()
    .map_err(|e| format!("google-cloud-auth signer: {e}"))?;
    let s = ctx.rt.block_on(per_call_async(&ctx.budget, || {
        gca.sign(signing_input.as_bytes())
    }));
    for case in [CASE, "4 service-account self-signed JWT"] {
        out.push(
            Record::new(case, "google-cloud-auth", s)
                .note("Signer::sign (its self-signed JWT path signs the same way)"),
        );
    }
    Ok(out)
}

/// Case 5: verifying a Google-style ID token with the certificates already cached.
pub fn verification(ctx: &Ctx) -> Result<Vec<Record>, String> {
    const CASE: &str = "5 ID-token verification, cached certs";
    const AUD: &str = "https://bench.example.com";
    let sa = sa()?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let claims = serde_json::json!({
        "iss": "https://accounts.google.com",
        "aud": AUD,
        "azp": fixtures::CLIENT_EMAIL,
        "sub": "100000000000000000001",
        "email": fixtures::CLIENT_EMAIL,
        "email_verified": true,
        "iat": now,
        "exp": now + 3600,
    });
    let claims = claims.as_object().cloned().unwrap_or_default();
    let token = oauth_sa::jwt::encode(sa.key().signer(), &claims).map_err(|e| e.to_string())?;
    let token = token.expose().to_owned();

    let certs = serde_json::json!({ fixtures::KEY_ID: fixtures::RSA_CERT_PEM });
    let certs =
        Certs::parse(certs.to_string().as_bytes(), "bench certs").map_err(|e| e.to_string())?;
    let fetched = FetchedCerts {
        certs: Arc::new(certs),
        max_age: Some(Duration::from_secs(86_400)),
    };
    let verifier = oauth_sa::blocking::IdTokenVerifier::new(AUD);
    verifier.store_certs(fetched.clone());
    let averifier = IdTokenVerifier::new(AUD);
    averifier.store_certs(fetched);
    verifier
        .verify(&token)
        .map_err(|e| format!("gauth verify: {e}"))?;
    let mut out = vec![Record::new(
        CASE,
        "gauth (blocking)",
        per_call(&ctx.budget, || verifier.verify(&token)),
    )];
    let s = ctx
        .rt
        .block_on(per_call_async(&ctx.budget, || averifier.verify(&token)));
    out.push(Record::new(CASE, "gauth (async)", s));

    let (n, e) = sa.key().signer().public_components();
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        &URL_SAFE_NO_PAD.encode(n),
        &URL_SAFE_NO_PAD.encode(e),
    )
    .map_err(|e| format!("jsonwebtoken key: {e}"))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[AUD]);
    validation.set_issuer(&["https://accounts.google.com", "accounts.google.com"]);
    jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
        .map_err(|e| format!("jsonwebtoken: {e}"))?;
    let (signed, signature) = token.rsplit_once('.').unwrap_or_default();
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| format!("signature: {e}"))?;
    let public = sa.key().signer().public_key_der().to_vec();
    let ring_verify = || {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &public,
        )
        .verify(signed.as_bytes(), &signature)
    };
    ring_verify().map_err(|_| "ring verify".to_owned())?;
    out.push(
        Record::new(
            CASE,
            "raw: ring RS256 verify",
            per_call(&ctx.budget, ring_verify),
        )
        .note("signature only, no JSON"),
    );
    out.push(
        Record::new(
            CASE,
            "raw: jsonwebtoken decode+verify",
            per_call(&ctx.budget, || {
                jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
            }),
        )
        .note("jsonwebtoken 9 (ring), key prepared once"),
    );
    Ok(out)
}
