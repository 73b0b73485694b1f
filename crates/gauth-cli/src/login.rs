//! `gauth login`: the installed-app flow on a loopback server.

use std::time::Duration;

use gauth::ClientSecrets;
use oauth_flow::blocking::InstalledAppFlow;
use oauth_flow::{FileStore, LocalServerOptions, LoopbackHost, TokenStore};

use crate::args::LoginArgs;

pub fn login(args: &LoginArgs) -> Result<(), String> {
    let policy = args
        .allow_endpoint
        .iter()
        .fold(gauth::EndpointPolicy::default(), |p, h| {
            p.allow_host(h.as_str())
        });
    let secrets =
        ClientSecrets::from_file_with(&args.client_secrets, &policy).map_err(|e| e.to_string())?;
    let host: LoopbackHost = args
        .host
        .parse()
        .map_err(|e: oauth_flow::FlowError| e.to_string())?;
    let store = store(args.out.as_deref())?;
    let mut flow = InstalledAppFlow::from_client_secrets(secrets, args.scopes.iter().cloned());
    let options = LocalServerOptions::default()
        .host(host)
        .port(args.port)
        .open_browser(!args.no_browser)
        .timeout(Duration::from_secs(args.timeout.max(1)));
    let user = flow.run_local_server(options).map_err(|e| e.to_string())?;
    store.save(&user).map_err(|e| e.to_string())?;
    eprintln!(
        "Signed in; credentials written to {}",
        store.path().display()
    );
    Ok(())
}

/// The file named by `--out`, or the user's gauth credential store.
pub fn store(out: Option<&std::path::Path>) -> Result<FileStore, String> {
    match out {
        Some(p) => Ok(FileStore::new(p)),
        None => FileStore::default_location().map_err(|e| e.to_string()),
    }
}
