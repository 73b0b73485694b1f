//! Verifying ID tokens against an issuer's certificates (JWKS or PEM), fetched sans-IO
//! and cached as `Cache-Control: max-age` allows. Signatures, `aud` and `iss` are checked by
//! jsonwebtoken (on ring, [`crate::jwt::RING_PROVIDER`]); the times by [`crate::jwt`]'s
//! exact reading of `iat`, `exp` and `nbf`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use oauth_core::exchange::Call;
use oauth_core::flavour::Flavour;
use oauth_core::http::{
    HttpRequest, HttpResponse, endpoint_label, error_from_response, get, to_uri,
};
use oauth_core::{Clock, Error as CoreError, RetryPolicy, Retrying, SystemClock};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, SubjectPublicKeyInfoDer};
use serde_json::{Map, Value};
use url::Url;

use crate::der::{self, SpkiKey};
use crate::jwt::{self, unb64};
use crate::{Error, IdTokenError};

/// Google's certificates for ID tokens, in the PEM (x509) form.
pub const GOOGLE_OAUTH2_CERTS_URL: &str = "https://www.googleapis.com/oauth2/v1/certs";
/// Google's certificates for ID tokens, in the JWKS form.
pub const GOOGLE_OAUTH2_JWKS_URL: &str = "https://www.googleapis.com/oauth2/v3/certs";
/// The issuers Google's ID tokens carry.
pub const GOOGLE_ISSUERS: [&str; 2] = ["accounts.google.com", "https://accounts.google.com"];
/// The clock skew allowed on `iat` and `exp` by default.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(10);

/// The least time between two early refetches of a verifier's certificates (an unknown
/// `kid` while cached certificates are still fresh), so that tokens naming made-up keys
/// cannot make every verification a fetch.
pub const EARLY_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// The algorithms an ID token may be signed with: google-auth's (RS256, ES256, ES384).
const ACCEPTED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::ES384];

/// What a key verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
}

impl KeyKind {
    fn accepts(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (KeyKind::Rsa, Algorithm::RS256)
                | (KeyKind::P256, Algorithm::ES256)
                | (KeyKind::P384, Algorithm::ES384)
        )
    }
}

#[derive(Clone)]
struct PublicKey {
    kind: KeyKind,
    key: DecodingKey,
}

impl PublicKey {
    fn from_spki(spki: &[u8]) -> Option<PublicKey> {
        Some(match der::spki_key(spki)? {
            SpkiKey::Rsa(pkcs1) => PublicKey {
                kind: KeyKind::Rsa,
                key: DecodingKey::from_rsa_der(pkcs1),
            },
            SpkiKey::P256(point) => PublicKey {
                kind: KeyKind::P256,
                key: DecodingKey::from_ec_der(point),
            },
            SpkiKey::P384(point) => PublicKey {
                kind: KeyKind::P384,
                key: DecodingKey::from_ec_der(point),
            },
            SpkiKey::Ed25519(_) => return None,
        })
    }
}

/// A certificate entry: a key, or why it could not be read.
#[derive(Clone)]
enum Entry {
    Key(PublicKey),
    Unreadable(String),
}

/// A set of public keys by key id, read from a JWKS document or from a map of key ids to
/// PEM certificates (what `https://www.googleapis.com/oauth2/v1/certs` serves).
///
/// The PEM form takes what google-auth takes: X.509 certificates of any version (v1 too),
/// SPKI public keys (`PUBLIC KEY`) and PKCS#1 RSA public keys (`RSA PUBLIC KEY`). An entry
/// that cannot be read does not spoil the others: it is kept as unreadable, and named in the
/// error of a token that no other key verifies.
///
/// ```
/// let jwks = br#"{"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
///   "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
/// let certs = oauth_sa::Certs::parse(jwks, "jwks.json").unwrap();
/// assert_eq!(certs.key_ids().collect::<Vec<_>>(), ["k1"]);
/// ```
#[derive(Clone, Default)]
pub struct Certs {
    keys: HashMap<String, Entry>,
}

/// The largest certificate set (PEM map or JWKS) gauth reads: 1 MiB (Google's are 2 KB).
pub const MAX_CERTS_BYTES: usize = 1 << 20;

impl fmt::Debug for Certs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certs")
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .field("unreadable", &self.unreadable().collect::<Vec<_>>())
            .finish()
    }
}

impl Certs {
    /// Parses either form: a JSON object with a `keys` array is a JWKS, any other object a
    /// map of key id to PEM certificate or public key. JWKs of kinds this crate does not
    /// verify with (other curves, `oct`) are skipped; an entry of a known kind that cannot
    /// be read is kept as unreadable. Only a document that is not such an object is an error.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Certs, Error> {
        let invalid = |reason: String| Error::InvalidCertificates {
            origin: origin.to_owned(),
            reason,
        };
        if bytes.len() > MAX_CERTS_BYTES {
            return Err(invalid(format!(
                "larger than {MAX_CERTS_BYTES} bytes, the most gauth reads of a certificate set"
            )));
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| {
            invalid(format!(
                "not JSON (line {} column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(map) = v else {
            return Err(invalid("expected a JSON object".into()));
        };
        let mut keys = HashMap::new();
        if let Some(list) = map.get("keys") {
            let list = list
                .as_array()
                .ok_or_else(|| invalid("`keys` is not an array".into()))?;
            for jwk in list {
                if let Some((kid, entry)) = from_jwk(jwk) {
                    keys.insert(kid, entry);
                }
            }
        } else {
            for (kid, pem) in &map {
                let entry = match pem.as_str() {
                    Some(pem) => from_pem(pem),
                    None => Entry::Unreadable("not a PEM string".into()),
                };
                keys.insert(kid.clone(), entry);
            }
        }
        Ok(Certs { keys })
    }

    /// The ids of the keys that can verify.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Key(_)))
            .map(|(k, _)| k.as_str())
    }

    /// The ids of the entries that could not be read, with why.
    pub fn unreadable(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys.iter().filter_map(|(k, e)| match e {
            Entry::Unreadable(why) => Some((k.as_str(), why.as_str())),
            Entry::Key(_) => None,
        })
    }

    /// Whether no key can verify.
    pub fn is_empty(&self) -> bool {
        self.key_ids().next().is_none()
    }

    /// Whether `kid` names an entry (readable or not).
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

fn from_jwk(jwk: &Value) -> Option<(String, Entry)> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    let kid = s("kid")?.to_owned();
    let unreadable = |why: &str| Some((kid.clone(), Entry::Unreadable(why.to_owned())));
    let b64 = |name: &str| s(name).and_then(unb64);
    let key = match s("kty")? {
        "RSA" => {
            let (Some(n), Some(e)) = (b64("n"), b64("e")) else {
                return unreadable("`n` or `e` is not base64url");
            };
            PublicKey {
                kind: KeyKind::Rsa,
                key: DecodingKey::from_rsa_raw_components(&n, &e),
            }
        }
        "EC" => {
            let (kind, size) = match s("crv") {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                _ => return None,
            };
            let (Some(x), Some(y)) = (b64("x"), b64("y")) else {
                return unreadable("`x` or `y` is not base64url");
            };
            if x.len() != size || y.len() != size {
                return unreadable("`x` or `y` is not a coordinate of the curve's size");
            }
            let point = [&[4u8][..], &x, &y].concat();
            PublicKey {
                kind,
                key: DecodingKey::from_ec_der(&point),
            }
        }
        _ => return None,
    };
    Some((kid, Entry::Key(key)))
}

/// A PEM certificate (any X.509 version), SPKI public key or PKCS#1 RSA public key, as
/// google-auth reads them (`cryptography`'s certificate and public-key loaders).
fn from_pem(pem: &str) -> Entry {
    let read = |key: Option<PublicKey>, what: &str| match key {
        Some(k) => Entry::Key(k),
        None => Entry::Unreadable(format!("not a readable {what}")),
    };
    if pem.contains("-----BEGIN CERTIFICATE-----") {
        let key = CertificateDer::from_pem_slice(pem.as_bytes())
            .ok()
            .and_then(|c| der::certificate_spki(&c).and_then(PublicKey::from_spki));
        return read(key, "certificate");
    }
    if let Some(pkcs1) = pem_section(pem, "RSA PUBLIC KEY") {
        let key = pkcs1.filter(|k| der::rsa_public_components(k).is_some());
        return read(
            key.map(|k| PublicKey {
                kind: KeyKind::Rsa,
                key: DecodingKey::from_rsa_der(&k),
            }),
            "RSA public key",
        );
    }
    let key = SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .ok()
        .and_then(|spki| PublicKey::from_spki(spki.as_ref()));
    read(key, "certificate or public key")
}

/// The bytes of the PEM section `label` (`None` when there is none; `Some(None)` when its
/// base64 does not decode). rustls-pki-types reads every other label gauth takes.
fn pem_section(pem: &str, label: &str) -> Option<Option<Vec<u8>>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let Some(len) = pem[start..].find(&end) else {
        return Some(None);
    };
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some(base64::engine::general_purpose::STANDARD.decode(body).ok())
}

/// How long a response may be cached: `max-age`, unless `no-store` or `no-cache`.
fn max_age(response: &HttpResponse) -> Option<Duration> {
    let mut age = None;
    for value in response.headers().get_all(http::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-store" || lower == "no-cache" {
                return None;
            }
            if let Some(n) = lower.strip_prefix("max-age=") {
                age = n
                    .trim_matches('"')
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
    }
    age
}

/// Certificates as fetched, with how long they may be kept.
#[derive(Debug, Clone)]
pub struct FetchedCerts {
    /// The keys.
    pub certs: Arc<Certs>,
    /// `Cache-Control: max-age`, when the server allowed caching.
    pub max_age: Option<Duration>,
}

/// One GET of a certificates URL, as a sans-IO [`Call`] (retried by [`Retrying`]).
///
/// ```
/// use oauth_core::exchange::Call;
/// let call = oauth_sa::CertsCall::new("http://127.0.0.1:1/certs".parse().unwrap());
/// assert_eq!(call.request().unwrap().uri(), "http://127.0.0.1:1/certs");
/// let resp = http::Response::builder().status(200)
///     .header("cache-control", "public, max-age=19845, must-revalidate")
///     .body(br#"{"keys": []}"#.to_vec().into()).unwrap();
/// let got = call.parse(resp).unwrap();
/// assert_eq!(got.max_age, Some(std::time::Duration::from_secs(19845)));
/// ```
#[derive(Debug, Clone)]
pub struct CertsCall {
    url: Url,
}

impl CertsCall {
    /// A call for `url`.
    pub fn new(url: Url) -> Self {
        CertsCall { url }
    }
}

impl Call for CertsCall {
    type Output = FetchedCerts;

    fn request(&self) -> Result<HttpRequest, CoreError> {
        let mut req = get(&self.url);
        req.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        Ok(req)
    }

    fn parse(&self, response: HttpResponse) -> Result<FetchedCerts, CoreError> {
        let endpoint = self.endpoint();
        if !response.status().is_success() {
            return Err(error_from_response(&endpoint, &response));
        }
        let certs =
            Certs::parse(response.body(), &endpoint).map_err(|e| CoreError::MalformedResponse {
                endpoint: endpoint.clone(),
                reason: match e {
                    Error::InvalidCertificates { reason, .. } => reason,
                    other => other.to_string(),
                },
            })?;
        Ok(FetchedCerts {
            certs: Arc::new(certs),
            max_age: max_age(&response),
        })
    }

    fn endpoint(&self) -> String {
        endpoint_label(&to_uri(&self.url))
    }
}

#[derive(Debug)]
struct Cached {
    certs: Arc<Certs>,
    until: SystemTime,
}

/// Verifies ID tokens (google-auth's `id_token.verify_token`): signature (RS256 or ES256,
/// never `none` or HMAC) with the key the header's `kid` names, `iss` among the accepted
/// issuers, `aud` among the expected audiences, `iat` and `exp` with a small clock skew.
///
/// The certificates are fetched through a sans-IO [`CertsCall`] by `verify` (blocking, or
/// async: the same name), over the verifier's client (the flavour's shared one unless
/// [`with_http_client`](Self::with_http_client) says otherwise), and kept as long as
/// `Cache-Control: max-age` allows; clones share the cache. A token whose `kid` the cached
/// certificates lack makes them be fetched again at once (keys rotate before `max-age` runs
/// out), at most once per [`EARLY_REFETCH_INTERVAL`].
///
/// Written once for both flavours; use it by its flavour's name:
/// `oauth_sa::IdTokenVerifier` (async) or `oauth_sa::blocking::IdTokenVerifier`.
///
/// ```no_run
/// # #[cfg(feature = "blocking")] {
/// let verifier = oauth_sa::blocking::IdTokenVerifier::new("https://my-service.example.com");
/// # let token = "";
/// let claims = verifier.verify(token)?;
/// println!("{}", claims["email"]);
/// # }
/// # Ok::<(), oauth_sa::Error>(())
/// ```
pub struct IdTokenVerifier<F: Flavour> {
    certs_url: Url,
    audiences: Vec<String>,
    issuers: Vec<String>,
    skew: Duration,
    clock: Arc<dyn Clock>,
    retry: RetryPolicy,
    cache: Arc<Mutex<Option<Cached>>>,
    last_refetch: Arc<Mutex<Option<SystemTime>>>,
    rules: Arc<Rules>,
    pub(crate) http: Arc<F::Client>,
}

impl<F: Flavour> Clone for IdTokenVerifier<F> {
    fn clone(&self) -> Self {
        IdTokenVerifier {
            certs_url: self.certs_url.clone(),
            audiences: self.audiences.clone(),
            issuers: self.issuers.clone(),
            skew: self.skew,
            clock: Arc::clone(&self.clock),
            retry: self.retry,
            cache: Arc::clone(&self.cache),
            last_refetch: Arc::clone(&self.last_refetch),
            rules: Arc::clone(&self.rules),
            http: Arc::clone(&self.http),
        }
    }
}

impl<F: Flavour> fmt::Debug for IdTokenVerifier<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenVerifier")
            .field("certs_url", &self.certs_url.as_str())
            .field("audiences", &self.audiences)
            .field("issuers", &self.issuers)
            .field("skew", &self.skew)
            .finish_non_exhaustive()
    }
}

/// jsonwebtoken's validation, one per accepted algorithm (a `Validation` names the
/// algorithms it allows, and they must share the key's family). Its time checks are off:
/// they read the system clock and round fractions, so gauth reads the times itself.
#[derive(Debug)]
struct Rules([Validation; 3]);

impl Rules {
    fn new(audiences: &[String], issuers: &[String]) -> Rules {
        Rules(ACCEPTED.map(|alg| {
            let mut v = Validation::new(alg);
            v.validate_exp = false;
            v.validate_nbf = false;
            v.leeway = 0;
            v.validate_aud = true;
            v.required_spec_claims = ["iss", "aud"].map(String::from).into();
            v.set_audience(audiences);
            v.set_issuer(issuers);
            v
        }))
    }

    fn for_alg(&self, alg: Algorithm) -> Option<&Validation> {
        ACCEPTED
            .iter()
            .position(|a| *a == alg)
            .and_then(|i| self.0.get(i))
    }
}

impl<F: Flavour> IdTokenVerifier<F> {
    /// A verifier of Google ID tokens for `audience`, with Google's PEM certificates.
    pub fn new(audience: impl Into<String>) -> Self {
        let audiences = vec![audience.into()];
        let issuers: Vec<String> = GOOGLE_ISSUERS.iter().map(|s| (*s).to_owned()).collect();
        IdTokenVerifier {
            certs_url: Url::parse(GOOGLE_OAUTH2_CERTS_URL).expect("a constant URL parses"),
            rules: Arc::new(Rules::new(&audiences, &issuers)),
            audiences,
            issuers,
            skew: DEFAULT_CLOCK_SKEW,
            clock: Arc::new(SystemClock),
            retry: RetryPolicy::default(),
            cache: Arc::new(Mutex::new(None)),
            last_refetch: Arc::new(Mutex::new(None)),
            http: F::shared_client(),
        }
    }

    /// Fetches certificates over another client (the flavour's shared one by default).
    pub fn with_http_client(mut self, http: Arc<F::Client>) -> Self {
        self.http = http;
        self
    }

    /// Fetches certificates from `url` (JWKS or PEM form) instead of Google's.
    pub fn with_certs_url(mut self, url: Url) -> Self {
        self.certs_url = url;
        self.cache = Arc::new(Mutex::new(None));
        self.last_refetch = Arc::new(Mutex::new(None));
        self
    }

    /// Accepts these issuers instead of Google's.
    pub fn with_issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.issuers = issuers.into_iter().map(Into::into).collect();
        self.rules = Arc::new(Rules::new(&self.audiences, &self.issuers));
        self
    }

    /// Accepts any of these audiences.
    pub fn with_audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self.rules = Arc::new(Rules::new(&self.audiences, &self.issuers));
        self
    }

    /// The clock skew allowed on `iat`, `exp` and `nbf` (10 s by default; google-auth's
    /// default is 0 s, a long-standing source of its "Token used too early" failures when
    /// the issuer's clock runs a little ahead). At any skew the verdict on the times is
    /// google-auth's at the same `clock_skew_in_seconds` ([`crate::jwt::check_times`]).
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The clock (for tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How failed certificate fetches are retried.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The certificates URL.
    pub fn certs_url(&self) -> &Url {
        &self.certs_url
    }

    /// Verifies `token` against `certs`, with no I/O; returns its claims.
    ///
    /// ```
    /// # #[cfg(feature = "async")] {
    /// let v = oauth_sa::IdTokenVerifier::new("aud");
    /// let none = "eyJhbGciOiJub25lIn0.eyJhdWQiOiJhdWQifQ.";
    /// let e = v.verify_with_certs(none, &oauth_sa::Certs::default()).unwrap_err();
    /// assert_eq!(e.to_string(), "invalid ID token: algorithm `none` is not accepted (RS256, ES256 and ES384 are)");
    /// # }
    /// ```
    pub fn verify_with_certs(
        &self,
        token: &str,
        certs: &Certs,
    ) -> Result<Map<String, Value>, Error> {
        crate::crypto::ensure_provider();
        let token = token.trim();
        // The key is chosen before jsonwebtoken reads the token, from `alg` and `kid` alone
        // (a light read: jsonwebtoken's own header type is read again inside `decode`).
        let header = light_header(token).ok_or_else(|| header_error(token))?;
        let alg = header.alg;
        let validation = self
            .rules
            .for_alg(alg)
            .ok_or_else(|| IdTokenError::UnsupportedAlgorithm(format!("{alg:?}")))?;
        let decode = |key: &PublicKey| {
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation)
                .map(|data| data.claims)
                .map_err(|e| jwt_error(&e, token))
        };
        let claims = match &header.kid {
            Some(kid) => match certs.keys.get(kid) {
                None => return Err(IdTokenError::UnknownKeyId(short(kid)).into()),
                Some(Entry::Unreadable(reason)) => {
                    return Err(IdTokenError::UnreadableCertificate {
                        kid: short(kid),
                        reason: reason.clone(),
                    }
                    .into());
                }
                Some(Entry::Key(key)) if !key.kind.accepts(alg) => {
                    return Err(IdTokenError::KeyAlgorithmMismatch(short(kid)).into());
                }
                Some(Entry::Key(key)) => decode(key)?,
            },
            None => {
                // google-auth tries every certificate when the header names none.
                let mut found = Err(IdTokenError::BadSignature);
                let keys = certs.keys.values().filter_map(|e| match e {
                    Entry::Key(k) if k.kind.accepts(alg) => Some(k),
                    _ => None,
                });
                for key in keys {
                    found = decode(key);
                    if !matches!(found, Err(IdTokenError::BadSignature)) {
                        break;
                    }
                }
                match found {
                    Err(IdTokenError::BadSignature) if certs.unreadable().next().is_some() => {
                        let mut unreadable: Vec<String> = certs
                            .unreadable()
                            .map(|(kid, why)| format!("`{}` ({why})", short(kid)))
                            .collect();
                        unreadable.sort();
                        return Err(IdTokenError::NoKeyVerifies { unreadable }.into());
                    }
                    other => other?,
                }
            }
        };
        self.check_claims(&claims)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Map<String, Value>) -> Result<(), IdTokenError> {
        // jsonwebtoken takes an array of issuers too; an ID token's `iss` is one string.
        if !claims.get("iss").is_some_and(Value::is_string) {
            return Err(IdTokenError::MissingClaim("iss"));
        }
        jwt::check_times(claims, self.clock.now(), self.skew)
    }

    /// The cached certificates, when still fresh.
    pub fn cached_certs(&self) -> Option<Arc<Certs>> {
        let now = self.clock.now();
        let guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .filter(|c| now < c.until)
            .map(|c| Arc::clone(&c.certs))
    }

    /// The exchange that fetches the certificates (retried by the verifier's policy).
    pub fn certs_exchange(&self) -> Retrying<CertsCall> {
        Retrying::new(CertsCall::new(self.certs_url.clone()), self.retry)
    }

    /// Keeps fetched certificates for as long as their `max-age` says; returns them.
    pub fn store_certs(&self, fetched: FetchedCerts) -> Arc<Certs> {
        if let Some(age) = fetched.max_age.filter(|a| !a.is_zero()) {
            let mut guard = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            *guard = Some(Cached {
                certs: Arc::clone(&fetched.certs),
                until: oauth_core::clock::add_clamped(self.clock.now(), age),
            });
        }
        fetched.certs
    }

    /// Whether a verdict reached with cached certificates calls for fetching them again
    /// before their `max-age` is out: the header names a key they lack (the issuer rotated
    /// its keys), and the verifier has not refetched early in the last
    /// [`EARLY_REFETCH_INTERVAL`]. Claims the early refetch when it answers yes. Both
    /// flavours' `verify` ask it.
    pub fn refetch_for(&self, verdict: &Result<Map<String, Value>, Error>, cached: bool) -> bool {
        if !cached
            || !matches!(
                verdict,
                Err(Error::InvalidIdToken(IdTokenError::UnknownKeyId(_)))
            )
        {
            return false;
        }
        let now = self.clock.now();
        let mut last = self.last_refetch.lock().unwrap_or_else(|p| p.into_inner());
        let due = last.is_none_or(|t| {
            now.duration_since(t)
                .is_ok_and(|d| d >= EARLY_REFETCH_INTERVAL)
        });
        if due {
            *last = Some(now);
        }
        due
    }
}

/// The two header fields that choose the key.
struct LightHeader {
    alg: Algorithm,
    kid: Option<String>,
}

/// `alg` (one jsonwebtoken knows) and `kid` (a string, when present) of a compact JWS.
fn light_header(token: &str) -> Option<LightHeader> {
    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        alg: std::borrow::Cow<'a, str>,
        #[serde(default, borrow)]
        kid: Option<std::borrow::Cow<'a, str>>,
    }
    let (head, _) = token.split_once('.')?;
    let bytes = unb64(head)?;
    let fields: Fields<'_> = serde_json::from_slice(&bytes).ok()?;
    Some(LightHeader {
        alg: fields.alg.parse().ok()?,
        kid: fields.kid.map(std::borrow::Cow::into_owned),
    })
}

/// Why a header jsonwebtoken refused is refused, read with gauth's own splitter.
fn header_error(token: &str) -> Error {
    let decoded = match jwt::decode_unverified(token) {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    match decoded.header.get("alg") {
        Some(Value::String(alg)) if !ACCEPTED.iter().any(|a| format!("{a:?}") == *alg) => {
            IdTokenError::UnsupportedAlgorithm(short(alg)).into()
        }
        Some(Value::String(_)) => match decoded.header.get("kid") {
            Some(Value::String(_)) | None => {
                IdTokenError::Malformed("the header is not a valid JWS header").into()
            }
            Some(_) => IdTokenError::Malformed("`kid` is not a string").into(),
        },
        Some(other) => IdTokenError::UnsupportedAlgorithm(short(&other.to_string())).into(),
        None => IdTokenError::UnsupportedAlgorithm(String::new()).into(),
    }
}

/// jsonwebtoken's verdict as gauth's error.
fn jwt_error(e: &jsonwebtoken::errors::Error, token: &str) -> IdTokenError {
    match e.kind() {
        ErrorKind::InvalidSignature => IdTokenError::BadSignature,
        ErrorKind::InvalidAudience => IdTokenError::WrongAudience,
        ErrorKind::InvalidIssuer => {
            let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Map<String, Value>>(token)
                .ok()
                .and_then(|c| {
                    c.get("iss")
                        .map(|i| i.as_str().map_or(i.to_string(), str::to_owned))
                })
                .unwrap_or_default();
            IdTokenError::WrongIssuer(short(&iss))
        }
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => match c.as_str() {
            "aud" => IdTokenError::MissingClaim("aud"),
            "iss" => IdTokenError::MissingClaim("iss"),
            _ => IdTokenError::Malformed("a registered claim has the wrong type"),
        },
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidKeyFormat => {
            IdTokenError::Malformed("the key does not fit the token's algorithm")
        }
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            IdTokenError::Malformed("a segment is not base64url")
        }
        ErrorKind::Json(_) => IdTokenError::Malformed("the payload is not a JSON object"),
        _ => IdTokenError::Malformed("not a compact JWS"),
    }
}

/// Values from a token may be anything: keep error messages short and printable.
fn short(s: &str) -> String {
    let cut: String = s.chars().take(80).collect();
    cut.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::UNIX_EPOCH;

    use oauth_core::{ManualClock, TransportError};
    use serde_json::json;

    use super::*;
    use crate::testutil::*;
    use oauth_core::flavour::{Async, Blocking};

    const NOW: i64 = 1_700_000_000;
    const AUD: &str = "https://service.example.com";

    fn claims() -> Value {
        json!({"iss": "https://accounts.google.com", "aud": AUD, "sub": "1",
               "iat": NOW - 10, "exp": NOW + 3590, "email": "a@b.c"})
    }

    fn verifier() -> IdTokenVerifier<Blocking> {
        IdTokenVerifier::new(AUD).with_clock(Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(NOW as u64),
        )))
    }

    fn pem_certs() -> Certs {
        let m = json!({"rsa1": RSA_CERT, "ec1": EC_CERT});
        Certs::parse(m.to_string().as_bytes(), "certs").unwrap()
    }

    fn jwks_certs() -> Certs {
        // The EC key's x and y, read from its certificate's SPKI.
        let cert = CertificateDer::from_pem_slice(EC_CERT.as_bytes()).unwrap();
        let Some(SpkiKey::P256(point)) = der::spki_key(der::certificate_spki(&cert).unwrap())
        else {
            panic!()
        };
        let jwks = json!({"keys": [
            rsa_jwk("rsa1"),
            {"kty": "EC", "crv": "P-256", "kid": "ec1", "alg": "ES256",
             "x": jwt::b64(&point[1..33]), "y": jwt::b64(&point[33..])},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        ]});
        Certs::parse(jwks.to_string().as_bytes(), "jwks").unwrap()
    }

    fn rs256(kid: &str, claims: &Value) -> String {
        let signer = rsa_signer(kid);
        raw_jwt(
            &json!({"alg": "RS256", "kid": kid, "typ": "JWT"}),
            claims,
            |m| signer.sign_bytes(m).unwrap(),
        )
    }

    fn es256(kid: &str, claims: &Value) -> String {
        raw_jwt(
            &json!({"alg": "ES256", "kid": kid, "typ": "JWT"}),
            claims,
            es256_sign,
        )
    }

    fn refused(token: &str, certs: &Certs) -> IdTokenError {
        match verifier().verify_with_certs(token, certs) {
            Err(Error::InvalidIdToken(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rs256_and_es256_verify_with_pem_and_jwks_certificates() {
        for certs in [pem_certs(), jwks_certs()] {
            let c = verifier()
                .verify_with_certs(&rs256("rsa1", &claims()), &certs)
                .unwrap();
            assert_eq!(c["email"], "a@b.c");
            let c = verifier()
                .verify_with_certs(&es256("ec1", &claims()), &certs)
                .unwrap();
            assert_eq!(c["sub"], "1");
        }
        let mut keys: Vec<_> = jwks_certs().key_ids().map(str::to_owned).collect();
        keys.sort();
        assert_eq!(keys, ["ec1", "rsa1"], "the oct key is skipped");
    }

    #[test]
    fn the_jwt_attacks_are_refused() {
        let certs = pem_certs();
        let good = rs256("rsa1", &claims());
        let (hp, sig) = good.rsplit_once('.').unwrap();
        let (h, _) = hp.split_once('.').unwrap();
        // alg none, with and without a signature.
        let none_h = jwt::b64(br#"{"alg":"none","kid":"rsa1"}"#);
        let p = jwt::b64(claims().to_string().as_bytes());
        assert_eq!(
            refused(&format!("{none_h}.{p}."), &certs),
            IdTokenError::UnsupportedAlgorithm("none".into())
        );
        // HS256 keyed with the public key (the classic key-confusion attack).
        let hs = raw_jwt(&json!({"alg": "HS256", "kid": "rsa1"}), &claims(), |m| {
            let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, RSA_CERT.as_bytes());
            ring::hmac::sign(&k, m).as_ref().to_vec()
        });
        assert_eq!(
            refused(&hs, &certs),
            IdTokenError::UnsupportedAlgorithm("HS256".into())
        );
        // Unknown kid; RS256 header naming the EC key.
        assert_eq!(
            refused(&rs256("other", &claims()), &certs),
            IdTokenError::UnknownKeyId("other".into())
        );
        let confused = raw_jwt(&json!({"alg": "RS256", "kid": "ec1"}), &claims(), |m| {
            rsa_signer("x").sign_bytes(m).unwrap()
        });
        assert_eq!(
            refused(&confused, &certs),
            IdTokenError::KeyAlgorithmMismatch("ec1".into())
        );
        // Altered payload; altered signature.
        let mut evil = claims();
        evil["email"] = json!("admin@b.c");
        let altered = format!("{h}.{}.{sig}", jwt::b64(evil.to_string().as_bytes()));
        assert_eq!(refused(&altered, &certs), IdTokenError::BadSignature);
        let mut sig_bytes = jwt::unb64(sig).unwrap();
        sig_bytes[10] ^= 1;
        assert_eq!(
            refused(&format!("{hp}.{}", jwt::b64(&sig_bytes)), &certs),
            IdTokenError::BadSignature
        );
        // Time, audience, issuer.
        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            rs256("rsa1", &c)
        };
        assert_eq!(
            refused(&with("exp", json!(NOW - 11)), &certs),
            IdTokenError::Expired
        );
        assert!(
            verifier()
                .verify_with_certs(&with("exp", json!(NOW - 9)), &certs)
                .is_ok(),
            "skew"
        );
        assert_eq!(
            refused(&with("iat", json!(NOW + 11)), &certs),
            IdTokenError::NotYetValid
        );
        assert!(
            verifier()
                .verify_with_certs(&with("iat", json!(NOW + 9)), &certs)
                .is_ok(),
            "skew"
        );
        assert_eq!(
            refused(&with("aud", json!("https://other")), &certs),
            IdTokenError::WrongAudience
        );
        assert!(
            verifier()
                .verify_with_certs(&with("aud", json!(["x", AUD])), &certs)
                .is_ok()
        );
        assert_eq!(
            refused(&with("iss", json!("https://evil")), &certs),
            IdTokenError::WrongIssuer("https://evil".into())
        );
        assert!(
            verifier()
                .verify_with_certs(&with("iss", json!("accounts.google.com")), &certs)
                .is_ok()
        );
        let mut c = claims();
        c.as_object_mut().unwrap().remove("exp");
        assert_eq!(
            refused(&rs256("rsa1", &c), &certs),
            IdTokenError::MissingClaim("exp")
        );
    }

    #[test]
    fn issuers_are_configurable_and_a_missing_kid_tries_every_key() {
        let mut c = claims();
        c["iss"] = json!("http://127.0.0.1:5/");
        let t = rs256("rsa1", &c);
        assert!(matches!(
            refused(&t, &pem_certs()),
            IdTokenError::WrongIssuer(_)
        ));
        let v = verifier().with_issuers(["http://127.0.0.1:5/"]);
        assert!(v.verify_with_certs(&t, &pem_certs()).is_ok());
        let signer = rsa_signer("k");
        let no_kid = raw_jwt(&json!({"alg": "RS256"}), &claims(), |m| {
            signer.sign_bytes(m).unwrap()
        });
        assert!(verifier().verify_with_certs(&no_kid, &pem_certs()).is_ok());
    }

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn v1_and_v3_certificates_and_bare_public_keys_all_verify() {
        let cert = CertificateDer::from_pem_slice(RSA_CERT.as_bytes()).unwrap();
        let spki = der::certificate_spki(&cert).unwrap();
        let signer = rsa_signer("x");
        let map = json!({
            "v3": RSA_CERT,
            "v1": RSA_CERT_V1,
            "spki": pem("PUBLIC KEY", spki),
            "pkcs1": pem("RSA PUBLIC KEY", signer.public_key_der()),
            "ec": EC_CERT,
        });
        let certs = Certs::parse(map.to_string().as_bytes(), "certs").unwrap();
        assert_eq!(certs.unreadable().count(), 0);
        for kid in ["v3", "v1", "spki", "pkcs1"] {
            let c = verifier()
                .verify_with_certs(&rs256(kid, &claims()), &certs)
                .unwrap_or_else(|e| panic!("{kid}: {e}"));
            assert_eq!(c["email"], "a@b.c");
        }
        assert!(RSA_CERT_V1.contains("BEGIN CERTIFICATE"));
        verifier()
            .verify_with_certs(&es256("ec", &claims()), &certs)
            .unwrap();
    }

    #[test]
    fn an_unreadable_entry_spoils_only_itself() {
        let map = json!({
            "good": RSA_CERT,
            "bad": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "junk": "not pem at all",
            "num": 5,
            "badkey": "-----BEGIN RSA PUBLIC KEY-----\n!!!\n-----END RSA PUBLIC KEY-----\n",
        });
        let certs = Certs::parse(map.to_string().as_bytes(), "u").unwrap();
        assert_eq!(certs.key_ids().collect::<Vec<_>>(), ["good"]);
        let mut bad: Vec<_> = certs.unreadable().map(|(k, _)| k).collect();
        bad.sort();
        assert_eq!(bad, ["bad", "badkey", "junk", "num"]);
        // The good key still verifies, with or without a kid.
        verifier()
            .verify_with_certs(&rs256("good", &claims()), &certs)
            .unwrap();
        let signer = rsa_signer("k");
        let no_kid = raw_jwt(&json!({"alg": "RS256"}), &claims(), |m| {
            signer.sign_bytes(m).unwrap()
        });
        verifier().verify_with_certs(&no_kid, &certs).unwrap();
        // A token naming the bad entry is told why.
        assert_eq!(
            refused(&rs256("bad", &claims()), &certs),
            IdTokenError::UnreadableCertificate {
                kid: "bad".into(),
                reason: "not a readable certificate".into()
            }
        );
        // No key verifies and no kid: the unreadable entries are named.
        let other = raw_jwt(&json!({"alg": "RS256"}), &claims(), |m| {
            let mut s = signer.sign_bytes(m).unwrap();
            s[3] ^= 1;
            s
        });
        let e = refused(&other, &certs);
        assert!(
            matches!(&e, IdTokenError::NoKeyVerifies { unreadable } if unreadable.len() == 4),
            "{e:?}"
        );
        assert!(e.to_string().contains("`num` (not a PEM string)"), "{e}");
        // Without unreadable entries, the plain answer.
        assert_eq!(refused(&other, &pem_certs()), IdTokenError::BadSignature);
        // Only a document that is not a certificate map fails whole.
        assert!(Certs::parse(b"[]", "u").is_err());
        assert!(Certs::parse(br#"{"keys": 5}"#, "u").is_err());
        assert!(Certs::parse(b"{", "u").is_err());
    }

    #[test]
    fn an_unknown_kid_refetches_early_at_most_once_a_minute() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let body = Arc::new(Mutex::new(json!({"old": EC_CERT}).to_string()));
        let (f2, b2) = (Arc::clone(&fetches), Arc::clone(&body));
        let client = move |_: HttpRequest| -> Result<HttpResponse, TransportError> {
            f2.fetch_add(1, Ordering::SeqCst);
            Ok(http::Response::builder()
                .status(200)
                .header("cache-control", "max-age=3600")
                .body(b2.lock().unwrap().clone().into())
                .unwrap())
        };
        let clock = Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(NOW as u64),
        ));
        let v = IdTokenVerifier::<Blocking>::new(AUD)
            .with_clock(clock.clone())
            .with_certs_url("http://127.0.0.1:7/certs".parse().unwrap())
            .with_http_client(Arc::new(client));
        v.verify(&es256("old", &claims())).unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        // The issuer rotates: the cached set lacks the new kid, so it is fetched again.
        *body.lock().unwrap() = json!({"new": RSA_CERT}).to_string();
        v.verify(&rs256("new", &claims())).unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        v.verify(&rs256("new", &claims())).unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "the new set is cached");
        // Made-up kids: one early refetch a minute, no more.
        let made_up = |k: &str| v.verify(&rs256(k, &claims())).unwrap_err();
        clock.advance(Duration::from_secs(30));
        assert!(matches!(
            made_up("x1"),
            Error::InvalidIdToken(IdTokenError::UnknownKeyId(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "within the minute");
        clock.advance(Duration::from_secs(31));
        made_up("x2");
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        made_up("x3");
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn certificates_are_fetched_once_per_max_age() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let f2 = Arc::clone(&fetches);
        let body = json!({"rsa1": RSA_CERT}).to_string();
        let client = move |req: HttpRequest| -> Result<HttpResponse, TransportError> {
            assert_eq!(req.uri(), "http://127.0.0.1:7/certs");
            f2.fetch_add(1, Ordering::SeqCst);
            Ok(http::Response::builder()
                .status(200)
                .header("cache-control", "public, max-age=100, must-revalidate")
                .body(body.clone().into())
                .unwrap())
        };
        let clock = Arc::new(ManualClock::new(
            UNIX_EPOCH + Duration::from_secs(NOW as u64),
        ));
        let v = IdTokenVerifier::<Blocking>::new(AUD)
            .with_clock(clock.clone())
            .with_certs_url("http://127.0.0.1:7/certs".parse().unwrap())
            .with_http_client(Arc::new(client));
        let t = rs256("rsa1", &claims());
        v.verify(&t).unwrap();
        v.clone().verify(&t).unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(101));
        v.verify(&t).unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn cache_control_is_read_as_http_says() {
        let r = |v: &str| {
            http::Response::builder()
                .header("cache-control", v)
                .body(Default::default())
                .unwrap()
        };
        assert_eq!(max_age(&r("max-age=60")), Some(Duration::from_secs(60)));
        assert_eq!(
            max_age(&r("public, MAX-AGE=5")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(max_age(&r("no-store, max-age=60")), None);
        assert_eq!(max_age(&r("max-age=x")), None);
        assert_eq!(max_age(&http::Response::new(Default::default())), None);
    }

    #[tokio::test]
    async fn the_async_driver_fetches_through_the_same_call() {
        use oauth_core::transport::AsyncHttpClient;
        struct Canned(String);
        #[async_trait::async_trait]
        impl AsyncHttpClient for Canned {
            async fn execute(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
                Ok(http::Response::builder()
                    .status(200)
                    .body(self.0.clone().into())
                    .unwrap())
            }
        }
        let body = json!({"keys": [rsa_jwk("rsa1")]}).to_string();
        let c = IdTokenVerifier::<Async>::new(AUD)
            .with_clock(Arc::new(ManualClock::new(
                UNIX_EPOCH + Duration::from_secs(NOW as u64),
            )))
            .with_http_client(Arc::new(Canned(body)))
            .verify(&rs256("rsa1", &claims()))
            .await
            .unwrap();
        assert_eq!(c["aud"], AUD);
    }
}
