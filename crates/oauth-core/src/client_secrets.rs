//! `client_secrets.json`: the OAuth client of an installed or web application.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::json::{self, Fields};
use crate::types::{AuthUrl, ClientId, ClientSecret, TokenUrl};
use crate::{EndpointPolicy, Error};

/// Google's authorization endpoint.
pub const GOOGLE_AUTH_URI: &str = "https://accounts.google.com/o/oauth2/auth";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const GOOGLE_REVOKE_URI: &str = "https://oauth2.googleapis.com/revoke";

/// The two client types a client-secrets file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    /// A web application (a server that keeps its secret).
    Web,
    /// An installed application (desktop or command line).
    Installed,
}

impl fmt::Display for ClientType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientType::Web => "web",
            ClientType::Installed => "installed",
        })
    }
}

/// A parsed and validated client-secrets file, as the Google Cloud console downloads it.
///
/// `client_id`, `auth_uri` and `token_uri` are required (google-auth-oauthlib requires the
/// same); `client_secret` may be absent for a public client that relies on PKCE. Endpoints
/// are checked against an [`EndpointPolicy`].
///
/// ```
/// use oauth_core::{ClientSecrets, ClientType};
/// let s = ClientSecrets::from_json(br#"{"installed": {
///     "client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-x",
///     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
///     "token_uri": "https://oauth2.googleapis.com/token",
///     "redirect_uris": ["http://localhost"]}}"#, "client_secrets.json").unwrap();
/// assert_eq!(s.client_type, ClientType::Installed);
/// assert!(!format!("{s:?}").contains("GOCSPX"));
/// let e = ClientSecrets::from_json(br#"{"other": {}}"#, "cs.json").unwrap_err();
/// assert!(e.to_string().contains("supported: web, installed"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecrets {
    /// Web or installed.
    pub client_type: ClientType,
    /// The client ID.
    pub client_id: ClientId,
    /// The client secret, absent for a public client.
    pub client_secret: Option<ClientSecret>,
    /// The authorization endpoint.
    pub auth_uri: AuthUrl,
    /// The token endpoint.
    pub token_uri: TokenUrl,
    /// The registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The registered JavaScript origins (web clients).
    pub javascript_origins: Vec<String>,
    /// The Cloud project, when the file names it.
    pub project_id: Option<String>,
    /// Where the file came from, for error messages.
    pub origin: String,
}

impl ClientSecrets {
    /// Reads a client-secrets file with the default endpoint policy.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_file_with(path, &EndpointPolicy::default())
    }

    /// Reads a client-secrets file, checking its endpoints against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        json::load_file(path.as_ref(), policy, Self::from_value_with)
    }

    /// Parses client-secrets JSON; `origin` names it in errors.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        json::load_json(bytes, origin, Self::from_value_with)
    }

    /// Reads an already parsed value (the Python `from_client_config`).
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        let top = Fields::new(value, origin, "")?;
        let (client_type, key) = if top.map().contains_key("web") {
            (ClientType::Web, "web")
        } else if top.map().contains_key("installed") {
            (ClientType::Installed, "installed")
        } else {
            let found = match top.map().get("type").and_then(Value::as_str) {
                Some(t) => t.to_owned(),
                None => top
                    .map()
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| "(empty object)".into()),
            };
            return Err(Error::UnknownType {
                origin: origin.to_owned(),
                found,
                supported: "web, installed (client secrets must be for a web or installed app)"
                    .into(),
            });
        };
        let c = top.object(key)?;
        let client_id = ClientId::new(c.required_str("client_id")?);
        let client_secret = c.optional_secret("client_secret")?.map(ClientSecret::new);
        let auth_uri = policy.check(
            origin,
            &c.path("auth_uri"),
            c.required_str("auth_uri")?,
            None,
        )?;
        let token_uri = policy.check(
            origin,
            &c.path("token_uri"),
            c.required_str("token_uri")?,
            None,
        )?;
        let redirect_uris = c.string_list("redirect_uris")?.unwrap_or_default();
        let javascript_origins = c.string_list("javascript_origins")?.unwrap_or_default();
        let project_id = c.optional_str("project_id")?.map(str::to_owned);
        Ok(ClientSecrets {
            client_type,
            client_id,
            client_secret,
            auth_uri: auth_uri.into(),
            token_uri: token_uri.into(),
            redirect_uris,
            javascript_origins,
            project_id,
            origin: origin.to_owned(),
        })
    }

    /// The file's JSON again (for saving a flow, or writing a test fixture).
    pub fn to_value(&self) -> Value {
        let mut inner = serde_json::Map::new();
        inner.insert("client_id".into(), self.client_id.as_str().into());
        if let Some(s) = &self.client_secret {
            inner.insert("client_secret".into(), s.expose().into());
        }
        inner.insert("auth_uri".into(), self.auth_uri.as_str().into());
        inner.insert("token_uri".into(), self.token_uri.as_str().into());
        if !self.redirect_uris.is_empty() {
            inner.insert("redirect_uris".into(), self.redirect_uris.clone().into());
        }
        if !self.javascript_origins.is_empty() {
            inner.insert(
                "javascript_origins".into(),
                self.javascript_origins.clone().into(),
            );
        }
        if let Some(p) = &self.project_id {
            inner.insert("project_id".into(), p.clone().into());
        }
        let mut top = serde_json::Map::new();
        top.insert(self.client_type.to_string(), Value::Object(inner));
        Value::Object(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ClientSecrets, Error> {
        ClientSecrets::from_json(s.as_bytes(), "cs.json")
    }

    const WEB: &str = r#"{"web":{"client_id":"id","project_id":"p","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","auth_provider_x509_cert_url":"https://www.googleapis.com/oauth2/v1/certs","client_secret":"GOCSPX-s","redirect_uris":["https://app.example/cb"],"javascript_origins":["https://app.example"]}}"#;

    #[test]
    fn web_clients_parse_with_every_field() {
        let s = parse(WEB).unwrap();
        assert_eq!(s.client_type, ClientType::Web);
        assert_eq!(s.client_id, "id");
        assert_eq!(s.client_secret.as_ref().unwrap().expose(), "GOCSPX-s");
        assert_eq!(s.redirect_uris, ["https://app.example/cb"]);
        assert_eq!(s.project_id.as_deref(), Some("p"));
        let again =
            ClientSecrets::from_value_with(&s.to_value(), "again", &EndpointPolicy::default())
                .unwrap();
        assert_eq!(again.client_id, s.client_id);
        assert_eq!(again.redirect_uris, s.redirect_uris);
    }

    #[test]
    fn missing_fields_are_named_with_their_path() {
        let e = parse(
            r#"{"installed":{"client_id":"x","token_uri":"https://oauth2.googleapis.com/token"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "cs.json: missing field `installed.auth_uri`");
        let e = parse(r#"{"installed":{"auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token"}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cs.json: missing field `installed.client_id`"
        );
        let e =
            parse(r#"{"installed":{"client_id":"","auth_uri":"a","token_uri":"b"}}"#).unwrap_err();
        assert!(
            e.to_string().contains("`installed.client_id`: is empty"),
            "{e}"
        );
        let e = parse(r#"{"installed":"x"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`installed`: expected a JSON object"),
            "{e}"
        );
        let e = parse(
            r#"{"installed":{"client_id":"x","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","redirect_uris":"http://localhost"}}"#,
        );
        assert_eq!(e.unwrap().redirect_uris, ["http://localhost"]);
    }

    #[test]
    fn other_types_list_the_supported_ones() {
        let e = parse(r#"{"type":"service_account","client_email":"x"}"#).unwrap_err();
        assert!(
            e.to_string().contains("`service_account`") && e.to_string().contains("web, installed"),
            "{e}"
        );
        let e = parse("[]").unwrap_err();
        assert!(e.to_string().contains("expected a JSON object"), "{e}");
        let e = parse("{").unwrap_err();
        assert!(e.to_string().contains("truncated JSON"), "{e}");
    }

    #[test]
    fn endpoints_are_checked() {
        let e = parse(r#"{"installed":{"client_id":"x","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://evil.example/token"}}"#).unwrap_err();
        assert!(
            matches!(e, Error::UntrustedEndpoint { ref field, .. } if field == "installed.token_uri"),
            "{e}"
        );
    }
}
