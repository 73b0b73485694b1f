//! Revocation, tokeninfo (Google's v3 endpoint and the oauth2 v2 API method), userinfo (the
//! oauth2 v2 API and OpenID Connect's), and the signing certificates (JWKS and PEM).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::reply::{bearer, form, insufficient_scope, oauth_error, oauth_json, unauthenticated};
use crate::store::{AccessToken, Grant, Shared, Subject, has_email_scope, has_profile_scope};

/// Parameters from the query and, for POST, the form body.
fn params(query: Option<String>, body: &[u8]) -> std::collections::HashMap<String, String> {
    let mut p = form(body);
    for (k, v) in form(query.unwrap_or_default().as_bytes()) {
        p.entry(k).or_insert(v);
    }
    p
}

/// `POST /revoke` (and `GET /revoke?token=`): revokes the grant behind an access or refresh
/// token, as Google does for either.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let Some(token) = p.get("token").filter(|t| !t.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: token",
        );
    };
    let mut store = shared.store();
    let now = shared.now();
    let grant = store
        .refresh
        .get(token)
        .copied()
        .or_else(|| {
            store
                .access
                .get(token)
                .filter(|a| a.expires_at > now)
                .map(|a| a.grant)
        })
        .filter(|g| store.grants.get(g).is_some_and(|g| !g.revoked));
    match grant.and_then(|g| store.grants.get_mut(&g)) {
        Some(g) => {
            g.revoked = true;
            oauth_json(json!({}))
        }
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token expired or revoked",
        ),
    }
}

fn invalid_value() -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_token", "Invalid Value")
}

/// Checks an ID token this emulator signed: signature and expiry.
fn own_id_token(shared: &Shared, token: &str) -> Option<Map<String, Value>> {
    let claims = shared.key.verify_own(token)?;
    let exp = claims.get("exp").and_then(Value::as_u64)?;
    (exp > shared.now()).then_some(claims)
}

/// `GET|POST /tokeninfo`: Google's v3 tokeninfo, every value a string.
pub(crate) async fn tokeninfo(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let now = shared.now();
    if let Some(id_token) = p.get("id_token") {
        let Some(claims) = own_id_token(&shared, id_token) else {
            return invalid_value();
        };
        let mut out = Map::new();
        for (k, v) in claims {
            let s = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            out.insert(k, Value::String(s));
        }
        out.insert("alg".into(), "RS256".into());
        out.insert("kid".into(), shared.key.kid().into());
        out.insert("typ".into(), "JWT".into());
        return oauth_json(Value::Object(out));
    }
    let Some(token) = p.get("access_token") else {
        return invalid_value();
    };
    let Some((at, grant)) = shared.store().live_access(token, now) else {
        return invalid_value();
    };
    let (sub, email) = shared.identity(&grant);
    let mut out = json!({
        "azp": grant.client_id,
        "aud": grant.client_id,
        "sub": sub,
        "scope": at.scopes.join(" "),
        "exp": at.expires_at.to_string(),
        "expires_in": at.expires_at.saturating_sub(now).to_string(),
    });
    if has_email_scope(&at.scopes) || matches!(grant.subject, Subject::ServiceAccount(_)) {
        out["email"] = email.into();
        out["email_verified"] = "true".into();
    }
    if matches!(grant.subject, Subject::User(_)) {
        out["access_type"] = if grant.offline { "offline" } else { "online" }.into();
    }
    oauth_json(out)
}

/// `POST|GET /oauth2/v2/tokeninfo`: the oauth2 v2 API's `tokeninfo` method (its own field
/// names: `issued_to`, `audience`, `user_id`, `expires_in` as a number).
pub(crate) async fn tokeninfo_v2(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = params(q, &body);
    let now = shared.now();
    if let Some(id_token) = p.get("id_token") {
        let Some(c) = own_id_token(&shared, id_token) else {
            return invalid_value();
        };
        let num = |k: &str| c.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut out = json!({
            "issued_to": c.get("azp").cloned().unwrap_or(Value::Null),
            "audience": c.get("aud").cloned().unwrap_or(Value::Null),
            "user_id": c.get("sub").cloned().unwrap_or(Value::Null),
            "expires_in": num("exp").saturating_sub(now),
            "issued_at": num("iat"),
        });
        if let Some(e) = c.get("email") {
            out["email"] = e.clone();
            out["verified_email"] = true.into();
        }
        return oauth_json(out);
    }
    let Some(token) = p.get("access_token") else {
        return invalid_value();
    };
    let Some((at, grant)) = shared.store().live_access(token, now) else {
        return invalid_value();
    };
    let (sub, email) = shared.identity(&grant);
    let mut out = json!({
        "issued_to": grant.client_id,
        "audience": grant.client_id,
        "user_id": sub,
        "scope": at.scopes.join(" "),
        "expires_in": at.expires_at.saturating_sub(now),
        "access_type": if grant.offline { "offline" } else { "online" },
    });
    if has_email_scope(&at.scopes) {
        out["email"] = email.into();
        out["verified_email"] = true.into();
    }
    oauth_json(out)
}

/// The live access token of a request: the Bearer header, or `access_token` in the query.
pub(crate) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(AccessToken, Grant), Response> {
    let from_query = query.map(|q| form(q.as_bytes())).and_then(|q| {
        q.get("access_token")
            .or_else(|| q.get("oauth_token"))
            .cloned()
    });
    let token = match bearer(headers) {
        Some(t) => t.to_owned(),
        None => from_query.ok_or_else(|| unauthenticated(true))?,
    };
    shared
        .store()
        .live_access(&token, shared.now())
        .ok_or_else(|| unauthenticated(false))
}

/// The user profile fields the grant's scopes allow.
fn profile(shared: &Shared, grant: &Grant, scopes: &[String]) -> (String, Map<String, Value>) {
    let (sub, email) = shared.identity(grant);
    let mut m = Map::new();
    if has_email_scope(scopes) {
        m.insert("email".into(), email.into());
    }
    if has_profile_scope(scopes) {
        let user = match grant.subject {
            Subject::User(i) => shared.config.users.get(i),
            Subject::ServiceAccount(_) | Subject::Federated(_) => None,
        };
        if let Some(u) = user {
            m.insert("name".into(), u.name.clone().into());
            m.insert("given_name".into(), u.given_name.clone().into());
            m.insert("family_name".into(), u.family_name.clone().into());
            m.insert("picture".into(), u.picture.clone().into());
        }
    }
    (sub, m)
}

fn identity_scope(scopes: &[String]) -> bool {
    has_email_scope(scopes) || has_profile_scope(scopes) || scopes.iter().any(|s| s == "openid")
}

/// `GET /oauth2/v2/userinfo` (also `/userinfo/v2/me`, `/oauth2/v1/userinfo`): the oauth2 v2
/// API's `Userinfo` (`id`, `verified_email`).
pub(crate) async fn userinfo_v2(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (at, grant) = match authenticate(&shared, &headers, q.as_deref()) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !identity_scope(&at.scopes) {
        return insufficient_scope();
    }
    let (sub, mut m) = profile(&shared, &grant, &at.scopes);
    m.insert("id".into(), sub.into());
    if m.contains_key("email") {
        m.insert("verified_email".into(), true.into());
    }
    axum::Json(Value::Object(m)).into_response()
}

/// `GET|POST /v1/userinfo` (also `/oauth2/v3/userinfo`): OpenID Connect's userinfo (`sub`,
/// `email_verified`), with the OAuth-style 401 body Google sends there.
pub(crate) async fn userinfo_oidc(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let (at, grant) = match authenticate(&shared, &headers, q.as_deref()) {
        Ok(x) => x,
        Err(_) => {
            let mut r = oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "Invalid Credentials",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
            return r;
        }
    };
    if !identity_scope(&at.scopes) {
        return insufficient_scope();
    }
    let (sub, mut m) = profile(&shared, &grant, &at.scopes);
    m.insert("sub".into(), sub.into());
    if m.contains_key("email") {
        m.insert("email_verified".into(), true.into());
    }
    axum::Json(Value::Object(m)).into_response()
}

fn cacheable(body: Value) -> Response {
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=21600, must-revalidate, no-transform"),
    );
    r
}

/// `GET /oauth2/v3/certs`: the JWKS of the ID-token signing key.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    cacheable(shared.key.jwks())
}

/// `GET /oauth2/v1/certs`: key id to PEM certificate.
pub(crate) async fn pem_certs(State(shared): State<Arc<Shared>>) -> Response {
    cacheable(shared.key.pem_certs())
}
