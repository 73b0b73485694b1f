//! `gauth verify-id-token`: checks an ID token's signature, issuer, audience and expiry,
//! and prints its claims.

use std::io::Read;

use gauth::blocking::IdTokenVerifier;

use crate::args::VerifyArgs;
use crate::out::{self, Failure};

pub fn verify_id_token(args: &VerifyArgs) -> Result<(), Failure> {
    let token = if args.token == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the token from stdin: {e}"))?;
        s.trim().to_owned()
    } else {
        args.token.trim().to_owned()
    };
    let mut verifier = IdTokenVerifier::new(args.audience.clone());
    if let Some(url) = &args.certs_url {
        let url = url
            .parse()
            .map_err(|e| format!("--certs-url `{url}` is not a URL ({e})"))?;
        verifier = verifier.with_certs_url(url);
    }
    if !args.issuers.is_empty() {
        verifier = verifier.with_issuers(args.issuers.iter().cloned());
    }
    let claims = verifier.verify(&token).map_err(|e| e.to_string())?;
    out::json(&serde_json::Value::Object(claims), true)
}
