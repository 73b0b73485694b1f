//! Downscoped tokens (Credential Access Boundaries): a source credential's token exchanged
//! at STS for one limited to the boundary's resources and roles.

use std::any::Any;
use std::path::Path;
use std::sync::{Arc, Mutex};

use oauth_core::exchange::BoxExchange;
use oauth_core::json::{self, Fields};
use oauth_core::source::{Refresh, RefreshContext, TokenSource};
use oauth_core::store::{StoredToken, TokenKey};
use oauth_core::{Error, Retrying, Token, TokenResponse};
use serde_json::Value;
use url::Url;

use crate::pyjson::Py;
use crate::steps::{Then, TokenSlot, lock as lock_slot, source_token};
use crate::sts::{ACCESS_TOKEN_TYPE, GOOGLE_STS_TOKEN_URL, StsCall, options};

/// The most rules a boundary may have.
pub const MAX_ACCESS_BOUNDARY_RULES: usize = 10;

/// A condition on the objects a rule covers (a CEL expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailabilityCondition {
    /// The expression, e.g.
    /// `resource.name.startsWith('projects/_/buckets/b/objects/customer-a')`.
    pub expression: String,
    /// A short title.
    pub title: Option<String>,
    /// A description.
    pub description: Option<String>,
}

/// One resource and the roles available on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessBoundaryRule {
    /// The resource, e.g. `//storage.googleapis.com/projects/_/buckets/bucket-name`.
    pub available_resource: String,
    /// The upper bound of permissions, as roles prefixed `inRole:`.
    pub available_permissions: Vec<String>,
    /// An optional condition.
    pub availability_condition: Option<AvailabilityCondition>,
}

/// A Credential Access Boundary (google-auth's `downscoped.CredentialAccessBoundary`).
///
/// ```
/// use oauth_external::{AccessBoundaryRule, CredentialAccessBoundary};
/// let b = CredentialAccessBoundary::new(vec![AccessBoundaryRule {
///     available_resource: "//storage.googleapis.com/projects/_/buckets/b".into(),
///     available_permissions: vec!["inRole:roles/storage.objectViewer".into()],
///     availability_condition: None,
/// }]).unwrap();
/// assert_eq!(b.to_json(), r#"{"accessBoundary": {"accessBoundaryRules": [{"availablePermissions": ["inRole:roles/storage.objectViewer"], "availableResource": "//storage.googleapis.com/projects/_/buckets/b"}]}}"#);
/// assert_eq!(CredentialAccessBoundary::from_json(b.to_json().as_bytes(), "b.json").unwrap(), b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialAccessBoundary {
    rules: Vec<AccessBoundaryRule>,
}

impl CredentialAccessBoundary {
    /// A boundary of at most ten rules whose permissions all start with `inRole:`.
    pub fn new(rules: Vec<AccessBoundaryRule>) -> Result<Self, Error> {
        let origin = "access boundary";
        if rules.len() > MAX_ACCESS_BOUNDARY_RULES {
            return Err(Error::InvalidField {
                origin: origin.into(),
                field: "accessBoundary.accessBoundaryRules".into(),
                reason: format!("at most {MAX_ACCESS_BOUNDARY_RULES} rules are allowed"),
            });
        }
        for (i, r) in rules.iter().enumerate() {
            if let Some(p) = r
                .available_permissions
                .iter()
                .position(|p| !p.starts_with("inRole:"))
            {
                return Err(Error::InvalidField {
                    origin: origin.into(),
                    field: format!(
                        "accessBoundary.accessBoundaryRules[{i}].availablePermissions[{p}]"
                    ),
                    reason: "must start with `inRole:`".into(),
                });
            }
        }
        Ok(CredentialAccessBoundary { rules })
    }

    /// The rules.
    pub fn rules(&self) -> &[AccessBoundaryRule] {
        &self.rules
    }

    /// Reads a boundary as google-auth serializes it
    /// (`{"accessBoundary": {"accessBoundaryRules": [...]}}`); errors name the field.
    pub fn from_json(bytes: &[u8], origin: &str) -> Result<Self, Error> {
        let v = json::parse(bytes, origin)?;
        Self::from_value(&v, origin)
    }

    /// Reads a boundary file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let v = json::read_file(path)?;
        Self::from_value(&v, &path.display().to_string())
    }

    /// Reads an already parsed boundary.
    pub fn from_value(value: &Value, origin: &str) -> Result<Self, Error> {
        let top = Fields::new(value, origin, "")?;
        let ab = top.object("accessBoundary")?;
        let list = ab
            .map()
            .get("accessBoundaryRules")
            .ok_or_else(|| ab.missing("accessBoundaryRules"))?;
        let Value::Array(items) = list else {
            return Err(ab.invalid("accessBoundaryRules", "expected a list of rules"));
        };
        let mut rules = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let r = Fields::new(
                item,
                origin,
                &format!("accessBoundary.accessBoundaryRules[{i}]"),
            )?;
            let permissions = r
                .string_list("availablePermissions")?
                .ok_or_else(|| r.missing("availablePermissions"))?;
            if let Value::String(_) = r.map()["availablePermissions"] {
                return Err(r.invalid("availablePermissions", "expected a list of strings"));
            }
            if let Some(p) = permissions.iter().position(|p| !p.starts_with("inRole:")) {
                return Err(r.invalid(
                    &format!("availablePermissions[{p}]"),
                    "must start with `inRole:`",
                ));
            }
            let condition = match r.map().get("availabilityCondition") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    let c = r.object("availabilityCondition")?;
                    Some(AvailabilityCondition {
                        expression: c
                            .optional_str("expression")?
                            .ok_or_else(|| c.missing("expression"))?
                            .to_owned(),
                        title: c.optional_str("title")?.map(str::to_owned),
                        description: c.optional_str("description")?.map(str::to_owned),
                    })
                }
            };
            rules.push(AccessBoundaryRule {
                available_resource: r
                    .optional_str("availableResource")?
                    .ok_or_else(|| r.missing("availableResource"))?
                    .to_owned(),
                available_permissions: permissions,
                availability_condition: condition,
            });
        }
        if rules.len() > MAX_ACCESS_BOUNDARY_RULES {
            return Err(ab.invalid(
                "accessBoundaryRules",
                &format!("at most {MAX_ACCESS_BOUNDARY_RULES} rules are allowed"),
            ));
        }
        Ok(CredentialAccessBoundary { rules })
    }

    fn to_py(&self) -> Py {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let mut fields = vec![
                    (
                        "availablePermissions",
                        Py::List(r.available_permissions.iter().map(Py::str).collect()),
                    ),
                    ("availableResource", Py::str(r.available_resource.clone())),
                ];
                if let Some(c) = &r.availability_condition {
                    let mut cf = vec![("expression", Py::str(c.expression.clone()))];
                    if let Some(t) = c.title.as_ref().filter(|t| !t.is_empty()) {
                        cf.push(("title", Py::str(t.clone())));
                    }
                    if let Some(d) = c.description.as_ref().filter(|d| !d.is_empty()) {
                        cf.push(("description", Py::str(d.clone())));
                    }
                    fields.push(("availabilityCondition", Py::Obj(cf)));
                }
                Py::Obj(fields)
            })
            .collect();
        Py::Obj(vec![(
            "accessBoundary",
            Py::Obj(vec![("accessBoundaryRules", Py::List(rules))]),
        )])
    }

    /// The boundary as google-auth's `json.dumps(boundary.to_json())` writes it.
    pub fn to_json(&self) -> String {
        crate::pyjson::dumps(&self.to_py(), false)
    }
}

/// Downscoped credentials (google-auth's `downscoped.Credentials`): any source credential's
/// token exchanged at STS under a [`CredentialAccessBoundary`].
///
/// A refresh takes the source's token (refreshing it through the source when it is no
/// longer fresh) and exchanges it; the downscoped token expires no later than the source
/// token, so a new source token always brings a new downscoped one. STS is Google's unless
/// [`DownscopedCredentials::with_sts_url`] says otherwise.
///
/// ```no_run
/// use oauth_core::blocking::Credentials;
/// use oauth_external::{CredentialAccessBoundary, DownscopedCredentials};
/// let source = oauth_sa::ServiceAccountCredentials::from_file("key.json")?
///     .with_scopes(["https://www.googleapis.com/auth/cloud-platform"]);
/// let boundary = CredentialAccessBoundary::from_file("boundary.json")?;
/// let token = Credentials::new(DownscopedCredentials::new(source, boundary)).token()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DownscopedCredentials {
    source: Arc<dyn TokenSource>,
    boundary: CredentialAccessBoundary,
    sts_url: Url,
    quota_project_id: Option<String>,
    source_token: TokenSlot,
}

impl DownscopedCredentials {
    /// Downscopes `source` to `boundary`.
    pub fn new(source: impl TokenSource, boundary: CredentialAccessBoundary) -> Self {
        Self::from_arc(Arc::new(source), boundary)
    }

    /// The same, with a shared source.
    pub fn from_arc(source: Arc<dyn TokenSource>, boundary: CredentialAccessBoundary) -> Self {
        DownscopedCredentials {
            source,
            boundary,
            sts_url: Url::parse(GOOGLE_STS_TOKEN_URL).expect("a constant URL parses"),
            quota_project_id: None,
            source_token: Arc::new(Mutex::new(None)),
        }
    }

    /// The STS endpoint (a local server, another universe). It receives the source's
    /// token: check it with an [`oauth_core::EndpointPolicy`] when it comes from outside.
    pub fn with_sts_url(mut self, url: Url) -> Self {
        self.sts_url = url;
        self
    }

    /// The project billed for API calls.
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project_id = Some(project.into());
        self
    }

    /// The boundary.
    pub fn boundary(&self) -> &CredentialAccessBoundary {
        &self.boundary
    }

    fn exchange(&self, ctx: &RefreshContext) -> Result<BoxExchange<TokenResponse>, Error> {
        let source = source_token(&self.source, &self.source_token, ctx)?;
        let url = self.sts_url.clone();
        let opts = options(&self.boundary.to_py());
        let retry = ctx.retry;
        Ok(Then::boxed(source, move |source_token| {
            let call = StsCall::token_exchange(
                url,
                "",
                ACCESS_TOKEN_TYPE,
                source_token.access_token.clone().into(),
                &[],
            )
            .with_options(opts);
            Ok(Box::new(Retrying::new(call, retry)) as BoxExchange<TokenResponse>)
        }))
    }
}

impl TokenSource for DownscopedCredentials {
    fn kind(&self) -> &'static str {
        "downscoped"
    }

    fn quota_project_id(&self) -> Option<&str> {
        self.quota_project_id.as_deref()
    }

    /// The boundary and the STS endpoint, sealed with a secret derived from the source's:
    /// shared only when the source's tokens are.
    fn store_key(&self) -> TokenKey {
        let identity = format!("sts={} boundary={}", self.sts_url, self.boundary.to_json());
        TokenKey::new(self.kind(), &identity, [""; 0]).with_secret_from(&self.source.store_key())
    }

    fn begin_refresh(
        &self,
        ctx: &RefreshContext,
        _stored: Option<&StoredToken>,
    ) -> Result<Refresh, Error> {
        Ok(Refresh::Exchange(self.exchange(ctx)?))
    }

    fn finish_refresh(
        &self,
        response: TokenResponse,
        ctx: &RefreshContext,
    ) -> Result<Token, Error> {
        let mut token = response.to_token(ctx.clock.now());
        // The downscoped token lasts no longer than the source token it came from (STS may
        // leave `expires_in` out), so a new source token always brings a new one.
        if let Some(source_expiry) = lock_slot(&self.source_token)
            .as_ref()
            .and_then(|t| t.expiry)
        {
            token.expiry = Some(token.expiry.map_or(source_expiry, |e| e.min(source_expiry)));
        }
        Ok(token)
    }

    fn does_blocking_io(&self) -> bool {
        self.source.does_blocking_io()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl DownscopedCredentials {
    /// The source's last token (for tests and diagnostics).
    pub fn source_token(&self) -> Option<Token> {
        lock_slot(&self.source_token).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use oauth_core::http::{HttpRequest, HttpResponse};
    use oauth_core::{ManualClock, RetryPolicy, Secret, TransportError};
    use serde_json::json;

    use super::*;

    #[test]
    fn boundaries_are_serialized_in_google_auths_key_order() {
        let v = json!({"accessBoundary": {"accessBoundaryRules": [{
            "availableResource": "//storage.googleapis.com/projects/_/buckets/b",
            "availablePermissions": ["inRole:roles/storage.objectViewer"],
            "availabilityCondition": {"title": "t", "expression": "e", "description": ""}
        }]}});
        let b = CredentialAccessBoundary::from_value(&v, "b.json").unwrap();
        assert_eq!(
            b.to_json(),
            r#"{"accessBoundary": {"accessBoundaryRules": [{"availablePermissions": ["inRole:roles/storage.objectViewer"], "availableResource": "//storage.googleapis.com/projects/_/buckets/b", "availabilityCondition": {"expression": "e", "title": "t"}}]}}"#
        );
    }

    #[test]
    fn bad_boundaries_name_the_field() {
        let err = |v: Value| {
            CredentialAccessBoundary::from_value(&v, "b.json")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err(json!({})), "b.json: missing field `accessBoundary`");
        assert!(
            err(
                json!({"accessBoundary": {"accessBoundaryRules": [{"availableResource": "r",
                "availablePermissions": ["roles/x"]}]}})
            )
            .contains("`accessBoundary.accessBoundaryRules[0].availablePermissions[0]`")
        );
        let rule = json!({"availableResource": "r", "availablePermissions": ["inRole:x"]});
        let many: Vec<Value> = (0..11).map(|_| rule.clone()).collect();
        assert!(
            err(json!({"accessBoundary": {"accessBoundaryRules": many}})).contains("at most 10")
        );
        assert!(err(json!({"accessBoundary": {"accessBoundaryRules": [{"availablePermissions": ["inRole:x"]}]}}))
            .contains("`accessBoundary.accessBoundaryRules[0].availableResource`"));
    }

    #[derive(Debug)]
    struct Fixed(Token);
    impl TokenSource for Fixed {
        fn kind(&self) -> &'static str {
            "fixed"
        }
        fn begin_refresh(
            &self,
            _: &RefreshContext,
            _: Option<&oauth_core::store::StoredToken>,
        ) -> Result<Refresh, Error> {
            Ok(Refresh::Ready(self.0.clone()))
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn the_source_token_is_exchanged_with_the_boundary_and_bounds_the_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let source = Fixed(Token::bearer(
            Secret::new("ya29.source"),
            Some(now + Duration::from_secs(600)),
        ));
        let boundary = CredentialAccessBoundary::from_value(
            &json!({"accessBoundary": {"accessBoundaryRules": [{"availableResource": "r", "availablePermissions": ["inRole:x"]}]}}),
            "b",
        )
        .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        let client = move |req: HttpRequest| -> Result<HttpResponse, TransportError> {
            s2.lock().unwrap().push(req.body().to_vec());
            Ok(http::Response::builder()
                .status(200)
                .body(br#"{"access_token":"ya29.down","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}"#.to_vec().into())
                .unwrap())
        };
        let creds = DownscopedCredentials::new(source, boundary)
            .with_sts_url("http://127.0.0.1:9/v1/token".parse().unwrap());
        let h = oauth_core::blocking::Credentials::builder(creds)
            .http_client(Arc::new(client))
            .clock(Arc::new(ManualClock::new(now)))
            .retry(RetryPolicy::none())
            .build();
        let t = h.token_details().unwrap();
        assert_eq!(t.access_token.expose(), "ya29.down");
        assert_eq!(t.expiry, Some(now + Duration::from_secs(600)));
        let body = seen.lock().unwrap()[0].clone();
        let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
        let names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "grant_type",
                "requested_token_type",
                "subject_token",
                "subject_token_type",
                "options"
            ]
        );
        assert_eq!(form[2].1, "ya29.source");
        assert!(
            form[4].1.starts_with("%7B%22accessBoundary%22%3A%20%7B"),
            "{}",
            form[4].1
        );
    }
}
