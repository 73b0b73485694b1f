//! `gauth revoke`: revokes a token (the refresh token where there is one).

use gauth::{AuthorizedUser, Secret};
use gauth::{GOOGLE_REVOKE_URI, RevokeCall};

use crate::args::RevokeArgs;
use crate::credentials;
use crate::out::{self, Failure};

/// The field naming the revocation endpoint in a credentials file (oauth2client's name).
const FIELD: &str = "revoke_uri";

pub fn revoke(args: &RevokeArgs) -> Result<(), Failure> {
    let flag = match &args.revoke_url {
        Some(u) => Some(url::Url::parse(u).map_err(|e| format!("--revoke-url: not a URL ({e})"))?),
        None => None,
    };
    let google = || url::Url::parse(GOOGLE_REVOKE_URI).map_err(|e| e.to_string());
    let call = match &args.token {
        Some(t) if t.trim().is_empty() => return Err("--token is empty".into()),
        Some(t) => {
            let url = match flag {
                Some(u) => u,
                None => match credentials::located_endpoint(&args.creds, FIELD)? {
                    Some(u) => u,
                    None => google()?,
                },
            };
            RevokeCall::new(url, Secret::new(t.trim()))
        }
        None => {
            let loaded = credentials::load(&args.creds, &[])?;
            if args.revoke_url.is_none()
                && let Some(done) = crate::federation::revoke_workforce_user(&loaded)
            {
                done?;
                out::note("Revoked.");
                return Ok(());
            }
            let url = match flag {
                Some(u) => u,
                None => match loaded.file_endpoint(FIELD, &args.creds)? {
                    Some(u) => u,
                    None => google()?,
                },
            };
            match loaded.credentials.source::<AuthorizedUser>() {
                Some(user) => {
                    let secret = serde_json::from_str::<serde_json::Value>(&user.to_json())
                        .ok()
                        .and_then(|v| v["client_secret"].as_str().map(Secret::new));
                    let token: Secret = match user.refresh_token() {
                        Some(rt) => rt.into(),
                        None => loaded
                            .credentials
                            .token()
                            .map_err(|e| e.to_string())?
                            .into(),
                    };
                    RevokeCall::new(url, token).with_client(user.client_id().as_str(), secret)
                }
                None => {
                    let token = loaded.credentials.token().map_err(|e| e.to_string())?;
                    RevokeCall::new(url, token.into())
                }
            }
        }
    };
    gauth::blocking::revoke(&call).map_err(|e| e.to_string())?;
    out::note("Revoked.");
    Ok(())
}
