//! `gauth info`: asks the tokeninfo endpoint about a token and prints its JSON.

use gauth::Secret;
use gauth::{GOOGLE_TOKENINFO_URI, TokenInfoCall};

use crate::args::InfoArgs;
use crate::credentials;
use crate::out::{self, Failure};

/// The field naming the tokeninfo endpoint in a credentials file (oauth2client's name).
const FIELD: &str = "token_info_uri";

pub fn info(args: &InfoArgs) -> Result<(), Failure> {
    let flag = match &args.tokeninfo_url {
        Some(u) => {
            Some(url::Url::parse(u).map_err(|e| format!("--tokeninfo-url: not a URL ({e})"))?)
        }
        None => None,
    };
    let (token, from_file) = match &args.token {
        Some(t) if t.trim().is_empty() => return Err("--token is empty".into()),
        Some(t) => {
            let url = match &flag {
                Some(_) => None,
                None => credentials::located_endpoint(&args.creds, FIELD)?,
            };
            (Secret::new(t.trim()), url)
        }
        None => {
            let loaded = credentials::load(&args.creds, &[])?;
            let url = match &flag {
                Some(_) => None,
                None => loaded.file_endpoint(FIELD, &args.creds)?,
            };
            let token = loaded.credentials.token().map_err(|e| e.to_string())?;
            (token.into(), url)
        }
    };
    let url = match flag.or(from_file) {
        Some(u) => u,
        None => url::Url::parse(GOOGLE_TOKENINFO_URI).map_err(|e| e.to_string())?,
    };
    let info =
        gauth::blocking::tokeninfo(&TokenInfoCall::new(url, token)).map_err(|e| e.to_string())?;
    out::json(&info.raw, false)
}
