//! Test-only keys and the service-account key files every implementation reads.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// oauth-sa's test-only RSA key (2048 bits); it protects nothing.
pub const RSA_PKCS8_PEM: &str = include_str!("../../crates/oauth-sa/testdata/rsa_pkcs8.pem");
/// Its certificate, for ID-token verification.
pub const RSA_CERT_PEM: &str = include_str!("../../crates/oauth-sa/testdata/rsa_cert.pem");
/// The key id written in JWT headers and looked up in the certificates.
pub const KEY_ID: &str = "bench-key-1";
/// The service account's address.
pub const CLIENT_EMAIL: &str = "bench@gauth-bench.iam.gserviceaccount.com";
/// The scope every implementation asks for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The DER bytes of the PKCS#8 key.
pub fn pkcs8_der() -> Result<Vec<u8>, String> {
    let body: String = RSA_PKCS8_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| format!("test key is not base64: {e}"))
}

/// A service-account key file's JSON whose `token_uri` is `token_uri`.
pub fn key_json(token_uri: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "service_account",
        "project_id": "gauth-bench",
        "private_key_id": KEY_ID,
        "private_key": RSA_PKCS8_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "universe_domain": "googleapis.com",
    })
}

/// Writes the key file for `token_uri` under `dir`; returns its path.
pub fn write_key_file(dir: &Path, token_uri: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut name = String::from("sa-");
    name.extend(
        token_uri
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    let path = dir.join(format!("{name}.json"));
    let text = serde_json::to_string_pretty(&key_json(token_uri)).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}
