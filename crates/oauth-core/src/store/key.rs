//! Which credential an entry belongs to, and sealing entries with the credential's secret.

use std::fmt;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf};

use super::StoredToken;
use crate::Error;

/// The salt of the sealing key's HKDF: a fixed, versioned label.
const SEAL_SALT: &[u8] = b"gauth token store seal v1";
/// The HKDF info label of a sealed name (the sealing key's info is the entry's name).
const SEALED_NAME_INFO: &[u8] = b"gauth token store name v1";
/// The HKDF info label of a secret derived for another credential.
const DERIVED_SECRET_INFO: &[u8] = b"gauth token store derived secret v1";
/// The first byte of a sealed entry: its format version.
const SEAL_VERSION: u8 = 1;

/// Which credential and scopes a store entry belongs to.
///
/// Its [`name`](TokenKey::name) is the hex SHA-256 of the credential type, its identity
/// (client ID, service-account email, ...) and its sorted scopes: stable across processes
/// and hosts, and revealing none of them. A key made [`with_secret`](TokenKey::with_secret)
/// can [`seal`](TokenKey::seal) an entry with AES-256-GCM under a key derived (HKDF-SHA256)
/// from the credential's own secret, so a store shared between hosts keeps entries that only
/// holders of the credential can open.
///
/// ```
/// use oauth_core::{Token, store::{StoredToken, TokenKey}};
/// let key = TokenKey::new("service_account", "sa@p.iam.gserviceaccount.com", ["b", "a"])
///     .with_secret(b"-----BEGIN PRIVATE KEY-----...");
/// assert_eq!(key.name(), TokenKey::new("service_account", "sa@p.iam.gserviceaccount.com", ["a", "b"]).name());
/// assert!(!key.name().contains("sa@p"));
/// let sealed = key.seal(&StoredToken::new(Token::bearer("ya29.a", None)))?;
/// assert!(!String::from_utf8_lossy(&sealed).contains("ya29"));
/// assert_eq!(key.open(&sealed)?.token.unwrap().access_token.expose(), "ya29.a");
/// let other = TokenKey::new("service_account", "sa@p.iam.gserviceaccount.com", ["a", "b"]).with_secret(b"another key");
/// assert!(other.open(&sealed).is_err());
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Clone)]
pub struct TokenKey(Arc<Inner>);

struct Inner {
    kind: String,
    identity: String,
    scopes: Vec<String>,
    name: String,
    sealing: Option<Sealing>,
}

/// What a key with a secret holds: the HKDF pseudo-random key and what it derives.
struct Sealing {
    prk: hkdf::Prk,
    aead: LessSafeKey,
    sealed_name: String,
}

/// An HKDF output length, for outputs that are not keys.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl TokenKey {
    /// The key of a credential of type `kind` (`authorized_user`, `service_account`, ...)
    /// and `identity`, for tokens of `scopes` (order and repeats do not matter).
    pub fn new<I, S>(kind: &str, identity: &str, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut scopes: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        scopes.sort();
        scopes.dedup();
        let mut ctx = digest::Context::new(&digest::SHA256);
        for part in [kind, identity]
            .into_iter()
            .chain(scopes.iter().map(String::as_str))
        {
            // Each part is length-prefixed, so no two lists of parts hash alike.
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        TokenKey(Arc::new(Inner {
            kind: kind.to_owned(),
            identity: identity.to_owned(),
            scopes,
            name: hex(ctx.finish().as_ref()),
            sealing: None,
        }))
    }

    /// The same key, able to seal and open entries with a key derived from `secret` (a
    /// service account's private key, an OAuth client's secret and refresh token), and
    /// named in shared stores by a [`sealed_name`](TokenKey::sealed_name) that only holders
    /// of the secret can compute.
    pub fn with_secret(self, secret: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, SEAL_SALT).extract(secret);
        let name = self.0.name.as_bytes();
        let aead = prk
            .expand(&[name], &AES_256_GCM)
            .ok()
            .map(|okm| LessSafeKey::new(UnboundKey::from(okm)));
        let mut digest = [0u8; 32];
        let named = prk
            .expand(&[SEALED_NAME_INFO, name], Len(digest.len()))
            .and_then(|okm| okm.fill(&mut digest))
            .is_ok();
        let sealing = aead.filter(|_| named).map(|aead| Sealing {
            prk,
            aead,
            sealed_name: hex(&digest),
        });
        self.replace_sealing(sealing)
    }

    /// The same key, with a secret derived from `parent`'s (HKDF, labelled with this key's
    /// name): for a credential whose tokens are obtained with another's, such as an
    /// impersonated service account and its source. Without a secret in `parent`, the key
    /// has none either (and is never kept in a shared store).
    ///
    /// ```
    /// use oauth_core::store::TokenKey;
    /// let source = TokenKey::new("service_account", "a@p.iam.gserviceaccount.com", ["s"]).with_secret(b"a's key");
    /// let target = TokenKey::new("impersonated_service_account", "b@p.iam.gserviceaccount.com", ["s"]);
    /// assert!(target.clone().with_secret_from(&source).can_seal());
    /// assert!(!target.with_secret_from(&TokenKey::new("metadata", "default", [""; 0])).can_seal());
    /// ```
    pub fn with_secret_from(self, parent: &TokenKey) -> Self {
        let Some(p) = &parent.0.sealing else {
            return self.replace_sealing(None);
        };
        let mut derived = [0u8; 32];
        let ok = p
            .prk
            .expand(
                &[DERIVED_SECRET_INFO, self.0.name.as_bytes()],
                Len(derived.len()),
            )
            .and_then(|okm| okm.fill(&mut derived))
            .is_ok();
        if ok {
            self.with_secret(&derived)
        } else {
            self.replace_sealing(None)
        }
    }

    fn replace_sealing(self, sealing: Option<Sealing>) -> Self {
        let inner = &self.0;
        TokenKey(Arc::new(Inner {
            kind: inner.kind.clone(),
            identity: inner.identity.clone(),
            scopes: inner.scopes.clone(),
            name: inner.name.clone(),
            sealing,
        }))
    }

    /// The credential type.
    pub fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The credential's identity (not secret: a client ID, an email).
    pub fn identity(&self) -> &str {
        &self.0.identity
    }

    /// The scopes, sorted; empty when the tokens are for no scopes in particular.
    pub fn scopes(&self) -> &[String] {
        &self.0.scopes
    }

    /// The entry's name in a shared store: 64 hex digits that reveal nothing.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The entry's name in a store shared with others (Redis): 64 hex digits derived
    /// (HKDF) from the credential's secret and [`name`](TokenKey::name), so that nobody
    /// without the secret can compute it, nor confirm a guess of the credential's identity
    /// or scopes from it. `None` for a key without a secret: such keys stay out of shared
    /// stores.
    ///
    /// ```
    /// use oauth_core::store::TokenKey;
    /// let key = TokenKey::new("service_account", "sa@p.iam.gserviceaccount.com", ["s"]);
    /// assert_eq!(key.sealed_name(), None);
    /// let a = key.clone().with_secret(b"one key");
    /// let b = key.with_secret(b"another key");
    /// assert_eq!(a.sealed_name().unwrap().len(), 64);
    /// assert_ne!(a.sealed_name(), b.sealed_name());
    /// assert_ne!(a.sealed_name(), Some(a.name()));
    /// ```
    pub fn sealed_name(&self) -> Option<&str> {
        self.0.sealing.as_ref().map(|s| s.sealed_name.as_str())
    }

    /// Whether the key can seal entries.
    pub fn can_seal(&self) -> bool {
        self.0.sealing.is_some()
    }

    /// The entry sealed: a version byte, a random nonce, then the AES-256-GCM ciphertext of
    /// its JSON with the key's name as associated data.
    pub fn seal(&self, entry: &StoredToken) -> Result<Vec<u8>, Error> {
        let key = self.sealing()?;
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::InvalidRequest("no randomness for a nonce".into()))?;
        let mut data = serde_json::to_vec(entry).map_err(|e| Error::json("token entry", &e))?;
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(self.0.name.as_bytes()),
            &mut data,
        )
        .map_err(|_| Error::InvalidRequest("the token entry cannot be sealed".into()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + data.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens an entry [sealed](TokenKey::seal) with this key. An entry sealed with another
    /// key, for another name, or altered in any way is an error.
    pub fn open(&self, sealed: &[u8]) -> Result<StoredToken, Error> {
        let key = self.sealing()?;
        let refused = || Error::InvalidJson {
            origin: "sealed token entry".into(),
            detail: "cannot be opened: another key, another entry, or altered".into(),
        };
        let (&version, rest) = sealed.split_first().ok_or_else(refused)?;
        if version != SEAL_VERSION || rest.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut data = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(self.0.name.as_bytes()), &mut data)
            .map_err(|_| refused())?;
        serde_json::from_slice(plain).map_err(|e| Error::json("sealed token entry", &e))
    }

    fn sealing(&self) -> Result<&LessSafeKey, Error> {
        self.0.sealing.as_ref().map(|s| &s.aead).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "the {} token key has no secret to seal entries with",
                self.0.kind
            ))
        })
    }
}

impl PartialEq for TokenKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for TokenKey {}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("kind", &self.0.kind)
            .field("identity", &self.0.identity)
            .field("scopes", &self.0.scopes)
            .field("name", &self.0.name)
            .field("can_seal", &self.0.sealing.is_some())
            .finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Token;

    #[test]
    fn names_differ_by_kind_identity_and_scopes_and_never_by_order() {
        let a = TokenKey::new("authorized_user", "id", ["x", "y"]);
        assert_eq!(a.name().len(), 64);
        assert_eq!(a, TokenKey::new("authorized_user", "id", ["y", "x", "x"]));
        assert_ne!(a, TokenKey::new("service_account", "id", ["x", "y"]));
        assert_ne!(a, TokenKey::new("authorized_user", "id2", ["x", "y"]));
        assert_ne!(a, TokenKey::new("authorized_user", "id", ["x"]));
        // Length prefixes keep part boundaries apart.
        assert_ne!(
            TokenKey::new("ab", "c", [""; 0]),
            TokenKey::new("a", "bc", [""; 0])
        );
    }

    #[test]
    fn sealed_entries_open_only_with_the_same_key_and_name_and_untouched() {
        let key = TokenKey::new("k", "i", ["s"]).with_secret(b"secret");
        let entry = StoredToken::new(Token::bearer("ya29.x", None));
        let sealed = key.seal(&entry).unwrap();
        assert_eq!(key.open(&sealed).unwrap(), entry);
        assert_ne!(sealed, key.seal(&entry).unwrap(), "a fresh nonce each time");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open(&tampered).is_err());
        let other_name = TokenKey::new("k", "i", ["t"]).with_secret(b"secret");
        assert!(other_name.open(&sealed).is_err());
        assert!(key.open(&[]).is_err());
        assert!(key.open(&[SEAL_VERSION, 1, 2]).is_err());
        let unsealed = TokenKey::new("k", "i", ["s"]);
        assert!(!unsealed.can_seal());
        assert!(unsealed.seal(&entry).is_err());
    }

    #[test]
    fn sealed_names_need_the_secret_and_tell_credentials_and_scopes_apart() {
        let sa =
            |secret: &[u8], scope: &str| TokenKey::new("k", "a@p", [scope]).with_secret(secret);
        let a = sa(b"key a", "s");
        assert_eq!(a.sealed_name(), sa(b"key a", "s").sealed_name());
        assert_ne!(a.sealed_name(), sa(b"key b", "s").sealed_name());
        assert_ne!(a.sealed_name(), sa(b"key a", "t").sealed_name());
        let name = a.sealed_name().unwrap();
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()) && name.len() == 64);
        assert!(!name.contains(a.name()));
    }

    #[test]
    fn derived_secrets_follow_the_parent_and_differ_from_it() {
        let parent = TokenKey::new("service_account", "a@p", ["s"]).with_secret(b"a's key");
        let other = TokenKey::new("service_account", "a@p", ["s"]).with_secret(b"another");
        let child = || TokenKey::new("impersonated_service_account", "b@p", ["s"]);
        let c = child().with_secret_from(&parent);
        assert_eq!(
            c.sealed_name(),
            child().with_secret_from(&parent).sealed_name()
        );
        assert_ne!(
            c.sealed_name(),
            child().with_secret_from(&other).sealed_name()
        );
        assert_ne!(c.sealed_name(), parent.sealed_name());
        let entry = StoredToken::new(Token::bearer("ya29.x", None));
        assert!(
            child()
                .with_secret_from(&other)
                .open(&c.seal(&entry).unwrap())
                .is_err()
        );
        assert!(
            !child()
                .with_secret_from(&TokenKey::new("m", "d", [""; 0]))
                .can_seal()
        );
    }
}
