//! Newtypes for the OAuth 2.0 concepts, so that one cannot be passed where another was
//! expected: a [`CsrfState`] is not a [`PkceVerifier`], a [`TokenUrl`] is not an
//! [`AuthUrl`], and a [`ClientId`] is not a scope.
//!
//! Public values ([`ClientId`], [`Scope`], [`PkceChallenge`] and the four URL types) have
//! `Display`, `AsRef<str>` and a `Debug` that shows them. Secrets ([`ClientSecret`],
//! [`CsrfState`], [`PkceVerifier`], [`AuthorizationCode`], [`RefreshToken`],
//! [`AccessToken`]) wrap [`Secret`]: their `Debug` prints a redaction, they have no
//! `Display` and no `AsRef<str>`, and their text is reached only through `expose()`, so
//! every use of a secret says so. Every type parses with `FromStr` (URLs are checked; the
//! others take any text) and (de)serializes as a plain JSON string.
//!
//! ```
//! use oauth_core::types::{AccessToken, ClientId, Scope, TokenUrl};
//! let id: ClientId = "123.apps.googleusercontent.com".parse().unwrap();
//! let scopes: Vec<Scope> = ["openid", "email"].into_iter().map(Scope::new).collect();
//! let url: TokenUrl = "https://oauth2.googleapis.com/token".parse()?;
//! let token = AccessToken::new("ya29.a0");
//! assert_eq!(format!("{id} {} {url}", scopes[0]), "123.apps.googleusercontent.com openid https://oauth2.googleapis.com/token");
//! assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
//! assert_eq!(token.expose(), "ya29.a0");
//! # Ok::<(), oauth_core::Error>(())
//! ```

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

use crate::{Error, Secret};

/// An OAuth client's ID (`client_id`), as the Google Cloud console issues it.
///
/// ```
/// use oauth_core::types::ClientId;
/// let v = ClientId::new("123.apps.googleusercontent.com");
/// assert_eq!(v.to_string(), "123.apps.googleusercontent.com");
/// assert_eq!(v, "123.apps.googleusercontent.com");
/// assert_eq!(serde_json::to_string(&v).unwrap(), "\"123.apps.googleusercontent.com\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        ClientId(value.into())
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ClientId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ClientId {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(ClientId::new(s))
    }
}

impl From<String> for ClientId {
    fn from(value: String) -> Self {
        ClientId(value)
    }
}

impl From<&str> for ClientId {
    fn from(value: &str) -> Self {
        ClientId(value.to_owned())
    }
}

impl From<&String> for ClientId {
    fn from(value: &String) -> Self {
        ClientId(value.clone())
    }
}

impl PartialEq<str> for ClientId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ClientId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// One OAuth scope (`https://www.googleapis.com/auth/drive.readonly`, `openid`): a scope list is a `Vec<Scope>`, joined with spaces on the wire.
///
/// ```
/// use oauth_core::types::Scope;
/// let v = Scope::new("openid");
/// assert_eq!(v.to_string(), "openid");
/// assert_eq!(v, "openid");
/// assert_eq!(serde_json::to_string(&v).unwrap(), "\"openid\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(String);

impl Scope {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Scope(value.into())
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for Scope {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(Scope::new(s))
    }
}

impl From<String> for Scope {
    fn from(value: String) -> Self {
        Scope(value)
    }
}

impl From<&str> for Scope {
    fn from(value: &str) -> Self {
        Scope(value.to_owned())
    }
}

impl From<&String> for Scope {
    fn from(value: &String) -> Self {
        Scope(value.clone())
    }
}

impl PartialEq<str> for Scope {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Scope {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// The PKCE code challenge sent in the authorization URL (RFC 7636 section 4.2): public, derived from the [`PkceVerifier`].
///
/// ```
/// use oauth_core::types::PkceChallenge;
/// let v = PkceChallenge::new("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// assert_eq!(v.to_string(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// assert_eq!(v, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
/// assert_eq!(serde_json::to_string(&v).unwrap(), "\"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        PkceChallenge(value.into())
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PkceChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PkceChallenge {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for PkceChallenge {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(PkceChallenge::new(s))
    }
}

impl From<String> for PkceChallenge {
    fn from(value: String) -> Self {
        PkceChallenge(value)
    }
}

impl From<&str> for PkceChallenge {
    fn from(value: &str) -> Self {
        PkceChallenge(value.to_owned())
    }
}

impl From<&String> for PkceChallenge {
    fn from(value: &String) -> Self {
        PkceChallenge(value.clone())
    }
}

impl PartialEq<str> for PkceChallenge {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PkceChallenge {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// An authorization endpoint (`auth_uri` in client-secrets files).
///
/// ```
/// use oauth_core::types::AuthUrl;
/// let v: AuthUrl = "https://accounts.google.com/o/oauth2/auth".parse()?;
/// assert_eq!(v.as_str(), "https://accounts.google.com/o/oauth2/auth");
/// assert_eq!(v.url().scheme(), "https");
/// assert!("not a url".parse::<AuthUrl>().is_err());
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthUrl(Url);

impl AuthUrl {
    /// Wraps a parsed URL.
    pub fn new(url: Url) -> Self {
        AuthUrl(url)
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL, owned.
    pub fn into_url(self) -> Url {
        self.0
    }
}

impl fmt::Display for AuthUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl AsRef<str> for AuthUrl {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for AuthUrl {
    type Err = Error;
    /// Parses an absolute URL; the error names the `auth_url` argument.
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_url(s, "auth_url").map(AuthUrl)
    }
}

impl From<Url> for AuthUrl {
    fn from(url: Url) -> Self {
        AuthUrl(url)
    }
}

impl From<AuthUrl> for Url {
    fn from(value: AuthUrl) -> Url {
        value.0
    }
}

impl Serialize for AuthUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for AuthUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Url::parse(&s)
            .map(AuthUrl)
            .map_err(|_| serde::de::Error::custom("`auth_url` is not a URL"))
    }
}

/// A token endpoint (`token_uri`): where refresh tokens, codes and assertions are sent.
///
/// ```
/// use oauth_core::types::TokenUrl;
/// let v: TokenUrl = "https://oauth2.googleapis.com/token".parse()?;
/// assert_eq!(v.as_str(), "https://oauth2.googleapis.com/token");
/// assert_eq!(v.url().scheme(), "https");
/// assert!("not a url".parse::<TokenUrl>().is_err());
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenUrl(Url);

impl TokenUrl {
    /// Wraps a parsed URL.
    pub fn new(url: Url) -> Self {
        TokenUrl(url)
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL, owned.
    pub fn into_url(self) -> Url {
        self.0
    }
}

impl fmt::Display for TokenUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl AsRef<str> for TokenUrl {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for TokenUrl {
    type Err = Error;
    /// Parses an absolute URL; the error names the `token_url` argument.
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_url(s, "token_url").map(TokenUrl)
    }
}

impl From<Url> for TokenUrl {
    fn from(url: Url) -> Self {
        TokenUrl(url)
    }
}

impl From<TokenUrl> for Url {
    fn from(value: TokenUrl) -> Url {
        value.0
    }
}

impl Serialize for TokenUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for TokenUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Url::parse(&s)
            .map(TokenUrl)
            .map_err(|_| serde::de::Error::custom("`token_url` is not a URL"))
    }
}

/// A revocation endpoint (RFC 7009).
///
/// ```
/// use oauth_core::types::RevocationUrl;
/// let v: RevocationUrl = "https://oauth2.googleapis.com/revoke".parse()?;
/// assert_eq!(v.as_str(), "https://oauth2.googleapis.com/revoke");
/// assert_eq!(v.url().scheme(), "https");
/// assert!("not a url".parse::<RevocationUrl>().is_err());
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RevocationUrl(Url);

impl RevocationUrl {
    /// Wraps a parsed URL.
    pub fn new(url: Url) -> Self {
        RevocationUrl(url)
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL, owned.
    pub fn into_url(self) -> Url {
        self.0
    }
}

impl fmt::Display for RevocationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl AsRef<str> for RevocationUrl {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl FromStr for RevocationUrl {
    type Err = Error;
    /// Parses an absolute URL; the error names the `revocation_url` argument.
    fn from_str(s: &str) -> Result<Self, Error> {
        parse_url(s, "revocation_url").map(RevocationUrl)
    }
}

impl From<Url> for RevocationUrl {
    fn from(url: Url) -> Self {
        RevocationUrl(url)
    }
}

impl From<RevocationUrl> for Url {
    fn from(value: RevocationUrl) -> Url {
        value.0
    }
}

impl Serialize for RevocationUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for RevocationUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Url::parse(&s)
            .map(RevocationUrl)
            .map_err(|_| serde::de::Error::custom("`revocation_url` is not a URL"))
    }
}

/// A redirect URI registered for the client (`http://127.0.0.1:8080/` for a loopback flow).
///
/// Checked as a URL, but kept and sent as the text it was made from: authorization servers
/// compare redirect URIs as strings (RFC 6749 section 3.1.2), so `http://localhost` must
/// not become `http://localhost/` on the way out. A `RedirectUrl` made from a parsed
/// [`Url`] is that URL's text.
///
/// ```
/// use oauth_core::types::RedirectUrl;
/// let v: RedirectUrl = "http://127.0.0.1:8080/".parse()?;
/// assert_eq!(v.as_str(), "http://127.0.0.1:8080/");
/// assert_eq!(v.url().scheme(), "http");
/// let bare: RedirectUrl = "http://localhost".parse()?;
/// assert_eq!(bare.as_str(), "http://localhost");
/// assert!("not a url".parse::<RedirectUrl>().is_err());
/// # Ok::<(), oauth_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUrl {
    url: Url,
    text: String,
}

impl RedirectUrl {
    /// Wraps a parsed URL.
    pub fn new(url: Url) -> Self {
        let text = url.as_str().to_owned();
        RedirectUrl { url, text }
    }

    /// The URL, parsed.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URI as given (what is sent).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL, parsed and owned.
    pub fn into_url(self) -> Url {
        self.url
    }
}

impl fmt::Display for RedirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for RedirectUrl {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl FromStr for RedirectUrl {
    type Err = Error;
    /// Parses an absolute URL, keeping its text; the error names the `redirect_url`
    /// argument.
    fn from_str(s: &str) -> Result<Self, Error> {
        let url = parse_url(s, "redirect_url")?;
        Ok(RedirectUrl {
            url,
            text: s.to_owned(),
        })
    }
}

impl From<Url> for RedirectUrl {
    fn from(url: Url) -> Self {
        RedirectUrl::new(url)
    }
}

impl From<RedirectUrl> for Url {
    fn from(value: RedirectUrl) -> Url {
        value.url
    }
}

impl Serialize for RedirectUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for RedirectUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse()
            .map_err(|_| serde::de::Error::custom("`redirect_url` is not a URL"))
    }
}

/// An OAuth client's secret (`client_secret`).
///
/// A secret: `Debug` prints a redaction and the text is reached only through
/// [`ClientSecret::expose`].
///
/// ```
/// use oauth_core::types::ClientSecret;
/// let v = ClientSecret::new("GOCSPX-example");
/// assert_eq!(format!("{v:?}"), "ClientSecret([redacted])");
/// assert_eq!(v.expose(), "GOCSPX-example");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientSecret(Secret);

impl ClientSecret {
    /// Wraps a value.
    pub fn new(value: impl Into<Secret>) -> Self {
        ClientSecret(value.into())
    }

    /// The secret text. Never log or print it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The value as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// The value as a [`Secret`], owned.
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl FromStr for ClientSecret {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(ClientSecret::new(s))
    }
}

impl From<Secret> for ClientSecret {
    fn from(value: Secret) -> Self {
        ClientSecret(value)
    }
}

impl From<ClientSecret> for Secret {
    fn from(value: ClientSecret) -> Secret {
        value.0
    }
}

impl From<String> for ClientSecret {
    fn from(value: String) -> Self {
        ClientSecret(Secret::from(value))
    }
}

impl From<&str> for ClientSecret {
    fn from(value: &str) -> Self {
        ClientSecret(Secret::from(value))
    }
}

/// The `state` of an authorization request: random, checked on the redirect (RFC 6749 section 10.12).
///
/// A secret: `Debug` prints a redaction and the text is reached only through
/// [`CsrfState::expose`].
///
/// ```
/// use oauth_core::types::CsrfState;
/// let v = CsrfState::new("e3f1c2");
/// assert_eq!(format!("{v:?}"), "CsrfState([redacted])");
/// assert_eq!(v.expose(), "e3f1c2");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CsrfState(Secret);

impl CsrfState {
    /// Wraps a value.
    pub fn new(value: impl Into<Secret>) -> Self {
        CsrfState(value.into())
    }

    /// The secret text. Never log or print it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The value as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// The value as a [`Secret`], owned.
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl fmt::Debug for CsrfState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfState([redacted])")
    }
}

impl FromStr for CsrfState {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(CsrfState::new(s))
    }
}

impl From<Secret> for CsrfState {
    fn from(value: Secret) -> Self {
        CsrfState(value)
    }
}

impl From<CsrfState> for Secret {
    fn from(value: CsrfState) -> Secret {
        value.0
    }
}

impl From<String> for CsrfState {
    fn from(value: String) -> Self {
        CsrfState(Secret::from(value))
    }
}

impl From<&str> for CsrfState {
    fn from(value: &str) -> Self {
        CsrfState(Secret::from(value))
    }
}

/// The PKCE code verifier (RFC 7636 section 4.1): kept by the client, sent with the code.
///
/// A secret: `Debug` prints a redaction and the text is reached only through
/// [`PkceVerifier::expose`].
///
/// ```
/// use oauth_core::types::PkceVerifier;
/// let v = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
/// assert_eq!(format!("{v:?}"), "PkceVerifier([redacted])");
/// assert_eq!(v.expose(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PkceVerifier(Secret);

impl PkceVerifier {
    /// Wraps a value.
    pub fn new(value: impl Into<Secret>) -> Self {
        PkceVerifier(value.into())
    }

    /// The secret text. Never log or print it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The value as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// The value as a [`Secret`], owned.
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

impl FromStr for PkceVerifier {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(PkceVerifier::new(s))
    }
}

impl From<Secret> for PkceVerifier {
    fn from(value: Secret) -> Self {
        PkceVerifier(value)
    }
}

impl From<PkceVerifier> for Secret {
    fn from(value: PkceVerifier) -> Secret {
        value.0
    }
}

impl From<String> for PkceVerifier {
    fn from(value: String) -> Self {
        PkceVerifier(Secret::from(value))
    }
}

impl From<&str> for PkceVerifier {
    fn from(value: &str) -> Self {
        PkceVerifier(Secret::from(value))
    }
}

/// The authorization code a redirect carries (RFC 6749 section 4.1.2).
///
/// A secret: `Debug` prints a redaction and the text is reached only through
/// [`AuthorizationCode::expose`].
///
/// ```
/// use oauth_core::types::AuthorizationCode;
/// let v = AuthorizationCode::new("4/0Ab-example");
/// assert_eq!(format!("{v:?}"), "AuthorizationCode([redacted])");
/// assert_eq!(v.expose(), "4/0Ab-example");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthorizationCode(Secret);

impl AuthorizationCode {
    /// Wraps a value.
    pub fn new(value: impl Into<Secret>) -> Self {
        AuthorizationCode(value.into())
    }

    /// The secret text. Never log or print it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The value as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// The value as a [`Secret`], owned.
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode([redacted])")
    }
}

impl FromStr for AuthorizationCode {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(AuthorizationCode::new(s))
    }
}

impl From<Secret> for AuthorizationCode {
    fn from(value: Secret) -> Self {
        AuthorizationCode(value)
    }
}

impl From<AuthorizationCode> for Secret {
    fn from(value: AuthorizationCode) -> Secret {
        value.0
    }
}

impl From<String> for AuthorizationCode {
    fn from(value: String) -> Self {
        AuthorizationCode(Secret::from(value))
    }
}

impl From<&str> for AuthorizationCode {
    fn from(value: &str) -> Self {
        AuthorizationCode(Secret::from(value))
    }
}

/// A refresh token (RFC 6749 section 1.5); Google's start with `1//`.
///
/// A secret: `Debug` prints a redaction and the text is reached only through
/// [`RefreshToken::expose`].
///
/// ```
/// use oauth_core::types::RefreshToken;
/// let v = RefreshToken::new("1//0example");
/// assert_eq!(format!("{v:?}"), "RefreshToken([redacted])");
/// assert_eq!(v.expose(), "1//0example");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefreshToken(Secret);

impl RefreshToken {
    /// Wraps a value.
    pub fn new(value: impl Into<Secret>) -> Self {
        RefreshToken(value.into())
    }

    /// The secret text. Never log or print it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The value as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// The value as a [`Secret`], owned.
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

impl FromStr for RefreshToken {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(RefreshToken::new(s))
    }
}

impl From<Secret> for RefreshToken {
    fn from(value: Secret) -> Self {
        RefreshToken(value)
    }
}

impl From<RefreshToken> for Secret {
    fn from(value: RefreshToken) -> Secret {
        value.0
    }
}

impl From<String> for RefreshToken {
    fn from(value: String) -> Self {
        RefreshToken(Secret::from(value))
    }
}

impl From<&str> for RefreshToken {
    fn from(value: &str) -> Self {
        RefreshToken(Secret::from(value))
    }
}

/// An access token (RFC 6749 section 1.4); Google's start with `ya29.`.
///
/// A secret: `Debug` prints a redaction and the text is reached only through
/// [`AccessToken::expose`].
///
/// ```
/// use oauth_core::types::AccessToken;
/// let v = AccessToken::new("ya29.example");
/// assert_eq!(format!("{v:?}"), "AccessToken([redacted])");
/// assert_eq!(v.expose(), "ya29.example");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccessToken(Secret);

impl AccessToken {
    /// Wraps a value.
    pub fn new(value: impl Into<Secret>) -> Self {
        AccessToken(value.into())
    }

    /// The secret text. Never log or print it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The value as a [`Secret`].
    pub fn secret(&self) -> &Secret {
        &self.0
    }

    /// The value as a [`Secret`], owned.
    pub fn into_secret(self) -> Secret {
        self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl FromStr for AccessToken {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<Self, Infallible> {
        Ok(AccessToken::new(s))
    }
}

impl From<Secret> for AccessToken {
    fn from(value: Secret) -> Self {
        AccessToken(value)
    }
}

impl From<AccessToken> for Secret {
    fn from(value: AccessToken) -> Secret {
        value.0
    }
}

impl From<String> for AccessToken {
    fn from(value: String) -> Self {
        AccessToken(Secret::from(value))
    }
}

impl From<&str> for AccessToken {
    fn from(value: &str) -> Self {
        AccessToken(Secret::from(value))
    }
}

fn parse_url(s: &str, field: &str) -> Result<Url, Error> {
    Url::parse(s).map_err(|e| Error::InvalidField {
        origin: "argument".into(),
        field: field.to_owned(),
        reason: format!("not a URL ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_and_round_trip_through_json() {
        let t = RefreshToken::new("1//0secret");
        assert!(!format!("{t:?} {:?}", Some(&t)).contains("secret"));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"1//0secret\"");
        let back: RefreshToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        let s: Secret = back.into();
        assert_eq!(s.expose(), "1//0secret");
    }

    #[test]
    fn urls_are_checked_when_parsed_and_deserialized() {
        let e = "/relative".parse::<TokenUrl>().unwrap_err().to_string();
        assert!(e.contains("`token_url`"), "{e}");
        assert!(serde_json::from_str::<RedirectUrl>("\"nope\"").is_err());
        let u: AuthUrl =
            serde_json::from_str("\"https://accounts.google.com/o/oauth2/auth\"").unwrap();
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            "\"https://accounts.google.com/o/oauth2/auth\""
        );
    }

    #[test]
    fn public_values_compare_with_text() {
        let s = Scope::from("openid");
        assert_eq!(s, "openid");
        assert_eq!(s.as_ref(), "openid");
        assert_eq!("x".parse::<ClientId>().unwrap(), ClientId::new("x"));
    }
}
