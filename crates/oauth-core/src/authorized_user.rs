//! Authorized-user credentials: a user's refresh token and the OAuth client it belongs to.

use std::any::Any;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use serde_json::{Map, Value};

use crate::client_secrets::GOOGLE_TOKEN_URI;
use crate::exchange::BoxExchange;
use crate::json::{self, Fields};
use crate::source::{Refresh, RefreshContext, TokenSource};
use crate::store::{StoredToken, TokenKey};
use crate::types::{ClientId, ClientSecret, RefreshToken, Scope, TokenUrl};
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
/// The value does no I/O: to keep every refresh in the file it came from (atomically, under
/// a lock shared with other processes, so that processes sharing the file make one refresh
/// between them and never reuse a rotated-away refresh token), give its handle a
/// [`FileStore`](crate::store::FileStore):
///
/// ```no_run
/// use oauth_core::{AuthorizedUser, blocking::Credentials, store::FileStore};
/// let user = AuthorizedUser::from_file("authorized_user.json")?;
/// let creds = Credentials::builder(user).store(FileStore::new("authorized_user.json")).build();
/// # Ok::<(), oauth_core::Error>(())
/// ```
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
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    token_uri: TokenUrl,
    scopes: Option<Vec<Scope>>,
    quota_project_id: Option<String>,
    universe_domain: Option<String>,
    account: Option<String>,
    rapt_token: Option<Secret>,
    state: Mutex<UserState>,
    extra: Map<String, Value>,
    /// The scopes a token must be for, when the program asked for particular ones.
    requested_scopes: Option<Vec<Scope>>,
    /// The refresh token the value was made with: part of its store key, so that two users
    /// of one client never share an entry.
    grant: Option<RefreshToken>,
}

#[derive(Debug, Clone)]
struct UserState {
    refresh_token: Option<RefreshToken>,
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

/// The fields of a file that belong to its token.
pub(crate) const TOKEN_FIELDS: [&str; 3] = ["token", "expiry", "id_token"];

impl AuthorizedUser {
    /// Reads an authorized-user file with the default endpoint policy. Nothing is written
    /// back unless the handle is given a [`FileStore`](crate::store::FileStore).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_file_with(path, &EndpointPolicy::default())
    }

    /// Reads an authorized-user file, checking `token_uri` against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        json::load_file(path.as_ref(), policy, Self::from_value_with)
    }

    /// Parses authorized-user JSON; `origin` names it in errors.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        json::load_json(bytes, origin, Self::from_value_with)
    }

    /// Reads an already parsed value (google-auth's `from_authorized_user_info`).
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        let f = Fields::new(value, origin, "")?;
        f.expect_type("authorized_user")?;
        let refresh_token = RefreshToken::new(f.required_secret("refresh_token")?);
        let client_id = ClientId::new(f.required_str("client_id")?);
        let client_secret = ClientSecret::new(f.required_secret("client_secret")?);
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
            client_id,
            client_secret: Some(client_secret),
            token_uri: token_uri.into(),
            scopes: scopes_of(f.string_list("scopes")?),
            quota_project_id: f.optional_str("quota_project_id")?.map(str::to_owned),
            universe_domain,
            account: f.optional_str("account")?.map(str::to_owned),
            rapt_token: f.optional_secret("rapt_token")?,
            grant: Some(refresh_token.clone()),
            state: Mutex::new(UserState {
                refresh_token: Some(refresh_token),
                token,
            }),
            extra,
            requested_scopes: None,
        })
    }

    /// Credentials fresh from a token endpoint (what a sign-in flow produces).
    ///
    /// ```
    /// use oauth_core::AuthorizedUser;
    /// use oauth_core::types::{ClientSecret, RefreshToken, TokenUrl};
    /// let user = AuthorizedUser::new("id", Some(ClientSecret::new("s")), Some(RefreshToken::new("1//r")),
    ///     "https://oauth2.googleapis.com/token".parse::<TokenUrl>().unwrap());
    /// assert!(user.to_json().contains("\"refresh_token\":\"1//r\""));
    /// ```
    pub fn new(
        client_id: impl Into<ClientId>,
        client_secret: Option<ClientSecret>,
        refresh_token: Option<RefreshToken>,
        token_uri: impl Into<TokenUrl>,
    ) -> Self {
        AuthorizedUser {
            client_id: client_id.into(),
            client_secret,
            token_uri: token_uri.into(),
            scopes: None,
            quota_project_id: None,
            universe_domain: None,
            account: None,
            rapt_token: None,
            grant: refresh_token.clone(),
            state: Mutex::new(UserState {
                refresh_token,
                token: None,
            }),
            extra: Map::new(),
            requested_scopes: None,
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
        S: Into<Scope>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Asks for tokens issued for these scopes (a subset of the grant, or scopes a wildcard
    /// grant covers), as google-auth does when `scopes` are given to
    /// `Credentials.from_authorized_user_file`: each refresh sends them as `scope`, a token
    /// (read from the file, a store or memory) is used only when its scopes include them
    /// all, and the file's own `scopes` (the record of what the user consented to) is never
    /// rewritten. A token for other scopes than the file records is not written to the file
    /// either; a rotated refresh token always is. An empty list asks for nothing particular.
    ///
    /// ```
    /// use oauth_core::{AuthorizedUser, TokenSource};
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
    /// assert!(narrower.initial_token().is_none(), "a token for other scopes is not used");
    /// ```
    pub fn with_requested_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        let scopes: Vec<Scope> = scopes.into_iter().map(Into::into).collect();
        self.requested_scopes = (!scopes.is_empty()).then_some(scopes);
        self
    }

    /// The scopes tokens are asked for, when set with
    /// [`AuthorizedUser::with_requested_scopes`].
    pub fn requested_scopes(&self) -> Option<&[Scope]> {
        self.requested_scopes.as_deref()
    }

    /// Sets the project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// The OAuth client ID.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// The OAuth client secret, when there is one.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        self.client_secret.as_ref()
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> &TokenUrl {
        &self.token_uri
    }

    /// The scopes of the grant (the file's `scopes`), when known.
    pub fn scopes(&self) -> Option<&[Scope]> {
        self.scopes.as_deref()
    }

    /// The current refresh token (it changes when the server rotates it).
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.lock_state().refresh_token.clone()
    }

    /// The last token obtained or read.
    pub fn token(&self) -> Option<Token> {
        self.lock_state().token.clone()
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, UserState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The credentials as google-auth's `Credentials.to_json()` writes them, so
    /// `Credentials.from_authorized_user_info` loads them back. Unknown fields read from a
    /// file are kept. A token for other scopes than the grant records is left out.
    pub fn to_json(&self) -> String {
        Value::Object(self.to_map(self.extra.clone())).to_string()
    }

    fn to_map(&self, mut m: Map<String, Value>) -> Map<String, Value> {
        let mut state = self.lock_state().clone();
        // A token for other scopes than the grant's record is not the file's token.
        if state.token.as_ref().is_some_and(|t| !self.fits_file(t)) {
            state.token = None;
        }
        for k in KNOWN {
            m.remove(k);
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
        put("client_id", Some(self.client_id.as_str().into()));
        put(
            "client_secret",
            self.client_secret.as_ref().map(|s| s.expose().into()),
        );
        put("scopes", self.scopes.as_deref().map(scope_list));
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

    fn refresh_call(&self, refresh_token: &RefreshToken) -> TokenCall {
        let mut params = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("client_id".to_owned(), self.client_id.to_string()),
        ];
        if let Some(s) = &self.client_secret {
            params.push(("client_secret".into(), s.expose().to_owned()));
        }
        params.push(("refresh_token".into(), refresh_token.expose().to_owned()));
        if let Some(scopes) = self.wanted_scopes().filter(|s| !s.is_empty()) {
            let joined: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
            params.push(("scope".into(), joined.join(" ")));
        }
        if let Some(r) = &self.rapt_token {
            params.push(("rapt".into(), r.expose().to_owned()));
        }
        TokenCall::new(self.token_uri.clone(), params)
    }

    /// The scopes a refresh asks for: the requested ones, else the grant's.
    fn wanted_scopes(&self) -> Option<&[Scope]> {
        self.requested_scopes.as_deref().or(self.scopes.as_deref())
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
}

/// Whether a token issued for `have` serves a request for `want` (`None`: nothing in
/// particular). A token whose scopes are unknown serves no particular request.
pub(crate) fn covers(have: Option<&[Scope]>, want: Option<&[Scope]>) -> bool {
    match want {
        None => true,
        Some(want) => {
            let have = have.unwrap_or_default();
            want.iter().all(|w| have.contains(w))
        }
    }
}

fn scopes_of(list: Option<Vec<String>>) -> Option<Vec<Scope>> {
    list.map(|l| l.into_iter().map(Scope::from).collect())
}

pub(crate) fn scope_list(scopes: &[Scope]) -> Value {
    Value::Array(scopes.iter().map(|s| Value::from(s.as_str())).collect())
}

/// The token an authorized-user file (or value) holds, with the file's scopes.
pub(crate) fn parse_token(f: &Fields<'_>) -> Result<Option<Token>, Error> {
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
    token.scopes = scopes_of(f.string_list("scopes")?);
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

pub(crate) fn format_expiry(t: SystemTime) -> String {
    crate::clock::format_rfc3339(t)
}

impl TokenSource for AuthorizedUser {
    fn kind(&self) -> &'static str {
        "authorized_user"
    }

    fn initial_token(&self) -> Option<Token> {
        self.lock_state().token.clone().filter(|t| self.accepts(t))
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    /// The client and the grant (a digest of the refresh token the value was made with, so
    /// two users of one client never share an entry), for the requested scopes; sealed
    /// with the client secret and that same refresh token, so that knowing an app's client
    /// secret (which installed apps ship) opens no user's entries.
    ///
    /// The refresh token in the key is the one the value was made with (the file's when it
    /// was read), never a rotated one: every process that loaded the same file derives the
    /// same key, whatever rotations happened since.
    fn store_key(&self) -> TokenKey {
        let grant = self.grant.as_ref().map_or("", |g| g.expose());
        let digest = ring::digest::digest(&ring::digest::SHA256, grant.as_bytes());
        let short: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let identity = format!("{}/grant-{short}", self.client_id);
        let requested = self.requested_scopes.as_deref().unwrap_or_default();
        let key = TokenKey::new(self.kind(), &identity, requested.iter().map(Scope::as_str));
        let client_secret = self.client_secret.as_ref().map_or("", |s| s.expose());
        if client_secret.is_empty() && grant.is_empty() {
            return key;
        }
        // Length-prefixed parts: no two (secret, token) pairs give the same input.
        let mut secret = Vec::with_capacity(16 + client_secret.len() + grant.len());
        for part in [client_secret, grant] {
            secret.extend_from_slice(&(part.len() as u64).to_be_bytes());
            secret.extend_from_slice(part.as_bytes());
        }
        key.with_secret(&secret)
    }

    fn accepts(&self, token: &Token) -> bool {
        covers(token.scopes.as_deref(), self.requested_scopes.as_deref())
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        stored: Option<&StoredToken>,
    ) -> Result<Refresh, Error> {
        // The store's refresh token is the latest: another process may have rotated it.
        if let Some(rt) = stored.and_then(|s| s.refresh_token.clone()) {
            self.lock_state().refresh_token = Some(rt);
        }
        let Some(refresh_token) = self.refresh_token() else {
            return Err(Error::NotRefreshable {
                kind: "authorized_user",
                reason: "no refresh token (sign in again with access_type=offline)".into(),
            });
        };
        let exchange: BoxExchange<TokenResponse> =
            Box::new(Retrying::new(self.refresh_call(&refresh_token), ctx.retry));
        Ok(Refresh::Exchange(exchange))
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        let mut token = response.to_token(ctx.clock.now());
        if token.scopes.is_none() {
            token.scopes = self.wanted_scopes().map(<[Scope]>::to_vec);
        }
        let mut state = self.lock_state();
        if let Some(rt) = response.refresh_token {
            state.refresh_token = Some(rt);
        }
        state.token = Some(token.clone());
        Ok(token)
    }

    fn current_refresh_token(&self) -> Option<RefreshToken> {
        self.refresh_token()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Exchange, Input, Step};
    use crate::http::Bytes;
    use crate::{ManualClock, RetryPolicy};
    use std::sync::Arc;
    use std::time::Duration;

    const GOOGLE_AUTH_JSON: &str = r#"{"token": "ya29.old", "refresh_token": "1//r", "token_uri": "http://127.0.0.1:9/token", "client_id": "id", "client_secret": "s", "scopes": ["openid", "email"], "universe_domain": "googleapis.com", "account": "", "expiry": "2030-01-02T03:04:05.678901Z"}"#;

    const BROAD: &str = r#"{"token": "ya29.broad", "refresh_token": "1//r", "token_uri": "http://127.0.0.1:9/token", "client_id": "id", "client_secret": "s", "scopes": ["openid", "email", "drive"], "expiry": "2030-01-02T03:04:05Z"}"#;

    fn ctx() -> RefreshContext {
        RefreshContext {
            clock: Arc::new(ManualClock::new(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_900_000_000),
            )),
            margin: Duration::from_secs(225),
            retry: RetryPolicy::none(),
        }
    }

    fn exchange_of(refresh: Refresh) -> BoxExchange<TokenResponse> {
        match refresh {
            Refresh::Exchange(e) => e,
            other => panic!("expected an exchange, got {other:?}"),
        }
    }

    fn body_of(exchange: &mut BoxExchange<TokenResponse>) -> String {
        let Step::Send(req) = exchange.step(Input::Start) else {
            panic!("expected a request")
        };
        String::from_utf8(req.body().to_vec()).unwrap()
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
        let mut exchange = exchange_of(u.begin_refresh(&ctx, None).unwrap());
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
            .body(Bytes::from_static(
                br#"{"access_token":"ya29.new","expires_in":3600,"refresh_token":"1//rotated"}"#,
            ))
            .unwrap();
        let Step::Done(Ok(tr)) = exchange.step(Input::Response(Ok(resp))) else {
            panic!()
        };
        let key_before = u.store_key().sealed_name().map(str::to_owned);
        let t = u.finish_refresh(tr, &ctx).unwrap();
        assert_eq!(t.access_token.expose(), "ya29.new");
        assert_eq!(
            u.store_key().sealed_name().map(str::to_owned),
            key_before,
            "a rotation keeps the key every loader of the file derived"
        );
        assert_eq!(u.refresh_token().unwrap().expose(), "1//rotated");
        assert_eq!(u.current_refresh_token().unwrap().expose(), "1//rotated");
        let j: Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(j["refresh_token"], "1//rotated");
        assert_eq!(j["token"], "ya29.new");
        assert_eq!(
            j["expiry"],
            format_expiry(ctx.clock.now() + Duration::from_secs(3600))
        );
    }

    #[test]
    fn a_stored_refresh_token_rotated_elsewhere_is_the_one_used() {
        let u = AuthorizedUser::from_json(GOOGLE_AUTH_JSON.as_bytes(), "c.json").unwrap();
        let stored = StoredToken::default().with_refresh_token(RefreshToken::new("1//theirs"));
        let mut exchange = exchange_of(u.begin_refresh(&ctx(), Some(&stored)).unwrap());
        assert!(body_of(&mut exchange).contains("refresh_token=1%2F%2Ftheirs"));
        assert_eq!(u.refresh_token().unwrap().expose(), "1//theirs");
    }

    #[test]
    fn requested_scopes_are_asked_for_and_the_grant_record_is_kept() {
        let ctx = ctx();
        let u = AuthorizedUser::from_json(BROAD.as_bytes(), "u.json")
            .unwrap()
            .with_requested_scopes(["email"]);
        let mut exchange = exchange_of(u.begin_refresh(&ctx, None).unwrap());
        assert!(body_of(&mut exchange).ends_with("&refresh_token=1%2F%2Fr&scope=email"));
        let response = TokenResponse {
            access_token: "ya29.narrow".into(),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            refresh_token: None,
            scopes: None,
            id_token: None,
        };
        let t = u.finish_refresh(response, &ctx).unwrap();
        assert_eq!(t.scopes.unwrap(), ["email"]);
        let json: Value = serde_json::from_str(&u.to_json()).unwrap();
        assert_eq!(
            json["scopes"],
            serde_json::json!(["openid", "email", "drive"])
        );
        assert!(
            json.get("token").is_none(),
            "the narrow token is not the file's: {json}"
        );
        assert_eq!(u.store_key().scopes(), ["email"]);
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
    fn keys_tell_users_of_one_client_apart_and_can_seal() {
        let a = AuthorizedUser::from_json(GOOGLE_AUTH_JSON.as_bytes(), "a.json").unwrap();
        let b = AuthorizedUser::from_json(
            GOOGLE_AUTH_JSON.replace("1//r", "1//other").as_bytes(),
            "b.json",
        )
        .unwrap();
        assert_ne!(a.store_key(), b.store_key());
        assert!(a.store_key().can_seal());
        // Same client and secret (installed apps ship it), other refresh token: other name.
        assert_ne!(a.store_key().sealed_name(), b.store_key().sealed_name());

        assert!(a.store_key().identity().starts_with("id/grant-"));
        assert!(!format!("{:?}", a.store_key()).contains("1//r"));
    }

    #[test]
    fn no_refresh_token_is_a_clear_error() {
        let u = AuthorizedUser::new(
            "id",
            None,
            None,
            GOOGLE_TOKEN_URI.parse::<TokenUrl>().unwrap(),
        );
        let e = u.begin_refresh(&ctx(), None).unwrap_err();
        assert!(e.to_string().contains("no refresh token"), "{e}");
    }
}
