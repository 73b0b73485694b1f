//! Service-account key files and the RSA signer inside them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
use oauth_core::json::{self, Fields};
use oauth_core::{EndpointPolicy, Error as CoreError, Secret};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;
use url::Url;

use crate::Error;
use crate::crypto::Prepared;

/// The token endpoint google-auth puts in assertions' `aud`.
pub const GOOGLE_TOKEN_URI: &str = oauth_core::client_secrets::GOOGLE_TOKEN_URI;

/// An RSA private key, parsed once, that signs RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
///
/// Its Debug shows the key id only. Signing costs what ring's sign costs: nothing is
/// parsed again, and JWTs signed through jsonwebtoken's ring provider use this same parsed
/// key.
///
/// ```no_run
/// let key = oauth_sa::ServiceAccountKey::from_file("key.json")?;
/// let signature = key.signer().sign_bytes(b"data to sign")?;
/// assert_eq!(signature.len(), key.signer().signature_len());
/// # Ok::<(), oauth_sa::Error>(())
/// ```
pub struct Signer {
    prepared: Arc<Prepared>,
    key_id: Option<String>,
    /// The PEM's base64 lines, held as secrets so that the sanitiser redacts them from any
    /// text shown while the key lives.
    _material: Vec<Secret>,
    /// A digest of the private key: the secret a token store's sealing key is derived from
    /// (only a holder of the private key can compute it).
    store_secret: [u8; 32],
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .field("bits", &(self.signature_len() * 8))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Parses a PEM RSA private key: PKCS#8 (`BEGIN PRIVATE KEY`, what Google issues) or
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`). `origin` and `field` name it in errors, which never
    /// show the key.
    ///
    /// ```
    /// let e = oauth_sa::Signer::from_pem("not a key", None, "key.json", "private_key").unwrap_err();
    /// assert_eq!(e.to_string(), "key.json: invalid field `private_key`: no PEM private key found");
    /// ```
    pub fn from_pem(
        pem: &str,
        key_id: Option<String>,
        origin: &str,
        field: &str,
    ) -> Result<Signer, Error> {
        let invalid = |reason: String| {
            Error::Core(CoreError::InvalidField {
                origin: origin.to_owned(),
                field: field.to_owned(),
                reason,
            })
        };
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|_| invalid("no PEM private key found".into()))?;
        // jsonwebtoken names RSA keys by their PKCS#1 DER, which PKCS#8 wraps.
        let pkcs1 = match &der {
            PrivateKeyDer::Pkcs8(k) => crate::der::pkcs8_rsa_private_key(k.secret_pkcs8_der())
                .ok_or_else(|| {
                    invalid("not an RSA key; service-account keys are RSA (RS256)".into())
                })?,
            PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der(),
            PrivateKeyDer::Sec1(_) => {
                return Err(invalid(
                    "an EC key; service-account keys are RSA (RS256)".into(),
                ));
            }
            _ => return Err(invalid("an unsupported kind of PEM private key".into())),
        };
        let prepared = Prepared::rsa(pkcs1, Algorithm::RS256)
            .map_err(|e| invalid(format!("not a usable RSA key ({e})")))?;
        // The PKCS#1 form, so a key gives the same secret whichever PEM it came in.
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"gauth service-account store secret v1");
        ctx.update(pkcs1);
        let mut store_secret = [0u8; 32];
        store_secret.copy_from_slice(ctx.finish().as_ref());
        Ok(Signer {
            prepared: Arc::new(prepared),
            key_id,
            _material: key_material(pem),
            store_secret,
        })
    }

    /// The key id (`private_key_id`), sent as the JWT header's `kid`.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The secret a token store seals this key's tokens with: a digest of the private key.
    pub(crate) fn store_secret(&self) -> &[u8] {
        &self.store_secret
    }

    /// The length of a signature in bytes (the modulus length).
    pub fn signature_len(&self) -> usize {
        self.prepared.rsa_pair().public().modulus_len()
    }

    /// The RS256 signature of `message` (google-auth's `signer.sign`, used for signed URLs).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.prepared.sign(message).map_err(|_| Error::Signing)
    }

    /// The public key's modulus and exponent, big-endian without leading zeros (a JWK's
    /// `n` and `e`, for publishing the key).
    pub fn public_components(&self) -> (Vec<u8>, Vec<u8>) {
        let public = self.prepared.rsa_pair().public();
        let c = ring::signature::RsaPublicKeyComponents::<Vec<u8>>::from(public);
        (c.n, c.e)
    }

    /// The public key as PKCS#1 `RSAPublicKey` DER (what ring verifies with).
    pub fn public_key_der(&self) -> &[u8] {
        self.prepared.public_key()
    }

    /// The key as ring parsed it, with its jsonwebtoken key.
    pub(crate) fn prepared(&self) -> &Arc<Prepared> {
        &self.prepared
    }
}

/// The base64 body of a PEM key, line by line and whole, as secrets registered with the
/// sanitiser.
fn key_material(pem: &str) -> Vec<Secret> {
    let lines: Vec<&str> = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let mut out: Vec<Secret> = lines.iter().map(|l| Secret::new(*l)).collect();
    out.push(Secret::new(lines.concat()));
    out
}

/// A service-account key file, validated and with its private key parsed once.
///
/// Cheap to clone: the key is shared. Debug shows the email and key id, never the key.
///
/// ```no_run
/// let key = oauth_sa::ServiceAccountKey::from_file("key.json")?;
/// println!("{} ({:?})", key.client_email(), key.project_id());
/// # Ok::<(), oauth_sa::Error>(())
/// ```
#[derive(Clone)]
pub struct ServiceAccountKey {
    origin: Arc<str>,
    client_email: String,
    client_id: Option<String>,
    project_id: Option<String>,
    universe_domain: Option<String>,
    token_uri: Url,
    signer: Arc<Signer>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("origin", &self.origin)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.signer.key_id)
            .field("token_uri", &self.token_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads a key file with the default endpoint policy (Google's hosts and loopback).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_file_with(path, &EndpointPolicy::default())
    }

    /// Reads a key file, checking `token_uri` against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        json::load_file(path.as_ref(), policy, Self::from_value_with)
    }

    /// Parses key JSON; `origin` names it in errors.
    ///
    /// ```
    /// let e = oauth_sa::ServiceAccountKey::from_json(br#"{"type": "service_account"}"#, "key.json").unwrap_err();
    /// assert_eq!(e.to_string(), "key.json: missing field `client_email`");
    /// ```
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        json::load_json(bytes, origin, Self::from_value_with)
    }

    /// Reads an already parsed value (google-auth's `from_service_account_info`).
    ///
    /// Required: `client_email`, `private_key` (RSA, PKCS#8 or PKCS#1 PEM) and `token_uri`,
    /// as google-auth requires them; `type` must be `service_account` when present;
    /// `private_key_id` becomes the JWT `kid`.
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        let f = Fields::new(value, origin, "")?;
        f.expect_type("service_account")?;
        let client_email = f.required_str("client_email")?.to_owned();
        let key_id = f.optional_str("private_key_id")?.map(str::to_owned);
        // Read as a plain string: the value never enters an error.
        let pem = f.required_str("private_key")?;
        let universe_domain = f.optional_str("universe_domain")?.map(str::to_owned);
        let token_uri = policy.check(
            origin,
            "token_uri",
            f.required_str("token_uri")?,
            universe_domain.as_deref(),
        )?;
        let signer = Signer::from_pem(pem, key_id, origin, "private_key")?;
        Ok(ServiceAccountKey {
            origin: origin.into(),
            client_email,
            client_id: f.optional_str("client_id")?.map(str::to_owned),
            project_id: f.optional_str("project_id")?.map(str::to_owned),
            universe_domain,
            token_uri,
            signer: Arc::new(signer),
        })
    }

    /// Builds a key from its parts (for keys held elsewhere than a file).
    ///
    /// ```no_run
    /// # let pem = String::new();
    /// let key = oauth_sa::ServiceAccountKey::new(
    ///     "sa@project.iam.gserviceaccount.com", &pem, Some("key-id".into()),
    ///     "https://oauth2.googleapis.com/token".parse().unwrap())?;
    /// # Ok::<(), oauth_sa::Error>(())
    /// ```
    pub fn new(
        client_email: impl Into<String>,
        private_key_pem: &str,
        private_key_id: Option<String>,
        token_uri: Url,
    ) -> Result<Self, Error> {
        let signer = Signer::from_pem(private_key_pem, private_key_id, "key", "private_key")?;
        Ok(ServiceAccountKey {
            origin: "service-account key".into(),
            client_email: client_email.into(),
            client_id: None,
            project_id: None,
            universe_domain: None,
            token_uri,
            signer: Arc::new(signer),
        })
    }

    /// Where the key came from (a path, or the name given to a value).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The service account's email (`client_email`), the JWTs' issuer.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The service account's numeric id (`client_id`).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The project the service account belongs to (`project_id`).
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The universe domain (`googleapis.com` when absent).
    pub fn universe_domain(&self) -> &str {
        self.universe_domain.as_deref().unwrap_or("googleapis.com")
    }

    /// The token endpoint, checked against the endpoint policy.
    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }

    /// The key id (`private_key_id`).
    pub fn private_key_id(&self) -> Option<&str> {
        self.signer.key_id()
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The RS256 signature of `message` with the key (google-auth's `sign_bytes`).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.signer.sign_bytes(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use serde_json::json;

    fn load(v: &Value) -> Result<ServiceAccountKey, Error> {
        ServiceAccountKey::from_value_with(v, "key.json", &EndpointPolicy::default())
    }

    #[test]
    fn a_google_key_file_is_read_with_its_fields() {
        let k = key("https://oauth2.googleapis.com/token");
        assert_eq!(k.client_email(), "sa@test-project.iam.gserviceaccount.com");
        assert_eq!(k.private_key_id(), Some("test-kid"));
        assert_eq!(k.project_id(), Some("test-project"));
        assert_eq!(k.client_id(), Some("1234"));
        assert_eq!(k.universe_domain(), "googleapis.com");
        assert_eq!(k.signer().signature_len(), 256);
        let dbg = format!("{k:?}");
        assert!(
            dbg.contains("test-kid") && !dbg.contains("PRIVATE"),
            "{dbg}"
        );
    }

    #[test]
    fn pkcs8_and_pkcs1_pem_are_the_same_key() {
        // RSASSA-PKCS1-v1_5 is deterministic: the same key gives the same signature.
        let a = Signer::from_pem(RSA_PKCS8, None, "a", "k").unwrap();
        let b = Signer::from_pem(RSA_PKCS1, None, "b", "k").unwrap();
        assert!(RSA_PKCS1.contains("BEGIN RSA PRIVATE KEY"));
        assert_eq!(a.sign_bytes(b"msg").unwrap(), b.sign_bytes(b"msg").unwrap());
        let sig = a.sign_bytes(b"msg").unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            a.public_key_der(),
        )
        .verify(b"msg", &sig)
        .unwrap();
    }

    #[test]
    fn errors_name_the_field_and_never_show_the_key() {
        let mut v = key_json("https://oauth2.googleapis.com/token");
        v["type"] = json!("authorized_user");
        assert_eq!(
            load(&v).unwrap_err().to_string(),
            "key.json: unsupported credentials type `authorized_user`; supported: service_account"
        );
        for field in ["client_email", "private_key", "token_uri"] {
            let mut v = key_json("https://oauth2.googleapis.com/token");
            v.as_object_mut().unwrap().remove(field);
            assert_eq!(
                load(&v).unwrap_err().to_string(),
                format!("key.json: missing field `{field}`")
            );
        }
        // A damaged key: the message names the field, and no byte of the key.
        let mut v = key_json("https://oauth2.googleapis.com/token");
        let damaged = RSA_PKCS8.replace("MII", "MIJ");
        v["private_key"] = json!(damaged);
        let e = load(&v).unwrap_err().to_string();
        assert!(
            e.starts_with("key.json: invalid field `private_key`"),
            "{e}"
        );
        let body: String = RSA_PKCS8.lines().nth(3).unwrap().into();
        assert!(!e.contains(&body[..20]) && !e.contains("MIJ"), "{e}");
        v["private_key"] =
            json!("-----BEGIN PRIVATE KEY-----\nMIIsecretsecret\n-----END PRIVATE KEY-----\n");
        let e = load(&v).unwrap_err().to_string();
        assert!(!e.contains("secretsecret"), "{e}");
        v["private_key"] = json!(EC_PKCS8);
        let e = load(&v).unwrap_err().to_string();
        assert!(e.contains("`private_key`") && e.contains("RSA"), "{e}");
        v["private_key"] = json!(5);
        assert_eq!(
            load(&v).unwrap_err().to_string(),
            "key.json: invalid field `private_key`: expected a string"
        );
    }

    #[test]
    fn key_material_is_redacted_from_shown_text_while_the_key_lives() {
        let k = key("https://oauth2.googleapis.com/token");
        let line: String = RSA_PKCS8.lines().nth(5).unwrap().trim().into();
        let shown = oauth_core::sanitize::clean(&format!("echo: {line}"));
        assert_eq!(shown, "echo: [redacted]");
        drop(k);
    }

    #[test]
    fn a_files_universe_domain_does_not_widen_trust() {
        let mut v = key_json("https://oauth2.evil.example/token");
        v["universe_domain"] = json!("evil.example");
        assert!(matches!(
            load(&v).unwrap_err(),
            Error::Core(CoreError::UntrustedEndpoint { .. })
        ));
        v["universe_domain"] = json!("example");
        assert!(load(&v).is_err());
        let ok = ServiceAccountKey::from_value_with(
            &v,
            "key.json",
            &EndpointPolicy::default().allow_universe("evil.example"),
        )
        .unwrap();
        assert_eq!(ok.universe_domain(), "example");
    }

    #[test]
    fn token_uri_is_checked_against_the_endpoint_policy() {
        let v = key_json("https://evil.example/token");
        let e = load(&v).unwrap_err();
        assert!(
            matches!(e, Error::Core(CoreError::UntrustedEndpoint { .. })),
            "{e}"
        );
        let ok = ServiceAccountKey::from_value_with(
            &v,
            "key.json",
            &EndpointPolicy::default().allow_host("evil.example"),
        );
        assert!(ok.is_ok());
        assert!(load(&key_json("http://127.0.0.1:9/token")).is_ok());
    }
}
