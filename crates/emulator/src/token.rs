//! The token endpoint (`POST /token`): authorization code with PKCE, refresh token (with
//! optional rotation), JWT-bearer (RFC 7523) for service accounts, and the device code grant
//! (RFC 8628), answering with Google's fields, errors and status codes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use crate::config::OAuthClient;
use crate::keys::{JwtParts, b64url};
use crate::reply::{form, oauth_error, oauth_json};
use crate::store::{DeviceState, Grant, PkceMethod, Shared, Subject, split_scopes};

/// The JWT-bearer grant type (RFC 7523).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The device code grant type (RFC 8628).
pub(crate) const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Longest assertion lifetime Google accepts.
const MAX_ASSERTION_LIFETIME: u64 = 3600;
/// Clock skew tolerated on `iat`.
const SKEW: u64 = 300;

type Form = std::collections::HashMap<String, String>;

fn bad(error: &str, description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// `POST /token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let f = form(&body);
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => match client(&shared, &f, &headers) {
            Ok(c) => code_grant(&shared, c, &f),
            Err(r) => r,
        },
        Some("refresh_token") => match client(&shared, &f, &headers) {
            Ok(c) => refresh_grant(&shared, c, &f),
            Err(r) => r,
        },
        Some(DEVICE_CODE) => match client(&shared, &f, &headers) {
            Ok(c) => device_grant(&shared, c, &f),
            Err(r) => r,
        },
        Some(JWT_BEARER) => jwt_grant(&shared, &f),
        other => bad(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {}", other.unwrap_or("")),
        ),
    }
}

/// Authenticates the client from the form or HTTP Basic.
pub(crate) fn client<'a>(
    shared: &'a Shared,
    f: &Form,
    headers: &HeaderMap,
) -> Result<&'a OAuthClient, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let decode = |x: &str| {
                form_urlencoded::parse(format!("v={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let (id, secret) = match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (f.get("client_id").cloned(), f.get("client_secret").cloned()),
    };
    let Some(id) = id.filter(|i| !i.is_empty()) else {
        return Err(bad(
            "invalid_request",
            "Could not determine client ID from request.",
        ));
    };
    let Some(c) = shared.config.clients.iter().find(|c| c.client_id == id) else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    if !c.client_secret.is_empty() {
        match secret.filter(|s| !s.is_empty()) {
            None => return Err(bad("invalid_request", "client_secret is missing.")),
            Some(s) if s != c.client_secret => {
                return Err(oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Unauthorized",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(c)
}

/// The answer for a new user grant: access token, refresh token when offline, ID token when
/// `openid` was granted.
fn user_tokens(shared: &Shared, grant_id: u64, grant: &Grant, with_refresh: bool) -> Response {
    let (access, refresh) = {
        let mut store = shared.store();
        let access = shared.issue_access(&mut store, grant_id, &grant.scopes);
        let refresh = with_refresh.then(|| shared.issue_refresh(&mut store, grant_id));
        (access, refresh)
    };
    let mut body = json!({
        "access_token": access,
        "expires_in": shared.config.access_token_lifetime.as_secs(),
        "scope": grant.scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(r) = refresh {
        body["refresh_token"] = r.into();
        body["refresh_token_expires_in"] = 604_799.into();
    }
    if grant.scopes.iter().any(|s| s == "openid") {
        let email = crate::store::has_email_scope(&grant.scopes);
        if let Some(id) = shared.id_token(grant, &grant.client_id, Some(&access), email) {
            body["id_token"] = id.into();
        }
    }
    oauth_json(body)
}

fn code_grant(shared: &Shared, client: &OAuthClient, f: &Form) -> Response {
    let Some(code) = f.get("code").filter(|c| !c.is_empty()) else {
        return bad("invalid_request", "Missing required parameter: code");
    };
    let now = shared.now();
    let found = {
        let mut store = shared.store();
        match store.codes.get(code).cloned() {
            None => return bad("invalid_grant", "Malformed auth code."),
            Some(c) if c.redeemed.is_some() => {
                // A code that comes back: revoke what it bought (RFC 6749 4.1.2).
                if let Some(g) = c.redeemed.and_then(|id| store.grants.get_mut(&id)) {
                    g.revoked = true;
                }
                return bad("invalid_grant", "Bad Request");
            }
            Some(c) => c,
        }
    };
    if found.expires_at <= now || found.request.client_id != client.client_id {
        return bad("invalid_grant", "Bad Request");
    }
    match f.get("redirect_uri") {
        None => return bad("invalid_request", "Missing parameter: redirect_uri"),
        Some(r) if *r != found.request.redirect_uri => {
            return bad("redirect_uri_mismatch", "Bad Request");
        }
        Some(_) => {}
    }
    if let Some((challenge, method)) = &found.request.challenge {
        let Some(verifier) = f.get("code_verifier").filter(|v| !v.is_empty()) else {
            return bad("invalid_grant", "Missing code verifier.");
        };
        let computed = match method {
            PkceMethod::Plain => verifier.clone(),
            PkceMethod::S256 => {
                b64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
            }
        };
        if !crate::authorize::pkce_shape_ok(verifier) || computed != *challenge {
            return bad("invalid_grant", "Invalid code verifier.");
        }
    }
    let grant = Grant {
        client_id: client.client_id.clone(),
        subject: Subject::User(found.user),
        delegated_sub: None,
        scopes: found.request.scopes.clone(),
        offline: found.request.offline,
        revoked: false,
        nonce: found.request.nonce.clone(),
    };
    let grant_id = {
        let mut store = shared.store();
        // Check again under the lock: two concurrent redemptions must not both succeed.
        match store.codes.get(code) {
            Some(c) if c.redeemed.is_none() => {}
            _ => return bad("invalid_grant", "Bad Request"),
        }
        let id = store.add_grant(grant.clone());
        if let Some(c) = store.codes.get_mut(code) {
            c.redeemed = Some(id);
        }
        id
    };
    user_tokens(shared, grant_id, &grant, grant.offline)
}

fn refresh_grant(shared: &Shared, client: &OAuthClient, f: &Form) -> Response {
    let Some(presented) = f.get("refresh_token").filter(|c| !c.is_empty()) else {
        return bad(
            "invalid_request",
            "Missing required parameter: refresh_token",
        );
    };
    let expired = || bad("invalid_grant", "Token has been expired or revoked.");
    let mut store = shared.store();
    let Some(grant_id) = store.refresh.get(presented).copied() else {
        return expired();
    };
    let Some(grant) = store.grants.get(&grant_id).cloned() else {
        return expired();
    };
    if grant.revoked {
        return expired();
    }
    if grant.client_id != client.client_id {
        return bad("unauthorized_client", "Unauthorized");
    }
    let scopes = match f.get("scope").map(|s| split_scopes(s)) {
        Some(asked) if !asked.is_empty() => {
            if asked.iter().any(|s| !grant.scopes.contains(s)) {
                return bad("invalid_scope", "Bad Request");
            }
            asked
        }
        _ => grant.scopes.clone(),
    };
    let access = shared.issue_access(&mut store, grant_id, &scopes);
    let rotated = shared.config.rotate_refresh_tokens.then(|| {
        store.refresh.remove(presented);
        shared.issue_refresh(&mut store, grant_id)
    });
    drop(store);
    let mut body = json!({
        "access_token": access,
        "expires_in": shared.config.access_token_lifetime.as_secs(),
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(r) = rotated {
        body["refresh_token"] = r.into();
    }
    if scopes.iter().any(|s| s == "openid") {
        let email = crate::store::has_email_scope(&scopes);
        if let Some(id) = shared.id_token(&grant, &grant.client_id, Some(&access), email) {
            body["id_token"] = id.into();
        }
    }
    oauth_json(body)
}

/// Audiences a service-account assertion may name: the emulator's token endpoint and
/// Google's (clients built for Google keep Google's `token_uri` in the JWT).
fn audience_ok(shared: &Shared, aud: &str) -> bool {
    aud == format!("{}/token", shared.base_url)
        || aud == "https://oauth2.googleapis.com/token"
        || aud == "https://www.googleapis.com/oauth2/v4/token"
        || aud == "https://accounts.google.com/o/oauth2/token"
}

fn jwt_grant(shared: &Shared, f: &Form) -> Response {
    let Some(assertion) = f.get("assertion").filter(|a| !a.is_empty()) else {
        return bad("invalid_request", "Missing required parameter: assertion");
    };
    let Some(jwt) = JwtParts::parse(assertion) else {
        return bad("invalid_grant", "Invalid JWT: malformed assertion.");
    };
    let claim = |k: &str| jwt.claims.get(k).and_then(Value::as_str);
    let Some(sa) = claim("iss").and_then(|iss| {
        shared
            .config
            .service_accounts
            .iter()
            .find(|s| s.email == iss)
    }) else {
        return bad("invalid_grant", "Invalid grant: account not found");
    };
    let kid = jwt.header.get("kid").and_then(Value::as_str);
    let verified = sa
        .public_keys
        .iter()
        .filter(|(id, _)| kid.is_none_or(|k| k == id) || sa.public_keys.len() == 1)
        .any(|(_, der)| jwt.verify(der));
    if !verified {
        return bad("invalid_grant", "Invalid JWT Signature.");
    }
    if !claim("aud").is_some_and(|a| audience_ok(shared, a)) {
        return bad(
            "invalid_grant",
            &format!(
                "Invalid JWT: Failed audience check. The right audience is {}/token",
                shared.base_url
            ),
        );
    }
    let now = shared.now();
    let iat = jwt.claims.get("iat").and_then(Value::as_u64);
    let exp = jwt.claims.get("exp").and_then(Value::as_u64);
    let timely = match (iat, exp) {
        (Some(iat), Some(exp)) => {
            iat <= now + SKEW && exp > now && exp > iat && exp - iat <= MAX_ASSERTION_LIFETIME
        }
        _ => false,
    };
    if !timely {
        return bad(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    let delegated_sub = claim("sub").filter(|s| *s != sa.email).map(str::to_owned);
    let scopes = claim("scope").map(split_scopes).unwrap_or_default();
    let mut grant = Grant {
        client_id: sa.unique_id.clone(),
        subject: Subject::ServiceAccount(sa.email.clone()),
        delegated_sub,
        scopes: scopes.clone(),
        offline: false,
        revoked: false,
        nonce: None,
    };
    if let Some(audience) = claim("target_audience").filter(|a| !a.is_empty()) {
        grant.scopes.clear();
        return match shared.id_token(&grant, audience, None, true) {
            Some(id) => oauth_json(json!({"id_token": id})),
            None => oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_failure",
                "signing failed",
            ),
        };
    }
    if scopes.is_empty() {
        return bad(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let access = {
        let mut store = shared.store();
        let id = store.add_grant(grant);
        shared.issue_access(&mut store, id, &scopes)
    };
    oauth_json(json!({
        "access_token": access,
        "expires_in": shared.config.access_token_lifetime.as_secs(),
        "token_type": "Bearer",
    }))
}

fn device_grant(shared: &Shared, client: &OAuthClient, f: &Form) -> Response {
    let Some(code) = f.get("device_code").filter(|c| !c.is_empty()) else {
        return bad("invalid_request", "Missing required parameter: device_code");
    };
    let now = shared.now();
    let mut store = shared.store();
    let Some(device) = store.devices.get_mut(code.as_str()) else {
        return bad("invalid_grant", "Malformed auth code.");
    };
    if device.client_id != client.client_id {
        return bad("invalid_grant", "Bad Request");
    }
    if device.expires_at <= now {
        return bad("expired_token", "Bad Request");
    }
    let too_fast = device
        .last_poll
        .is_some_and(|last| now.saturating_sub(last) < device.interval);
    device.last_poll = Some(now);
    match device.state.clone() {
        DeviceState::Pending if too_fast => {
            device.interval += 5;
            oauth_error(StatusCode::FORBIDDEN, "slow_down", "Forbidden")
        }
        DeviceState::Pending => oauth_error(
            StatusCode::PRECONDITION_REQUIRED,
            "authorization_pending",
            "Precondition Required",
        ),
        DeviceState::Denied => oauth_error(StatusCode::FORBIDDEN, "access_denied", "Forbidden"),
        DeviceState::Done => bad("invalid_grant", "Bad Request"),
        DeviceState::Approved(user) => {
            device.state = DeviceState::Done;
            let grant = Grant {
                client_id: client.client_id.clone(),
                subject: Subject::User(user),
                delegated_sub: None,
                scopes: device.scopes.clone(),
                offline: true,
                revoked: false,
                nonce: None,
            };
            let id = store.add_grant(grant.clone());
            drop(store);
            user_tokens(shared, id, &grant, true)
        }
    }
}
