//! `gauth info`: asks the tokeninfo endpoint about a token and prints its JSON.

use gauth::Secret;
use oauth_flow::{GOOGLE_TOKENINFO_URI, TokenInfoCall};

use crate::args::InfoArgs;

pub fn info(args: &InfoArgs) -> Result<(), String> {
    let url = args
        .tokeninfo_url
        .as_deref()
        .unwrap_or(GOOGLE_TOKENINFO_URI);
    let url = url::Url::parse(url).map_err(|e| format!("--tokeninfo-url: not a URL ({e})"))?;
    let token = match &args.token {
        Some(t) if t.trim().is_empty() => return Err("--token: is empty".into()),
        Some(t) => Secret::new(t.trim()),
        None => crate::credentials::load(&args.creds, &[])?
            .credentials
            .token()
            .map_err(|e| e.to_string())?
            .into(),
    };
    let info = oauth_flow::blocking::tokeninfo(&TokenInfoCall::new(url, token))
        .map_err(|e| e.to_string())?;
    println!("{}", info.raw);
    Ok(())
}
