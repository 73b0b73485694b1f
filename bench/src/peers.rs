//! The peers behind one face: build a credential against the local token server, get a token.
//!
//! yup-oauth2 and gcp_auth read the service-account key file and post the JWT-bearer grant
//! to its `token_uri`. google-cloud-auth's service accounts never call a token endpoint (they
//! sign a JWT locally, AIP-4111), so where the token server is what is measured it runs with
//! authorized-user credentials (refresh-token grant to the file's `token_uri`).

use std::path::Path;
use std::sync::Arc;

use crate::fixtures::SCOPE;

/// The peers measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Yup,
    GcpAuth,
    GoogleCloudAuth,
}

impl Peer {
    pub const ALL: [Peer; 3] = [Peer::Yup, Peer::GcpAuth, Peer::GoogleCloudAuth];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Yup => "yup-oauth2",
            Peer::GcpAuth => "gcp_auth",
            Peer::GoogleCloudAuth => "google-cloud-auth",
        }
    }

    /// How long before expiry the peer refreshes.
    pub fn refresh_margin_secs(self) -> u64 {
        match self {
            Peer::Yup => 60,
            Peer::GcpAuth => 20,
            Peer::GoogleCloudAuth => 240,
        }
    }

    /// What kind of credential it is measured with.
    pub fn credential_note(self) -> &'static str {
        match self {
            Peer::Yup | Peer::GcpAuth => "service account, JWT-bearer grant",
            Peer::GoogleCloudAuth => "authorized user (its service accounts self-sign)",
        }
    }
}

/// A peer's credential, ready to hand out tokens.
#[derive(Clone)]
pub enum PeerCreds {
    Yup(Arc<yup_oauth2::authenticator::DefaultAuthenticator>),
    GcpAuth(Arc<gcp_auth::CustomServiceAccount>),
    GoogleCloudAuth(google_cloud_auth::credentials::AccessTokenCredentials),
}

/// The authorized-user file google-cloud-auth reads, for the token server's default grant.
pub fn authorized_user_json(token_uri: &str) -> serde_json::Value {
    let c = gauth_emulator::token_server::TokenServerConfig::default();
    serde_json::json!({
        "type": "authorized_user",
        "client_id": c.client_id,
        "client_secret": c.client_secret,
        "refresh_token": c.refresh_token,
        "token_uri": token_uri,
    })
}

impl PeerCreds {
    /// Constructs the credential the way its documentation shows, from the key file (or, for
    /// google-cloud-auth, the authorized-user JSON pointing at `token_uri`).
    pub async fn build(peer: Peer, key_file: &Path, token_uri: &str) -> Result<PeerCreds, String> {
        match peer {
            Peer::Yup => {
                let key = yup_oauth2::read_service_account_key(key_file)
                    .await
                    .map_err(|e| format!("yup-oauth2 key: {e}"))?;
                let auth = yup_oauth2::ServiceAccountAuthenticator::builder(key)
                    .build()
                    .await
                    .map_err(|e| format!("yup-oauth2 build: {e}"))?;
                Ok(PeerCreds::Yup(Arc::new(auth)))
            }
            Peer::GcpAuth => {
                let sa = gcp_auth::CustomServiceAccount::from_file(key_file)
                    .map_err(|e| format!("gcp_auth key: {e}"))?;
                Ok(PeerCreds::GcpAuth(Arc::new(sa)))
            }
            Peer::GoogleCloudAuth => {
                let creds = google_cloud_auth::credentials::user_account::Builder::new(
                    authorized_user_json(token_uri),
                )
                .with_scopes([SCOPE])
                .build_access_token_credentials()
                .map_err(|e| format!("google-cloud-auth build: {e}"))?;
                Ok(PeerCreds::GoogleCloudAuth(creds))
            }
        }
    }

    /// One token, dropped: what a caller pays per request.
    pub async fn token(&self) -> Result<(), String> {
        match self {
            PeerCreds::Yup(a) => a
                .token(&[SCOPE])
                .await
                .map(drop)
                .map_err(|e| format!("yup-oauth2: {e}")),
            PeerCreds::GcpAuth(sa) => {
                use gcp_auth::TokenProvider;
                sa.token(&[SCOPE])
                    .await
                    .map(drop)
                    .map_err(|e| format!("gcp_auth: {e}"))
            }
            PeerCreds::GoogleCloudAuth(c) => c
                .access_token()
                .await
                .map(drop)
                .map_err(|e| format!("google-cloud-auth: {e}")),
        }
    }
}
