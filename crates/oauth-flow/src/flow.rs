//! `Flow`: the authorization code grant with PKCE (RFC 6749 section 4.1, RFC 7636), free
//! of I/O and serializable between the redirect and the callback.

use std::fmt;
use std::path::Path;
use std::time::SystemTime;

use oauth_core::exchange::{Exchange, Input, Step};
use oauth_core::types::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfState, PkceVerifier, RedirectUrl,
    Scope, TokenUrl,
};
use oauth_core::{
    AuthorizedUser, ClientSecrets, ClientType, EndpointPolicy, RetryPolicy, Retrying, Secret,
    TokenCall, TokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::pkce;
use crate::{AuthorizationError, FlowError};

/// The out-of-band redirect URI Google no longer accepts.
pub const OOB_REDIRECT_URI: &str = "urn:ietf:wg:oauth:2.0:oob";

/// What Python's `urllib.parse.quote_plus` leaves as it is: letters, digits and `_.-~`.
const QUOTE_PLUS_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// A query component as Python's `urlencode` writes it (oauthlib's URLs): UTF-8,
/// percent-encoded but for `A-Z a-z 0-9 _ . - ~`, a space as `+`.
fn quote_plus(s: &str) -> String {
    // '%' itself is encoded, so "%20" in the output can only be a space.
    percent_encoding::utf8_percent_encode(s, QUOTE_PLUS_SAFE)
        .to_string()
        .replace("%20", "+")
}

/// Parameters the flow sets itself; `with_param` may not override them.
const RESERVED: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "client_secret",
];

/// The authorization code flow of one sign-in: builds the authorization URL, checks the
/// redirect, and turns the code into [`AuthorizedUser`] credentials. Python's
/// `google_auth_oauthlib.flow.Flow`.
///
/// `Flow` does no I/O: [`Flow::code_exchange`] is a sans-IO exchange that the handles
/// ([`crate::blocking::InstalledAppFlow`], the async [`crate::InstalledAppFlow`]) or any
/// driver run. It is `Serialize + Deserialize`, so a web application can keep it between
/// sending the user away and the callback. The serialized form holds the client secret and
/// the PKCE verifier: keep it on the server side (a session store), never in a cookie.
/// `Debug` prints neither.
///
/// ```
/// use oauth_flow::Flow;
/// let mut flow = Flow::from_client_config(&serde_json::json!({"web": {
///     "client_id": "123.apps.googleusercontent.com", "client_secret": "GOCSPX-s",
///     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
///     "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid", "email"])?
///     .with_redirect_uri("https://app.example/callback".parse()?)
///     .with_login_hint("user@example.com");
/// let oauth_flow::AuthorizationRequest { url, state } = flow.authorization_url()?;
/// let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
/// assert_eq!(q["response_type"], "code");
/// assert_eq!(q["scope"], "openid email");
/// assert_eq!(q["access_type"], "offline");
/// assert_eq!(q["code_challenge_method"], "S256");
/// assert_eq!(q["state"], state.expose());
/// // Keep the flow until the callback...
/// let saved = serde_json::to_string(&flow).unwrap();
/// let restored: Flow = serde_json::from_str(&saved).unwrap();
/// // ...where the redirect is checked: a wrong state is refused.
/// let e = restored.parse_redirect("https://app.example/callback?code=4/x&state=forged").unwrap_err();
/// assert!(matches!(e, oauth_flow::FlowError::StateMismatch));
/// assert!(!format!("{restored:?}").contains("GOCSPX"));
/// # Ok::<(), oauth_flow::FlowError>(())
/// ```
#[derive(Clone, Serialize, Deserialize)]
pub struct Flow {
    client_type: ClientType,
    client_id: ClientId,
    #[serde(default)]
    client_secret: Option<ClientSecret>,
    auth_uri: AuthUrl,
    token_uri: TokenUrl,
    scopes: Vec<Scope>,
    #[serde(default)]
    redirect_uri: Option<RedirectUrl>,
    #[serde(default = "yes")]
    pkce: bool,
    #[serde(default)]
    code_verifier: Option<PkceVerifier>,
    #[serde(default)]
    state: Option<CsrfState>,
    #[serde(default)]
    fixed_state: bool,
    #[serde(default)]
    access_type: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
    #[serde(default)]
    include_granted_scopes: bool,
    #[serde(default)]
    login_hint: Option<String>,
    #[serde(default)]
    hd: Option<String>,
    #[serde(default)]
    extra_params: Vec<(String, String)>,
    #[serde(skip, default)]
    retry: Option<RetryPolicy>,
}

fn yes() -> bool {
    true
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("client_type", &self.client_type)
            .field("client_id", &self.client_id)
            .field("auth_uri", &self.auth_uri.as_str())
            .field("token_uri", &self.token_uri.as_str())
            .field("scopes", &self.scopes)
            .field(
                "redirect_uri",
                &self.redirect_uri.as_ref().map(RedirectUrl::as_str),
            )
            .field("pkce", &self.pkce)
            .field("has_verifier", &self.code_verifier.is_some())
            .field("has_state", &self.state.is_some())
            .field("access_type", &self.access_type)
            .field("prompt", &self.prompt)
            .finish_non_exhaustive()
    }
}

impl Flow {
    /// A flow for a parsed client-secrets file and the scopes to ask for.
    ///
    /// ```
    /// use oauth_core::ClientSecrets;
    /// let secrets = ClientSecrets::from_json(br#"{"installed": {"client_id": "id",
    ///     "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    ///     "token_uri": "https://oauth2.googleapis.com/token"}}"#, "cs.json").unwrap();
    /// let flow = oauth_flow::Flow::from_client_secrets(secrets, ["openid"]);
    /// assert_eq!(flow.scopes()[0], "openid");
    /// ```
    pub fn from_client_secrets<I, S>(secrets: ClientSecrets, scopes: I) -> Flow
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        Flow {
            client_type: secrets.client_type,
            client_id: secrets.client_id,
            client_secret: secrets.client_secret,
            auth_uri: secrets.auth_uri,
            token_uri: secrets.token_uri,
            scopes: scopes.into_iter().map(Into::into).collect(),
            redirect_uri: None,
            pkce: true,
            code_verifier: None,
            state: None,
            fixed_state: false,
            access_type: Some("offline".into()),
            prompt: None,
            include_granted_scopes: false,
            login_hint: None,
            hd: None,
            extra_params: Vec::new(),
            retry: None,
        }
    }

    /// Reads a client-secrets file (endpoints checked by the default [`EndpointPolicy`]).
    ///
    /// ```no_run
    /// let flow = oauth_flow::Flow::from_client_secrets_file("client_secrets.json", ["openid"])?;
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn from_client_secrets_file<I, S>(
        path: impl AsRef<Path>,
        scopes: I,
    ) -> Result<Flow, FlowError>
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        Ok(Self::from_client_secrets(
            ClientSecrets::from_file(path)?,
            scopes,
        ))
    }

    /// Reads a client-secrets JSON value (Python's `from_client_config`).
    ///
    /// ```
    /// let e = oauth_flow::Flow::from_client_config(&serde_json::json!({"web": {}}), ["openid"]).unwrap_err();
    /// assert!(e.to_string().contains("web.client_id"));
    /// ```
    pub fn from_client_config<I, S>(
        config: &serde_json::Value,
        scopes: I,
    ) -> Result<Flow, FlowError>
    where
        I: IntoIterator<Item = S>,
        S: Into<Scope>,
    {
        let secrets =
            ClientSecrets::from_value_with(config, "client config", &EndpointPolicy::default())?;
        Ok(Self::from_client_secrets(secrets, scopes))
    }

    /// Sets the redirect URI (Python's `flow.redirect_uri = ...`). A [`RedirectUrl`] is
    /// checked as a URL (`"https://app.example/callback".parse()?`) and sent as written.
    ///
    /// ```
    /// let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    ///     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?
    ///     .with_redirect_uri("http://127.0.0.1:8080".parse()?);
    /// assert_eq!(flow.redirect_uri().unwrap().as_str(), "http://127.0.0.1:8080");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_redirect_uri(mut self, uri: RedirectUrl) -> Self {
        self.set_redirect_uri(uri);
        self
    }

    /// Sets the redirect URI in place.
    pub fn set_redirect_uri(&mut self, uri: RedirectUrl) {
        self.redirect_uri = Some(uri);
    }

    /// Turns PKCE off (on by default) for a server that refuses it.
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_pkce(false).with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// let url = flow.authorization_url()?.url;
    /// assert!(!url.as_str().contains("code_challenge"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_pkce(mut self, enabled: bool) -> Self {
        self.pkce = enabled;
        if !enabled {
            self.code_verifier = None;
        }
        self
    }

    /// Uses the caller's PKCE verifier (43 to 128 characters of `A-Z a-z 0-9 - . _ ~`).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// assert!(flow.with_code_verifier("too-short").is_err());
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_code_verifier(
        mut self,
        verifier: impl Into<PkceVerifier>,
    ) -> Result<Self, FlowError> {
        let verifier = verifier.into();
        pkce::check_verifier(verifier.secret())?;
        self.pkce = true;
        self.code_verifier = Some(verifier);
        Ok(self)
    }

    /// Uses the caller's `state` instead of a random one (it should still be
    /// unguessable: it is what protects the callback from forged redirects).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_state("my-state").with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert_eq!(flow.authorization_url()?.state.expose(), "my-state");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_state(mut self, state: impl Into<CsrfState>) -> Self {
        self.state = Some(state.into());
        self.fixed_state = true;
        self
    }

    /// Sets `access_type` (`offline` by default, which asks for a refresh token; `None`
    /// leaves the parameter out).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_access_type(None).with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert!(!flow.authorization_url()?.url.as_str().contains("access_type"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_access_type(mut self, access_type: Option<&str>) -> Self {
        self.access_type = access_type.map(str::to_owned);
        self
    }

    /// Sets `prompt` (`consent`, `select_account`, `none`, space-separated).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_prompt("consent").with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert!(flow.authorization_url()?.url.as_str().contains("prompt=consent"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Sends `include_granted_scopes=true` (incremental authorization).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_include_granted_scopes(true).with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert!(flow.authorization_url()?.url.as_str().contains("include_granted_scopes=true"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_include_granted_scopes(mut self, include: bool) -> Self {
        self.include_granted_scopes = include;
        self
    }

    /// Sets `login_hint` (the account to preselect).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_login_hint("a@example.com").with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert!(flow.authorization_url()?.url.as_str().contains("login_hint=a%40example.com"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// Sets `hd` (the Google Workspace domain to restrict the account chooser to).
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_hd("example.com").with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert!(flow.authorization_url()?.url.as_str().contains("hd=example.com"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_hd(mut self, domain: impl Into<String>) -> Self {
        self.hd = Some(domain.into());
        self
    }

    /// Adds a parameter to the authorization URL. The flow's own parameters
    /// (`client_id`, `state`, `code_challenge`, ...) cannot be overridden this way.
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_param("enable_granular_consent", "true").with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// assert!(flow.authorization_url()?.url.as_str().contains("enable_granular_consent=true"));
    /// let mut bad = flow.with_param("state", "x");
    /// assert!(bad.authorization_url().unwrap_err().to_string().contains("`state`"));
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }

    /// Sets how the code exchange retries transient failures (google-auth's default
    /// otherwise). Not serialized.
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let flow = flow.with_retry(oauth_core::RetryPolicy::none());
    /// # Ok::<(), oauth_flow::FlowError>(())
    /// ```
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The client ID.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// Web or installed.
    pub fn client_type(&self) -> ClientType {
        self.client_type
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// The redirect URI, once set.
    pub fn redirect_uri(&self) -> Option<&RedirectUrl> {
        self.redirect_uri.as_ref()
    }

    /// The authorization endpoint.
    pub fn auth_uri(&self) -> &AuthUrl {
        &self.auth_uri
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> &TokenUrl {
        &self.token_uri
    }

    /// The `state` of the last authorization URL.
    pub fn state(&self) -> Option<&CsrfState> {
        self.state.as_ref()
    }

    fn checked_redirect_uri(&self) -> Result<&str, FlowError> {
        match self.redirect_uri.as_ref().map(RedirectUrl::as_str) {
            None => Err(FlowError::invalid(
                "redirect_uri",
                "not set; call with_redirect_uri first",
            )),
            Some(uri) if uri.starts_with(OOB_REDIRECT_URI) => Err(FlowError::OutOfBand),
            Some(uri) => Ok(uri),
        }
    }

    /// The URL to send the user to, and the `state` it carries
    /// ([`AuthorizationRequest`]). A random state (256 bits)
    /// is drawn for each call unless the caller set one; the PKCE verifier is drawn once
    /// and kept for [`Flow::code_exchange`].
    ///
    /// Errors: no redirect URI, the out-of-band redirect ([`FlowError::OutOfBand`]), an
    /// extra parameter that would override one of the flow's own.
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut oob = flow.with_redirect_uri(oauth_flow::OOB_REDIRECT_URI.parse()?);
    /// assert!(matches!(oob.authorization_url(), Err(oauth_flow::FlowError::OutOfBand)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authorization_url(&mut self) -> Result<AuthorizationRequest, FlowError> {
        let redirect_uri = self.checked_redirect_uri()?.to_owned();
        if let Some((name, _)) = self
            .extra_params
            .iter()
            .find(|(k, _)| RESERVED.contains(&k.as_str()))
        {
            return Err(FlowError::InvalidParameter {
                parameter: "extra parameter",
                reason: format!("`{name}` is set by the flow itself and cannot be overridden"),
            });
        }
        let state = match (&self.state, self.fixed_state) {
            (Some(s), true) => s.clone(),
            _ => pkce::new_state()?,
        };
        self.state = Some(state.clone());
        if self.pkce && self.code_verifier.is_none() {
            self.code_verifier = Some(pkce::new_verifier()?);
        }
        // google-auth-oauthlib's URL, parameter for parameter: oauthlib's order (response_type,
        // client_id, redirect_uri, scope, state, the PKCE pair), then the keyword arguments as
        // a caller passes them (prompt, include_granted_scopes, login_hint, hd, the extra
        // parameters), then access_type, which google-auth-oauthlib adds last by `setdefault`.
        // Empty values are left out, as oauthlib leaves out every false value. The auth URI's
        // own query comes first, re-encoded, as oauthlib's `add_params_to_uri` does.
        let mut pairs: Vec<(String, String)> =
            self.auth_uri.url().query_pairs().into_owned().collect();
        let mut push = |k: &str, v: &str| {
            if !v.is_empty() {
                pairs.push((k.to_owned(), v.to_owned()));
            }
        };
        push("response_type", "code");
        push("client_id", self.client_id.as_str());
        push("redirect_uri", &redirect_uri);
        push("scope", &scope_text(&self.scopes));
        push("state", state.expose());
        if let Some(v) = self.code_verifier.as_ref().filter(|_| self.pkce) {
            push("code_challenge", pkce::challenge_s256(v).as_str());
            push("code_challenge_method", "S256");
        }
        push("prompt", self.prompt.as_deref().unwrap_or(""));
        if self.include_granted_scopes {
            push("include_granted_scopes", "true");
        }
        push("login_hint", self.login_hint.as_deref().unwrap_or(""));
        push("hd", self.hd.as_deref().unwrap_or(""));
        for (k, v) in &self.extra_params {
            push(k, v);
        }
        push("access_type", self.access_type.as_deref().unwrap_or(""));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", quote_plus(k), quote_plus(v)))
            .collect();
        let mut url = self.auth_uri.url().clone();
        url.set_query((!query.is_empty()).then(|| query.join("&")).as_deref());
        Ok(AuthorizationRequest { url, state })
    }

    /// Reads a redirect (the whole URL, or only its path and query): checks the `state`
    /// first, then returns the code, or the error the server sent the user back with.
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// let state = flow.authorization_url()?.state;
    /// let code = flow.parse_redirect(&format!("http://127.0.0.1:1/?state={}&code=4%2Fabc", state.expose()))?;
    /// assert_eq!(code.expose(), "4/abc");
    /// let e = flow.parse_redirect(&format!("/?state={}&error=access_denied", state.expose())).unwrap_err();
    /// assert_eq!(e.oauth_error(), Some("access_denied"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_redirect(&self, redirect: &str) -> Result<AuthorizationCode, FlowError> {
        let Some(expected) = self.state.as_ref().map(CsrfState::expose) else {
            return Err(FlowError::invalid(
                "state",
                "this flow has not built an authorization URL, so no redirect can be checked",
            ));
        };
        let base = Url::parse("http://127.0.0.1/")
            .map_err(|e| FlowError::invalid("redirect", e.to_string()))?;
        let url = Url::options()
            .base_url(Some(&base))
            .parse(redirect.trim())
            .map_err(|e| FlowError::invalid("redirect", format!("not a URL ({e})")))?;
        match read_callback(url.query().unwrap_or(""), expected) {
            Callback::WrongState => Err(FlowError::StateMismatch),
            Callback::Code(code) => Ok(AuthorizationCode::from(code)),
            Callback::Error(e) => Err(FlowError::Authorization(e)),
            Callback::NoCode => Err(FlowError::MissingParameter {
                origin: "redirect",
                parameter: "code",
            }),
        }
    }

    /// The sans-IO exchange of an authorization code for credentials: a POST to the token
    /// endpoint with the code, the PKCE verifier, the redirect URI and the client's
    /// credentials (retried on transient failures). Run it with
    /// [`oauth_core::blocking::run`] or [`oauth_core::run`], or use the handles'
    /// `fetch_token`.
    ///
    /// ```
    /// use oauth_core::exchange::{Exchange, Input, Step};
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "client_secret": "s", "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// flow.authorization_url()?;
    /// let mut ex = flow.code_exchange("4/code")?;
    /// let Step::Send(req) = ex.step(Input::Start) else { panic!() };
    /// let body = String::from_utf8(req.body().to_vec()).unwrap();
    /// assert!(body.starts_with("grant_type=authorization_code&code=4%2Fcode&redirect_uri="));
    /// assert!(body.contains("&code_verifier="));
    /// let ok = http::Response::builder().status(200)
    ///     .body(br#"{"access_token":"ya29.a","expires_in":3599,"refresh_token":"1//r","scope":"openid"}"#.to_vec().into()).unwrap();
    /// let Step::Done(Ok(user)) = ex.step(Input::Response(Ok(ok))) else { panic!() };
    /// assert_eq!(user.refresh_token().unwrap().expose(), "1//r");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn code_exchange(
        &self,
        code: impl Into<AuthorizationCode>,
    ) -> Result<CodeExchange, FlowError> {
        let code = code.into();
        let redirect_uri = self.checked_redirect_uri()?;
        if code.expose().is_empty() {
            return Err(FlowError::invalid("code", "is empty"));
        }
        let mut params = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.expose().to_owned()),
            ("redirect_uri".to_owned(), redirect_uri.to_owned()),
            ("client_id".to_owned(), self.client_id.to_string()),
        ];
        if let Some(s) = &self.client_secret {
            params.push(("client_secret".into(), s.expose().to_owned()));
        }
        if let Some(v) = self.code_verifier.as_ref().filter(|_| self.pkce) {
            params.push(("code_verifier".into(), v.expose().to_owned()));
        }
        let call = TokenCall::new(self.token_uri.clone(), params);
        Ok(CodeExchange {
            inner: Retrying::new(call, self.retry.unwrap_or_default()),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            token_uri: self.token_uri.clone(),
            scopes: self.scopes.clone(),
        })
    }

    /// [`Flow::parse_redirect`] then [`Flow::code_exchange`].
    ///
    /// ```
    /// # let flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
    /// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?;
    /// let mut flow = flow.with_redirect_uri("http://127.0.0.1:1/".parse()?);
    /// let state = flow.authorization_url()?.state;
    /// assert!(flow.redirect_exchange(&format!("/?code=c&state={}", state.expose())).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redirect_exchange(&self, redirect: &str) -> Result<CodeExchange, FlowError> {
        let code = self.parse_redirect(redirect)?;
        self.code_exchange(code)
    }
}

/// What [`Flow::authorization_url`] returns: the URL to send the user to, and the `state`
/// it carries (the redirect must bring it back; [`Flow::parse_redirect`] checks it).
///
/// `Debug` shows the URL's endpoint but not the state.
///
/// ```
/// # let mut flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
/// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?
/// #     .with_redirect_uri("http://127.0.0.1:1/".parse()?);
/// let oauth_flow::AuthorizationRequest { url, state } = flow.authorization_url()?;
/// assert!(url.as_str().contains(&format!("state={}", state.expose())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AuthorizationRequest {
    /// The authorization endpoint with every parameter of this sign-in.
    pub url: Url,
    /// The `state` the URL carries.
    pub state: CsrfState,
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut endpoint = self.url.clone();
        endpoint.set_query(None);
        f.debug_struct("AuthorizationRequest")
            .field("url", &endpoint.as_str())
            .field("state", &self.state)
            .finish()
    }
}

/// Scopes as the `scope` parameter writes them: separated by spaces.
pub(crate) fn scope_text(scopes: &[Scope]) -> String {
    let parts: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
    parts.join(" ")
}

/// The token request of a [`Flow`] as a sans-IO exchange, yielding [`AuthorizedUser`]
/// credentials (with the refresh token, the first access token and the granted scopes).
///
/// ```
/// # let mut flow = oauth_flow::Flow::from_client_config(&serde_json::json!({"installed": {"client_id": "i",
/// #     "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": "https://oauth2.googleapis.com/token"}}), ["openid"])?
/// #     .with_redirect_uri("http://127.0.0.1:1/".parse()?);
/// let ex: oauth_flow::CodeExchange = flow.code_exchange("4/c")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CodeExchange {
    inner: Retrying<TokenCall>,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    token_uri: TokenUrl,
    scopes: Vec<Scope>,
}

impl fmt::Debug for CodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("client_id", &self.client_id)
            .field("token_uri", &self.token_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl Exchange for CodeExchange {
    type Output = AuthorizedUser;

    fn step(&mut self, input: Input) -> Step<AuthorizedUser> {
        match self.inner.step(input) {
            Step::Send(r) => Step::Send(r),
            Step::Wait(d) => Step::Wait(d),
            Step::Done(Err(e)) => Step::Done(Err(e)),
            Step::Done(Ok(response)) => Step::Done(Ok(self.user(response))),
        }
    }
}

impl CodeExchange {
    fn user(&self, response: TokenResponse) -> AuthorizedUser {
        if response.refresh_token.is_none() {
            tracing::warn!(
                "the token endpoint issued no refresh token (ask with access_type=offline and prompt=consent to get one)"
            );
        }
        let token = response.to_token(SystemTime::now());
        let scopes = token.scopes.clone().unwrap_or_else(|| self.scopes.clone());
        AuthorizedUser::new(
            self.client_id.clone(),
            self.client_secret.clone(),
            response.refresh_token.clone(),
            self.token_uri.clone(),
        )
        .with_scopes(scopes)
        .with_token(token)
    }
}

/// What a redirect's query says, read against the expected state.
#[derive(Debug)]
pub(crate) enum Callback {
    /// Missing or wrong state: not the answer to this sign-in.
    WrongState,
    /// The authorization code.
    Code(Secret),
    /// An error redirect (RFC 6749 section 4.1.2.1).
    Error(AuthorizationError),
    /// The right state but neither code nor error.
    NoCode,
}

/// Reads a redirect query. The state is checked before anything else, in constant time,
/// so that neither a forged code nor a forged error can end a sign-in.
pub(crate) fn read_callback(query: &str, expected_state: &str) -> Callback {
    let mut state = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    let mut uri = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            "error_uri" => &mut uri,
            _ => continue,
        };
        // A repeated parameter is ambiguous: keep the first, as a strict server would
        // send only one.
        if slot.is_none() {
            *slot = Some(v.into_owned());
        }
    }
    match state {
        Some(s) if pkce::constant_time_eq(&s, expected_state) => {}
        _ => return Callback::WrongState,
    }
    if let Some(e) = error {
        let mut err = AuthorizationError::new(&e, description.as_deref());
        err.uri = uri.map(|u| crate::error::clean(&u, 200));
        return Callback::Error(err);
    }
    match code {
        Some(c) if !c.is_empty() => Callback::Code(Secret::from(c)),
        _ => Callback::NoCode,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn flow() -> Flow {
        Flow::from_client_config(
            &serde_json::json!({"installed": {"client_id": "cid", "client_secret": "GOCSPX-secret",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.googleapis.com/token"}}),
            ["openid", "email"],
        )
        .unwrap()
        .with_redirect_uri("http://127.0.0.1:4242/".parse().unwrap())
    }

    fn query(url: &Url) -> HashMap<String, String> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn the_authorization_url_carries_every_parameter() {
        let mut f = flow()
            .with_prompt("consent")
            .with_include_granted_scopes(true)
            .with_login_hint("u@example.com")
            .with_hd("example.com")
            .with_param("x", "y");
        let AuthorizationRequest { url, state } = f.authorization_url().unwrap();
        let state = state.expose().to_owned();
        assert!(
            url.as_str()
                .starts_with("https://accounts.google.com/o/oauth2/auth?")
        );
        let q = query(&url);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:4242/");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["state"], state);
        assert!(state.len() >= 22, "at least 128 bits");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["prompt"], "consent");
        assert_eq!(q["include_granted_scopes"], "true");
        assert_eq!(q["login_hint"], "u@example.com");
        assert_eq!(q["hd"], "example.com");
        assert_eq!(q["x"], "y");
        assert_eq!(q["code_challenge_method"], "S256");
        let verifier = f.code_verifier.clone().unwrap();
        assert_eq!(
            q["code_challenge"],
            pkce::challenge_s256(&verifier).as_str()
        );
        assert!(!url.as_str().contains("GOCSPX"), "no secret in the URL");
        assert!(!url.as_str().contains(verifier.expose()));
        // A new URL gets a new state but keeps the verifier.
        let state2 = f.authorization_url().unwrap().state;
        assert_ne!(state, state2.expose());
        assert_eq!(f.code_verifier.as_ref(), Some(&verifier));
    }

    #[test]
    fn redirects_are_checked_state_first() {
        let mut f = flow();
        let state = f.authorization_url().unwrap().state.expose().to_owned();
        assert!(matches!(
            f.parse_redirect("/?code=c&state=wrong"),
            Err(FlowError::StateMismatch)
        ));
        assert!(matches!(
            f.parse_redirect("/?code=c"),
            Err(FlowError::StateMismatch)
        ));
        // A forged error redirect is a state mismatch too, not a refusal.
        assert!(matches!(
            f.parse_redirect("/?error=access_denied&state=x"),
            Err(FlowError::StateMismatch)
        ));
        let e = f
            .parse_redirect(&format!(
                "http://127.0.0.1:4242/?error=access_denied&error_description=User+refused&state={state}"
            ))
            .unwrap_err();
        match e {
            FlowError::Authorization(a) => {
                assert!(a.is_access_denied());
                assert_eq!(a.description.as_deref(), Some("User refused"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            f.parse_redirect(&format!("/?state={state}")),
            Err(FlowError::MissingParameter {
                parameter: "code",
                ..
            })
        ));
        let code = f
            .parse_redirect(&format!("/?state={state}&code=4%2F0Ab&scope=openid&iss=x"))
            .unwrap();
        assert_eq!(code.expose(), "4/0Ab");
        // A flow that never built a URL cannot accept any redirect.
        assert!(flow().parse_redirect("/?code=c&state=").is_err());
    }

    #[test]
    fn the_code_exchange_sends_code_verifier_redirect_and_client() {
        let mut f = flow();
        f.authorization_url().unwrap();
        let mut ex = f.code_exchange("4/c").unwrap();
        let Step::Send(req) = ex.step(Input::Start) else {
            panic!()
        };
        let form: HashMap<String, String> =
            form_urlencoded::parse(req.body()).into_owned().collect();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "4/c");
        assert_eq!(form["redirect_uri"], "http://127.0.0.1:4242/");
        assert_eq!(form["client_id"], "cid");
        assert_eq!(form["client_secret"], "GOCSPX-secret");
        assert_eq!(
            form["code_verifier"],
            f.code_verifier.as_ref().unwrap().expose()
        );
        assert!(!format!("{ex:?}").contains("4/c"));
        let bad = http::Response::builder()
            .status(400)
            .body(
                br#"{"error":"invalid_grant","error_description":"Bad code"}"#
                    .to_vec()
                    .into(),
            )
            .unwrap();
        let Step::Done(Err(e)) = ex.step(Input::Response(Ok(bad))) else {
            panic!()
        };
        assert_eq!(e.oauth().unwrap().error, "invalid_grant");
    }

    #[test]
    fn pkce_off_sends_no_challenge_and_no_verifier() {
        let mut f = flow().with_pkce(false);
        let url = f.authorization_url().unwrap().url;
        assert!(!query(&url).contains_key("code_challenge"));
        let mut ex = f.code_exchange("c").unwrap();
        let Step::Send(req) = ex.step(Input::Start) else {
            panic!()
        };
        assert!(!String::from_utf8_lossy(req.body()).contains("code_verifier"));
    }

    #[test]
    fn a_saved_flow_resumes_with_its_state_and_verifier() {
        let mut f = flow();
        let state = f.authorization_url().unwrap().state.expose().to_owned();
        let json = serde_json::to_string(&f).unwrap();
        let back: Flow = serde_json::from_str(&json).unwrap();
        assert_eq!(back.state().map(CsrfState::expose), Some(state.as_str()));
        assert_eq!(back.code_verifier, f.code_verifier);
        assert!(
            back.parse_redirect(&format!("/?code=c&state={state}"))
                .is_ok()
        );
        let dbg = format!("{back:?}");
        assert!(!dbg.contains("GOCSPX") && !dbg.contains(&state), "{dbg}");
    }

    #[test]
    fn oob_is_refused_everywhere() {
        let mut f = flow().with_redirect_uri(OOB_REDIRECT_URI.parse().unwrap());
        assert!(matches!(f.authorization_url(), Err(FlowError::OutOfBand)));
        assert!(matches!(f.code_exchange("c"), Err(FlowError::OutOfBand)));
        let mut f = flow().with_redirect_uri("urn:ietf:wg:oauth:2.0:oob:auto".parse().unwrap());
        assert!(matches!(f.authorization_url(), Err(FlowError::OutOfBand)));
    }
}
