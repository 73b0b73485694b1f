//! `gauth token` and `gauth header`.

use serde_json::{Value, json};

use crate::args::TokenArgs;
use crate::credentials;
use crate::out::{self, Failure};

/// What to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Token,
    Header,
}

pub fn token(args: &TokenArgs, output: Output) -> Result<(), Failure> {
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
    let loaded = crate::cache::share(loaded, &args.cache)?;
    let creds = &loaded.credentials;
    let token = creds.token_details().map_err(|e| e.to_string())?;
    let secret = token.access_token.expose();
    let header = format!("Authorization: Bearer {secret}");
    if !args.json {
        return out::line(match output {
            Output::Token => secret,
            Output::Header => header.as_str(),
        });
    }
    // The scopes the server granted when it said; else what was asked for (or the file
    // records); else, on the metadata server, the instance's scopes. Always a list.
    let mut scopes: Vec<String> = token
        .scopes
        .as_ref()
        .filter(|s| !s.is_empty())
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .unwrap_or_else(|| loaded.scopes.clone());
    if scopes.is_empty() && args.audience.is_none() && loaded.source.is_metadata_server() {
        scopes = credentials::metadata_scopes(&loaded.source.location)?;
    }
    let mut v = json!({
        "token": secret,
        "expiry": token.expiry.map(gauth::clock::format_rfc3339),
        "scopes": scopes,
        "type": creds.kind(),
        "source": loaded.source.name,
        "source_location": loaded.source.location,
    });
    if let Some(aud) = &args.audience {
        v["audience"] = Value::from(aud.as_str());
    }
    if output == Output::Header {
        v["header"] = Value::from(header);
    }
    out::json(&v, false)
}
