//! `gauth device`: the device authorization grant (RFC 8628).

use gauth::blocking::DeviceFlow;
use gauth::{CredentialStore, DeviceAuthorization};

use crate::args::DeviceArgs;
use crate::login::{ClientFile, policy};
use crate::out::{self, Failure};

pub fn device(args: &DeviceArgs) -> Result<(), Failure> {
    let policy = policy(&args.allow_endpoint);
    let client = ClientFile::read(&args.client_secrets, &policy)?;
    let mut device =
        DeviceAuthorization::from_client_secrets(&client.secrets, args.scopes.iter().cloned());
    let url = match &args.device_url {
        Some(u) => Some(
            policy
                .check("the command line", "--device-url", u, None)
                .map_err(|e| e.to_string())?,
        ),
        None => client.endpoint("device_uri", &policy)?,
    };
    if let Some(url) = url {
        device = device.with_device_authorization_uri(url);
    }
    let store = crate::login::store(args.out.as_deref())?;
    let user = DeviceFlow::from(device)
        .run(|code| {
            out::note(&format!(
                "To sign in, open {} on any device",
                code.verification_url
            ));
            out::note(&format!("Enter the code {}", code.user_code));
            if let Some(complete) = &code.verification_url_complete {
                out::note(&format!("(or open {complete})"));
            }
            out::note("Waiting for approval...");
        })
        .map_err(|e| e.to_string())?;
    // The grant is spent: save what it bought before anything else can fail.
    let user = client.annotate(user, &policy);
    store.save(&user).map_err(|e| e.to_string())?;
    out::note(&format!(
        "Signed in; credentials written to {}",
        store.path().display()
    ));
    Ok(())
}
