//! What tests and the demo need to run workload identity federation against the emulator:
//! the pools' audiences, credential configuration files in google-auth's format whose
//! sources are the emulator's (its URL subject-token source, its AWS metadata stand-in, a
//! token file or an executable), and `external_account_authorized_user` files.

use std::path::Path;

use serde_json::{Value, json};

use crate::server::Emulator;
use crate::sts::{PROJECT_NUMBER, WORKFORCE_POOL, WORKLOAD_POOL};

/// The workload pool's OIDC provider (URL, file and executable sources).
pub const OIDC_PROVIDER: &str = "gauth-emulator-oidc";
/// The workload pool's AWS provider.
pub const AWS_PROVIDER: &str = "gauth-emulator-aws";
/// The workforce pool's provider.
pub const WORKFORCE_PROVIDER: &str = "gauth-emulator-idp";

const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const AWS4: &str = "urn:ietf:params:aws:token-type:aws4_request";

/// The STS audience of one of the workload pool's providers.
///
/// ```
/// assert_eq!(
///     gauth_emulator::workload_audience("p"),
///     "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/gauth-emulator-pool/providers/p"
/// );
/// ```
pub fn workload_audience(provider: &str) -> String {
    format!(
        "//iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/{WORKLOAD_POOL}/providers/{provider}"
    )
}

/// The STS audience of the workforce pool's provider.
///
/// ```
/// assert!(gauth_emulator::workforce_audience().contains("/workforcePools/"));
/// ```
pub fn workforce_audience() -> String {
    format!(
        "//iam.googleapis.com/locations/global/workforcePools/{WORKFORCE_POOL}/providers/{WORKFORCE_PROVIDER}"
    )
}

/// Where an `external_account` file's subject token comes from.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum CredentialSource<'a> {
    /// The emulator's URL source (`Metadata: True`, JSON with `access_token`).
    Url,
    /// A file holding a subject token (see [`Emulator::mint_subject_token`]).
    File(&'a Path),
    /// An executable printing google-auth's executable response.
    Executable(&'a str),
    /// AWS: the emulator's IMDSv2 metadata stand-in.
    Aws,
}

impl Emulator {
    /// The STS token endpoint (`sts.googleapis.com/v1/token`).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.sts_uri().ends_with("/v1/token"));
    /// ```
    pub fn sts_uri(&self) -> String {
        format!("{}/v1/token", self.base_url())
    }

    /// The URL subject-token source.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.subject_token_url().ends_with("/external/subject-token"));
    /// ```
    pub fn subject_token_url(&self) -> String {
        format!("{}/external/subject-token", self.base_url())
    }

    /// The IAM Credentials generateAccessToken URL for `email`.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.impersonation_url("a@b.c").ends_with("/serviceAccounts/a@b.c:generateAccessToken"));
    /// ```
    pub fn impersonation_url(&self, email: &str) -> String {
        format!(
            "{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
            self.base_url()
        )
    }

    /// The AWS metadata stand-in's base (`.../latest`).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// assert!(emu.aws_metadata_url().ends_with("/latest"));
    /// ```
    pub fn aws_metadata_url(&self) -> String {
        format!("{}/latest", self.base_url())
    }

    /// An OIDC subject token from the emulator's identity provider for `audience` (for file
    /// and executable sources).
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// let t = emu.mint_subject_token(&gauth_emulator::workload_audience("gauth-emulator-oidc"));
    /// assert_eq!(t.split('.').count(), 3);
    /// ```
    pub fn mint_subject_token(&self, audience: &str) -> String {
        crate::sts::mint_subject_token(self.shared(), audience, crate::external::WORKLOAD_SUBJECT)
            .unwrap_or_default()
    }

    /// An `external_account` file (google-auth's format) against this emulator, with
    /// service-account impersonation of `impersonate` when given.
    ///
    /// ```
    /// use gauth_emulator::{CredentialSource, Emulator};
    /// let emu = Emulator::start(Default::default()).unwrap();
    /// let f = emu.external_account_file(CredentialSource::Aws, None);
    /// assert_eq!(f["credential_source"]["environment_id"], "aws1");
    /// assert_eq!(f["token_url"], emu.sts_uri());
    /// ```
    pub fn external_account_file(
        &self,
        source: CredentialSource<'_>,
        impersonate: Option<&str>,
    ) -> Value {
        let (provider, subject_token_type, credential_source) = match source {
            CredentialSource::Url => (
                OIDC_PROVIDER,
                JWT,
                json!({"url": self.subject_token_url(), "headers": {"Metadata": "True"},
                       "format": {"type": "json", "subject_token_field_name": "access_token"}}),
            ),
            CredentialSource::File(path) => (
                OIDC_PROVIDER,
                JWT,
                json!({"file": path.display().to_string()}),
            ),
            CredentialSource::Executable(command) => (
                OIDC_PROVIDER,
                JWT,
                json!({"executable": {"command": command, "timeout_millis": 5000}}),
            ),
            CredentialSource::Aws => {
                let base = self.aws_metadata_url();
                (
                    AWS_PROVIDER,
                    AWS4,
                    json!({
                        "environment_id": "aws1",
                        "region_url": format!("{base}/meta-data/placement/availability-zone"),
                        "url": format!("{base}/meta-data/iam/security-credentials"),
                        "imdsv2_session_token_url": format!("{base}/api/token"),
                        "regional_cred_verification_url":
                            "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                    }),
                )
            }
        };
        let mut file = json!({
            "type": "external_account",
            "audience": workload_audience(provider),
            "subject_token_type": subject_token_type,
            "token_url": self.sts_uri(),
            "credential_source": credential_source,
        });
        if let Some(email) = impersonate {
            file["service_account_impersonation_url"] = self.impersonation_url(email).into();
        }
        file
    }

    /// An `external_account_authorized_user` file for a workforce user of the emulator's
    /// workforce pool, signed in through the installed client.
    ///
    /// ```
    /// let emu = gauth_emulator::Emulator::start(Default::default()).unwrap();
    /// let f = emu.external_account_authorized_user_file();
    /// assert!(f["token_url"].as_str().unwrap().ends_with("/v1/oauthtoken"));
    /// ```
    pub fn external_account_authorized_user_file(&self) -> Value {
        let client = self
            .config()
            .clients
            .iter()
            .find(|c| c.kind == crate::ClientKind::Installed)
            .or_else(|| self.config().clients.first());
        let (id, secret) = client.map_or((String::new(), String::new()), |c| {
            (c.client_id.clone(), c.client_secret.clone())
        });
        let (refresh, _) = crate::sts::workforce_user(self.shared(), &id, "workforce-user");
        json!({
            "type": "external_account_authorized_user",
            "audience": workforce_audience(),
            "refresh_token": refresh,
            "token_url": format!("{}/v1/oauthtoken", self.base_url()),
            "token_info_url": format!("{}/v1/introspect", self.base_url()),
            "revoke_url": format!("{}/v1/revoke", self.base_url()),
            "client_id": id,
            "client_secret": secret,
            "universe_domain": "googleapis.com",
        })
    }
}
