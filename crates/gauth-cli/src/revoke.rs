//! `gauth revoke`: revokes a token (the refresh token where there is one).

use gauth::{AuthorizedUser, Secret};
use oauth_flow::{GOOGLE_REVOKE_URI, RevokeCall};

use crate::args::RevokeArgs;

pub fn revoke(args: &RevokeArgs) -> Result<(), String> {
    let url = args.revoke_url.as_deref().unwrap_or(GOOGLE_REVOKE_URI);
    let url = url::Url::parse(url).map_err(|e| format!("--revoke-url: not a URL ({e})"))?;
    let call = match &args.token {
        Some(t) if t.trim().is_empty() => return Err("--token: is empty".into()),
        Some(t) => RevokeCall::new(url, Secret::new(t.trim())),
        None => {
            let loaded = crate::credentials::load(&args.creds, &[])?;
            if args.revoke_url.is_none()
                && let Some(done) = crate::federation::revoke_workforce_user(&loaded)
            {
                done?;
                eprintln!("Revoked.");
                return Ok(());
            }
            match loaded.credentials.source::<AuthorizedUser>() {
                Some(user) => {
                    let secret = serde_json::from_str::<serde_json::Value>(&user.to_json())
                        .ok()
                        .and_then(|v| v["client_secret"].as_str().map(Secret::new));
                    let token = match user.refresh_token() {
                        Some(rt) => rt,
                        None => loaded.credentials.token().map_err(|e| e.to_string())?,
                    };
                    RevokeCall::new(url, token).with_client(user.client_id(), secret)
                }
                None => {
                    let token = loaded.credentials.token().map_err(|e| e.to_string())?;
                    RevokeCall::new(url, token)
                }
            }
        }
    };
    oauth_flow::blocking::revoke(&call).map_err(|e| e.to_string())?;
    eprintln!("Revoked.");
    Ok(())
}
