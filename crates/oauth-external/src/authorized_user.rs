//! `external_account_authorized_user` files: a workforce identity federation user's refresh
//! token (what `gcloud auth application-default login` writes for workforce pools),
//! refreshed at STS with the client's Basic authentication.

use std::any::Any;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;

use oauth_core::json::{self, Fields};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{StoredToken, TokenKey};
use oauth_core::types::RefreshToken;
use oauth_core::{EndpointPolicy, Error, Retrying, Secret, Token, TokenResponse};
use serde_json::Value;
use url::Url;

use crate::sts::{ClientAuth, StsCall};

/// A workforce user's credentials (google-auth's
/// `external_account_authorized_user.Credentials`).
///
/// The refresh is `grant_type=refresh_token` at `token_url` with the client's id and secret
/// as HTTP Basic, exactly as google-auth sends it; a rotated refresh token is kept.
/// `token_url`, `token_info_url` and `revoke_url` must pass the [`EndpointPolicy`].
///
/// ```
/// use oauth_external::ExternalAccountAuthorizedUser;
/// let user = ExternalAccountAuthorizedUser::from_json(br#"{
///   "type": "external_account_authorized_user",
///   "audience": "//iam.googleapis.com/locations/global/workforcePools/pool/providers/idp",
///   "refresh_token": "refresh", "client_id": "cid", "client_secret": "secret",
///   "token_url": "https://sts.googleapis.com/v1/oauthtoken",
///   "revoke_url": "https://sts.googleapis.com/v1/revoke"
/// }"#, "user.json").unwrap();
/// assert_eq!(user.token_url().unwrap().as_str(), "https://sts.googleapis.com/v1/oauthtoken");
/// assert!(!format!("{user:?}").contains("refresh\""));
/// ```
#[derive(Debug)]
pub struct ExternalAccountAuthorizedUser {
    origin: String,
    audience: Option<String>,
    client: Option<ClientAuth>,
    can_refresh: bool,
    token_url: Option<Url>,
    token_info_url: Option<Url>,
    revoke_url: Option<Url>,
    scopes: Option<Vec<String>>,
    quota_project_id: Option<String>,
    universe_domain: String,
    /// The refresh token the file held when read (never rotated): what the store key is
    /// derived from, so every process that read the file agrees on it.
    grant: Option<Secret>,
    state: Mutex<State>,
}

#[derive(Debug, Clone)]
struct State {
    refresh_token: Option<Secret>,
    token: Option<Token>,
}

impl ExternalAccountAuthorizedUser {
    /// Reads the file with the default endpoint policy.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_file_with(path, &EndpointPolicy::default())
    }

    /// Reads the file, checking its endpoints against `policy`.
    pub fn from_file_with(path: impl AsRef<Path>, policy: &EndpointPolicy) -> Result<Self, Error> {
        json::load_file(path.as_ref(), policy, Self::from_value_with)
    }

    /// Parses the JSON; `origin` names it in errors.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        json::load_json(bytes, origin, Self::from_value_with)
    }

    /// Reads an already parsed value (google-auth's `from_info`).
    pub fn from_value_with(
        value: &Value,
        origin: &str,
        policy: &EndpointPolicy,
    ) -> Result<Self, Error> {
        let f = Fields::new(value, origin, "")?;
        f.expect_type("external_account_authorized_user")?;
        let url = |field: &str| -> Result<Option<Url>, Error> {
            match f.optional_str(field)?.filter(|u| !u.is_empty()) {
                Some(u) => policy.check(origin, field, u, None).map(Some),
                None => Ok(None),
            }
        };
        let token_url = url("token_url")?;
        let token_info_url = url("token_info_url")?;
        let revoke_url = url("revoke_url")?;
        let refresh_token = f.optional_secret("refresh_token")?;
        let client_id = f.optional_str("client_id")?.filter(|s| !s.is_empty());
        let client_secret = f.optional_secret("client_secret")?;
        let expiry = match f.optional_str("expiry")? {
            None => None,
            Some(s) => Some(
                parse_expiry(s)
                    .ok_or_else(|| f.invalid("expiry", "not a time like 2024-01-01T00:00:00Z"))?,
            ),
        };
        let token = f
            .optional_secret("token")?
            .map(|t| Token::bearer(t, expiry));
        let can_refresh = refresh_token.is_some()
            && token_url.is_some()
            && client_id.is_some()
            && client_secret.is_some();
        let valid = token
            .as_ref()
            .is_some_and(|t| t.is_valid(SystemTime::now()));
        if !valid && !can_refresh {
            let missing: Vec<&str> = [
                ("refresh_token", refresh_token.is_some()),
                ("token_url", token_url.is_some()),
                ("client_id", client_id.is_some()),
                ("client_secret", client_secret.is_some()),
            ]
            .iter()
            .filter(|(_, present)| !present)
            .map(|(k, _)| *k)
            .collect();
            return Err(f.invalid(
                missing.first().copied().unwrap_or("token"),
                &format!(
                    "the file has no valid `token` and cannot refresh one without {}",
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(ExternalAccountAuthorizedUser {
            origin: origin.to_owned(),
            audience: f.optional_str("audience")?.map(str::to_owned),
            client: client_id.map(|id| ClientAuth::new(id, client_secret)),
            can_refresh,
            token_url,
            token_info_url,
            revoke_url,
            scopes: f.string_list("scopes")?,
            quota_project_id: f.optional_str("quota_project_id")?.map(str::to_owned),
            universe_domain: f
                .optional_str("universe_domain")?
                .filter(|u| !u.is_empty())
                .unwrap_or("googleapis.com")
                .to_owned(),
            grant: refresh_token.clone(),
            state: Mutex::new(State {
                refresh_token,
                token,
            }),
        })
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// The workforce pool provider.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The STS refresh endpoint.
    pub fn token_url(&self) -> Option<&Url> {
        self.token_url.as_ref()
    }

    /// The STS introspection endpoint.
    pub fn token_info_url(&self) -> Option<&Url> {
        self.token_info_url.as_ref()
    }

    /// The STS revocation endpoint.
    pub fn revoke_url(&self) -> Option<&Url> {
        self.revoke_url.as_ref()
    }

    /// The scopes the file records (read only: the grant fixed them).
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// The universe domain.
    pub fn universe_domain(&self) -> &str {
        &self.universe_domain
    }

    /// The current refresh token (it changes when STS rotates it).
    pub fn refresh_token(&self) -> Option<Secret> {
        self.lock_state().refresh_token.clone()
    }

    /// The revocation of the refresh token (google-auth's `revoke`): POST `revoke_url`
    /// with `token` and `token_type_hint=refresh_token`, the client as Basic. Run it with
    /// `oauth_core::blocking::run` or `oauth_core::run_async` through
    /// [`oauth_core::Retrying`].
    pub fn revoke_call(&self) -> Result<StsCall, Error> {
        let missing = |field: &str| Error::MissingField {
            origin: self.origin.clone(),
            field: field.to_owned(),
        };
        let url = self
            .revoke_url
            .clone()
            .ok_or_else(|| missing("revoke_url"))?;
        let token = self
            .refresh_token()
            .ok_or_else(|| missing("refresh_token"))?;
        let client = self.client.clone().ok_or_else(|| missing("client_id"))?;
        Ok(StsCall::revoke(url, token, "refresh_token", client))
    }
}

/// google-auth writes `isoformat() + "Z"` and reads it back without the fraction.
fn parse_expiry(s: &str) -> Option<SystemTime> {
    let base = s.trim().trim_end_matches('Z');
    let base = base.split('.').next().unwrap_or(base);
    humantime::parse_rfc3339_weak(base).ok()
}

impl TokenSource for ExternalAccountAuthorizedUser {
    fn kind(&self) -> &'static str {
        "external_account_authorized_user"
    }

    fn initial_token(&self) -> Option<Token> {
        self.lock_state().token.clone()
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    /// The client, the audience, the token endpoint and the grant (a digest of the refresh
    /// token the file held when read), sealed with the client secret and that refresh
    /// token, as an authorized user's: the grant is this user's alone. Without a refresh
    /// token there is nothing to refresh with, and nothing shared.
    fn store_key(&self) -> TokenKey {
        let grant = self.grant.as_ref().map_or("", Secret::expose);
        let digest = ring::digest::digest(&ring::digest::SHA256, grant.as_bytes());
        let short: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let identity = format!(
            "{}/{}/{}/grant-{short}",
            self.client.as_ref().map_or("", ClientAuth::client_id),
            self.audience.as_deref().unwrap_or(""),
            self.token_url.as_ref().map_or("", Url::as_str),
        );
        let key = TokenKey::new(self.kind(), &identity, self.scopes.iter().flatten());
        if grant.is_empty() {
            return key;
        }
        let client_secret = self
            .client
            .as_ref()
            .and_then(ClientAuth::client_secret)
            .map_or("", Secret::expose);
        let mut secret = Vec::with_capacity(16 + client_secret.len() + grant.len());
        for part in [client_secret, grant] {
            secret.extend_from_slice(&(part.len() as u64).to_be_bytes());
            secret.extend_from_slice(part.as_bytes());
        }
        key.with_secret(&secret)
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        stored: Option<&StoredToken>,
    ) -> Result<Refresh, Error> {
        // The store's refresh token is the latest: another process may have rotated it.
        if let Some(rt) = stored.and_then(|s| s.refresh_token.clone()) {
            self.lock_state().refresh_token = Some(rt.into());
        }
        let refresh_token = self.refresh_token();
        let (true, Some(url), Some(client), Some(rt)) = (
            self.can_refresh,
            self.token_url.clone(),
            self.client.clone(),
            refresh_token,
        ) else {
            return Err(Error::NotRefreshable {
                kind: "external_account_authorized_user",
                reason: format!(
                    "{}: refreshing needs `refresh_token`, `token_url`, `client_id` and `client_secret`",
                    self.origin
                ),
            });
        };
        Ok(Refresh::Exchange(Box::new(Retrying::new(
            StsCall::refresh_token(url, rt, client),
            ctx.retry,
        ))))
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        let token = response.to_token(ctx.clock.now());
        let mut state = self.lock_state();
        if let Some(rt) = response.refresh_token {
            state.refresh_token = Some(rt.into());
        }
        state.token = Some(token.clone());
        Ok(token)
    }

    fn current_refresh_token(&self) -> Option<RefreshToken> {
        self.refresh_token().map(RefreshToken::from)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use oauth_core::exchange::{Call, Exchange, Input, Step};
    use oauth_core::{ManualClock, RetryPolicy};
    use serde_json::json;

    use super::*;

    fn user(v: Value) -> Result<ExternalAccountAuthorizedUser, Error> {
        ExternalAccountAuthorizedUser::from_value_with(&v, "u.json", &EndpointPolicy::default())
    }

    fn full() -> Value {
        json!({"type": "external_account_authorized_user", "audience": "aud",
               "refresh_token": "r1", "client_id": "c", "client_secret": "s",
               "token_url": "http://127.0.0.1:9/v1/oauthtoken",
               "revoke_url": "http://127.0.0.1:9/v1/revoke", "quota_project_id": "q"})
    }

    #[test]
    fn store_keys_are_sealed_with_the_grant_and_survive_a_rotation() {
        let u = user(full()).unwrap();
        let key = u.store_key();
        assert!(key.can_seal());
        let mut other = full();
        other["refresh_token"] = "r2".into();
        assert_ne!(
            key.sealed_name(),
            user(other).unwrap().store_key().sealed_name()
        );
        let ctx = RefreshContext {
            clock: Arc::new(ManualClock::new(UNIX_EPOCH)),
            margin: Duration::ZERO,
            retry: RetryPolicy::none(),
        };
        let mut rotated = StoredToken::default();
        rotated.refresh_token = Some(RefreshToken::new("r-rotated"));
        u.begin_refresh(&ctx, Some(&rotated)).unwrap();
        assert_eq!(u.store_key().sealed_name(), key.sealed_name());
        assert!(!format!("{key:?}").contains("r1"));
    }

    #[test]
    fn refresh_is_a_basic_authenticated_refresh_grant_keeping_rotation() {
        let u = user(full()).unwrap();
        let ctx = RefreshContext {
            clock: Arc::new(ManualClock::new(UNIX_EPOCH)),
            margin: Duration::ZERO,
            retry: RetryPolicy::none(),
        };
        let Refresh::Exchange(mut exchange) = u.begin_refresh(&ctx, None).unwrap() else {
            panic!()
        };
        let Step::Send(req) = exchange.step(Input::Start) else {
            panic!()
        };
        assert_eq!(req.uri(), "http://127.0.0.1:9/v1/oauthtoken");
        assert_eq!(
            &req.body()[..],
            b"grant_type=refresh_token&refresh_token=r1"
        );
        assert_eq!(req.headers()["authorization"], "Basic Yzpz");
        let ok = http::Response::builder()
            .status(200)
            .body(
                br#"{"access_token":"ya29.w","expires_in":3600,"refresh_token":"r2"}"#
                    .to_vec()
                    .into(),
            )
            .unwrap();
        let Step::Done(Ok(resp)) = exchange.step(Input::Response(Ok(ok))) else {
            panic!()
        };
        let t = u.finish_refresh(resp, &ctx).unwrap();
        assert_eq!(t.access_token.expose(), "ya29.w");
        assert_eq!(u.refresh_token().unwrap().expose(), "r2");
        assert_eq!(u.quota_project_id(), Some("q"));
        let revoke = u.revoke_call().unwrap().request().unwrap();
        assert_eq!(
            &revoke.body()[..],
            b"token=r2&token_type_hint=refresh_token"
        );
    }

    #[test]
    fn files_that_can_neither_refresh_nor_use_their_token_are_refused() {
        let mut v = full();
        v.as_object_mut().unwrap().remove("client_secret");
        let e = user(v.clone()).unwrap_err().to_string();
        assert!(e.contains("`client_secret`"), "{e}");
        v["token"] = "ya29.held".into();
        v["expiry"] = "2999-01-01T00:00:00.5Z".into();
        let u = user(v).unwrap();
        assert_eq!(
            u.initial_token().unwrap().access_token.expose(),
            "ya29.held"
        );
        let mut v = full();
        v["token_url"] = "https://sts.evil.example/v1/oauthtoken".into();
        assert!(user(v).unwrap_err().to_string().contains("evil.example"));
    }
}
