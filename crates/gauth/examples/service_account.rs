//! Server-to-server credentials from a service-account key file (blocking flavour): an
//! access token for Google's APIs, then an ID token for a service of your own, verified as
//! that service would verify it.
//!
//! ```text
//! cargo run -p gauth --example service_account -- KEY_FILE [AUDIENCE]
//! ```
//!
//! - `KEY_FILE`: the JSON key downloaded from the Google Cloud console (IAM > Service
//!   accounts > Keys). Its `token_uri` says which token endpoint signs the tokens: Google's,
//!   or the emulator's.
//! - `AUDIENCE`: who the ID token is for, typically your Cloud Run or IAP-protected URL
//!   (default `https://example.com/my-service`).
//! - `GAUTH_CERTS_URL` (optional): the certificates ID tokens are verified against;
//!   Google's (`https://www.googleapis.com/oauth2/v1/certs`) by default.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gauth::ServiceAccountCredentials;
use gauth::blocking::Credentials;
use gauth::blocking::IdTokenVerifier;
use serde_json::{Map, Value};

/// The broad Cloud scope; IAM roles then decide what the account may do.
pub const SCOPES: [&str; 1] = ["https://www.googleapis.com/auth/cloud-platform"];

/// What a run obtained.
#[derive(Debug)]
pub struct Outcome {
    /// The service account's email address, from the key file.
    pub email: String,
    /// The access token's length (the token itself is a secret).
    pub access_token_len: usize,
    /// The ID token's claims, after its signature, issuer, audience and times were checked.
    pub id_token_claims: Map<String, Value>,
}

// The tests include this file as a module and call `run` directly, so `main` and
// `cli` go unused there.
#[cfg_attr(test, allow(dead_code))]
fn main() -> ExitCode {
    match cli() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("service_account: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the arguments and runs the program.
#[cfg_attr(test, allow(dead_code))]
fn cli() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let key_file = args
        .next()
        .map(PathBuf::from)
        .ok_or("usage: service_account KEY_FILE [AUDIENCE]")?;
    let audience = args
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "https://example.com/my-service".to_owned());
    let certs_url = std::env::var("GAUTH_CERTS_URL").ok();

    let outcome = run(&key_file, &audience, certs_url.as_deref())?;
    println!("Service account {}", outcome.email);
    println!("Access token: {} characters", outcome.access_token_len);
    let claim = |name: &str| {
        outcome
            .id_token_claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    println!(
        "ID token verified: aud {}, iss {}, email {}",
        claim("aud"),
        claim("iss"),
        claim("email")
    );
    Ok(())
}

/// Gets an access token and an ID token for `audience` with the key in `key_file`, and
/// verifies the ID token against the certificates at `certs_url` (Google's when `None`).
pub fn run(
    key_file: &Path,
    audience: &str,
    certs_url: Option<&str>,
) -> Result<Outcome, Box<dyn Error>> {
    // The key is parsed once; each token costs one RS256 signature and one request.
    let sa = ServiceAccountCredentials::from_file(key_file)?.with_scopes(SCOPES);
    let email = sa.service_account_email().to_owned();

    // ID tokens come from the same key, with a `target_audience` instead of scopes.
    let id_creds = Credentials::new(sa.id_token_credentials(audience));

    // The handle caches the token and refreshes it shortly before it expires: keep one
    // (it is cheap to clone) and call `token()` before each request.
    let creds = Credentials::new(sa);
    let token = creds.token_details()?;
    let lifetime = token
        .expiry
        .and_then(|e| e.duration_since(std::time::SystemTime::now()).ok())
        .map_or(0, |d| d.as_secs());
    eprintln!("Access token received, valid for {lifetime} s");

    let id_token = id_creds.token()?;

    // What the receiving service does: check the signature against Google's certificates
    // (fetched once, then cached as long as Google's Cache-Control allows), the issuer, the
    // audience and the expiry.
    let mut verifier = IdTokenVerifier::new(audience);
    if let Some(url) = certs_url {
        verifier = verifier.with_certs_url(
            url.parse()
                .map_err(|e| format!("certificates URL {url}: {e}"))?,
        );
    }
    let id_token_claims = verifier.verify(id_token.expose())?;

    Ok(Outcome {
        email,
        access_token_len: token.access_token.expose().len(),
        id_token_claims,
    })
}
