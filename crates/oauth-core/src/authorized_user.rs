//! Authorized-user credentials: a user's refresh token and the OAuth client it belongs to.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use url::Url;

use crate::client_secrets::GOOGLE_TOKEN_URI;
use crate::exchange::BoxExchange;
use crate::fsutil::{DEFAULT_LOCK_WAIT, FileLock, atomic_write};
use crate::json::{self, Fields};
use crate::source::{Refresh, RefreshContext, TokenSource};
use crate::{EndpointPolicy, Error, Retrying, Secret, Token, TokenCall, TokenResponse};

/// A user's credentials, as google-auth's `Credentials.to_json()` writes them and as gcloud
/// writes Application Default Credentials.
///
/// Reading accepts both formats: `refresh_token`, `client_id` and `client_secret` are
/// required (as google-auth requires them); `token`, `expiry`, `scopes` (a list or a
/// space-separated string), `token_uri`, `quota_project_id`, `rapt_token`,
/// `universe_domain` and `account` are taken when present, and every other field is kept
/// and written back untouched. `token_uri` is used only if the [`EndpointPolicy`] allows it
/// (google-auth ignores it altogether; see `docs/decisions.md`).
///
/// Refreshing uses the `refresh_token` grant; a rotated refresh token replaces the old one.
/// With [`AuthorizedUser::write_back_to`] every refresh is written to the file atomically
/// under an OS lock, after re-reading it: processes that share the file make one refresh
/// between them and never reuse a rotated-away refresh token. Waiting for another process's
/// refresh is bounded ([`AuthorizedUser::with_lock_wait`]). A file that is a symbolic link
/// stays one: the file it leads to is replaced.
///
/// The file's `scopes` record what the user consented to. A program that needs a token for
/// particular scopes asks for them with [`AuthorizedUser::with_requested_scopes`] (as
/// google-auth's `from_authorized_user_file(path, scopes)` does): the refresh then asks for
/// those scopes, a token is reused only when it covers them, and the file's record of the
/// grant is never rewritten.
///
/// ```
/// use oauth_core::AuthorizedUser;
/// let user = AuthorizedUser::from_json(br#"{
///     "type": "authorized_user", "client_id": "id.apps.googleusercontent.com",
///     "client_secret": "GOCSPX-s", "refresh_token": "1//r"}"#, "adc.json").unwrap();
/// assert_eq!(user.token_uri().as_str(), "https://oauth2.googleapis.com/token");
/// assert!(!format!("{user:?}").contains("1//r"));
/// let e = AuthorizedUser::from_json(br#"{"client_id": "x", "client_secret": "y"}"#, "adc.json").unwrap_err();
/// assert_eq!(e.to_string(), "adc.json: missing field `refresh_token`");
/// ```
#[derive(Debug)]
pub struct AuthorizedUser {
    origin: String,
    client_id: String,
    client_secret: Option<Secret>,
    token_uri: Url,
    scopes: Option<Vec<String>>,
    quota_project_id: Option<String>,
    universe_domain: Option<String>,
    account: Option<String>,
    rapt_token: Option<Secret>,
    state: Mutex<UserState>,
    file: Option<PathBuf>,
    extra: Map<String, Value>,
    /// The scopes a token must be for, when the program asked for particular ones.
    requested_scopes: Option<Vec<String>>,
    /// How long a refresh waits for another process's lock on the file.
    lock_wait: Duration,
}

#[derive(Debug, Clone)]
struct UserState {
    refresh_token: Option<Secret>,
    token: Option<Token>,
}

const KNOWN: [&str; 12] = [
    "token",
    "refresh_token",
    "token_uri",
    "client_id",
    "client_secret",
    "scopes",
    "expiry",
    "quota_project_id",
    "rapt_token",
    "universe_domain",
    "account",
    "id_token",
];

impl AuthorizedUser {
    /// Reads an authorized-user file with the default endpoint policy. The file is not
    /// written back unless [`AuthorizedUser::write_back_to`] says so.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_file_with(path, &EndpointPolicy::default())
    }

    /// Reads an authorized-user file, checking `token_uri` against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        let path = path.as_ref();
        let v = json::read_file(path)?;
        Self::from_value_with(&v, &path.display().to_string(), policy)
    }

    /// Parses authorized-user JSON; `origin` names it in errors.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        let v = json::parse(bytes, origin)?;
        Self::from_value_with(&v, origin, &EndpointPolicy::default())
    }

    /// Reads an already parsed value (google-auth's `from_authorized_user_info`).
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        let f = Fields::new(value, origin, "")?;
        if let Some(t) = f.optional_str("type")?
            && t != "authorized_user"
        {
            return Err(Error::UnknownType {
                origin: origin.to_owned(),
                found: t.to_owned(),
                supported: "authorized_user".into(),
            });
        }
        let refresh_token = f.required_secret("refresh_token")?;
        let client_id = f.required_str("client_id")?.to_owned();
        let client_secret = f.required_secret("client_secret")?;
        let universe_domain = f.optional_str("universe_domain")?.map(str::to_owned);
        let token_uri = policy.check(
            origin,
            "token_uri",
            f.optional_str("token_uri")?.unwrap_or(GOOGLE_TOKEN_URI),
            universe_domain.as_deref(),
        )?;
        let token = parse_token(&f)?;
        let extra = f
            .map()
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(AuthorizedUser {
            origin: origin.to_owned(),
            client_id,
            client_secret: Some(client_secret),
            token_uri,
            scopes: f.string_list("scopes")?,
            quota_project_id: f.optional_str("quota_project_id")?.map(str::to_owned),
            universe_domain,
            account: f.optional_str("account")?.map(str::to_owned),
            rapt_token: f.optional_secret("rapt_token")?,
            state: Mutex::new(UserState {
                refresh_token: Some(refresh_token),
                token,
            }),
            file: None,
            extra,
            requested_scopes: None,
            lock_wait: DEFAULT_LOCK_WAIT,
        })
    }

    /// Credentials fresh from a token endpoint (what a sign-in flow produces).
    ///
    /// ```
    /// use oauth_core::{AuthorizedUser, Secret, Token};
    /// let user = AuthorizedUser::new("id", Some(Secret::new("s")), Some(Secret::new("1//r")),
    ///     "https://oauth2.googleapis.com/token".parse().unwrap());
    /// assert!(user.to_json().contains("\"refresh_token\":\"1//r\""));
    /// ```
    pub fn new(
        client_id: impl Into<String>,
        client_secret: Option<Secret>,
        refresh_token: Option<Secret>,
        token_uri: Url,
    ) -> Self {
        AuthorizedUser {
            origin: "authorized-user credentials".into(),
            client_id: client_id.into(),
            client_secret,
            token_uri,
            scopes: None,
            quota_project_id: None,
            universe_domain: None,
            account: None,
            rapt_token: None,
            state: Mutex::new(UserState {
                refresh_token,
                token: None,
            }),
            file: None,
            extra: Map::new(),
            requested_scopes: None,
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }

    /// Sets the token already held (for example the one a flow just obtained).
    pub fn with_token(self, token: Token) -> Self {
        self.lock_state().token = Some(token);
        self
    }

    /// Sets the scopes of the grant: what the user consented to, written to the file as
    /// `scopes` and asked for on refresh unless [`AuthorizedUser::with_requested_scopes`]
    /// names others. A sign-in flow sets them; to get a token for particular scopes, use
    /// `with_requested_scopes`, which leaves this record alone.
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Asks for tokens issued for these scopes (a subset of the grant, or scopes a wildcard
    /// grant covers), as google-auth does when `scopes` are given to
    /// `Credentials.from_authorized_user_file`: each refresh sends them as `scope`, a token
    /// (read from the file or held in memory) is used only when its scopes include them all,
    /// and the file's own `scopes` (the record of what the user consented to) is never
    /// rewritten. A token for other scopes than the file records is not written to the file
    /// either; a rotated refresh token always is. An empty list asks for nothing particular.
    ///
    /// ```
    /// use oauth_core::AuthorizedUser;
    /// let user = AuthorizedUser::from_json(br#"{
    ///     "client_id": "id", "client_secret": "s", "refresh_token": "1//r",
    ///     "scopes": ["openid", "email", "https://www.googleapis.com/auth/drive"],
    ///     "token": "ya29.broad", "expiry": "2999-01-01T00:00:00Z"}"#, "user.json").unwrap()
    ///     .with_requested_scopes(["email"]);
    /// assert_eq!(user.requested_scopes().unwrap(), ["email"]);
    /// assert_eq!(user.scopes().unwrap().len(), 3, "the grant's record is kept");
    /// let narrower = AuthorizedUser::from_json(br#"{
    ///     "client_id": "id", "client_secret": "s", "refresh_token": "1//r",
    ///     "scopes": ["openid"], "token": "ya29.openid-only", "expiry": "2999-01-01T00:00:00Z"}"#,
    ///     "user.json").unwrap()
    ///     .with_requested_scopes(["email"]);
    /// use oauth_core::TokenSource;
    /// assert!(narrower.initial_token().is_none(), "a token for other scopes is not used");
    /// ```
    pub fn with_requested_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        self.requested_scopes = (!scopes.is_empty()).then_some(scopes);
        self
    }

    /// How long a refresh waits for another process that holds the shared file's lock
    /// (refreshing it), [`DEFAULT_LOCK_WAIT`] (one request timeout) by default. When the
    /// wait runs out the file is read once more: a fresh token another process wrote is
    /// used, otherwise the refresh fails with [`Error::LockTimeout`]; it never refreshes
    /// without the lock, which could reuse a refresh token that the holder is rotating.
    ///
    /// ```
    /// use std::time::Duration;
    /// use oauth_core::{AuthorizedUser, Secret};
    /// let user = AuthorizedUser::new("id", None, Some(Secret::new("1//r")),
    ///     "https://oauth2.googleapis.com/token".parse().unwrap())
    ///     .with_lock_wait(Duration::from_secs(5));
    /// assert_eq!(user.lock_wait(), Duration::from_secs(5));
    /// ```
    pub fn with_lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// How long a refresh waits for another process's lock on the file.
    pub fn lock_wait(&self) -> Duration {
        self.lock_wait
    }

    /// The scopes tokens are asked for, when set with
    /// [`AuthorizedUser::with_requested_scopes`].
    pub fn requested_scopes(&self) -> Option<&[String]> {
        self.requested_scopes.as_deref()
    }

    /// Sets the project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// Writes every refresh back to `path` (atomically, 0600, under a lock shared with
    /// other processes).
    pub fn write_back_to(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.origin = path.display().to_string();
        self.file = Some(path);
        self
    }

    /// The OAuth client ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }

    /// The scopes of the grant (the file's `scopes`), when known.
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// The current refresh token (it changes when the server rotates it).
    pub fn refresh_token(&self) -> Option<Secret> {
        self.lock_state().refresh_token.clone()
    }

    /// The last token obtained or read.
    pub fn token(&self) -> Option<Token> {
        self.lock_state().token.clone()
    }

    /// The file refreshes are written to.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, UserState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The credentials as google-auth's `Credentials.to_json()` writes them, so
    /// `Credentials.from_authorized_user_info` loads them back. Unknown fields read from a
    /// file are kept.
    pub fn to_json(&self) -> String {
        Value::Object(self.to_map(self.extra.clone())).to_string()
    }

    fn to_map(&self, mut m: Map<String, Value>) -> Map<String, Value> {
        let mut state = self.lock_state().clone();
        // A token for other scopes than the grant's record is not the file's token: keep
        // whatever token the file holds.
        let keep_theirs = state.token.as_ref().is_some_and(|t| !self.fits_file(t));
        if keep_theirs {
            state.token = None;
        }
        for k in KNOWN {
            if !(keep_theirs && TOKEN_FIELDS.contains(&k)) {
                m.remove(k);
            }
        }
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put(
            "token",
            state.token.as_ref().map(|t| t.access_token.expose().into()),
        );
        put(
            "refresh_token",
            state.refresh_token.as_ref().map(|t| t.expose().into()),
        );
        put("token_uri", Some(self.token_uri.as_str().into()));
        put("client_id", Some(self.client_id.clone().into()));
        put(
            "client_secret",
            self.client_secret.as_ref().map(|s| s.expose().into()),
        );
        put("scopes", self.scopes.clone().map(Into::into));
        put(
            "rapt_token",
            self.rapt_token.as_ref().map(|s| s.expose().into()),
        );
        put(
            "universe_domain",
            self.universe_domain.clone().map(Into::into),
        );
        put("account", self.account.clone().map(Into::into));
        put(
            "quota_project_id",
            self.quota_project_id.clone().map(Into::into),
        );
        put(
            "expiry",
            state
                .token
                .as_ref()
                .and_then(|t| t.expiry)
                .map(|e| format_expiry(e).into()),
        );
        m
    }

    fn refresh_call(&self, refresh_token: &Secret) -> TokenCall {
        let mut params = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("client_id".to_owned(), self.client_id.clone()),
        ];
        if let Some(s) = &self.client_secret {
            params.push(("client_secret".into(), s.expose().to_owned()));
        }
        params.push(("refresh_token".into(), refresh_token.expose().to_owned()));
        if let Some(scopes) = self.wanted_scopes().filter(|s| !s.is_empty()) {
            params.push(("scope".into(), scopes.join(" ")));
        }
        if let Some(r) = &self.rapt_token {
            params.push(("rapt".into(), r.expose().to_owned()));
        }
        TokenCall::new(self.token_uri.clone(), params)
    }

    /// The scopes a refresh asks for: the requested ones, else the grant's.
    fn wanted_scopes(&self) -> Option<&[String]> {
        self.requested_scopes.as_deref().or(self.scopes.as_deref())
    }

    /// Whether a token may be used for this credential's requested scopes.
    fn usable(&self, token: &Token) -> bool {
        covers(token.scopes.as_deref(), self.requested_scopes.as_deref())
    }

    /// Whether a token may be written to the file as its `token`: always without requested
    /// scopes; with them, only when it covers the whole grant the file records.
    fn fits_file(&self, token: &Token) -> bool {
        self.requested_scopes.is_none()
            || self
                .scopes
                .as_deref()
                .is_some_and(|grant| covers(token.scopes.as_deref(), Some(grant)))
    }

    /// Takes the file's lock, waiting at most `lock_wait`. When the wait runs out, a fresh
    /// token another process wrote meanwhile is good enough (`Err(Ok(token))`); otherwise
    /// the refresh fails (`Err(Err(LockTimeout))`).
    fn lock_file(
        &self,
        path: &Path,
        ctx: &RefreshContext,
    ) -> Result<FileLock, Result<Token, Error>> {
        match FileLock::exclusive_timeout(path, self.lock_wait) {
            Ok(lock) => Ok(lock),
            Err(e @ Error::LockTimeout { .. }) => {
                tracing::warn!(error = %e, "gave up waiting for another process's refresh");
                match self.adopt_theirs(path, ctx) {
                    Some(t) => Err(Ok(t)),
                    None => Err(Err(e)),
                }
            }
            Err(e) => Err(Err(e)),
        }
    }

    /// Re-reads the shared file (another process may have refreshed it and rotated the
    /// refresh token meanwhile); returns a fresh token it holds that we do not, when it
    /// serves our scopes.
    fn adopt_theirs(&self, path: &Path, ctx: &RefreshContext) -> Option<Token> {
        let (rt, token) = self.reread(path)?;
        let mut state = self.lock_state();
        if rt.is_some() {
            state.refresh_token = rt;
        }
        // A fresh token we do not hold yet was written by another process; the one we
        // hold is the one being replaced (expired, or a forced refresh).
        let ours = state.token.as_ref().map(|t| t.access_token.clone());
        let theirs = token.filter(|t| {
            t.is_fresh(ctx.clock.now(), ctx.margin)
                && Some(&t.access_token) != ours.as_ref()
                && self.usable(t)
        })?;
        tracing::debug!("another process refreshed the shared credentials");
        state.token = Some(theirs.clone());
        Some(theirs)
    }

    /// Re-reads the shared file under the lock: another process may have refreshed and
    /// rotated the refresh token meanwhile.
    fn reread(&self, path: &Path) -> Option<(Option<Secret>, Option<Token>)> {
        let v = match json::read_file(path) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-read the credentials file; using the copy in memory");
                return None;
            }
        };
        let f = Fields::new(&v, &self.origin, "").ok()?;
        let rt = f.optional_secret("refresh_token").ok()?;
        let token = parse_token(&f).ok()?;
        Some((rt, token))
    }
}

/// The fields of a file that belong to its token.
const TOKEN_FIELDS: [&str; 3] = ["token", "expiry", "id_token"];

/// Whether a token issued for `have` serves a request for `want` (`None`: nothing in
/// particular). A token whose scopes are unknown serves no particular request.
fn covers(have: Option<&[String]>, want: Option<&[String]>) -> bool {
    match want {
        None => true,
        Some(want) => {
            let have = have.unwrap_or_default();
            want.iter().all(|w| have.contains(w))
        }
    }
}

fn parse_token(f: &Fields<'_>) -> Result<Option<Token>, Error> {
    let Some(access) = f.optional_secret("token")? else {
        return Ok(None);
    };
    let expiry = match f.optional_str("expiry")? {
        None => None,
        Some(s) => Some(
            parse_expiry(s)
                .ok_or_else(|| f.invalid("expiry", "not a time like 2024-01-01T00:00:00Z"))?,
        ),
    };
    let mut token = Token::bearer(access, expiry);
    // google-auth treats a token without an expiry in a file as expired.
    if token.expiry.is_none() {
        token.expiry = Some(SystemTime::UNIX_EPOCH);
    }
    token.scopes = f.string_list("scopes")?;
    token.id_token = f.optional_secret("id_token")?;
    Ok(Some(token))
}

/// google-auth writes `datetime.isoformat() + "Z"` of a naive UTC time and reads it back
/// ignoring the fraction of a second. Years before 1970 or after 9999 are not times
/// (`None`, an error naming the field).
fn parse_expiry(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let base = s.trim_end_matches('Z');
    let base = base.split('.').next().unwrap_or(base);
    humantime::parse_rfc3339_weak(base).ok()
}

fn format_expiry(t: SystemTime) -> String {
    crate::clock::format_rfc3339(t)
}

impl TokenSource for AuthorizedUser {
    fn kind(&self) -> &'static str {
        "authorized_user"
    }

    fn initial_token(&self) -> Option<Token> {
        self.lock_state().token.clone().filter(|t| self.usable(t))
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    fn begin_refresh(&self, ctx: &RefreshContext) -> Result<Refresh, Error> {
        let lock = match &self.file {
            None => None,
            Some(path) => {
                let lock = match self.lock_file(path, ctx) {
                    Ok(lock) => lock,
                    Err(ready) => return ready.map(Refresh::Ready),
                };
                if let Some(t) = self.adopt_theirs(path, ctx) {
                    return Ok(Refresh::Ready(t));
                }
                Some(lock)
            }
        };
        let Some(refresh_token) = self.refresh_token() else {
            return Err(Error::NotRefreshable {
                kind: "authorized_user",
                reason: "no refresh token (sign in again with access_type=offline)".into(),
            });
        };
        let exchange: BoxExchange<TokenResponse> =
            Box::new(Retrying::new(self.refresh_call(&refresh_token), ctx.retry));
        Ok(Refresh::Exchange { exchange, lock })
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        lock: Option<FileLock>,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        let mut token = response.to_token(ctx.clock.now());
        if token.scopes.is_none() {
            token.scopes = self.wanted_scopes().map(<[String]>::to_vec);
        }
        let rotated = response.refresh_token.is_some();
        {
            let mut state = self.lock_state();
            if let Some(rt) = response.refresh_token {
                state.refresh_token = Some(rt);
            }
            state.token = Some(token.clone());
        }
        // Nothing to write when the token is not the file's and the refresh token stayed.
        if let Some(path) = self
            .file
            .as_ref()
            .filter(|_| rotated || self.fits_file(&token))
        {
            let base = json::read_file(path)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_else(|| self.extra.clone());
            let text = Value::Object(self.to_map(base)).to_string();
            atomic_write(path, text.as_bytes())?;
        }
        drop(lock);
        Ok(token)
    }

    fn does_blocking_io(&self) -> bool {
        self.file.is_some()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Exchange, Input, Step};
    use crate::{ManualClock, RetryPolicy};
    use std::sync::Arc;
    use std::time::Duration;

    const GOOGLE_AUTH_JSON: &str = r#"{"token": "ya29.old", "refresh_token": "1//r", "token_uri": "http://127.0.0.1:9/token", "client_id": "id", "client_secret": "s", "scopes": ["openid", "email"], "universe_domain": "googleapis.com", "account": "", "expiry": "2030-01-02T03:04:05.678901Z"}"#;

    fn ctx() -> RefreshContext {
        RefreshContext {
            clock: Arc::new(ManualClock::new(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000),
            )),
            margin: Duration::from_secs(225),
            retry: RetryPolicy::none(),
        }
    }

    #[test]
    fn google_auth_json_is_read_with_every_field() {
        let u = AuthorizedUser::from_json(GOOGLE_AUTH_JSON.as_bytes(), "c.json").unwrap();
        assert_eq!(u.client_id(), "id");
        assert_eq!(u.token_uri().as_str(), "http://127.0.0.1:9/token");
        assert_eq!(u.scopes().unwrap(), ["openid", "email"]);
        let t = u.token().unwrap();
        assert_eq!(t.access_token.expose(), "ya29.old");
        assert_eq!(format_expiry(t.expiry.unwrap()), "2030-01-02T03:04:05Z");
    }

    #[test]
    fn space_separated_scopes_and_gcloud_files_are_read() {
        let u = AuthorizedUser::from_json(
            br#"{"client_id":"i","client_secret":"s","refresh_token":"r","type":"authorized_user","scopes":"a b","quota_project_id":"q"}"#,
            "adc.json",
        )
        .unwrap();
        assert_eq!(u.scopes().unwrap(), ["a", "b"]);
        assert_eq!(TokenSource::quota_project_id(&u), Some("q"));
        assert!(u.token().is_none());
        let json: Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(json["type"], "authorized_user", "unknown fields are kept");
    }

    #[test]
    fn bad_files_name_the_field() {
        let cases = [
            (
                r#"{"client_id":"i","refresh_token":"r"}"#,
                "missing field `client_secret`",
            ),
            (
                r#"{"client_id":"i","client_secret":"s","refresh_token":7}"#,
                "invalid field `refresh_token`: expected a string",
            ),
            (
                r#"{"client_id":"i","client_secret":"s","refresh_token":"r","expiry":"tomorrow","token":"t"}"#,
                "invalid field `expiry`",
            ),
            (
                r#"{"type":"service_account"}"#,
                "unsupported credentials type `service_account`",
            ),
            (
                r#"{"client_id":"i","client_secret":"s","refresh_token":"r","token_uri":"https://evil.example/t"}"#,
                "evil.example",
            ),
        ];
        for (json, want) in cases {
            let e = AuthorizedUser::from_json(json.as_bytes(), "u.json")
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e} / {want}");
            assert!(e.starts_with("u.json"), "{e}");
        }
    }

    #[test]
    fn a_token_without_expiry_in_a_file_counts_as_expired() {
        let u = AuthorizedUser::from_json(
            br#"{"client_id":"i","client_secret":"s","refresh_token":"r","token":"t"}"#,
            "u.json",
        )
        .unwrap();
        assert!(!u.token().unwrap().is_valid(SystemTime::now()));
    }

    #[test]
    fn refresh_sends_google_auths_request_and_keeps_rotated_tokens() {
        let u = AuthorizedUser::from_json(GOOGLE_AUTH_JSON.as_bytes(), "c.json").unwrap();
        let ctx = ctx();
        let Refresh::Exchange { mut exchange, lock } = u.begin_refresh(&ctx).unwrap() else {
            panic!("expected an exchange");
        };
        assert!(lock.is_none());
        let Step::Send(req) = exchange.step(Input::Start) else {
            panic!()
        };
        assert_eq!(req.uri(), "http://127.0.0.1:9/token");
        assert_eq!(
            std::str::from_utf8(req.body()).unwrap(),
            "grant_type=refresh_token&client_id=id&client_secret=s&refresh_token=1%2F%2Fr&scope=openid+email"
        );
        let resp = http::Response::builder()
            .status(200)
            .body(
                br#"{"access_token":"ya29.new","expires_in":3600,"refresh_token":"1//rotated"}"#
                    .to_vec(),
            )
            .unwrap();
        let Step::Done(Ok(tr)) = exchange.step(Input::Response(Ok(resp))) else {
            panic!()
        };
        let t = u.finish_refresh(tr, None, &ctx).unwrap();
        assert_eq!(t.access_token.expose(), "ya29.new");
        assert_eq!(u.refresh_token().unwrap().expose(), "1//rotated");
        let j: Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(j["refresh_token"], "1//rotated");
        assert_eq!(j["token"], "ya29.new");
        assert_eq!(
            j["expiry"],
            format_expiry(ctx.clock.now() + Duration::from_secs(3600))
        );
    }

    #[test]
    fn a_shared_file_refreshed_elsewhere_is_used_without_a_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, GOOGLE_AUTH_JSON).unwrap();
        let ctx = ctx();
        let u = AuthorizedUser::from_file(&path)
            .unwrap()
            .write_back_to(&path);
        // Another process refreshes and rotates.
        let mut other: Value = serde_json::from_str(GOOGLE_AUTH_JSON).unwrap();
        other["token"] = "ya29.theirs".into();
        other["refresh_token"] = "1//theirs".into();
        other["expiry"] = format_expiry(ctx.clock.now() + Duration::from_secs(3000)).into();
        std::fs::write(&path, other.to_string()).unwrap();
        match u.begin_refresh(&ctx).unwrap() {
            Refresh::Ready(t) => assert_eq!(t.access_token.expose(), "ya29.theirs"),
            other => panic!("{other:?}"),
        }
        assert_eq!(u.refresh_token().unwrap().expose(), "1//theirs");
    }

    #[test]
    fn refreshes_are_written_back_atomically_keeping_unknown_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        let mut v: Value = serde_json::from_str(GOOGLE_AUTH_JSON).unwrap();
        v["trust_boundary"] = serde_json::json!({"x": 1});
        std::fs::write(&path, v.to_string()).unwrap();
        let ctx = ctx();
        let u = AuthorizedUser::from_file(&path)
            .unwrap()
            .write_back_to(&path);
        let Refresh::Exchange { lock, .. } = u.begin_refresh(&ctx).unwrap() else {
            panic!()
        };
        assert!(lock.is_some());
        let tr = TokenResponse {
            access_token: Secret::new("ya29.new"),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            refresh_token: Some(Secret::new("1//rot")),
            scopes: None,
            id_token: None,
        };
        u.finish_refresh(tr, lock, &ctx).unwrap();
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["token"], "ya29.new");
        assert_eq!(back["refresh_token"], "1//rot");
        assert_eq!(back["trust_boundary"]["x"], 1);
        assert_eq!(back["scopes"], serde_json::json!(["openid", "email"]));
    }

    fn body_of(exchange: &mut BoxExchange<TokenResponse>) -> String {
        let Step::Send(req) = exchange.step(Input::Start) else {
            panic!("expected a request")
        };
        String::from_utf8(req.body().clone()).unwrap()
    }

    fn response(scope: Option<&str>, rotated: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: Secret::new("ya29.narrow"),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            refresh_token: rotated.map(Secret::new),
            scopes: scope.map(|s| s.split(' ').map(str::to_owned).collect()),
            id_token: None,
        }
    }

    const BROAD: &str = r#"{"token": "ya29.broad", "refresh_token": "1//r", "token_uri": "http://127.0.0.1:9/token", "client_id": "id", "client_secret": "s", "scopes": ["openid", "email", "drive"], "expiry": "2030-01-02T03:04:05Z"}"#;

    #[test]
    fn requested_scopes_are_asked_for_and_the_grant_record_is_never_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        // The broad token has expired at ctx's time.
        let mut v: Value = serde_json::from_str(BROAD).unwrap();
        v["expiry"] = "2020-01-01T00:00:00Z".into();
        std::fs::write(&path, v.to_string()).unwrap();
        let ctx = ctx();
        let u = AuthorizedUser::from_file(&path)
            .unwrap()
            .write_back_to(&path)
            .with_requested_scopes(["email"]);
        let Refresh::Exchange { mut exchange, lock } = u.begin_refresh(&ctx).unwrap() else {
            panic!("expected an exchange")
        };
        assert!(body_of(&mut exchange).ends_with("&refresh_token=1%2F%2Fr&scope=email"));
        let t = u
            .finish_refresh(response(Some("email"), Some("1//rot")), lock, &ctx)
            .unwrap();
        assert_eq!(t.scopes.as_deref().unwrap(), ["email"]);
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            back["scopes"],
            serde_json::json!(["openid", "email", "drive"])
        );
        assert_eq!(
            back["refresh_token"], "1//rot",
            "a rotation is always saved"
        );
        assert_eq!(
            back["token"], "ya29.broad",
            "the narrow token is not the file's"
        );
        assert_eq!(back["expiry"], "2020-01-01T00:00:00Z");
        let json: Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(
            json["scopes"],
            serde_json::json!(["openid", "email", "drive"])
        );
        assert!(json.get("token").is_none(), "{json}");
    }

    #[test]
    fn without_a_rotation_a_token_for_other_scopes_leaves_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, GOOGLE_AUTH_JSON).unwrap();
        let before = std::fs::read(&path).unwrap();
        let ctx = ctx();
        let u = AuthorizedUser::from_file(&path)
            .unwrap()
            .write_back_to(&path)
            .with_requested_scopes(["email"]);
        let Refresh::Exchange { lock, .. } = u.begin_refresh(&ctx).unwrap() else {
            panic!()
        };
        u.finish_refresh(response(None, None), lock, &ctx).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn requesting_the_whole_grant_writes_the_token_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, GOOGLE_AUTH_JSON).unwrap();
        let ctx = ctx();
        let u = AuthorizedUser::from_file(&path)
            .unwrap()
            .write_back_to(&path)
            .with_requested_scopes(["email", "openid"]);
        let Refresh::Exchange { lock, .. } = u.begin_refresh(&ctx).unwrap() else {
            panic!()
        };
        u.finish_refresh(response(Some("openid email"), None), lock, &ctx)
            .unwrap();
        let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back["token"], "ya29.narrow");
        assert_eq!(back["scopes"], serde_json::json!(["openid", "email"]));
    }

    #[test]
    fn a_cached_token_is_reused_only_when_it_covers_the_requested_scopes() {
        let file = |extra: &[&str]| {
            AuthorizedUser::from_json(BROAD.as_bytes(), "u.json")
                .unwrap()
                .with_requested_scopes(extra.iter().copied())
        };
        assert!(
            file(&[]).initial_token().is_some(),
            "nothing particular asked"
        );
        assert!(file(&["email"]).initial_token().is_some(), "a subset");
        assert!(
            file(&["openid", "drive", "email"])
                .initial_token()
                .is_some()
        );
        assert!(file(&["email", "calendar"]).initial_token().is_none());
        // A token whose scopes are unknown serves no particular request.
        let bare = AuthorizedUser::from_json(
            br#"{"client_id":"i","client_secret":"s","refresh_token":"r","token":"t","expiry":"2999-01-01T00:00:00Z"}"#,
            "u.json",
        )
        .unwrap();
        assert!(bare.initial_token().is_some());
        assert!(
            bare.with_requested_scopes(["email"])
                .initial_token()
                .is_none()
        );
    }

    #[test]
    fn a_token_written_by_another_process_for_other_scopes_is_not_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        let ctx = ctx();
        let mut v: Value = serde_json::from_str(BROAD).unwrap();
        v["scopes"] = serde_json::json!(["openid"]);
        v["expiry"] = format_expiry(ctx.clock.now() + Duration::from_secs(3000)).into();
        std::fs::write(&path, v.to_string()).unwrap();
        let u = AuthorizedUser::new(
            "id",
            Some(Secret::new("s")),
            Some(Secret::new("1//r")),
            "http://127.0.0.1:9/token".parse().unwrap(),
        )
        .write_back_to(&path)
        .with_requested_scopes(["email"]);
        assert!(matches!(
            u.begin_refresh(&ctx).unwrap(),
            Refresh::Exchange { .. }
        ));
    }

    #[test]
    fn waiting_for_another_processs_refresh_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("user.json");
        std::fs::write(&path, GOOGLE_AUTH_JSON).unwrap();
        let ctx = ctx();
        let u = AuthorizedUser::from_file(&path)
            .unwrap()
            .write_back_to(&path)
            .with_lock_wait(Duration::from_millis(20));
        let holder = FileLock::exclusive(&path).unwrap();
        // The holder is stuck: the wait ends with a typed, transient error.
        let e = u.begin_refresh(&ctx).unwrap_err();
        assert!(matches!(e, Error::LockTimeout { .. }), "{e:?}");
        assert!(e.is_transient());
        // The holder has written a fresh token meanwhile: it is used, no refresh.
        let mut v: Value = serde_json::from_str(GOOGLE_AUTH_JSON).unwrap();
        v["token"] = "ya29.theirs".into();
        v["expiry"] = format_expiry(ctx.clock.now() + Duration::from_secs(3000)).into();
        std::fs::write(&path, v.to_string()).unwrap();
        match u.begin_refresh(&ctx).unwrap() {
            Refresh::Ready(t) => assert_eq!(t.access_token.expose(), "ya29.theirs"),
            other => panic!("{other:?}"),
        }
        drop(holder);
    }

    #[test]
    fn no_refresh_token_is_a_clear_error() {
        let u = AuthorizedUser::new("id", None, None, GOOGLE_TOKEN_URI.parse().unwrap());
        let e = u.begin_refresh(&ctx()).unwrap_err();
        assert!(e.to_string().contains("no refresh token"), "{e}");
    }
}
