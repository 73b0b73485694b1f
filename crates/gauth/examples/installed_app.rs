//! A command-line program that signs a user in with Google and prints their email address
//! (blocking flavour): the Rust edition of Python's `InstalledAppFlow.run_local_server`
//! quickstart.
//!
//! ```text
//! cargo run -p gauth --example installed_app -- [CLIENT_SECRETS] [TOKEN_FILE]
//! ```
//!
//! - `CLIENT_SECRETS`: the "Desktop app" client file downloaded from the Google Cloud
//!   console (default `client_secrets.json`). Its `auth_uri` and `token_uri` say where the
//!   sign-in happens: Google's, or `gauth emulator`'s (`gauth emulator` writes one).
//! - `TOKEN_FILE`: where the signed-in credentials are kept (default
//!   `authorized_user.json` in gauth's folder of your config directory). The first run opens
//!   the browser; later runs reuse the file and refresh the token as needed, writing the
//!   refreshed token back.
//! - `GAUTH_DISCOVERY_URL` (optional): where discovery documents come from, with `{api}`
//!   and `{apiVersion}` placeholders; Google's discovery service by default.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gauth::blocking::{Credentials, InstalledAppFlow};
use gauth::discovery::BuildOptions;
use gauth::{AuthorizedUser, CredentialStore, EndpointPolicy, FileStore, LocalServerOptions};

/// What the program asks for: who the user is, nothing more.
pub const SCOPES: [&str; 2] = ["openid", "https://www.googleapis.com/auth/userinfo.email"];

/// What a run found out.
#[derive(Debug)]
pub struct Outcome {
    /// The signed-in user's email address, from the userinfo API.
    pub email: String,
    /// Whether this run had to sign the user in (false: the stored credentials served).
    pub signed_in: bool,
}

// The tests include this file as a module and call `run` directly, so `main` and
// `cli` go unused there.
#[cfg_attr(test, allow(dead_code))]
fn main() -> ExitCode {
    match cli() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("installed_app: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the arguments and runs the program.
#[cfg_attr(test, allow(dead_code))]
fn cli() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let client_secrets = args
        .next()
        .map_or_else(|| PathBuf::from("client_secrets.json"), PathBuf::from);
    let store = match args.next() {
        Some(path) => FileStore::new(path),
        None => gauth::default_store()?,
    };
    let mut discovery = BuildOptions::default();
    if let Ok(url) = std::env::var("GAUTH_DISCOVERY_URL") {
        discovery = discovery.discovery_url(url);
    }

    // Opens the user's browser and also prints the URL, for a browser on another screen.
    let outcome = run(
        &client_secrets,
        &store,
        &discovery,
        LocalServerOptions::default(),
    )?;
    if outcome.signed_in {
        println!("Signed in; credentials saved to {}", store.path().display());
    } else {
        println!("Using the credentials in {}", store.path().display());
    }
    println!("You are {}", outcome.email);
    Ok(())
}

/// Signs the user in (or reuses the stored credentials) and asks the userinfo API who they
/// are. `browser` says how the sign-in reaches the user: by default it opens their browser.
pub fn run(
    client_secrets: &Path,
    store: &FileStore,
    discovery: &BuildOptions,
    browser: LocalServerOptions,
) -> Result<Outcome, Box<dyn Error>> {
    let (creds, signed_in) = match stored_credentials(store)? {
        Some(creds) => (creds, false),
        None => (sign_in(client_secrets, store, browser)?, true),
    };

    // The oauth2 v2 API's discovery document describes `userinfo.get`; the call carries the
    // credentials' access token, refreshed first if it is about to expire.
    let oauth2 = gauth::blocking::build_with("oauth2", "v2", Some(creds), discovery)?;
    let me = oauth2.method("userinfo.get")?.execute()?;
    let email = me["email"]
        .as_str()
        .ok_or("the userinfo answer has no email (was the email scope granted?)")?
        .to_owned();
    Ok(Outcome { email, signed_in })
}

/// The credentials saved by an earlier run, if they still work.
fn stored_credentials(store: &FileStore) -> Result<Option<Credentials>, Box<dyn Error>> {
    // The default policy trusts only Google's hosts and loopback (the emulator) as token
    // endpoints: a file naming another host is refused rather than sent a refresh token.
    let Some(user) = store.load(&EndpointPolicy::default())? else {
        return Ok(None);
    };
    // Every refresh is written back to the store's file, under its lock.
    let creds = Credentials::builder(user).store(store.clone()).build();
    // A token now (refreshed if needed) tells whether the user's grant still stands.
    match creds.token() {
        Ok(_) => Ok(Some(creds)),
        // The user revoked access, or the refresh token expired: sign in again.
        Err(e) if e.oauth().is_some_and(|o| o.error == "invalid_grant") => {
            eprintln!("The stored credentials no longer work ({e}); signing in again.");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The installed-app flow: a one-shot server on 127.0.0.1 receives Google's redirect, the
/// code is exchanged with PKCE, and the credentials are saved for the next run.
fn sign_in(
    client_secrets: &Path,
    store: &FileStore,
    browser: LocalServerOptions,
) -> Result<Credentials, Box<dyn Error>> {
    let mut flow = InstalledAppFlow::from_client_secrets_file(client_secrets, SCOPES)?;
    let user: AuthorizedUser = flow.run_local_server(browser)?;
    store.save(&user)?;
    let expires_in = user
        .token()
        .and_then(|t| t.expiry)
        .and_then(|e| e.duration_since(std::time::SystemTime::now()).ok());
    // Lengths and lifetimes only: tokens are secrets and never printed.
    eprintln!(
        "Received an access token ({} characters, valid for {} s) and {}",
        user.token().map_or(0, |t| t.access_token.expose().len()),
        expires_in.map_or(0, |d| d.as_secs()),
        if user.refresh_token().is_some() {
            "a refresh token"
        } else {
            "no refresh token"
        }
    );
    // From now on every refresh is written back to the store's file, under its lock.
    Ok(Credentials::builder(user).store(store.clone()).build())
}
