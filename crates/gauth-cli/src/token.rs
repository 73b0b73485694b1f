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
    let loaded = match &args.impersonate_service_account {
        None => credentials::load_for(
            &args.creds,
            &args.scopes,
            args.subject.as_deref(),
            args.audience.as_deref(),
        )?,
        Some(spec) => {
            if args.subject.is_some() {
                return Err(
                    "--subject cannot be combined with --impersonate-service-account".into(),
                );
            }
            let source = credentials::load_for(&args.creds, &[], None, None)?;
            crate::federation::impersonate(
                source,
                spec,
                &args.scopes,
                args.audience.as_deref(),
                args.iam_url.as_deref(),
                &args.creds,
            )?
        }
    };
    let loaded = match &args.access_boundary {
        None => loaded,
        Some(file) => {
            if args.audience.is_some() {
                return Err("--access-boundary downscopes access tokens; it cannot be combined with --audience".into());
            }
            crate::federation::downscope(loaded, file, args.sts_url.as_deref(), &args.creds)?
        }
    };
    let creds = &loaded.credentials;
    let token = creds.token_details().map_err(|e| e.to_string())?;
    let secret = token.access_token.expose();
    match (output, args.json) {
        (Output::Header, _) => println!("Authorization: Bearer {secret}"),
        (Output::Token, false) => println!("{secret}"),
        (Output::Token, true) => {
            let v = serde_json::json!({
                "token": secret,
                "expiry": token.expiry.map(|e| humantime::format_rfc3339_seconds(e).to_string()),
                "scopes": token.scopes,
                "type": creds.kind(),
            });
            println!("{v}");
        }
    }
    Ok(())
}
