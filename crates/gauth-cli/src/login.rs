//! `gauth login`: the installed-app flow on a loopback server.

use std::path::Path;

use gauth::blocking::InstalledAppFlow;
use gauth::{AuthorizedUser, ClientSecrets, EndpointPolicy};
use gauth::{CredentialStore, FileStore, LocalServerOptions, LoopbackHost};
use serde_json::Value;

use crate::args::LoginArgs;
use crate::out::{self, Failure};

pub fn login(args: &LoginArgs) -> Result<(), Failure> {
    let policy = policy(&args.allow_endpoint);
    let client = ClientFile::read(&args.client_secrets, &policy)?;
    let host: LoopbackHost = args
        .host
        .parse()
        .map_err(|e: gauth::FlowError| e.to_string())?;
    let store = store(args.out.as_deref())?;
    let mut flow =
        InstalledAppFlow::from_client_secrets(client.secrets.clone(), args.scopes.iter().cloned());
    let options = LocalServerOptions::default()
        .host(host)
        .port(args.port)
        .open_browser(!args.no_browser)
        .timeout(args.timeout);
    let user = flow.run_local_server(options).map_err(|e| e.to_string())?;
    // The code is spent: save what it bought before anything else can fail.
    let user = client.annotate(user, &policy);
    store.save(&user).map_err(|e| e.to_string())?;
    out::note(&format!(
        "Signed in; credentials written to {}",
        store.path().display()
    ));
    Ok(())
}

/// The policy for endpoints in the client-secrets file.
pub fn policy(allow: &[String]) -> EndpointPolicy {
    allow
        .iter()
        .fold(EndpointPolicy::default(), |p, h| p.allow_host(h.as_str()))
}

/// The file named by `--out`, or the user's gauth credential store.
pub fn store(out: Option<&Path>) -> Result<FileStore, String> {
    match out {
        Some(p) => Ok(FileStore::new(p)),
        None => gauth::default_store().map_err(|e| e.to_string()),
    }
}

/// A client-secrets file, with the endpoints it names beyond the token endpoint.
pub struct ClientFile {
    pub secrets: ClientSecrets,
    /// The `installed` or `web` object.
    inner: Value,
    origin: String,
}

/// The endpoints a client-secrets file may name (oauth2client's names) that `gauth login`
/// and `gauth device` copy into the authorized-user file, for `gauth info` and
/// `gauth revoke`.
const CARRIED: [&str; 2] = ["revoke_uri", "token_info_uri"];

impl ClientFile {
    pub fn read(path: &Path, policy: &EndpointPolicy) -> Result<Self, String> {
        let value = gauth::read_json_file(path).map_err(|e| e.to_string())?;
        let origin = path.display().to_string();
        let secrets =
            ClientSecrets::from_value_with(&value, &origin, policy).map_err(|e| e.to_string())?;
        let inner = value
            .get(secrets.client_type.to_string())
            .cloned()
            .unwrap_or(Value::Null);
        let file = ClientFile {
            secrets,
            inner,
            origin,
        };
        // Checked now, so that a bad endpoint fails before the user signs in.
        for field in CARRIED {
            file.endpoint(field, policy)?;
        }
        Ok(file)
    }

    /// `field` (`device_uri`, `revoke_uri`, `token_info_uri`), checked against `policy`.
    pub fn endpoint(
        &self,
        field: &str,
        policy: &EndpointPolicy,
    ) -> Result<Option<url::Url>, String> {
        let path = format!("{}.{field}", self.secrets.client_type);
        let Some(raw) = self.inner.get(field) else {
            return Ok(None);
        };
        let text = raw
            .as_str()
            .ok_or_else(|| format!("{}: field `{path}` is not a string", self.origin))?;
        policy
            .check(&self.origin, &path, text, None)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// `user` with the client's `revoke_uri` and `token_info_uri` recorded in its file
    /// (fields google-auth ignores and keeps). Never fails: on any trouble, `user` as is.
    pub fn annotate(&self, user: AuthorizedUser, policy: &EndpointPolicy) -> AuthorizedUser {
        let endpoints: Vec<(&str, String)> = CARRIED
            .iter()
            .filter_map(|f| {
                let url = self.endpoint(f, policy).ok()??;
                Some((*f, url.to_string()))
            })
            .collect();
        if endpoints.is_empty() {
            return user;
        }
        let Ok(mut v) = serde_json::from_str::<Value>(&user.to_json()) else {
            return user;
        };
        let Some(map) = v.as_object_mut() else {
            return user;
        };
        map.insert("type".into(), "authorized_user".into());
        for (field, url) in endpoints {
            map.insert(field.into(), url.into());
        }
        AuthorizedUser::from_value_with(&v, "the signed-in user", policy).unwrap_or(user)
    }
}
