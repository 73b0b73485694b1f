//! `gauth device`: the device authorization grant (RFC 8628).

use gauth::ClientSecrets;
use oauth_flow::blocking::DeviceFlow;
use oauth_flow::{DeviceAuthorization, TokenStore};

use crate::args::DeviceArgs;

pub fn device(args: &DeviceArgs) -> Result<(), String> {
    let policy = args
        .allow_endpoint
        .iter()
        .fold(gauth::EndpointPolicy::default(), |p, h| {
            p.allow_host(h.as_str())
        });
    let secrets =
        ClientSecrets::from_file_with(&args.client_secrets, &policy).map_err(|e| e.to_string())?;
    let mut device =
        DeviceAuthorization::from_client_secrets(&secrets, args.scopes.iter().cloned());
    if let Some(u) = &args.device_url {
        let url = policy
            .check("--device-url", "device-url", u, None)
            .map_err(|e| e.to_string())?;
        device = device.with_device_authorization_uri(url);
    }
    let store = crate::login::store(args.out.as_deref())?;
    let user = DeviceFlow::from(device)
        .run(|code| {
            eprintln!("To sign in, open {} on any device", code.verification_url);
            eprintln!("Enter the code {}", code.user_code);
            if let Some(complete) = &code.verification_url_complete {
                eprintln!("(or open {complete})");
            }
            eprintln!("Waiting for approval...");
        })
        .map_err(|e| e.to_string())?;
    store.save(&user).map_err(|e| e.to_string())?;
    eprintln!(
        "Signed in; credentials written to {}",
        store.path().display()
    );
    Ok(())
}
