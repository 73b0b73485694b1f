//! `gauth token` and `gauth header`.

use crate::args::TokenArgs;
use crate::credentials;

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Token,
    Header,
}

pub fn token(args: &TokenArgs, output: Output) -> Result<(), String> {
    let loaded = credentials::load_for(
        &args.creds,
        &args.scopes,
        args.subject.as_deref(),
        args.audience.as_deref(),
    )?;
    let creds = &loaded.credentials;
    let token = creds.token_details().map_err(|e| e.to_string())?;
    let secret = token.access_token.expose();
    match (output, args.json) {
        (Output::Header, _) => println!("Authorization: Bearer {secret}"),
        (Output::Token, false) => println!("{secret}"),
        (Output::Token, true) => {
            let v = serde_json::json!({
                "token": secret,
                "expiry": token.expiry.map(gauth::clock::format_rfc3339),
                "scopes": token.scopes,
                "type": creds.kind(),
            });
            println!("{v}");
        }
    }
    Ok(())
}
